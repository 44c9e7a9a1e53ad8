//! The step summary: the result, the task, the plan's findings and the tail of the log.

use swa_gha::md;

use crate::plan::{Finding, Plan};
use crate::target::Target;
use crate::watch::{End, Watched};

pub struct Report {
    definition: String,
    cluster: String,
    container: String,
    command: String,
    plan: Option<PlanReport>,
    plan_failure: Option<RunReport>,
    migration: Option<RunReport>,
}

struct PlanReport {
    migrations: usize,
    operations: usize,
    findings: Vec<Finding>,
    allowed: bool,
}

struct RunReport {
    heading: String,
    task_arn: String,
    result: String,
    exit_code: Option<i32>,
    elapsed: String,
    log: Option<(String, String)>,
    tail: Vec<String>,
    ok: bool,
}

impl RunReport {
    fn new(watched: &Watched, container: &str, what: &str) -> RunReport {
        let (heading, result, ok) = match &watched.end {
            End::Stopped(s) if s.essentials_exited_zero() => {
                (format!("✅ {what} succeeded"), s.summary(), true)
            }
            End::Stopped(s) => (format!("❌ {what} failed"), s.summary(), false),
            End::TimedOut => (
                format!("⏱️ {what} timed out"),
                format!("did not finish in time; {}", watched.stop_phrase()),
                false,
            ),
            End::Cancelled(signal) => (
                format!("🛑 {what} cancelled"),
                format!(
                    "the job was cancelled ({signal}); {}",
                    watched.stop_phrase()
                ),
                false,
            ),
        };
        RunReport {
            heading,
            task_arn: watched.task_arn.clone(),
            result,
            exit_code: watched.exit_code(container),
            elapsed: swa_gha::format_duration(watched.elapsed),
            log: watched
                .location
                .as_ref()
                .map(|l| (l.group.clone(), l.stream.clone())),
            tail: watched.tail.clone(),
            ok,
        }
    }
}

impl Report {
    pub fn new(target: &Target, command: &[String]) -> Report {
        Report {
            definition: target.definition_name.clone(),
            cluster: target.cluster.clone(),
            container: target.container.clone(),
            command: crate::display_command(command),
            plan: None,
            plan_failure: None,
            migration: None,
        }
    }

    pub fn plan(&mut self, plan: &Plan, findings: &[Finding], allowed: bool) {
        self.plan = Some(PlanReport {
            migrations: plan.migrations.len(),
            operations: plan.operation_count(),
            findings: findings.to_vec(),
            allowed,
        });
    }

    pub fn plan_failed(&mut self, watched: &Watched) {
        let mut run = RunReport::new(watched, &self.container, "Migration plan");
        if run.ok {
            run.heading = match &self.plan {
                Some(p) if !p.findings.is_empty() => {
                    "🚫 Migration refused: destructive operations".to_string()
                }
                _ => "❌ Migration plan could not be read".to_string(),
            };
            run.ok = false;
        }
        self.plan_failure = Some(run);
    }

    pub fn migration(&mut self, watched: &Watched) {
        self.migration = Some(RunReport::new(watched, &self.container, "Migration"));
    }

    pub fn markdown(&self) -> String {
        let mut md = String::new();
        let main = self.migration.as_ref().or(self.plan_failure.as_ref());
        if let Some(run) = main {
            md.push_str(&format!("### {}\n\n", run.heading));
        }
        md.push_str("| | |\n|---|---|\n");
        md.push_str(&row("Command", &md::code(&self.command)));
        md.push_str(&row(
            "Task definition",
            &format!(
                "{} (container {}, cluster {})",
                md::code(&self.definition),
                md::code(&self.container),
                md::code(&self.cluster)
            ),
        ));
        if let Some(run) = main {
            md.push_str(&row("Task", &md::code(&run.task_arn)));
            md.push_str(&row("Result", &md::text(&run.result)));
            md.push_str(&row(
                "Exit code",
                &run.exit_code
                    .map(|c| c.to_string())
                    .unwrap_or_else(|| "none".into()),
            ));
            md.push_str(&row("Elapsed", &run.elapsed));
            if let Some((group, stream)) = &run.log {
                md.push_str(&row(
                    "Log",
                    &format!("{} {}", md::code(group), md::code(stream)),
                ));
            }
        }
        if let Some(plan) = &self.plan {
            let verdict = match (plan.findings.is_empty(), plan.allowed) {
                (true, _) => "no destructive operations".to_string(),
                (false, true) => {
                    format!("{} destructive operation(s), allowed", plan.findings.len())
                }
                (false, false) => {
                    format!("{} destructive operation(s), refused", plan.findings.len())
                }
            };
            md.push_str(&row(
                "Plan",
                &format!(
                    "{} migration(s), {} operation(s): {verdict}",
                    plan.migrations, plan.operations
                ),
            ));
            if !plan.findings.is_empty() {
                md.push_str("\n#### Destructive operations\n\n| App | Migration | Operation | Plan line |\n|---|---|---|---|\n");
                for f in &plan.findings {
                    md.push_str(&format!(
                        "| {} | {} | {} | {} |\n",
                        md::text(&f.app),
                        md::text(&f.migration),
                        f.kind.name(),
                        md::code(&f.text)
                    ));
                }
            }
        }
        if let Some(run) = main
            && !run.tail.is_empty()
        {
            let open = if run.ok { "" } else { " open" };
            md.push_str(&format!(
                "\n<details{open}><summary>Last {} log lines</summary>\n\n{}\n</details>\n\n",
                run.tail.len(),
                md::fenced("text", &run.tail.join("\n"))
            ));
        }
        md
    }
}

fn row(name: &str, value: &str) -> String {
    format!("| {name} | {value} |\n")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn foreign_text_stays_in_its_cell_and_block() {
        assert_eq!(md::code("a|b<i>"), "<code>a\\|b&lt;i&gt;</code>");
        assert_eq!(
            row("Result", &md::text("x | y\nz")),
            "| Result | x \\| y<br>z |\n"
        );
    }
}

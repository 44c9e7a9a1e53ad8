//! Reading what `python manage.py migrate --plan` prints, and finding the operations that break
//! the release still running during a rolling deploy.
//!
//! Django prints `Planned operations:`, then for each migration a line `app_label.name` and one
//! line per operation indented by four spaces (`Remove field legacy_sku from product`), each
//! prefixed `Undo ` when the plan migrates backwards; or `  No planned migration operations.`.

use std::fmt;

/// What one operation does to the schema, as far as its `--plan` line tells.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OpKind {
    RemoveField,
    DeleteModel,
    RenameField,
    RenameModel,
    AlterField,
    AlterModelTable,
    RunSql,
    AddField,
    CreateModel,
    AddIndex,
    RemoveIndex,
    RunPython,
    Other,
}

impl OpKind {
    /// The Django operation class name.
    pub fn name(self) -> &'static str {
        match self {
            OpKind::RemoveField => "RemoveField",
            OpKind::DeleteModel => "DeleteModel",
            OpKind::RenameField => "RenameField",
            OpKind::RenameModel => "RenameModel",
            OpKind::AlterField => "AlterField",
            OpKind::AlterModelTable => "AlterModelTable",
            OpKind::RunSql => "RunSQL",
            OpKind::AddField => "AddField",
            OpKind::CreateModel => "CreateModel",
            OpKind::AddIndex => "AddIndex",
            OpKind::RemoveIndex => "RemoveIndex",
            OpKind::RunPython => "RunPython",
            OpKind::Other => "other",
        }
    }

    /// Operations the release still serving traffic cannot survive: it reads columns and tables
    /// by their old names and types. Raw SQL counts, since nothing says what it does.
    pub fn is_destructive(self) -> bool {
        matches!(
            self,
            OpKind::RemoveField
                | OpKind::DeleteModel
                | OpKind::RenameField
                | OpKind::RenameModel
                | OpKind::AlterField
                | OpKind::AlterModelTable
                | OpKind::RunSql
        )
    }

    fn of_description(text: &str) -> OpKind {
        const PREFIXES: &[(&str, OpKind)] = &[
            ("Remove field ", OpKind::RemoveField),
            ("Delete model ", OpKind::DeleteModel),
            ("Rename field ", OpKind::RenameField),
            ("Rename model ", OpKind::RenameModel),
            ("Alter field ", OpKind::AlterField),
            ("Rename table for ", OpKind::AlterModelTable),
            ("Raw SQL operation", OpKind::RunSql),
            ("Add field ", OpKind::AddField),
            ("Create model ", OpKind::CreateModel),
            ("Create proxy model ", OpKind::CreateModel),
            ("Create index ", OpKind::AddIndex),
            ("Remove index ", OpKind::RemoveIndex),
            ("Raw Python operation", OpKind::RunPython),
        ];
        PREFIXES
            .iter()
            .find(|(prefix, _)| text.starts_with(prefix))
            .map(|(_, kind)| *kind)
            .unwrap_or(OpKind::Other)
    }

    /// What undoing this operation does to the schema.
    fn undone(self) -> OpKind {
        match self {
            OpKind::AddField => OpKind::RemoveField,
            OpKind::CreateModel => OpKind::DeleteModel,
            OpKind::RemoveField => OpKind::AddField,
            OpKind::DeleteModel => OpKind::CreateModel,
            OpKind::AddIndex => OpKind::RemoveIndex,
            OpKind::RemoveIndex => OpKind::AddIndex,
            other => other,
        }
    }
}

/// One operation line of the plan.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Operation {
    /// The line as Django printed it, without the indentation.
    pub text: String,
    /// What it does to the schema (an `Undo Add field` removes a column).
    pub kind: OpKind,
    pub backwards: bool,
}

/// One migration of the plan, with its operations.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Migration {
    pub app: String,
    pub name: String,
    pub operations: Vec<Operation>,
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Plan {
    pub migrations: Vec<Migration>,
}

/// A destructive operation, located.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Finding {
    pub app: String,
    pub migration: String,
    pub kind: OpKind,
    pub text: String,
}

impl fmt::Display for Finding {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}.{}: {} ({})",
            self.app,
            self.migration,
            self.kind.name(),
            self.text
        )
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PlanError {
    #[error(
        "the output has no `Planned operations:` line; is the command a Django `manage.py migrate`?"
    )]
    NoPlan,
    #[error("operation `{0}` appears before any migration")]
    OrphanOperation(String),
}

impl Plan {
    /// Parses the lines of the task's output. Lines before `Planned operations:` (an
    /// entrypoint's own output) and after the plan are ignored; colour codes are removed.
    pub fn parse<'a>(lines: impl IntoIterator<Item = &'a str>) -> Result<Plan, PlanError> {
        let mut lines = lines.into_iter().map(strip_ansi);
        if !lines.any(|l| l.trim() == "Planned operations:") {
            return Err(PlanError::NoPlan);
        }
        let mut plan = Plan::default();
        for line in lines {
            let line = line.trim_end();
            if line.trim().is_empty() {
                continue;
            }
            if line.trim() == "No planned migration operations." {
                break;
            }
            if line.starts_with(char::is_whitespace) {
                let text = line.trim();
                let (backwards, described) = match text.strip_prefix("Undo ") {
                    Some(rest) => (true, rest),
                    None => (false, text),
                };
                let kind = OpKind::of_description(described);
                let kind = if backwards { kind.undone() } else { kind };
                let Some(migration) = plan.migrations.last_mut() else {
                    return Err(PlanError::OrphanOperation(text.to_string()));
                };
                migration.operations.push(Operation {
                    text: text.to_string(),
                    kind,
                    backwards,
                });
                continue;
            }
            match migration_heading(line) {
                Some((app, name)) => plan.migrations.push(Migration {
                    app: app.to_string(),
                    name: name.to_string(),
                    operations: Vec::new(),
                }),
                // Whatever the container prints after the plan.
                None => break,
            }
        }
        Ok(plan)
    }

    /// Every destructive operation, in plan order.
    pub fn destructive(&self) -> Vec<Finding> {
        self.migrations
            .iter()
            .flat_map(|m| {
                m.operations
                    .iter()
                    .filter(|op| op.kind.is_destructive())
                    .map(|op| Finding {
                        app: m.app.clone(),
                        migration: m.name.clone(),
                        kind: op.kind,
                        text: op.text.clone(),
                    })
            })
            .collect()
    }

    pub fn operation_count(&self) -> usize {
        self.migrations.iter().map(|m| m.operations.len()).sum()
    }
}

/// `catalog.0003_drop_legacy` -> (`catalog`, `0003_drop_legacy`).
fn migration_heading(line: &str) -> Option<(&str, &str)> {
    let (app, name) = line.split_once('.')?;
    let ident = |s: &str| {
        !s.is_empty()
            && s.chars()
                .all(|c| c.is_alphanumeric() || c == '_' || c == '-')
    };
    (ident(app) && ident(name) && !app.starts_with(|c: char| c.is_ascii_digit()))
        .then_some((app, name))
}

/// Removes ANSI colour sequences (`manage.py` colours its output on a terminal, or when forced).
fn strip_ansi(line: &str) -> String {
    let mut out = String::with_capacity(line.len());
    let mut chars = line.chars().peekable();
    while let Some(c) = chars.next() {
        if c == '\u{1b}' && chars.peek() == Some(&'[') {
            chars.next();
            for c in chars.by_ref() {
                if c.is_ascii_alphabetic() {
                    break;
                }
            }
        } else {
            out.push(c);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::PathBuf;

    fn fixture_dir() -> PathBuf {
        PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../tests/fixtures/django")
    }

    fn fixture(name: &str) -> Plan {
        let path = fixture_dir().join("plans").join(name);
        let text =
            std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        Plan::parse(text.lines()).unwrap_or_else(|e| panic!("{name}: {e}"))
    }

    fn summary(findings: &[Finding]) -> Vec<String> {
        findings
            .iter()
            .map(|f| format!("{}.{} {}", f.app, f.migration, f.kind.name()))
            .collect()
    }

    #[test]
    fn a_fresh_database_plan_lists_every_destructive_operation_with_its_migration() {
        let plan = fixture("fresh.txt");
        assert_eq!(plan.migrations.len(), 5);
        assert_eq!(plan.operation_count(), 14);
        assert_eq!(
            summary(&plan.destructive()),
            [
                "catalog.0003_drop_legacy RemoveField",
                "catalog.0003_drop_legacy DeleteModel",
                "catalog.0004_rename_and_retype RenameField",
                "catalog.0004_rename_and_retype RenameModel",
                "catalog.0004_rename_and_retype AlterField",
                "catalog.0004_rename_and_retype RenameField",
                "catalog.0004_rename_and_retype AlterModelTable",
                "catalog.0005_backfill RunSQL",
            ]
        );
        let first = &plan.destructive()[0];
        assert_eq!(
            first.to_string(),
            "catalog.0003_drop_legacy: RemoveField (Remove field legacy_sku from product)"
        );
    }

    #[test]
    fn safe_operations_pass() {
        let plan = fixture("safe-only.txt");
        let kinds: Vec<OpKind> = plan
            .migrations
            .iter()
            .flat_map(|m| m.operations.iter().map(|o| o.kind))
            .collect();
        assert_eq!(
            kinds,
            [
                OpKind::CreateModel,
                OpKind::CreateModel,
                OpKind::CreateModel,
                OpKind::AddField,
                OpKind::AddIndex
            ]
        );
        assert!(plan.destructive().is_empty());
    }

    #[test]
    fn run_python_is_not_destructive_but_run_sql_is() {
        let plan = fixture("pending-destructive.txt");
        let backfill = plan.migrations.last().expect("a migration");
        assert_eq!(backfill.name, "0005_backfill");
        assert_eq!(backfill.operations[0].kind, OpKind::RunSql);
        assert_eq!(backfill.operations[1].kind, OpKind::RunPython);
        assert_eq!(plan.destructive().len(), 8);
    }

    #[test]
    fn nothing_to_apply_is_an_empty_plan() {
        let plan = fixture("up-to-date.txt");
        assert!(plan.migrations.is_empty());
        assert!(plan.destructive().is_empty());
    }

    #[test]
    fn undoing_an_additive_migration_is_destructive() {
        let plan = fixture("backwards.txt");
        let undo = &plan.migrations[2];
        assert_eq!(undo.name, "0003_drop_legacy");
        // Undoing RemoveField/DeleteModel adds back: safe.
        assert!(undo.operations.iter().all(|o| o.backwards));
        assert_eq!(undo.operations[0].kind, OpKind::AddField);
        assert_eq!(undo.operations[1].kind, OpKind::CreateModel);
        let text = "Planned operations:\ncatalog.0002_product_in_stock\n    Undo Create index catalog_item_name_idx on field(s) name of model product\n    Undo Add field in_stock to product\n";
        let plan = Plan::parse(text.lines()).expect("plan");
        assert_eq!(
            summary(&plan.destructive()),
            ["catalog.0002_product_in_stock RemoveField"]
        );
    }

    #[test]
    fn output_around_the_plan_and_colours_are_ignored() {
        let text = "Waiting for the database...\n\u{1b}[36;1mPlanned operations:\u{1b}[0m\n\u{1b}[1mshop.0007_drop_x\u{1b}[0m\n    Remove field x from order\n\nentrypoint: done\n";
        let plan = Plan::parse(text.lines()).expect("plan");
        assert_eq!(
            summary(&plan.destructive()),
            ["shop.0007_drop_x RemoveField"]
        );
    }

    #[test]
    fn output_without_a_plan_is_an_error() {
        let text = "Operations to perform:\n  Apply all migrations: catalog\n";
        assert_eq!(Plan::parse(text.lines()), Err(PlanError::NoPlan));
        let text = "Planned operations:\n    Remove field x from order\n";
        assert!(matches!(
            Plan::parse(text.lines()),
            Err(PlanError::OrphanOperation(_))
        ));
    }

    /// Runs the real `manage.py migrate --plan` of the fixture project through the test
    /// virtualenv, so a Django upgrade that changes the format fails here.
    #[test]
    fn the_parser_reads_what_the_installed_django_prints() {
        let root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..");
        let python = root.join(".venv/bin/python");
        assert!(
            python.exists(),
            "{} is missing: run scripts/venv.sh to create the test virtualenv",
            python.display()
        );
        let out = std::process::Command::new(&python)
            .args(["manage.py", "migrate", "--plan", "--noinput"])
            .current_dir(fixture_dir())
            .env("SWA_DJANGO_DB", ":memory:")
            .env("PYTHONDONTWRITEBYTECODE", "1")
            .output()
            .expect("run manage.py");
        assert!(
            out.status.success(),
            "manage.py failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        let text = String::from_utf8_lossy(&out.stdout);
        let plan = Plan::parse(text.lines()).expect("plan");
        assert_eq!(plan, fixture("fresh.txt"), "the live plan:\n{text}");
        assert_eq!(plan.destructive().len(), 8);
    }
}

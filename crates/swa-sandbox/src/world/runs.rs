//! GitHub workflow runs: queued, in progress, then completed with their conclusion.

use super::World;

#[derive(Clone, Debug)]
pub struct Run {
    pub id: u64,
    pub owner: String,
    pub repo: String,
    pub name: String,
    pub event: String,
    pub path: String,
    pub head_sha: String,
    pub run_number: u64,
    pub created_at: i64,
    pub attempt: u32,
    pub attempt_created_at: i64,
    pub start_at: i64,
    pub complete_at: i64,
    pub conclusion: String,
    pub completion_reported: u32,
}

impl Run {
    pub fn status(&self, now: i64) -> &'static str {
        if now >= self.complete_at {
            "completed"
        } else if now >= self.start_at {
            "in_progress"
        } else {
            "queued"
        }
    }
}

impl World {
    pub(super) fn advance_runs(&mut self, now: i64) {
        let mut done = Vec::new();
        for r in &mut self.runs {
            if now >= r.complete_at && r.completion_reported < r.attempt {
                r.completion_reported = r.attempt;
                done.push((
                    r.complete_at,
                    format!("{} attempt {} {}", r.id, r.attempt, r.conclusion),
                ));
            }
        }
        for (at, detail) in done {
            self.event(at, "run-completed", detail);
        }
    }
}

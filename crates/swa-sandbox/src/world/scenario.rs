//! The scenarios a sandbox runs (which failures it plays) and its virtual clock.

use std::time::{Instant, SystemTime, UNIX_EPOCH};

use serde_json::{Value, json};

/// Every scenario name, in the order the docs list them.
pub const SCENARIOS: &[&str] = &[
    "healthy",
    "crash-loop",
    "unhealthy-targets",
    "slow-start",
    "migration-fails",
    "destructive-migration",
    "image-missing",
    "no-capacity",
    "throttling",
    "server-errors",
    "github-flaky",
    "frontend-fails-once",
    "migration-no-start",
    "login-broken",
    "production-login-broken",
    "database-down",
    "blue-green",
    "blue-green-test-fails",
    "canary-alarm",
    "linear",
    "hook-fails",
    "long-bake",
];

/// The scenarios in force, from a comma-separated list.
#[derive(Clone, Debug, Default)]
pub struct Scenario {
    pub names: Vec<String>,
    pub crash_loop: bool,
    pub unhealthy_targets: bool,
    pub slow_start: bool,
    pub migration_fails: bool,
    pub destructive_migration: bool,
    pub image_missing: bool,
    pub no_capacity: bool,
    pub throttling: bool,
    pub server_errors: bool,
    pub github_flaky: bool,
    pub frontend_fails_once: bool,
    pub migration_no_start: bool,
    /// The new revision's login endpoint answers 500.
    pub login_broken: bool,
    /// The new revision's login endpoint answers 500 through the production listener only: the
    /// checks on the test listener pass, the verification after production traffic moved fails.
    pub production_login_broken: bool,
    /// The new revision cannot reach one of its databases (`analytics`): `/health` says so.
    pub database_down: bool,
    /// The service deploys blue/green (`blue-green`, `blue-green-test-fails`, `hook-fails`),
    /// canary (`canary-alarm`) or linear (`linear`), with a PAUSE hook after test traffic.
    pub strategy: Option<&'static str>,
    /// The new revision answers 500 to every request but `/health`.
    pub test_fails: bool,
    /// The 5xx alarm fires while the canary takes its share of production traffic.
    pub canary_alarm: bool,
    /// A Lambda hook after scale-up fails.
    pub hook_fails: bool,
    /// The strategy bakes an hour instead of 3 minutes (with a strategy scenario): time for a
    /// verification to fail while the deployment is still in flight.
    pub long_bake: bool,
}

impl Scenario {
    pub fn parse(text: &str) -> Result<Scenario, String> {
        let mut s = Scenario::default();
        for name in text.split(',').map(str::trim).filter(|n| !n.is_empty()) {
            s.names.push(name.to_string());
            match name {
                "healthy" => {}
                "crash-loop" => s.crash_loop = true,
                "unhealthy-targets" => s.unhealthy_targets = true,
                "slow-start" => s.slow_start = true,
                "migration-fails" => s.migration_fails = true,
                "destructive-migration" => s.destructive_migration = true,
                "image-missing" => s.image_missing = true,
                "no-capacity" => s.no_capacity = true,
                "throttling" => s.throttling = true,
                "server-errors" => s.server_errors = true,
                "github-flaky" => s.github_flaky = true,
                "frontend-fails-once" => s.frontend_fails_once = true,
                "migration-no-start" => s.migration_no_start = true,
                "login-broken" => s.login_broken = true,
                "production-login-broken" => s.production_login_broken = true,
                "database-down" => s.database_down = true,
                "blue-green" => s.strategy = Some("BLUE_GREEN"),
                "blue-green-test-fails" => {
                    s.strategy = Some("BLUE_GREEN");
                    s.test_fails = true;
                }
                "canary-alarm" => {
                    s.strategy = Some("CANARY");
                    s.canary_alarm = true;
                }
                "linear" => s.strategy = Some("LINEAR"),
                "hook-fails" => {
                    s.strategy = Some("BLUE_GREEN");
                    s.hook_fails = true;
                }
                "long-bake" => s.long_bake = true,
                other => {
                    return Err(format!(
                        "unknown scenario `{other}`; known: {}",
                        SCENARIOS.join(", ")
                    ));
                }
            }
        }
        Ok(s)
    }

    /// The service's deployment strategy when the sandbox starts.
    pub fn strategy(&self) -> super::Strategy {
        match self.strategy {
            Some(kind) => {
                let mut strategy = super::Strategy::for_scenario(kind, self.hook_fails);
                if self.long_bake {
                    strategy.bake_minutes = 60;
                }
                strategy
            }
            None => super::Strategy::default(),
        }
    }
}

/// Virtual time: real elapsed time multiplied by the speed-up, from the real start instant.
#[derive(Clone, Debug)]
pub struct Clock {
    start: Instant,
    start_unix_ms: i64,
    speed: f64,
}

impl Clock {
    pub fn new(speed: f64) -> Clock {
        let start_unix_ms = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|d| d.as_millis() as i64)
            .unwrap_or(0);
        Clock {
            start: Instant::now(),
            start_unix_ms,
            speed,
        }
    }
    /// Virtual milliseconds since the epoch.
    pub fn now(&self) -> i64 {
        self.start_unix_ms + (self.start.elapsed().as_secs_f64() * 1000.0 * self.speed) as i64
    }
    pub fn start_ms(&self) -> i64 {
        self.start_unix_ms
    }
    /// The wall-clock instant (unix ms) at which virtual instant `v` happens.
    pub fn wall_ms(&self, v: i64) -> u128 {
        let real = self.start_unix_ms as f64 + (v - self.start_unix_ms) as f64 / self.speed;
        real.max(0.0) as u128
    }
    pub fn speed(&self) -> f64 {
        self.speed
    }
}

/// Seconds as a JSON number, as the JSON 1.1 services write timestamps.
pub fn epoch(ms: i64) -> Value {
    json!(ms as f64 / 1000.0)
}

pub fn iso8601(ms: i64) -> String {
    let t = time::OffsetDateTime::from_unix_timestamp(ms.div_euclid(1000))
        .unwrap_or(time::OffsetDateTime::UNIX_EPOCH);
    let f = time::macros::format_description!("[year]-[month]-[day]T[hour]:[minute]:[second]Z");
    t.format(&f).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scenarios_combine_and_unknown_names_are_refused() {
        let s = Scenario::parse("crash-loop, throttling").unwrap_or_default();
        assert!(s.crash_loop && s.throttling && !s.github_flaky);
        assert_eq!(s.names, ["crash-loop", "throttling"]);
        let err = Scenario::parse("healthy,crashloop")
            .err()
            .unwrap_or_default();
        assert!(err.contains("unknown scenario `crashloop`"), "{err}");
        for name in SCENARIOS {
            assert!(Scenario::parse(name).is_ok(), "{name}");
        }
    }
}

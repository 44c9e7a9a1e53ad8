//! The sandbox's world: the production names, the scenarios, the virtual clock and the rollout
//! physics of the service, its tasks, the target group and the one-off tasks.
//!
//! `seed` holds the names and what the world starts with, `scenario` the scenarios and the clock,
//! `model` the things the world is made of, `tasks` a task's life and `rollout` the service
//! scheduler (together, the rollout state machine), `history` the service deployments ECS
//! records, `runs` the GitHub workflow runs, `records` the GitHub deployments and `canned` the
//! containers' output. The services' wire formats (`ecs`, `s3`, `elb`, ...) read and change the
//! world; the world depends on none of them.

use std::collections::BTreeMap;

use sha2::{Digest, Sha256};

mod canned;
mod history;
mod model;
mod records;
mod rollout;
mod runs;
mod scenario;
mod seed;
mod tasks;
mod traffic;

pub use history::{History, Revision, RollbackInfo, ServiceDeployment};
pub use model::*;
pub use records::*;
pub use rollout::*;
pub use runs::*;
pub use scenario::*;
pub use seed::*;
pub use traffic::*;

pub fn sha256_hex(data: &[u8]) -> String {
    hex::encode(Sha256::digest(data))
}

const SECOND: i64 = 1000;
const DAY: i64 = 86_400 * SECOND;

/// Everything the sandbox knows, behind one lock.
pub struct World {
    pub clock: Clock,
    pub scenario: Scenario,
    pub task_definitions: BTreeMap<String, Vec<TaskDefinition>>,
    pub service: Service,
    pub tasks: Vec<Task>,
    pub logs: BTreeMap<String, BTreeMap<String, LogStream>>,
    pub images: Vec<Image>,
    pub runs: Vec<Run>,
    /// S3 buckets and their objects.
    pub buckets: BTreeMap<String, BTreeMap<String, Object>>,
    pub calls: Vec<Call>,
    pub timeline: Vec<Event>,
    pub counter: u64,
    /// Calls per service, for the deterministic fault scenarios.
    pub fault_counters: BTreeMap<String, u64>,
    pub github_counter: u64,
    pub run_tasks_seen: u64,
    pub frontend_failed_once: bool,
    pub rate_remaining: i64,
    /// Tasks the scheduler stopped once their targets drained, not yet announced in an event.
    pub drained: Vec<(i64, String)>,
    /// Service deployments and service revisions.
    pub history: history::History,
    /// The app's login sessions (session ids it handed out).
    pub sessions: std::collections::BTreeSet<String>,
    /// GitHub deployments (the Deployments API) and their statuses.
    pub records: Vec<Record>,
    /// CloudWatch alarms by name.
    pub alarms: BTreeMap<String, Alarm>,
    /// Requests a partly shifted listener has routed.
    pub traffic_counter: u64,
}

impl World {
    pub fn new(scenario: Scenario, speed: f64) -> World {
        let clock = Clock::new(speed);
        let start = clock.now();
        let mut world = World {
            clock,
            scenario: scenario.clone(),
            task_definitions: BTreeMap::new(),
            service: Service {
                desired: 2,
                deployments: Vec::new(),
                events: Vec::new(),
                created_at: start - 90 * DAY,
                circuit_breaker: true,
                rollback: true,
                maximum_percent: 200,
                minimum_healthy_percent: 100,
                health_check_grace: 120,
                last_completed: (String::new(), String::new()),
                steady_reported: true,
                strategy: scenario.strategy(),
                shift: None,
            },
            tasks: Vec::new(),
            logs: BTreeMap::new(),
            images: Vec::new(),
            runs: Vec::new(),
            buckets: BTreeMap::from([(FRONTEND_BUCKET.to_string(), BTreeMap::new())]),
            calls: Vec::new(),
            timeline: Vec::new(),
            counter: 0,
            fault_counters: BTreeMap::new(),
            github_counter: 0,
            run_tasks_seen: 0,
            frontend_failed_once: false,
            rate_remaining: 5000,
            drained: Vec::new(),
            history: Default::default(),
            sessions: Default::default(),
            records: Vec::new(),
            alarms: BTreeMap::new(),
            traffic_counter: 0,
        };
        for name in world.service.strategy.alarms.clone() {
            world.alarms.insert(name.clone(), Alarm::ok(&name, start));
        }
        world.seed(start);
        world
    }

    /// A deterministic hex id, different on every call.
    pub fn next_hex(&mut self, len: usize) -> String {
        self.counter += 1;
        let mut h = sha256_hex(format!("swa-sandbox-{}", self.counter).as_bytes());
        h.truncate(len);
        h
    }

    pub fn next_number(&mut self, digits: u32) -> u64 {
        let h = self.next_hex(16);
        let n = u64::from_str_radix(&h, 16).unwrap_or(self.counter);
        let low = 10u64.pow(digits - 1);
        low + n % (9 * low)
    }

    /// A fresh id in the UUID form AWS uses (request ids, service events, attachments).
    pub fn next_uuid(&mut self) -> String {
        let h = self.next_hex(32);
        format!(
            "{}-{}-{}-{}-{}",
            &h[0..8],
            &h[8..12],
            &h[12..16],
            &h[16..20],
            &h[20..32]
        )
    }

    pub fn service_event_at(&mut self, at: i64, message: String) {
        let id = self.next_uuid();
        self.service.events.push(ServiceEvent { id, at, message });
    }

    pub fn event(&mut self, at: i64, kind: &str, detail: String) {
        self.timeline.push(Event {
            at_unix_ms: self.clock.wall_ms(at),
            kind: kind.to_string(),
            detail,
        });
    }

    /// Brings the world up to the virtual instant `now`.
    pub fn advance(&mut self) {
        let now = self.clock.now();
        loop {
            let next = self
                .tasks
                .iter()
                .enumerate()
                .filter_map(|(i, t)| t.agenda.first().map(|(at, _)| (*at, i)))
                .filter(|(at, _)| *at <= now)
                .min();
            if let Some(due) = self.shift_due().filter(|&due| due <= now)
                && next.is_none_or(|(at, _)| due < at)
            {
                self.fire_shift_timers(due);
                self.schedule(due);
                continue;
            }
            let Some((at, i)) = next else { break };
            if self.drained.first().is_some_and(|(t, _)| *t != at) {
                self.announce_drained();
            }
            let (_, step) = self.tasks[i].agenda.remove(0);
            self.apply(i, step, at);
            self.schedule(at);
        }
        self.announce_drained();
        self.schedule(now);
        self.advance_runs(now);
    }

    pub fn scenario_names(&self) -> Vec<String> {
        if self.scenario.names.is_empty() {
            vec!["healthy".into()]
        } else {
            self.scenario.names.clone()
        }
    }
}

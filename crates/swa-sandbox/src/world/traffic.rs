//! Blue/green, canary and linear deployments: the service's strategy, the lifecycle stages a
//! deployment goes through on the virtual clock, its lifecycle hooks (PAUSE, waiting for
//! ContinueServiceDeployment, and Lambda functions the scenario makes succeed or fail), the
//! traffic the production and test listeners send to the new revision, the bake time, the
//! CloudWatch alarms a scenario fires, and the rollback that puts production back on the old
//! tasks without starting new ones.
//!
//! The old (blue) tasks keep running until the bake time is over; the scheduler then drains them
//! (CLEAN_UP) and the deployment completes. A rollback makes a new PRIMARY deployment of the old
//! revision that adopts the blue tasks, so the green ones drain and nothing restarts.

use super::{ACCOUNT, Behaviour, REGION, SECOND, World, history, service_behaviour};

/// The strategies ECS knows.
pub const STRATEGIES: [&str; 4] = ["ROLLING", "BLUE_GREEN", "LINEAR", "CANARY"];

/// The lifecycle stages, in order.
pub const STAGES: [&str; 10] = [
    "RECONCILE_SERVICE",
    "PRE_SCALE_UP",
    "SCALE_UP",
    "POST_SCALE_UP",
    "TEST_TRAFFIC_SHIFT",
    "POST_TEST_TRAFFIC_SHIFT",
    "PRODUCTION_TRAFFIC_SHIFT",
    "POST_PRODUCTION_TRAFFIC_SHIFT",
    "BAKE_TIME",
    "CLEAN_UP",
];

/// The stages a lifecycle hook may run at.
pub const HOOK_STAGES: [&str; 7] = [
    "RECONCILE_SERVICE",
    "PRE_SCALE_UP",
    "POST_SCALE_UP",
    "TEST_TRAFFIC_SHIFT",
    "POST_TEST_TRAFFIC_SHIFT",
    "PRODUCTION_TRAFFIC_SHIFT",
    "POST_PRODUCTION_TRAFFIC_SHIFT",
];

/// The alarm the strategy scenarios configure on the service.
pub const ALARM: &str = "startupwebapp-api-5xx";
/// The Lambda function `hook-fails` runs after scale-up.
pub const CHECK_FUNCTION: &str = "startupwebapp-predeploy-check";

/// How long a Lambda hook runs, in virtual time.
const LAMBDA_RUN: i64 = 20 * SECOND;
/// How long after production traffic starts moving the scenario's alarm fires.
const ALARM_AFTER: i64 = 45 * SECOND;
const MINUTE: i64 = 60 * SECOND;

/// A lifecycle hook as the service's deployment configuration names it.
#[derive(Clone, Debug, PartialEq)]
pub struct HookConfig {
    /// `PAUSE` or `AWS_LAMBDA`.
    pub target_type: String,
    /// The Lambda function (none for PAUSE).
    pub target_arn: Option<String>,
    pub role_arn: Option<String>,
    pub stages: Vec<String>,
    pub timeout_minutes: i64,
    /// `CONTINUE` or `ROLLBACK` once the timeout is over.
    pub timeout_action: String,
}

/// The service's deployment strategy and what goes with it.
#[derive(Clone, Debug, PartialEq)]
pub struct Strategy {
    pub kind: String,
    pub bake_minutes: i64,
    /// Canary: the percent of production traffic first, and how long it stays there.
    pub canary: (f64, i64),
    /// Linear: the percent added at each step, and how long each step stays.
    pub linear: (f64, i64),
    pub hooks: Vec<HookConfig>,
    pub alarms: Vec<String>,
    pub alarms_enable: bool,
    pub alarms_rollback: bool,
}

impl Default for Strategy {
    fn default() -> Strategy {
        Strategy {
            kind: "ROLLING".into(),
            bake_minutes: 0,
            canary: (10.0, 5),
            linear: (10.0, 6),
            hooks: Vec::new(),
            alarms: Vec::new(),
            alarms_enable: false,
            alarms_rollback: false,
        }
    }
}

impl Strategy {
    pub fn shifts_traffic(&self) -> bool {
        self.kind != "ROLLING"
    }

    /// The configuration a strategy scenario starts with: a PAUSE hook after test traffic (an
    /// hour, then ROLLBACK), a 3-minute bake, the 5xx alarm with rollback, and `hook-fails`'s
    /// Lambda function after scale-up.
    pub fn for_scenario(kind: &str, lambda: bool) -> Strategy {
        let mut hooks = Vec::new();
        if lambda {
            hooks.push(HookConfig {
                target_type: "AWS_LAMBDA".into(),
                target_arn: Some(format!(
                    "arn:aws:lambda:{REGION}:{ACCOUNT}:function:{CHECK_FUNCTION}"
                )),
                role_arn: Some(format!(
                    "arn:aws:iam::{ACCOUNT}:role/ecs-lifecycle-hooks-startupwebapp"
                )),
                stages: vec!["POST_SCALE_UP".into()],
                timeout_minutes: 10,
                timeout_action: "ROLLBACK".into(),
            });
        }
        hooks.push(HookConfig {
            target_type: "PAUSE".into(),
            target_arn: None,
            role_arn: None,
            stages: vec!["POST_TEST_TRAFFIC_SHIFT".into()],
            timeout_minutes: 60,
            timeout_action: "ROLLBACK".into(),
        });
        Strategy {
            kind: kind.into(),
            bake_minutes: 3,
            canary: (10.0, 2),
            linear: (25.0, 1),
            hooks,
            alarms: vec![ALARM.into()],
            alarms_enable: true,
            alarms_rollback: true,
        }
    }
}

/// A hook's run in one service deployment, as `lifecycleHookDetails` shows it.
#[derive(Clone, Debug, PartialEq)]
pub struct HookRun {
    pub id: String,
    pub target_type: String,
    pub target_arn: Option<String>,
    pub stage: String,
    /// IN_PROGRESS, AWAITING_ACTION, SUCCEEDED, FAILED, TIMED_OUT.
    pub status: &'static str,
    pub expires_at: Option<i64>,
    pub timeout_action: String,
}

/// Something the traffic shift waits for on the virtual clock.
#[derive(Clone, Debug, PartialEq)]
enum Timer {
    /// A Lambda hook finishes.
    LambdaDone(String),
    /// A hook's timeout is over.
    HookExpires(String),
    /// The next canary or linear step.
    Step,
    /// The bake time is over.
    Baked,
    /// The scenario's alarm goes into ALARM.
    Alarm,
}

/// The traffic-shifting deployment in flight.
#[derive(Clone, Debug)]
pub struct Shift {
    /// The ECS deployment of the new (green) revision.
    pub ecs_id: String,
    pub strategy: Strategy,
    pub stage: &'static str,
    pub production_weight: f64,
    pub test_weight: f64,
    baked: bool,
    timers: Vec<(i64, Timer)>,
}

/// The metric the scenario's alarm watches: the 5xx answers of the load balancer's targets,
/// summed per minute, breaching above 5 in one minute.
pub const ALARM_METRIC: &str = "HTTPCode_Target_5XX_Count";
pub const ALARM_NAMESPACE: &str = "AWS/ApplicationELB";
pub const ALARM_THRESHOLD: f64 = 5.0;
pub const ALARM_PERIOD_SECONDS: i64 = 60;
/// The 5xx count of the minute that breaches the threshold in `canary-alarm`.
const ALARM_BREACHING_SUM: f64 = 12.0;

/// A CloudWatch metric alarm, as DescribeAlarms shows it.
#[derive(Clone, Debug)]
pub struct Alarm {
    pub name: String,
    pub state: &'static str,
    pub reason: String,
    /// The evaluation behind the state, as `StateReasonData` carries it (JSON text).
    pub reason_data: String,
    pub updated_at: i64,
    /// When the alarm was created or last changed.
    pub configured_at: i64,
}

impl Alarm {
    /// The alarm as a deployment finds it: the last minute's datapoint under the threshold.
    pub fn ok(name: &str, at: i64) -> Alarm {
        Alarm::evaluated(name, 0.0, at, at)
    }

    /// The alarm after a minute of 5xx answers above the threshold, evaluated at `at`.
    pub fn breached(name: &str, configured_at: i64, at: i64) -> Alarm {
        Alarm::evaluated(name, ALARM_BREACHING_SUM, configured_at, at)
    }

    /// The alarm after CloudWatch evaluated the last full period's `sum` at `at`, in
    /// CloudWatch's words.
    fn evaluated(name: &str, sum: f64, configured_at: i64, at: i64) -> Alarm {
        let period = ALARM_PERIOD_SECONDS * SECOND;
        let datapoint = (at - period).div_euclid(period) * period;
        let breaching = sum > ALARM_THRESHOLD;
        let (state, comparison, transition) = if breaching {
            ("ALARM", "was greater than", "OK -> ALARM")
        } else {
            ("OK", "was not greater than", "ALARM -> OK")
        };
        let reason = format!(
            "Threshold Crossed: 1 out of the last 1 datapoints [{sum:?} ({})] {comparison} the threshold ({ALARM_THRESHOLD:?}) (minimum 1 datapoint for {transition} transition).",
            datapoint_time(datapoint)
        );
        let reason_data = serde_json::json!({
            "version": "1.0",
            "queryDate": reason_data_time(at),
            "startDate": reason_data_time(datapoint),
            "statistic": "Sum",
            "period": ALARM_PERIOD_SECONDS,
            "recentDatapoints": [sum],
            "threshold": ALARM_THRESHOLD,
            "evaluatedDatapoints": [{"timestamp": reason_data_time(datapoint), "sampleCount": 60.0, "value": sum}],
        })
        .to_string();
        Alarm {
            name: name.into(),
            state,
            reason,
            reason_data,
            updated_at: at,
            configured_at,
        }
    }
}

fn utc(ms: i64) -> time::OffsetDateTime {
    time::OffsetDateTime::from_unix_timestamp(ms.div_euclid(1000))
        .unwrap_or(time::OffsetDateTime::UNIX_EPOCH)
        + time::Duration::milliseconds(ms.rem_euclid(1000))
}

/// A datapoint's time in a state reason: `01/12/26 00:03:00` (day/month/year, UTC).
fn datapoint_time(ms: i64) -> String {
    let f = time::macros::format_description!(
        "[day]/[month]/[year repr:last_two] [hour]:[minute]:[second]"
    );
    utc(ms).format(&f).unwrap_or_default()
}

/// A time in `StateReasonData`: `2026-12-01T00:03:00.000+0000`.
fn reason_data_time(ms: i64) -> String {
    let f = time::macros::format_description!(
        "[year]-[month]-[day]T[hour]:[minute]:[second].[subsecond digits:3]+0000"
    );
    utc(ms).format(&f).unwrap_or_default()
}

/// What answers a request to the app.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Served {
    /// During a traffic shift, the revision's task definition: only its tasks answer.
    pub shifted_to: Option<String>,
    /// A revision registered since the sandbox started (the one a deploy brought): the
    /// scenarios that break the app's code apply to it.
    pub new: bool,
    /// The revision's tasks crash or fail their health checks, or its deployment failed.
    pub broken: bool,
}

/// The listener a request to the app came through.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Listener {
    Production,
    Test,
}

impl World {
    /// A traffic-shifting UpdateService started the ECS deployment `ecs_id`: its service
    /// deployment begins at RECONCILE_SERVICE with no traffic.
    pub(super) fn begin_shift(&mut self, ecs_id: &str, at: i64) {
        self.service.shift = Some(Shift {
            ecs_id: ecs_id.to_string(),
            strategy: self.service.strategy.clone(),
            stage: STAGES[0],
            production_weight: 0.0,
            test_weight: 0.0,
            baked: false,
            timers: Vec::new(),
        });
        history::shifted(self, ecs_id, STAGES[0], (0.0, 0.0), at);
        self.event(at, "lifecycle-stage", STAGES[0].to_string());
        self.drive_shift(at);
    }

    /// The old tasks keep running: a traffic shift is in flight and has not reached CLEAN_UP.
    pub(super) fn keeps_old_tasks(&self) -> bool {
        self.service
            .shift
            .as_ref()
            .is_some_and(|s| s.stage != "CLEAN_UP")
    }

    /// The earliest instant a timer of the shift in flight fires.
    pub(super) fn shift_due(&self) -> Option<i64> {
        let shift = self.service.shift.as_ref()?;
        shift.timers.iter().map(|(at, _)| *at).min()
    }

    /// Fires the timers due at `at` or before, then moves the stages on.
    pub(super) fn fire_shift_timers(&mut self, at: i64) {
        loop {
            let Some(shift) = self.service.shift.as_mut() else {
                return;
            };
            let Some(k) = (0..shift.timers.len())
                .filter(|&k| shift.timers[k].0 <= at)
                .min_by_key(|&k| shift.timers[k].0)
            else {
                break;
            };
            let (when, timer) = shift.timers.remove(k);
            self.fire(when, timer);
        }
        self.drive_shift(at);
    }

    fn fire(&mut self, at: i64, timer: Timer) {
        let Some(shift) = self.service.shift.clone() else {
            return;
        };
        match timer {
            Timer::LambdaDone(id) => {
                let fails = self.scenario.hook_fails;
                self.set_hook(&id, if fails { "FAILED" } else { "SUCCEEDED" }, at);
                if fails {
                    let what = self.hook_target(&id);
                    self.roll_back_shift(
                        format!("Lifecycle hook {what} failed at stage {}.", shift.stage),
                        at,
                    );
                }
            }
            Timer::HookExpires(id) => {
                let still = self
                    .hook_runs()
                    .iter()
                    .find(|h| h.id == id)
                    .filter(|h| matches!(h.status, "AWAITING_ACTION" | "IN_PROGRESS"))
                    .map(|h| h.timeout_action.clone());
                match still.as_deref() {
                    Some("CONTINUE") => self.set_hook(&id, "SUCCEEDED", at),
                    Some(_) => {
                        self.set_hook(&id, "TIMED_OUT", at);
                        let what = self.hook_target(&id);
                        self.roll_back_shift(
                            format!("Lifecycle hook {what} timed out at stage {}.", shift.stage),
                            at,
                        );
                    }
                    None => {}
                }
            }
            Timer::Step => {
                let step = match shift.strategy.kind.as_str() {
                    "LINEAR" => shift.strategy.linear.0,
                    _ => 100.0,
                };
                let weight = (shift.production_weight + step).min(100.0);
                self.set_weights(weight, 100.0, at);
                if weight < 100.0 {
                    let wait = shift.strategy.linear.1 * MINUTE;
                    self.add_timer(at + wait, Timer::Step);
                }
            }
            Timer::Baked => {
                if let Some(s) = self.service.shift.as_mut() {
                    s.baked = true;
                }
            }
            Timer::Alarm => {
                let configured_at = self.alarms.get(ALARM).map_or(at, |a| a.configured_at);
                self.alarms
                    .insert(ALARM.into(), Alarm::breached(ALARM, configured_at, at));
                history::alarm_triggered(self, &shift.ecs_id, ALARM, at);
                self.event(at, "alarm", ALARM.to_string());
                if shift.strategy.alarms_rollback {
                    self.roll_back_shift(format!("CloudWatch alarm {ALARM} is in ALARM."), at);
                }
            }
        }
    }

    /// Moves the shift in flight through every stage whose work and hooks are done.
    pub(super) fn drive_shift(&mut self, at: i64) {
        loop {
            let Some(shift) = self.service.shift.clone() else {
                return;
            };
            let done = match shift.stage {
                "SCALE_UP" => self.green_healthy(&shift.ecs_id),
                "PRODUCTION_TRAFFIC_SHIFT" => shift.production_weight >= 100.0,
                "BAKE_TIME" => shift.baked,
                "CLEAN_UP" => false,
                _ => true,
            };
            let hooks_done = self
                .hook_runs()
                .iter()
                .filter(|h| h.stage == shift.stage)
                .all(|h| h.status == "SUCCEEDED");
            if !done || !hooks_done {
                return;
            }
            let Some(next) = STAGES
                .iter()
                .position(|s| *s == shift.stage)
                .and_then(|k| STAGES.get(k + 1))
            else {
                return;
            };
            self.enter(next, at);
        }
    }

    fn green_healthy(&self, ecs_id: &str) -> bool {
        let desired = self
            .service
            .deployments
            .iter()
            .find(|d| d.id == ecs_id)
            .map_or(0, |d| d.desired);
        let healthy = self
            .tasks
            .iter()
            .filter(|t| t.deployment.as_deref() == Some(ecs_id) && t.healthy_target())
            .count() as i64;
        healthy >= desired
    }

    /// The shift enters `stage`: its work starts and its hooks run.
    fn enter(&mut self, stage: &'static str, at: i64) {
        let Some(shift) = self.service.shift.as_mut() else {
            return;
        };
        shift.stage = stage;
        let strategy = shift.strategy.clone();
        let ecs_id = shift.ecs_id.clone();
        let weights = (shift.production_weight, shift.test_weight);
        history::shifted(self, &ecs_id, stage, weights, at);
        self.event(at, "lifecycle-stage", stage.to_string());
        match stage {
            "TEST_TRAFFIC_SHIFT" => self.set_weights(0.0, 100.0, at),
            "PRODUCTION_TRAFFIC_SHIFT" => {
                let (first, wait) = match strategy.kind.as_str() {
                    "CANARY" => strategy.canary,
                    "LINEAR" => strategy.linear,
                    _ => (100.0, 0),
                };
                self.set_weights(first.min(100.0), 100.0, at);
                if first < 100.0 {
                    self.add_timer(at + wait * MINUTE, Timer::Step);
                }
                if self.scenario.canary_alarm && strategy.alarms_enable {
                    self.add_timer(at + ALARM_AFTER, Timer::Alarm);
                }
            }
            "BAKE_TIME" => self.add_timer(at + strategy.bake_minutes * MINUTE, Timer::Baked),
            _ => {}
        }
        for hook in strategy
            .hooks
            .iter()
            .filter(|h| h.stages.iter().any(|s| s == stage))
        {
            let id = self.next_uuid();
            let expires = at + hook.timeout_minutes * MINUTE;
            let run = HookRun {
                id: id.clone(),
                target_type: hook.target_type.clone(),
                target_arn: hook.target_arn.clone(),
                stage: stage.to_string(),
                status: if hook.target_type == "PAUSE" {
                    "AWAITING_ACTION"
                } else {
                    "IN_PROGRESS"
                },
                expires_at: Some(expires),
                timeout_action: hook.timeout_action.clone(),
            };
            history::hook_started(self, &ecs_id, run, at);
            self.add_timer(expires, Timer::HookExpires(id.clone()));
            if hook.target_type != "PAUSE" {
                self.add_timer(at + LAMBDA_RUN, Timer::LambdaDone(id.clone()));
            }
            self.event(at, "hook-started", format!("{id} {stage}"));
        }
    }

    fn add_timer(&mut self, at: i64, timer: Timer) {
        if let Some(shift) = self.service.shift.as_mut() {
            shift.timers.push((at, timer));
        }
    }

    fn set_weights(&mut self, production: f64, test: f64, at: i64) {
        let Some(shift) = self.service.shift.as_mut() else {
            return;
        };
        shift.production_weight = production;
        shift.test_weight = test;
        let (ecs_id, stage) = (shift.ecs_id.clone(), shift.stage);
        history::shifted(self, &ecs_id, stage, (production, test), at);
        self.event(
            at,
            "traffic",
            format!("production {production} test {test}"),
        );
    }

    /// The hooks of the shift in flight, as its service deployment records them.
    fn hook_runs(&self) -> Vec<HookRun> {
        let Some(shift) = &self.service.shift else {
            return Vec::new();
        };
        history::hooks_of(self, &shift.ecs_id)
    }

    fn set_hook(&mut self, id: &str, status: &'static str, at: i64) {
        if let Some(shift) = &self.service.shift {
            let ecs_id = shift.ecs_id.clone();
            history::hook_status(self, &ecs_id, id, status, at);
            self.event(at, "hook", format!("{id} {status}"));
        }
    }

    fn hook_target(&self, id: &str) -> String {
        self.hook_runs()
            .into_iter()
            .find(|h| h.id == id)
            .map(|h| h.target_arn.unwrap_or(h.id))
            .unwrap_or_default()
    }

    /// ContinueServiceDeployment: the hook `hook_id` of the service deployment carried by
    /// `ecs_id` goes on (CONTINUE) or rolls the deployment back (ROLLBACK).
    pub fn continue_hook(
        &mut self,
        ecs_id: &str,
        hook_id: &str,
        action: &str,
        at: i64,
    ) -> Result<(), String> {
        self.advance();
        let in_flight = self
            .service
            .shift
            .as_ref()
            .is_some_and(|s| s.ecs_id == ecs_id);
        let waiting = in_flight
            && self
                .hook_runs()
                .iter()
                .any(|h| h.id == hook_id && h.status == "AWAITING_ACTION");
        if !waiting {
            return Err(format!(
                "The lifecycle hook {hook_id} is not awaiting action."
            ));
        }
        self.set_hook(hook_id, "SUCCEEDED", at);
        if action == "ROLLBACK" {
            self.roll_back_shift(
                format!(
                    "Rollback requested by ContinueServiceDeployment on lifecycle hook {hook_id}."
                ),
                at,
            );
        }
        self.drive_shift(at);
        Ok(())
    }

    /// Production and test traffic go back to the old revision at once: a new PRIMARY deployment
    /// of it adopts the old tasks, and the new ones drain.
    pub(super) fn roll_back_shift(&mut self, reason: String, at: i64) {
        let Some(green) = self.service.shift.as_ref().map(|s| s.ecs_id.clone()) else {
            return;
        };
        let (id, to_id) = self.start_rollback(
            &green,
            |to| format!("{reason} ECS is rolling back to deploymentId {to}."),
            at,
        );
        history::rolled_back(self, &green, &id, &to_id, &reason, at);
    }

    /// The tasks of every deployment but `green` now belong to `to`, a rollback's deployment.
    pub(super) fn adopt_old_tasks(&mut self, to: &str, green: &str) {
        for t in &mut self.tasks {
            if t.is_live()
                && t.deployment
                    .as_deref()
                    .is_some_and(|d| d != green && d != to)
            {
                t.deployment = Some(to.to_string());
            }
        }
    }

    /// The task definition a request on `listener` reaches: during a traffic shift, the new
    /// revision for its weight of the requests (spread evenly), else the old one; otherwise the
    /// PRIMARY deployment's.
    pub fn route(&mut self, listener: Listener) -> Option<String> {
        let primary = self.service.deployments.iter().find(|d| d.primary)?;
        let Some(shift) = &self.service.shift else {
            return Some(primary.td_arn.clone());
        };
        let green = self
            .service
            .deployments
            .iter()
            .find(|d| d.id == shift.ecs_id)
            .map(|d| d.td_arn.clone());
        let blue = Some(self.service.last_completed.1.clone());
        let weight = match listener {
            Listener::Production => shift.production_weight,
            Listener::Test => shift.test_weight,
        };
        if weight >= 100.0 {
            return green;
        }
        if weight <= 0.0 {
            return blue;
        }
        self.traffic_counter += 1;
        // An evenly spread sequence: request n goes to the new revision when its fractional
        // position falls under the weight.
        let position = (self.traffic_counter as f64 * 0.618_033_988_75).fract() * 100.0;
        if position < weight { green } else { blue }
    }

    /// What answers a request on `listener` (see [`World::route`]).
    pub fn served(&mut self, listener: Listener) -> Served {
        let failed = self.service.shift.is_none()
            && self
                .service
                .deployments
                .iter()
                .find(|d| d.primary)
                .is_some_and(|d| d.rollout_state == "FAILED");
        let routed = self.route(listener);
        let Some(td) = routed
            .as_deref()
            .and_then(|arn| self.find_task_definition(arn))
        else {
            return Served {
                shifted_to: None,
                new: false,
                broken: true,
            };
        };
        Served {
            shifted_to: routed.filter(|_| self.service.shift.is_some()),
            new: td.new && !failed,
            broken: failed || service_behaviour(&self.scenario, td.new) != Behaviour::Healthy,
        }
    }
}

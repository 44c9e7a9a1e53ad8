//! The history ECS keeps of every rollout: service revisions and service deployments.
//!
//! Every UpdateService that starts a deployment records a service revision (the task definition
//! it deploys) and a service deployment from the revisions running to it. The rollout physics
//! report what happens to the ECS deployment (`ecs-svc/…`) that carries it: completed, failed by
//! the circuit breaker (then rolled back, inside the same service deployment, to the last
//! revision that completed), or replaced by a newer UpdateService.

use super::{
    ACCOUNT, CLUSTER, HookRun, REGION, SERVICE, SERVICE_FAMILY, Strategy, World,
    circuit_breaker_threshold, sha256_hex, task_definition_arn,
};

/// A service revision: the configuration one deployment rolls out.
#[derive(Clone, Debug)]
pub struct Revision {
    pub arn: String,
    pub td_arn: String,
    pub created_at: i64,
}

#[derive(Clone, Debug)]
pub struct RollbackInfo {
    pub reason: String,
    pub started_at: i64,
    pub revision: String,
}

#[derive(Clone, Debug)]
pub struct ServiceDeployment {
    pub arn: String,
    pub created_at: i64,
    pub started_at: i64,
    pub finished_at: Option<i64>,
    pub stopped_at: Option<i64>,
    pub updated_at: i64,
    pub sources: Vec<String>,
    pub target: String,
    pub status: &'static str,
    pub status_reason: Option<String>,
    pub circuit_breaker: bool,
    pub rollback_enabled: bool,
    pub maximum_percent: i64,
    pub minimum_healthy_percent: i64,
    pub breaker_status: &'static str,
    pub failure_count: i64,
    pub threshold: i64,
    pub rollback: Option<RollbackInfo>,
    /// The ECS deployments that carry it: its own, then the rollback's.
    pub ecs_ids: Vec<String>,
    /// The service's strategy when it started.
    pub strategy: Strategy,
    /// Where a traffic-shifting deployment is (none for a rolling one).
    pub stage: Option<&'static str>,
    /// The new revision's production and test traffic, in percent.
    pub weights: Option<(f64, f64)>,
    pub hooks: Vec<HookRun>,
    pub triggered_alarms: Vec<String>,
}

/// The service's deployment history, oldest first.
#[derive(Clone, Debug, Default)]
pub struct History {
    pub revisions: Vec<Revision>,
    pub deployments: Vec<ServiceDeployment>,
    /// Its own id sequence, so that the world's ids (tasks, deployments, events) stay as they were.
    counter: u64,
}

impl History {
    fn next_hex(&mut self) -> String {
        self.counter += 1;
        sha256_hex(format!("swa-sandbox-history-{}", self.counter).as_bytes())
    }

    /// The revision an ECS deployment runs.
    pub fn revision_of(&self, ecs_id: &str) -> Option<&str> {
        self.deployments.iter().find_map(|d| {
            let k = d.ecs_ids.iter().position(|e| e == ecs_id)?;
            match (k, &d.rollback) {
                (0, _) => Some(d.target.as_str()),
                (_, Some(r)) => Some(r.revision.as_str()),
                _ => None,
            }
        })
    }

    fn carrying(&mut self, ecs_id: &str) -> Option<&mut ServiceDeployment> {
        self.deployments
            .iter_mut()
            .find(|d| d.ecs_ids.iter().any(|e| e == ecs_id))
    }
}

const ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

fn deployment_arn(w: &mut World) -> String {
    let id: String = w
        .history
        .next_hex()
        .as_bytes()
        .chunks(2)
        .take(21)
        .map(|pair| {
            let n = u8::from_str_radix(std::str::from_utf8(pair).unwrap_or("0"), 16).unwrap_or(0);
            ALPHABET[(n % 64) as usize] as char
        })
        .collect();
    format!("arn:aws:ecs:{REGION}:{ACCOUNT}:service-deployment/{CLUSTER}/{SERVICE}/{id}")
}

fn new_revision(w: &mut World, td_arn: &str, at: i64) -> String {
    let n = u64::from_str_radix(&w.history.next_hex()[..16], 16).unwrap_or(0);
    let arn = format!(
        "arn:aws:ecs:{REGION}:{ACCOUNT}:service-revision/{CLUSTER}/{SERVICE}/{}",
        1_000_000_000_000_000_000 + n % 9_000_000_000_000_000_000
    );
    w.history.revisions.push(Revision {
        arn: arn.clone(),
        td_arn: td_arn.to_string(),
        created_at: at,
    });
    arn
}

fn record(w: &mut World, ecs_id: &str, target: String, sources: Vec<String>, at: i64) {
    let arn = deployment_arn(w);
    let s = &w.service;
    let deployment = ServiceDeployment {
        arn,
        created_at: at,
        started_at: at,
        finished_at: None,
        stopped_at: None,
        updated_at: at,
        sources,
        target,
        status: "IN_PROGRESS",
        status_reason: None,
        circuit_breaker: s.circuit_breaker,
        rollback_enabled: s.rollback,
        maximum_percent: s.maximum_percent,
        minimum_healthy_percent: s.minimum_healthy_percent,
        breaker_status: if s.circuit_breaker {
            "MONITORING"
        } else {
            "DISABLED"
        },
        failure_count: 0,
        threshold: circuit_breaker_threshold(s.desired),
        rollback: None,
        ecs_ids: vec![ecs_id.to_string()],
        strategy: s.strategy.clone(),
        stage: None,
        weights: None,
        hooks: Vec::new(),
        triggered_alarms: Vec::new(),
    };
    w.history.deployments.push(deployment);
}

/// The history before the sandbox started: revision 2 deployed, then revision 3 (carried by the
/// ECS deployment `ecs_id`), both successful.
pub fn seed(w: &mut World, ecs_id: &str, deployed_at: i64, finished_at: i64) {
    let earlier = deployed_at - 7 * 86_400_000;
    let td2 = task_definition_arn(SERVICE_FAMILY, 2);
    let td3 = task_definition_arn(SERVICE_FAMILY, 3);
    let rev2 = new_revision(w, &td2, earlier);
    // Its ECS deployment is long gone; only the history names it.
    let previous = format!("ecs-svc/{}", &w.history.next_hex()[..19]);
    record(w, &previous, rev2.clone(), vec![], earlier);
    let rev3 = new_revision(w, &td3, deployed_at);
    record(w, ecs_id, rev3, vec![rev2], deployed_at);
    let ids = [
        (previous, earlier + (finished_at - deployed_at)),
        (ecs_id.to_string(), finished_at),
    ];
    for (id, at) in ids {
        completed(w, &id, at);
    }
}

/// An UpdateService started the ECS deployment `ecs_id` on `td_arn`: a new revision and a service
/// deployment from the revisions running now; one still in progress is stopped.
pub fn started(w: &mut World, ecs_id: &str, td_arn: &str, at: i64) {
    let mut sources: Vec<String> = Vec::new();
    for d in &w.service.deployments {
        if d.id != ecs_id
            && let Some(r) = w.history.revision_of(&d.id)
            && !sources.iter().any(|s| s == r)
        {
            sources.push(r.to_string());
        }
    }
    for d in &mut w.history.deployments {
        if matches!(d.status, "PENDING" | "IN_PROGRESS" | "ROLLBACK_IN_PROGRESS") {
            d.status = "STOPPED";
            d.status_reason = Some("A newer service deployment replaced it.".into());
            d.stopped_at = Some(at);
            d.updated_at = at;
            if d.breaker_status == "MONITORING" {
                d.breaker_status = "MONITORING_COMPLETE";
            }
        }
    }
    let target = new_revision(w, td_arn, at);
    record(w, ecs_id, target, sources, at);
}

/// The ECS deployment `ecs_id` completed: its service deployment succeeded (or its rollback did).
pub fn completed(w: &mut World, ecs_id: &str, at: i64) {
    let Some(d) = w.history.carrying(ecs_id) else {
        return;
    };
    d.status = if d.status == "ROLLBACK_IN_PROGRESS" {
        "ROLLBACK_SUCCESSFUL"
    } else {
        "SUCCESSFUL"
    };
    d.finished_at = Some(at);
    d.updated_at = at;
    if d.breaker_status == "MONITORING" {
        d.breaker_status = "MONITORING_COMPLETE";
    }
}

/// The circuit breaker failed the ECS deployment `ecs_id` after `failures` failed tasks; with
/// rollback, the ECS deployment `rollback_id` goes back to the last completed one's revision.
pub fn failed(w: &mut World, ecs_id: &str, failures: i64, rollback: Option<(&str, &str)>, at: i64) {
    let back_to = rollback.and_then(|(_, to)| w.history.revision_of(to).map(String::from));
    let Some(d) = w.history.carrying(ecs_id) else {
        return;
    };
    d.failure_count = failures;
    d.breaker_status = "TRIGGERED";
    d.updated_at = at;
    let reason = "ECS deployment circuit breaker: tasks failed to start.".to_string();
    match (rollback, back_to) {
        (Some((rollback_id, _)), Some(revision)) => {
            d.status = "ROLLBACK_IN_PROGRESS";
            d.status_reason = Some(format!(
                "{reason} Rolling back to service revision {revision}."
            ));
            d.ecs_ids.push(rollback_id.to_string());
            d.rollback = Some(RollbackInfo {
                reason,
                started_at: at,
                revision,
            });
        }
        _ => {
            d.status = "STOPPED";
            d.status_reason = Some(reason);
            d.stopped_at = Some(at);
        }
    }
}

/// StopServiceDeployment asked to roll back the service deployment carried by `ecs_id`; the ECS
/// deployment `rollback_id` goes back to the revision of the completed one, `to`.
pub fn rollback_requested(w: &mut World, ecs_id: &str, rollback_id: &str, to: &str, at: i64) {
    let reason = "Rollback requested by StopServiceDeployment.";
    rolled_back(w, ecs_id, rollback_id, to, reason, at);
}

/// The service deployment carried by `ecs_id` rolls back for `reason`: the ECS deployment
/// `rollback_id` goes back to the revision of the completed one, `to`, and no traffic is left on
/// the new revision.
pub fn rolled_back(
    w: &mut World,
    ecs_id: &str,
    rollback_id: &str,
    to: &str,
    reason: &str,
    at: i64,
) {
    let back_to = w.history.revision_of(to).map(String::from);
    let Some(d) = w.history.carrying(ecs_id) else {
        return;
    };
    let Some(revision) = back_to else {
        return;
    };
    d.status = "ROLLBACK_IN_PROGRESS";
    d.status_reason = Some(format!(
        "{reason} Rolling back to service revision {revision}."
    ));
    d.updated_at = at;
    if d.breaker_status == "MONITORING" {
        d.breaker_status = "MONITORING_COMPLETE";
    }
    if d.weights.is_some() {
        d.weights = Some((0.0, 0.0));
    }
    d.ecs_ids.push(rollback_id.to_string());
    d.rollback = Some(RollbackInfo {
        reason: reason.to_string(),
        started_at: at,
        revision,
    });
}

/// The traffic shift carried by `ecs_id` is at `stage`, with the new revision's production and
/// test `weights`.
pub fn shifted(w: &mut World, ecs_id: &str, stage: &'static str, weights: (f64, f64), at: i64) {
    if let Some(d) = w.history.carrying(ecs_id) {
        d.stage = Some(stage);
        d.weights = Some(weights);
        d.updated_at = at;
    }
}

pub fn hook_started(w: &mut World, ecs_id: &str, run: HookRun, at: i64) {
    if let Some(d) = w.history.carrying(ecs_id) {
        d.hooks.push(run);
        d.updated_at = at;
    }
}

pub fn hook_status(w: &mut World, ecs_id: &str, hook_id: &str, status: &'static str, at: i64) {
    if let Some(d) = w.history.carrying(ecs_id) {
        if let Some(h) = d.hooks.iter_mut().find(|h| h.id == hook_id) {
            h.status = status;
        }
        d.updated_at = at;
    }
}

pub fn hooks_of(w: &World, ecs_id: &str) -> Vec<HookRun> {
    w.history
        .deployments
        .iter()
        .find(|d| d.ecs_ids.iter().any(|e| e == ecs_id))
        .map(|d| d.hooks.clone())
        .unwrap_or_default()
}

pub fn alarm_triggered(w: &mut World, ecs_id: &str, alarm: &str, at: i64) {
    if let Some(d) = w.history.carrying(ecs_id) {
        if !d.triggered_alarms.iter().any(|a| a == alarm) {
            d.triggered_alarms.push(alarm.to_string());
        }
        d.updated_at = at;
    }
}

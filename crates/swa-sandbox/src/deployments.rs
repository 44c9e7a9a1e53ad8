//! ECS service deployments and service revisions: the history ECS keeps of every rollout
//! (ListServiceDeployments, DescribeServiceDeployments, DescribeServiceRevisions).
//!
//! Every UpdateService that starts a deployment records a service revision (the task definition
//! it deploys) and a service deployment from the revisions running to it. The rollout physics in
//! `world.rs` report what happens to the ECS deployment (`ecs-svc/…`) that carries it: completed,
//! failed by the circuit breaker (then rolled back, inside the same service deployment, to the
//! last revision that completed), or replaced by a newer UpdateService.

use serde_json::{Value, json};

use crate::api::ApiError;
use crate::ecs::{check_cluster, invalid, is_our_service, str_field};
use crate::world::*;

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
    fn revision_of(&self, ecs_id: &str) -> Option<&str> {
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

fn summary(w: &World, revision: &str) -> Value {
    let ecs_ids: Vec<&str> = w
        .service
        .deployments
        .iter()
        .filter(|d| w.history.revision_of(&d.id) == Some(revision))
        .map(|d| d.id.as_str())
        .collect();
    let requested: i64 = w
        .service
        .deployments
        .iter()
        .filter(|d| ecs_ids.contains(&d.id.as_str()))
        .map(|d| d.desired)
        .sum();
    let (mut running, mut pending) = (0, 0);
    for t in &w.tasks {
        if !t.desired_running
            || !t
                .deployment
                .as_deref()
                .is_some_and(|d| ecs_ids.contains(&d))
        {
            continue;
        }
        match t.phase {
            Phase::Running => running += 1,
            Phase::Provisioning | Phase::Pending | Phase::Activating => pending += 1,
            _ => {}
        }
    }
    json!({"arn": revision, "requestedTaskCount": requested, "runningTaskCount": running, "pendingTaskCount": pending})
}

fn brief_json(d: &ServiceDeployment) -> Value {
    let mut v = json!({
        "serviceDeploymentArn": d.arn,
        "serviceArn": service_arn(),
        "clusterArn": cluster_arn(),
        "startedAt": epoch(d.started_at),
        "createdAt": epoch(d.created_at),
        "targetServiceRevisionArn": d.target,
        "status": d.status,
    });
    if let Some(at) = d.finished_at {
        v["finishedAt"] = epoch(at);
    }
    if let Some(reason) = &d.status_reason {
        v["statusReason"] = json!(reason);
    }
    v
}

fn deployment_json(w: &World, d: &ServiceDeployment) -> Value {
    let failure_count = match d.status {
        "IN_PROGRESS" => w
            .service
            .deployments
            .iter()
            .find(|e| e.id == d.ecs_ids[0])
            .map_or(d.failure_count, |e| e.failed_tasks),
        _ => d.failure_count,
    };
    let sources: Vec<Value> = d.sources.iter().map(|r| summary(w, r)).collect();
    let mut v = json!({
        "serviceDeploymentArn": d.arn,
        "serviceArn": service_arn(),
        "clusterArn": cluster_arn(),
        "createdAt": epoch(d.created_at),
        "startedAt": epoch(d.started_at),
        "updatedAt": epoch(d.updated_at),
        "sourceServiceRevisions": sources,
        "targetServiceRevision": summary(w, &d.target),
        "status": d.status,
        "deploymentConfiguration": {
            "deploymentCircuitBreaker": {"enable": d.circuit_breaker, "rollback": d.rollback_enabled},
            "maximumPercent": d.maximum_percent,
            "minimumHealthyPercent": d.minimum_healthy_percent,
            "alarms": {"alarmNames": [], "rollback": false, "enable": false},
            "strategy": "ROLLING"
        },
        "deploymentCircuitBreaker": {
            "status": d.breaker_status,
            "failureCount": failure_count,
            "threshold": d.threshold
        },
        "alarms": {"status": "DISABLED"}
    });
    for (name, at) in [("finishedAt", d.finished_at), ("stoppedAt", d.stopped_at)] {
        if let Some(at) = at {
            v[name] = epoch(at);
        }
    }
    if let Some(reason) = &d.status_reason {
        v["statusReason"] = json!(reason);
    }
    if let Some(r) = &d.rollback {
        v["rollback"] = json!({
            "reason": r.reason,
            "startedAt": epoch(r.started_at),
            "serviceRevisionArn": r.revision
        });
    }
    v
}

fn revision_json(w: &World, r: &Revision) -> Value {
    let containers: Vec<Value> = w
        .find_task_definition(&r.td_arn)
        .map(|td| td.containers())
        .unwrap_or_default()
        .iter()
        .map(|c| {
            let image = c["image"].as_str().unwrap_or_default();
            let digest = match image.split_once('@') {
                Some((_, digest)) => digest.to_string(),
                None => format!("sha256:{}", sha256_hex(image.as_bytes())),
            };
            json!({"containerName": c["name"], "imageDigest": digest, "image": image})
        })
        .collect();
    json!({
        "serviceRevisionArn": r.arn,
        "serviceArn": service_arn(),
        "clusterArn": cluster_arn(),
        "taskDefinition": r.td_arn,
        "launchType": "FARGATE",
        "platformVersion": "1.4.0",
        "platformFamily": "Linux",
        "loadBalancers": [{"targetGroupArn": TARGET_GROUP_ARN, "containerName": SERVICE_CONTAINER, "containerPort": CONTAINER_PORT}],
        "serviceRegistries": [],
        "networkConfiguration": {"awsvpcConfiguration": {
            "subnets": SUBNETS, "securityGroups": [SECURITY_GROUP], "assignPublicIp": "DISABLED"}},
        "containerImages": containers,
        "guardDutyEnabled": false,
        "serviceConnectConfiguration": {"enabled": false},
        "createdAt": epoch(r.created_at)
    })
}

/// The history as `/_sandbox/state` shows it: oldest first, with the task definitions.
pub fn state_json(w: &World) -> Value {
    let td = |revision: &str| {
        w.history
            .revisions
            .iter()
            .find(|r| r.arn == revision)
            .map(|r| r.td_arn.clone())
    };
    let list: Vec<Value> = w
        .history
        .deployments
        .iter()
        .map(|d| {
            json!({
                "serviceDeploymentArn": d.arn,
                "status": d.status,
                "createdAt": iso8601(d.created_at),
                "from": d.sources.iter().filter_map(|s| td(s)).collect::<Vec<_>>(),
                "to": td(&d.target),
                "rolledBackTo": d.rollback.as_ref().and_then(|r| td(&r.revision)),
                "ecsDeployments": d.ecs_ids,
            })
        })
        .collect();
    json!(list)
}

/// A timestamp filter: epoch seconds, as the JSON protocol sends them.
fn timestamp_ms(v: &Value, name: &str) -> Result<Option<i64>, ApiError> {
    match v {
        Value::Null => Ok(None),
        Value::Number(n) => Ok(n.as_f64().map(|s| (s * 1000.0) as i64)),
        _ => Err(ApiError::serialization(format!(
            "STRING_VALUE can not be converted to {name}"
        ))),
    }
}

pub fn list(w: &mut World, req: &Value) -> Result<Value, ApiError> {
    check_cluster(req)?;
    let Some(service) = str_field(req, "service")?.filter(|s| !s.is_empty()) else {
        return Err(invalid("Service must be specified."));
    };
    if !is_our_service(service) {
        return Err(ApiError::new(
            400,
            "ServiceNotFoundException",
            "Service not found.",
        ));
    }
    let statuses: Option<Vec<&str>> = match &req["status"] {
        Value::Null => None,
        Value::Array(a) => Some(a.iter().filter_map(Value::as_str).collect()),
        _ => return Err(ApiError::serialization("Expected list for status")),
    };
    let after = timestamp_ms(&req["createdAt"]["after"], "after")?;
    let before = timestamp_ms(&req["createdAt"]["before"], "before")?;
    let max = match &req["maxResults"] {
        Value::Null => 20,
        v => match v.as_i64() {
            Some(n @ 1..=100) => n as usize,
            _ => {
                return Err(invalid("maxResults must be an integer between 1 and 100."));
            }
        },
    };
    let start = match str_field(req, "nextToken")? {
        None => 0,
        Some(t) => t
            .parse::<usize>()
            .map_err(|_| invalid("The nextToken is not valid."))?,
    };
    let mut matching: Vec<&ServiceDeployment> = w
        .history
        .deployments
        .iter()
        .filter(|d| statuses.as_ref().is_none_or(|s| s.contains(&d.status)))
        .filter(|d| after.is_none_or(|a| d.created_at >= a))
        .filter(|d| before.is_none_or(|b| d.created_at <= b))
        .collect();
    matching.reverse();
    matching.sort_by_key(|d| std::cmp::Reverse(d.created_at));
    let page: Vec<Value> = matching
        .iter()
        .skip(start)
        .take(max)
        .map(|d| brief_json(d))
        .collect();
    let mut out = json!({"serviceDeployments": page});
    if start + max < matching.len() {
        out["nextToken"] = json!((start + max).to_string());
    }
    Ok(out)
}

fn arns<'a>(req: &'a Value, name: &str) -> Result<Vec<&'a str>, ApiError> {
    let list: Vec<&str> = req[name]
        .as_array()
        .map(|a| a.iter().filter_map(Value::as_str).collect())
        .unwrap_or_default();
    if list.is_empty() {
        return Err(invalid(format!("{name} must be specified.")));
    }
    if list.len() > 20 {
        return Err(invalid(format!("{name} can have at most 20 items.")));
    }
    Ok(list)
}

pub fn describe(w: &mut World, req: &Value) -> Result<Value, ApiError> {
    let mut found = Vec::new();
    let mut failures = Vec::new();
    for arn in arns(req, "serviceDeploymentArns")? {
        match w.history.deployments.iter().find(|d| d.arn == arn) {
            Some(d) => found.push(deployment_json(w, d)),
            None => failures.push(json!({"arn": arn, "reason": "MISSING"})),
        }
    }
    Ok(json!({"serviceDeployments": found, "failures": failures}))
}

pub fn describe_revisions(w: &mut World, req: &Value) -> Result<Value, ApiError> {
    let mut found = Vec::new();
    let mut failures = Vec::new();
    for arn in arns(req, "serviceRevisionArns")? {
        match w.history.revisions.iter().find(|r| r.arn == arn) {
            Some(r) => found.push(revision_json(w, r)),
            None => failures.push(json!({"arn": arn, "reason": "MISSING"})),
        }
    }
    Ok(json!({"serviceRevisions": found, "failures": failures}))
}

//! ECS service deployments and service revisions as the API shows them
//! (ListServiceDeployments, DescribeServiceDeployments, DescribeServiceRevisions); the world's
//! `history` records them.

use serde_json::{Value, json};

use crate::api::ApiError;
use crate::ecs::{check_cluster, invalid, is_our_service, str_field};
use crate::world::*;

/// A revision's tasks, and its share of production and test traffic when the deployment shifts
/// traffic.
fn summary(w: &World, revision: &str, weights: Option<(f64, f64)>) -> Value {
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
    let mut v = json!({"arn": revision, "requestedTaskCount": requested, "runningTaskCount": running, "pendingTaskCount": pending});
    if let Some((production, test)) = weights {
        v["requestedProductionTrafficWeight"] = json!(production);
        v["requestedTestTrafficWeight"] = json!(test);
    }
    v
}

/// The deployment configuration a service deployment started with, as ECS shows it.
pub fn configuration_json(
    s: &Strategy,
    breaker: (bool, bool),
    maximum_percent: i64,
    minimum_healthy_percent: i64,
) -> Value {
    let mut v = json!({
        "deploymentCircuitBreaker": {"enable": breaker.0, "rollback": breaker.1},
        "maximumPercent": maximum_percent,
        "minimumHealthyPercent": minimum_healthy_percent,
        "alarms": {"alarmNames": s.alarms, "rollback": s.alarms_rollback, "enable": s.alarms_enable},
        "strategy": s.kind,
    });
    if s.shifts_traffic() {
        v["bakeTimeInMinutes"] = json!(s.bake_minutes);
        let hooks: Vec<Value> = s
            .hooks
            .iter()
            .map(|h| {
                let mut hook = json!({
                    "targetType": h.target_type,
                    "lifecycleStages": h.stages,
                    "timeoutConfiguration": {"timeoutInMinutes": h.timeout_minutes, "action": h.timeout_action},
                });
                if let Some(arn) = &h.target_arn {
                    hook["hookTargetArn"] = json!(arn);
                }
                if let Some(role) = &h.role_arn {
                    hook["roleArn"] = json!(role);
                }
                hook
            })
            .collect();
        v["lifecycleHooks"] = json!(hooks);
    }
    match s.kind.as_str() {
        "CANARY" => {
            v["canaryConfiguration"] =
                json!({"canaryPercent": s.canary.0, "canaryBakeTimeInMinutes": s.canary.1});
        }
        "LINEAR" => {
            v["linearConfiguration"] =
                json!({"stepPercent": s.linear.0, "stepBakeTimeInMinutes": s.linear.1});
        }
        _ => {}
    }
    v
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
    let source_weights = d.weights.map(|(p, t)| (100.0 - p, 100.0 - t));
    let sources: Vec<Value> = d
        .sources
        .iter()
        .map(|r| summary(w, r, source_weights))
        .collect();
    let mut v = json!({
        "serviceDeploymentArn": d.arn,
        "serviceArn": service_arn(),
        "clusterArn": cluster_arn(),
        "createdAt": epoch(d.created_at),
        "startedAt": epoch(d.started_at),
        "updatedAt": epoch(d.updated_at),
        "sourceServiceRevisions": sources,
        "targetServiceRevision": summary(w, &d.target, d.weights),
        "status": d.status,
        "deploymentConfiguration": configuration_json(
            &d.strategy,
            (d.circuit_breaker, d.rollback_enabled),
            d.maximum_percent,
            d.minimum_healthy_percent,
        ),
        "deploymentCircuitBreaker": {
            "status": d.breaker_status,
            "failureCount": failure_count,
            "threshold": d.threshold
        },
        "alarms": alarms_json(d)
    });
    if let Some(stage) = d.stage {
        v["lifecycleStage"] = json!(stage);
    }
    if !d.hooks.is_empty() {
        let hooks: Vec<Value> = d
            .hooks
            .iter()
            .map(|h| {
                let mut hook = json!({
                    "hookId": h.id,
                    "targetType": h.target_type,
                    "status": h.status,
                    "timeoutAction": h.timeout_action,
                });
                if let Some(arn) = &h.target_arn {
                    hook["targetArn"] = json!(arn);
                }
                if let Some(at) = h.expires_at {
                    hook["expiresAt"] = epoch(at);
                }
                hook
            })
            .collect();
        v["lifecycleHookDetails"] = json!(hooks);
    }
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

/// The alarms ECS watches during the deployment: DISABLED, MONITORING, TRIGGERED (and which
/// fired) or MONITORING_COMPLETE.
fn alarms_json(d: &ServiceDeployment) -> Value {
    if !d.strategy.alarms_enable {
        return json!({"status": "DISABLED"});
    }
    let status = if !d.triggered_alarms.is_empty() {
        "TRIGGERED"
    } else if matches!(d.status, "PENDING" | "IN_PROGRESS") {
        "MONITORING"
    } else {
        "MONITORING_COMPLETE"
    };
    json!({"status": status, "alarmNames": d.strategy.alarms, "triggeredAlarmNames": d.triggered_alarms})
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
                "lifecycleStage": d.stage,
                "awaitingHook": d.hooks.iter().find(|h| h.status == "AWAITING_ACTION").map(|h| h.id.clone()),
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

/// The service deployment `arn`, else ECS's ServiceDeploymentNotFoundException.
fn find<'a>(w: &'a World, arn: &str) -> Result<&'a ServiceDeployment, ApiError> {
    w.history
        .deployments
        .iter()
        .find(|d| d.arn == arn)
        .ok_or_else(|| {
            ApiError::new(
                400,
                "ServiceDeploymentNotFoundException",
                "The service deployment does not exist.",
            )
        })
}

/// StopServiceDeployment: ROLLBACK (the default) puts the service back on the revision that last
/// completed, inside the same service deployment, whether or not the deployment was configured
/// to roll back; a deployment already stopping or rolling back goes on; one that is over cannot
/// be stopped.
pub fn stop(w: &mut World, req: &Value) -> Result<Value, ApiError> {
    let Some(arn) = str_field(req, "serviceDeploymentArn")?.filter(|a| !a.is_empty()) else {
        return Err(invalid("serviceDeploymentArn must be specified."));
    };
    match str_field(req, "stopType")? {
        None | Some("ROLLBACK") => {}
        Some("ABORT") => {
            return Err(invalid(
                "The stop type ABORT is not supported. The valid values are ROLLBACK.",
            ));
        }
        Some(other) => {
            return Err(ApiError::serialization(format!(
                "1 validation error detected: Value '{other}' at 'stopType' failed to satisfy constraint: Member must satisfy enum value set: [ABORT, ROLLBACK]"
            )));
        }
    }
    let d = find(w, arn)?;
    match d.status {
        "PENDING" | "IN_PROGRESS" => {
            let ecs_id = d.ecs_ids[0].clone();
            let at = w.clock.now();
            w.roll_back_on_request(&ecs_id, at);
        }
        "STOP_REQUESTED" | "ROLLBACK_REQUESTED" | "ROLLBACK_IN_PROGRESS" => {}
        status => {
            return Err(ApiError::new(
                400,
                "ConflictException",
                format!("The service deployment is {status} and cannot be stopped."),
            ));
        }
    }
    Ok(json!({"serviceDeploymentArn": arn}))
}

/// ContinueServiceDeployment: the lifecycle hook awaiting action goes on (CONTINUE, the default)
/// or rolls the deployment back (ROLLBACK).
pub fn continue_deployment(w: &mut World, req: &Value) -> Result<Value, ApiError> {
    let Some(arn) = str_field(req, "serviceDeploymentArn")?.filter(|a| !a.is_empty()) else {
        return Err(invalid("serviceDeploymentArn must be specified."));
    };
    let Some(hook) = str_field(req, "hookId")?.filter(|h| !h.is_empty()) else {
        return Err(invalid("hookId must be specified."));
    };
    let action = match str_field(req, "action")? {
        None => "CONTINUE",
        Some(a @ ("CONTINUE" | "ROLLBACK")) => a,
        Some(other) => {
            return Err(ApiError::serialization(format!(
                "1 validation error detected: Value '{other}' at 'action' failed to satisfy constraint: Member must satisfy enum value set: [CONTINUE, ROLLBACK]"
            )));
        }
    };
    let d = find(w, arn)?;
    if !matches!(d.status, "PENDING" | "IN_PROGRESS") {
        return Err(ApiError::new(
            400,
            "ConflictException",
            format!(
                "The service deployment is {} and cannot be continued.",
                d.status
            ),
        ));
    }
    let ecs_id = d.ecs_ids[0].clone();
    let at = w.clock.now();
    w.continue_hook(&ecs_id, hook, action, at)
        .map_err(invalid)?;
    Ok(json!({"serviceDeploymentArn": arn}))
}

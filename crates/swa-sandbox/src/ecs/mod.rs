//! Amazon ECS (JSON 1.1, `AmazonEC2ContainerServiceV20141113.*`).

use serde_json::{Value, json};

use crate::api::ApiError;
use crate::limits::MAX_TASKS_PER_SERVICE;
use crate::world::*;

mod strategy;
mod tasks;

pub use tasks::task_json;
use tasks::{describe_tasks, list_tasks, run_task, stop_task};

pub fn handle(w: &mut World, op: &str, req: &Value) -> Result<Value, ApiError> {
    match op {
        "DescribeServices" => describe_services(w, req),
        "UpdateService" => update_service(w, req),
        "DescribeTaskDefinition" => describe_task_definition(w, req),
        "RegisterTaskDefinition" => register_task_definition(w, req),
        "DeregisterTaskDefinition" => deregister_task_definition(w, req),
        "ListTaskDefinitions" => list_task_definitions(w, req),
        "ListServices" => list_services(w, req),
        "DescribeClusters" => describe_clusters(w, req),
        "ListTasks" => list_tasks(w, req),
        "DescribeTasks" => describe_tasks(w, req),
        "RunTask" => run_task(w, req),
        "StopTask" => stop_task(w, req),
        "ListServiceDeployments" => crate::deployments::list(w, req),
        "DescribeServiceDeployments" => crate::deployments::describe(w, req),
        "DescribeServiceRevisions" => crate::deployments::describe_revisions(w, req),
        "StopServiceDeployment" => crate::deployments::stop(w, req),
        "ContinueServiceDeployment" => crate::deployments::continue_deployment(w, req),
        _ => Err(ApiError::unknown_operation(op)),
    }
}

pub(crate) fn invalid(message: impl Into<String>) -> ApiError {
    ApiError::new(400, "InvalidParameterException", message)
}

fn client(message: impl Into<String>) -> ApiError {
    ApiError::new(400, "ClientException", message)
}

pub(crate) fn str_field<'a>(req: &'a Value, name: &str) -> Result<Option<&'a str>, ApiError> {
    match &req[name] {
        Value::Null => Ok(None),
        Value::String(s) => Ok(Some(s)),
        _ => Err(ApiError::serialization(format!(
            "STRING_VALUE can not be converted to {name}"
        ))),
    }
}

fn required<'a>(req: &'a Value, name: &str) -> Result<&'a str, ApiError> {
    match str_field(req, name)? {
        Some(s) if !s.is_empty() => Ok(s),
        _ => Err(invalid(format!("{name} must be specified."))),
    }
}

/// The request's cluster (name or ARN; `default` when absent) must be ours.
pub(crate) fn check_cluster(req: &Value) -> Result<(), ApiError> {
    let cluster = str_field(req, "cluster")?.unwrap_or("default");
    let name = cluster.rsplit_once(":cluster/").map_or(cluster, |(_, n)| n);
    if name == CLUSTER {
        Ok(())
    } else {
        Err(ApiError::new(
            400,
            "ClusterNotFoundException",
            "Cluster not found.",
        ))
    }
}

pub(crate) fn is_our_service(name: &str) -> bool {
    let name = name.rsplit('/').next().unwrap_or(name);
    name == SERVICE
}

pub fn service_json(w: &World) -> Value {
    let s = &w.service;
    let network = json!({"awsvpcConfiguration": {
        "subnets": SUBNETS, "securityGroups": [SECURITY_GROUP], "assignPublicIp": "DISABLED"}});
    let deployments: Vec<Value> = s
        .deployments
        .iter()
        .map(|d| {
            let mine = w
                .tasks
                .iter()
                .filter(|t| t.deployment.as_deref() == Some(&d.id) && t.desired_running);
            let (mut running, mut pending) = (0, 0);
            for t in mine {
                match t.phase {
                    Phase::Running => running += 1,
                    Phase::Provisioning | Phase::Pending | Phase::Activating => pending += 1,
                    _ => {}
                }
            }
            json!({
                "id": d.id,
                "status": if d.primary { "PRIMARY" } else { "ACTIVE" },
                "taskDefinition": d.td_arn,
                "desiredCount": d.desired,
                "pendingCount": pending,
                "runningCount": running,
                "failedTasks": d.failed_tasks,
                "createdAt": epoch(d.created_at),
                "updatedAt": epoch(d.updated_at),
                "launchType": "FARGATE",
                "platformVersion": "1.4.0",
                "platformFamily": "Linux",
                "networkConfiguration": network,
                "rolloutState": d.rollout_state,
                "rolloutStateReason": d.rollout_reason,
            })
        })
        .collect();
    let running = w
        .tasks
        .iter()
        .filter(|t| t.deployment.is_some() && t.desired_running && t.phase == Phase::Running)
        .count();
    let pending = w
        .tasks
        .iter()
        .filter(|t| {
            t.deployment.is_some()
                && t.desired_running
                && matches!(t.phase, Phase::Provisioning | Phase::Pending)
        })
        .count();
    let primary_td = s
        .deployments
        .iter()
        .find(|d| d.primary)
        .map(|d| d.td_arn.clone())
        .unwrap_or_default();
    let mut events: Vec<&ServiceEvent> = s.events.iter().collect();
    events.sort_by_key(|e| std::cmp::Reverse(e.at));
    let events: Vec<Value> = events
        .into_iter()
        .take(100)
        .map(|e| json!({"id": e.id, "createdAt": epoch(e.at), "message": e.message}))
        .collect();
    json!({
        "serviceArn": service_arn(),
        "serviceName": SERVICE,
        "clusterArn": cluster_arn(),
        "loadBalancers": [{"targetGroupArn": TARGET_GROUP_ARN, "containerName": SERVICE_CONTAINER, "containerPort": CONTAINER_PORT}],
        "serviceRegistries": [],
        "status": "ACTIVE",
        "desiredCount": s.desired,
        "runningCount": running,
        "pendingCount": pending,
        "launchType": "FARGATE",
        "platformVersion": "LATEST",
        "platformFamily": "Linux",
        "taskDefinition": primary_td,
        "deploymentConfiguration": crate::deployments::configuration_json(
            &s.strategy,
            (s.circuit_breaker, s.rollback),
            s.maximum_percent,
            s.minimum_healthy_percent,
        ),
        "deployments": deployments,
        "roleArn": format!("arn:aws:iam::{ACCOUNT}:role/aws-service-role/ecs.amazonaws.com/AWSServiceRoleForECS"),
        "events": events,
        "createdAt": epoch(s.created_at),
        "placementConstraints": [],
        "placementStrategy": [],
        "networkConfiguration": network,
        "healthCheckGracePeriodSeconds": s.health_check_grace,
        "schedulingStrategy": "REPLICA",
        "deploymentController": {"type": "ECS"},
        "createdBy": format!("arn:aws:iam::{ACCOUNT}:role/startupwebapp-infrastructure"),
        "enableECSManagedTags": true,
        "propagateTags": "NONE",
        "enableExecuteCommand": false,
        "availabilityZoneRebalancing": "ENABLED"
    })
}

fn describe_services(w: &mut World, req: &Value) -> Result<Value, ApiError> {
    check_cluster(req)?;
    let Some(names) = req["services"].as_array() else {
        return Err(invalid("Services cannot be empty."));
    };
    if names.is_empty() {
        return Err(invalid("Services cannot be empty."));
    }
    if names.len() > 10 {
        return Err(invalid("Services cannot contain more than 10 elements."));
    }
    let mut services = Vec::new();
    let mut failures = Vec::new();
    for n in names {
        let name = n.as_str().unwrap_or_default();
        if is_our_service(name) {
            services.push(service_json(w));
        } else {
            let arn = if name.starts_with("arn:") {
                name.to_string()
            } else {
                format!("arn:aws:ecs:{REGION}:{ACCOUNT}:service/{CLUSTER}/{name}")
            };
            failures.push(json!({"arn": arn, "reason": "MISSING"}));
        }
    }
    Ok(json!({"services": services, "failures": failures}))
}

fn update_service(w: &mut World, req: &Value) -> Result<Value, ApiError> {
    check_cluster(req)?;
    let name = required(req, "service")?;
    if !is_our_service(name) {
        return Err(ApiError::new(
            400,
            "ServiceNotFoundException",
            "Service not found.",
        ));
    }
    let desired = match &req["desiredCount"] {
        Value::Null => None,
        v => match v.as_i64() {
            Some(n) if (0..=MAX_TASKS_PER_SERVICE).contains(&n) => Some(n),
            Some(n) if n > MAX_TASKS_PER_SERVICE => {
                return Err(invalid(format!(
                    "The desired count of {n} is greater than the maximum of {MAX_TASKS_PER_SERVICE} tasks per service."
                )));
            }
            _ => return Err(invalid("desiredCount must be a non-negative integer.")),
        },
    };
    let td_arn = match str_field(req, "taskDefinition")? {
        Some(reference) => {
            let td = w
                .find_task_definition(reference)
                .ok_or_else(|| invalid("TaskDefinition not found."))?;
            if !td.active {
                return Err(invalid(format!("TaskDefinition is inactive ({})", td.arn)));
            }
            if td.body["requiresCompatibilities"]
                .as_array()
                .is_some_and(|a| !a.iter().any(|c| c == "FARGATE"))
                || td.body["networkMode"] != "awsvpc"
            {
                return Err(invalid(
                    "Task definition does not support launch_type FARGATE.",
                ));
            }
            check_load_balancer(td)?;
            Some(td.arn.clone())
        }
        None => None,
    };
    let force = req["forceNewDeployment"].as_bool().unwrap_or(false);
    let strategy = match req.get("deploymentConfiguration").filter(|v| v.is_object()) {
        Some(cfg) => strategy::parse(cfg, &w.service.strategy)?,
        None => w.service.strategy.clone(),
    };
    if let Some(cfg) = req.get("deploymentConfiguration").filter(|v| v.is_object()) {
        if let Some(cb) = cfg
            .get("deploymentCircuitBreaker")
            .filter(|v| v.is_object())
        {
            w.service.circuit_breaker = cb["enable"].as_bool().unwrap_or(false);
            w.service.rollback = cb["rollback"].as_bool().unwrap_or(false);
        }
        if let Some(n) = cfg["maximumPercent"].as_i64() {
            w.service.maximum_percent = n;
        }
        if let Some(n) = cfg["minimumHealthyPercent"].as_i64() {
            w.service.minimum_healthy_percent = n;
        }
        w.service.strategy = strategy;
    }
    if let Some(n) = req["healthCheckGracePeriodSeconds"].as_i64() {
        w.service.health_check_grace = n;
    }
    let now = w.clock.now();
    if let Some(n) = desired {
        w.service.desired = n;
        for d in &mut w.service.deployments {
            if d.primary {
                d.desired = n;
                d.updated_at = now;
            }
        }
        w.event(now, "desired-count-changed", n.to_string());
    }
    let current = w
        .service
        .deployments
        .iter()
        .find(|d| d.primary)
        .map(|d| d.td_arn.clone())
        .unwrap_or_default();
    let new_td = td_arn.unwrap_or_else(|| current.clone());
    if force || new_td != current {
        w.new_deployment(&new_td, now);
    }
    w.advance();
    Ok(json!({"service": service_json(w)}))
}

/// The service's load balancer needs its container and port in every revision it deploys.
fn check_load_balancer(td: &TaskDefinition) -> Result<(), ApiError> {
    let containers = td.containers();
    let Some(container) = containers.iter().find(|c| c["name"] == SERVICE_CONTAINER) else {
        return Err(invalid(format!(
            "The container {SERVICE_CONTAINER} does not exist in the task definition."
        )));
    };
    let has_port = container["portMappings"]
        .as_array()
        .is_some_and(|ports| ports.iter().any(|p| p["containerPort"] == CONTAINER_PORT));
    if !has_port {
        return Err(invalid(format!(
            "The container {SERVICE_CONTAINER} did not have a container port {CONTAINER_PORT} defined."
        )));
    }
    Ok(())
}

fn task_definition_response(td: &TaskDefinition, with_tags: bool) -> Value {
    let mut out = json!({"taskDefinition": td.body});
    if with_tags {
        out["tags"] = td.tags.clone();
    }
    out
}

fn describe_task_definition(w: &mut World, req: &Value) -> Result<Value, ApiError> {
    let reference = required(req, "taskDefinition")?;
    let with_tags = req["include"]
        .as_array()
        .is_some_and(|a| a.iter().any(|v| v == "TAGS"));
    match w.find_task_definition(reference) {
        Some(td) => Ok(task_definition_response(td, with_tags)),
        None => Err(client("Unable to describe task definition.")),
    }
}

const REGISTER_FIELDS: &[&str] = &[
    "family",
    "taskRoleArn",
    "executionRoleArn",
    "networkMode",
    "containerDefinitions",
    "volumes",
    "placementConstraints",
    "requiresCompatibilities",
    "cpu",
    "memory",
    "pidMode",
    "ipcMode",
    "proxyConfiguration",
    "inferenceAccelerators",
    "ephemeralStorage",
    "runtimePlatform",
    "enableFaultInjection",
];

fn register_task_definition(w: &mut World, req: &Value) -> Result<Value, ApiError> {
    let family = required(req, "family")?;
    if family.len() > 255
        || !family
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
    {
        return Err(client(
            "Family contains invalid characters. Up to 255 letters (uppercase and lowercase), numbers, underscores, and hyphens are allowed.",
        ));
    }
    let containers = req["containerDefinitions"]
        .as_array()
        .filter(|a| !a.is_empty())
        .ok_or_else(|| client("Container list cannot be empty."))?;
    for c in containers {
        if c["name"].as_str().is_none_or(str::is_empty) {
            return Err(client("Container.name should not be null or empty."));
        }
        if c["image"].as_str().is_none_or(str::is_empty) {
            return Err(client("Container.image should not be null or empty."));
        }
    }
    let fargate = req["requiresCompatibilities"]
        .as_array()
        .is_some_and(|a| a.iter().any(|c| c == "FARGATE"));
    if fargate {
        if req["networkMode"] != "awsvpc" {
            return Err(client("Fargate only supports network mode 'awsvpc'."));
        }
        if req["cpu"].is_null() || req["memory"].is_null() {
            return Err(client(
                "Fargate requires that 'cpu' be defined at the task level.",
            ));
        }
    }
    let mut body = serde_json::Map::new();
    for key in REGISTER_FIELDS {
        if let Some(v) = req.get(*key).filter(|v| !v.is_null()) {
            body.insert((*key).to_string(), v.clone());
        }
    }
    let tags = req.get("tags").cloned().unwrap_or(json!([]));
    let now = w.clock.now();
    let td = w.insert_task_definition(Value::Object(body), tags.clone(), now, true);
    w.event(now, "task-definition-registered", td.arn.clone());
    let mut out = task_definition_response(&td, false);
    out["tags"] = tags;
    Ok(out)
}

fn deregister_task_definition(w: &mut World, req: &Value) -> Result<Value, ApiError> {
    let reference = required(req, "taskDefinition")?;
    if !reference.contains(':') {
        return Err(client("Invalid revision number. Number: "));
    }
    let (family, revision) = split_td_arn(reference);
    let Some(td) = w
        .task_definitions
        .get_mut(&family)
        .and_then(|v| v.iter_mut().find(|t| t.revision == revision))
    else {
        return Err(client("The specified task definition does not exist."));
    };
    td.active = false;
    td.body["status"] = json!("INACTIVE");
    Ok(json!({"taskDefinition": td.body}))
}

fn list_task_definitions(w: &mut World, req: &Value) -> Result<Value, ApiError> {
    let prefix = str_field(req, "familyPrefix")?;
    let status = str_field(req, "status")?.unwrap_or("ACTIVE");
    let desc = str_field(req, "sort")? == Some("DESC");
    let mut arns: Vec<String> = w
        .task_definitions
        .values()
        .flatten()
        .filter(|t| prefix.is_none_or(|p| t.family.starts_with(p)))
        .filter(|t| t.active == (status == "ACTIVE"))
        .map(|t| t.arn.clone())
        .collect();
    if desc {
        arns.reverse();
    }
    Ok(json!({"taskDefinitionArns": arns}))
}

fn list_services(_w: &mut World, req: &Value) -> Result<Value, ApiError> {
    check_cluster(req)?;
    Ok(json!({"serviceArns": [service_arn()]}))
}

fn describe_clusters(w: &mut World, req: &Value) -> Result<Value, ApiError> {
    let names: Vec<String> = req["clusters"]
        .as_array()
        .map(|a| {
            a.iter()
                .filter_map(|v| v.as_str().map(String::from))
                .collect()
        })
        .unwrap_or_else(|| vec!["default".into()]);
    let running = w.tasks.iter().filter(|t| t.phase == Phase::Running).count();
    let pending = w
        .tasks
        .iter()
        .filter(|t| matches!(t.phase, Phase::Provisioning | Phase::Pending))
        .count();
    let mut clusters = Vec::new();
    let mut failures = Vec::new();
    for n in names {
        let name = n.rsplit_once(":cluster/").map_or(n.as_str(), |(_, x)| x);
        if name == CLUSTER {
            clusters.push(json!({
                "clusterArn": cluster_arn(), "clusterName": CLUSTER, "status": "ACTIVE",
                "registeredContainerInstancesCount": 0, "runningTasksCount": running,
                "pendingTasksCount": pending, "activeServicesCount": 1,
                "capacityProviders": ["FARGATE", "FARGATE_SPOT"]
            }));
        } else {
            failures.push(json!({"arn": format!("arn:aws:ecs:{REGION}:{ACCOUNT}:cluster/{name}"), "reason": "MISSING"}));
        }
    }
    Ok(json!({"clusters": clusters, "failures": failures}))
}

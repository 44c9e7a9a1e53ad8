//! ECS tasks: ListTasks, DescribeTasks, RunTask and StopTask.

use serde_json::{Value, json};

use super::{check_cluster, client, invalid, is_our_service, required, str_field};
use crate::api::ApiError;
use crate::world::*;

pub(super) fn list_tasks(w: &mut World, req: &Value) -> Result<Value, ApiError> {
    check_cluster(req)?;
    let service = str_field(req, "serviceName")?;
    if let Some(s) = service
        && !is_our_service(s)
    {
        return Err(ApiError::new(
            400,
            "ServiceNotFoundException",
            "Service not found.",
        ));
    }
    let family = str_field(req, "family")?;
    let started_by = str_field(req, "startedBy")?;
    let desired = str_field(req, "desiredStatus")?.unwrap_or("RUNNING");
    if !matches!(desired, "RUNNING" | "PENDING" | "STOPPED") {
        return Err(invalid(format!(
            "1 validation error detected: Value '{desired}' at 'desiredStatus' failed to satisfy constraint: Member must satisfy enum value set: [PENDING, STOPPED, RUNNING]"
        )));
    }
    let want_running = desired != "STOPPED";
    let max = req["maxResults"].as_u64().unwrap_or(100).clamp(1, 100) as usize;
    let start: usize = str_field(req, "nextToken")?
        .and_then(|t| t.parse().ok())
        .unwrap_or(0);
    let all: Vec<String> = w
        .tasks
        .iter()
        .filter(|t| t.desired_running == want_running)
        .filter(|t| service.is_none() || t.deployment.is_some())
        .filter(|t| family.is_none_or(|f| t.family == f))
        .filter(|t| started_by.is_none_or(|s| t.started_by.as_deref() == Some(s)))
        .map(|t| t.arn.clone())
        .collect();
    let page: Vec<&String> = all.iter().skip(start).take(max).collect();
    let mut out = json!({"taskArns": page});
    if start + max < all.len() {
        out["nextToken"] = json!((start + max).to_string());
    }
    Ok(out)
}

pub fn task_json(t: &Task) -> Value {
    let stopped = t.phase == Phase::Stopped;
    let attachment_status = match t.phase {
        Phase::Provisioning => "PRECREATED",
        Phase::Stopped => "DELETED",
        Phase::Deprovisioning => "DELETING",
        _ => "ATTACHED",
    };
    let containers: Vec<Value> = t
        .containers
        .iter()
        .map(|c| {
            let last = match t.phase {
                Phase::Provisioning | Phase::Pending | Phase::Activating => "PENDING",
                Phase::Running | Phase::Deactivating => {
                    if c.exit_code.is_some() {
                        "STOPPED"
                    } else {
                        "RUNNING"
                    }
                }
                _ => "STOPPED",
            };
            let mut v = json!({
                "containerArn": c.arn,
                "taskArn": t.arn,
                "name": c.name,
                "image": c.image,
                "lastStatus": last,
                "networkBindings": [],
                "networkInterfaces": [{"attachmentId": t.attachment_id, "privateIpv4Address": t.ip}],
                "healthStatus": "UNKNOWN",
                "cpu": "0",
            });
            if t.started_at.is_some() {
                v["imageDigest"] = json!(format!("sha256:{}", sha256_hex(c.image.as_bytes())));
                v["runtimeId"] = json!(c.runtime_id);
            }
            if matches!(t.phase, Phase::Stopping | Phase::Deprovisioning | Phase::Stopped)
                || c.exit_code.is_some()
            {
                if let Some(code) = c.exit_code {
                    v["exitCode"] = json!(code);
                }
                if let Some(r) = &c.reason {
                    v["reason"] = json!(r);
                }
            }
            v
        })
        .collect();
    let mut v = json!({
        "attachments": [{
            "id": t.attachment_id,
            "type": "ElasticNetworkInterface",
            "status": attachment_status,
            "details": [
                {"name": "subnetId", "value": t.subnet},
                {"name": "networkInterfaceId", "value": t.eni},
                {"name": "macAddress", "value": format!("0e:{}:{}:{}:{}:{}", &t.id[0..2], &t.id[2..4], &t.id[4..6], &t.id[6..8], &t.id[8..10])},
                {"name": "privateDnsName", "value": format!("ip-{}.ec2.internal", t.ip.replace('.', "-"))},
                {"name": "privateIPv4Address", "value": t.ip}
            ]
        }],
        "attributes": [{"name": "ecs.cpu-architecture", "value": "x86_64"}],
        "availabilityZone": t.az,
        "clusterArn": cluster_arn(),
        "containers": containers,
        "cpu": t.cpu,
        "memory": t.memory,
        "createdAt": epoch(t.created_at),
        "desiredStatus": if t.desired_running { "RUNNING" } else { "STOPPED" },
        "enableExecuteCommand": false,
        "group": t.group,
        "healthStatus": "UNKNOWN",
        "lastStatus": t.phase.as_str(),
        "launchType": "FARGATE",
        "overrides": t.overrides,
        "platformVersion": "1.4.0",
        "platformFamily": "Linux",
        "tags": [],
        "taskArn": t.arn,
        "taskDefinitionArn": t.td_arn,
        "version": t.version,
        "ephemeralStorage": {"sizeInGiB": 20}
    });
    if let Some(s) = &t.started_by {
        v["startedBy"] = json!(s);
    }
    if t.phase != Phase::Provisioning {
        v["connectivity"] = json!("CONNECTED");
        v["connectivityAt"] = epoch(t.created_at + 3000);
    }
    let times = [
        (
            "pullStartedAt",
            t.pull_started_at.filter(|_| t.phase != Phase::Provisioning),
        ),
        (
            "pullStoppedAt",
            t.pull_stopped_at.filter(|_| t.started_at.is_some()),
        ),
        ("startedAt", t.started_at),
        ("stoppingAt", t.stopping_at),
        (
            "executionStoppedAt",
            t.execution_stopped_at.filter(|_| {
                matches!(
                    t.phase,
                    Phase::Stopping | Phase::Deprovisioning | Phase::Stopped
                )
            }),
        ),
        ("stoppedAt", t.stopped_at.filter(|_| stopped)),
    ];
    for (name, at) in times {
        if let Some(at) = at {
            v[name] = epoch(at);
        }
    }
    if let Some(c) = &t.stop_code {
        v["stopCode"] = json!(c);
    }
    if let Some(r) = &t.stopped_reason {
        v["stoppedReason"] = json!(r);
    }
    v
}

fn find_task(w: &World, reference: &str) -> Option<usize> {
    let id = reference.rsplit('/').next().unwrap_or(reference);
    w.tasks.iter().position(|t| t.id == id)
}

pub(super) fn describe_tasks(w: &mut World, req: &Value) -> Result<Value, ApiError> {
    check_cluster(req)?;
    let Some(refs) = req["tasks"].as_array().filter(|a| !a.is_empty()) else {
        return Err(invalid("Tasks cannot be empty."));
    };
    if refs.len() > 100 {
        return Err(invalid("Tasks cannot have more than 100 elements."));
    }
    let mut tasks = Vec::new();
    let mut failures = Vec::new();
    for r in refs {
        let r = r.as_str().unwrap_or_default();
        match find_task(w, r) {
            Some(i) => tasks.push(task_json(&w.tasks[i])),
            None => {
                let arn = if r.starts_with("arn:") {
                    r.to_string()
                } else {
                    task_arn(r)
                };
                failures.push(json!({"arn": arn, "reason": "MISSING"}));
            }
        }
    }
    Ok(json!({"tasks": tasks, "failures": failures}))
}

pub(super) fn run_task(w: &mut World, req: &Value) -> Result<Value, ApiError> {
    check_cluster(req)?;
    let reference = required(req, "taskDefinition")?;
    let Some(td) = w.find_task_definition(reference).cloned() else {
        return Err(client(format!(
            "Unable to find task definition '{reference}' in account {ACCOUNT}"
        )));
    };
    if !td.active {
        return Err(client(format!("TaskDefinition is inactive ({})", td.arn)));
    }
    let count = req["count"].as_i64().unwrap_or(1);
    if !(1..=10).contains(&count) {
        return Err(invalid("Count must be between 1 and 10."));
    }
    if td.body["networkMode"] == "awsvpc" {
        let cfg = &req["networkConfiguration"]["awsvpcConfiguration"];
        if cfg.is_null() {
            return Err(invalid(
                "Network Configuration must be provided when networkMode 'awsvpc' is specified.",
            ));
        }
        let subnets = cfg["subnets"].as_array().cloned().unwrap_or_default();
        if subnets.is_empty() {
            return Err(invalid("subnets can not be empty."));
        }
        for s in &subnets {
            let s = s.as_str().unwrap_or_default();
            if !SUBNETS.contains(&s) {
                return Err(invalid(format!(
                    "Error retrieving subnet information for [{s}]: The subnet ID '{s}' does not exist (ErrorCode: InvalidSubnetID.NotFound)"
                )));
            }
        }
        for g in cfg["securityGroups"]
            .as_array()
            .cloned()
            .unwrap_or_default()
        {
            let g = g.as_str().unwrap_or_default();
            if g != SECURITY_GROUP {
                return Err(invalid(format!(
                    "Error retrieving security group information for [{g}]: The security group '{g}' does not exist (ErrorCode: InvalidGroup.NotFound)"
                )));
            }
        }
    }
    let overrides = req.get("overrides").cloned().unwrap_or(Value::Null);
    let container_names: Vec<String> = td
        .containers()
        .iter()
        .filter_map(|c| c["name"].as_str().map(String::from))
        .collect();
    if let Some(list) = overrides["containerOverrides"].as_array() {
        for o in list {
            let name = o["name"].as_str().unwrap_or_default();
            if !container_names.iter().any(|n| n == name) {
                return Err(invalid(format!(
                    "Override for container named {name} is not a container in the TaskDefinition."
                )));
            }
        }
    }
    w.run_tasks_seen += 1;
    if w.scenario.no_capacity && w.run_tasks_seen <= 2 {
        let failures: Vec<Value> = (0..count)
            .map(|_| json!({"arn": format!("arn:aws:ecs:{REGION}:{ACCOUNT}:container-instance/{CLUSTER}"), "reason": "Capacity is unavailable at this time. Please try again later or in a different availability zone"}))
            .collect();
        return Ok(json!({"tasks": [], "failures": failures}));
    }
    let started_by = str_field(req, "startedBy")?.map(String::from);
    let group = str_field(req, "group")?.map(String::from);
    let now = w.clock.now();
    let mut tasks = Vec::new();
    for _ in 0..count {
        let i = w.create_task(&td.family, td.revision, None, started_by.clone(), now);
        if i == usize::MAX {
            continue;
        }
        let essential = td.essential_container();
        let essential_name = essential["name"].as_str().unwrap_or_default().to_string();
        let t = &mut w.tasks[i];
        if let Some(g) = &group {
            t.group = g.clone();
        }
        let mut list: Vec<Value> = container_names.iter().map(|n| json!({"name": n})).collect();
        if let Some(given) = overrides["containerOverrides"].as_array() {
            for o in given {
                if let Some(slot) = list.iter_mut().find(|v| v["name"] == o["name"]) {
                    *slot = o.clone();
                }
                if o["name"] == essential_name.as_str()
                    && let Some(cmd) = o["command"].as_array()
                {
                    t.command = cmd
                        .iter()
                        .filter_map(|s| s.as_str().map(String::from))
                        .collect();
                }
            }
        }
        let mut ov = json!({"containerOverrides": list, "inferenceAcceleratorOverrides": []});
        for key in [
            "cpu",
            "memory",
            "taskRoleArn",
            "executionRoleArn",
            "ephemeralStorage",
        ] {
            if let Some(v) = overrides.get(key) {
                ov[key] = v.clone();
            }
        }
        t.overrides = ov;
        let id = t.id.clone();
        let command = t.command.join(" ");
        w.event(now, "task-run", format!("{id} {} {command}", td.arn));
        tasks.push(task_json(&w.tasks[i]));
    }
    Ok(json!({"tasks": tasks, "failures": []}))
}

pub(super) fn stop_task(w: &mut World, req: &Value) -> Result<Value, ApiError> {
    check_cluster(req)?;
    let reference = required(req, "task")?;
    let Some(i) = find_task(w, reference) else {
        return Err(invalid("The referenced task was not found."));
    };
    let reason = str_field(req, "reason")?
        .filter(|r| !r.is_empty())
        .unwrap_or("Task stopped by user")
        .to_string();
    let now = w.clock.now();
    w.begin_stop(i, now, "UserInitiated", &reason, Some(143));
    let id = w.tasks[i].id.clone();
    w.event(now, "task-stop-requested", id);
    Ok(json!({"task": task_json(&w.tasks[i])}))
}

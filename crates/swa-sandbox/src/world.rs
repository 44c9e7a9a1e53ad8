//! The sandbox's world: the production names, the scenarios, the virtual clock and the rollout
//! physics of the service, its tasks, the target group and the one-off tasks.

use std::collections::BTreeMap;
use std::time::{Instant, SystemTime, UNIX_EPOCH};

use serde_json::{Value, json};
use sha2::{Digest, Sha256};

use crate::{Call, Event};

pub const REGION: &str = "us-east-1";
pub const ACCOUNT: &str = "123456789012";
pub const CLUSTER: &str = "startupwebapp-cluster";
pub const SERVICE: &str = "startupwebapp-service";
pub const SERVICE_FAMILY: &str = "startupwebapp-service-task";
pub const MIGRATION_FAMILY: &str = "startupwebapp-migration-task";
pub const SERVICE_CONTAINER: &str = "startupwebapp";
pub const MIGRATION_CONTAINER: &str = "migration";
pub const REPOSITORY: &str = "startupwebapp";
pub const TARGET_GROUP_ARN: &str = "arn:aws:elasticloadbalancing:us-east-1:123456789012:targetgroup/startupwebapp-tg/0123456789abcdef";
pub const LOAD_BALANCER_ARN: &str = "arn:aws:elasticloadbalancing:us-east-1:123456789012:loadbalancer/app/startupwebapp-alb/0fedcba987654321";
pub const SUBNETS: [&str; 2] = ["subnet-0a1b2c3d4e5f60001", "subnet-0a1b2c3d4e5f60002"];
pub const SECURITY_GROUP: &str = "sg-0a1b2c3d4e5f60003";
pub const VPC: &str = "vpc-0a1b2c3d4e5f60000";
pub const SERVICE_LOG_GROUP: &str = "/ecs/startupwebapp-service";
pub const MIGRATION_LOG_GROUP: &str = "/ecs/startupwebapp-migrations";
pub const STREAM_PREFIX: &str = "ecs";
pub const CONTAINER_PORT: i64 = 8000;
pub const DEREGISTRATION_DELAY_SECONDS: i64 = 300;
pub const EXECUTION_ROLE: &str =
    "arn:aws:iam::123456789012:role/ecsTaskExecutionRole-startupwebapp";
pub const TASK_ROLE: &str = "arn:aws:iam::123456789012:role/ecsTaskRole-startupwebapp";
pub const REGISTRY: &str = "123456789012.dkr.ecr.us-east-1.amazonaws.com";

pub fn cluster_arn() -> String {
    format!("arn:aws:ecs:{REGION}:{ACCOUNT}:cluster/{CLUSTER}")
}
pub fn service_arn() -> String {
    format!("arn:aws:ecs:{REGION}:{ACCOUNT}:service/{CLUSTER}/{SERVICE}")
}
pub fn task_definition_arn(family: &str, revision: u32) -> String {
    format!("arn:aws:ecs:{REGION}:{ACCOUNT}:task-definition/{family}:{revision}")
}
pub fn task_arn(id: &str) -> String {
    format!("arn:aws:ecs:{REGION}:{ACCOUNT}:task/{CLUSTER}/{id}")
}

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

pub fn sha256_hex(data: &[u8]) -> String {
    hex::encode(Sha256::digest(data))
}

const SECOND: i64 = 1000;
const DAY: i64 = 86_400 * SECOND;

#[derive(Clone, Debug)]
pub struct TaskDefinition {
    pub family: String,
    pub revision: u32,
    pub arn: String,
    /// The `taskDefinition` object as DescribeTaskDefinition returns it.
    pub body: Value,
    pub tags: Value,
    pub registered_at: i64,
    /// Registered after the sandbox started: the failing scenarios apply to it.
    pub new: bool,
    pub active: bool,
}

impl TaskDefinition {
    pub fn containers(&self) -> Vec<Value> {
        self.body["containerDefinitions"]
            .as_array()
            .cloned()
            .unwrap_or_default()
    }
    pub fn essential_container(&self) -> Value {
        let containers = self.containers();
        containers
            .iter()
            .find(|c| c["essential"].as_bool() != Some(false))
            .or(containers.first())
            .cloned()
            .unwrap_or(Value::Null)
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Phase {
    Provisioning,
    Pending,
    Activating,
    Running,
    Deactivating,
    Stopping,
    Deprovisioning,
    Stopped,
}

impl Phase {
    pub fn as_str(self) -> &'static str {
        match self {
            Phase::Provisioning => "PROVISIONING",
            Phase::Pending => "PENDING",
            Phase::Activating => "ACTIVATING",
            Phase::Running => "RUNNING",
            Phase::Deactivating => "DEACTIVATING",
            Phase::Stopping => "STOPPING",
            Phase::Deprovisioning => "DEPROVISIONING",
            Phase::Stopped => "STOPPED",
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Behaviour {
    /// Serves and passes health checks.
    Healthy,
    /// Reaches RUNNING, then its essential container exits 1.
    Crash,
    /// Runs, but the target group's health checks fail.
    Unhealthy,
    /// A one-off task that runs a script and exits with its code.
    Script,
    /// A one-off task whose image cannot be pulled: it stops before its container starts.
    NoStart,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum TargetState {
    Initial,
    Healthy,
    Unhealthy { reason: String, description: String },
    Draining,
}

#[derive(Clone, Debug)]
pub enum Step {
    ToPending,
    ToRunning,
    TargetHealthy,
    TargetUnhealthy,
    ElbFail,
    Exit(i32),
    /// The image pull gave up: the task stops without its container having started.
    FailToStart,
    /// The deregistration delay is over: the task stops, its essential container with this code.
    DrainDone(i32),
    ToDeprovisioning,
    ToStopped,
    Log(String),
}

#[derive(Clone, Debug)]
pub struct Container {
    pub name: String,
    pub image: String,
    pub essential: bool,
    pub exit_code: Option<i32>,
    pub reason: Option<String>,
    pub runtime_id: String,
    pub arn: String,
}

#[derive(Clone, Debug)]
pub struct Task {
    pub id: String,
    pub arn: String,
    pub td_arn: String,
    pub family: String,
    pub revision: u32,
    pub cpu: String,
    pub memory: String,
    pub started_by: Option<String>,
    pub group: String,
    pub deployment: Option<String>,
    pub behaviour: Behaviour,
    pub phase: Phase,
    pub desired_running: bool,
    pub created_at: i64,
    pub pull_started_at: Option<i64>,
    pub pull_stopped_at: Option<i64>,
    pub started_at: Option<i64>,
    pub stopping_at: Option<i64>,
    pub execution_stopped_at: Option<i64>,
    pub stopped_at: Option<i64>,
    pub stop_code: Option<String>,
    pub stopped_reason: Option<String>,
    pub containers: Vec<Container>,
    pub ip: String,
    pub eni: String,
    pub subnet: String,
    pub attachment_id: String,
    pub az: String,
    pub target: Option<TargetState>,
    pub agenda: Vec<(i64, Step)>,
    pub log_group: String,
    pub log_stream: String,
    pub overrides: Value,
    pub command: Vec<String>,
    pub slow: i64,
    pub version: i64,
}

impl Task {
    fn plan(&mut self, at: i64, step: Step) {
        let pos = self.agenda.partition_point(|(t, _)| *t <= at);
        self.agenda.insert(pos, (at, step));
    }
    pub fn is_live(&self) -> bool {
        self.desired_running && self.phase != Phase::Stopped
    }
    pub fn healthy_target(&self) -> bool {
        self.desired_running && self.target == Some(TargetState::Healthy)
    }
}

#[derive(Clone, Debug)]
pub struct Deployment {
    pub id: String,
    pub primary: bool,
    pub td_arn: String,
    pub desired: i64,
    pub failed_tasks: i64,
    pub created_at: i64,
    pub updated_at: i64,
    pub rollout_state: String,
    pub rollout_reason: String,
}

#[derive(Clone, Debug)]
pub struct ServiceEvent {
    pub id: String,
    pub at: i64,
    pub message: String,
}

#[derive(Clone, Debug)]
pub struct Service {
    pub desired: i64,
    pub deployments: Vec<Deployment>,
    pub events: Vec<ServiceEvent>,
    pub created_at: i64,
    pub circuit_breaker: bool,
    pub rollback: bool,
    pub maximum_percent: i64,
    pub minimum_healthy_percent: i64,
    pub health_check_grace: i64,
    pub last_completed: (String, String),
    pub steady_reported: bool,
}

#[derive(Clone, Debug)]
pub struct LogEvent {
    pub timestamp: i64,
    pub ingestion: i64,
    pub message: String,
}

#[derive(Clone, Debug, Default)]
pub struct LogStream {
    pub created_at: i64,
    pub events: Vec<LogEvent>,
}

#[derive(Clone, Debug)]
pub struct Image {
    pub digest: String,
    pub tags: Vec<String>,
    pub manifest: String,
    pub media_type: String,
    pub pushed_at: i64,
    pub size: i64,
}

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
    pub buckets: BTreeMap<String, BTreeMap<String, crate::s3::Object>>,
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
    pub history: crate::deployments::History,
}

pub fn service_behaviour(scenario: &Scenario, new: bool) -> Behaviour {
    if new && scenario.crash_loop {
        Behaviour::Crash
    } else if new && scenario.unhealthy_targets {
        Behaviour::Unhealthy
    } else {
        Behaviour::Healthy
    }
}

pub fn circuit_breaker_threshold(desired: i64) -> i64 {
    ((desired + 1) / 2).clamp(3, 200)
}

impl World {
    pub fn new(scenario: Scenario, speed: f64) -> World {
        let clock = Clock::new(speed);
        let start = clock.now();
        let mut world = World {
            clock,
            scenario,
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
                health_check_grace: 60,
                last_completed: (String::new(), String::new()),
                steady_reported: true,
            },
            tasks: Vec::new(),
            logs: BTreeMap::new(),
            images: Vec::new(),
            runs: Vec::new(),
            buckets: BTreeMap::from([(crate::s3::FRONTEND_BUCKET.to_string(), BTreeMap::new())]),
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
        };
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

    fn seed(&mut self, start: i64) {
        for revision in 1..=3u32 {
            let at = start - (4 - revision as i64) * 7 * DAY;
            let image = format!("{REGISTRY}/{REPOSITORY}:release-{revision}");
            let service_body = json!({
                "family": SERVICE_FAMILY,
                "taskRoleArn": TASK_ROLE,
                "executionRoleArn": EXECUTION_ROLE,
                "networkMode": "awsvpc",
                "containerDefinitions": [{
                    "name": SERVICE_CONTAINER,
                    "image": image,
                    "cpu": 0,
                    "portMappings": [{"containerPort": CONTAINER_PORT, "hostPort": CONTAINER_PORT, "protocol": "tcp", "name": "http", "appProtocol": "http"}],
                    "essential": true,
                    "command": ["gunicorn", "StartupWebApp.wsgi:application", "--bind", "0.0.0.0:8000", "--workers", "3"],
                    "environment": [
                        {"name": "DJANGO_SETTINGS_MODULE", "value": "StartupWebApp.settings_production"},
                        {"name": "AWS_REGION", "value": REGION}
                    ],
                    "secrets": [
                        {"name": "DATABASE_PASSWORD", "valueFrom": "arn:aws:secretsmanager:us-east-1:123456789012:secret:startupwebapp/database-AbCdEf:password::"}
                    ],
                    "mountPoints": [],
                    "volumesFrom": [],
                    "logConfiguration": {"logDriver": "awslogs", "options": {
                        "awslogs-group": SERVICE_LOG_GROUP, "awslogs-region": REGION, "awslogs-stream-prefix": STREAM_PREFIX}},
                    "systemControls": []
                }],
                "volumes": [],
                "placementConstraints": [],
                "requiresCompatibilities": ["FARGATE"],
                "cpu": "512",
                "memory": "1024",
                "runtimePlatform": {"cpuArchitecture": "X86_64", "operatingSystemFamily": "LINUX"}
            });
            self.insert_task_definition(service_body, json!([]), at, false);
            let migration_body = json!({
                "family": MIGRATION_FAMILY,
                "taskRoleArn": TASK_ROLE,
                "executionRoleArn": EXECUTION_ROLE,
                "networkMode": "awsvpc",
                "containerDefinitions": [{
                    "name": MIGRATION_CONTAINER,
                    "image": format!("{REGISTRY}/{REPOSITORY}:release-{revision}"),
                    "cpu": 0,
                    "portMappings": [],
                    "essential": true,
                    "command": ["python", "manage.py", "migrate", "--noinput"],
                    "environment": [
                        {"name": "DJANGO_SETTINGS_MODULE", "value": "StartupWebApp.settings_production"}
                    ],
                    "secrets": [
                        {"name": "DATABASE_PASSWORD", "valueFrom": "arn:aws:secretsmanager:us-east-1:123456789012:secret:startupwebapp/database-AbCdEf:password::"}
                    ],
                    "mountPoints": [],
                    "volumesFrom": [],
                    "logConfiguration": {"logDriver": "awslogs", "options": {
                        "awslogs-group": MIGRATION_LOG_GROUP, "awslogs-region": REGION, "awslogs-stream-prefix": STREAM_PREFIX}},
                    "systemControls": []
                }],
                "volumes": [],
                "placementConstraints": [],
                "requiresCompatibilities": ["FARGATE"],
                "cpu": "256",
                "memory": "512",
                "runtimePlatform": {"cpuArchitecture": "X86_64", "operatingSystemFamily": "LINUX"}
            });
            self.insert_task_definition(migration_body, json!([]), at + 60 * SECOND, false);
        }
        self.logs.entry(SERVICE_LOG_GROUP.to_string()).or_default();
        self.logs
            .entry(MIGRATION_LOG_GROUP.to_string())
            .or_default();

        for n in 1..=4u32 {
            if self.scenario.image_missing && (n == 1 || n == 4) {
                continue;
            }
            let pushed = start - (5 - n as i64) * 7 * DAY + 3600 * SECOND;
            self.put_image_manifest(image_manifest(n), &format!("release-{n}"), pushed);
        }

        // Revision 2 ran before revision 3: its deployment completed, then revision 3's.
        let td3 = task_definition_arn(SERVICE_FAMILY, 3);
        let deployed_at = start - 2 * DAY;
        let id = format!("ecs-svc/{}", self.next_number(19));
        self.service.deployments.push(Deployment {
            id: id.clone(),
            primary: true,
            td_arn: td3.clone(),
            desired: 2,
            failed_tasks: 0,
            created_at: deployed_at,
            updated_at: deployed_at + 6 * 60 * SECOND,
            rollout_state: "COMPLETED".into(),
            rollout_reason: format!("ECS deployment {id} completed."),
        });
        self.service.last_completed = (id.clone(), td3);
        crate::deployments::seed(self, &id, deployed_at, deployed_at + 6 * 60 * SECOND);
        let mut started = Vec::new();
        for _ in 0..2 {
            let i = self.create_task(SERVICE_FAMILY, 3, Some(id.clone()), None, deployed_at);
            // Bring it to its steady state as of the deployment.
            self.tasks[i].agenda.clear();
            let t = &mut self.tasks[i];
            t.phase = Phase::Running;
            t.pull_started_at = Some(deployed_at + 4 * SECOND);
            t.pull_stopped_at = Some(deployed_at + 11 * SECOND);
            t.started_at = Some(deployed_at + 12 * SECOND);
            t.target = Some(TargetState::Healthy);
            t.version = 4;
            started.push(t.id.clone());
            let stream = t.log_stream.clone();
            let ts = deployed_at + 12 * SECOND;
            let lines = gunicorn_start_lines();
            let s = self
                .logs
                .entry(SERVICE_LOG_GROUP.to_string())
                .or_default()
                .entry(stream)
                .or_default();
            s.created_at = ts;
            for (k, line) in lines.into_iter().enumerate() {
                s.events.push(LogEvent {
                    timestamp: ts + k as i64 * 200,
                    ingestion: ts + k as i64 * 200 + 150,
                    message: line,
                });
            }
        }
        let tasks: String = started.iter().map(|t| format!(" (task {t})")).collect();
        self.service_event_at(
            deployed_at + 2 * SECOND,
            format!("(service {SERVICE}) has started 2 tasks:{tasks}."),
        );
        self.service_event_at(
            deployed_at + 40 * SECOND,
            format!(
                "(service {SERVICE}) registered 2 targets in (target-group {TARGET_GROUP_ARN})"
            ),
        );
        self.service_event_at(
            deployed_at + 6 * 60 * SECOND,
            format!("(service {SERVICE}) has reached a steady state."),
        );
    }

    pub fn insert_task_definition(
        &mut self,
        mut body: Value,
        tags: Value,
        at: i64,
        new: bool,
    ) -> TaskDefinition {
        let family = body["family"].as_str().unwrap_or_default().to_string();
        let revisions = self.task_definitions.entry(family.clone()).or_default();
        let revision = revisions.last().map_or(1, |t| t.revision + 1);
        let arn = task_definition_arn(&family, revision);
        if let Some(obj) = body.as_object_mut() {
            obj.insert("taskDefinitionArn".into(), json!(arn));
            obj.insert("revision".into(), json!(revision));
            obj.insert("status".into(), json!("ACTIVE"));
            obj.insert(
                "requiresAttributes".into(),
                json!([
                    {"name": "com.amazonaws.ecs.capability.logging-driver.awslogs"},
                    {"name": "ecs.capability.execution-role-awslogs"},
                    {"name": "com.amazonaws.ecs.capability.docker-remote-api.1.19"},
                    {"name": "ecs.capability.task-eni"}
                ]),
            );
            obj.insert("compatibilities".into(), json!(["EC2", "FARGATE"]));
            obj.insert("registeredAt".into(), epoch(at));
            obj.insert(
                "registeredBy".into(),
                json!(format!(
                    "arn:aws:sts::{ACCOUNT}:assumed-role/github-actions-deploy/GitHubActions"
                )),
            );
            obj.entry("volumes").or_insert(json!([]));
            obj.entry("placementConstraints").or_insert(json!([]));
            obj.entry("networkMode").or_insert(json!("bridge"));
        }
        let td = TaskDefinition {
            family,
            revision,
            arn,
            body,
            tags,
            registered_at: at,
            new,
            active: true,
        };
        revisions.push(td.clone());
        td
    }

    /// Finds a task definition from a family, `family:revision` or an ARN.
    pub fn find_task_definition(&self, reference: &str) -> Option<&TaskDefinition> {
        let name = reference
            .rsplit_once(":task-definition/")
            .map_or(reference, |(_, n)| n);
        if let Some((family, revision)) = name.rsplit_once(':') {
            let revision: u32 = revision.parse().ok()?;
            self.task_definitions
                .get(family)?
                .iter()
                .find(|t| t.revision == revision)
        } else {
            self.task_definitions
                .get(name)?
                .iter()
                .rev()
                .find(|t| t.active)
        }
    }

    pub fn put_image_manifest(&mut self, manifest: String, tag: &str, at: i64) -> Image {
        let digest = format!("sha256:{}", sha256_hex(manifest.as_bytes()));
        for image in &mut self.images {
            image.tags.retain(|t| t != tag);
        }
        let size = serde_json::from_str::<Value>(&manifest)
            .ok()
            .and_then(|m| {
                m["layers"].as_array().map(|ls| {
                    ls.iter()
                        .map(|l| l["size"].as_i64().unwrap_or(0))
                        .sum::<i64>()
                })
            })
            .unwrap_or(manifest.len() as i64);
        let media_type = serde_json::from_str::<Value>(&manifest)
            .ok()
            .and_then(|m| m["mediaType"].as_str().map(String::from))
            .unwrap_or_else(|| "application/vnd.docker.distribution.manifest.v2+json".into());
        if let Some(image) = self.images.iter_mut().find(|i| i.digest == digest) {
            if !tag.is_empty() {
                image.tags.push(tag.to_string());
            }
            return image.clone();
        }
        let image = Image {
            digest,
            tags: if tag.is_empty() {
                vec![]
            } else {
                vec![tag.to_string()]
            },
            manifest,
            media_type,
            pushed_at: at,
            size,
        };
        // A moved tag leaves the old image untagged, as ECR does.
        self.images.push(image.clone());
        image
    }

    pub fn service_event_at(&mut self, at: i64, message: String) {
        let id = format!(
            "{}-{}-{}-{}-{}",
            self.next_hex(8),
            self.next_hex(4),
            self.next_hex(4),
            self.next_hex(4),
            self.next_hex(12)
        );
        self.service.events.push(ServiceEvent { id, at, message });
    }

    pub fn event(&mut self, at: i64, kind: &str, detail: String) {
        self.timeline.push(Event {
            at_unix_ms: self.clock.wall_ms(at),
            kind: kind.to_string(),
            detail,
        });
    }

    /// Creates a task (PROVISIONING at `at`) and plans its life; returns its index.
    pub fn create_task(
        &mut self,
        family: &str,
        revision: u32,
        deployment: Option<String>,
        started_by: Option<String>,
        at: i64,
    ) -> usize {
        let td = self
            .task_definitions
            .get(family)
            .and_then(|v| v.iter().find(|t| t.revision == revision))
            .cloned();
        let Some(td) = td else { return usize::MAX };
        let id = self.next_hex(32);
        let n = self.tasks.len() as u64 + 10;
        let ip = format!("10.0.{}.{}", 1 + (n % 2) * 2, 10 + (n * 37) % 240);
        let subnet = SUBNETS[(n % 2) as usize].to_string();
        let az = if n.is_multiple_of(2) {
            "us-east-1a"
        } else {
            "us-east-1b"
        }
        .to_string();
        let eni = format!("eni-0{}", self.next_hex(16));
        let attachment_id = {
            let h = self.next_hex(32);
            format!(
                "{}-{}-{}-{}-{}",
                &h[0..8],
                &h[8..12],
                &h[12..16],
                &h[16..20],
                &h[20..32]
            )
        };
        let behaviour = if deployment.is_some() {
            service_behaviour(&self.scenario, td.new)
        } else if family == MIGRATION_FAMILY && self.scenario.migration_no_start {
            Behaviour::NoStart
        } else {
            Behaviour::Script
        };
        // An image ECR does not hold cannot be pulled, whichever way the task was started.
        let pullable = td
            .containers()
            .iter()
            .all(|c| crate::ecr::pullable(&self.images, c["image"].as_str().unwrap_or_default()));
        let behaviour = if pullable {
            behaviour
        } else {
            Behaviour::NoStart
        };
        let slow = if td.new && self.scenario.slow_start {
            4
        } else {
            1
        };
        let mut containers = Vec::new();
        for c in td.containers() {
            let name = c["name"].as_str().unwrap_or_default().to_string();
            let runtime = self.next_hex(32);
            containers.push(Container {
                arn: format!(
                    "arn:aws:ecs:{REGION}:{ACCOUNT}:container/{CLUSTER}/{id}/{}",
                    self.next_hex(32)
                ),
                name,
                image: c["image"].as_str().unwrap_or_default().to_string(),
                essential: c["essential"].as_bool() != Some(false),
                exit_code: None,
                reason: None,
                runtime_id: format!("{id}-{}", &runtime[..10]),
            });
        }
        let essential = td.essential_container();
        let container_name = essential["name"].as_str().unwrap_or_default().to_string();
        let log_group = essential["logConfiguration"]["options"]["awslogs-group"]
            .as_str()
            .unwrap_or(SERVICE_LOG_GROUP)
            .to_string();
        let prefix = essential["logConfiguration"]["options"]["awslogs-stream-prefix"]
            .as_str()
            .unwrap_or(STREAM_PREFIX);
        let command = essential["command"]
            .as_array()
            .map(|a| {
                a.iter()
                    .filter_map(|s| s.as_str().map(String::from))
                    .collect()
            })
            .unwrap_or_default();
        let group = match &deployment {
            Some(_) => format!("service:{SERVICE}"),
            None => format!("family:{family}"),
        };
        let mut task = Task {
            arn: task_arn(&id),
            id: id.clone(),
            td_arn: td.arn.clone(),
            family: family.to_string(),
            revision,
            cpu: td.body["cpu"].as_str().unwrap_or("256").to_string(),
            memory: td.body["memory"].as_str().unwrap_or("512").to_string(),
            started_by: started_by.or_else(|| deployment.clone()),
            group,
            deployment,
            behaviour,
            phase: Phase::Provisioning,
            desired_running: true,
            created_at: at,
            pull_started_at: None,
            pull_stopped_at: None,
            started_at: None,
            stopping_at: None,
            execution_stopped_at: None,
            stopped_at: None,
            stop_code: None,
            stopped_reason: None,
            containers,
            ip,
            eni,
            subnet,
            attachment_id,
            az,
            target: None,
            agenda: Vec::new(),
            log_group,
            log_stream: format!("{prefix}/{container_name}/{id}"),
            overrides: json!({"containerOverrides": [{"name": container_name}], "inferenceAcceleratorOverrides": []}),
            command,
            slow,
            version: 1,
        };
        task.plan(at + 4 * SECOND * slow, Step::ToPending);
        self.tasks.push(task);
        self.tasks.len() - 1
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

    fn write_log(&mut self, i: usize, at: i64, message: String) {
        let (group, stream) = (
            self.tasks[i].log_group.clone(),
            self.tasks[i].log_stream.clone(),
        );
        let s = self
            .logs
            .entry(group)
            .or_default()
            .entry(stream)
            .or_default();
        if s.events.is_empty() && s.created_at == 0 {
            s.created_at = at;
        }
        s.events.push(LogEvent {
            timestamp: at,
            ingestion: at + 180,
            message,
        });
    }

    fn apply(&mut self, i: usize, step: Step, at: i64) {
        let slow = self.tasks[i].slow;
        match step {
            Step::ToPending => {
                let t = &mut self.tasks[i];
                if t.phase != Phase::Provisioning {
                    return;
                }
                t.phase = Phase::Pending;
                t.version += 1;
                t.pull_started_at = Some(at + SECOND);
                if t.behaviour == Behaviour::NoStart {
                    // The agent retries the pull five times before it gives up.
                    t.plan(at + 30 * SECOND * slow, Step::FailToStart);
                } else {
                    t.pull_stopped_at = Some(at + 7 * SECOND * slow);
                    t.plan(at + 8 * SECOND * slow, Step::ToRunning);
                }
            }
            Step::ToRunning => {
                if self.tasks[i].phase != Phase::Pending {
                    return;
                }
                {
                    let t = &mut self.tasks[i];
                    t.phase = Phase::Running;
                    t.version += 1;
                    t.started_at = Some(at);
                }
                let id = self.tasks[i].id.clone();
                // The awslogs driver creates the stream when the container starts.
                let (group, stream) = (
                    self.tasks[i].log_group.clone(),
                    self.tasks[i].log_stream.clone(),
                );
                let s = self
                    .logs
                    .entry(group)
                    .or_default()
                    .entry(stream)
                    .or_default();
                if s.created_at == 0 {
                    s.created_at = at;
                }
                self.event(at, "task-running", id.clone());
                match self.tasks[i].behaviour {
                    Behaviour::Healthy | Behaviour::Unhealthy | Behaviour::Crash => {
                        let lines = if self.tasks[i].behaviour == Behaviour::Crash {
                            crash_traceback()
                        } else {
                            gunicorn_start_lines()
                        };
                        let t = &mut self.tasks[i];
                        for (k, line) in lines.into_iter().enumerate() {
                            t.plan(at + 200 * (k as i64 + 1), Step::Log(line));
                        }
                        t.target = Some(TargetState::Initial);
                        let behaviour = t.behaviour;
                        match behaviour {
                            Behaviour::Healthy => {
                                t.plan(at + 20 * SECOND * slow, Step::TargetHealthy)
                            }
                            Behaviour::Unhealthy => {
                                t.plan(at + 20 * SECOND, Step::TargetUnhealthy);
                                t.plan(at + 40 * SECOND, Step::ElbFail);
                            }
                            _ => t.plan(at + 4 * SECOND, Step::Exit(1)),
                        }
                        self.service_event_at(
                            at,
                            format!("(service {SERVICE}) registered 1 targets in (target-group {TARGET_GROUP_ARN})"),
                        );
                    }
                    Behaviour::NoStart => {}
                    Behaviour::Script => {
                        let (lines, code) = self.script_for(i);
                        let t = &mut self.tasks[i];
                        let mut offset = SECOND;
                        for line in lines {
                            t.plan(at + offset, Step::Log(line));
                            offset += 400;
                        }
                        if let Some(code) = code {
                            t.plan(at + offset + SECOND, Step::Exit(code));
                        }
                    }
                }
            }
            Step::Log(line) => {
                if matches!(self.tasks[i].phase, Phase::Running | Phase::Deactivating) {
                    self.write_log(i, at, line);
                }
            }
            Step::TargetHealthy => {
                let t = &mut self.tasks[i];
                if t.target == Some(TargetState::Initial) {
                    t.target = Some(TargetState::Healthy);
                    let id = t.id.clone();
                    self.event(at, "target-healthy", id);
                }
            }
            Step::TargetUnhealthy => {
                let t = &mut self.tasks[i];
                if t.target == Some(TargetState::Initial) {
                    let odd = t.ip.ends_with(['1', '3', '5', '7', '9']);
                    t.target = Some(if odd {
                        TargetState::Unhealthy {
                            reason: "Target.Timeout".into(),
                            description: "Request timed out".into(),
                        }
                    } else {
                        TargetState::Unhealthy {
                            reason: "Target.ResponseCodeMismatch".into(),
                            description: "Health checks failed with these codes: [503]".into(),
                        }
                    });
                    let id = t.id.clone();
                    self.event(at, "target-unhealthy", id);
                }
            }
            Step::ElbFail => {
                if !self.tasks[i].is_live() {
                    return;
                }
                self.count_failure(i);
                let reason =
                    format!("Task failed ELB health checks in (target-group {TARGET_GROUP_ARN})");
                self.begin_stop(i, at, "ServiceSchedulerInitiated", &reason, Some(143));
                let id = self.tasks[i].id.clone();
                self.service_event_at(
                    at,
                    format!("(service {SERVICE}) has stopped 1 running tasks: (task {id})."),
                );
                self.event(at, "task-failed-elb-health-checks", id);
            }
            Step::Exit(code) => {
                if !matches!(self.tasks[i].phase, Phase::Running | Phase::Deactivating) {
                    return;
                }
                let failure = code != 0
                    && self.tasks[i].deployment.is_some()
                    && self.tasks[i].desired_running;
                if failure {
                    self.count_failure(i);
                }
                {
                    let t = &mut self.tasks[i];
                    t.agenda.clear();
                    for c in &mut t.containers {
                        c.exit_code = Some(if c.essential { code } else { 0 });
                        if c.essential && code != 0 {
                            c.reason = Some("Essential container in task exited".into());
                        }
                    }
                    if t.stop_code.is_none() {
                        t.stop_code = Some("EssentialContainerExited".into());
                        t.stopped_reason = Some("Essential container in task exited".into());
                    }
                    t.desired_running = false;
                    t.stopping_at.get_or_insert(at);
                    t.execution_stopped_at = Some(at);
                    t.target = None;
                    t.phase = Phase::Stopping;
                    t.version += 1;
                    t.plan(at + 2 * SECOND, Step::ToDeprovisioning);
                }
                let id = self.tasks[i].id.clone();
                self.event(at, "container-exited", format!("{id} exit code {code}"));
            }
            Step::FailToStart => {
                if self.tasks[i].phase != Phase::Pending {
                    return;
                }
                self.count_failure(i);
                let images = self.images.clone();
                let t = &mut self.tasks[i];
                let image = t
                    .containers
                    .iter()
                    .find(|c| !crate::ecr::pullable(&images, &c.image))
                    .or(t.containers.iter().find(|c| c.essential))
                    .or(t.containers.first())
                    .map(|c| c.image.clone())
                    .unwrap_or_default();
                let reason = format!(
                    "CannotPullContainerError: pull image manifest has been retried 5 time(s): failed to resolve ref {image}: not found"
                );
                for c in &mut t.containers {
                    c.reason = Some(reason.clone());
                }
                t.desired_running = false;
                t.stop_code = Some("TaskFailedToStart".into());
                t.stopped_reason = Some(reason);
                t.stopping_at = Some(at);
                t.execution_stopped_at = Some(at);
                t.stopped_at = Some(at);
                t.agenda.clear();
                t.phase = Phase::Stopped;
                t.version += 1;
                let detail = format!("{} {}:{} TaskFailedToStart", t.id, t.family, t.revision);
                self.event(at, "task-stopped", detail);
            }
            Step::DrainDone(exit) => {
                let t = &mut self.tasks[i];
                let started = t.started_at.is_some();
                for c in &mut t.containers {
                    if c.exit_code.is_none() && started {
                        c.exit_code = Some(exit);
                    }
                }
                let scaled_in = t.deployment.is_some()
                    && t.stop_code.as_deref() == Some("ServiceSchedulerInitiated")
                    && t.stopped_reason
                        .as_deref()
                        .is_some_and(|r| r.starts_with("Scaling activity initiated by"));
                if scaled_in {
                    self.drained.push((at, t.id.clone()));
                }
                let t = &mut self.tasks[i];
                t.target = None;
                t.phase = Phase::Stopping;
                t.version += 1;
                t.execution_stopped_at = Some(at + SECOND);
                t.plan(at + 3 * SECOND, Step::ToDeprovisioning);
                let id = t.id.clone();
                self.event(at, "target-deregistered", id);
            }
            Step::ToDeprovisioning => {
                let t = &mut self.tasks[i];
                t.phase = Phase::Deprovisioning;
                t.version += 1;
                t.plan(at + 3 * SECOND, Step::ToStopped);
            }
            Step::ToStopped => {
                let t = &mut self.tasks[i];
                t.phase = Phase::Stopped;
                t.version += 1;
                t.stopped_at = Some(at);
                let detail = format!(
                    "{} {}:{} {}",
                    t.id,
                    t.family,
                    t.revision,
                    t.stop_code.clone().unwrap_or_default()
                );
                self.event(at, "task-stopped", detail);
            }
        }
    }

    fn count_failure(&mut self, i: usize) {
        let Some(dep) = self.tasks[i].deployment.clone() else {
            return;
        };
        if let Some(d) = self
            .service
            .deployments
            .iter_mut()
            .find(|d| d.id == dep && d.primary && d.rollout_state == "IN_PROGRESS")
        {
            d.failed_tasks += 1;
        }
    }

    /// Starts stopping a task: draining first when it is registered in the target group.
    pub fn begin_stop(
        &mut self,
        i: usize,
        at: i64,
        code: &str,
        reason: &str,
        exit_code: Option<i32>,
    ) {
        let t = &mut self.tasks[i];
        if !t.desired_running || t.phase == Phase::Stopped {
            return;
        }
        t.desired_running = false;
        t.stop_code = Some(code.to_string());
        t.stopped_reason = Some(reason.to_string());
        t.stopping_at = Some(at);
        t.agenda.retain(|(_, s)| matches!(s, Step::Log(_)));
        t.version += 1;
        let exit = exit_code.unwrap_or(0);
        if t.target.is_some() {
            // The containers keep serving the connections in flight while the target drains.
            t.target = Some(TargetState::Draining);
            t.phase = Phase::Deactivating;
            t.plan(
                at + DEREGISTRATION_DELAY_SECONDS * SECOND,
                Step::DrainDone(exit),
            );
        } else {
            let started = t.started_at.is_some();
            for c in &mut t.containers {
                if c.exit_code.is_none() && started {
                    c.exit_code = Some(exit);
                }
            }
            t.phase = Phase::Stopping;
            t.execution_stopped_at = Some(at + SECOND);
            t.plan(at + 2 * SECOND, Step::ToDeprovisioning);
        }
    }

    /// The service scheduler: starts the primary deployment's tasks, drains the old ones,
    /// trips the circuit breaker and completes deployments.
    fn schedule(&mut self, at: i64) {
        let Some(p) = self.service.deployments.iter().position(|d| d.primary) else {
            return;
        };
        let primary = self.service.deployments[p].clone();
        let live: Vec<usize> = (0..self.tasks.len())
            .filter(|&i| {
                self.tasks[i].deployment.as_deref() == Some(&primary.id) && self.tasks[i].is_live()
            })
            .collect();
        if primary.rollout_state != "FAILED" && (live.len() as i64) < primary.desired {
            let (family, revision) = split_td_arn(&primary.td_arn);
            let mut started = Vec::new();
            for _ in live.len() as i64..primary.desired {
                let i = self.create_task(&family, revision, Some(primary.id.clone()), None, at);
                if i != usize::MAX {
                    started.push(self.tasks[i].id.clone());
                }
            }
            if !started.is_empty() {
                let list: String = started.iter().map(|t| format!(" (task {t})")).collect();
                self.service_event_at(
                    at,
                    format!(
                        "(service {SERVICE}) has started {} tasks:{list}.",
                        started.len()
                    ),
                );
                self.event(at, "tasks-started", started.join(" "));
            }
        } else if (live.len() as i64) > primary.desired {
            let extra = live.len() - primary.desired.max(0) as usize;
            let reason = format!("Scaling activity initiated by (deployment {})", primary.id);
            let mut stopped = Vec::new();
            for &i in live.iter().take(extra) {
                self.begin_stop(i, at, "ServiceSchedulerInitiated", &reason, Some(0));
                stopped.push(self.tasks[i].id.clone());
            }
            self.stopped_events(at, &stopped);
        }

        let primary_healthy = self
            .tasks
            .iter()
            .filter(|t| t.deployment.as_deref() == Some(&primary.id) && t.healthy_target())
            .count() as i64;
        let mut allowed_old = (primary.desired - primary_healthy).max(0);
        let reason = format!("Scaling activity initiated by (deployment {})", primary.id);
        let mut old: Vec<usize> = (0..self.tasks.len())
            .filter(|&i| {
                let t = &self.tasks[i];
                t.deployment.is_some()
                    && t.deployment.as_deref() != Some(&primary.id)
                    && t.is_live()
            })
            .collect();
        old.sort_by_key(|&i| std::cmp::Reverse(self.tasks[i].created_at));
        let mut stopped = Vec::new();
        for i in old {
            if self.tasks[i].healthy_target() && allowed_old > 0 {
                allowed_old -= 1;
                continue;
            }
            self.begin_stop(i, at, "ServiceSchedulerInitiated", &reason, Some(0));
            stopped.push(self.tasks[i].id.clone());
        }
        self.stopped_events(at, &stopped);

        let d = &self.service.deployments[p];
        if d.rollout_state == "IN_PROGRESS"
            && self.service.circuit_breaker
            && d.failed_tasks >= circuit_breaker_threshold(d.desired)
        {
            self.fail_deployment(p, at);
            return;
        }
        let others_left = self.tasks.iter().any(|t| {
            t.deployment.is_some()
                && t.deployment.as_deref() != Some(&primary.id)
                && t.phase != Phase::Stopped
        });
        let live_now = self
            .tasks
            .iter()
            .filter(|t| t.deployment.as_deref() == Some(&primary.id) && t.is_live())
            .count() as i64;
        let d = &mut self.service.deployments[p];
        if d.rollout_state == "IN_PROGRESS"
            && primary_healthy >= d.desired
            && live_now == d.desired
            && !others_left
        {
            d.rollout_state = "COMPLETED".into();
            d.rollout_reason = format!("ECS deployment {} completed.", d.id);
            d.updated_at = at;
            let (id, td) = (d.id.clone(), d.td_arn.clone());
            self.service.deployments.retain(|d| d.primary);
            self.service.last_completed = (id.clone(), td.clone());
            self.service.steady_reported = false;
            crate::deployments::completed(self, &id, at);
            self.event(at, "deployment-completed", format!("{id} {td}"));
        }
        if !self.service.steady_reported
            && self.service.deployments.len() == 1
            && self.service.deployments[0].rollout_state == "COMPLETED"
        {
            self.service.steady_reported = true;
            self.service_event_at(
                at,
                format!("(service {SERVICE}) has reached a steady state."),
            );
            self.event(at, "steady-state", SERVICE.to_string());
        }
    }

    /// The service events for tasks the scheduler has just stopped: those registered in the
    /// target group begin draining (their stop is announced when the drain ends); the others
    /// stop at once.
    fn stopped_events(&mut self, at: i64, stopped: &[String]) {
        let (draining, immediate): (Vec<&String>, Vec<&String>) = stopped.iter().partition(|id| {
            self.tasks
                .iter()
                .any(|t| &t.id == *id && t.phase == Phase::Deactivating)
        });
        if !draining.is_empty() {
            self.service_event_at(
                at,
                format!(
                    "(service {SERVICE}) has begun draining connections on {} tasks.",
                    draining.len()
                ),
            );
            self.service_event_at(
                at,
                format!(
                    "(service {SERVICE}) deregistered {} targets in (target-group {TARGET_GROUP_ARN})",
                    draining.len()
                ),
            );
        }
        let immediate: Vec<String> = immediate.into_iter().cloned().collect();
        self.stopped_event(at, &immediate);
        for id in stopped {
            self.event(at, "task-stopping", id.clone());
        }
    }

    /// Announces the tasks whose drain ended (at one instant) as stopped.
    fn announce_drained(&mut self) {
        let Some(&(at, _)) = self.drained.first() else {
            return;
        };
        let ids: Vec<String> = std::mem::take(&mut self.drained)
            .into_iter()
            .map(|(_, id)| id)
            .collect();
        self.stopped_event(at, &ids);
    }

    fn stopped_event(&mut self, at: i64, ids: &[String]) {
        if ids.is_empty() {
            return;
        }
        let list: String = ids.iter().map(|t| format!(" (task {t})")).collect();
        self.service_event_at(
            at,
            format!(
                "(service {SERVICE}) has stopped {} running tasks:{list}.",
                ids.len()
            ),
        );
    }

    fn fail_deployment(&mut self, p: usize, at: i64) {
        let (failed_id, failed_td, failures) = {
            let d = &mut self.service.deployments[p];
            d.rollout_state = "FAILED".into();
            d.rollout_reason = "ECS deployment circuit breaker: tasks failed to start.".into();
            d.updated_at = at;
            (d.id.clone(), d.td_arn.clone(), d.failed_tasks)
        };
        self.service_event_at(
            at,
            format!("(service {SERVICE}) (deployment {failed_id}) deployment failed: tasks failed to start."),
        );
        self.event(at, "deployment-failed", format!("{failed_id} {failed_td}"));
        if !self.service.rollback {
            crate::deployments::failed(self, &failed_id, failures, None, at);
            return;
        }
        let (to_id, to_td) = self.service.last_completed.clone();
        let id = format!("ecs-svc/{}", self.next_number(19));
        for d in &mut self.service.deployments {
            d.primary = false;
        }
        self.service.deployments.insert(
            0,
            Deployment {
                id: id.clone(),
                primary: true,
                td_arn: to_td.clone(),
                desired: self.service.desired,
                failed_tasks: 0,
                created_at: at,
                updated_at: at,
                rollout_state: "IN_PROGRESS".into(),
                rollout_reason: format!(
                    "ECS deployment circuit breaker: rolling back to deploymentId {to_id}."
                ),
            },
        );
        self.service_event_at(
            at,
            format!("(service {SERVICE}) (deployment {id}) rolling back to deployment {to_id}."),
        );
        self.event(at, "rollback-started", format!("{id} {to_td}"));
        crate::deployments::failed(self, &failed_id, failures, Some((&id, &to_id)), at);
    }

    /// Creates a new PRIMARY deployment on `td_arn`; the old ones become ACTIVE.
    pub fn new_deployment(&mut self, td_arn: &str, at: i64) -> String {
        let id = format!("ecs-svc/{}", self.next_number(19));
        for d in &mut self.service.deployments {
            d.primary = false;
        }
        self.service.deployments.insert(
            0,
            Deployment {
                id: id.clone(),
                primary: true,
                td_arn: td_arn.to_string(),
                desired: self.service.desired,
                failed_tasks: 0,
                created_at: at,
                updated_at: at,
                rollout_state: "IN_PROGRESS".into(),
                rollout_reason: "ECS deployment ".to_string() + &id + " in progress.",
            },
        );
        self.service.steady_reported = false;
        self.event(at, "deployment-created", format!("{id} {td_arn}"));
        crate::deployments::started(self, &id, td_arn, at);
        id
    }

    /// The scripted output and exit code (None: runs until stopped) of a one-off task.
    fn script_for(&self, i: usize) -> (Vec<String>, Option<i32>) {
        let t = &self.tasks[i];
        let command = t.command.join(" ");
        if command.contains("migrate") {
            if command.contains("--plan") {
                return (migration_plan(self.scenario.destructive_migration), Some(0));
            }
            if t.family == MIGRATION_FAMILY && self.scenario.migration_fails {
                return (migration_failure(), Some(1));
            }
            return (
                migration_success(self.scenario.destructive_migration),
                Some(0),
            );
        }
        if command.contains("gunicorn") || command.contains("runserver") {
            return (gunicorn_start_lines(), None);
        }
        if command.contains("check") {
            return (
                vec!["System check identified no issues (0 silenced).".into()],
                Some(0),
            );
        }
        if command.contains("collectstatic") {
            return (
                vec!["212 static files copied to '/app/staticfiles', 14 unmodified.".into()],
                Some(0),
            );
        }
        if command.is_empty() {
            return (vec![], Some(0));
        }
        (vec![format!("$ {command}")], Some(0))
    }

    fn advance_runs(&mut self, now: i64) {
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

    pub fn scenario_names(&self) -> Vec<String> {
        if self.scenario.names.is_empty() {
            vec!["healthy".into()]
        } else {
            self.scenario.names.clone()
        }
    }

    /// The primary deployment's task definition is one the scenario makes misbehave.
    pub fn deployed_revision_broken(&self) -> bool {
        let Some(primary) = self.service.deployments.iter().find(|d| d.primary) else {
            return true;
        };
        let broken = self
            .find_task_definition(&primary.td_arn)
            .is_some_and(|td| service_behaviour(&self.scenario, td.new) != Behaviour::Healthy);
        broken || primary.rollout_state == "FAILED"
    }
}

pub fn split_td_arn(arn: &str) -> (String, u32) {
    let name = arn.rsplit_once(":task-definition/").map_or(arn, |(_, n)| n);
    match name.rsplit_once(':') {
        Some((f, r)) => (f.to_string(), r.parse().unwrap_or(0)),
        None => (name.to_string(), 0),
    }
}

pub fn image_manifest(n: u32) -> String {
    let config = sha256_hex(format!("config-release-{n}").as_bytes());
    let layers: Vec<Value> = (0..4)
        .map(|k| {
            json!({
                "mediaType": "application/vnd.docker.image.rootfs.diff.tar.gzip",
                "size": 1_000_000 * (k + 1) + n as i64 * 1000,
                "digest": format!("sha256:{}", sha256_hex(format!("layer-{k}-release-{}", if k < 3 { 0 } else { n }).as_bytes()))
            })
        })
        .collect();
    json!({
        "schemaVersion": 2,
        "mediaType": "application/vnd.docker.distribution.manifest.v2+json",
        "config": {"mediaType": "application/vnd.docker.container.image.v1+json", "size": 7023, "digest": format!("sha256:{config}")},
        "layers": layers
    })
    .to_string()
}

fn gunicorn_start_lines() -> Vec<String> {
    vec![
        "[INFO] Starting gunicorn 23.0.0".into(),
        "[INFO] Listening at: http://0.0.0.0:8000 (1)".into(),
        "[INFO] Using worker: sync".into(),
        "[INFO] Booting worker with pid: 7".into(),
        "[INFO] Booting worker with pid: 8".into(),
        "[INFO] Booting worker with pid: 9".into(),
    ]
}

fn crash_traceback() -> Vec<String> {
    vec![
        "[INFO] Starting gunicorn 23.0.0".into(),
        "[INFO] Booting worker with pid: 7".into(),
        "[ERROR] Exception in worker process".into(),
        "Traceback (most recent call last):".into(),
        "  File \"/usr/local/lib/python3.12/site-packages/gunicorn/arbiter.py\", line 608, in spawn_worker".into(),
        "    worker.init_process()".into(),
        "  File \"/app/StartupWebApp/wsgi.py\", line 16, in <module>".into(),
        "    application = get_wsgi_application()".into(),
        "  File \"/usr/local/lib/python3.12/site-packages/django/conf/__init__.py\", line 89, in __getattr__".into(),
        "    self._setup(name)".into(),
        "django.core.exceptions.ImproperlyConfigured: The SECRET_KEY setting must not be empty.".into(),
        "[INFO] Worker exiting (pid: 7)".into(),
        "[ERROR] Reason: Worker failed to boot.".into(),
    ]
}

fn migration_plan(destructive: bool) -> Vec<String> {
    let mut lines = vec![
        "Planned operations:".to_string(),
        "catalog.0018_product_search_index".into(),
        "    Create model ProductSearchIndex".into(),
        "orders.0042_order_tracking_number".into(),
        "    Add field tracking_number to order".into(),
        "    Create index orders_ord_trackin_5f2c1e_idx on field(s) tracking_number of model order"
            .into(),
    ];
    if destructive {
        lines.push("    Alter field status on order".into());
        lines.push("user.0031_remove_profile_legacy_phone".into());
        lines.push("    Remove field legacy_phone from profile".into());
    }
    lines
}

fn migration_success(destructive: bool) -> Vec<String> {
    let mut lines = vec![
        "Operations to perform:".to_string(),
        "  Apply all migrations: admin, auth, catalog, contenttypes, orders, sessions, user".into(),
        "Running migrations:".into(),
        "  Applying catalog.0018_product_search_index... OK".into(),
        "  Applying orders.0042_order_tracking_number... OK".into(),
    ];
    if destructive {
        lines.push("  Applying user.0031_remove_profile_legacy_phone... OK".into());
    }
    lines
}

fn migration_failure() -> Vec<String> {
    vec![
        "Operations to perform:".to_string(),
        "  Apply all migrations: admin, auth, catalog, contenttypes, orders, sessions, user".into(),
        "Running migrations:".into(),
        "  Applying catalog.0018_product_search_index... OK".into(),
        "  Applying orders.0042_order_tracking_number...Traceback (most recent call last):".into(),
        "  File \"/usr/local/lib/python3.12/site-packages/django/db/backends/utils.py\", line 105, in _execute".into(),
        "    return self.cursor.execute(sql, params)".into(),
        "psycopg2.errors.DuplicateColumn: column \"tracking_number\" of relation \"orders_order\" already exists".into(),
        "".into(),
        "The above exception was the direct cause of the following exception:".into(),
        "".into(),
        "Traceback (most recent call last):".into(),
        "  File \"/app/manage.py\", line 22, in <module>".into(),
        "    main()".into(),
        "  File \"/usr/local/lib/python3.12/site-packages/django/core/management/commands/migrate.py\", line 357, in handle".into(),
        "    post_migrate_state = executor.migrate(".into(),
        "  File \"/usr/local/lib/python3.12/site-packages/django/db/migrations/executor.py\", line 135, in migrate".into(),
        "    state = self._migrate_all_forwards(".into(),
        "django.db.utils.ProgrammingError: column \"tracking_number\" of relation \"orders_order\" already exists".into(),
    ]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_circuit_breaker_threshold_is_half_the_desired_count_within_3_and_200() {
        assert_eq!(circuit_breaker_threshold(1), 3);
        assert_eq!(circuit_breaker_threshold(2), 3);
        assert_eq!(circuit_breaker_threshold(7), 4);
        assert_eq!(circuit_breaker_threshold(10), 5);
        assert_eq!(circuit_breaker_threshold(1000), 200);
    }

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

    #[test]
    fn task_definitions_resolve_from_family_revision_or_arn() {
        let w = World::new(Scenario::default(), 1.0);
        let latest = w.find_task_definition(SERVICE_FAMILY).map(|t| t.revision);
        assert_eq!(latest, Some(3));
        let by_rev = w.find_task_definition("startupwebapp-migration-task:2");
        assert_eq!(by_rev.map(|t| t.revision), Some(2));
        let by_arn = w.find_task_definition(&task_definition_arn(SERVICE_FAMILY, 1));
        assert_eq!(by_arn.map(|t| t.family.as_str()), Some(SERVICE_FAMILY));
        assert!(
            w.find_task_definition("startupwebapp-service-task:9")
                .is_none()
        );
        assert!(w.find_task_definition("other").is_none());
    }
}

//! The production names the sandbox answers for, and what the world holds when it starts:
//! three revisions of each task definition, four images, and revision 3 running after a
//! completed deployment.

use serde_json::{Value, json};

use super::{
    DAY, Deployment, LogEvent, Phase, SECOND, TargetState, World, canned, history, sha256_hex,
};

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

impl World {
    pub(super) fn seed(&mut self, start: i64) {
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
        history::seed(self, &id, deployed_at, deployed_at + 6 * 60 * SECOND);
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
            let lines = canned::gunicorn_start_lines();
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
        self.seed_records(start);
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

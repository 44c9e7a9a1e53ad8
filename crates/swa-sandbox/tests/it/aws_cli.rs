//! Fidelity: awscli (botocore), a client we did not write, against the sandbox.

use std::path::PathBuf;
use std::process::Command;
use std::time::Duration;

use serde_json::Value;

use crate::start;

fn aws_bin() -> PathBuf {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..");
    let bin = root.join(".venv/bin/aws");
    assert!(
        bin.exists(),
        "{} is missing: run scripts/venv.sh to install awscli into .venv",
        bin.display()
    );
    bin
}

fn run(sandbox: &swa_sandbox::Sandbox, args: &[&str]) -> std::process::Output {
    Command::new(aws_bin())
        .args(args)
        .args([
            "--endpoint-url",
            &sandbox.aws_url(),
            "--region",
            "us-east-1",
            "--output",
            "json",
        ])
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .env("HOME", std::env::temp_dir())
        .env("AWS_ACCESS_KEY_ID", "sandbox")
        .env("AWS_SECRET_ACCESS_KEY", "sandbox")
        .env("AWS_CONFIG_FILE", "/dev/null")
        .env("AWS_SHARED_CREDENTIALS_FILE", "/dev/null")
        .output()
        .unwrap()
}

/// What awscli prints on stderr for a call that fails.
fn aws_error(sandbox: &swa_sandbox::Sandbox, args: &[&str]) -> String {
    let out = run(sandbox, args);
    assert!(!out.status.success(), "aws {args:?} succeeded");
    String::from_utf8_lossy(&out.stderr).trim().to_string()
}

fn aws(sandbox: &swa_sandbox::Sandbox, args: &[&str]) -> Value {
    let out = run(sandbox, args);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "aws {args:?} failed: {}\n{stdout}",
        String::from_utf8_lossy(&out.stderr)
    );
    if stdout.trim().is_empty() {
        Value::Null
    } else if args[0] == "s3" {
        // The high-level s3 commands print progress text, not JSON.
        Value::String(stdout.into_owned())
    } else {
        serde_json::from_str(&stdout).unwrap()
    }
}

const CLUSTER: &[&str] = &["--cluster", "startupwebapp-cluster"];

#[test]
fn awscli_reads_and_drives_the_sandbox() {
    let sandbox = start("healthy", 60.0);
    let services = aws(
        &sandbox,
        &[
            &[
                "ecs",
                "describe-services",
                "--services",
                "startupwebapp-service",
            ],
            CLUSTER,
        ]
        .concat(),
    );
    let s = &services["services"][0];
    assert_eq!(s["serviceName"], "startupwebapp-service");
    assert_eq!(s["desiredCount"], 2);
    assert_eq!(s["deployments"][0]["rolloutState"], "COMPLETED");
    // Timestamps are epoch seconds, as botocore parses them.
    assert!(s["createdAt"].as_f64().unwrap() > 1.6e9);

    let updated = aws(
        &sandbox,
        &[
            &[
                "ecs",
                "update-service",
                "--service",
                "startupwebapp-service",
                "--force-new-deployment",
            ],
            CLUSTER,
        ]
        .concat(),
    );
    assert_eq!(
        updated["service"]["deployments"].as_array().unwrap().len(),
        2
    );
    assert_eq!(
        updated["service"]["deployments"][0]["rolloutState"],
        "IN_PROGRESS"
    );

    // The waiter polls until one deployment and runningCount == desiredCount.
    aws(
        &sandbox,
        &[
            &[
                "ecs",
                "wait",
                "services-stable",
                "--services",
                "startupwebapp-service",
            ],
            CLUSTER,
        ]
        .concat(),
    );
    let services = aws(
        &sandbox,
        &[
            &[
                "ecs",
                "describe-services",
                "--services",
                "startupwebapp-service",
            ],
            CLUSTER,
        ]
        .concat(),
    );
    assert_eq!(
        services["services"][0]["deployments"]
            .as_array()
            .unwrap()
            .len(),
        1
    );
    assert_eq!(services["services"][0]["runningCount"], 2);

    // The forced deployment is the newest service deployment, and it succeeded.
    let listed = aws(
        &sandbox,
        &[
            &[
                "ecs",
                "list-service-deployments",
                "--service",
                "startupwebapp-service",
            ],
            CLUSTER,
        ]
        .concat(),
    );
    let newest = &listed["serviceDeployments"][0];
    assert_eq!(listed["serviceDeployments"].as_array().unwrap().len(), 3);
    assert_eq!(newest["status"], "SUCCESSFUL");
    assert!(newest["finishedAt"].as_f64().unwrap() > newest["startedAt"].as_f64().unwrap());
    let described = aws(
        &sandbox,
        &[
            "ecs",
            "describe-service-deployments",
            "--service-deployment-arns",
            newest["serviceDeploymentArn"].as_str().unwrap(),
        ],
    );
    let d = &described["serviceDeployments"][0];
    assert_eq!(
        d["targetServiceRevision"]["arn"],
        newest["targetServiceRevisionArn"]
    );
    assert_eq!(d["targetServiceRevision"]["runningTaskCount"], 2);
    assert_eq!(
        d["deploymentCircuitBreaker"]["status"],
        "MONITORING_COMPLETE"
    );
    assert_eq!(
        d["deploymentConfiguration"]["deploymentCircuitBreaker"]["rollback"],
        true
    );
    let revisions = aws(
        &sandbox,
        &[
            "ecs",
            "describe-service-revisions",
            "--service-revision-arns",
            d["targetServiceRevision"]["arn"].as_str().unwrap(),
            d["sourceServiceRevisions"][0]["arn"].as_str().unwrap(),
        ],
    );
    // Forced: the same task definition, a new service revision.
    let tds: Vec<&Value> = revisions["serviceRevisions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| &r["taskDefinition"])
        .collect();
    let td3 = "arn:aws:ecs:us-east-1:123456789012:task-definition/startupwebapp-service-task:3";
    assert_eq!(tds, [td3, td3]);

    let run = aws(
        &sandbox,
        &[&[
                "ecs",
                "run-task",
                "--task-definition",
                "startupwebapp-migration-task",
                "--launch-type",
                "FARGATE",
                "--network-configuration",
                "awsvpcConfiguration={subnets=[subnet-0a1b2c3d4e5f60001],securityGroups=[sg-0a1b2c3d4e5f60003],assignPublicIp=DISABLED}",
                "--overrides",
                r#"{"containerOverrides":[{"name":"migration","command":["python","manage.py","migrate"]}]}"#,
            ], CLUSTER].concat(),
    );
    let arn = run["tasks"][0]["taskArn"].as_str().unwrap().to_string();
    aws(
        &sandbox,
        &[&["ecs", "wait", "tasks-stopped", "--tasks", &arn], CLUSTER].concat(),
    );
    let tasks = aws(
        &sandbox,
        &[&["ecs", "describe-tasks", "--tasks", &arn], CLUSTER].concat(),
    );
    assert_eq!(tasks["tasks"][0]["containers"][0]["exitCode"], 0);
    let id = arn.rsplit('/').next().unwrap();
    let events = aws(
        &sandbox,
        &[
            "logs",
            "get-log-events",
            "--log-group-name",
            "/ecs/startupwebapp-migrations",
            "--log-stream-name",
            &format!("ecs/migration/{id}"),
            "--start-from-head",
        ],
    );
    assert_eq!(events["events"][0]["message"], "Operations to perform:");
    assert!(
        events["nextForwardToken"]
            .as_str()
            .unwrap()
            .starts_with("f/")
    );

    let images = aws(
        &sandbox,
        &[
            "ecr",
            "describe-images",
            "--repository-name",
            "startupwebapp",
            "--image-ids",
            "imageTag=release-4",
        ],
    );
    assert_eq!(images["imageDetails"][0]["imageTags"][0], "release-4");

    let health = aws(
        &sandbox,
        &[
            "elbv2",
            "describe-target-health",
            "--target-group-arn",
            "arn:aws:elasticloadbalancing:us-east-1:123456789012:targetgroup/startupwebapp-tg/0123456789abcdef",
        ],
    );
    let file = std::env::temp_dir().join(format!("swa-sandbox-cli-{}.html", std::process::id()));
    std::fs::write(&file, "<html></html>").unwrap();
    let copied = aws(
        &sandbox,
        &[
            "s3",
            "cp",
            file.to_str().unwrap(),
            "s3://startupwebapp-frontend/site/index.html",
            "--cache-control",
            "no-cache",
        ],
    );
    assert!(copied.as_str().unwrap().contains("upload: "), "{copied}");
    std::fs::remove_file(&file).unwrap();
    let listed = aws(
        &sandbox,
        &[
            "s3api",
            "list-objects-v2",
            "--bucket",
            "startupwebapp-frontend",
            "--prefix",
            "site/",
        ],
    );
    assert_eq!(listed["Contents"][0]["Key"], "site/index.html");
    assert_eq!(listed["Contents"][0]["Size"], 13);
    let head = aws(
        &sandbox,
        &[
            "s3api",
            "head-object",
            "--bucket",
            "startupwebapp-frontend",
            "--key",
            "site/index.html",
        ],
    );
    assert_eq!(head["CacheControl"], "no-cache");

    let targets = health["TargetHealthDescriptions"].as_array().unwrap();
    assert_eq!(targets.len(), 2);
    for t in targets {
        assert_eq!(t["TargetHealth"]["State"], "healthy");
        assert_eq!(t["Target"]["Port"], 8000);
        assert!(t["Target"]["Id"].as_str().unwrap().starts_with("10.0."));
    }
}

#[test]
fn awscli_reads_a_circuit_breaker_rollback_from_the_service_deployments() {
    let sandbox = start("crash-loop", 60.0);
    let current = aws(
        &sandbox,
        &[
            "ecs",
            "describe-task-definition",
            "--task-definition",
            "startupwebapp-service-task:3",
        ],
    );
    let containers = current["taskDefinition"]["containerDefinitions"]
        .to_string()
        .replace("startupwebapp:release-3", "startupwebapp:release-4");
    let registered = aws(
        &sandbox,
        &[
            "ecs",
            "register-task-definition",
            "--family",
            "startupwebapp-service-task",
            "--network-mode",
            "awsvpc",
            "--requires-compatibilities",
            "FARGATE",
            "--cpu",
            "512",
            "--memory",
            "1024",
            "--container-definitions",
            &containers,
        ],
    );
    let td4 = registered["taskDefinition"]["taskDefinitionArn"]
        .as_str()
        .unwrap()
        .to_string();
    aws(
        &sandbox,
        &[
            &[
                "ecs",
                "update-service",
                "--service",
                "startupwebapp-service",
                "--task-definition",
                &td4,
            ],
            CLUSTER,
        ]
        .concat(),
    );
    // Stable again once the rollback to :3 has completed.
    aws(
        &sandbox,
        &[
            &[
                "ecs",
                "wait",
                "services-stable",
                "--services",
                "startupwebapp-service",
            ],
            CLUSTER,
        ]
        .concat(),
    );
    let listed = aws(
        &sandbox,
        &[
            &[
                "ecs",
                "list-service-deployments",
                "--service",
                "startupwebapp-service",
                "--status",
                "ROLLBACK_SUCCESSFUL",
                "SUCCESSFUL",
                "--max-results",
                "2",
            ],
            CLUSTER,
        ]
        .concat(),
    );
    let statuses: Vec<&Value> = listed["serviceDeployments"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| &d["status"])
        .collect();
    assert_eq!(statuses, ["ROLLBACK_SUCCESSFUL", "SUCCESSFUL"]);
    assert!(listed["nextToken"].is_string(), "{listed}");
    let failed = &listed["serviceDeployments"][0];
    let previous = &listed["serviceDeployments"][1];
    let described = aws(
        &sandbox,
        &[
            "ecs",
            "describe-service-deployments",
            "--service-deployment-arns",
            failed["serviceDeploymentArn"].as_str().unwrap(),
        ],
    );
    let d = &described["serviceDeployments"][0];
    assert_eq!(d["status"], "ROLLBACK_SUCCESSFUL");
    assert_eq!(d["deploymentCircuitBreaker"]["status"], "TRIGGERED");
    assert_eq!(d["deploymentCircuitBreaker"]["threshold"], 3);
    assert!(
        d["deploymentCircuitBreaker"]["failureCount"]
            .as_i64()
            .unwrap()
            >= 3
    );
    assert_eq!(
        d["rollback"]["reason"],
        "ECS deployment circuit breaker: tasks failed to start."
    );
    // Rolled back to the revision the previous successful deployment rolled out.
    assert_eq!(
        d["rollback"]["serviceRevisionArn"],
        previous["targetServiceRevisionArn"]
    );
    assert!(d["rollback"]["startedAt"].as_f64().unwrap() < d["finishedAt"].as_f64().unwrap());
    let revisions = aws(
        &sandbox,
        &[
            "ecs",
            "describe-service-revisions",
            "--service-revision-arns",
            d["targetServiceRevision"]["arn"].as_str().unwrap(),
        ],
    );
    assert_eq!(
        revisions["serviceRevisions"][0]["taskDefinition"],
        td4.as_str()
    );
    assert_eq!(
        revisions["serviceRevisions"][0]["containerImages"][0]["image"],
        "123456789012.dkr.ecr.us-east-1.amazonaws.com/startupwebapp:release-4"
    );
}

/// The README's first example, run as written (its `cargo build` line aside: the test's own
/// build made the binary) in a directory of its own: the sandbox starts, awscli reads the
/// service with nothing but what `sandbox.env` exports, the app answers, and the sandbox stops.
#[test]
fn awscli_stops_a_service_deployment_with_a_rollback() {
    // Real time: the forced deployment is still in progress when it is stopped.
    let sandbox = start("healthy", 1.0);
    let update = [
        &[
            "ecs",
            "update-service",
            "--service",
            "startupwebapp-service",
            "--force-new-deployment",
        ],
        CLUSTER,
    ]
    .concat();
    aws(&sandbox, &update);
    let list = [
        &[
            "ecs",
            "list-service-deployments",
            "--service",
            "startupwebapp-service",
        ],
        CLUSTER,
    ]
    .concat();
    let listed = aws(&sandbox, &list);
    let newest = listed["serviceDeployments"][0]["serviceDeploymentArn"]
        .as_str()
        .unwrap()
        .to_string();
    assert_eq!(listed["serviceDeployments"][0]["status"], "IN_PROGRESS");
    let stopped = aws(
        &sandbox,
        &[
            "ecs",
            "stop-service-deployment",
            "--service-deployment-arn",
            &newest,
            "--stop-type",
            "ROLLBACK",
        ],
    );
    assert_eq!(stopped["serviceDeploymentArn"], newest.as_str());
    let described = aws(
        &sandbox,
        &[
            "ecs",
            "describe-service-deployments",
            "--service-deployment-arns",
            &newest,
        ],
    );
    let d = &described["serviceDeployments"][0];
    assert_eq!(d["status"], "ROLLBACK_IN_PROGRESS");
    assert_eq!(
        d["rollback"]["reason"],
        "Rollback requested by StopServiceDeployment."
    );
    assert!(d["rollback"]["startedAt"].as_f64().unwrap() > 1.6e9);
}

#[test]
fn the_readmes_first_example_runs_as_written() {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    let readme = std::fs::read_to_string(root.join("README.md")).unwrap();
    let section = readme.split("## Start it").nth(1).unwrap();
    let block = section
        .split("```sh\n")
        .nth(1)
        .and_then(|rest| rest.split("```").next())
        .unwrap();
    let (build, example) = block.split_once('\n').unwrap();
    assert_eq!(build, "cargo build -p swa-sandbox");
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(dir.path().join("target/debug")).unwrap();
    std::os::unix::fs::symlink(
        env!("CARGO_BIN_EXE_swa-sandbox"),
        dir.path().join("target/debug/swa-sandbox"),
    )
    .unwrap();
    let venv = aws_bin().parent().unwrap().parent().unwrap().to_path_buf();
    std::os::unix::fs::symlink(venv, dir.path().join(".venv")).unwrap();
    let out = Command::new("bash")
        .args(["-e", "-c", example])
        .current_dir(dir.path())
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .env("HOME", dir.path())
        .env("AWS_CONFIG_FILE", "/dev/null")
        .env("AWS_SHARED_CREDENTIALS_FILE", "/dev/null")
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{example}\n{stdout}\n{stderr}");
    let (services, health) = stdout.rsplit_once('\n').unwrap();
    let services: Value = serde_json::from_str(services).unwrap();
    assert_eq!(
        services["services"][0]["serviceName"], "startupwebapp-service",
        "{stdout}"
    );
    let health: Value = serde_json::from_str(health).unwrap();
    assert_eq!(health["status"], "healthy", "{stdout}");
}

/// awscli answers the PAUSE hook of a blue/green deployment waiting after test traffic, and
/// reads the stage, the hook and the traffic split as the SDK does.
#[test]
fn awscli_continues_a_blue_green_deployment_paused_at_test_traffic() {
    let sandbox = start("blue-green", 60.0);
    let update = [
        &[
            "ecs",
            "update-service",
            "--service",
            "startupwebapp-service",
            "--task-definition",
            "startupwebapp-service-task:2",
        ],
        CLUSTER,
    ]
    .concat();
    aws(&sandbox, &update);
    let list = [
        &[
            "ecs",
            "list-service-deployments",
            "--service",
            "startupwebapp-service",
        ],
        CLUSTER,
    ]
    .concat();
    let newest = aws(&sandbox, &list)["serviceDeployments"][0]["serviceDeploymentArn"]
        .as_str()
        .unwrap()
        .to_string();
    let describe = [
        "ecs",
        "describe-service-deployments",
        "--service-deployment-arns",
        &newest,
    ];
    let start = std::time::Instant::now();
    let paused = loop {
        let d = aws(&sandbox, &describe)["serviceDeployments"][0].clone();
        if d["lifecycleHookDetails"][0]["status"] == "AWAITING_ACTION" {
            break d;
        }
        assert!(
            start.elapsed() < Duration::from_secs(60),
            "never paused: {d}"
        );
        std::thread::sleep(Duration::from_millis(200));
    };
    assert_eq!(paused["lifecycleStage"], "POST_TEST_TRAFFIC_SHIFT");
    assert_eq!(paused["deploymentConfiguration"]["strategy"], "BLUE_GREEN");
    assert_eq!(
        paused["targetServiceRevision"]["requestedTestTrafficWeight"],
        100.0
    );
    assert_eq!(
        paused["sourceServiceRevisions"][0]["requestedProductionTrafficWeight"],
        100.0
    );
    assert_eq!(paused["lifecycleHookDetails"][0]["targetType"], "PAUSE");
    let hook = paused["lifecycleHookDetails"][0]["hookId"]
        .as_str()
        .unwrap()
        .to_string();
    let continued = aws(
        &sandbox,
        &[
            "ecs",
            "continue-service-deployment",
            "--service-deployment-arn",
            &newest,
            "--hook-id",
            &hook,
            "--action",
            "CONTINUE",
        ],
    );
    assert_eq!(continued["serviceDeploymentArn"], newest.as_str());
    let d = aws(&sandbox, &describe)["serviceDeployments"][0].clone();
    assert_eq!(d["lifecycleHookDetails"][0]["status"], "SUCCEEDED");
    // Production traffic moved on: the stage is past the hook (the 3-minute bake is 3 s at this
    // clock, so it may be over already), and the new revision takes all of it.
    let moved_on = [
        "PRODUCTION_TRAFFIC_SHIFT",
        "POST_PRODUCTION_TRAFFIC_SHIFT",
        "BAKE_TIME",
        "CLEAN_UP",
    ];
    assert!(
        d["status"] == "SUCCESSFUL"
            || (d["status"] == "IN_PROGRESS" && moved_on.iter().any(|s| d["lifecycleStage"] == *s)),
        "{d}"
    );
    assert_eq!(
        d["targetServiceRevision"]["requestedProductionTrafficWeight"], 100.0,
        "{d}"
    );
}

#[test]
fn awscli_reads_the_5xx_alarm_over_json() {
    let sandbox = start("canary-alarm", 60.0);
    let describe = [
        "cloudwatch",
        "describe-alarms",
        "--alarm-names",
        "startupwebapp-api-5xx",
    ];
    let ok = aws(&sandbox, &describe);
    assert_eq!(ok["CompositeAlarms"], serde_json::json!([]));
    let alarm = &ok["MetricAlarms"][0];
    assert_eq!(alarm["AlarmName"], "startupwebapp-api-5xx");
    assert_eq!(alarm["StateValue"], "OK");
    assert_eq!(alarm["MetricName"], "HTTPCode_Target_5XX_Count");
    assert_eq!(alarm["Namespace"], "AWS/ApplicationELB");
    assert_eq!(alarm["Statistic"], "Sum");
    assert_eq!(alarm["Period"], 60);
    assert_eq!(alarm["Threshold"], 5.0);
    assert_eq!(alarm["ComparisonOperator"], "GreaterThanThreshold");
    assert_eq!(
        alarm["Dimensions"],
        serde_json::json!([
            {"Name": "LoadBalancer", "Value": "app/startupwebapp-alb/0fedcba987654321"},
            {"Name": "TargetGroup", "Value": "targetgroup/startupwebapp-tg/0123456789abcdef"}
        ])
    );
    // Timestamps are epoch seconds, as botocore parses them.
    let ok_at = alarm["StateUpdatedTimestamp"].as_f64().unwrap();
    assert!(ok_at > 1.6e9, "{ok_at}");

    // The scenario's alarm, breached a minute later on the virtual clock.
    let at = sandbox.with_world(|w| {
        let at = w.clock.now() + 60_000;
        let alarm = swa_sandbox::world::Alarm::breached("startupwebapp-api-5xx", at, at);
        w.alarms.insert(alarm.name.clone(), alarm);
        at
    });
    let fired = aws(
        &sandbox,
        &[&describe[..], &["--state-value", "ALARM"]].concat(),
    );
    let alarm = &fired["MetricAlarms"][0];
    assert_eq!(alarm["StateValue"], "ALARM");
    let reason = alarm["StateReason"].as_str().unwrap();
    assert!(
        reason.starts_with("Threshold Crossed: 1 out of the last 1 datapoints [12.0 (")
            && reason.ends_with(")] was greater than the threshold (5.0) (minimum 1 datapoint for OK -> ALARM transition)."),
        "{reason}"
    );
    let data: Value = serde_json::from_str(alarm["StateReasonData"].as_str().unwrap()).unwrap();
    assert_eq!(data["recentDatapoints"][0], 12.0);
    assert_eq!(
        alarm["StateUpdatedTimestamp"].as_f64().unwrap(),
        at as f64 / 1000.0
    );
    assert!(at as f64 / 1000.0 > ok_at);

    let error = aws_error(
        &sandbox,
        &["cloudwatch", "describe-alarms", "--state-value", "FIRING"],
    );
    assert_eq!(
        error,
        "An error occurred (ValidationError) when calling the DescribeAlarms operation: 1 validation error detected: Value 'FIRING' at 'stateValue' failed to satisfy constraint: Member must satisfy enum value set: [INSUFFICIENT_DATA, ALARM, OK]"
    );
    let calls: Vec<_> = sandbox
        .calls()
        .into_iter()
        .filter(|c| c.service == "cloudwatch")
        .map(|c| (c.operation, c.status))
        .collect();
    assert_eq!(
        calls,
        [
            ("DescribeAlarms".to_string(), 200),
            ("DescribeAlarms".to_string(), 200),
            ("DescribeAlarms".to_string(), 400)
        ]
    );
}

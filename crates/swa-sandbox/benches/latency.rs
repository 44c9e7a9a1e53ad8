//! The latency of typical sandbox calls over one keep-alive connection, and the wall time of a
//! healthy rollout at a given clock.
//!
//! `cargo bench -p swa-sandbox --bench latency --profile dev` (the debug build the demo runs;
//! without `--profile dev`, a release build). `SWA_BENCH_REQUESTS` sets the requests per call
//! (default 2000), `SWA_BENCH_CLOCK` the sandbox's speed-up for the rollout (default 60). Prints
//! p50/p95/p99/max in milliseconds, the client's own time included (upper bounds).

#![allow(clippy::unwrap_used, clippy::print_stdout)]

use std::time::{Duration, Instant};

use reqwest::{Client, Method, RequestBuilder};
use serde_json::{Value, json};
use swa_sandbox::{Options, Sandbox};

const TARGET_GROUP: &str = "arn:aws:elasticloadbalancing:us-east-1:123456789012:targetgroup/startupwebapp-tg/0123456789abcdef";

/// A named call the benchmark repeats: it builds a fresh request each time.
type Request = Box<dyn Fn() -> RequestBuilder>;
fn env_or<T: std::str::FromStr>(name: &str, default: T) -> T {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

/// A JSON 1.1 call: `target` is `AmazonEC2ContainerServiceV20141113.ListTasks`, ...
fn json_call(client: &Client, url: &str, target: &str, body: Value) -> RequestBuilder {
    client
        .post(url)
        .header("X-Amz-Target", target)
        .header("Content-Type", "application/x-amz-json-1.1")
        .body(body.to_string())
}

fn ecs(client: &Client, url: &str, op: &str, body: Value) -> RequestBuilder {
    json_call(
        client,
        url,
        &format!("AmazonEC2ContainerServiceV20141113.{op}"),
        body,
    )
}

async fn send(request: RequestBuilder) -> Value {
    let response = request.send().await.unwrap();
    assert!(response.status().is_success(), "{}", response.status());
    let body = response.bytes().await.unwrap();
    serde_json::from_slice(&body).unwrap_or(Value::Null)
}

fn quantile(sorted: &[f64], p: f64) -> f64 {
    sorted[((p * sorted.len() as f64) as usize).min(sorted.len() - 1)]
}

async fn latencies(sandbox: &Sandbox, n: usize) {
    let url = sandbox.aws_url();
    let client = Client::builder().pool_max_idle_per_host(1).build().unwrap();
    let cluster = "startupwebapp-cluster";
    let service = "startupwebapp-service";
    let tasks = send(ecs(
        &client,
        &url,
        "ListTasks",
        json!({"cluster": cluster, "serviceName": service}),
    ))
    .await["taskArns"]
        .clone();
    let task_id = tasks[0]
        .as_str()
        .and_then(|a| a.rsplit_once('/'))
        .map(|(_, id)| id.to_string())
        .unwrap();
    let calls: Vec<(&str, Request)> = vec![
        ("ecs DescribeServices", {
            let (c, u) = (client.clone(), url.clone());
            Box::new(move || {
                ecs(
                    &c,
                    &u,
                    "DescribeServices",
                    json!({"cluster": cluster, "services": [service]}),
                )
            })
        }),
        ("ecs DescribeTasks (2)", {
            let (c, u, t) = (client.clone(), url.clone(), tasks.clone());
            Box::new(move || {
                ecs(
                    &c,
                    &u,
                    "DescribeTasks",
                    json!({"cluster": cluster, "tasks": t}),
                )
            })
        }),
        ("ecs ListTasks", {
            let (c, u) = (client.clone(), url.clone());
            Box::new(move || {
                ecs(
                    &c,
                    &u,
                    "ListTasks",
                    json!({"cluster": cluster, "serviceName": service}),
                )
            })
        }),
        ("ecs DescribeTaskDefinition", {
            let (c, u) = (client.clone(), url.clone());
            Box::new(move || {
                ecs(
                    &c,
                    &u,
                    "DescribeTaskDefinition",
                    json!({"taskDefinition": "startupwebapp-service-task:3"}),
                )
            })
        }),
        ("logs GetLogEvents", {
            let (c, u) = (client.clone(), url.clone());
            let stream = format!("ecs/startupwebapp/{task_id}");
            Box::new(move || {
                json_call(
                    &c,
                    &u,
                    "Logs_20140328.GetLogEvents",
                    json!({
                        "logGroupName": "/ecs/startupwebapp-service",
                        "logStreamName": stream,
                        "startFromHead": true
                    }),
                )
            })
        }),
        ("ecr DescribeImages", {
            let (c, u) = (client.clone(), url.clone());
            Box::new(move || {
                json_call(
                    &c,
                    &u,
                    "AmazonEC2ContainerRegistry_V20150921.DescribeImages",
                    json!({
                        "repositoryName": "startupwebapp",
                        "imageIds": [{"imageTag": "release-4"}]
                    }),
                )
            })
        }),
        ("elbv2 DescribeTargetHealth", {
            let (c, u) = (client.clone(), url.clone());
            Box::new(move || {
                c.post(&u)
                    .header(
                        "Content-Type",
                        "application/x-www-form-urlencoded; charset=utf-8",
                    )
                    .body(format!(
                        "Action=DescribeTargetHealth&Version=2015-12-01&TargetGroupArn={}",
                        url::form_urlencoded::byte_serialize(TARGET_GROUP.as_bytes())
                            .collect::<String>()
                    ))
            })
        }),
        ("s3 PutObject (1 KiB)", {
            let (c, u) = (client.clone(), url.clone());
            Box::new(move || {
                c.put(format!("{u}/startupwebapp-frontend/site/app.css"))
                    .header("Content-Type", "text/css")
                    .header("Cache-Control", "public, max-age=31536000")
                    .body(vec![b'x'; 1024])
            })
        }),
        ("s3 HeadObject", {
            let (c, u) = (client.clone(), url.clone());
            Box::new(move || {
                c.request(
                    Method::HEAD,
                    format!("{u}/startupwebapp-frontend/site/app.css"),
                )
            })
        }),
        ("github list runs", {
            let (c, u) = (client.clone(), url.clone());
            Box::new(move || {
                c.get(format!(
                    "{u}/_github/repos/org/app/actions/runs?per_page=10"
                ))
                .header("Authorization", "Bearer t")
            })
        }),
        ("app /health", {
            let (c, u) = (client.clone(), url.clone());
            Box::new(move || c.get(format!("{u}/_app/health")))
        }),
    ];
    println!(
        "{:30} {:>7} {:>7} {:>7} {:>7}  (ms)",
        "call", "p50", "p95", "p99", "max"
    );
    for (name, request) in &calls {
        for _ in 0..50 {
            send(request()).await;
        }
        let mut samples = Vec::with_capacity(n);
        for _ in 0..n {
            let started = Instant::now();
            send(request()).await;
            samples.push(started.elapsed().as_secs_f64() * 1000.0);
        }
        samples.sort_by(f64::total_cmp);
        println!(
            "{name:30} {:7.3} {:7.3} {:7.3} {:7.3}",
            quantile(&samples, 0.50),
            quantile(&samples, 0.95),
            quantile(&samples, 0.99),
            samples[samples.len() - 1]
        );
    }
}

/// UpdateService (a forced new deployment) to COMPLETED, in wall time.
async fn rollout(sandbox: &Sandbox, clock: f64) {
    let client = Client::new();
    send(ecs(
        &client,
        &sandbox.aws_url(),
        "UpdateService",
        json!({"cluster": "startupwebapp-cluster", "service": "startupwebapp-service", "forceNewDeployment": true}),
    ))
    .await;
    let started = Instant::now();
    let at = |kind: &str| {
        sandbox
            .timeline()
            .iter()
            .rev()
            .find(|e| e.kind == kind)
            .map(|e| e.at_unix_ms)
    };
    let done = loop {
        if let Some(done) = at("deployment-completed") {
            break done;
        }
        assert!(
            started.elapsed() < Duration::from_secs(120),
            "the rollout did not complete within 120 s"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    let took = (done - at("deployment-created").unwrap()) as f64 / 1000.0;
    println!(
        "healthy rollout at clock x{clock}: deployment-created -> deployment-completed in {took:.2} s wall ({:.0} s virtual, 300 s of it the deregistration delay)",
        took * clock
    );
}

fn main() {
    let n = env_or("SWA_BENCH_REQUESTS", 2000usize);
    let clock = env_or("SWA_BENCH_CLOCK", 60.0f64);
    let sandbox = Sandbox::start(Options {
        clock,
        ..Options::default()
    })
    .unwrap();
    println!(
        "swa-sandbox, {} build, {} cores, {n} requests per call, clock x{clock}",
        if cfg!(debug_assertions) {
            "debug"
        } else {
            "release"
        },
        std::thread::available_parallelism().map_or(0, |n| n.get())
    );
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(async {
        latencies(&sandbox, n).await;
        rollout(&sandbox, clock).await;
    });
}

//! swa-sandbox: a local AWS (ECS with rollout physics, ECR, CloudWatch Logs and alarms, ELBv2, S3),
//! GitHub and StartupWebApp on one port, for tests and the demo.
//!
//! The AWS services are routed as LocalStack does: JSON services by `X-Amz-Target`, CloudWatch's
//! RPC v2 CBOR by `smithy-protocol` and its path, ELBv2 by the Query form's `Action`, S3
//! (path-style) by elimination. GitHub lives under `/_github`, the app under `/_app`, and the
//! control endpoint (`/_sandbox/calls`, `/_sandbox/timeline`, `/_sandbox/state`) under
//! `/_sandbox`.

use std::collections::BTreeMap;
use std::net::{IpAddr, Ipv4Addr, SocketAddr, TcpListener};
use std::sync::{Arc, Mutex, MutexGuard};
use std::thread::JoinHandle;
use std::time::Duration;

use axum::body::Body;
use axum::extract::State;
use axum::http::{HeaderMap, Method, Request, Response, StatusCode, Uri};
use serde_json::{Value, json};

mod api;
mod app;
mod cbor;
mod cli;
mod cloudwatch;
mod deployments;
mod ec2;
mod ecr;
mod ecs;
mod elb;
mod github;
mod limits;
mod logs;
mod records;
mod s3;
pub mod world;
mod xml;

pub use api::ApiError;
pub use app::{TEST_PASSWORD, TEST_USERNAME, VERSIONED_ASSET};
pub use cli::main as cli_main;
use world::Listener;
pub use world::{Call, Event, SCENARIOS};

use api::Reply;
use world::World;

/// How to start a sandbox.
#[derive(Clone, Debug)]
pub struct Options {
    /// `healthy` (default), or comma-separated scenario names, e.g. `crash-loop,throttling`.
    pub scenario: String,
    /// Time speed-up: 1.0 is real time.
    pub clock: f64,
    /// 0 picks any free port.
    pub port: u16,
    /// The address to listen on (and to hand out in the URLs): 127.0.0.1 by default; a docker
    /// bridge's gateway lets containers reach the sandbox.
    pub bind: IpAddr,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            scenario: "healthy".into(),
            clock: 1.0,
            port: 0,
            bind: IpAddr::V4(Ipv4Addr::LOCALHOST),
        }
    }
}

struct Shared {
    world: Mutex<World>,
}

impl Shared {
    fn lock(&self) -> MutexGuard<'_, World> {
        self.world.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// A running sandbox (on 127.0.0.1 unless told otherwise), served from its own thread and tokio
/// runtime; dropping it shuts it down.
pub struct Sandbox {
    addr: SocketAddr,
    shared: Arc<Shared>,
    shutdown: Option<tokio::sync::oneshot::Sender<()>>,
    thread: Option<JoinHandle<()>>,
}

impl Sandbox {
    pub fn start(options: Options) -> std::io::Result<Sandbox> {
        let scenario = world::Scenario::parse(&options.scenario)
            .map_err(|e| std::io::Error::new(std::io::ErrorKind::InvalidInput, e))?;
        if !(options.clock.is_finite() && options.clock > 0.0) {
            return Err(std::io::Error::new(
                std::io::ErrorKind::InvalidInput,
                format!("clock must be a positive number, not {}", options.clock),
            ));
        }
        let listener = TcpListener::bind(SocketAddr::new(options.bind, options.port))?;
        listener.set_nonblocking(true)?;
        let addr = listener.local_addr()?;
        let shared = Arc::new(Shared {
            world: Mutex::new(World::new(scenario, options.clock)),
        });
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .thread_name("swa-sandbox")
            .enable_all()
            .build()?;
        let (tx, rx) = tokio::sync::oneshot::channel::<()>();
        let served = shared.clone();
        let thread = std::thread::Builder::new()
            .name("swa-sandbox".into())
            .spawn(move || runtime.block_on(serve(listener, served, rx)))?;
        Ok(Sandbox {
            addr,
            shared,
            shutdown: Some(tx),
            thread: Some(thread),
        })
    }

    pub fn port(&self) -> u16 {
        self.addr.port()
    }

    /// `http://127.0.0.1:PORT` (the address it listens on): every AWS service.
    pub fn aws_url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// `http://127.0.0.1:PORT/_github`
    pub fn github_url(&self) -> String {
        format!("{}/_github", self.aws_url())
    }

    /// `http://127.0.0.1:PORT/_app`
    pub fn app_url(&self) -> String {
        format!("{}/_app", self.aws_url())
    }

    /// `http://127.0.0.1:PORT/_test`: the app through the test listener, which a blue/green,
    /// canary or linear deployment points at the new revision before production traffic.
    pub fn test_url(&self) -> String {
        format!("{}/_test", self.aws_url())
    }

    /// What a client needs: AWS_ENDPOINT_URL, the region (AWS_REGION for the SDKs,
    /// AWS_DEFAULT_REGION for awscli v1), dummy credentials, GITHUB_API_URL, APP_URL and
    /// TEST_URL.
    pub fn env(&self) -> Vec<(String, String)> {
        vec![
            ("AWS_ENDPOINT_URL".into(), self.aws_url()),
            ("AWS_REGION".into(), world::REGION.into()),
            ("AWS_DEFAULT_REGION".into(), world::REGION.into()),
            ("AWS_ACCESS_KEY_ID".into(), "sandbox".into()),
            ("AWS_SECRET_ACCESS_KEY".into(), "sandbox".into()),
            ("GITHUB_API_URL".into(), self.github_url()),
            ("APP_URL".into(), self.app_url()),
            ("TEST_URL".into(), self.test_url()),
        ]
    }

    /// Every request received, in order.
    pub fn calls(&self) -> Vec<Call> {
        self.shared.lock().calls.clone()
    }

    /// Timestamped facts (wall clock): deployments completed or failed, tasks stopped, ...
    pub fn timeline(&self) -> Vec<Event> {
        let mut w = self.shared.lock();
        w.advance();
        w.timeline.clone()
    }

    /// Changes the world as no API call can: a test words a service event, a stop reason or a
    /// log line as a hostile hand would. The world is brought up to now first.
    pub fn with_world<R>(&self, change: impl FnOnce(&mut World) -> R) -> R {
        let mut w = self.shared.lock();
        w.advance();
        change(&mut w)
    }

    /// The world as `GET /_sandbox/state` shows it.
    pub fn state(&self) -> Value {
        let mut w = self.shared.lock();
        w.advance();
        state_json(&w)
    }
}

impl Drop for Sandbox {
    fn drop(&mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

async fn serve(
    listener: TcpListener,
    shared: Arc<Shared>,
    shutdown: tokio::sync::oneshot::Receiver<()>,
) {
    let Ok(listener) = tokio::net::TcpListener::from_std(listener) else {
        return;
    };
    let ticker = shared.clone();
    let tick = tokio::spawn(async move {
        let mut interval = tokio::time::interval(Duration::from_millis(20));
        interval.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
        loop {
            interval.tick().await;
            ticker.lock().advance();
        }
    });
    let app = axum::Router::new().fallback(handle).with_state(shared);
    let _ = axum::serve(listener, app)
        .with_graceful_shutdown(async {
            let _ = shutdown.await;
        })
        .await;
    tick.abort();
}

async fn handle(State(shared): State<Arc<Shared>>, request: Request<Body>) -> Response<Body> {
    let (parts, body) = request.into_parts();
    let body = limits::read(body).await;
    let reply = {
        let mut w = shared.lock();
        w.advance();
        match &body {
            limits::RequestBody::Whole(body) => {
                dispatch(&mut w, &parts.method, &parts.uri, &parts.headers, body)
            }
            refused => limits::refuse(&mut w, &parts.method, &parts.uri, &parts.headers, refused),
        }
    };
    let mut response = Response::builder()
        .status(StatusCode::from_u16(reply.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR));
    for (k, v) in &reply.headers {
        response = response.header(k.as_str(), v.as_str());
    }
    response
        .body(Body::from(reply.body))
        .unwrap_or_else(|_| Response::new(Body::empty()))
}

fn header<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers.get(name).and_then(|v| v.to_str().ok())
}

fn record(w: &mut World, service: &str, operation: &str, request: Value, status: u16) {
    let seq = w.calls.len() as u64 + 1;
    w.calls.push(Call {
        seq,
        service: service.into(),
        operation: operation.into(),
        request,
        status,
    });
}

fn dispatch(w: &mut World, method: &Method, uri: &Uri, headers: &HeaderMap, body: &[u8]) -> Reply {
    let path = uri.path();
    let query: BTreeMap<String, String> = uri
        .query()
        .map(|q| {
            url::form_urlencoded::parse(q.as_bytes())
                .into_owned()
                .collect()
        })
        .unwrap_or_default();
    if let Some(rest) = path.strip_prefix("/_sandbox") {
        return control(w, rest);
    }
    if let Some(rest) = path.strip_prefix("/_github") {
        let base = format!(
            "http://{}/_github",
            header(headers, "host").unwrap_or("127.0.0.1")
        );
        let request = github::Request {
            method: method.as_str(),
            path: rest,
            query: query.clone(),
            authorization: header(headers, "authorization"),
            body,
            base,
        };
        let reply = github::handle(w, &request);
        let logged = json!({
            "method": method.as_str(),
            "path": rest,
            "query": query,
            "body": limits::bounded(
                serde_json::from_slice::<Value>(body).unwrap_or_else(|_| json!(String::from_utf8_lossy(body))),
                body,
            ),
        });
        let op = github::operation(method.as_str(), rest);
        record(w, "github", &op, logged, reply.status);
        return reply;
    }
    let app = match path.strip_prefix("/_app") {
        Some(rest) => Some((Listener::Production, rest)),
        None => path
            .strip_prefix("/_test")
            .map(|rest| (Listener::Test, rest)),
    };
    if let Some((listener, rest)) = app {
        let content_type = header(headers, "content-type").unwrap_or("");
        let cookie = header(headers, "cookie");
        let reply = app::handle(
            w,
            listener,
            method.as_str(),
            rest,
            content_type,
            cookie,
            body,
        );
        let mut logged = json!({"method": method.as_str(), "path": rest});
        if listener == Listener::Test {
            logged["listener"] = json!("test");
        }
        if app::operation(method.as_str(), rest) == "login" {
            // The password is never logged.
            logged["username"] = json!(login_username(content_type, body));
        }
        record(
            w,
            "app",
            &app::operation(method.as_str(), rest),
            logged,
            reply.status,
        );
        return reply;
    }
    if let Some(target) = header(headers, "x-amz-target") {
        return aws_json(w, target, body);
    }
    if header(headers, "smithy-protocol") == Some("rpc-v2-cbor") {
        return aws_cbor(w, path, body);
    }
    let content_type = header(headers, "content-type").unwrap_or("");
    if method == Method::POST && content_type.starts_with("application/x-www-form-urlencoded") {
        let form: BTreeMap<String, String> =
            url::form_urlencoded::parse(body).into_owned().collect();
        if let Some(action) = form.get("Action").cloned() {
            return aws_query(w, &action, form, body);
        }
    }
    let lowered: BTreeMap<String, String> = headers
        .iter()
        .filter_map(|(k, v)| {
            Some((
                k.as_str().to_ascii_lowercase(),
                v.to_str().ok()?.to_string(),
            ))
        })
        .collect();
    let rid = w.next_uuid();
    let request = s3::Request {
        method: method.as_str(),
        path,
        query: &query,
        headers: &lowered,
        body,
        request_id: rid.clone(),
    };
    let reply = s3::handle(w, &request).header("x-amz-request-id", rid);
    let op = s3::operation(method.as_str(), path, &query, &lowered);
    let logged = s3::logged(&request);
    record(w, "s3", op, logged, reply.status);
    reply
}

fn login_username(content_type: &str, body: &[u8]) -> String {
    if content_type.starts_with("application/json") {
        serde_json::from_slice::<Value>(body)
            .ok()
            .and_then(|v| v["username"].as_str().map(String::from))
            .unwrap_or_default()
    } else {
        url::form_urlencoded::parse(body)
            .find(|(k, _)| k == "username")
            .map(|(_, v)| v.into_owned())
            .unwrap_or_default()
    }
}

/// A deterministic fault for the throttling and server-errors scenarios, or none.
fn injected_fault(w: &mut World, service: &str) -> Option<ApiError> {
    if !(w.scenario.throttling || w.scenario.server_errors) || service == "ecr" {
        return None;
    }
    let counter = w.fault_counters.entry(service.to_string()).or_insert(0);
    let n = *counter;
    *counter += 1;
    if w.scenario.throttling && matches!(n % 6, 2 | 3) {
        let code = if matches!(service, "elbv2" | "cloudwatch") {
            "Throttling"
        } else {
            "ThrottlingException"
        };
        return Some(ApiError::new(400, code, "Rate exceeded"));
    }
    if w.scenario.server_errors && n % 5 == 4 {
        return Some(if (n / 5).is_multiple_of(2) {
            let code = match service {
                "ecs" => "ServerException",
                "elbv2" => "InternalFailure",
                "cloudwatch" => "InternalServiceError",
                _ => "ServiceUnavailableException",
            };
            ApiError::new(
                500,
                code,
                "We encountered an internal error. Please try again.",
            )
        } else {
            ApiError::new(503, "ServiceUnavailable", "Service Unavailable")
        });
    }
    None
}

fn aws_json(w: &mut World, target: &str, body: &[u8]) -> Reply {
    let (prefix, op) = target.split_once('.').unwrap_or((target, ""));
    let service = match prefix {
        "AmazonEC2ContainerServiceV20141113" => "ecs",
        "Logs_20140328" => "logs",
        "AmazonEC2ContainerRegistry_V20150921" => "ecr",
        cloudwatch::SERVICE => "cloudwatch",
        _ => "unknown",
    };
    let rid = w.next_uuid();
    let parsed: Result<Value, ApiError> = if body.iter().all(u8::is_ascii_whitespace) {
        Ok(json!({}))
    } else {
        match serde_json::from_slice::<Value>(body) {
            Ok(v @ Value::Object(_)) => Ok(v),
            Ok(_) => Err(ApiError::serialization(
                "Start of structure or map found where not expected.",
            )),
            Err(e) => Err(ApiError::serialization(format!(
                "The request body is not valid JSON: {e}"
            ))),
        }
    };
    let logged = match &parsed {
        Ok(v) => limits::bounded(v.clone(), body),
        Err(_) => limits::summary(body),
    };
    let result = if service == "unknown" {
        Err(ApiError::new(
            400,
            "UnknownOperationException",
            format!(
                "The target {target} names no service that swa-sandbox serves (ECS, ECR, CloudWatch Logs, CloudWatch over JSON; ELBv2 over Query)."
            ),
        ))
    } else if let Some(fault) = injected_fault(w, service) {
        Err(fault)
    } else {
        parsed.and_then(|req| match service {
            "ecs" => ecs::handle(w, op, &req),
            "logs" => logs::handle(w, op, &req),
            "cloudwatch" => cloudwatch::handle(w, op, &req),
            _ => ecr::handle(w, op, &req),
        })
    };
    // CloudWatch speaks JSON 1.0 and names its errors' Query codes too.
    let content_type = if service == "cloudwatch" {
        "application/x-amz-json-1.0"
    } else {
        "application/x-amz-json-1.1"
    };
    let reply = match result {
        Ok(v) => Reply::new(200, content_type, v.to_string()),
        Err(e) => {
            let kind = if service == "cloudwatch" {
                cloudwatch::error_type(&e.code)
            } else {
                e.code.clone()
            };
            let mut r = Reply::new(
                e.status,
                content_type,
                json!({"__type": kind, "message": e.message}).to_string(),
            )
            .header("x-amzn-errortype", format!("{}:", e.code));
            if service == "cloudwatch" {
                r = r.header("x-amzn-query-error", cloudwatch::query_error(&e));
            }
            for (k, v) in e.headers {
                r = r.header(&k, v);
            }
            r
        }
    };
    let reply = reply.header("x-amzn-requestid", rid);
    record(w, service, op, logged, reply.status);
    reply
}

/// Smithy RPC v2 CBOR: `POST /service/{service}/operation/{operation}` (CloudWatch).
fn aws_cbor(w: &mut World, path: &str, body: &[u8]) -> Reply {
    let rid = w.next_uuid();
    let (service, op) = path
        .strip_prefix("/service/")
        .and_then(|rest| rest.split_once("/operation/"))
        .unwrap_or(("", ""));
    let parsed = cbor::read(body)
        .map_err(|e| ApiError::serialization(format!("The request body is not valid CBOR: {e}")));
    let logged = match &parsed {
        Ok(v) => limits::bounded(v.clone(), body),
        Err(_) => limits::summary(body),
    };
    let result = if service != cloudwatch::SERVICE {
        Err(ApiError::new(
            404,
            "UnknownOperationException",
            format!(
                "The path {path} names no operation that swa-sandbox serves over RPC v2 CBOR (CloudWatch)."
            ),
        ))
    } else if let Some(fault) = injected_fault(w, "cloudwatch") {
        Err(fault)
    } else {
        parsed.and_then(|req| cloudwatch::handle(w, op, &req))
    };
    let (status, value, query_error) = match result {
        Ok(v) => (200, v, None),
        Err(e) => (
            e.status,
            json!({"__type": cloudwatch::error_type(&e.code), "message": e.message}),
            Some(cloudwatch::query_error(&e)),
        ),
    };
    let mut reply = Reply::new(status, "application/cbor", cbor::write(&value))
        .header("smithy-protocol", "rpc-v2-cbor")
        .header("x-amzn-requestid", rid);
    if let Some(q) = query_error {
        reply = reply.header("x-amzn-query-error", q);
    }
    record(w, "cloudwatch", op, logged, reply.status);
    reply
}

fn aws_query(w: &mut World, action: &str, form: BTreeMap<String, String>, body: &[u8]) -> Reply {
    let rid = w.next_uuid();
    if ec2::serves(action) {
        let reply = match ec2::handle(action, &form, &rid) {
            Ok(xml) => Reply::new(200, "text/xml;charset=UTF-8", xml),
            Err(e) => Reply::new(
                e.status,
                "text/xml;charset=UTF-8",
                ec2::error_xml(&e.code, &e.message, &rid),
            ),
        };
        record(
            w,
            "ec2",
            action,
            limits::bounded(json!(form), body),
            reply.status,
        );
        return reply;
    }
    let result = match injected_fault(w, "elbv2") {
        Some(fault) => Err(fault),
        None => elb::handle(w, action, &form, &rid),
    };
    let reply = match result {
        Ok(xml) => Reply::new(200, "text/xml", xml),
        Err(e) => Reply::new(
            e.status,
            "text/xml",
            elb::error_xml(&e.code, &e.message, &rid),
        ),
    };
    let reply = reply.header("x-amzn-requestid", rid);
    let logged = limits::bounded(json!(form), body);
    record(w, "elbv2", action, logged, reply.status);
    reply
}

fn state_json(w: &World) -> Value {
    let task_definitions: Vec<Value> = w
        .task_definitions
        .values()
        .flatten()
        .map(|t| {
            json!({
                "arn": t.arn,
                "family": t.family,
                "revision": t.revision,
                "image": t.essential_container()["image"],
                "registeredAfterStart": t.new,
                "status": if t.active { "ACTIVE" } else { "INACTIVE" },
            })
        })
        .collect();
    let tasks: Vec<Value> = w.tasks.iter().map(ecs::task_json).collect();
    let images: Vec<Value> = w
        .images
        .iter()
        .map(|i| json!({"digest": i.digest, "tags": i.tags}))
        .collect();
    let now = w.clock.now();
    let runs: Vec<Value> = w
        .runs
        .iter()
        .filter(|r| r.created_at <= now)
        .map(|r| github::run_json(r, "/_github", now))
        .collect();
    json!({
        "scenario": w.scenario_names(),
        "clock": w.clock.speed(),
        "virtualNow": world::iso8601(now),
        "service": ecs::service_json(w),
        "taskDefinitions": task_definitions,
        "tasks": tasks,
        "images": images,
        "workflowRuns": runs,
        "serviceDeployments": deployments::state_json(w),
        "githubDeployments": records::state_json(w),
    })
}

fn control(w: &mut World, rest: &str) -> Reply {
    match rest.trim_end_matches('/') {
        "/calls" => Reply::json(200, &json!(w.calls)),
        "/timeline" => Reply::json(200, &json!(w.timeline)),
        "/state" => Reply::json(200, &state_json(w)),
        "" => Reply::json(
            200,
            &json!({"endpoints": ["/_sandbox/calls", "/_sandbox/timeline", "/_sandbox/state"]}),
        ),
        other => Reply::json(
            404,
            &json!({"message": format!("no control endpoint {other}")}),
        ),
    }
}

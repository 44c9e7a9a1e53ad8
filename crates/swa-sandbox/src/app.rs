//! StartupWebApp itself, as the load balancer serves it: `/health` (with each database), the
//! frontend's index page and a versioned asset, login, the logged-in user's orders and the
//! Stripe publishable key.

use std::collections::BTreeMap;

use serde_json::{Value, json};

use crate::api::Reply;
use crate::world::*;

/// The test user the login endpoint accepts.
pub const TEST_USERNAME: &str = "smoke-test";
pub const TEST_PASSWORD: &str = "sandbox-password";

/// A library the frontend ships under its version, cached for a year.
pub const VERSIONED_ASSET: &str = "/js/jquery-3.7.1.min.js";

/// The databases the app reports in `/health`.
const DATABASES: [&str; 3] = ["default", "orders", "analytics"];

pub fn operation(method: &str, path: &str) -> String {
    match (method, path.trim_end_matches('/')) {
        (_, "/health") => "health".into(),
        ("GET", "" | "/index.html") => "index".into(),
        (_, "/user/login") => "login".into(),
        (_, "/user/orders") => "orders".into(),
        (_, "/order/stripe-publishable-key") => "stripe-key".into(),
        ("GET", VERSIONED_ASSET) => "asset".into(),
        _ => format!("{method} {path}"),
    }
}

pub fn handle(
    w: &mut World,
    listener: Listener,
    method: &str,
    path: &str,
    content_type: &str,
    cookie: Option<&str>,
    body: &[u8],
) -> Reply {
    let served = w.served(listener);
    let path = path.trim_end_matches('/');
    if w.scenario.test_fails && served.new && path != "/health" {
        return Reply::json(500, &json!({"error": "Server Error (500)"}));
    }
    match (method, path) {
        ("GET" | "HEAD", "/health") => health(w, &served),
        ("GET" | "HEAD", "" | "/index.html") => Reply::new(200, "text/html; charset=utf-8", INDEX),
        ("GET" | "HEAD", VERSIONED_ASSET) => {
            Reply::new(200, "application/javascript", "/*! jQuery v3.7.1 */\n")
                .header("cache-control", "public, max-age=31536000, immutable")
        }
        ("POST", "/user/login") => {
            let broken = w.scenario.login_broken
                || (w.scenario.production_login_broken && listener == Listener::Production);
            login(w, served.new && broken, content_type, body)
        }
        ("GET" | "HEAD", "/user/orders") => orders(w, cookie),
        ("GET" | "HEAD", "/order/stripe-publishable-key") => Reply::json(
            200,
            &json!({"publishable_key": "pk_test_51SandboxStartupWebApp"}),
        ),
        (_, "/health" | "/user/orders" | "/order/stripe-publishable-key") => Reply::json(
            405,
            &json!({"detail": format!("Method \"{method}\" not allowed.")}),
        )
        .header("allow", "GET, HEAD"),
        (_, "/user/login") => Reply::json(
            405,
            &json!({"detail": format!("Method \"{method}\" not allowed.")}),
        )
        .header("allow", "POST"),
        _ => Reply::json(404, &json!({"detail": "Not found."})),
    }
}

fn health(w: &World, served: &Served) -> Reply {
    let serving: Vec<&Task> = w
        .tasks
        .iter()
        .filter(|t| t.healthy_target())
        .filter(|t| served.shifted_to.as_ref().is_none_or(|td| &t.td_arn == td))
        .collect();
    let version = serving
        .iter()
        .max_by_key(|t| t.created_at)
        .and_then(|t| t.containers.first())
        .map(|c| match c.image.split_once('@') {
            Some((_, digest)) => digest.to_string(),
            None => c.image.rsplit(':').next().unwrap_or_default().to_string(),
        })
        .unwrap_or_default();
    if serving.is_empty() {
        return Reply::json(
            503,
            &json!({"status": "unhealthy", "database": "unknown", "error": "no healthy targets behind the load balancer"}),
        );
    }
    if served.broken {
        return Reply::json(
            503,
            &json!({"status": "unhealthy", "database": "ok", "error": "the deployed revision is failing"}),
        )
        .header("x-app-version", version);
    }
    let databases: serde_json::Map<String, Value> = DATABASES
        .iter()
        .map(|name| {
            let state = if *name == "analytics" && w.scenario.database_down && served.new {
                "error: could not connect to server: Connection refused"
            } else {
                "ok"
            };
            (name.to_string(), Value::from(state))
        })
        .collect();
    if databases.values().any(|state| state != "ok") {
        return Reply::json(
            503,
            &json!({"status": "unhealthy", "database": "ok", "databases": databases}),
        )
        .header("x-app-version", version);
    }
    Reply::json(
        200,
        &json!({"status": "healthy", "database": "ok", "databases": databases}),
    )
    .header("x-app-version", version)
}

/// The logged-in user's orders: the session cookie login handed out, else 401.
fn orders(w: &World, cookie: Option<&str>) -> Reply {
    let session = cookie.and_then(|c| {
        c.split(';')
            .filter_map(|pair| pair.trim().split_once('='))
            .find(|(name, _)| *name == "sessionid")
            .map(|(_, value)| value.to_string())
    });
    if !session.is_some_and(|s| w.sessions.contains(&s)) {
        return Reply::json(
            401,
            &json!({"detail": "Authentication credentials were not provided."}),
        );
    }
    Reply::json(
        200,
        &json!({"username": TEST_USERNAME, "orders": [
            {"identifier": "ORD-1001", "status": "shipped", "total": "42.00"},
            {"identifier": "ORD-1002", "status": "processing", "total": "17.50"}
        ]}),
    )
}

/// `broken`: the scenario breaks the login of the revision that answers.
fn login(w: &mut World, broken: bool, content_type: &str, body: &[u8]) -> Reply {
    if broken {
        return Reply::json(500, &json!({"error": "Server Error (500)"}));
    }
    let fields: BTreeMap<String, String> = if content_type.starts_with("application/json") {
        match serde_json::from_slice::<Value>(body) {
            Ok(Value::Object(map)) => map
                .into_iter()
                .filter_map(|(k, v)| v.as_str().map(|s| (k, s.to_string())))
                .collect(),
            _ => {
                return Reply::json(
                    400,
                    &json!({"login": false, "error": "Malformed JSON body."}),
                );
            }
        }
    } else {
        url::form_urlencoded::parse(body).into_owned().collect()
    };
    let ok = fields.get("username").map(String::as_str) == Some(TEST_USERNAME)
        && fields.get("password").map(String::as_str) == Some(TEST_PASSWORD);
    if !ok {
        return Reply::json(
            401,
            &json!({"login": false, "error": "Invalid username or password."}),
        );
    }
    let session = w.next_hex(32);
    w.sessions.insert(session.clone());
    Reply::json(200, &json!({"login": true, "username": TEST_USERNAME})).header(
        "set-cookie",
        format!("sessionid={session}; HttpOnly; Max-Age=1209600; Path=/; SameSite=Lax"),
    )
}

const INDEX: &str = r#"<!DOCTYPE html>
<html lang="en">
<head>
  <meta charset="utf-8">
  <title>StartupWebApp</title>
  <link rel="stylesheet" href="/css/main.css">
</head>
<body>
  <header><h1>StartupWebApp</h1></header>
  <main id="app">
    <p>Welcome to StartupWebApp.</p>
    <a href="/login">Log in</a>
  </main>
  <script src="/js/jquery-3.7.1.min.js"></script>
  <script src="/js/index.js"></script>
</body>
</html>
"#;

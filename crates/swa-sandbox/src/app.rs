//! StartupWebApp itself, as the load balancer serves it: `/health`, the frontend's index page
//! and the login endpoint.

use std::collections::BTreeMap;

use serde_json::{Value, json};

use crate::api::Reply;
use crate::world::*;

/// The test user the login endpoint accepts.
pub const TEST_USERNAME: &str = "smoke-test";
pub const TEST_PASSWORD: &str = "sandbox-password";

pub fn operation(method: &str, path: &str) -> String {
    match (method, path.trim_end_matches('/')) {
        (_, "/health") => "health".into(),
        ("GET", "" | "/index.html") => "index".into(),
        (_, "/user/login") => "login".into(),
        _ => format!("{method} {path}"),
    }
}

pub fn handle(w: &mut World, method: &str, path: &str, content_type: &str, body: &[u8]) -> Reply {
    match (method, path.trim_end_matches('/')) {
        ("GET" | "HEAD", "/health") => health(w),
        ("GET" | "HEAD", "" | "/index.html") => Reply::new(200, "text/html; charset=utf-8", INDEX),
        ("POST", "/user/login") => login(w, content_type, body),
        (_, "/health" | "/user/login") => Reply::json(
            405,
            &json!({"detail": format!("Method \"{method}\" not allowed.")}),
        )
        .header(
            "allow",
            if path.contains("login") {
                "POST"
            } else {
                "GET, HEAD"
            },
        ),
        _ => Reply::json(404, &json!({"detail": "Not found."})),
    }
}

fn health(w: &World) -> Reply {
    let serving: Vec<&Task> = w.tasks.iter().filter(|t| t.healthy_target()).collect();
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
    if w.deployed_revision_broken() {
        return Reply::json(
            503,
            &json!({"status": "unhealthy", "database": "ok", "error": "the deployed revision is failing"}),
        )
        .header("x-app-version", version);
    }
    Reply::json(200, &json!({"status": "healthy", "database": "ok"}))
        .header("x-app-version", version)
}

fn login(w: &mut World, content_type: &str, body: &[u8]) -> Reply {
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
  <script src="/js/index.js"></script>
</body>
</html>
"#;

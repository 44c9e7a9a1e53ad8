//! The `checks` input: YAML, inline or in a file, read strictly.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

use regex::Regex;
use reqwest::Method;
use reqwest::header::{HeaderName, HeaderValue};
use serde::Deserialize;
use swa_gha::{ActionError, Env};

use crate::expand::Filler;

/// One check as written in the YAML.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
struct CheckSpec {
    name: Option<String>,
    path: Option<String>,
    url: Option<String>,
    method: Option<String>,
    #[serde(default)]
    headers: BTreeMap<String, String>,
    body: Option<serde_json::Value>,
    expect_status: Option<StatusSpec>,
    expect_json: Option<serde_json::Value>,
    expect_body: Option<String>,
    #[serde(default)]
    expect_headers: BTreeMap<String, String>,
    max_latency_ms: Option<u64>,
    after: Option<String>,
}

impl CheckSpec {
    /// The check with the `${NAME}` variables of its path, url, headers and body filled in.
    fn filled(self, filler: &mut Filler) -> CheckSpec {
        CheckSpec {
            path: self.path.map(|p| filler.text(&p)),
            url: self.url.map(|u| filler.text(&u)),
            headers: self
                .headers
                .into_iter()
                .map(|(name, value)| (name, filler.text(&value)))
                .collect(),
            body: self.body.map(|b| filler.json(b)),
            ..self
        }
    }
}

#[derive(Debug, Deserialize)]
#[serde(untagged)]
enum StatusSpec {
    One(u16),
    Many(Vec<u16>),
}

/// A check ready to run.
#[derive(Debug, Clone)]
pub struct Check {
    pub name: String,
    pub method: Method,
    pub url: String,
    pub headers: Vec<(HeaderName, HeaderValue)>,
    pub body: Option<Body>,
    pub expect_status: Vec<u16>,
    pub expect_json: Option<serde_json::Value>,
    pub expect_body: Option<Regex>,
    /// Response headers that must be there, each matching its regex.
    pub expect_headers: Vec<(HeaderName, Regex)>,
    pub max_latency_ms: Option<u64>,
    /// The earlier check this one starts after (its index), so that it sees the cookies that
    /// check's answers set (a login's session).
    pub after: Option<usize>,
}

#[derive(Debug, Clone)]
pub enum Body {
    Text(String),
    Json(serde_json::Value),
}

/// Header names whose values are secrets: masked before anything is printed, never reported.
pub fn is_secret_header(name: &str) -> bool {
    let name = name.to_ascii_lowercase();
    name == "authorization"
        || name == "proxy-authorization"
        || name == "cookie"
        || name == "set-cookie"
        || ["token", "secret", "api-key", "apikey", "password", "auth"]
            .iter()
            .any(|word| name.contains(word))
}

/// The default when only `base-url` is given: `GET /health` answers 200 with
/// `{"status": "healthy"}`.
pub fn default_checks(base_url: &str) -> Vec<Check> {
    vec![Check {
        name: "GET /health".into(),
        method: Method::GET,
        url: join(base_url, "/health"),
        headers: Vec::new(),
        body: None,
        expect_status: vec![200],
        expect_json: Some(serde_json::json!({"status": "healthy"})),
        expect_body: None,
        expect_headers: Vec::new(),
        max_latency_ms: None,
        after: None,
    }]
}

/// The YAML text of the `checks` input: the file it names, or the value itself.
pub fn checks_text(value: &str, workspace: Option<&str>) -> Result<String, ActionError> {
    let trimmed = value.trim();
    let one_line = !trimmed.contains('\n');
    if one_line && !trimmed.starts_with('[') && !trimmed.starts_with('-') {
        // A relative path is the checked-out repository's: the step's working directory (a
        // Docker action's is the workspace), else GITHUB_WORKSPACE (which a runner on the host
        // may name by its host path, not where the container sees it).
        let mut path = Path::new(trimmed).to_path_buf();
        if path.is_relative()
            && !path.is_file()
            && let Some(ws) = workspace
        {
            path = Path::new(ws).join(path);
        }
        if path.is_file() {
            return std::fs::read_to_string(&path).map_err(|e| {
                ActionError::input(
                    "checks",
                    format!("names `{trimmed}`, which cannot be read: {e}"),
                )
            });
        }
        if trimmed.ends_with(".yml") || trimmed.ends_with(".yaml") {
            return Err(ActionError::input(
                "checks",
                format!("names the file `{trimmed}`, which does not exist"),
            ));
        }
    }
    Ok(value.to_string())
}

/// The checks a `checks` text asks for, with their `${NAME}` variables filled from `env`, and
/// those skipped because a variable they need is not set, or the check they run after was
/// skipped.
#[derive(Debug)]
pub struct Parsed {
    pub checks: Vec<Check>,
    pub skipped: Vec<(String, Skip)>,
}

/// Why a check is skipped.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Skip {
    /// The variables it needs that are unset.
    Unset(Vec<String>),
    /// The check it runs after, which is skipped.
    After(String),
}

pub fn parse_checks(text: &str, base_url: Option<&str>, env: &Env) -> Result<Parsed, ActionError> {
    let specs: Vec<CheckSpec> = serde_yaml_ng::from_str(text).map_err(|e| {
        ActionError::input(
            "checks",
            format!("is not a list of checks: {}", yaml_error(&e)),
        )
    })?;
    if specs.is_empty() {
        return Err(ActionError::input(
            "checks",
            "is an empty list; leave it out to check GET /health",
        ));
    }
    let mut checks: Vec<Check> = Vec::with_capacity(specs.len());
    let mut skipped: Vec<(String, Skip)> = Vec::new();
    for (i, spec) in specs.into_iter().enumerate() {
        let mut filler = Filler::new(env);
        let spec = spec.filled(&mut filler);
        let label = spec
            .name
            .clone()
            .unwrap_or_else(|| format!("check {}", i + 1));
        let after = match spec.after.as_deref().map(str::trim) {
            None => None,
            Some(name) if skipped.iter().any(|(s, _)| s == name) => {
                skipped.push((label, Skip::After(name.to_string())));
                continue;
            }
            Some(name) => match checks.iter().position(|c| c.name == name) {
                Some(index) => Some(index),
                None => {
                    return Err(ActionError::input(
                        "checks",
                        format!(
                            "check {} (`{label}`) runs `after` `{name}`, which is not the name of a check before it",
                            i + 1
                        ),
                    ));
                }
            },
        };
        if filler.missing.is_empty() {
            let mut check = build(i + 1, spec, base_url)?;
            check.after = after;
            checks.push(check);
        } else {
            skipped.push((label, Skip::Unset(filler.missing.into_iter().collect())));
        }
    }
    if checks.is_empty() {
        return Err(ActionError::input(
            "checks",
            format!(
                "has no check left to run: each needs a variable that is not set ({}); set them \
                 in the step's `env:`",
                skipped
                    .iter()
                    .flat_map(|(_, skip)| match skip {
                        Skip::Unset(names) => names.as_slice(),
                        Skip::After(_) => &[],
                    })
                    .map(String::as_str)
                    .collect::<BTreeSet<_>>()
                    .into_iter()
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
        ));
    }
    let mut seen = std::collections::BTreeSet::new();
    for check in &checks {
        if !seen.insert(check.name.clone()) {
            return Err(ActionError::input(
                "checks",
                format!(
                    "has two checks named `{}`; give each a distinct `name`",
                    check.name
                ),
            ));
        }
    }
    Ok(Parsed { checks, skipped })
}

/// What is wrong with the YAML, where, and under which key, but never the value: serde's own
/// messages quote it (`invalid type: string "Authorization: Bearer …"`), and the text may be a
/// file that is not a list of checks at all.
fn yaml_error(error: &serde_yaml_ng::Error) -> String {
    let at = error
        .location()
        .map(|l| format!(" (line {}, column {})", l.line(), l.column()))
        .unwrap_or_default();
    let text = error.to_string();
    let text = match text.rfind(" at line ") {
        Some(end) if error.location().is_some() => &text[..end],
        _ => text.as_str(),
    };
    const HEADS: &[&str] = &[
        "invalid type: ",
        "invalid value: ",
        "invalid length ",
        "unknown field ",
        "missing field ",
        "duplicate field ",
        "data did not match any variant",
    ];
    let Some((start, head)) = HEADS
        .iter()
        .filter_map(|head| text.find(head).map(|i| (i, *head)))
        .min_by_key(|(i, _)| *i)
    else {
        // A YAML syntax error: libyaml names the problem, not the text.
        return if text.contains(['"', '`', '\'']) {
            format!("it is not valid YAML{at}")
        } else {
            format!("{text}{at}")
        };
    };
    let key = text[..start]
        .strip_suffix(": ")
        .map(where_in_checks)
        .unwrap_or_else(|| "the document ".to_string());
    let message = &text[start..];
    let problem = match head {
        "invalid type: " | "invalid value: " => {
            let rest = &message[head.len()..];
            let (found, expected) = rest.rsplit_once(", expected ").unwrap_or((rest, "?"));
            // `string "…"`, `integer `5``, `map`: the kind, without the value.
            let kind = found.split(['"', '`']).next().unwrap_or_default().trim();
            format!("is {} {kind}, expected {expected}", article(kind))
        }
        "unknown field " => format!(
            "has an {}",
            message.replacen("unknown field", "unknown key", 1)
        ),
        _ => message.to_string(),
    };
    let problem = if problem.contains('"') {
        "does not have the form of a list of checks".to_string()
    } else {
        problem
    };
    format!("{key}{problem}{at}")
}

/// serde_yaml's path (`.[0].headers`) in the input's words (`check 1 `headers` `).
fn where_in_checks(path: &str) -> String {
    let path = path.trim_start_matches('.');
    let check = path
        .strip_prefix('[')
        .and_then(|p| p.split_once(']'))
        .and_then(|(n, rest)| Some((n.parse::<usize>().ok()? + 1, rest)));
    match check {
        Some((n, "")) => format!("check {n} "),
        Some((n, rest)) => format!("check {n} `{}` ", rest.trim_start_matches('.')),
        None if path.is_empty() => "the document ".to_string(),
        None => format!("`{path}` "),
    }
}

fn article(kind: &str) -> &'static str {
    if kind.starts_with(['a', 'e', 'i', 'o', 'u']) {
        "an"
    } else {
        "a"
    }
}

fn build(n: usize, spec: CheckSpec, base_url: Option<&str>) -> Result<Check, ActionError> {
    let label = spec
        .name
        .as_deref()
        .map(|name| format!("check {n} (`{name}`)"))
        .unwrap_or_else(|| format!("check {n}"));
    let bad = |message: String| ActionError::input("checks", format!("{label} {message}"));
    let method_text = spec
        .method
        .as_deref()
        .unwrap_or("GET")
        .trim()
        .to_ascii_uppercase();
    let unknown_method = || {
        bad("has an unknown `method`; use GET, HEAD, POST, PUT, PATCH, DELETE or OPTIONS".into())
    };
    let method = match method_text.as_str() {
        "GET" | "HEAD" | "POST" | "PUT" | "PATCH" | "DELETE" | "OPTIONS" => {
            Method::from_bytes(method_text.as_bytes()).map_err(|_| unknown_method())?
        }
        _ => return Err(unknown_method()),
    };
    let (url, shown) = match (&spec.path, &spec.url) {
        (Some(_), Some(_)) => return Err(bad("has both `path` and `url`; give one".into())),
        (None, None) => return Err(bad("has neither `path` nor `url`".into())),
        (Some(path), None) => {
            if !path.starts_with('/') {
                return Err(bad(
                    "has a `path` that does not start with /; it must start with /".into(),
                ));
            }
            let Some(base) = base_url else {
                return Err(ActionError::input(
                    "base-url",
                    format!("is required: {label} gives a `path`, not a full `url`"),
                ));
            };
            (join(base, path), path.clone())
        }
        (None, Some(url)) => {
            check_url(url).map_err(|e| bad(format!("has a `url` that {e}")))?;
            (url.clone(), url.clone())
        }
    };
    let mut headers = Vec::new();
    for (name, value) in &spec.headers {
        let header_name = HeaderName::from_bytes(name.as_bytes())
            .map_err(|_| bad("has a header name in `headers` that HTTP cannot carry".into()))?;
        let mut header_value = HeaderValue::from_str(value).map_err(|_| {
            // The value may be a secret: name the header only.
            bad(format!(
                "has a value for header `{name}` that HTTP cannot carry"
            ))
        })?;
        if is_secret_header(name) {
            header_value.set_sensitive(true);
        }
        headers.push((header_name, header_value));
    }
    let body = spec.body.map(|b| match b {
        serde_json::Value::String(s) => Body::Text(s),
        other => Body::Json(other),
    });
    let expect_status = match spec.expect_status {
        None => vec![200],
        Some(StatusSpec::One(s)) => vec![s],
        Some(StatusSpec::Many(list)) => list,
    };
    if expect_status.is_empty() || expect_status.iter().any(|s| !(100..=599).contains(s)) {
        return Err(bad(
            "has an `expect-status` that is not an HTTP status; give one (100-599) or a list of them"
                .into(),
        ));
    }
    let mut expect_headers = Vec::new();
    for (name, pattern) in &spec.expect_headers {
        let header_name = HeaderName::from_bytes(name.as_bytes()).map_err(|_| {
            bad("has a header name in `expect-headers` that HTTP cannot carry".into())
        })?;
        let regex = Regex::new(pattern).map_err(|e| {
            bad(format!(
                "has an `expect-headers` pattern for `{name}` that is not a regex: {e}"
            ))
        })?;
        expect_headers.push((header_name, regex));
    }
    let expect_body = match &spec.expect_body {
        None => None,
        Some(pattern) => Some(
            Regex::new(pattern)
                .map_err(|e| bad(format!("has an `expect-body` that is not a regex: {e}")))?,
        ),
    };
    let name = spec
        .name
        .map(|n| n.trim().to_string())
        .filter(|n| !n.is_empty())
        .unwrap_or_else(|| format!("{method} {shown}"));
    Ok(Check {
        name,
        method,
        url,
        headers,
        body,
        expect_status,
        expect_json: spec.expect_json,
        expect_body,
        expect_headers,
        max_latency_ms: spec.max_latency_ms,
        after: None,
    })
}

/// An absolute http(s) URL.
pub fn check_url(text: &str) -> Result<(), String> {
    let url = url::Url::parse(text.trim()).map_err(|e| format!("is not a URL ({e})"))?;
    if !matches!(url.scheme(), "http" | "https") || url.host_str().is_none() {
        return Err("is not an http(s) URL".into());
    }
    Ok(())
}

/// `http://host/_app` + `/health` = `http://host/_app/health`: the base URL's path is kept.
pub fn join(base: &str, path: &str) -> String {
    format!("{}{}", base.trim_end_matches('/'), path)
}

/// The URL as reported: credentials in it are dropped, and the values of query parameters
/// that carry secrets (`token`, `api_key`, `sig`, ...) are replaced with `***`.
pub fn shown_url(text: &str) -> String {
    match url::Url::parse(text) {
        Ok(mut url) => {
            let _ = url.set_username("");
            let _ = url.set_password(None);
            if url.query().is_some() {
                let pairs: Vec<(String, String)> = url
                    .query_pairs()
                    .map(|(k, v)| {
                        let key = k.to_ascii_lowercase().replace('_', "-");
                        let secret = is_secret_header(&key)
                            || matches!(key.as_str(), "key" | "sig" | "signature" | "code");
                        let value = if secret {
                            "***".to_string()
                        } else {
                            v.into_owned()
                        };
                        (k.into_owned(), value)
                    })
                    .collect();
                url.query_pairs_mut().clear().extend_pairs(pairs);
            }
            url.to_string()
        }
        Err(_) => text.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_every_field_in_kebab_case() {
        let checks = parse_checks(
            r#"
- name: login
  path: /user/login
  method: post
  headers: {Content-Type: application/json, Authorization: "Bearer abc"}
  body: {username: smoke, password: pw}
  expect-status: [200, 302]
  expect-json: {ok: true}
  expect-body: '"ok"'
  max-latency-ms: 800
- url: https://www.example.com/
"#,
            Some("http://127.0.0.1:9/_app/"),
            &Env::default(),
        )
        .expect("checks")
        .checks;
        assert_eq!(checks.len(), 2);
        let login = &checks[0];
        assert_eq!(login.name, "login");
        assert_eq!(login.method, Method::POST);
        assert_eq!(login.url, "http://127.0.0.1:9/_app/user/login");
        assert_eq!(login.expect_status, [200, 302]);
        assert!(
            login
                .headers
                .iter()
                .any(|(n, v)| n == "authorization" && v.is_sensitive())
        );
        assert!(matches!(login.body, Some(Body::Json(_))));
        assert_eq!(login.max_latency_ms, Some(800));
        assert_eq!(checks[1].name, "GET https://www.example.com/");
        assert_eq!(checks[1].expect_status, [200]);
    }

    #[test]
    fn an_unknown_key_is_named() {
        let e = parse_checks(
            "- path: /health\n  expect_status: 200\n",
            Some("http://x"),
            &Env::default(),
        )
        .expect_err("unknown key");
        let text = e.to_string();
        assert!(
            text.starts_with("input `checks` is not a list of checks: "),
            "{text}"
        );
        assert!(
            text.contains("check 1 has an unknown key `expect_status`, expected one of `name`"),
            "{text}"
        );
    }

    #[test]
    fn a_path_needs_a_base_url_and_a_check_needs_a_target() {
        let e = parse_checks("- path: /health\n", None, &Env::default()).expect_err("no base");
        assert!(
            e.to_string().starts_with("input `base-url` is required"),
            "{e}"
        );
        let e =
            parse_checks("- name: x\n", Some("http://x"), &Env::default()).expect_err("no target");
        assert_eq!(
            e.to_string(),
            "input `checks` check 1 (`x`) has neither `path` nor `url`"
        );
        let e = parse_checks("- url: ftp://x/\n", None, &Env::default()).expect_err("ftp");
        assert!(e.to_string().contains("is not an http(s) URL"), "{e}");
        let e = parse_checks(
            "- path: /a\n  expect-body: '('\n",
            Some("http://x"),
            &Env::default(),
        )
        .expect_err("regex");
        assert!(e.to_string().contains("not a regex"), "{e}");
    }

    #[test]
    fn secret_headers_are_recognised() {
        for name in [
            "Authorization",
            "cookie",
            "X-Api-Key",
            "X-Auth-Token",
            "Set-Cookie",
        ] {
            assert!(is_secret_header(name), "{name}");
        }
        assert!(!is_secret_header("Content-Type"));
    }

    #[test]
    fn credentials_in_urls_are_not_reported() {
        assert_eq!(
            shown_url("https://u:p@x.example/a?b=1"),
            "https://x.example/a?b=1"
        );
        assert_eq!(
            shown_url("https://x.example/a?access_token=s3cr3t&page=2&api-key=k"),
            "https://x.example/a?access_token=***&page=2&api-key=***"
        );
    }
}

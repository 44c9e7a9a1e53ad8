//! What a task-definition diff may show.
//!
//! A task definition carries configuration and, too often, secrets: a `DATABASE_URL` with its
//! password, an API token in the environment, a Splunk token in the log options. The diff a
//! deploy prints must stay useful without printing any of them:
//!
//! - Environment values are replaced by a marker unless the variable's name is on the
//!   [`SHOWN_ENVIRONMENT`] list: `<redacted>` when the value is the same on both sides,
//!   `<redacted, changed>`, `<redacted, added>` or `<redacted, removed>` otherwise. Nothing
//!   derived from the value (no length, no hash) is shown.
//! - Values of log-driver options and Docker labels whose key names a secret (`token`,
//!   `password`, `secret`, `key`, ...) get the same markers.
//! - Credentials in URLs (`scheme://user:pass@host`) become `user:***@`, in every string of the
//!   task definition, shown environment values included.
//! - `secrets` entries are references (`valueFrom`, an ARN or a parameter name) and are shown as
//!   they are: the value never is in the task definition.

use serde_json::Value;

/// Environment variables whose values a diff shows (names compared case-insensitively; `*`
/// stands for any prefix). Values that are configuration, not credentials. A name that also
/// contains a secret word (`PASSWORD`, `SECRET`, `TOKEN`, `KEY`, `CREDENTIAL`, `AUTH`, ...) is
/// never shown, whatever the list says.
pub const SHOWN_ENVIRONMENT: &[&str] = &[
    "DEBUG",
    "*_DEBUG",
    "PORT",
    "*_PORT",
    "*_HOST",
    "LOG_LEVEL",
    "*_LOG_LEVEL",
    "TZ",
    "AWS_REGION",
    "AWS_DEFAULT_REGION",
    "DJANGO_SETTINGS_MODULE",
];

/// Words that make a name secret wherever they appear in it.
const SECRET_WORDS: &[&str] = &[
    "PASSWORD",
    "PASSWD",
    "SECRET",
    "TOKEN",
    "KEY",
    "CREDENTIAL",
    "AUTH",
    "SESSION",
    "COOKIE",
    "SIGNATURE",
    "DSN",
    "PRIVATE",
];

/// Whether a name (an environment variable, an option or label key) names a secret.
pub fn is_secret_name(name: &str) -> bool {
    let upper = name.to_ascii_uppercase();
    SECRET_WORDS.iter().any(|word| upper.contains(word))
}

/// Whether a diff shows the value of environment variable `name`.
pub fn is_shown_environment(name: &str) -> bool {
    if is_secret_name(name) {
        return false;
    }
    let upper = name.to_ascii_uppercase();
    SHOWN_ENVIRONMENT
        .iter()
        .any(|pattern| match pattern.strip_prefix('*') {
            Some(suffix) => upper.len() > suffix.len() && upper.ends_with(suffix),
            None => upper == *pattern,
        })
}

/// `postgres://app:pw@db/app` -> `postgres://app:***@db/app`; `https://tok@host` ->
/// `https://***@host`. Every URL in the text is treated, wherever it stands.
pub fn redact_url_credentials(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(at) = rest.find("://") {
        let (head, tail) = rest.split_at(at + 3);
        out.push_str(head);
        let authority_end = tail
            .find(|c: char| matches!(c, '/' | '?' | '#') || c.is_whitespace() || c == '"')
            .unwrap_or(tail.len());
        let authority = &tail[..authority_end];
        match authority.rfind('@') {
            Some(userinfo_end) => {
                let userinfo = &authority[..userinfo_end];
                match userinfo.split_once(':') {
                    Some((user, _)) if !user.is_empty() => {
                        out.push_str(user);
                        out.push_str(":***");
                    }
                    _ => out.push_str("***"),
                }
                out.push_str(&authority[userinfo_end..]);
            }
            None => out.push_str(authority),
        }
        rest = &tail[authority_end..];
    }
    out.push_str(rest);
    out
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Side {
    Old,
    New,
}

/// The marker that stands for a value not shown; `other` is the value on the other side.
fn marker(value: &str, other: Option<&str>, side: Side) -> String {
    match (other, side) {
        (None, Side::Old) => "<redacted, removed>".into(),
        (None, Side::New) => "<redacted, added>".into(),
        (Some(other), _) if other == value => "<redacted>".into(),
        (Some(_), Side::Old) => "<redacted>".into(),
        (Some(_), Side::New) => "<redacted, changed>".into(),
    }
}

/// Two canonical task-definition JSONs (`old` the running one, `new` the one to register) with
/// every value a diff must not show replaced; see the module documentation.
pub fn redact_pair(old: &Value, new: &Value) -> (Value, Value) {
    let mut old_shown = old.clone();
    let mut new_shown = new.clone();
    redact_side(&mut old_shown, new, Side::Old);
    redact_side(&mut new_shown, old, Side::New);
    redact_urls(&mut old_shown);
    redact_urls(&mut new_shown);
    (old_shown, new_shown)
}

fn containers(definition: &Value) -> &[Value] {
    definition["containerDefinitions"]
        .as_array()
        .map(Vec::as_slice)
        .unwrap_or_default()
}

fn redact_side(this: &mut Value, other: &Value, side: Side) {
    let Some(list) = this
        .get_mut("containerDefinitions")
        .and_then(Value::as_array_mut)
    else {
        return;
    };
    for container in list {
        let name = container["name"].as_str().unwrap_or_default().to_string();
        let twin = containers(other)
            .iter()
            .find(|c| c["name"].as_str() == Some(name.as_str()));
        if let Some(environment) = container
            .get_mut("environment")
            .and_then(Value::as_array_mut)
        {
            for pair in environment {
                let key = pair["name"].as_str().unwrap_or_default().to_string();
                let value = pair["value"].as_str().unwrap_or_default().to_string();
                let other_value = twin.and_then(|t| {
                    t["environment"]
                        .as_array()?
                        .iter()
                        .find(|p| p["name"].as_str() == Some(key.as_str()))
                        .map(|p| p["value"].as_str().unwrap_or_default())
                });
                pair["value"] = Value::String(environment_value(&key, &value, other_value, side));
            }
        }
        redact_map(
            container.pointer_mut("/logConfiguration/options"),
            twin.and_then(|t| t.pointer("/logConfiguration/options")),
            side,
        );
        redact_map(
            container.get_mut("dockerLabels"),
            twin.and_then(|t| t.get("dockerLabels")),
            side,
        );
    }
}

fn environment_value(key: &str, value: &str, other: Option<&str>, side: Side) -> String {
    if !is_shown_environment(key) {
        return marker(value, other, side);
    }
    let shown = redact_url_credentials(value);
    match other {
        Some(other)
            if side == Side::New && other != value && redact_url_credentials(other) == shown =>
        {
            format!("{shown} <credentials changed>")
        }
        _ => shown,
    }
}

/// The values of a string map under keys that name secrets.
fn redact_map(this: Option<&mut Value>, other: Option<&Value>, side: Side) {
    let Some(map) = this.and_then(Value::as_object_mut) else {
        return;
    };
    for (key, value) in map.iter_mut() {
        if !is_secret_name(key) {
            continue;
        }
        let text = value.as_str().unwrap_or_default().to_string();
        let other_text = other.and_then(|o| o.get(key)).and_then(Value::as_str);
        *value = Value::String(marker(&text, other_text, side));
    }
}

fn redact_urls(value: &mut Value) {
    match value {
        Value::String(text) if text.contains("://") => *text = redact_url_credentials(text),
        Value::Array(items) => items.iter_mut().for_each(redact_urls),
        Value::Object(map) => map.values_mut().for_each(redact_urls),
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn only_harmless_names_are_shown() {
        for shown in [
            "DEBUG",
            "DJANGO_DEBUG",
            "PORT",
            "DB_PORT",
            "REDIS_HOST",
            "log_level",
        ] {
            assert!(is_shown_environment(shown), "{shown}");
        }
        for hidden in [
            "DATABASE_URL",
            "WORKERS",
            "SECRET_KEY",
            "_PORT",
            "AUTH_HOST",
            "TOKEN_PORT",
            "DEBUG_TOKEN",
        ] {
            assert!(!is_shown_environment(hidden), "{hidden}");
        }
    }

    #[test]
    fn url_credentials_are_replaced_wherever_they_stand() {
        assert_eq!(
            redact_url_credentials("postgres://app:PASSWORD@db/app"),
            "postgres://app:***@db/app"
        );
        assert_eq!(
            redact_url_credentials("use https://ghp_tok@github.com/x and redis://:pw@cache:6379"),
            "use https://***@github.com/x and redis://***@cache:6379"
        );
        assert_eq!(
            redact_url_credentials("http://host:8000/a@b?c=d@e"),
            "http://host:8000/a@b?c=d@e"
        );
        assert_eq!(redact_url_credentials("no url"), "no url");
    }

    #[test]
    fn environment_values_become_markers_that_say_what_changed() {
        let old = json!({"containerDefinitions": [{"name": "web", "environment": [
            {"name": "DATABASE_URL", "value": "postgres://app:PASSWORD@db/app"},
            {"name": "SAME", "value": "x"},
            {"name": "GONE", "value": "y"},
            {"name": "DEBUG", "value": "false"},
            {"name": "DB_HOST", "value": "pg://u:old@db"}
        ]}]});
        let new = json!({"containerDefinitions": [{"name": "web", "environment": [
            {"name": "DATABASE_URL", "value": "postgres://app:PASSWORD2@db/app"},
            {"name": "SAME", "value": "x"},
            {"name": "DEBUG", "value": "true"},
            {"name": "DB_HOST", "value": "pg://u:new@db"},
            {"name": "NEW", "value": "z"}
        ]}]});
        let (old_shown, new_shown) = redact_pair(&old, &new);
        assert_eq!(
            old_shown["containerDefinitions"][0]["environment"],
            json!([
                {"name": "DATABASE_URL", "value": "<redacted>"},
                {"name": "SAME", "value": "<redacted>"},
                {"name": "GONE", "value": "<redacted, removed>"},
                {"name": "DEBUG", "value": "false"},
                {"name": "DB_HOST", "value": "pg://u:***@db"}
            ])
        );
        assert_eq!(
            new_shown["containerDefinitions"][0]["environment"],
            json!([
                {"name": "DATABASE_URL", "value": "<redacted, changed>"},
                {"name": "SAME", "value": "<redacted>"},
                {"name": "DEBUG", "value": "true"},
                {"name": "DB_HOST", "value": "pg://u:***@db <credentials changed>"},
                {"name": "NEW", "value": "<redacted, added>"}
            ])
        );
    }

    #[test]
    fn secret_options_and_labels_and_urls_elsewhere_are_hidden_and_references_kept() {
        let old = json!({"containerDefinitions": [{"name": "web",
            "command": ["migrate", "--db", "postgres://app:PASSWORD@db/app"],
            "secrets": [{"name": "DB_PASSWORD", "valueFrom": "arn:aws:secretsmanager:us-east-1:1:secret:db"}],
            "logConfiguration": {"logDriver": "splunk", "options": {"splunk-token": "tok1", "splunk-url": "https://splunk"}},
            "dockerLabels": {"team": "web", "api-key": "k1"}
        }]});
        let mut new = old.clone();
        new["containerDefinitions"][0]["logConfiguration"]["options"]["splunk-token"] =
            json!("tok2");
        let (old_shown, new_shown) = redact_pair(&old, &new);
        let c = &new_shown["containerDefinitions"][0];
        assert_eq!(c["command"][2], "postgres://app:***@db/app");
        assert_eq!(c["secrets"], old["containerDefinitions"][0]["secrets"]);
        assert_eq!(
            c["logConfiguration"]["options"],
            json!({"splunk-token": "<redacted, changed>", "splunk-url": "https://splunk"})
        );
        assert_eq!(
            c["dockerLabels"],
            json!({"team": "web", "api-key": "<redacted>"})
        );
        assert_eq!(
            old_shown["containerDefinitions"][0]["logConfiguration"]["options"]["splunk-token"],
            "<redacted>"
        );
    }
}

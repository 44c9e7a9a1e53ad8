//! UpdateService's deployment strategy settings, checked against ECS's rules: the strategy, the
//! bake time, canary and linear steps, lifecycle hooks and alarms.

use serde_json::Value;

use super::invalid;
use crate::api::ApiError;
use crate::world::{HOOK_STAGES, HookConfig, STRATEGIES, Strategy};

/// At most a day, as ECS allows for each bake time.
const MAX_BAKE_MINUTES: i64 = 1440;

/// The strategy `cfg` (a `deploymentConfiguration`) asks for: what it names replaces what the
/// service has, the rest stays.
pub fn parse(cfg: &Value, current: &Strategy) -> Result<Strategy, ApiError> {
    let mut s = current.clone();
    match &cfg["strategy"] {
        Value::Null => {}
        Value::String(kind) if STRATEGIES.contains(&kind.as_str()) => s.kind = kind.clone(),
        other => {
            return Err(ApiError::serialization(format!(
                "1 validation error detected: Value '{}' at 'deploymentConfiguration.strategy' failed to satisfy constraint: Member must satisfy enum value set: [{}]",
                other.as_str().unwrap_or_default(),
                STRATEGIES.join(", ")
            )));
        }
    }
    if let Some(minutes) = minutes(cfg, "bakeTimeInMinutes")? {
        s.bake_minutes = minutes;
    }
    if let Some(canary) = cfg.get("canaryConfiguration").filter(|v| !v.is_null()) {
        let percent = percent(canary, "canaryPercent", 0.1)?;
        let bake = minutes(canary, "canaryBakeTimeInMinutes")?;
        s.canary = (percent.unwrap_or(s.canary.0), bake.unwrap_or(s.canary.1));
    }
    if let Some(linear) = cfg.get("linearConfiguration").filter(|v| !v.is_null()) {
        let percent = percent(linear, "stepPercent", 3.0)?;
        let bake = minutes(linear, "stepBakeTimeInMinutes")?;
        s.linear = (percent.unwrap_or(s.linear.0), bake.unwrap_or(s.linear.1));
    }
    if let Some(hooks) = cfg.get("lifecycleHooks").filter(|v| !v.is_null()) {
        let Some(hooks) = hooks.as_array() else {
            return Err(ApiError::serialization("Expected list for lifecycleHooks"));
        };
        s.hooks = hooks.iter().map(hook).collect::<Result<_, _>>()?;
    }
    if let Some(alarms) = cfg.get("alarms").filter(|v| v.is_object()) {
        s.alarms = alarms["alarmNames"]
            .as_array()
            .map(|a| {
                a.iter()
                    .filter_map(Value::as_str)
                    .map(String::from)
                    .collect()
            })
            .unwrap_or_default();
        s.alarms_enable = alarms["enable"].as_bool().unwrap_or(false);
        s.alarms_rollback = alarms["rollback"].as_bool().unwrap_or(false);
    }
    if !s.shifts_traffic() && !s.hooks.is_empty() && cfg.get("lifecycleHooks").is_some() {
        return Err(invalid(
            "Lifecycle hooks are only supported with the BLUE_GREEN, LINEAR and CANARY deployment strategies.",
        ));
    }
    Ok(s)
}

fn minutes(v: &Value, name: &str) -> Result<Option<i64>, ApiError> {
    match &v[name] {
        Value::Null => Ok(None),
        n => match n.as_i64() {
            Some(m) if (0..=MAX_BAKE_MINUTES).contains(&m) => Ok(Some(m)),
            _ => Err(invalid(format!(
                "{name} must be an integer between 0 and {MAX_BAKE_MINUTES}."
            ))),
        },
    }
}

fn percent(v: &Value, name: &str, low: f64) -> Result<Option<f64>, ApiError> {
    match &v[name] {
        Value::Null => Ok(None),
        n => match n.as_f64() {
            Some(p) if (low..=100.0).contains(&p) => Ok(Some(p)),
            _ => Err(invalid(format!("{name} must be between {low} and 100.0."))),
        },
    }
}

fn hook(v: &Value) -> Result<HookConfig, ApiError> {
    let target_type = v["targetType"].as_str().unwrap_or("AWS_LAMBDA").to_string();
    if !matches!(target_type.as_str(), "AWS_LAMBDA" | "PAUSE") {
        return Err(invalid(format!(
            "The lifecycle hook target type {target_type} is not valid. Valid values are AWS_LAMBDA and PAUSE."
        )));
    }
    let target_arn = v["hookTargetArn"].as_str().map(String::from);
    let role_arn = v["roleArn"].as_str().map(String::from);
    if target_type == "AWS_LAMBDA" && (target_arn.is_none() || role_arn.is_none()) {
        return Err(invalid(
            "A lifecycle hook of type AWS_LAMBDA needs a hookTargetArn and a roleArn.",
        ));
    }
    let stages: Vec<String> = v["lifecycleStages"]
        .as_array()
        .map(|a| {
            a.iter()
                .filter_map(Value::as_str)
                .map(String::from)
                .collect()
        })
        .unwrap_or_default();
    if stages.is_empty() {
        return Err(invalid("lifecycleStages must be specified."));
    }
    if let Some(bad) = stages.iter().find(|s| !HOOK_STAGES.contains(&s.as_str())) {
        return Err(invalid(format!(
            "The lifecycle stage {bad} is not valid for a lifecycle hook. Valid values are {}.",
            HOOK_STAGES.join(", ")
        )));
    }
    let timeout = &v["timeoutConfiguration"];
    let timeout_minutes = timeout["timeoutInMinutes"].as_i64().unwrap_or(60);
    let timeout_action = timeout["action"].as_str().unwrap_or("ROLLBACK").to_string();
    if !matches!(timeout_action.as_str(), "CONTINUE" | "ROLLBACK") {
        return Err(invalid(format!(
            "The timeout action {timeout_action} is not valid. Valid values are CONTINUE and ROLLBACK."
        )));
    }
    Ok(HookConfig {
        target_type,
        target_arn,
        role_arn,
        stages,
        timeout_minutes,
        timeout_action,
    })
}

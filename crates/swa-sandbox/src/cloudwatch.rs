//! Amazon CloudWatch: DescribeAlarms, over the two protocols its clients speak. The Rust SDK uses
//! Smithy RPC v2 CBOR (`POST /service/GraniteServiceVersion20100801/operation/DescribeAlarms`,
//! `smithy-protocol: rpc-v2-cbor`), awscli JSON 1.0 (`X-Amz-Target:
//! GraniteServiceVersion20100801.DescribeAlarms`). Both carry the same structures; CloudWatch is
//! Query-compatible, so an error also names its Query code in `x-amzn-query-error`.

use serde_json::{Value, json};

use crate::api::ApiError;
use crate::world::*;

/// The service's name in `X-Amz-Target` and in the RPC v2 path.
pub const SERVICE: &str = "GraniteServiceVersion20100801";

const STATES: [&str; 3] = ["INSUFFICIENT_DATA", "ALARM", "OK"];
const ALARM_TYPES: [&str; 3] = ["CompositeAlarm", "MetricAlarm", "LogAlarm"];
const DEFAULT_MAX_RECORDS: usize = 50;

pub fn handle(w: &mut World, op: &str, req: &Value) -> Result<Value, ApiError> {
    match op {
        "DescribeAlarms" => describe_alarms(w, req),
        _ => Err(ApiError::unknown_operation(op)),
    }
}

/// The error's shape id, as `__type` names it.
pub fn error_type(code: &str) -> String {
    match code {
        "ValidationError" => "com.amazon.coral.validate#ValidationException".into(),
        "InvalidParameterValue" | "InvalidParameterCombination" => {
            format!("com.amazonaws.cloudwatch#{code}Exception")
        }
        "InternalServiceError" => "com.amazonaws.cloudwatch#InternalServiceFault".into(),
        _ => format!("com.amazonaws.cloudwatch#{code}"),
    }
}

/// The `x-amzn-query-error` header: the Query error code and who is at fault.
pub fn query_error(e: &ApiError) -> String {
    let fault = if e.status >= 500 {
        "Receiver"
    } else {
        "Sender"
    };
    format!("{};{fault}", e.code)
}

fn validation(field: &str, value: &str, constraint: &str) -> ApiError {
    ApiError::new(
        400,
        "ValidationError",
        format!(
            "1 validation error detected: Value '{value}' at '{field}' failed to satisfy constraint: {constraint}"
        ),
    )
}

fn strings(req: &Value, member: &str) -> Result<Vec<String>, ApiError> {
    match &req[member] {
        Value::Null => Ok(Vec::new()),
        Value::Array(items) => items
            .iter()
            .map(|v| {
                v.as_str().map(String::from).ok_or_else(|| {
                    ApiError::serialization(format!("{member} must be a list of strings"))
                })
            })
            .collect(),
        _ => Err(ApiError::serialization(format!("{member} must be a list"))),
    }
}

fn string<'a>(req: &'a Value, member: &str) -> Result<Option<&'a str>, ApiError> {
    match &req[member] {
        Value::Null => Ok(None),
        Value::String(s) => Ok(Some(s)),
        _ => Err(ApiError::serialization(format!(
            "{member} must be a string"
        ))),
    }
}

fn describe_alarms(w: &World, req: &Value) -> Result<Value, ApiError> {
    let names = strings(req, "AlarmNames")?;
    if names.len() > 100 {
        return Err(validation(
            "alarmNames",
            &format!("[{}]", names.join(", ")),
            "Member must have length less than or equal to 100",
        ));
    }
    let prefix = string(req, "AlarmNamePrefix")?;
    if prefix.is_some() && !names.is_empty() {
        return Err(ApiError::new(
            400,
            "InvalidParameterCombination",
            "AlarmNamePrefix and AlarmNames cannot be specified together.",
        ));
    }
    let state = string(req, "StateValue")?;
    if let Some(s) = state.filter(|s| !STATES.contains(s)) {
        return Err(validation(
            "stateValue",
            s,
            &format!(
                "Member must satisfy enum value set: [{}]",
                STATES.join(", ")
            ),
        ));
    }
    let types = strings(req, "AlarmTypes")?;
    if let Some(t) = types.iter().find(|t| !ALARM_TYPES.contains(&t.as_str())) {
        return Err(validation(
            "alarmTypes",
            &format!("[{t}]"),
            &format!(
                "Member must satisfy constraint: [Member must satisfy enum value set: [{}]]",
                ALARM_TYPES.join(", ")
            ),
        ));
    }
    let max = match &req["MaxRecords"] {
        Value::Null => DEFAULT_MAX_RECORDS,
        v => match v.as_i64() {
            Some(n @ 1..=100) => n as usize,
            Some(n) if n < 1 => {
                return Err(validation(
                    "maxRecords",
                    &n.to_string(),
                    "Member must have value greater than or equal to 1",
                ));
            }
            Some(n) => {
                return Err(validation(
                    "maxRecords",
                    &n.to_string(),
                    "Member must have value less than or equal to 100",
                ));
            }
            None => return Err(ApiError::serialization("MaxRecords must be an integer")),
        },
    };
    let from = match string(req, "NextToken")? {
        None => 0,
        Some(t) => t
            .strip_prefix("alarms/")
            .and_then(|n| n.parse::<usize>().ok())
            .ok_or_else(|| {
                ApiError::new(
                    400,
                    "InvalidNextToken",
                    "The next token specified is invalid.",
                )
            })?,
    };
    // Only metric alarms exist; their actions are empty, so an action prefix matches none, and
    // no composite alarm has children or parents.
    let wants_metric = types.is_empty() || types.iter().any(|t| t == "MetricAlarm");
    let related = !req["ChildrenOfAlarmName"].is_null() || !req["ParentsOfAlarmName"].is_null();
    let selected: Vec<&Alarm> = w
        .alarms
        .values()
        .filter(|_| wants_metric && !related && req["ActionPrefix"].is_null())
        .filter(|a| names.is_empty() || names.contains(&a.name))
        .filter(|a| prefix.is_none_or(|p| a.name.starts_with(p)))
        .filter(|a| state.is_none_or(|s| a.state == s))
        .collect();
    let page: Vec<Value> = selected
        .iter()
        .skip(from)
        .take(max)
        .map(|a| metric_alarm(a))
        .collect();
    let mut out = json!({"MetricAlarms": page, "CompositeAlarms": []});
    if from + max < selected.len() {
        out["NextToken"] = json!(format!("alarms/{}", from + max));
    }
    Ok(out)
}

/// A load balancer's or target group's ARN as a CloudWatch dimension names it: the resource
/// after the account (`targetgroup/startupwebapp-tg/0123456789abcdef`), without `loadbalancer/`
/// for a load balancer (`app/startupwebapp-alb/0fedcba987654321`).
fn dimension(arn: &str) -> &str {
    let resource = arn.rsplit_once(':').map_or(arn, |(_, r)| r);
    resource.strip_prefix("loadbalancer/").unwrap_or(resource)
}

fn metric_alarm(a: &Alarm) -> Value {
    json!({
        "AlarmName": a.name,
        "AlarmArn": format!("arn:aws:cloudwatch:{REGION}:{ACCOUNT}:alarm:{}", a.name),
        "AlarmDescription": "5xx answers from the API's targets behind the load balancer; ECS rolls a deployment back when it fires.",
        "AlarmConfigurationUpdatedTimestamp": epoch(a.configured_at),
        "ActionsEnabled": true,
        "OKActions": [],
        "AlarmActions": [],
        "InsufficientDataActions": [],
        "StateValue": a.state,
        "StateReason": a.reason,
        "StateReasonData": a.reason_data,
        "StateUpdatedTimestamp": epoch(a.updated_at),
        "MetricName": ALARM_METRIC,
        "Namespace": ALARM_NAMESPACE,
        "Statistic": "Sum",
        "Dimensions": [
            {"Name": "LoadBalancer", "Value": dimension(LOAD_BALANCER_ARN)},
            {"Name": "TargetGroup", "Value": dimension(TARGET_GROUP_ARN)},
        ],
        "Period": ALARM_PERIOD_SECONDS,
        "EvaluationPeriods": 1,
        "DatapointsToAlarm": 1,
        "Threshold": ALARM_THRESHOLD,
        "ComparisonOperator": "GreaterThanThreshold",
        "TreatMissingData": "notBreaching",
        "StateTransitionedTimestamp": epoch(a.updated_at),
    })
}

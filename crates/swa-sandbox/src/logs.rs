//! Amazon CloudWatch Logs (JSON 1.1, `Logs_20140328.*`).

use serde_json::{Value, json};

use crate::api::ApiError;
use crate::world::*;

pub fn handle(w: &mut World, op: &str, req: &Value) -> Result<Value, ApiError> {
    match op {
        "GetLogEvents" => get_log_events(w, req),
        "FilterLogEvents" => filter_log_events(w, req),
        "DescribeLogStreams" => describe_log_streams(w, req),
        "DescribeLogGroups" => describe_log_groups(w, req),
        _ => Err(ApiError::unknown_operation(op)),
    }
}

fn not_found(what: &str) -> ApiError {
    ApiError::new(
        400,
        "ResourceNotFoundException",
        format!("The specified log {what} does not exist."),
    )
}

fn invalid(message: impl Into<String>) -> ApiError {
    ApiError::new(400, "InvalidParameterException", message)
}

fn group<'a>(
    w: &'a World,
    req: &Value,
) -> Result<(&'a str, &'a std::collections::BTreeMap<String, LogStream>), ApiError> {
    let name = req["logGroupName"]
        .as_str()
        .or_else(|| {
            req["logGroupIdentifier"]
                .as_str()
                .map(|i| i.rsplit_once(":log-group:").map_or(i, |(_, n)| n))
        })
        .ok_or_else(|| {
            invalid("1 validation error detected: Value null at 'logGroupName' failed to satisfy constraint: Member must not be null")
        })?;
    w.logs
        .get_key_value(name)
        .map(|(k, v)| (k.as_str(), v))
        .ok_or_else(|| not_found("group"))
}

fn token(kind: char, index: usize) -> String {
    format!("{kind}/{index:056}")
}

fn parse_token(text: &str) -> Option<(char, usize)> {
    let (kind, n) = text.split_once('/')?;
    let kind = kind.chars().next()?;
    if !matches!(kind, 'f' | 'b') {
        return None;
    }
    Some((kind, n.parse().ok()?))
}

fn get_log_events(w: &mut World, req: &Value) -> Result<Value, ApiError> {
    let (_, streams) = group(w, req)?;
    let stream_name = req["logStreamName"].as_str().ok_or_else(|| {
        invalid("1 validation error detected: Value null at 'logStreamName' failed to satisfy constraint: Member must not be null")
    })?;
    let stream = streams
        .get(stream_name)
        .ok_or_else(|| not_found("stream"))?;
    let start_time = req["startTime"].as_i64();
    let end_time = req["endTime"].as_i64();
    let limit = req["limit"].as_u64().unwrap_or(10_000).clamp(1, 10_000) as usize;
    let events: Vec<&LogEvent> = stream
        .events
        .iter()
        .filter(|e| start_time.is_none_or(|s| e.timestamp >= s))
        .filter(|e| end_time.is_none_or(|s| e.timestamp < s))
        .collect();
    let n = events.len();
    let (from, to) = match req["nextToken"].as_str() {
        Some(t) => match parse_token(t) {
            Some(('f', i)) => {
                let i = i.min(n);
                (i, (i + limit).min(n))
            }
            Some((_, i)) => {
                let i = i.min(n);
                (i.saturating_sub(limit), i)
            }
            None => {
                return Err(invalid("The specified nextToken is invalid."));
            }
        },
        None => {
            if req["startFromHead"].as_bool().unwrap_or(false) {
                (0, limit.min(n))
            } else {
                (n.saturating_sub(limit), n)
            }
        }
    };
    let out: Vec<Value> = events[from..to]
        .iter()
        .map(|e| json!({"timestamp": e.timestamp, "message": e.message, "ingestionTime": e.ingestion}))
        .collect();
    Ok(json!({
        "events": out,
        "nextForwardToken": token('f', to),
        "nextBackwardToken": token('b', from),
    }))
}

/// CloudWatch's filter pattern, the common cases: terms that must all appear (`ERROR`,
/// `"exact phrase"`), `-term` that must not, and `?a ?b` (any of).
fn matches_pattern(pattern: &str, message: &str) -> bool {
    let pattern = pattern.trim();
    if pattern.is_empty() {
        return true;
    }
    let mut terms = Vec::new();
    let mut chars = pattern.chars().peekable();
    while let Some(c) = chars.next() {
        if c.is_whitespace() {
            continue;
        }
        let mut term = String::new();
        let mut prefix = None;
        let mut c = c;
        if c == '?' || c == '-' {
            prefix = Some(c);
            match chars.next() {
                Some(n) => c = n,
                None => break,
            }
        }
        if c == '"' {
            for n in chars.by_ref() {
                if n == '"' {
                    break;
                }
                term.push(n);
            }
        } else {
            term.push(c);
            while let Some(&n) = chars.peek() {
                if n.is_whitespace() {
                    break;
                }
                term.push(n);
                chars.next();
            }
        }
        terms.push((prefix, term));
    }
    let any: Vec<&String> = terms
        .iter()
        .filter(|(p, _)| *p == Some('?'))
        .map(|(_, t)| t)
        .collect();
    if !any.is_empty() {
        return any.iter().any(|t| message.contains(t.as_str()));
    }
    terms.iter().all(|(p, t)| match p {
        Some('-') => !message.contains(t.as_str()),
        _ => message.contains(t.as_str()),
    })
}

fn filter_log_events(w: &mut World, req: &Value) -> Result<Value, ApiError> {
    let (_, streams) = group(w, req)?;
    let names: Option<Vec<String>> = req["logStreamNames"].as_array().map(|a| {
        a.iter()
            .filter_map(|v| v.as_str().map(String::from))
            .collect()
    });
    let prefix = req["logStreamNamePrefix"].as_str();
    if names.is_some() && prefix.is_some() {
        return Err(invalid(
            "Cannot specify both logStreamNames and logStreamNamePrefix",
        ));
    }
    let start_time = req["startTime"].as_i64();
    let end_time = req["endTime"].as_i64();
    let pattern = req["filterPattern"].as_str().unwrap_or("");
    let limit = req["limit"].as_u64().unwrap_or(10_000).clamp(1, 10_000) as usize;
    let skip: usize = req["nextToken"]
        .as_str()
        .and_then(|t| t.parse().ok())
        .unwrap_or(0);
    let mut found = Vec::new();
    let mut searched = Vec::new();
    for (name, stream) in streams {
        if names.as_ref().is_some_and(|n| !n.contains(name)) {
            continue;
        }
        if prefix.is_some_and(|p| !name.starts_with(p)) {
            continue;
        }
        searched.push(json!({"logStreamName": name, "searchedCompletely": true}));
        for (k, e) in stream.events.iter().enumerate() {
            if start_time.is_some_and(|s| e.timestamp < s)
                || end_time.is_some_and(|s| e.timestamp > s)
            {
                continue;
            }
            if !matches_pattern(pattern, &e.message) {
                continue;
            }
            found.push((e.timestamp, name.clone(), k, e));
        }
    }
    found.sort_by(|a, b| (a.0, &a.1, a.2).cmp(&(b.0, &b.1, b.2)));
    let total = found.len();
    let events: Vec<Value> = found
        .iter()
        .skip(skip)
        .take(limit)
        .map(|(_, name, k, e)| {
            json!({
                "logStreamName": name,
                "timestamp": e.timestamp,
                "message": e.message,
                "ingestionTime": e.ingestion,
                "eventId": format!("{:056}", e.timestamp as u128 * 1000 + *k as u128),
            })
        })
        .collect();
    let mut out = json!({"events": events, "searchedLogStreams": searched});
    if skip + limit < total {
        out["nextToken"] = json!((skip + limit).to_string());
    }
    Ok(out)
}

fn describe_log_streams(w: &mut World, req: &Value) -> Result<Value, ApiError> {
    let (group_name, streams) = group(w, req)?;
    let prefix = req["logStreamNamePrefix"].as_str();
    let order_by_time = req["orderBy"] == "LastEventTime";
    if order_by_time && prefix.is_some() {
        return Err(invalid(
            "Cannot order by LastEventTime with a logStreamNamePrefix.",
        ));
    }
    let descending = req["descending"].as_bool().unwrap_or(false);
    let limit = req["limit"].as_u64().unwrap_or(50).clamp(1, 50) as usize;
    let skip: usize = req["nextToken"]
        .as_str()
        .and_then(|t| t.parse().ok())
        .unwrap_or(0);
    let mut list: Vec<(&String, &LogStream)> = streams
        .iter()
        .filter(|(n, _)| prefix.is_none_or(|p| n.starts_with(p)))
        .collect();
    if order_by_time {
        list.sort_by_key(|(n, s)| (s.events.last().map_or(0, |e| e.timestamp), (*n).clone()));
    }
    if descending {
        list.reverse();
    }
    let total = list.len();
    let out: Vec<Value> = list
        .into_iter()
        .skip(skip)
        .take(limit)
        .map(|(name, s)| {
            let mut v = json!({
                "logStreamName": name,
                "creationTime": s.created_at,
                "arn": format!("arn:aws:logs:{REGION}:{ACCOUNT}:log-group:{group_name}:log-stream:{name}"),
                "storedBytes": 0,
            });
            if let (Some(first), Some(last)) = (s.events.first(), s.events.last()) {
                v["firstEventTimestamp"] = json!(first.timestamp);
                v["lastEventTimestamp"] = json!(last.timestamp);
                v["lastIngestionTime"] = json!(last.ingestion);
                v["uploadSequenceToken"] = json!(format!("{:056}", s.events.len()));
            }
            v
        })
        .collect();
    let mut res = json!({"logStreams": out});
    if skip + limit < total {
        res["nextToken"] = json!((skip + limit).to_string());
    }
    Ok(res)
}

fn describe_log_groups(w: &mut World, req: &Value) -> Result<Value, ApiError> {
    let prefix = req["logGroupNamePrefix"].as_str();
    let created = w.clock.start_ms() - 200 * 86_400_000;
    let groups: Vec<Value> = w
        .logs
        .keys()
        .filter(|n| prefix.is_none_or(|p| n.starts_with(p)))
        .map(|n| {
            json!({
                "logGroupName": n,
                "creationTime": created,
                "retentionInDays": 30,
                "metricFilterCount": 0,
                "arn": format!("arn:aws:logs:{REGION}:{ACCOUNT}:log-group:{n}:*"),
                "logGroupArn": format!("arn:aws:logs:{REGION}:{ACCOUNT}:log-group:{n}"),
                "storedBytes": 0,
                "logGroupClass": "STANDARD"
            })
        })
        .collect();
    Ok(json!({"logGroups": groups}))
}

#[cfg(test)]
mod tests {
    use super::matches_pattern;

    #[test]
    fn filter_patterns() {
        assert!(matches_pattern("", "anything"));
        assert!(matches_pattern(
            "Traceback",
            "Traceback (most recent call last):"
        ));
        assert!(!matches_pattern("Traceback", "Running migrations:"));
        assert!(matches_pattern(
            "\"Applying orders\" OK",
            "  Applying orders.0042... OK"
        ));
        assert!(!matches_pattern(
            "Applying -OK",
            "  Applying orders.0042... OK"
        ));
        assert!(matches_pattern(
            "?ERROR ?Traceback",
            "Traceback (most recent call last):"
        ));
        assert!(!matches_pattern("?ERROR ?Traceback", "[INFO] Booting"));
    }
}

//! CBOR bodies, as Smithy RPC v2 CBOR carries them (CloudWatch's protocol for the Rust SDK):
//! read into and written from the same JSON values the JSON protocols use.

use ciborium::Value as Cbor;
use serde_json::{Map, Number, Value};

/// CBOR's tag for a time in epoch seconds.
const EPOCH_SECONDS: u64 = 1;

/// A request body as JSON; an empty body is an empty structure.
pub fn read(body: &[u8]) -> Result<Value, String> {
    if body.is_empty() {
        return Ok(Value::Object(Map::new()));
    }
    let value: Cbor = ciborium::de::from_reader(body).map_err(|e| e.to_string())?;
    to_json(value)
}

fn to_json(value: Cbor) -> Result<Value, String> {
    Ok(match value {
        Cbor::Null => Value::Null,
        Cbor::Bool(b) => Value::Bool(b),
        Cbor::Integer(i) => {
            let i = i128::from(i);
            match (i64::try_from(i), u64::try_from(i)) {
                (Ok(n), _) => Value::from(n),
                (_, Ok(n)) => Value::from(n),
                _ => return Err(format!("integer {i} out of range")),
            }
        }
        Cbor::Float(f) => Number::from_f64(f).map_or(Value::Null, Value::Number),
        Cbor::Text(t) => Value::String(t),
        Cbor::Bytes(_) => return Err("blobs are not expected here".into()),
        Cbor::Tag(EPOCH_SECONDS, inner) => to_json(*inner)?,
        Cbor::Tag(tag, _) => return Err(format!("unexpected CBOR tag {tag}")),
        Cbor::Array(items) => {
            Value::Array(items.into_iter().map(to_json).collect::<Result<_, _>>()?)
        }
        Cbor::Map(pairs) => {
            let mut map = Map::new();
            for (k, v) in pairs {
                let Cbor::Text(k) = k else {
                    return Err("a structure's keys must be text".into());
                };
                map.insert(k, to_json(v)?);
            }
            Value::Object(map)
        }
        _ => return Err("unexpected CBOR value".into()),
    })
}

/// `value` as a CBOR body. A member whose name ends in `Timestamp` (epoch seconds in the JSON
/// value) is written as a tag-1 time.
pub fn write(value: &Value) -> Vec<u8> {
    let mut out = Vec::new();
    // Writing to a Vec fails only for values CBOR cannot express, which JSON values are not.
    let _ = ciborium::ser::into_writer(&from_json(value, false), &mut out);
    out
}

fn from_json(value: &Value, timestamp: bool) -> Cbor {
    match value {
        Value::Null => Cbor::Null,
        Value::Bool(b) => Cbor::Bool(*b),
        Value::Number(n) if timestamp => Cbor::Tag(
            EPOCH_SECONDS,
            Box::new(Cbor::Float(n.as_f64().unwrap_or(0.0))),
        ),
        Value::Number(n) => match (n.as_i64(), n.as_u64()) {
            (Some(i), _) => Cbor::Integer(i.into()),
            (_, Some(u)) => Cbor::Integer(u.into()),
            _ => Cbor::Float(n.as_f64().unwrap_or(0.0)),
        },
        Value::String(s) => Cbor::Text(s.clone()),
        Value::Array(items) => Cbor::Array(items.iter().map(|v| from_json(v, false)).collect()),
        Value::Object(map) => Cbor::Map(
            map.iter()
                .map(|(k, v)| {
                    (
                        Cbor::Text(k.clone()),
                        from_json(v, k.ends_with("Timestamp")),
                    )
                })
                .collect(),
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn timestamps_are_tagged_epoch_seconds_and_numbers_keep_their_kind() {
        let value = serde_json::json!({"StateUpdatedTimestamp": 1764547425.5, "Period": 60, "Threshold": 5.0, "Names": ["a"]});
        let body = write(&value);
        let raw: Cbor = ciborium::de::from_reader(body.as_slice()).unwrap_or(Cbor::Null);
        let map = raw.as_map().cloned().unwrap_or_default();
        assert_eq!(map[0].1, Cbor::Tag(1, Box::new(Cbor::Float(1764547425.5))));
        assert_eq!(map[1].1, Cbor::Integer(60.into()));
        assert_eq!(map[2].1, Cbor::Float(5.0));
        assert_eq!(read(&body).ok(), Some(value));
        assert_eq!(read(b"").ok(), Some(serde_json::json!({})));
        assert!(read(b"\xff\x00").is_err());
    }
}

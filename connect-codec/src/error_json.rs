//! The Connect error and end-of-stream JSON shapes.
//!
//! ```text
//! error:       {"code": "...", "message": "...", "details": [{"type": "...", "value": "<base64>"}]}
//! end-stream:  {"error": <error>?, "metadata": {"key": ["value", ...]}?}
//! ```

use base64::Engine as _;
use base64::engine::general_purpose::{STANDARD, STANDARD_NO_PAD};
use bytes::Bytes;
use connect_core::{Code, ConnectError, ErrorDetail};
use http::HeaderMap;
use serde::{Deserialize, Serialize};
use serde_json::Value;

#[derive(Serialize)]
struct WireDetail<'a> {
    #[serde(rename = "type")]
    type_name: &'a str,
    value: String,
}

#[derive(Serialize)]
struct WireError<'a> {
    code: &'a str,
    #[serde(skip_serializing_if = "str::is_empty")]
    message: &'a str,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    details: Vec<WireDetail<'a>>,
}

fn wire_error(err: &ConnectError) -> WireError<'_> {
    let code = match err.code() {
        // `ok` is not an error code on the wire.
        Code::Ok => Code::Unknown,
        c => c,
    };
    WireError {
        code: code.as_str(),
        message: err.message(),
        details: err
            .details()
            .iter()
            .map(|d| WireDetail {
                type_name: d.type_name(),
                value: STANDARD_NO_PAD.encode(d.value()),
            })
            .collect(),
    }
}

/// Encodes the JSON body of a Connect unary error.
///
/// ```
/// use connect_core::{Code, ConnectError};
/// use connect_codec::error_json::encode_error;
///
/// let body = encode_error(&ConnectError::new(Code::NotFound, "gone"));
/// assert_eq!(&body[..], br#"{"code":"not_found","message":"gone"}"#);
/// ```
pub fn encode_error(err: &ConnectError) -> Bytes {
    serde_json::to_vec(&wire_error(err))
        .map(Bytes::from)
        .unwrap_or_else(|_| Bytes::from_static(br#"{"code":"internal"}"#))
}

fn metadata_json(trailers: &HeaderMap) -> serde_json::Map<String, Value> {
    let mut map = serde_json::Map::new();
    for key in trailers.keys() {
        let values = trailers
            .get_all(key)
            .iter()
            .map(|v| Value::String(String::from_utf8_lossy(v.as_bytes()).into_owned()))
            .collect();
        map.insert(key.as_str().to_owned(), Value::Array(values));
    }
    map
}

/// Encodes a Connect end-of-stream message: the error, if the call failed,
/// and the trailers as metadata.
pub fn encode_end_stream(error: Option<&ConnectError>, trailers: &HeaderMap) -> Bytes {
    let mut obj = serde_json::Map::new();
    if let Some(v) = error.and_then(|err| serde_json::to_value(wire_error(err)).ok()) {
        obj.insert("error".into(), v);
    }
    if !trailers.is_empty() {
        obj.insert("metadata".into(), Value::Object(metadata_json(trailers)));
    }
    serde_json::to_vec(&Value::Object(obj))
        .map(Bytes::from)
        .unwrap_or_else(|_| Bytes::from_static(b"{}"))
}

#[derive(Deserialize)]
struct InDetail {
    #[serde(rename = "type", default)]
    type_name: String,
    #[serde(default)]
    value: String,
}

#[derive(Deserialize)]
struct InError {
    #[serde(default)]
    code: Option<Value>,
    #[serde(default)]
    message: Option<String>,
    #[serde(default)]
    details: Vec<InDetail>,
}

/// Decodes a Connect error body leniently: an unknown or missing code
/// becomes `fallback`, unknown keys are ignored. `None` if the body is not a
/// JSON object.
pub fn decode_error(body: &[u8], fallback: Code) -> Option<ConnectError> {
    let wire: InError = serde_json::from_slice(body).ok()?;
    let code = wire
        .code
        .as_ref()
        .and_then(Value::as_str)
        .and_then(|s| s.parse::<Code>().ok())
        .filter(|c| *c != Code::Ok)
        .unwrap_or(fallback);
    let mut err = ConnectError::new(code, wire.message.unwrap_or_default());
    for d in wire.details {
        let trimmed = d.value.trim_end_matches('=');
        if let Ok(value) = STANDARD_NO_PAD
            .decode(trimmed)
            .or_else(|_| STANDARD.decode(&d.value))
        {
            err.add_detail(ErrorDetail::new(d.type_name, value));
        }
    }
    Some(err)
}

/// A decoded Connect end-of-stream message.
#[derive(Debug, Default)]
pub struct EndStream {
    /// The call's error, if it failed.
    pub error: Option<ConnectError>,
    /// The trailers.
    pub trailers: HeaderMap,
}

/// Decodes a Connect end-of-stream message leniently: `{"error": null}` is
/// success, an error with a missing or unknown code is `unknown`, unknown
/// keys are ignored, metadata values that are not valid header values are
/// skipped. `None` if the body is not a JSON object of that shape.
///
/// ```
/// use connect_codec::error_json::decode_end_stream;
///
/// let end = decode_end_stream(br#"{"error":{"code":"aborted"},"metadata":{"x-a":["1","2"]}}"#).unwrap();
/// assert_eq!(end.error.unwrap().code(), connect_core::Code::Aborted);
/// assert_eq!(end.trailers.get_all("x-a").iter().count(), 2);
/// assert!(decode_end_stream(b"{}").unwrap().error.is_none());
/// assert!(decode_end_stream(b"[]").is_none());
/// ```
pub fn decode_end_stream(body: &[u8]) -> Option<EndStream> {
    let Value::Object(mut obj) = serde_json::from_slice::<Value>(body).ok()? else {
        return None;
    };
    let mut end = EndStream::default();
    match obj.remove("metadata") {
        Some(Value::Object(map)) => {
            for (key, values) in map {
                let Ok(name) = http::HeaderName::from_bytes(key.to_ascii_lowercase().as_bytes())
                else {
                    continue;
                };
                let values = match values {
                    Value::Array(v) => v,
                    Value::Null => continue,
                    _ => return None,
                };
                for v in values {
                    if let Some(v) = v.as_str().and_then(|v| http::HeaderValue::from_str(v).ok()) {
                        end.trailers.append(name.clone(), v);
                    }
                }
            }
        }
        None | Some(Value::Null) => {}
        Some(_) => return None,
    }
    match obj.remove("error") {
        None | Some(Value::Null) => {}
        Some(v @ Value::Object(_)) => {
            let raw = serde_json::to_vec(&v).ok()?;
            end.error = Some(decode_error(&raw, Code::Unknown)?);
        }
        Some(_) => return None,
    }
    Some(end)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn error_round_trip_with_details() {
        let err = ConnectError::new(Code::Unavailable, "busy")
            .with_detail(ErrorDetail::new("google.rpc.RetryInfo", vec![10, 2, 8, 60]));
        let body = encode_error(&err);
        let text = std::str::from_utf8(&body).unwrap();
        assert!(text.contains(r#""type":"google.rpc.RetryInfo""#), "{text}");
        assert!(text.contains(r#""value":"CgIIPA""#), "{text}");
        let back = decode_error(&body, Code::Unknown).unwrap();
        assert_eq!(back.code(), Code::Unavailable);
        assert_eq!(back.details(), err.details());
    }

    #[test]
    fn end_stream_carries_metadata_and_error() {
        let mut trailers = HeaderMap::new();
        trailers.append("x-a", "1".parse().unwrap());
        trailers.append("x-a", "2".parse().unwrap());
        assert_eq!(&encode_end_stream(None, &HeaderMap::new())[..], b"{}");
        let body = encode_end_stream(Some(&ConnectError::internal("x")), &trailers);
        let v: Value = serde_json::from_slice(&body).unwrap();
        assert_eq!(v["error"]["code"], "internal");
        assert_eq!(v["metadata"]["x-a"], serde_json::json!(["1", "2"]));
    }

    #[test]
    fn lenient_decoding() {
        let e = decode_error(
            br#"{"code":"foobar","message":"oops","x":1}"#,
            Code::Unavailable,
        )
        .unwrap();
        assert_eq!((e.code(), e.message()), (Code::Unavailable, "oops"));
        assert!(decode_error(b"garbage", Code::Unknown).is_none());
    }
}

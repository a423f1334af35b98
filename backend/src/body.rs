//! Reading a request body the way DRF's `request.data` does: the size limit,
//! the parsers by `Content-Type`, and the `CharField` rules the token
//! serializers apply to each field.

use axum::body::{Body, Bytes};
use axum::http::{header, HeaderMap};
use http_body_util::{BodyExt, LengthLimitError, Limited};
use serde_json::{Map, Value};
use tower_http::timeout::TimeoutError;

use crate::error::{ApiError, BODY_LIMIT};

/// Reads the whole body, refusing more than [`BODY_LIMIT`] bytes.
///
/// # Errors
/// [`ApiError::PayloadTooLarge`] when `Content-Length` or the bytes read go
/// over the limit; [`ApiError::BodyUnreadable`] when the client stops
/// sending halfway.
pub async fn read_limited(headers: &HeaderMap, body: Body) -> Result<Bytes, ApiError> {
    let declared = headers
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().parse::<u64>().ok());
    if declared.is_some_and(|len| len > BODY_LIMIT as u64) {
        return Err(ApiError::PayloadTooLarge);
    }
    match Limited::new(body, BODY_LIMIT).collect().await {
        Ok(collected) => Ok(collected.to_bytes()),
        Err(e) if e.downcast_ref::<LengthLimitError>().is_some() => Err(ApiError::PayloadTooLarge),
        Err(e) if caused_by::<TimeoutError>(&*e) => Err(ApiError::BodyTimeout),
        Err(_) => Err(ApiError::BodyUnreadable),
    }
}

/// Whether `E` is anywhere in the chain of `error`'s sources (the body
/// timeout arrives wrapped in axum's and the limit's errors).
fn caused_by<E: std::error::Error + 'static>(error: &(dyn std::error::Error + 'static)) -> bool {
    std::iter::successors(Some(error), |e| e.source()).any(|e| e.is::<E>())
}

/// The request's `Content-Type`, or an empty string.
pub fn content_type(headers: &HeaderMap) -> String {
    headers
        .get(header::CONTENT_TYPE)
        .map(|v| String::from_utf8_lossy(v.as_bytes()).into_owned())
        .unwrap_or_default()
}

/// Parses `bytes` as DRF's default parsers would (JSON and form data).
/// An empty body, or one without a `Content-Type`, is an empty dict, as in
/// DRF. The result is not yet known to be a dict: see [`Fields::from_data`].
///
/// # Errors
/// [`ApiError::Parse`] for malformed JSON, [`ApiError::UnsupportedMediaType`]
/// for another media type (multipart is not parsed here).
pub fn parse_data(content_type: &str, bytes: &[u8]) -> Result<Value, ApiError> {
    if bytes.is_empty() || content_type.trim().is_empty() {
        return Ok(Value::Object(Map::new()));
    }
    let media_type = content_type
        .split(';')
        .next()
        .unwrap_or("")
        .trim()
        .to_ascii_lowercase();
    match media_type.as_str() {
        "application/json" => {
            serde_json::from_slice(bytes).map_err(|e| ApiError::Parse(e.to_string()))
        }
        "application/x-www-form-urlencoded" => Ok(Value::Object(parse_form(bytes))),
        _ => Err(ApiError::UnsupportedMediaType(content_type.to_owned())),
    }
}

/// Form fields; a repeated key keeps its last value, as `QueryDict[key]` does.
pub fn parse_form(bytes: &[u8]) -> Map<String, Value> {
    let mut map = Map::new();
    for pair in bytes.split(|b| *b == b'&').filter(|p| !p.is_empty()) {
        let mut kv = pair.splitn(2, |b| *b == b'=');
        let key = kv.next().unwrap_or(b"");
        let value = kv.next().unwrap_or(b"");
        let key = String::from_utf8_lossy(&percent_decode(key, true)).into_owned();
        let value = String::from_utf8_lossy(&percent_decode(value, true)).into_owned();
        map.insert(key, Value::String(value));
    }
    map
}

/// Decodes `%XX` escapes (and `+` as a space when asked). A `%` not followed
/// by two hex digits is kept as it is, as Python's `unquote` does.
pub fn percent_decode(input: &[u8], plus_as_space: bool) -> Vec<u8> {
    let mut out = Vec::with_capacity(input.len());
    let mut rest = input;
    while let Some((&b, tail)) = rest.split_first() {
        match b {
            b'%' => {
                let hi = tail.first().and_then(|c| char::from(*c).to_digit(16));
                let lo = tail.get(1).and_then(|c| char::from(*c).to_digit(16));
                if let (Some(hi), Some(lo)) = (hi, lo) {
                    out.push(u8::try_from(hi * 16 + lo).unwrap_or(b'?'));
                    rest = tail.get(2..).unwrap_or(&[]);
                    continue;
                }
                out.push(b'%');
            }
            b'+' if plus_as_space => out.push(b' '),
            other => out.push(other),
        }
        rest = tail;
    }
    out
}

/// How a `CharField` treats an absent value.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Presence {
    /// Absent is "This field is required.".
    Required,
    /// Absent is fine.
    Optional,
}

/// A serializer's view of `request.data`: field checks that collect their
/// errors in declaration order, then [`Fields::finish`] reports them all.
#[derive(Debug)]
pub struct Fields {
    data: Map<String, Value>,
    errors: Vec<(String, Vec<String>)>,
}

impl Fields {
    /// Starts checking `data`, which must be a dict.
    ///
    /// # Errors
    /// DRF's `non_field_errors` when the body is JSON `null` or not an object.
    pub fn from_data(data: Value) -> Result<Self, ApiError> {
        let type_name = match data {
            Value::Object(data) => {
                return Ok(Self {
                    data,
                    errors: Vec::new(),
                })
            }
            Value::Null => return Err(ApiError::field("non_field_errors", "No data provided")),
            Value::Array(_) => "list",
            Value::String(_) => "str",
            Value::Bool(_) => "bool",
            Value::Number(ref n) if n.is_f64() => "float",
            Value::Number(_) => "int",
        };
        Err(ApiError::field(
            "non_field_errors",
            &format!("Invalid data. Expected a dictionary, but got {type_name}."),
        ))
    }

    /// A DRF `CharField` (`trim_whitespace=True`, `allow_blank` as given):
    /// strings are trimmed, numbers become their text, anything else is an
    /// error. `None` when absent (and optional) or in error.
    pub fn char(&mut self, name: &str, presence: Presence, allow_blank: bool) -> Option<String> {
        let outcome = match self.data.get(name) {
            None if presence == Presence::Required => Err("This field is required."),
            None => return None,
            Some(Value::Null) => Err("This field may not be null."),
            Some(Value::String(s)) => {
                let trimmed = s.trim();
                if trimmed.is_empty() && !allow_blank {
                    Err("This field may not be blank.")
                } else {
                    Ok(trimmed.to_owned())
                }
            }
            Some(Value::Number(n)) => Ok(n.to_string()),
            Some(_) => Err("Not a valid string."),
        };
        match outcome {
            Ok(value) => Some(value),
            Err(message) => {
                self.errors
                    .push((name.to_owned(), vec![message.to_owned()]));
                None
            }
        }
    }

    /// Ends the checks.
    ///
    /// # Errors
    /// [`ApiError::Fields`] with every error found, when there is one.
    pub fn finish(self) -> Result<(), ApiError> {
        if self.errors.is_empty() {
            Ok(())
        } else {
            Err(ApiError::Fields(self.errors))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn fields(value: Value) -> Fields {
        Fields::from_data(value).unwrap()
    }

    #[test]
    fn char_field_follows_drf() {
        let mut f = fields(json!({"a": "  x ", "b": "", "c": null, "d": 5, "e": true, "g": [1]}));
        assert_eq!(f.char("a", Presence::Required, false), Some("x".into()));
        assert_eq!(f.char("b", Presence::Required, false), None);
        assert_eq!(f.char("c", Presence::Required, false), None);
        assert_eq!(f.char("d", Presence::Required, false), Some("5".into()));
        assert_eq!(f.char("e", Presence::Required, false), None);
        assert_eq!(f.char("missing", Presence::Optional, false), None);
        assert_eq!(f.char("h", Presence::Required, false), None);
        let Err(ApiError::Fields(errors)) = f.finish() else {
            panic!("expected errors")
        };
        let names: Vec<&str> = errors.iter().map(|(n, _)| n.as_str()).collect();
        assert_eq!(names, ["b", "c", "e", "h"]);
    }

    #[test]
    fn non_dict_bodies_are_non_field_errors() {
        let err = Fields::from_data(json!([1])).unwrap_err();
        assert_eq!(
            err.body(),
            json!({"non_field_errors": ["Invalid data. Expected a dictionary, but got list."]})
        );
        let err = Fields::from_data(Value::Null).unwrap_err();
        assert_eq!(
            err.body(),
            json!({"non_field_errors": ["No data provided"]})
        );
    }

    #[test]
    fn parsers_follow_content_type() {
        assert_eq!(parse_data("", b"{bad").unwrap(), json!({}));
        assert_eq!(parse_data("application/json", b"").unwrap(), json!({}));
        assert!(matches!(
            parse_data("application/json", b"{bad"),
            Err(ApiError::Parse(_))
        ));
        assert!(matches!(
            parse_data("text/plain", b"x"),
            Err(ApiError::UnsupportedMediaType(t)) if t == "text/plain"
        ));
        assert_eq!(
            parse_data(
                "application/x-www-form-urlencoded",
                b"refresh=a%2Bb+c&refresh=z&x"
            )
            .unwrap(),
            json!({"refresh": "z", "x": ""})
        );
        assert_eq!(percent_decode(b"%41%zz%4", false), b"A%zz%4");
    }
}

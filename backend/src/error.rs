//! Every error answer the backend gives, and the one place that turns each
//! into SimpleJWT's (or DRF's, or dj-rest-auth's) status and body.
//!
//! `WWW-Authenticate` is added to every 401 by a layer in [`crate::app`],
//! since its scheme comes from the config.

use axum::http::{header, HeaderValue, Method, StatusCode};
use axum::response::{IntoResponse, Response};
use serde_json::{json, Map, Value};

use crate::jwt::{TokenError, TokenType};

/// The largest request body read, in bytes; larger ones get 413.
pub const BODY_LIMIT: usize = 64 * 1024;

/// An error answer, named after what failed.
#[derive(Debug)]
#[non_exhaustive]
pub enum ApiError {
    /// 400 DRF serializer errors, field by field in order (`non_field_errors`
    /// included): `{"refresh":["This field is required."]}`.
    Fields(Vec<(String, Vec<String>)>),
    /// 400 DRF `ParseError`: `{"detail":"JSON parse error - ..."}`.
    Parse(String),
    /// 415 DRF `UnsupportedMediaType` for the given `Content-Type`.
    UnsupportedMediaType(String),
    /// 413: the body is over [`BODY_LIMIT`].
    PayloadTooLarge,
    /// 400: the body could not be read to its end.
    BodyUnreadable,
    /// 408: the body stalled for longer than the body timeout.
    BodyTimeout,
    /// 401 SimpleJWT `InvalidToken` from a token endpoint:
    /// `{"detail":"Token is blacklisted","code":"token_not_valid"}`.
    Token(TokenError),
    /// 401 SimpleJWT `InvalidToken` with another message, such as
    /// dj-rest-auth's "No valid refresh token found.".
    TokenDetail(&'static str),
    /// 401 from `JWTAuthentication` on a protected endpoint:
    /// "Given token not valid for any token type" with the per-class messages.
    AccessToken(TokenError),
    /// 401 DRF `AuthenticationFailed` without a code in the body:
    /// `{"detail":"No active account found with the given credentials"}`.
    AuthenticationFailed(&'static str),
    /// 401 SimpleJWT `AuthenticationFailed` with a code:
    /// `{"detail":"User not found","code":"user_not_found"}`.
    AuthenticationFailedCode {
        /// The message.
        detail: &'static str,
        /// The machine-readable code.
        code: &'static str,
    },
    /// 401 that dj-rest-auth's logout view writes onto its response rather
    /// than raising, so DRF adds no `WWW-Authenticate`: `{"detail": ...}`.
    LogoutRefused(&'static str),
    /// 401 DRF `NotAuthenticated`: no credentials at all.
    NotAuthenticated,
    /// 404 `{"detail":"Not found."}`.
    NotFound,
    /// 405 DRF `MethodNotAllowed`, with the `Allow` header.
    MethodNotAllowed {
        /// The method refused.
        method: Method,
        /// The `Allow` header value.
        allow: &'static str,
    },
    /// 429 DRF `Throttled`, with `Retry-After` (only injected by test hooks).
    Throttled {
        /// Seconds to wait.
        retry_after: u64,
    },
    /// An RFC 6749 §5.2 error from `/o/token/`, as oauthlib words it.
    OAuth(OAuthError),
    /// 500 DRF's generic body. Injected by test hooks, or a storage or
    /// signing failure (logged to stderr, never shown to the client).
    Server,
}

impl ApiError {
    /// A 400 with a single field error.
    pub fn field(name: &str, message: &str) -> Self {
        Self::Fields(vec![(name.to_owned(), vec![message.to_owned()])])
    }

    /// A 500 for a failure that is the server's fault. The cause goes to
    /// stderr, never into the response.
    pub fn internal(context: &str, cause: &dyn std::fmt::Display) -> Self {
        eprintln!("refresh-backend: {context}: {cause}");
        Self::Server
    }

    /// The status this error answers with.
    pub fn status(&self) -> StatusCode {
        match self {
            Self::Fields(_) | Self::Parse(_) | Self::BodyUnreadable => StatusCode::BAD_REQUEST,
            Self::UnsupportedMediaType(_) => StatusCode::UNSUPPORTED_MEDIA_TYPE,
            Self::PayloadTooLarge => StatusCode::PAYLOAD_TOO_LARGE,
            Self::BodyTimeout => StatusCode::REQUEST_TIMEOUT,
            Self::Token(_)
            | Self::TokenDetail(_)
            | Self::AccessToken(_)
            | Self::AuthenticationFailed(_)
            | Self::AuthenticationFailedCode { .. }
            | Self::LogoutRefused(_)
            | Self::NotAuthenticated => StatusCode::UNAUTHORIZED,
            Self::NotFound => StatusCode::NOT_FOUND,
            Self::MethodNotAllowed { .. } => StatusCode::METHOD_NOT_ALLOWED,
            Self::Throttled { .. } => StatusCode::TOO_MANY_REQUESTS,
            Self::OAuth(OAuthError::InvalidClient) => StatusCode::UNAUTHORIZED,
            Self::OAuth(_) => StatusCode::BAD_REQUEST,
            Self::Server => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    /// The JSON body this error answers with.
    pub fn body(&self) -> Value {
        match self {
            Self::Fields(fields) => {
                let mut map = Map::new();
                for (name, messages) in fields {
                    map.insert(name.clone(), json!(messages));
                }
                Value::Object(map)
            }
            Self::Parse(message) => json!({"detail": format!("JSON parse error - {message}")}),
            Self::UnsupportedMediaType(content_type) => {
                json!({"detail": format!("Unsupported media type \"{content_type}\" in request.")})
            }
            Self::PayloadTooLarge => {
                json!({"detail": format!("Request body is larger than {BODY_LIMIT} bytes.")})
            }
            Self::BodyUnreadable => json!({"detail": "Request body could not be read."}),
            Self::BodyTimeout => json!({"detail": "Request body was not received in time."}),
            Self::Token(error) => json!({"detail": error.to_string(), "code": "token_not_valid"}),
            Self::TokenDetail(detail) => json!({"detail": detail, "code": "token_not_valid"}),
            Self::AccessToken(error) => json!({
                "detail": "Given token not valid for any token type",
                "code": "token_not_valid",
                "messages": [{
                    "token_class": TokenType::Access.class_name(),
                    "token_type": TokenType::Access.as_str(),
                    "message": error.to_string(),
                }],
            }),
            Self::AuthenticationFailed(detail) | Self::LogoutRefused(detail) => {
                json!({"detail": detail})
            }
            Self::AuthenticationFailedCode { detail, code } => {
                json!({"detail": detail, "code": code})
            }
            Self::NotAuthenticated => {
                json!({"detail": "Authentication credentials were not provided."})
            }
            Self::NotFound => json!({"detail": "Not found."}),
            Self::MethodNotAllowed { method, .. } => {
                json!({"detail": format!("Method \"{method}\" not allowed.")})
            }
            Self::Throttled { retry_after } => {
                let unit = if *retry_after == 1 {
                    "second"
                } else {
                    "seconds"
                };
                json!({"detail": format!("Request was throttled. Expected available in {retry_after} {unit}.")})
            }
            Self::OAuth(error) => match error.description() {
                Some(description) => {
                    json!({"error": error.code(), "error_description": description})
                }
                None => json!({"error": error.code()}),
            },
            Self::Server => json!({"detail": "A server error occurred."}),
        }
    }
}

/// The errors of Django OAuth Toolkit's token endpoint (oauthlib's), each
/// with the `error_description` oauthlib gives, if any.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum OAuthError {
    /// 400 `invalid_request`: a parameter missing, or parameters in the URL.
    InvalidRequest(&'static str),
    /// 401 `invalid_client`: no client, or not a registered public one.
    InvalidClient,
    /// 400 `invalid_grant`: a refresh token that is unknown, used or
    /// another client's; bad credentials (with a description).
    InvalidGrant(Option<&'static str>),
    /// 400 `unsupported_grant_type`: none, or not one served here.
    UnsupportedGrantType,
    /// 400 `invalid_scope`: more than was granted, or unknown.
    InvalidScope,
}

impl OAuthError {
    /// The `error` code.
    pub fn code(self) -> &'static str {
        match self {
            Self::InvalidRequest(_) => "invalid_request",
            Self::InvalidClient => "invalid_client",
            Self::InvalidGrant(_) => "invalid_grant",
            Self::UnsupportedGrantType => "unsupported_grant_type",
            Self::InvalidScope => "invalid_scope",
        }
    }

    fn description(self) -> Option<&'static str> {
        match self {
            Self::InvalidRequest(description) => Some(description),
            Self::InvalidGrant(description) => description,
            _ => None,
        }
    }
}

/// Marks a 401 that goes out without `WWW-Authenticate` (the layer in
/// [`crate::app`] adds one to every other 401).
#[derive(Debug, Clone, Copy)]
pub struct Unchallenged;

/// `Cache-Control: no-store` and `Pragma: no-cache`, which RFC 6749 asks of
/// every token endpoint answer and oauthlib sends with each.
pub fn no_store(headers: &mut axum::http::HeaderMap) {
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    headers.insert(header::PRAGMA, HeaderValue::from_static("no-cache"));
}

/// A JSON response, rendered compactly as DRF's `JSONRenderer` does.
pub fn json_response(status: StatusCode, body: &Value) -> Response {
    let bytes = serde_json::to_vec(body).unwrap_or_else(|_| b"{}".to_vec());
    (
        status,
        [(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/json"),
        )],
        bytes,
    )
        .into_response()
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let mut response = json_response(self.status(), &self.body());
        match self {
            Self::MethodNotAllowed { allow, .. } => {
                response
                    .headers_mut()
                    .insert(header::ALLOW, HeaderValue::from_static(allow));
            }
            Self::Throttled { retry_after } => {
                response
                    .headers_mut()
                    .insert(header::RETRY_AFTER, HeaderValue::from(retry_after));
            }
            Self::LogoutRefused(_) => {
                response.extensions_mut().insert(Unchallenged);
            }
            Self::OAuth(error) => {
                no_store(response.headers_mut());
                if error == OAuthError::InvalidClient {
                    response.headers_mut().insert(
                        header::WWW_AUTHENTICATE,
                        HeaderValue::from_static("Bearer error=\"invalid_client\""),
                    );
                }
            }
            _ => {}
        }
        response
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bodies_match_drf_and_simplejwt() {
        assert_eq!(
            ApiError::Token(TokenError::Blacklisted).body(),
            json!({"detail": "Token is blacklisted", "code": "token_not_valid"})
        );
        assert_eq!(
            ApiError::MethodNotAllowed {
                method: Method::GET,
                allow: "POST, OPTIONS"
            }
            .body(),
            json!({"detail": "Method \"GET\" not allowed."})
        );
        assert_eq!(
            ApiError::field("refresh", "This field is required.").body(),
            json!({"refresh": ["This field is required."]})
        );
    }
}

//! Django OAuth Toolkit's `POST /o/token/`, mounted when an OAuth client is
//! configured. The grants are in [`crate::oauth`]; this reads the request
//! as DOT does (form parameters only, none in the URL) and shapes the
//! answer as oauthlib does.

use std::time::Instant;

use axum::body::Body;
use axum::extract::State;
use axum::http::{header, HeaderMap, HeaderValue, Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use axum::Extension;
use serde_json::Value;

use super::refresh_faults::{after_refresh, before_refresh};
use crate::app::{AppState, SharedState};
use crate::body::{content_type, parse_form, read_limited};
use crate::error::{json_response, no_store, OAuthError};
use crate::faults::ConnectionKill;
use crate::metrics::RefreshOutcome;
use crate::oauth::{Granted, TokenParams, TokenRefusal};

/// The form parameters of the body; any other media type (JSON included)
/// gives none, as DOT reads `request.POST`.
fn params(headers: &HeaderMap, bytes: &[u8]) -> TokenParams {
    let media_type = content_type(headers);
    let media_type = media_type.split(';').next().unwrap_or("").trim();
    if !media_type.eq_ignore_ascii_case("application/x-www-form-urlencoded") {
        return TokenParams::new();
    }
    parse_form(bytes)
        .into_iter()
        .filter_map(|(key, value)| match value {
            Value::String(value) => Some((key, value)),
            _ => None,
        })
        .collect()
}

/// How a token request ended before its answer was shaped.
enum Handled {
    /// A grant succeeded; for a refresh grant, `true`.
    Granted(Granted, bool),
    /// A grant refused; for a refresh grant, `true`.
    Refused(TokenRefusal, bool),
    /// An armed fault answered instead (already counted).
    Injected(Response),
}

/// Reads the request and runs its grant.
async fn handle(state: &AppState, uri: &Uri, headers: &HeaderMap, body: Body) -> Handled {
    let started = Instant::now();
    // oauthlib's `_raise_on_bad_post_request`, before anything else.
    if uri.query().is_some_and(|q| !q.is_empty()) {
        let error = OAuthError::InvalidRequest("URL query parameters are not allowed");
        return Handled::Refused(error.into(), false);
    }
    let bytes = match read_limited(headers, body).await {
        Ok(bytes) => bytes,
        Err(error) => return Handled::Refused(error.into(), false),
    };
    let params = params(headers, &bytes);
    match params.get("grant_type").map(String::as_str) {
        Some("password") => match state.oauth_password_grant(headers, &params) {
            Ok(granted) => Handled::Granted(granted, false),
            Err(refusal) => Handled::Refused(refusal, false),
        },
        Some("refresh_token") => {
            if let Some(answered) = before_refresh(state, started).await {
                return Handled::Injected(answered);
            }
            match state.oauth_refresh_grant(headers, &params).await {
                Ok(granted) => Handled::Granted(granted, true),
                Err(refusal) => Handled::Refused(refusal, true),
            }
        }
        _ => Handled::Refused(OAuthError::UnsupportedGrantType.into(), false),
    }
}

/// `POST /o/token/`.
///
/// The test hooks' faults apply to refresh grants as on the other refresh
/// endpoints, once the body says it is one.
pub async fn token(
    State(state): State<SharedState>,
    kill: Option<Extension<ConnectionKill>>,
    uri: Uri,
    headers: HeaderMap,
    body: Body,
) -> Response {
    let started = Instant::now();
    match handle(&state, &uri, &headers, body).await {
        Handled::Granted(granted, refresh_grant) => {
            let mut response = json_response(StatusCode::OK, &granted.body());
            no_store(response.headers_mut());
            if !refresh_grant {
                return response;
            }
            let outcome = if granted.grace_repeat {
                RefreshOutcome::GraceReuse
            } else {
                RefreshOutcome::Success
            };
            state.metrics.refresh(outcome, started.elapsed());
            after_refresh(&state, kill.map(|Extension(k)| k), response).await
        }
        Handled::Refused(refusal, refresh_grant) => {
            if refresh_grant {
                state.metrics.refresh(refusal.outcome, started.elapsed());
            }
            refusal.error.into_response()
        }
        Handled::Injected(response) => response,
    }
}

/// Any other method: DOT's `TokenView` is a plain Django view with `post`,
/// so Django answers 405 with an empty body (and OPTIONS with 200).
pub async fn other(method: Method) -> Response {
    let allow = HeaderValue::from_static("POST, OPTIONS");
    if method == Method::OPTIONS {
        return (StatusCode::OK, [(header::ALLOW, allow)]).into_response();
    }
    (StatusCode::METHOD_NOT_ALLOWED, [(header::ALLOW, allow)]).into_response()
}

//! Django OAuth Toolkit's `POST /o/token/`, mounted when an OAuth client is
//! configured. The grants are in [`crate::oauth`]; this reads the request
//! as DOT does (form parameters only, none in the URL) and shapes the
//! answer as oauthlib does.

use std::time::Instant;

use axum::body::Body;
use axum::extract::State;
use axum::http::{header, HeaderMap, HeaderValue, Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use serde_json::Value;

use crate::app::SharedState;
use crate::body::{content_type, parse_form, read_limited};
use crate::error::{json_response, no_store, OAuthError};
use crate::metrics::RefreshOutcome;
use crate::oauth::{TokenParams, TokenRefusal};

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

/// `POST /o/token/`.
pub async fn token(
    State(state): State<SharedState>,
    uri: Uri,
    headers: HeaderMap,
    body: Body,
) -> Response {
    let started = Instant::now();
    let mut refresh_grant = false;
    let result = async {
        // oauthlib's `_raise_on_bad_post_request`, before anything else.
        if uri.query().is_some_and(|q| !q.is_empty()) {
            return Err(TokenRefusal::from(OAuthError::InvalidRequest(
                "URL query parameters are not allowed",
            )));
        }
        let bytes = read_limited(&headers, body).await?;
        let params = params(&headers, &bytes);
        match params.get("grant_type").map(String::as_str) {
            Some("password") => state.oauth_password_grant(&headers, &params),
            Some("refresh_token") => {
                refresh_grant = true;
                state.oauth_refresh_grant(&headers, &params).await
            }
            _ => Err(OAuthError::UnsupportedGrantType.into()),
        }
    }
    .await;
    match result {
        Ok(granted) => {
            if refresh_grant {
                let outcome = if granted.grace_repeat {
                    RefreshOutcome::GraceReuse
                } else {
                    RefreshOutcome::Success
                };
                state.metrics.refresh(outcome, started.elapsed());
            }
            let mut response = json_response(StatusCode::OK, &granted.body());
            no_store(response.headers_mut());
            response
        }
        Err(refusal) => {
            if refresh_grant {
                state.metrics.refresh(refusal.outcome, started.elapsed());
            }
            refusal.error.into_response()
        }
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

//! The protected resource the tests hit: `GET /api/data/<n>/?delay_ms=`
//! and `POST /api/data/<n>/`, which echoes a digest of the raw body so a
//! replayed request can be checked byte for byte.

use std::time::Duration;

use axum::body::Body;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use serde_json::json;
use sha2::{Digest, Sha256};

use crate::app::{AppState, SharedState};
use crate::body::{content_type, percent_decode, read_limited};
use crate::error::{json_response, ApiError};
use crate::ids::hex;
use crate::jwt::TokenError;
use crate::metrics::ProtectedOutcome;

/// The longest `delay_ms` honoured.
const MAX_DELAY: Duration = Duration::from_secs(10);

/// Django's `<int:n>`: digits only, anything else is no such URL.
fn parse_n(n: &str) -> Result<u64, ApiError> {
    if n.is_empty() || !n.bytes().all(|b| b.is_ascii_digit()) {
        return Err(ApiError::NotFound);
    }
    n.parse().map_err(|_| ApiError::NotFound)
}

/// Authenticates and counts the outcome.
fn authenticate(state: &AppState, headers: &HeaderMap) -> Result<(), ApiError> {
    let authenticated = if state.faults.refuses_access() {
        Err(ApiError::AccessToken(TokenError::Invalid))
    } else {
        state.authenticate(headers).map(|_user| ())
    };
    match authenticated {
        Ok(()) => Ok(()),
        Err(e) => {
            let outcome = if e.status() == StatusCode::UNAUTHORIZED {
                ProtectedOutcome::Unauthorized
            } else {
                ProtectedOutcome::BadRequest
            };
            state.metrics.protected(outcome);
            Err(e)
        }
    }
}

/// The `delay_ms` query parameter, capped at 10 s.
fn delay(uri: &Uri) -> Result<Duration, ApiError> {
    let Some(query) = uri.query() else {
        return Ok(Duration::ZERO);
    };
    let mut delay = Duration::ZERO;
    for pair in query.split('&') {
        let (key, value) = pair.split_once('=').unwrap_or((pair, ""));
        if key != "delay_ms" {
            continue;
        }
        let value = String::from_utf8_lossy(&percent_decode(value.as_bytes(), true)).into_owned();
        let ms: u64 = value
            .trim()
            .parse()
            .map_err(|_| ApiError::field("delay_ms", "A valid integer is required."))?;
        delay = Duration::from_millis(ms).min(MAX_DELAY);
    }
    Ok(delay)
}

/// `GET /api/data/<n>/`: after `delay_ms`, `{"n": n}` once authenticated.
pub async fn show(
    State(state): State<SharedState>,
    Path(n): Path<String>,
    uri: Uri,
    headers: HeaderMap,
) -> Response {
    let result = async {
        let n = parse_n(&n)?;
        let delay =
            delay(&uri).inspect_err(|_| state.metrics.protected(ProtectedOutcome::BadRequest))?;
        // Slow first, authenticated after, as behind a busy proxy or worker
        // queue: a request sent while its access token was valid can still
        // come back 401, late, after a refresh finished.
        if !delay.is_zero() {
            tokio::time::sleep(delay).await;
        }
        authenticate(&state, &headers)?;
        state.metrics.protected(ProtectedOutcome::Ok);
        Ok::<_, ApiError>(json!({"n": n}))
    }
    .await;
    match result {
        Ok(body) => json_response(StatusCode::OK, &body),
        Err(e) => e.into_response(),
    }
}

/// `POST /api/data/<n>/`: the SHA-256, length and `Content-Type` of the raw
/// body, once authenticated.
pub async fn digest(
    State(state): State<SharedState>,
    Path(n): Path<String>,
    headers: HeaderMap,
    body: Body,
) -> Response {
    let result = async {
        let n = parse_n(&n)?;
        authenticate(&state, &headers)?;
        let bytes = read_limited(&headers, body)
            .await
            .inspect_err(|_| state.metrics.protected(ProtectedOutcome::BadRequest))?;
        state.metrics.protected(ProtectedOutcome::Ok);
        Ok::<_, ApiError>(json!({
            "n": n,
            "sha256": hex(&Sha256::digest(&bytes)),
            "length": bytes.len(),
            "content_type": content_type(&headers),
        }))
    }
    .await;
    match result {
        Ok(body) => json_response(StatusCode::OK, &body),
        Err(e) => e.into_response(),
    }
}

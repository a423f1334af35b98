//! The faults armed through `/api/_test/faults`, applied around one
//! refresh on any refresh endpoint (test hooks only): before it, a delay,
//! an injected 500 or 429; after its rotation is committed, a held, lost or
//! truncated answer.

use std::time::Instant;

use axum::body::{Body, Bytes};
use axum::http::{header, HeaderValue};
use axum::response::{IntoResponse, Response};

use crate::app::AppState;
use crate::error::ApiError;
use crate::faults::{ConnectionKill, EarlyFault, LateFault, TruncatedBody};
use crate::metrics::{InjectedFault, RefreshOutcome};

/// Holds the refresh for an armed delay, then answers it in place of the
/// refresh when a 500 or 429 is armed (counted as `injected_500` or
/// `injected_429`; the token is not touched).
pub async fn before_refresh(state: &AppState, started: Instant) -> Option<Response> {
    if !state.config.test_hooks {
        return None;
    }
    if let Some(delay) = state.faults.delay() {
        state.metrics.fault(InjectedFault::Delay);
        tokio::time::sleep(delay).await;
    }
    match state.faults.take_early() {
        Some(EarlyFault::ServerError) => {
            state.metrics.fault(InjectedFault::ServerError);
            state
                .metrics
                .refresh(RefreshOutcome::InjectedServerError, started.elapsed());
            Some(ApiError::Server.into_response())
        }
        Some(EarlyFault::Throttle { retry_after }) => {
            state.metrics.fault(InjectedFault::Throttle);
            state
                .metrics
                .refresh(RefreshOutcome::InjectedThrottle, started.elapsed());
            Some(ApiError::Throttled { retry_after }.into_response())
        }
        None => None,
    }
}

/// The answer of a successful refresh whose rotation is committed: a late
/// fault decides whether the client ever learns of it, and when. Only a
/// real connection can be cut.
pub async fn after_refresh(
    state: &AppState,
    kill: Option<ConnectionKill>,
    response: Response,
) -> Response {
    if !state.config.test_hooks {
        return response;
    }
    if let Some(delay) = state.faults.delay_after() {
        state.metrics.fault(InjectedFault::Delay);
        tokio::time::sleep(delay).await;
    }
    let Some(kill) = kill else {
        return response;
    };
    match state.faults.take_late() {
        Some(LateFault::LostResponse) => {
            state.metrics.fault(InjectedFault::LostResponse);
            kill.fire();
            // The accept loop drops this connection, and this future with it.
            std::future::pending().await
        }
        Some(LateFault::TruncatedBody) => {
            state.metrics.fault(InjectedFault::TruncatedBody);
            truncate(response, kill).await
        }
        None => response,
    }
}

/// The same response with a body that stops halfway and cuts the connection.
async fn truncate(response: Response, kill: ConnectionKill) -> Response {
    let (mut parts, body) = response.into_parts();
    let full: Bytes = match http_body_util::BodyExt::collect(body).await {
        Ok(collected) => collected.to_bytes(),
        Err(_) => Bytes::new(),
    };
    parts
        .headers
        .insert(header::CONTENT_LENGTH, HeaderValue::from(full.len()));
    Response::from_parts(parts, Body::new(TruncatedBody::new(full, kill)))
}

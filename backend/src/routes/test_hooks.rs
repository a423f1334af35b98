//! The test hooks, mounted only with `--test-hooks`: `/api/_test/faults`
//! (GET shows the armed [`FaultPlan`], POST replaces it, DELETE clears it)
//! and `/api/_test/clock` (GET shows the server's time, POST puts it ahead).

use std::time::Duration;

use axum::body::Body;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};

use serde::Deserialize;
use serde_json::json;

use crate::app::SharedState;
use crate::body::read_limited;
use crate::clock::{iso8601, AdjustableClock, Clock};
use crate::error::{json_response, ApiError};
use crate::faults::FaultPlan;

fn plan_response(plan: &FaultPlan) -> Response {
    match serde_json::to_value(plan) {
        Ok(body) => json_response(StatusCode::OK, &body),
        Err(e) => ApiError::internal("showing the fault plan", &e).into_response(),
    }
}

/// `GET`: what is armed.
pub async fn show(State(state): State<SharedState>) -> Response {
    plan_response(&state.faults.show())
}

/// `POST` a JSON [`FaultPlan`]: arms it in place of the current one. An
/// empty body arms nothing (same as DELETE).
pub async fn arm(State(state): State<SharedState>, headers: HeaderMap, body: Body) -> Response {
    let bytes = match read_limited(&headers, body).await {
        Ok(bytes) => bytes,
        Err(e) => return e.into_response(),
    };
    let plan = if bytes.is_empty() {
        FaultPlan::default()
    } else {
        match serde_json::from_slice::<FaultPlan>(&bytes) {
            Ok(plan) => plan,
            Err(e) => return ApiError::Parse(e.to_string()).into_response(),
        }
    };
    state.faults.arm(plan);
    plan_response(&state.faults.show())
}

/// `DELETE`: disarms everything.
pub async fn clear(State(state): State<SharedState>) -> Response {
    state.faults.clear();
    plan_response(&state.faults.show())
}

/// What `POST /api/_test/clock` takes.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct ClockAdvance {
    /// Seconds to put the server's clock ahead; fractions allowed.
    advance_secs: f64,
}

/// The longest single step: far enough for any token lifetime, short of
/// the overflow edge.
const MAX_ADVANCE_SECS: f64 = 10.0 * 365.0 * 86_400.0;

fn clock_response(clock: &AdjustableClock) -> Response {
    let body = json!({
        "now": iso8601(clock.now()),
        "ahead_secs": clock.ahead().as_secs_f64(),
    });
    json_response(StatusCode::OK, &body)
}

/// `GET /api/_test/clock`: the server's time and how far ahead it was put.
pub async fn show_clock(State(state): State<SharedState>) -> Response {
    match &state.test_clock {
        Some(clock) => clock_response(clock),
        None => ApiError::NotFound.into_response(),
    }
}

/// `POST {"advance_secs": n}`: puts the server's clock `n` seconds ahead,
/// so tokens expire now rather than after a test sleeps through their
/// lifetime. It never goes back.
pub async fn advance_clock(
    State(state): State<SharedState>,
    headers: HeaderMap,
    body: Body,
) -> Response {
    let Some(clock) = &state.test_clock else {
        return ApiError::NotFound.into_response();
    };
    let bytes = match read_limited(&headers, body).await {
        Ok(bytes) => bytes,
        Err(e) => return e.into_response(),
    };
    let step = match serde_json::from_slice::<ClockAdvance>(&bytes) {
        Ok(step) => step.advance_secs,
        Err(e) => return ApiError::Parse(e.to_string()).into_response(),
    };
    if !(0.0..=MAX_ADVANCE_SECS).contains(&step) {
        return ApiError::field(
            "advance_secs",
            "Ensure this value is a number of seconds from 0 to ten years.",
        )
        .into_response();
    }
    clock.advance(Duration::from_secs_f64(step));
    clock_response(clock)
}

//! `/api/_test/faults`, mounted only with `--test-hooks`: GET shows the
//! armed [`FaultPlan`], POST replaces it, DELETE clears it.

use axum::body::Body;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};

use crate::app::SharedState;
use crate::body::read_limited;
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

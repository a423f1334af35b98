//! SimpleJWT's views: `/api/token/`, `/api/token/refresh/`,
//! `/api/token/verify/`, `/api/token/blacklist/`.

use axum::body::Body;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Extension;
use serde_json::json;

use super::exchange::{exchange, Mode};
use super::request_data::fields;
use crate::app::SharedState;
use crate::body::Presence;
use crate::error::{json_response, ApiError};
use crate::faults::ConnectionKill;

/// SimpleJWT's refusal of a login.
const NO_ACTIVE_ACCOUNT: &str = "No active account found with the given credentials";

/// `POST /api/token/`: `{"username","password"}` to `{"refresh","access"}`.
pub async fn obtain(State(state): State<SharedState>, headers: HeaderMap, body: Body) -> Response {
    let result = async {
        let mut fields = fields(&headers, body).await?;
        let username = fields.char("username", Presence::Required, false);
        let password = fields.char("password", Presence::Required, false);
        fields.finish()?;
        let user = match (username, password) {
            (Some(username), Some(password)) => state.check_credentials(&username, &password)?,
            _ => None,
        };
        state.metrics.login(user.is_some());
        let user = user.ok_or(ApiError::AuthenticationFailed(NO_ACTIVE_ACCOUNT))?;
        let pair = state.issue_pair(&user)?;
        Ok::<_, ApiError>(json!({"refresh": pair.refresh.token, "access": pair.access.token}))
    }
    .await;
    match result {
        Ok(body) => json_response(StatusCode::OK, &body),
        Err(e) => e.into_response(),
    }
}

/// `POST /api/token/refresh/`: `{"refresh"}` to `{"access"}` (and
/// `"refresh"` when rotating).
pub async fn refresh(
    State(state): State<SharedState>,
    kill: Option<Extension<ConnectionKill>>,
    headers: HeaderMap,
    body: Body,
) -> Response {
    exchange(
        &state,
        kill.map(|Extension(k)| k),
        Mode::Body,
        headers,
        body,
    )
    .await
}

/// `POST /api/token/verify/`: `{"token"}` to `{}`.
pub async fn verify(State(state): State<SharedState>, headers: HeaderMap, body: Body) -> Response {
    let result = async {
        let mut fields = fields(&headers, body).await?;
        let token = fields.char("token", Presence::Required, false);
        fields.finish()?;
        state.verify(&token.unwrap_or_default())
    }
    .await;
    match result {
        Ok(()) => json_response(StatusCode::OK, &json!({})),
        Err(e) => e.into_response(),
    }
}

/// `POST /api/token/blacklist/`: `{"refresh"}` to `{}`.
pub async fn blacklist(
    State(state): State<SharedState>,
    headers: HeaderMap,
    body: Body,
) -> Response {
    let result = async {
        let mut fields = fields(&headers, body).await?;
        let refresh = fields.char("refresh", Presence::Required, false);
        fields.finish()?;
        state.blacklist(&refresh.unwrap_or_default())
    }
    .await;
    match result {
        Ok(()) => json_response(StatusCode::OK, &json!({})),
        Err(e) => e.into_response(),
    }
}

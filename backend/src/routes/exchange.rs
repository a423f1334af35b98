//! One refresh request on either refresh endpoint, from the armed faults to
//! the counted outcome. Body mode and cookie mode differ only in where the
//! token comes from and how the answer is shaped ([`Mode`]).

use std::time::Instant;

use axum::body::Body;
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use serde_json::json;

use super::refresh_faults::{after_refresh, before_refresh};
use super::request_data::fields;
use crate::app::AppState;
use crate::body::Presence;
use crate::clock::{iso8601, Timestamp};
use crate::cookies::{read_cookie, set_cookie};
use crate::error::{json_response, ApiError};
use crate::faults::ConnectionKill;
use crate::metrics::RefreshOutcome;
use crate::session::{Refreshed, Refused};

/// Which refresh endpoint is answering.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// SimpleJWT's `/api/token/refresh/`: token in and out in JSON.
    Body,
    /// dj-rest-auth's `/api/auth/token/refresh/`: token in and out in cookies.
    Cookie,
}

/// dj-rest-auth's answer when there is no refresh token anywhere.
pub const NO_REFRESH_TOKEN: &str = "No valid refresh token found.";

/// Runs one refresh request. Every request that gets here is counted once
/// in `refresh_requests_total`, injected faults included (as `injected_500`
/// and `injected_429`; a lost or truncated response counts as the success
/// it was, plus `injected_faults_total`).
pub async fn exchange(
    state: &AppState,
    kill: Option<ConnectionKill>,
    mode: Mode,
    headers: HeaderMap,
    body: Body,
) -> Response {
    let started = Instant::now();
    if let Some(answered) = before_refresh(state, started).await {
        return answered;
    }

    let result = match presented_token(state, mode, &headers, body).await {
        Ok(raw) => state.refresh(&raw).await,
        Err(error) => Err(Refused::request(error)),
    };
    let refreshed = match result {
        Ok(refreshed) => refreshed,
        Err(refused) => {
            state.metrics.refresh(refused.outcome, started.elapsed());
            return refused.error.into_response();
        }
    };
    let outcome = if refreshed.grace_reuse {
        RefreshOutcome::GraceReuse
    } else {
        RefreshOutcome::Success
    };
    state.metrics.refresh(outcome, started.elapsed());
    let response = answer(state, mode, &refreshed);

    after_refresh(state, kill, response).await
}

/// The refresh token of the request.
async fn presented_token(
    state: &AppState,
    mode: Mode,
    headers: &HeaderMap,
    body: Body,
) -> Result<String, ApiError> {
    let mut fields = fields(headers, body).await?;
    match mode {
        Mode::Body => {
            let refresh = fields.char("refresh", Presence::Required, false);
            fields.finish()?;
            refresh.ok_or(ApiError::field("refresh", "This field is required."))
        }
        Mode::Cookie => {
            // dj-rest-auth's `CharField(required=False)`: absent is fine,
            // blank is a 400 before the cookie is looked at; a `refresh`
            // in the body wins over the cookie.
            let from_body = fields.char("refresh", Presence::Optional, false);
            fields.finish()?;
            match from_body {
                Some(token) => Ok(token),
                None => read_cookie(headers, &state.config.refresh_cookie_name)
                    .ok_or(ApiError::TokenDetail(NO_REFRESH_TOKEN)),
            }
        }
    }
}

/// The 200 of a refresh: SimpleJWT's body, or dj-rest-auth's cookies with
/// `access_expiration`.
fn answer(state: &AppState, mode: Mode, refreshed: &Refreshed) -> Response {
    match mode {
        Mode::Body => {
            let body = match &refreshed.refresh {
                Some(refresh) => {
                    json!({"access": refreshed.access.token, "refresh": refresh.token})
                }
                None => json!({"access": refreshed.access.token}),
            };
            json_response(StatusCode::OK, &body)
        }
        Mode::Cookie => {
            let now = state.config.clock.now();
            let secure = state.config.secure_cookies;
            // dj-rest-auth deletes only `refresh` from the body under
            // `JWT_AUTH_HTTPONLY`; the access token stays, the same one as
            // in the cookie.
            let body = json!({
                "access": refreshed.access.token,
                "access_expiration": iso8601(Timestamp::from_secs(refreshed.access.expires_at)),
            });
            let mut response = json_response(StatusCode::OK, &body);
            let headers = response.headers_mut();
            let access = &refreshed.access;
            if let Some(line) = set_cookie(
                &state.config.access_cookie_name,
                &access.token,
                access.expires_at,
                now,
                secure,
            ) {
                headers.append(header::SET_COOKIE, line);
            }
            if let Some(refresh) = &refreshed.refresh {
                if let Some(line) = set_cookie(
                    &state.config.refresh_cookie_name,
                    &refresh.token,
                    refresh.expires_at,
                    now,
                    secure,
                ) {
                    headers.append(header::SET_COOKIE, line);
                }
            }
            response
        }
    }
}

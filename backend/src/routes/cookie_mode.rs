//! dj-rest-auth's views with `JWT_AUTH_HTTPONLY`: `/api/auth/login/`,
//! `/api/auth/token/refresh/`, `/api/auth/logout/`.
//!
//! The cookie names are the config's (`JWT_AUTH_COOKIE`,
//! `JWT_AUTH_REFRESH_COOKIE`; `access` and `refresh` by default). None of
//! them looks at the access cookie: a stale or garbage one never
//! blocks a login, refresh or logout (dj-rest-auth answers 401 there and
//! leaves the refresh token valid).

use axum::body::Body;
use axum::extract::State;
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Extension;
use serde_json::json;

use super::exchange::{exchange, Mode};
use super::request_data::fields;
use crate::app::SharedState;
use crate::body::Presence;
use crate::clock::{iso8601, Timestamp};
use crate::cookies::{delete_auth_cookies, read_cookie, set_cookie};
use crate::error::{json_response, ApiError};
use crate::faults::ConnectionKill;

/// dj-rest-auth's refusal of a login.
const UNABLE_TO_LOG_IN: &str = "Unable to log in with provided credentials.";

/// `POST /api/auth/login/`: sets both cookies; the body has the access
/// token, an empty `refresh`, the user and both expirations.
pub async fn login(State(state): State<SharedState>, headers: HeaderMap, body: Body) -> Response {
    let result = async {
        let mut fields = fields(&headers, body).await?;
        let username = fields.char("username", Presence::Optional, true);
        let password = fields.char("password", Presence::Required, false);
        fields.finish()?;
        let user = match (username, password) {
            (Some(username), Some(password)) if !username.is_empty() => {
                state.check_credentials(&username, &password)?
            }
            _ => None,
        };
        state.metrics.login(user.is_some());
        let user = user.ok_or(ApiError::field("non_field_errors", UNABLE_TO_LOG_IN))?;
        let pair = state.issue_pair(&user)?;
        Ok::<_, ApiError>((user, pair))
    }
    .await;
    let (user, pair) = match result {
        Ok(ok) => ok,
        Err(e) => return e.into_response(),
    };
    let body = json!({
        "access": pair.access.token,
        "refresh": "",
        "user": {
            "pk": user.pk,
            "username": user.username,
            "email": user.email,
            "first_name": user.first_name,
            "last_name": user.last_name,
        },
        "access_expiration": iso8601(Timestamp::from_secs(pair.access.expires_at)),
        "refresh_expiration": iso8601(Timestamp::from_secs(pair.refresh.expires_at)),
    });
    let mut response = json_response(StatusCode::OK, &body);
    let now = state.config.clock.now();
    let secure = state.config.secure_cookies;
    let cookies = [
        set_cookie(
            &state.config.access_cookie_name,
            &pair.access.token,
            pair.access.expires_at,
            now,
            secure,
        ),
        set_cookie(
            &state.config.refresh_cookie_name,
            &pair.refresh.token,
            pair.refresh.expires_at,
            now,
            secure,
        ),
    ];
    for line in cookies.into_iter().flatten() {
        response.headers_mut().append(header::SET_COOKIE, line);
    }
    response
}

/// `POST /api/auth/token/refresh/`: the refresh cookie (or a non-empty
/// `refresh` in the body) to new cookies; cookies untouched on failure.
pub async fn refresh(
    State(state): State<SharedState>,
    kill: Option<Extension<ConnectionKill>>,
    headers: HeaderMap,
    body: Body,
) -> Response {
    exchange(
        &state,
        kill.map(|Extension(k)| k),
        Mode::Cookie,
        headers,
        body,
    )
    .await
}

/// `POST /api/auth/logout/`: blacklists the refresh cookie's token and
/// deletes both cookies, whatever the answer.
///
/// With `JWT_AUTH_HTTPONLY` dj-rest-auth reads the refresh token from the
/// cookie only (the body is not looked at), and writes its 401s onto the
/// response instead of raising them, so they carry no `WWW-Authenticate`.
/// It answers 500 "An error has occurred." for an invalid or expired
/// refresh token; this answers 401 with SimpleJWT's message.
pub async fn logout(State(state): State<SharedState>, headers: HeaderMap) -> Response {
    state.metrics.logout();
    let result = if state.config.blacklist_store {
        match read_cookie(&headers, &state.config.refresh_cookie_name) {
            Some(raw) => state.blacklist(&raw).map_err(|e| match e {
                ApiError::Token(token_error) => ApiError::LogoutRefused(token_error.message()),
                other => other,
            }),
            None => Err(ApiError::LogoutRefused(
                "Refresh token was not included in cookie data.",
            )),
        }
    } else {
        Ok(())
    };
    let mut response = match result {
        Ok(()) => json_response(
            StatusCode::OK,
            &json!({"detail": "Successfully logged out."}),
        ),
        Err(e) => e.into_response(),
    };
    let config = &state.config;
    delete_auth_cookies(
        response.headers_mut(),
        [&config.access_cookie_name, &config.refresh_cookie_name],
        config.secure_cookies,
    );
    response
}

//! CORS for the origins given with `--cors-origin`: credentials allowed for
//! exactly those, nothing for anyone else (no wildcard, ever, since the
//! auth cookies ride on these requests).
//!
//! Written by hand rather than with `tower-http`'s `CorsLayer`, because that
//! layer answers every OPTIONS request as a preflight, and an OPTIONS
//! without `Access-Control-Request-Method` is DRF's view metadata here (as
//! django-cors-headers leaves it to the view).

use axum::extract::{Request, State};
use axum::http::{header, HeaderMap, HeaderValue, Method, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

use crate::app::SharedState;

/// Methods a preflight may ask for.
const ALLOW_METHODS: &str = "GET, POST, DELETE, OPTIONS";
/// Request headers a preflight may ask for: bearer mode, JSON bodies and
/// Django's CSRF header.
const ALLOW_HEADERS: &str = "Authorization, Content-Type, X-CSRFToken";
/// Response headers a cross-origin script may read: the coordinator honours
/// `Retry-After`, which is not CORS-safelisted.
const EXPOSE_HEADERS: &str = "Retry-After, WWW-Authenticate";

/// Answers preflights from allowed origins and marks their other responses.
pub async fn cors(State(state): State<SharedState>, request: Request, next: Next) -> Response {
    let origins = &state.config.cors_origins;
    if origins.is_empty() {
        return next.run(request).await;
    }
    let allowed = request
        .headers()
        .get(header::ORIGIN)
        .filter(|o| {
            origins
                .iter()
                .any(|allowed| allowed.as_bytes() == o.as_bytes())
        })
        .cloned();
    let preflight = request.method() == Method::OPTIONS
        && request
            .headers()
            .contains_key(header::ACCESS_CONTROL_REQUEST_METHOD);
    let mut response = match (&allowed, preflight) {
        (Some(_), true) => {
            let mut response = StatusCode::OK.into_response();
            let headers = response.headers_mut();
            headers.insert(
                header::ACCESS_CONTROL_ALLOW_METHODS,
                HeaderValue::from_static(ALLOW_METHODS),
            );
            headers.insert(
                header::ACCESS_CONTROL_ALLOW_HEADERS,
                HeaderValue::from_static(ALLOW_HEADERS),
            );
            headers.insert(
                header::ACCESS_CONTROL_MAX_AGE,
                HeaderValue::from_static("600"),
            );
            response
        }
        _ => next.run(request).await,
    };
    let headers = response.headers_mut();
    // Caches must not hand one origin's answer to another.
    headers.append(header::VARY, HeaderValue::from_static("Origin"));
    if let Some(origin) = allowed {
        allow(headers, origin);
    }
    response
}

fn allow(headers: &mut HeaderMap, origin: HeaderValue) {
    headers.insert(header::ACCESS_CONTROL_ALLOW_ORIGIN, origin);
    headers.insert(
        header::ACCESS_CONTROL_ALLOW_CREDENTIALS,
        HeaderValue::from_static("true"),
    );
    headers.insert(
        header::ACCESS_CONTROL_EXPOSE_HEADERS,
        HeaderValue::from_static(EXPOSE_HEADERS),
    );
}

//! The refresh request, and what its answer means.
//!
//! Sent with `keepalive: true`: if the page reloads or navigates while the
//! refresh is out, the browser still completes it and stores the rotated
//! cookie. Without it, a reload that cuts off the response leaves the browser
//! holding a refresh token the server has already blacklisted. It is never
//! aborted, for the same reason.

use alloc::borrow::ToOwned;
use alloc::string::String;
use core::time::Duration;

use js_sys::{Object, Reflect, JSON};
use wasm_bindgen::prelude::*;
use web_sys::{Headers, Request, RequestCredentials, RequestInit, Response};

use super::options::{field, Mode, RefreshEndpoint};
use super::tokens::Tokens;
use crate::core::{retry_after_seconds, RefreshOutcome};

/// The refresh request for the current credential, or the outcome at once
/// when there is nothing to refresh with (bearer mode without a refresh
/// token: the session is over).
pub fn request(endpoint: &RefreshEndpoint, mode: &Mode) -> Result<Request, RefreshOutcome> {
    let init = RequestInit::new();
    init.set_method(&endpoint.method);
    // web-sys's RequestInit has no `keepalive` setter.
    let _ = Reflect::set(&init, &"keepalive".into(), &true.into());
    let headers = Headers::new().map_err(|_| RefreshOutcome::Lost)?;
    match mode {
        Mode::Cookie => {
            // dj-rest-auth reads the refresh token from the cookie.
            init.set_credentials(RequestCredentials::Include);
            if let Some((header, cookie)) = &endpoint.csrf {
                if let Some(token) = read_cookie(cookie) {
                    let _ = headers.set(header, &token);
                }
            }
        }
        Mode::Bearer { store, .. } => {
            let refresh = store
                .get()
                .and_then(|tokens| tokens.refresh)
                .ok_or(RefreshOutcome::Refused)?;
            // SimpleJWT's TokenRefreshView: {"refresh": "<token>"}.
            let body = Object::new();
            let _ = Reflect::set(&body, &"refresh".into(), &refresh.into());
            let body = JSON::stringify(&body).map_err(|_| RefreshOutcome::Lost)?;
            let _ = headers.set("Content-Type", "application/json");
            init.set_body(&body);
        }
    }
    init.set_headers(&headers);
    // Only a broken refresh URL can fail here; no answer can come from it.
    Request::new_with_str_and_init(&endpoint.url, &init).map_err(|_| RefreshOutcome::Lost)
}

/// What the answer's status says, before its body is read.
pub fn classify(response: &Response, now_ms: f64) -> RefreshOutcome {
    let retry_after = response
        .headers()
        .get("Retry-After")
        .ok()
        .flatten()
        .and_then(|value| retry_after(&value, now_ms));
    RefreshOutcome::from_status(response.status(), retry_after)
}

/// What a rotated answer's body, read in full as `text`, means. `None` for
/// a body that could not be read: the rotation happened on the server, but
/// whether it reached this client is unknown.
pub fn rotated(mode: &Mode, status: u16, text: Option<String>) -> RefreshOutcome {
    let Some(text) = text else {
        return RefreshOutcome::Lost;
    };
    match mode {
        // The cookie jar holds the credential; the body is informational.
        Mode::Cookie => RefreshOutcome::Rotated,
        Mode::Bearer { store, .. } => {
            let body = JSON::parse(&text).unwrap_or(JsValue::UNDEFINED);
            let Some(access) = Tokens::from_js(&body).map(|t| t.access) else {
                // A success without a token is a broken server, not a
                // refusal: retry, and let the server's next answer decide.
                return RefreshOutcome::Unavailable {
                    status,
                    retry_after: None,
                };
            };
            // Without rotation SimpleJWT answers with an access token alone;
            // the refresh token stays the same.
            let refresh = field(&body, "refresh")
                .as_string()
                .filter(|r| !r.is_empty())
                .or_else(|| store.get().and_then(|t| t.refresh));
            store.set(Some(&Tokens { access, refresh }));
            RefreshOutcome::Rotated
        }
    }
}

/// `Retry-After` as delta-seconds, or as an HTTP date relative to now.
fn retry_after(value: &str, now_ms: f64) -> Option<Duration> {
    retry_after_seconds(value).or_else(|| {
        let at = js_sys::Date::parse(value);
        at.is_finite()
            .then(|| Duration::from_millis((at - now_ms).max(0.0) as u64))
    })
}

/// A cookie's value from `document.cookie`; `None` without a document (a
/// worker) or without the cookie.
fn read_cookie(name: &str) -> Option<String> {
    let cookies = field(&field(&js_sys::global(), "document"), "cookie").as_string()?;
    cookies.split(';').find_map(|pair| {
        let (key, value) = pair.trim().split_once('=')?;
        (key == name).then(|| value.to_owned())
    })
}

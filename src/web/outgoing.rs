//! Turning the app's request into the one that goes on the wire.
//!
//! The app's request is built once, before the first send, and kept
//! untouched as the template: each send goes out as a clone of it (for a
//! body, `Request.clone()` tees the bytes, so the template keeps them for a
//! replay, whatever the body was: string, Blob, ArrayBuffer, typed array,
//! FormData, URLSearchParams). Only a body that cannot be cloned sensibly, a
//! stream, is sent from the template itself, once.

use wasm_bindgen::prelude::*;
use web_sys::{Headers, Request, RequestCredentials, RequestInit};

use super::options::Mode;

/// Which credentials a send carries.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Attach {
    /// Nothing added: the request goes as the app wrote it.
    Nothing,
    /// Cookies (`credentials: 'include'`) in cookie mode; no bearer header.
    CookiesOnly,
    /// The full credential of the mode.
    Credential,
}

/// The request for one send of `template`.
///
/// `keep_template` clones the template so it can be sent again; without it
/// the template itself is consumed (a stream body, or a request that will
/// never be replayed).
///
/// # Errors
/// What the platform throws: a template whose body was already used, or
/// headers the platform refuses.
pub fn prepare(
    template: &Request,
    mode: &Mode,
    attach: Attach,
    keep_template: bool,
) -> Result<Request, JsValue> {
    let source = if keep_template {
        // `Request.clone()` in JS: a new request with a tee of the body.
        template.clone()?
    } else {
        // Another handle to the same JS object.
        Clone::clone(template)
    };
    let init = RequestInit::new();
    match (attach, mode) {
        (Attach::Nothing, _) => return Ok(source),
        (Attach::CookiesOnly | Attach::Credential, Mode::Cookie) => {
            init.set_credentials(RequestCredentials::Include);
        }
        (Attach::CookiesOnly, Mode::Bearer { .. }) => return Ok(source),
        (Attach::Credential, Mode::Bearer { scheme, store }) => {
            // No token yet (not logged in, or cleared): the request goes
            // without one, its 401 starts a refresh, and the refresh without
            // a refresh token ends the session cleanly.
            let Some(tokens) = store.get() else {
                return Ok(source);
            };
            let headers = Headers::new_with_headers(&source.headers())?;
            headers.set(
                "Authorization",
                &[scheme.as_str(), " ", &tokens.access].concat(),
            )?;
            init.set_headers(&headers);
        }
    }
    Request::new_with_request_and_init(&source, &init)
}

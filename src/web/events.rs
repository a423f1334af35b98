//! What the app sees: event objects for `onEvent`, errors for rejections.

use js_sys::{Object, Reflect};
use wasm_bindgen::prelude::*;
use web_sys::Request;

use super::platform::{
    refresh_unavailable_error, replay_not_possible_error, session_expired_error,
};
use crate::core::{Failure, Notice, Unavailability};

/// The event object for a notice. `request` is the request a `Replayed`
/// notice is about.
pub fn event(notice: Notice, request: Option<&Request>) -> JsValue {
    let event = Object::new();
    let set = |key: &str, value: JsValue| {
        // Defining a property on a fresh plain object cannot fail.
        let _ = Reflect::set(&event, &key.into(), &value);
    };
    match notice {
        Notice::RefreshStarted { attempt } => {
            set("type", "refresh-start".into());
            set("attempt", attempt.into());
        }
        Notice::RefreshSucceeded { generation } => {
            set("type", "refresh-end".into());
            set("ok", true.into());
            // Generations stay far below 2^53.
            set("generation", (generation.get() as f64).into());
        }
        Notice::RefreshFailed { cause, retrying } => {
            let (reason, status) = reason(cause);
            set("type", "refresh-end".into());
            set("ok", false.into());
            set("reason", reason.into());
            if status != 0 {
                set("status", status.into());
            }
            set("retrying", retrying.into());
        }
        Notice::Replayed { .. } => {
            set("type", "replay".into());
            if let Some(request) = request {
                set("method", request.method().into());
                set("url", request.url().into());
            }
        }
        Notice::SessionExpired { remote } => {
            set("type", "session-expired".into());
            set("remote", remote.into());
        }
    }
    event.into()
}

/// The error a request is rejected with.
pub fn error(failure: Failure, request: &Request) -> JsValue {
    match failure {
        Failure::SessionExpired => session_expired_error(request),
        Failure::RefreshUnavailable(cause) => {
            let (reason, status) = reason(cause);
            refresh_unavailable_error(request, reason, status)
        }
        Failure::ReplayNotPossible => replay_not_possible_error(request),
    }
}

/// The `reason` string of an unavailability, and its status (0 for none).
fn reason(cause: Unavailability) -> (&'static str, u16) {
    match cause {
        Unavailability::Timeout => ("timeout", 0),
        Unavailability::Network => ("network", 0),
        Unavailability::Status(status) => ("status", status),
        Unavailability::RetryAfterTooLong => ("retry-after-too-long", 0),
    }
}

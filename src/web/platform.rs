//! Bindings to what the web layer uses of JavaScript: its own half in
//! `bridge.js`, the monotonic clock, and the `Request` constructor.

use js_sys::{Function, Promise};
use wasm_bindgen::prelude::*;
use web_sys::{AbortSignal, Request};

use crate::core::Instant;

#[wasm_bindgen(module = "/src/web/bridge.js")]
extern "C" {
    /// One caller's Promise, listed by the bridge until settled, so the
    /// bridge can settle it even if the wasm side traps.
    pub type Call;
    #[wasm_bindgen(constructor)]
    pub fn new() -> Call;
    #[wasm_bindgen(method, getter)]
    pub fn promise(this: &Call) -> Promise;
    /// Resolves (`ok`) or rejects with `value`; later calls do nothing.
    #[wasm_bindgen(method)]
    pub fn settle(this: &Call, ok: bool, value: &JsValue);

    /// The JS side of one coordinator: watches promises, the timer and
    /// abort signals, and reports each to the one handler it was built with,
    /// `handler(kind, id, ok, value)`.
    pub type Host;
    #[wasm_bindgen(constructor)]
    pub fn new(handler: &Function) -> Host;
    /// `handler(kind, id, ok, value)` once `promise` settles.
    #[wasm_bindgen(method)]
    pub fn watch(this: &Host, promise: &JsValue, kind: u32, id: f64);
    /// Settles `call` as `promise` settles.
    #[wasm_bindgen(method)]
    pub fn forward(this: &Host, promise: &JsValue, call: &Call);
    /// (Re)arms the timer: `handler(kind, 0, true)` after `ms`.
    #[wasm_bindgen(method)]
    pub fn schedule(this: &Host, ms: f64, kind: u32);
    #[wasm_bindgen(method)]
    pub fn cancel(this: &Host);
    /// `handler(kind, id, true)` when `signal` aborts, until `unlisten(id)`.
    #[wasm_bindgen(method)]
    pub fn listen(this: &Host, signal: &AbortSignal, kind: u32, id: f64);
    #[wasm_bindgen(method)]
    pub fn unlisten(this: &Host, id: f64);

    /// Calls an app callback; its exception is reported, not propagated.
    #[wasm_bindgen(js_name = callApp)]
    pub fn call_app(callback: &Function, argument: &JsValue);
    /// Notes in sessionStorage that a refresh to `url` was sent at `at` (ms
    /// since the epoch), or clears the note (`at` = 0).
    #[wasm_bindgen(js_name = noteRefresh)]
    pub fn note_refresh(url: &str, at: f64);
    /// The time of a refresh to `url` a previous page load sent and never
    /// saw end, or 0.
    #[wasm_bindgen(js_name = notedRefresh)]
    pub fn noted_refresh(url: &str) -> f64;
    #[wasm_bindgen(js_name = isStream)]
    pub fn is_stream(body: &JsValue) -> bool;
    /// The error every call is rejected with after a fault, or null.
    pub fn faulted() -> JsValue;
    /// Reports an error the way an uncaught one from an event listener is.
    pub fn report(error: &JsValue);
    /// Cancels the body of a response nobody will read (a 401 being
    /// replayed), freeing its connection.
    pub fn discard(response: &JsValue);

    #[wasm_bindgen(js_name = sessionExpired)]
    pub fn session_expired_error(request: &JsValue) -> JsValue;
    #[wasm_bindgen(js_name = refreshUnavailable)]
    pub fn refresh_unavailable_error(request: &Request, reason: &str, status: u16) -> JsValue;
    #[wasm_bindgen(js_name = replayNotPossible)]
    pub fn replay_not_possible_error(request: &Request) -> JsValue;
}

#[wasm_bindgen]
extern "C" {
    #[wasm_bindgen(js_namespace = performance, js_name = now)]
    fn performance_now() -> f64;

    /// `new Request(input, init)` for any input `fetch` takes: a string, a
    /// URL, or a Request. Throws what `fetch` would throw for bad input.
    #[wasm_bindgen(js_name = Request)]
    type AnyRequest;
    #[wasm_bindgen(constructor, catch, js_class = "Request")]
    fn new(input: &JsValue, init: &JsValue) -> Result<AnyRequest, JsValue>;
}

/// Builds a `Request` the way `fetch(input, init)` would.
///
/// # Errors
/// The `TypeError` the platform throws for an invalid URL, method, body or
/// init, which the caller gets as `fetch` would give it.
pub fn new_request(input: &JsValue, init: &JsValue) -> Result<Request, JsValue> {
    AnyRequest::new(input, init).map(JsCast::unchecked_into)
}

/// The monotonic clock, as the core's `Instant`.
pub fn now() -> Instant {
    // `performance.now()` is non-negative and far below 2^53 ms.
    Instant::from_millis(performance_now() as u64)
}

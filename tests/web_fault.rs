//! A panic in Rust still settles every waiter (design rule 4). In its own
//! test binary: the trap leaves this wasm instance unusable, which must not
//! disturb the other browser tests. Needs `--features fault-injection`.
#![cfg(all(target_arch = "wasm32", feature = "fault-injection"))]
#![allow(clippy::panic)]

use js_sys::{Function, Promise};
use refresh_coordinator::web::AuthCoordinator;
use wasm_bindgen::prelude::*;
use wasm_bindgen_futures::JsFuture;
use wasm_bindgen_test::*;

wasm_bindgen_test_configure!(run_in_browser);

#[wasm_bindgen(module = "/tests/web/fault.js")]
extern "C" {
    #[wasm_bindgen(js_name = panicSettlesEveryCaller)]
    fn panic_settles_every_caller(create: &Function) -> Promise;
}

#[wasm_bindgen(module = "/tests/web/fake_server.js")]
extern "C" {
    #[wasm_bindgen(js_name = selfCheck)]
    fn fake_server_self_check() -> Promise;
}

#[wasm_bindgen_test]
async fn a_panic_in_a_continuation_settles_every_caller_with_a_fault_error() {
    let create =
        Closure::<dyn Fn(JsValue) -> Result<AuthCoordinator, JsValue>>::new(AuthCoordinator::new)
            .into_js_value()
            .unchecked_into::<Function>();
    // The scenario relies on the stand-in server (and this also ships it to
    // the test page, which only gets the JS modules Rust refers to).
    let checked = JsFuture::from(fake_server_self_check()).await;
    assert!(checked.is_ok(), "the fake server behaves");
    if let Err(error) = JsFuture::from(panic_settles_every_caller(&create)).await {
        let message = js_sys::Reflect::get(&error, &"message".into())
            .ok()
            .and_then(|m| m.as_string())
            .unwrap_or_default();
        panic!("{message}");
    }
}

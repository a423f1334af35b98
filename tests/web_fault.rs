//! A panic in Rust still settles every waiter (design rule 4). In its own
//! test binary: the trap leaves this wasm instance unusable, which must not
//! disturb the other browser tests. Needs `--features fault-injection`.
#![cfg(all(target_arch = "wasm32", feature = "fault-injection"))]
#![allow(clippy::panic)]

use js_sys::{Function, Promise};
use refresh_coordinator::web::Core;
use wasm_bindgen::prelude::*;
use wasm_bindgen_futures::JsFuture;
use wasm_bindgen_test::*;

wasm_bindgen_test_configure!(run_in_browser);

#[wasm_bindgen(module = "/tests/web/fault.js")]
extern "C" {
    #[wasm_bindgen(js_name = panicSettlesEveryCaller)]
    fn panic_settles_every_caller(make_core: &Function) -> Promise;
}

// The modules fault.js imports, named so the test page gets them.
#[wasm_bindgen(module = "/tests/web/fake_server.js")]
extern "C" {
    #[wasm_bindgen(js_name = selfCheck)]
    fn fake_server_self_check() -> Promise;
}

#[wasm_bindgen(module = "/src/web/options.js")]
extern "C" {
    #[wasm_bindgen(js_name = readOptions, catch)]
    fn read_options(options: &JsValue) -> Result<JsValue, JsValue>;
}

#[wasm_bindgen(module = "/src/web/errors.js")]
extern "C" {
    #[wasm_bindgen(js_name = isCoordinatorFaultError)]
    fn is_coordinator_fault_error(value: &JsValue) -> bool;
}

// Loaded by coordinator.js; bound here so that it is served with this page.
#[wasm_bindgen(module = "/src/web/tabs.js")]
extern "C" {
    #[wasm_bindgen(js_name = crossTabUnavailable)]
    fn cross_tab_unavailable(options: &JsValue) -> JsValue;
}

// Loaded by coordinator.js too.
#[wasm_bindgen(module = "/src/web/dialects.js")]
extern "C" {
    #[wasm_bindgen(js_name = headerSafe)]
    fn header_safe(token: &JsValue) -> bool;
}

#[wasm_bindgen(module = "/src/web/coordinator.js")]
extern "C" {
    type Coordinator;
}

#[wasm_bindgen_test]
async fn a_panic_in_the_core_settles_every_caller_with_a_fault_error() {
    assert!(JsFuture::from(fake_server_self_check()).await.is_ok());
    assert!(read_options(&JsValue::UNDEFINED).is_ok());
    assert!(header_safe(&"token".into()));
    assert!(!is_coordinator_fault_error(&JsValue::NULL));
    let turned_off = js_sys::Object::new();
    js_sys::Reflect::set(&turned_off, &"crossTab".into(), &false.into()).unwrap_or_default();
    assert_eq!(
        cross_tab_unavailable(&turned_off).as_string().as_deref(),
        Some("turned-off")
    );
    let make_core: Function =
        Closure::<dyn Fn(u32, f64, f64, f64, f64, f64, bool, f64) -> Core>::new(Core::new)
            .into_js_value()
            .unchecked_into();
    if let Err(error) = JsFuture::from(panic_settles_every_caller(&make_core)).await {
        let message = js_sys::Reflect::get(&error, &"message".into())
            .ok()
            .and_then(|m| m.as_string())
            .unwrap_or_default();
        panic!("{message}");
    }
}

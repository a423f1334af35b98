//! The coordinator in headless Chromium, through the real JS boundary: the
//! scenarios in `web/scenarios.js` drive the web layer (`src/web/*.js`) over
//! the wasm `Core` of this build, with the browser's own Request, Response,
//! FormData, Blob and AbortController, and a scripted stand-in for `fetch`
//! (`web/fake_server.js`). Run with `wasm-pack test --headless --chrome`.
#![cfg(target_arch = "wasm32")]
// A failed scenario fails its test by panicking.
#![allow(clippy::panic, clippy::unwrap_used)]

use js_sys::{Function, Promise};
use refresh_coordinator::web::Core;
use wasm_bindgen::prelude::*;
use wasm_bindgen_futures::JsFuture;
use wasm_bindgen_test::*;

wasm_bindgen_test_configure!(run_in_browser);

#[wasm_bindgen(module = "/tests/web/scenarios.js")]
extern "C" {
    fn bounded(scenario: Promise) -> Promise;
    #[wasm_bindgen(js_name = burst)]
    fn burst(create: &Function, mode: &str, n: u32) -> Promise;
    #[wasm_bindgen(js_name = lateUnauthorizedReplaysWithoutSecondRefresh)]
    fn late_unauthorized_replays_without_second_refresh(create: &Function, mode: &str) -> Promise;
    #[wasm_bindgen(js_name = requestsIssuedDuringRefreshWait)]
    fn requests_issued_during_refresh_wait(create: &Function, mode: &str) -> Promise;
    #[wasm_bindgen(js_name = refusedRefreshEndsTheSessionOnce)]
    fn refused_refresh_ends_the_session_once(create: &Function, mode: &str) -> Promise;
    #[wasm_bindgen(js_name = transientFailuresRetryThenSucceed)]
    fn transient_failures_retry_then_succeed(create: &Function, mode: &str) -> Promise;
    #[wasm_bindgen(js_name = retryAfterIsHonoured)]
    fn retry_after_is_honoured(create: &Function, mode: &str) -> Promise;
    #[wasm_bindgen(js_name = exhaustedRetriesRejectAndKeepTheSession)]
    fn exhausted_retries_reject_and_keep_the_session(create: &Function, mode: &str) -> Promise;
    #[wasm_bindgen(js_name = unansweredRefreshIsRetriedAndItsLateRotationAdopted)]
    fn unanswered_refresh_is_retried_and_its_late_rotation_adopted(
        create: &Function,
        mode: &str,
    ) -> Promise;
    #[wasm_bindgen(js_name = refreshesThatNeverAnswerEndInATimeoutAndRefreshAgain)]
    fn refreshes_that_never_answer_end_in_a_timeout_and_refresh_again(
        create: &Function,
        mode: &str,
    ) -> Promise;
    #[wasm_bindgen(js_name = abortedWaitersLeaveTheQueue)]
    fn aborted_waiters_leave_the_queue(create: &Function, mode: &str) -> Promise;
    #[wasm_bindgen(js_name = abortedBeforeTheCallSendsNothing)]
    fn aborted_before_the_call_sends_nothing(create: &Function, mode: &str) -> Promise;
    #[wasm_bindgen(js_name = abortedInTheSameTurnSendsNothing)]
    fn aborted_in_the_same_turn_sends_nothing(create: &Function, mode: &str) -> Promise;
    #[wasm_bindgen(js_name = bodiesAreReplayedByteIdentical)]
    fn bodies_are_replayed_byte_identical(create: &Function, mode: &str) -> Promise;
    #[wasm_bindgen(js_name = streamBodyFailsWithReplayNotPossible)]
    fn stream_body_fails_with_replay_not_possible(create: &Function, mode: &str) -> Promise;
    #[wasm_bindgen(js_name = replayThatGets401IsReturnedNotRefreshed)]
    fn replay_that_gets_401_is_returned_not_refreshed(create: &Function, mode: &str) -> Promise;
    #[wasm_bindgen(js_name = replayRefusedWithinTheLifetimeTheAnswerToldIsReturned)]
    fn replay_refused_within_the_lifetime_the_answer_told_is_returned(
        create: &Function,
        mode: &str,
    ) -> Promise;
    #[wasm_bindgen(js_name = replayRefusedAfterAcceptanceOfUnknownLifeWaitsForOneMoreRefresh)]
    fn replay_refused_after_acceptance_of_unknown_life_waits_for_one_more_refresh(
        create: &Function,
        mode: &str,
    ) -> Promise;
    #[wasm_bindgen(js_name = requestNearExpiryWaitsForOneRefreshAheadAndIsSentOnce)]
    fn request_near_expiry_waits_for_one_refresh_ahead_and_is_sent_once(
        create: &Function,
        mode: &str,
    ) -> Promise;
    #[wasm_bindgen(js_name = failedRefreshAheadKeepsTheSessionAndSendsWithTheWorkingCredential)]
    fn failed_refresh_ahead_keeps_the_session_and_sends_with_the_working_credential(
        create: &Function,
        mode: &str,
    ) -> Promise;
    #[wasm_bindgen(js_name = visiblePageRefreshesAheadOnItsTimer)]
    fn visible_page_refreshes_ahead_on_its_timer(create: &Function, mode: &str) -> Promise;
    #[wasm_bindgen(js_name = twoTabsShareTheExpiryAndRefreshAheadOnce)]
    fn two_tabs_share_the_expiry_and_refresh_ahead_once(create: &Function, mode: &str) -> Promise;
    #[wasm_bindgen(js_name = twoTabsHittingOneExpirySendOneRefresh)]
    fn two_tabs_hitting_one_expiry_send_one_refresh(create: &Function, mode: &str) -> Promise;
    #[wasm_bindgen(js_name = tabWhoseStoreLagsReplaysWithTheRotatedTokens)]
    fn tab_whose_store_lags_replays_with_the_rotated_tokens(create: &Function) -> Promise;
    #[wasm_bindgen(js_name = refusalInOneTabEndsEveryTabOnce)]
    fn refusal_in_one_tab_ends_every_tab_once(create: &Function, mode: &str) -> Promise;
    #[wasm_bindgen(js_name = forbiddenIsNotAnExpiry)]
    fn forbidden_is_not_an_expiry(create: &Function, mode: &str) -> Promise;
    #[wasm_bindgen(js_name = credentialsOnlyGoToAllowedOrigins)]
    fn credentials_only_go_to_allowed_origins(create: &Function, mode: &str) -> Promise;
    #[wasm_bindgen(js_name = allowedCrossOriginGetsCredentials)]
    fn allowed_cross_origin_gets_credentials(create: &Function, mode: &str) -> Promise;
    #[wasm_bindgen(js_name = excludedUrlsAndOptOutsAreNotRefreshed)]
    fn excluded_urls_and_opt_outs_are_not_refreshed(create: &Function, mode: &str) -> Promise;
    #[wasm_bindgen(js_name = refreshRequestIsKeepaliveAndShapedForSimpleJwt)]
    fn refresh_request_is_keepalive_and_shaped_for_simplejwt(
        create: &Function,
        mode: &str,
    ) -> Promise;
    #[wasm_bindgen(js_name = lostAnswerWhoseCookieLandedCarriesOn)]
    fn lost_answer_whose_cookie_landed_carries_on(create: &Function) -> Promise;
    #[wasm_bindgen(js_name = lostAnswerAgainstNoGraceServerEndsTheSessionCleanly)]
    fn lost_answer_against_no_grace_server_ends_the_session_cleanly(
        create: &Function,
        mode: &str,
    ) -> Promise;
    #[wasm_bindgen(js_name = optionsAreCheckedWhenCreated)]
    fn options_are_checked_when_created(create: &Function) -> Promise;
    #[wasm_bindgen(js_name = badInputRejectsLikeFetch)]
    fn bad_input_rejects_like_fetch(create: &Function, mode: &str) -> Promise;
    #[wasm_bindgen(js_name = networkErrorsReachTheCaller)]
    fn network_errors_reach_the_caller(create: &Function, mode: &str) -> Promise;
    #[wasm_bindgen(js_name = throwingAppCallbacksBreakNothing)]
    fn throwing_app_callbacks_break_nothing(create: &Function, mode: &str) -> Promise;
    #[wasm_bindgen(js_name = bearerTokensComeFromTheStoreAndRotate)]
    fn bearer_tokens_come_from_the_store_and_rotate(create: &Function) -> Promise;
    #[wasm_bindgen(js_name = reloadedPageWaitsForTheRefreshItsPredecessorSent)]
    fn reloaded_page_waits_for_the_refresh_its_predecessor_sent(create: &Function) -> Promise;
    #[wasm_bindgen(js_name = cookieModeRejectsSetTokens)]
    fn cookie_mode_rejects_set_tokens(create: &Function) -> Promise;
}

#[wasm_bindgen(module = "/tests/web/fake_server.js")]
extern "C" {
    #[wasm_bindgen(js_name = selfCheck)]
    fn fake_server_self_check() -> Promise;
}

// The web layer's modules, named here so the test page gets them (it only
// gets the JS modules Rust refers to), and checked on their own.
#[wasm_bindgen(module = "/src/web/coordinator.js")]
extern "C" {
    type Coordinator;
    #[wasm_bindgen(constructor, catch)]
    fn new(options: &JsValue, load_core: &Function) -> Result<Coordinator, JsValue>;
}

#[wasm_bindgen(module = "/src/web/errors.js")]
extern "C" {
    #[wasm_bindgen(js_name = isRefreshCoordinatorError)]
    fn is_refresh_coordinator_error(value: &JsValue) -> bool;
}

#[wasm_bindgen(module = "/src/web/tabs.js")]
extern "C" {
    #[wasm_bindgen(js_name = sharedName)]
    fn shared_name(options: &JsValue) -> String;
}

#[wasm_bindgen(module = "/src/web/options.js")]
extern "C" {
    #[wasm_bindgen(js_name = readOptions, catch)]
    fn read_options(options: &JsValue) -> Result<JsValue, JsValue>;
}

#[wasm_bindgen(module = "/src/web/dialects.js")]
extern "C" {
    #[wasm_bindgen(js_name = headerSafe)]
    fn header_safe(token: &JsValue) -> bool;
}

#[wasm_bindgen]
extern "C" {
    type Headers;
    #[wasm_bindgen(constructor)]
    fn new() -> Headers;
    #[wasm_bindgen(method, catch)]
    fn set(this: &Headers, name: &str, value: &str) -> Result<(), JsValue>;
}

/// `Core`'s constructor, as the web layer calls it.
fn make_core() -> Function {
    Closure::<dyn Fn(u32, f64, f64, f64, f64, f64, bool, f64) -> Core>::new(Core::new)
        .into_js_value()
        .unchecked_into()
}

/// `options => new Coordinator(options, () => makeCore)`, the scenarios'
/// factory: the web layer over this build's wasm core.
fn create() -> Function {
    let make_core = make_core();
    let load_core: Function = Closure::<dyn Fn() -> JsValue>::new(move || make_core.clone().into())
        .into_js_value()
        .unchecked_into();
    Closure::<dyn Fn(JsValue) -> Result<JsValue, JsValue>>::new(move |options| {
        Coordinator::new(&options, &load_core).map(Into::into)
    })
    .into_js_value()
    .unchecked_into()
}

async fn run(scenario: Promise) {
    if let Err(error) = JsFuture::from(bounded(scenario)).await {
        let message = js_sys::Reflect::get(&error, &"message".into())
            .ok()
            .and_then(|m| m.as_string())
            .unwrap_or_else(|| format!("{error:?}"));
        panic!("{message}");
    }
}

/// One test per scenario and mode.
macro_rules! in_both_modes {
    ($($scenario:ident),* $(,)?) => {
        mod cookie {
            use super::*;
            $(#[wasm_bindgen_test] async fn $scenario() { run(super::$scenario(&create(), "cookie")).await })*
        }
        mod bearer {
            use super::*;
            $(#[wasm_bindgen_test] async fn $scenario() { run(super::$scenario(&create(), "bearer")).await })*
        }
    };
}

in_both_modes!(
    late_unauthorized_replays_without_second_refresh,
    requests_issued_during_refresh_wait,
    refused_refresh_ends_the_session_once,
    transient_failures_retry_then_succeed,
    retry_after_is_honoured,
    exhausted_retries_reject_and_keep_the_session,
    unanswered_refresh_is_retried_and_its_late_rotation_adopted,
    refreshes_that_never_answer_end_in_a_timeout_and_refresh_again,
    aborted_waiters_leave_the_queue,
    aborted_before_the_call_sends_nothing,
    aborted_in_the_same_turn_sends_nothing,
    bodies_are_replayed_byte_identical,
    stream_body_fails_with_replay_not_possible,
    replay_that_gets_401_is_returned_not_refreshed,
    replay_refused_within_the_lifetime_the_answer_told_is_returned,
    replay_refused_after_acceptance_of_unknown_life_waits_for_one_more_refresh,
    forbidden_is_not_an_expiry,
    two_tabs_hitting_one_expiry_send_one_refresh,
    request_near_expiry_waits_for_one_refresh_ahead_and_is_sent_once,
    failed_refresh_ahead_keeps_the_session_and_sends_with_the_working_credential,
    visible_page_refreshes_ahead_on_its_timer,
    two_tabs_share_the_expiry_and_refresh_ahead_once,
    refusal_in_one_tab_ends_every_tab_once,
    credentials_only_go_to_allowed_origins,
    allowed_cross_origin_gets_credentials,
    excluded_urls_and_opt_outs_are_not_refreshed,
    refresh_request_is_keepalive_and_shaped_for_simplejwt,
    lost_answer_against_no_grace_server_ends_the_session_cleanly,
    bad_input_rejects_like_fetch,
    network_errors_reach_the_caller,
    throwing_app_callbacks_break_nothing,
);

#[wasm_bindgen_test]
async fn the_fake_server_behaves_like_simplejwt_with_rotation_and_blacklist() {
    run(fake_server_self_check()).await;
}

#[wasm_bindgen_test]
async fn burst_of_one_gives_one_refresh_in_cookie_mode() {
    run(burst(&create(), "cookie", 1)).await;
}

#[wasm_bindgen_test]
async fn burst_of_fifty_gives_one_refresh_in_cookie_mode() {
    run(burst(&create(), "cookie", 50)).await;
}

#[wasm_bindgen_test]
async fn burst_of_fifty_gives_one_refresh_in_bearer_mode() {
    run(burst(&create(), "bearer", 50)).await;
}

#[wasm_bindgen_test]
async fn lost_answer_whose_cookie_landed_carries_on_in_cookie_mode() {
    run(lost_answer_whose_cookie_landed_carries_on(&create())).await;
}

#[wasm_bindgen_test]
async fn options_are_checked_when_the_coordinator_is_created() {
    run(options_are_checked_when_created(&create())).await;
}

#[wasm_bindgen_test]
async fn bearer_tokens_come_from_the_app_store_and_rotate() {
    run(bearer_tokens_come_from_the_store_and_rotate(&create())).await;
}

#[wasm_bindgen_test]
async fn a_tab_whose_store_lags_waits_for_the_rotated_tokens() {
    run(tab_whose_store_lags_replays_with_the_rotated_tokens(
        &create(),
    ))
    .await;
}

#[wasm_bindgen_test]
async fn cookie_mode_explains_that_set_tokens_is_for_bearer_mode() {
    run(cookie_mode_rejects_set_tokens(&create())).await;
}

#[wasm_bindgen_test]
async fn a_reloaded_page_waits_for_the_refresh_its_predecessor_sent() {
    run(reloaded_page_waits_for_the_refresh_its_predecessor_sent(
        &create(),
    ))
    .await;
}

#[wasm_bindgen_test]
fn the_guards_recognise_only_the_coordinators_errors() {
    assert!(!is_refresh_coordinator_error(&JsValue::NULL));
    assert!(!is_refresh_coordinator_error(
        &js_sys::Error::new("plain").into()
    ));
    assert!(!is_refresh_coordinator_error(&js_sys::Object::new().into()));
}

#[wasm_bindgen_test]
fn options_default_to_cookie_mode_on_this_origin() {
    let options = read_options(&JsValue::UNDEFINED).unwrap();
    let get = |key: &str| js_sys::Reflect::get(&options, &key.into()).unwrap();
    assert_eq!(get("mode").as_string().as_deref(), Some("cookie"));
    let refresh = get("refreshUrl").as_string().unwrap();
    assert!(refresh.ends_with("/api/auth/token/refresh/"), "{refresh}");
    assert!(read_options(&JsValue::from_str("cookie")).is_err());
}

/// What `headerSafe` lets through, this browser's `Headers` takes; what it
/// stops (the audit's tokens) is no credential.
#[wasm_bindgen_test]
fn a_header_safe_token_is_one_the_browser_can_send() {
    let long = "x".repeat(16_384);
    for token in ["eyJhbGciOi.eyJzdWIiOiIxIn0.c2ln-_~+/=", long.as_str()] {
        assert!(header_safe(&token.into()), "{}", &token[..10]);
        Headers::new()
            .set("Authorization", &format!("Bearer {token}"))
            .unwrap();
    }
    let huge = "x".repeat(5 * 1024 * 1024);
    for token in [
        "abc\r\nX: 1",
        "caf\u{e9}",
        "\u{4e2d}\u{6587}",
        "two words",
        "",
        huge.as_str(),
    ] {
        assert!(
            !header_safe(&token.into()),
            "{:?}",
            &token[..token.len().min(10)]
        );
    }
    assert!(!header_safe(&JsValue::from_f64(7.0)));
}

#[wasm_bindgen_test]
fn tabs_share_one_lock_per_credential() {
    let name = |mode: &str, url: &str, scope: Option<&str>| {
        let options = js_sys::Object::new();
        let set = |key: &str, value: JsValue| {
            js_sys::Reflect::set(&options, &key.into(), &value).unwrap();
        };
        set("mode", mode.into());
        set("refreshUrl", url.into());
        if let Some(scope) = scope {
            let store = js_sys::Object::new();
            js_sys::Reflect::set(&store, &"scope".into(), &scope.into()).unwrap();
            set("tokenStore", store.into());
        }
        shared_name(&options)
    };
    let refresh = "https://app.example/api/auth/token/refresh/";
    assert_eq!(
        name("cookie", refresh, None),
        format!("refresh-coordinator:cookie:{refresh}")
    );
    assert_ne!(name("cookie", refresh, None), name("bearer", refresh, None));
    assert_ne!(
        name("cookie", refresh, None),
        name(
            "cookie",
            "https://api.example/api/auth/token/refresh/",
            None
        )
    );
    assert_ne!(
        name("bearer", refresh, Some("a")),
        name("bearer", refresh, Some("b")),
        "two token stores, two credentials"
    );
}

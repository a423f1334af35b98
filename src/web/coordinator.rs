//! `AuthCoordinator`: the core bound to `fetch`, timers and abort signals.
//!
//! Every entry from JavaScript (a call, an answer, a timer, an abort) feeds
//! one event to the core and then [`drive`]s: drains the core's actions and
//! carries them out. No `RefCell` borrow is held while JavaScript runs, so an
//! app callback or a `fetch` stand-in may call back in synchronously.

use std::cell::RefCell;
use std::collections::BTreeMap;
use std::rc::{Rc, Weak};

use js_sys::{Object, Promise, Reflect};
use wasm_bindgen::prelude::*;
use web_sys::{AbortSignal, Request, Response};

use super::events;
use super::options::{field, type_error, Mode, Options};
use super::outgoing::{self, Attach};
use super::platform::{self, call_app, discard, now, when_settled, Call};
use super::refresh;
use super::tokens::Tokens;
use crate::core::{Action, Answer, Coordinator, Notice, RefreshId, RequestId, Route, Session};

/// One coordinator: one credential, one refresh flight, any number of
/// requests. `createAuthFetch` wraps it in a function with `fetch`'s
/// signature; several wrappers (fetch, Axios instances) may share one.
#[wasm_bindgen]
pub struct AuthCoordinator {
    shared: Rc<Shared>,
}

impl core::fmt::Debug for AuthCoordinator {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("AuthCoordinator").finish_non_exhaustive()
    }
}

struct Shared {
    options: Options,
    state: RefCell<State>,
    /// Fires the core's timer. Holds a `Weak` so a dropped coordinator is
    /// freed even with a timer armed.
    on_timer: Closure<dyn FnMut()>,
}

struct State {
    core: Coordinator,
    pending: BTreeMap<RequestId, Pending>,
    /// The armed timer's handle and the instant it was armed for.
    timer: Option<(JsValue, crate::core::Instant)>,
}

/// A coordinated request, from the app's call to its settlement.
struct Pending {
    /// The app's request, never sent itself while it may be replayed.
    template: Request,
    replayable: bool,
    call: Call,
    /// What the last send produced: `(true, Response)` or `(false, error)`.
    last: Option<(bool, JsValue)>,
    /// The abort listener on the request's signal, removed on settlement.
    on_abort: Option<Closure<dyn FnMut()>>,
}

#[wasm_bindgen]
impl AuthCoordinator {
    /// Creates a coordinator from `createAuthFetch`'s options.
    ///
    /// # Errors
    /// A `TypeError` naming the first invalid option.
    #[wasm_bindgen(constructor)]
    pub fn new(options: JsValue) -> Result<AuthCoordinator, JsValue> {
        let options = Options::read(&options)?;
        let seed = (js_sys::Math::random() * 9_007_199_254_740_992.0) as u64;
        let core = Coordinator::new(options.core.clone(), seed);
        let shared = Rc::new_cyclic(|weak: &Weak<Shared>| {
            let weak = weak.clone();
            Shared {
                options,
                state: RefCell::new(State {
                    core,
                    pending: BTreeMap::new(),
                    timer: None,
                }),
                on_timer: Closure::new(move || {
                    if let Some(shared) = weak.upgrade() {
                        on_timer(&shared);
                    }
                }),
            }
        });
        Ok(Self { shared })
    }

    /// `fetch(input, init)` with the coordinator's rules. `init` may carry
    /// `skipAuthRefresh: true` to opt this request out of refresh handling.
    pub fn fetch(&self, input: JsValue, init: JsValue) -> Promise {
        let call = Call::new();
        let promise = call.promise();
        start(&self.shared, &input, &init, call);
        promise
    }

    /// Bearer mode: stores the tokens from a login and starts a new session.
    /// The app calls it after its own login request.
    ///
    /// # Errors
    /// A `TypeError` in cookie mode, or without an `access` string.
    #[wasm_bindgen(js_name = setTokens)]
    pub fn set_tokens(&self, tokens: JsValue) -> Result<(), JsValue> {
        let Mode::Bearer { store, .. } = &self.shared.options.mode else {
            return Err(type_error(
                "mode",
                "is 'cookie': the browser holds the tokens; call sessionStarted() after login",
            ));
        };
        let tokens = Tokens::from_js(&tokens)
            .ok_or_else(|| type_error("setTokens(tokens)", "needs {access, refresh}"))?;
        store.set(Some(&tokens));
        self.session_started();
        Ok(())
    }

    /// Bearer mode: forgets the tokens (after logout). Does nothing in cookie
    /// mode, where the server deletes the cookies.
    #[wasm_bindgen(js_name = clearTokens)]
    pub fn clear_tokens(&self) {
        if let Mode::Bearer { store, .. } = &self.shared.options.mode {
            store.set(None);
        }
    }

    /// The app logged in again: a new credential, a new session. Requests
    /// waiting for a refresh go with it. In cookie mode a successful answer
    /// from `loginUrl` through the coordinator does this by itself.
    #[wasm_bindgen(js_name = sessionStarted)]
    pub fn session_started(&self) {
        credential_changed(&self.shared);
    }

    /// A snapshot for debugging and tests: `{generation, session,
    /// refreshing, waiting, pending}`.
    pub fn state(&self) -> JsValue {
        let snapshot = Object::new();
        if let Ok(state) = self.shared.state.try_borrow() {
            let core = &state.core;
            let session = match core.session() {
                Session::Active => "active",
                Session::Ended => "ended",
            };
            for (key, value) in [
                ("generation", JsValue::from(core.generation().get() as f64)),
                ("session", session.into()),
                ("refreshing", core.is_refreshing().into()),
                ("waiting", (core.waiting() as f64).into()),
                ("pending", (state.pending.len() as f64).into()),
            ] {
                let _ = Reflect::set(&snapshot, &key.into(), &value);
            }
        }
        snapshot.into()
    }
}

/// The app's call: build the request as `fetch` would, route it, and hand
/// coordinated ones to the core.
fn start(shared: &Rc<Shared>, input: &JsValue, init: &JsValue, call: Call) {
    let template = match platform::new_request(input, init) {
        Ok(request) => request,
        Err(error) => return call.settle(false, &error),
    };
    let opted_out = field(init, "skipAuthRefresh").as_bool() == Some(true);
    let route = shared.options.policy.route(&template.url(), opted_out);
    match route {
        Route::Coordinated => {}
        Route::OptedOut => return bypass(shared, &template, Attach::Credential, call),
        Route::Excluded => return bypass(shared, &template, Attach::CookiesOnly, call),
        Route::Foreign => return bypass(shared, &template, Attach::Nothing, call),
    }
    let signal = template.signal();
    if signal.aborted() {
        return call.settle(false, &signal.reason());
    }
    // A stream can be read once: sent once, never replayed.
    let replayable = !platform::is_stream(&field(init, "body"));
    let Ok(mut state) = shared.state.try_borrow_mut() else {
        return call.settle(false, &platform::faulted());
    };
    let id = state.core.issue(now(), replayable);
    let on_abort = watch_abort(shared, id, &signal);
    state.pending.insert(
        id,
        Pending {
            template,
            replayable,
            call,
            last: None,
            on_abort,
        },
    );
    drop(state);
    drive(shared);
}

/// Requests the core does not coordinate go straight out.
fn bypass(shared: &Rc<Shared>, template: &Request, attach: Attach, call: Call) {
    let request = match outgoing::prepare(template, &shared.options.mode, attach, false) {
        Ok(request) => request,
        Err(error) => return call.settle(false, &error),
    };
    let is_login = matches!(shared.options.mode, Mode::Cookie)
        && attach == Attach::CookiesOnly
        && template.url().split(['?', '#']).next() == Some(shared.options.login_url.as_str());
    let weak = Rc::downgrade(shared);
    let settled = move |ok: bool, value: JsValue| {
        if is_login && ok && value.dyn_ref::<Response>().is_some_and(Response::ok) {
            // The server set fresh cookies: a new session.
            if let Some(shared) = weak.upgrade() {
                credential_changed(&shared);
            }
        }
        call.settle(ok, &value);
    };
    when_settled(
        &send(&shared.options, &request),
        &Closure::once_into_js(settled),
    );
}

/// Calls the configured `fetch`; a synchronous throw becomes a rejection.
fn send(options: &Options, request: &Request) -> JsValue {
    options
        .fetch
        .call1(&JsValue::UNDEFINED, request)
        .unwrap_or_else(|error| Promise::reject(&error).into())
}

fn watch_abort(
    shared: &Rc<Shared>,
    id: RequestId,
    signal: &AbortSignal,
) -> Option<Closure<dyn FnMut()>> {
    let weak = Rc::downgrade(shared);
    let listener = Closure::<dyn FnMut()>::new(move || {
        if let Some(shared) = weak.upgrade() {
            on_abort(&shared, id);
        }
    });
    signal
        .add_event_listener_with_callback("abort", listener.as_ref().unchecked_ref())
        .ok()
        .map(|()| listener)
}

/// The caller aborted: it leaves the queue, the refresh goes on.
fn on_abort(shared: &Rc<Shared>, id: RequestId) {
    let pending = {
        let Ok(mut state) = shared.state.try_borrow_mut() else {
            return;
        };
        if !state.core.abort(now(), id) {
            return;
        }
        state.pending.remove(&id)
    };
    if let Some(pending) = pending {
        let reason = pending.template.signal().reason();
        finish(pending, false, &reason);
    }
    drive(shared);
}

/// Carries out the core's actions until it has none, then re-arms the timer.
fn drive(shared: &Rc<Shared>) {
    loop {
        let action = match shared.state.try_borrow_mut() {
            Ok(mut state) => state.core.poll_action(),
            // Only a trap mid-call leaves the state borrowed; the bridge has
            // settled every caller already.
            Err(_) => return,
        };
        let Some(action) = action else { break };
        match action {
            Action::Send { request, .. } | Action::Probe { request } => {
                send_pending(shared, request)
            }
            Action::Deliver { request } => settle(shared, request, None),
            Action::Fail { request, failure } => {
                settle(shared, request, Some(failure));
            }
            Action::StartRefresh { refresh } => start_refresh(shared, refresh),
            Action::Notify(notice) => notify(shared, notice),
        }
    }
    arm_timer(shared);
}

fn send_pending(shared: &Rc<Shared>, id: RequestId) {
    let prepared = {
        let Ok(mut state) = shared.state.try_borrow_mut() else {
            return;
        };
        let Some(pending) = state.pending.get_mut(&id) else {
            return;
        };
        if let Some((true, response)) = pending.last.take() {
            // The 401 being replayed: nobody reads it.
            discard(&response);
        }
        outgoing::prepare(
            &pending.template,
            &shared.options.mode,
            Attach::Credential,
            pending.replayable,
        )
    };
    match prepared {
        Ok(request) => {
            let weak = Rc::downgrade(shared);
            let answered = move |ok: bool, value: JsValue| {
                if let Some(shared) = weak.upgrade() {
                    on_answer(&shared, id, ok, value);
                }
            };
            when_settled(
                &send(&shared.options, &request),
                &Closure::once_into_js(answered),
            );
        }
        // The platform refused to copy the request: the caller gets why.
        Err(error) => on_answer(shared, id, false, error),
    }
}

fn on_answer(shared: &Rc<Shared>, id: RequestId, ok: bool, value: JsValue) {
    let answer = match value.dyn_ref::<Response>() {
        Some(response) if ok => Answer::from_status(response.status()),
        _ if ok => Answer::Other,
        _ => Answer::Failed,
    };
    {
        let Ok(mut state) = shared.state.try_borrow_mut() else {
            return;
        };
        let Some(pending) = state.pending.get_mut(&id) else {
            // Aborted meanwhile; its caller has been settled.
            return;
        };
        pending.last = Some((ok, value));
        state.core.on_answer(now(), id, answer);
    }
    drive(shared);
}

/// Settles a request the core has let go of.
fn settle(shared: &Rc<Shared>, id: RequestId, failure: Option<crate::core::Failure>) {
    let Some(pending) = shared
        .state
        .try_borrow_mut()
        .ok()
        .and_then(|mut state| state.pending.remove(&id))
    else {
        return;
    };
    match failure {
        Some(failure) => {
            let error = events::error(failure, &pending.template);
            finish(pending, false, &error);
        }
        None => {
            let (ok, value) = pending.last.clone().unwrap_or_else(|| {
                // The core delivers only answered requests.
                (
                    false,
                    js_sys::Error::new("refresh-coordinator: no answer to deliver").into(),
                )
            });
            finish(pending, ok, &value);
        }
    }
}

fn finish(pending: Pending, ok: bool, value: &JsValue) {
    if let Some(listener) = &pending.on_abort {
        let _ = pending
            .template
            .signal()
            .remove_event_listener_with_callback("abort", listener.as_ref().unchecked_ref());
    }
    pending.call.settle(ok, value);
}

fn start_refresh(shared: &Rc<Shared>, refresh: RefreshId) {
    let options = &shared.options;
    let request = match refresh::request(&options.refresh, &options.mode) {
        Ok(request) => request,
        Err(outcome) => return refresh_ended(shared, refresh, outcome),
    };
    let weak = Rc::downgrade(shared);
    let answered = move |ok: bool, value: JsValue| {
        let Some(shared) = weak.upgrade() else { return };
        let response = match value.dyn_into::<Response>() {
            Ok(response) if ok => response,
            _ => return refresh_ended(&shared, refresh, crate::core::RefreshOutcome::Lost),
        };
        let outcome = refresh::classify(&response, js_sys::Date::now());
        if outcome != crate::core::RefreshOutcome::Rotated {
            discard(&response);
            return refresh_ended(&shared, refresh, outcome);
        }
        // Read the whole body: in cookie mode a body cut off mid-way means
        // the rotated cookie may or may not have landed.
        let status = response.status();
        let weak = Rc::downgrade(&shared);
        let body_read = move |ok: bool, text: JsValue| {
            let Some(shared) = weak.upgrade() else { return };
            let text = if ok { text.as_string() } else { None };
            let outcome = refresh::rotated(&shared.options.mode, status, text);
            refresh_ended(&shared, refresh, outcome);
        };
        let text = response
            .text()
            .unwrap_or_else(|error| Promise::reject(&error));
        when_settled(&text, &Closure::once_into_js(body_read));
    };
    when_settled(&send(options, &request), &Closure::once_into_js(answered));
}

fn refresh_ended(shared: &Rc<Shared>, refresh: RefreshId, outcome: crate::core::RefreshOutcome) {
    if let Ok(mut state) = shared.state.try_borrow_mut() {
        state.core.on_refresh_outcome(now(), refresh, outcome);
    }
    drive(shared);
}

fn credential_changed(shared: &Rc<Shared>) {
    if let Ok(mut state) = shared.state.try_borrow_mut() {
        state.core.credential_changed();
    }
    drive(shared);
}

fn notify(shared: &Rc<Shared>, notice: Notice) {
    let options = &shared.options;
    if let Notice::SessionExpired { remote } = notice {
        if let Mode::Bearer { store, .. } = &options.mode {
            store.set(None);
        }
        if let (false, Some(callback)) = (remote, &options.on_session_expired) {
            call_app(
                callback,
                &platform::session_expired_error(&JsValue::UNDEFINED),
            );
        }
    }
    let Some(callback) = &options.on_event else {
        return;
    };
    let request = match notice {
        Notice::Replayed { request } => shared.state.try_borrow().ok().and_then(|state| {
            state
                .pending
                .get(&request)
                .map(|p| Clone::clone(&p.template))
        }),
        _ => None,
    };
    call_app(callback, &events::event(notice, request.as_ref()));
}

/// Keeps exactly one browser timer armed, for the core's next deadline.
fn arm_timer(shared: &Rc<Shared>) {
    let Ok(mut state) = shared.state.try_borrow_mut() else {
        return;
    };
    let wanted = state.core.poll_timeout();
    if wanted == state.timer.as_ref().map(|&(_, at)| at) {
        return;
    }
    if let Some((handle, _)) = state.timer.take() {
        platform::cancel(&handle);
    }
    if let Some(at) = wanted {
        let delay = now().until(at).as_millis() as f64;
        let handle = platform::schedule(delay, shared.on_timer.as_ref().unchecked_ref());
        state.timer = Some((handle, at));
    }
}

fn on_timer(shared: &Rc<Shared>) {
    if let Ok(mut state) = shared.state.try_borrow_mut() {
        state.timer = None;
        state.core.on_timeout(now());
    }
    drive(shared);
}

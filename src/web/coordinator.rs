//! `AuthCoordinator`: the core bound to `fetch`, timers and abort signals.
//!
//! Every entry from JavaScript (a call, an answer, a timer, an abort) feeds
//! one event to the core and then [`drive`]s: drains the core's actions and
//! carries them out. Continuations come back through one handler,
//! [`Shared::on_host`], which the JS `Host` calls with a kind and an id. No
//! `RefCell` borrow is held while JavaScript runs, so an app callback or a
//! `fetch` stand-in may call back in synchronously.

use alloc::rc::{Rc, Weak};
use core::cell::RefCell;

use js_sys::{Object, Promise, Reflect};
use wasm_bindgen::prelude::*;
use web_sys::{Request, Response};

use super::events;
use super::options::{field, type_error, Mode, Options};
use super::outgoing::{self, Attach};
use super::platform::{self, call_app, discard, now, Call, Host};
use super::refresh;
use super::tokens::Tokens;
use crate::core::{
    Action, Answer, Coordinator, Failure, Notice, RefreshId, RefreshOutcome, RequestId, Route,
    Session, Slots,
};

/// What a continuation reported to [`Shared::on_host`] is about.
mod kind {
    /// A coordinated request's send settled; the id is the request's.
    pub const ANSWER: u32 = 0;
    /// The refresh request settled; the id is the refresh's number.
    pub const REFRESH: u32 = 1;
    /// The refresh answer's body was read.
    pub const REFRESH_BODY: u32 = 2;
    /// A request to the login URL settled.
    pub const LOGIN: u32 = 3;
    /// The timer fired.
    pub const TIMER: u32 = 4;
    /// A waiting request's signal aborted; the id is the request's.
    pub const ABORT: u32 = 5;
}

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
    host: Host,
    /// The function behind `host`. Holds a `Weak`, so a dropped coordinator
    /// is freed even with a timer armed.
    _handler: Closure<dyn FnMut(u32, f64, bool, JsValue)>,
    /// Set by `injectFault()`: the next continuation panics.
    #[cfg(feature = "fault-injection")]
    fault: core::cell::Cell<bool>,
}

struct State {
    core: Coordinator,
    pending: Slots<Pending>,
    /// The instant the host's timer is armed for.
    timer: Option<crate::core::Instant>,
    /// The refresh on the wire, and the status of its answer once known.
    refresh: Option<(RefreshId, u16)>,
}

/// A coordinated request, from the app's call to its settlement.
struct Pending {
    /// The app's request, never sent itself while it may be replayed.
    template: Request,
    replayable: bool,
    call: Call,
    /// What the last send produced: `(true, Response)` or `(false, error)`.
    last: Option<(bool, JsValue)>,
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
        let mut core = Coordinator::new(options.core.clone(), seed);
        if let Mode::Cookie = options.mode {
            // A refresh a previous load of this page sent may still land.
            let age = js_sys::Date::now() - platform::noted_refresh(&options.refresh.url);
            let timeout = options.core.refresh_timeout.as_millis() as f64;
            if (0.0..timeout).contains(&age) {
                let left = core::time::Duration::from_millis((timeout - age) as u64);
                core.refresh_may_be_landing(now().after(left));
            }
        }
        let shared = Rc::new_cyclic(|weak: &Weak<Shared>| {
            let weak = weak.clone();
            let handler =
                Closure::<dyn FnMut(u32, f64, bool, JsValue)>::new(move |kind, id, ok, value| {
                    if let Some(shared) = weak.upgrade() {
                        shared.on_host(kind, id, ok, value);
                    }
                });
            Shared {
                options,
                state: RefCell::new(State {
                    core,
                    pending: Slots::default(),
                    timer: None,
                    refresh: None,
                }),
                host: Host::new(handler.as_ref().unchecked_ref()),
                _handler: handler,
                #[cfg(feature = "fault-injection")]
                fault: core::cell::Cell::new(false),
            }
        });
        Ok(Self { shared })
    }

    /// `fetch(input, init)` with the coordinator's rules. `init` may carry
    /// `skipAuthRefresh: true` to opt this request out of refresh handling.
    pub fn fetch(&self, input: JsValue, init: JsValue) -> Promise {
        let call = Call::new();
        let promise = call.promise();
        self.shared.start(&input, &init, call);
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
        self.shared.with_core(Coordinator::credential_changed);
    }

    /// Test hook (feature `fault-injection`, never in a shipped build): the
    /// next continuation panics, as a bug would.
    #[cfg(feature = "fault-injection")]
    #[wasm_bindgen(js_name = injectFault)]
    pub fn inject_fault(&self) {
        self.shared.fault.set(true);
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

impl Shared {
    /// The app's call: build the request as `fetch` would, route it, and
    /// hand coordinated ones to the core.
    fn start(self: &Rc<Self>, input: &JsValue, init: &JsValue, call: Call) {
        let template = match platform::new_request(input, init) {
            Ok(request) => request,
            Err(error) => return call.settle(false, &error),
        };
        let opted_out = field(init, "skipAuthRefresh").as_bool() == Some(true);
        match self.options.policy.route(&template.url(), opted_out) {
            Route::Coordinated => {}
            Route::OptedOut => return self.bypass(&template, Attach::Credential, call),
            Route::Excluded => return self.bypass(&template, Attach::CookiesOnly, call),
            Route::Foreign => return self.bypass(&template, Attach::Nothing, call),
        }
        let signal = template.signal();
        if signal.aborted() {
            return call.settle(false, &signal.reason());
        }
        // A stream can be read once: sent once, never replayed.
        let replayable = !platform::is_stream(&field(init, "body"));
        let Ok(mut state) = self.state.try_borrow_mut() else {
            return call.settle(false, &platform::faulted());
        };
        let id = state.core.issue(now(), replayable);
        state.pending.insert(
            id,
            Pending {
                template,
                replayable,
                call,
                last: None,
            },
        );
        drop(state);
        self.host.listen(&signal, kind::ABORT, id.get() as f64);
        self.drive();
    }

    /// Requests the core does not coordinate go straight out.
    fn bypass(&self, template: &Request, attach: Attach, call: Call) {
        let request = match outgoing::prepare(template, &self.options.mode, attach, false) {
            Ok(request) => request,
            Err(error) => return call.settle(false, &error),
        };
        let sent = self.send(&request);
        let is_login = matches!(self.options.mode, Mode::Cookie)
            && attach == Attach::CookiesOnly
            && template.url().split(['?', '#']).next() == Some(self.options.login_url.as_str());
        if is_login {
            self.host.watch(&sent, kind::LOGIN, 0.0);
        }
        self.host.forward(&sent, &call);
    }

    /// Calls the configured `fetch`; a synchronous throw becomes a rejection.
    fn send(&self, request: &Request) -> JsValue {
        self.options
            .fetch
            .call1(&JsValue::UNDEFINED, request)
            .unwrap_or_else(|error| Promise::reject(&error).into())
    }

    /// Every continuation lands here.
    fn on_host(self: &Rc<Self>, kind: u32, id: f64, ok: bool, value: JsValue) {
        #[cfg(feature = "fault-injection")]
        if self.fault.get() {
            #[allow(clippy::panic)]
            {
                panic!("fault injected by the test");
            }
        }
        // Ids cross to JS as numbers far below 2^53.
        let request = RequestId::new(id as u64);
        match kind {
            kind::ANSWER => self.on_answer(request, ok, value),
            kind::REFRESH => self.on_refresh_answer(id as u64, ok, value),
            kind::REFRESH_BODY => self.on_refresh_body(id as u64, ok, value),
            // The server set fresh cookies: a new session.
            kind::LOGIN if ok && value.dyn_ref::<Response>().is_some_and(Response::ok) => {
                self.with_core(Coordinator::credential_changed);
            }
            kind::TIMER => {
                if let Ok(mut state) = self.state.try_borrow_mut() {
                    state.timer = None;
                    state.core.on_timeout(now());
                }
                self.drive();
            }
            kind::ABORT => self.on_abort(request),
            _ => {}
        }
    }

    /// Feeds one event to the core, then drives.
    fn with_core(self: &Rc<Self>, event: impl FnOnce(&mut Coordinator)) {
        if let Ok(mut state) = self.state.try_borrow_mut() {
            event(&mut state.core);
        }
        self.drive();
    }

    /// Carries out the core's actions until it has none, then re-arms the
    /// timer.
    fn drive(self: &Rc<Self>) {
        loop {
            let action = match self.state.try_borrow_mut() {
                Ok(mut state) => state.core.poll_action(),
                // Only a trap mid-call leaves the state borrowed; the bridge
                // has settled every caller already.
                Err(_) => return,
            };
            let Some(action) = action else { break };
            match action {
                Action::Send { request, .. } | Action::Probe { request } => {
                    self.send_pending(request);
                }
                Action::Deliver { request } => self.settle(request, None),
                Action::Fail { request, failure } => self.settle(request, Some(failure)),
                Action::StartRefresh { refresh } => self.start_refresh(refresh),
                Action::Notify(notice) => self.notify(notice),
            }
        }
        self.arm_timer();
    }

    fn send_pending(self: &Rc<Self>, id: RequestId) {
        let prepared = {
            let Ok(mut state) = self.state.try_borrow_mut() else {
                return;
            };
            let Some(pending) = state.pending.get_mut(id) else {
                return;
            };
            if let Some((true, response)) = pending.last.take() {
                // The 401 being replayed: nobody reads it.
                discard(&response);
            }
            outgoing::prepare(
                &pending.template,
                &self.options.mode,
                Attach::Credential,
                pending.replayable,
            )
        };
        match prepared {
            Ok(request) => {
                let sent = self.send(&request);
                self.host.watch(&sent, kind::ANSWER, id.get() as f64);
            }
            // The platform refused to copy the request: the caller gets why.
            Err(error) => self.on_answer(id, false, error),
        }
    }

    fn on_answer(self: &Rc<Self>, id: RequestId, ok: bool, value: JsValue) {
        let answer = match value.dyn_ref::<Response>() {
            Some(response) if ok => Answer::from_status(response.status()),
            _ if ok => Answer::Other,
            _ => Answer::Failed,
        };
        {
            let Ok(mut state) = self.state.try_borrow_mut() else {
                return;
            };
            let Some(pending) = state.pending.get_mut(id) else {
                // Aborted meanwhile; its caller has been settled.
                return;
            };
            pending.last = Some((ok, value));
            state.core.on_answer(now(), id, answer);
        }
        self.drive();
    }

    /// The caller aborted: it leaves the queue, the refresh goes on.
    fn on_abort(self: &Rc<Self>, id: RequestId) {
        let pending = {
            let Ok(mut state) = self.state.try_borrow_mut() else {
                return;
            };
            if !state.core.abort(now(), id) {
                return;
            }
            state.pending.remove(id)
        };
        if let Some(pending) = pending {
            let reason = pending.template.signal().reason();
            self.finish(id, pending, false, &reason);
        }
        self.drive();
    }

    /// Settles a request the core has let go of.
    fn settle(&self, id: RequestId, failure: Option<Failure>) {
        let Some(pending) = self
            .state
            .try_borrow_mut()
            .ok()
            .and_then(|mut state| state.pending.remove(id))
        else {
            return;
        };
        let (ok, value) = match failure {
            Some(failure) => (false, events::error(failure, &pending.template)),
            // The core delivers only answered requests.
            None => pending.last.clone().unwrap_or_else(|| {
                (
                    false,
                    js_sys::Error::new("refresh-coordinator: no answer to deliver").into(),
                )
            }),
        };
        self.finish(id, pending, ok, &value);
    }

    fn finish(&self, id: RequestId, pending: Pending, ok: bool, value: &JsValue) {
        self.host.unlisten(id.get() as f64);
        pending.call.settle(ok, value);
    }

    fn start_refresh(self: &Rc<Self>, refresh: RefreshId) {
        let request = match refresh::request(&self.options.refresh, &self.options.mode) {
            Ok(request) => request,
            Err(outcome) => return self.refresh_ended(refresh, outcome),
        };
        if let Ok(mut state) = self.state.try_borrow_mut() {
            state.refresh = Some((refresh, 0));
        }
        if let Mode::Cookie = self.options.mode {
            platform::note_refresh(&self.options.refresh.url, js_sys::Date::now());
        }
        let sent = self.send(&request);
        self.host
            .watch(&sent, kind::REFRESH, refresh.number() as f64);
    }

    /// The refresh on the wire with this number, if it is the one.
    fn outstanding(&self, number: u64) -> Option<(RefreshId, u16)> {
        let state = self.state.try_borrow().ok()?;
        state
            .refresh
            .filter(|(refresh, _)| refresh.number() == number)
    }

    fn on_refresh_answer(self: &Rc<Self>, number: u64, ok: bool, value: JsValue) {
        let Some((refresh, _)) = self.outstanding(number) else {
            return;
        };
        let response = match value.dyn_into::<Response>() {
            Ok(response) if ok => response,
            _ => return self.refresh_ended(refresh, RefreshOutcome::Lost),
        };
        let outcome = refresh::classify(&response, js_sys::Date::now());
        if outcome != RefreshOutcome::Rotated {
            discard(&response);
            return self.refresh_ended(refresh, outcome);
        }
        if let Ok(mut state) = self.state.try_borrow_mut() {
            state.refresh = Some((refresh, response.status()));
        }
        // Read the whole body: in cookie mode a body cut off mid-way means
        // the rotated cookie may or may not have landed.
        let text = response
            .text()
            .unwrap_or_else(|error| Promise::reject(&error));
        self.host.watch(&text, kind::REFRESH_BODY, number as f64);
    }

    fn on_refresh_body(self: &Rc<Self>, number: u64, ok: bool, text: JsValue) {
        let Some((refresh, status)) = self.outstanding(number) else {
            return;
        };
        let text = if ok { text.as_string() } else { None };
        let outcome = refresh::rotated(&self.options.mode, status, text);
        self.refresh_ended(refresh, outcome);
    }

    fn refresh_ended(self: &Rc<Self>, refresh: RefreshId, outcome: RefreshOutcome) {
        if let Mode::Cookie = self.options.mode {
            platform::note_refresh(&self.options.refresh.url, 0.0);
        }
        if let Ok(mut state) = self.state.try_borrow_mut() {
            state.refresh = None;
            state.core.on_refresh_outcome(now(), refresh, outcome);
        }
        self.drive();
    }

    fn notify(&self, notice: Notice) {
        let options = &self.options;
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
            Notice::Replayed { request } => self.state.try_borrow().ok().and_then(|state| {
                state
                    .pending
                    .get(request)
                    .map(|p| Clone::clone(&p.template))
            }),
            _ => None,
        };
        call_app(callback, &events::event(notice, request.as_ref()));
    }

    /// Keeps the host's one timer armed for the core's next deadline.
    fn arm_timer(&self) {
        let Ok(mut state) = self.state.try_borrow_mut() else {
            return;
        };
        let wanted = state.core.poll_timeout();
        if wanted == state.timer {
            return;
        }
        state.timer = wanted;
        drop(state);
        match wanted {
            Some(at) => {
                let delay = now().until(at).as_millis() as f64;
                self.host.schedule(delay, kind::TIMER);
            }
            None => self.host.cancel(),
        }
    }
}

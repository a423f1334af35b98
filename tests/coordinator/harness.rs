//! A fake host: plays the web layer's part, records every action.

use refresh_coordinator::core::Duration;
use std::collections::BTreeMap;

use refresh_coordinator::core::{
    Action, Answer, Config, Coordinator, Failure, Instant, Notice, RefreshId, RefreshOutcome,
    RequestId,
};

/// How a request ended, as its caller saw it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Settled {
    Delivered,
    Failed(Failure),
    Aborted,
}

#[derive(Debug)]
pub struct Host {
    pub core: Coordinator,
    pub now: Instant,
    /// Every `Send` and `Probe`, in order: (request, replay, probe).
    pub sends: Vec<(RequestId, bool, bool)>,
    /// Every refresh attempt started, in order.
    pub refreshes: Vec<RefreshId>,
    pub notices: Vec<Notice>,
    /// Lock, persist and announce actions (cross-tab mode), in order.
    pub browser: Vec<Action>,
    pub settled: BTreeMap<RequestId, Settled>,
    /// Settlements per request, to catch double settling.
    pub settle_count: BTreeMap<RequestId, u32>,
}

impl Host {
    pub fn new() -> Self {
        Self::with(Config::default())
    }

    pub fn with(config: Config) -> Self {
        Self {
            core: Coordinator::new(config, 7),
            now: Instant::from_millis(1_000),
            sends: Vec::new(),
            refreshes: Vec::new(),
            notices: Vec::new(),
            browser: Vec::new(),
            settled: BTreeMap::new(),
            settle_count: BTreeMap::new(),
        }
    }

    /// Bearer mode: a lost refresh answer is a lost token, nothing to probe.
    pub fn bearer() -> Self {
        Self::with(Config {
            probe_after_lost_answer: false,
            ..Config::default()
        })
    }

    pub fn drain(&mut self) {
        while let Some(action) = self.core.poll_action() {
            match action {
                Action::Send { request, replay } => self.sends.push((request, replay, false)),
                Action::Probe { request } => self.sends.push((request, true, true)),
                Action::Deliver { request } => self.record(request, Settled::Delivered),
                Action::Fail { request, failure } => self.record(request, Settled::Failed(failure)),
                Action::StartRefresh { refresh } => self.refreshes.push(refresh),
                Action::Notify(notice) => self.notices.push(notice),
                Action::AcquireLock
                | Action::CancelLock
                | Action::ReleaseLock
                | Action::Persist { .. }
                | Action::Announce { .. } => self.browser.push(action),
            }
        }
    }

    fn record(&mut self, id: RequestId, how: Settled) {
        self.settled.insert(id, how);
        *self.settle_count.entry(id).or_default() += 1;
    }

    pub fn issue(&mut self) -> RequestId {
        self.issue_body(true)
    }

    pub fn issue_body(&mut self, replayable: bool) -> RequestId {
        let id = self.core.issue(self.now, replayable);
        self.drain();
        id
    }

    pub fn answer(&mut self, id: RequestId, answer: Answer) {
        self.core.on_answer(self.now, id, answer);
        self.drain();
    }

    pub fn refresh_ends(&mut self, outcome: RefreshOutcome) {
        let refresh = *self.refreshes.last().expect("a refresh was started");
        self.refresh_ends_for(refresh, outcome);
    }

    pub fn refresh_ends_for(&mut self, refresh: RefreshId, outcome: RefreshOutcome) {
        self.core.on_refresh_outcome(self.now, refresh, outcome);
        self.drain();
    }

    /// The refresh is refused, and (cookie mode) the probe that confirms
    /// the refusal, sent with the cookie the jar holds now, is refused too.
    pub fn refresh_refused_for_good(&mut self) {
        let sends = self.sends.len();
        self.refresh_ends(REFUSED);
        if let Some(&(probe, _, true)) = self.sends.get(sends) {
            self.answer(probe, Answer::Unauthorized);
        }
    }

    /// Sends other than probes that were replays.
    pub fn replays_not_probes(&self) -> usize {
        self.sends
            .iter()
            .filter(|&&(_, replay, probe)| replay && !probe)
            .count()
    }

    pub fn abort(&mut self, id: RequestId) -> bool {
        let tracked = self.core.abort(self.now, id);
        if tracked {
            self.record(id, Settled::Aborted);
        }
        self.drain();
        tracked
    }

    pub fn advance(&mut self, by: Duration) {
        self.now = self.now.after(by);
        self.core.on_timeout(self.now);
        self.drain();
    }

    /// Advance to the core's next deadline and fire it.
    pub fn fire_next_timer(&mut self) -> bool {
        match self.core.poll_timeout() {
            Some(at) => {
                if at > self.now {
                    self.now = at;
                }
                self.core.on_timeout(self.now);
                self.drain();
                true
            }
            None => false,
        }
    }

    pub fn sends_of(&self, id: RequestId) -> Vec<(bool, bool)> {
        self.sends
            .iter()
            .filter(|(r, _, _)| *r == id)
            .map(|&(_, replay, probe)| (replay, probe))
            .collect()
    }

    pub fn replays(&self) -> usize {
        self.sends.iter().filter(|(_, replay, _)| *replay).count()
    }

    pub fn session_expired_notices(&self) -> usize {
        self.notices
            .iter()
            .filter(|n| matches!(n, Notice::SessionExpired { .. }))
            .count()
    }

    pub fn outcome(&self, id: RequestId) -> Option<Settled> {
        self.settled.get(&id).copied()
    }
}

pub const REFUSED: RefreshOutcome = RefreshOutcome::Refused;
pub const ROTATED: RefreshOutcome = RefreshOutcome::Rotated { lifetime: None };

/// A rotation whose answer said how long the new credential lives.
pub fn rotated_for(lifetime: Duration) -> RefreshOutcome {
    RefreshOutcome::Rotated {
        lifetime: Some(lifetime),
    }
}
pub const LOST: RefreshOutcome = RefreshOutcome::Lost;

pub fn server_error(status: u16) -> RefreshOutcome {
    RefreshOutcome::Unavailable {
        status,
        retry_after: None,
    }
}

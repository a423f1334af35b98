//! Random interleavings of requests, answers, refresh outcomes, aborts,
//! credential changes, logouts and clock ticks, checked against the
//! invariants: a refresh starts only when every earlier one has ended or is
//! past its deadline (left unanswered), every request settled exactly once,
//! no replay without a completed refresh, no probe without a reason to
//! probe, no refresh between a logout and the next login, nothing left
//! pending at the end.

use refresh_coordinator::core::Duration;
use std::collections::{BTreeMap, BTreeSet};

use proptest::prelude::*;
use refresh_coordinator::core::{
    Action, Answer, Config, Coordinator, Generation, Instant, Notice, RefreshId, RefreshOutcome,
    RequestId, Session,
};

#[derive(Debug, Clone)]
enum Op {
    Issue {
        replayable: bool,
    },
    Answer {
        pick: usize,
        answer: Answer,
    },
    RefreshEnds(RefreshOutcome),
    Abort {
        pick: usize,
    },
    Tick {
        millis: u64,
    },
    CredentialChanged,
    SessionEndedElsewhere,
    MayBeLanding {
        millis: u64,
    },
    LogOut,
    /// The page is shown or hidden: a shown one refreshes ahead on a timer.
    Visible(bool),
}

fn op() -> impl Strategy<Value = Op> {
    let answer = prop_oneof![
        3 => Just(Answer::Unauthorized),
        2 => Just(Answer::Other),
        1 => Just(Answer::Failed),
    ];
    let outcome = prop_oneof![
        4 => proptest::option::of(0u64..20_000).prop_map(|millis| RefreshOutcome::Rotated {
            lifetime: millis.map(Duration::from_millis),
        }),
        1 => Just(RefreshOutcome::Refused),
        1 => Just(RefreshOutcome::Lost),
        1 => Just(RefreshOutcome::Redirected),
        1 => (prop_oneof![Just(500u16), Just(503), Just(429)], proptest::option::of(0u64..40))
            .prop_map(|(status, secs)| RefreshOutcome::Unavailable {
                status,
                retry_after: secs.map(Duration::from_secs),
            }),
    ];
    prop_oneof![
        // Most bodies can be replayed; streams are the minority.
        6 => proptest::bool::weighted(0.9).prop_map(|replayable| Op::Issue { replayable }),
        8 => (any::<usize>(), answer).prop_map(|(pick, answer)| Op::Answer { pick, answer }),
        3 => outcome.prop_map(Op::RefreshEnds),
        1 => any::<usize>().prop_map(|pick| Op::Abort { pick }),
        3 => (0u64..15_000).prop_map(|millis| Op::Tick { millis }),
        1 => Just(Op::CredentialChanged),
        1 => Just(Op::SessionEndedElsewhere),
        1 => (0u64..15_000).prop_map(|millis| Op::MayBeLanding { millis }),
        1 => Just(Op::LogOut),
        1 => any::<bool>().prop_map(Op::Visible),
    ]
}

struct Model {
    core: Coordinator,
    now: Instant,
    on_wire: BTreeSet<RequestId>,
    /// Refreshes started and not yet ended, with when each started.
    outstanding: Vec<(RefreshId, Instant)>,
    last_outcome: Option<RefreshOutcome>,
    /// Refreshes a login or a session end made the core forget: their
    /// outcomes must change nothing.
    forgotten: Vec<RefreshId>,
    /// A refresh went past its deadline unanswered: probes may follow.
    unanswered_seen: bool,
    refresh_timeout: Duration,
    /// A refresh of a previous page load was announced: probes may come
    /// without a lost answer of ours.
    landing_announced: bool,
    /// The app logged out and has not logged in since.
    logged_out: bool,
    generation: Generation,
    sent_at: BTreeMap<RequestId, Generation>,
    issued: Vec<RequestId>,
    settled: BTreeMap<RequestId, u32>,
}

impl Model {
    fn new(probe: bool) -> Self {
        let config = Config {
            probe_after_lost_answer: probe,
            max_retries: 2,
            ..Config::default()
        };
        let refresh_timeout = config.refresh_timeout;
        Self {
            core: Coordinator::new(config, 42),
            now: Instant::from_millis(0),
            on_wire: BTreeSet::new(),
            outstanding: Vec::new(),
            forgotten: Vec::new(),
            last_outcome: None,
            unanswered_seen: false,
            refresh_timeout,
            landing_announced: false,
            logged_out: false,
            generation: Generation::default(),
            sent_at: BTreeMap::new(),
            issued: Vec::new(),
            settled: BTreeMap::new(),
        }
    }

    fn settle(&mut self, id: RequestId) -> Result<(), TestCaseError> {
        let count = self.settled.entry(id).or_default();
        *count += 1;
        prop_assert_eq!(*count, 1, "request {:?} settled twice", id);
        self.on_wire.remove(&id);
        Ok(())
    }

    fn drain(&mut self) -> Result<(), TestCaseError> {
        while let Some(action) = self.core.poll_action() {
            match action {
                Action::Send { request, replay } => {
                    prop_assert!(!self.settled.contains_key(&request), "send after settle");
                    if replay {
                        let before = self.sent_at.get(&request).copied();
                        prop_assert!(
                            before.is_some_and(|g| g < self.generation),
                            "replay of {:?} without a completed refresh",
                            request
                        );
                    }
                    self.sent_at.insert(request, self.generation);
                    self.on_wire.insert(request);
                }
                Action::Probe { request } => {
                    prop_assert!(
                        self.landing_announced
                            || self.unanswered_seen
                            || matches!(
                                self.last_outcome,
                                Some(RefreshOutcome::Lost | RefreshOutcome::Refused)
                            ),
                        "a probe without a lost answer, a refusal to confirm or a landing refresh"
                    );
                    self.sent_at.insert(request, self.generation);
                    self.on_wire.insert(request);
                }
                Action::Deliver { request } | Action::Fail { request, .. } => {
                    self.settle(request)?
                }
                Action::StartRefresh { refresh } => {
                    let waited_for = self
                        .outstanding
                        .iter()
                        .any(|&(_, at)| self.now < at.after(self.refresh_timeout));
                    prop_assert!(
                        !waited_for,
                        "a second refresh while one is still waited for"
                    );
                    prop_assert!(!self.logged_out, "a refresh after logging out");
                    if !self.outstanding.is_empty() {
                        self.unanswered_seen = true;
                    }
                    self.outstanding.push((refresh, self.now));
                }
                Action::Notify(Notice::RefreshSucceeded { generation }) => {
                    self.generation = generation;
                }
                Action::Notify(_) => {}
                Action::AcquireLock
                | Action::CancelLock
                | Action::ReleaseLock
                | Action::Persist { .. }
                | Action::Announce { .. } => {
                    prop_assert!(false, "a cross-tab action from a tab-only coordinator")
                }
            }
        }
        Ok(())
    }

    fn apply(&mut self, op: Op) -> Result<(), TestCaseError> {
        match op {
            Op::Issue { replayable } => {
                let id = self.core.issue(self.now, replayable);
                self.issued.push(id);
            }
            Op::Answer { pick, answer } => {
                if self.on_wire.is_empty() {
                    return Ok(());
                }
                let id = *self.on_wire.iter().nth(pick % self.on_wire.len()).unwrap();
                self.on_wire.remove(&id);
                self.core.on_answer(self.now, id, answer);
            }
            Op::RefreshEnds(outcome) => {
                // The newest ends first; older ones are left for later ops.
                if let Some((refresh, _)) = self.outstanding.pop() {
                    self.last_outcome = Some(outcome);
                    self.core.on_refresh_outcome(self.now, refresh, outcome);
                } else if let Some(refresh) = self.forgotten.pop() {
                    let generation = self.core.generation();
                    self.core.on_refresh_outcome(self.now, refresh, outcome);
                    prop_assert_eq!(
                        self.core.generation(),
                        generation,
                        "a forgotten refresh counted"
                    );
                    prop_assert!(
                        self.core.poll_action().is_none(),
                        "a forgotten refresh acted"
                    );
                }
            }
            Op::Abort { pick } => {
                let live: Vec<_> = self
                    .issued
                    .iter()
                    .copied()
                    .filter(|id| !self.settled.contains_key(id))
                    .collect();
                if live.is_empty() {
                    return Ok(());
                }
                let id = live[pick % live.len()];
                if self.core.abort(self.now, id) {
                    self.settle(id)?;
                }
            }
            Op::Tick { millis } => {
                self.now = self.now.after(Duration::from_millis(millis));
                if self
                    .outstanding
                    .iter()
                    .any(|&(_, at)| self.now >= at.after(self.refresh_timeout))
                {
                    self.unanswered_seen = true;
                }
                self.core.on_timeout(self.now);
            }
            Op::CredentialChanged => {
                self.logged_out = false;
                self.core.credential_changed();
                self.generation = self.core.generation();
                self.forgotten
                    .extend(self.outstanding.drain(..).map(|(r, _)| r));
            }
            Op::SessionEndedElsewhere => {
                let active = self.core.session() == Session::Active;
                self.core.session_ended_elsewhere();
                if active {
                    self.forgotten
                        .extend(self.outstanding.drain(..).map(|(r, _)| r));
                }
            }
            Op::LogOut => {
                // Refreshes on the wire still count after a logout (their
                // rotation is kept for the logout to revoke), until a login.
                self.logged_out = true;
                self.core.log_out();
            }
            Op::Visible(visible) => self.core.set_visible(visible),
            Op::MayBeLanding { millis } => {
                self.landing_announced = true;
                self.core
                    .refresh_may_be_landing(self.now.after(Duration::from_millis(millis)));
            }
        }
        self.drain()
    }

    /// Let the world answer everything kindly until nothing is pending.
    fn quiesce(&mut self) -> Result<(), TestCaseError> {
        for _ in 0..1_000 {
            if !self.on_wire.is_empty() {
                self.apply(Op::Answer {
                    pick: 0,
                    answer: Answer::Other,
                })?;
            } else if !self.outstanding.is_empty() {
                self.apply(Op::RefreshEnds(RefreshOutcome::Rotated { lifetime: None }))?;
            } else if let Some(at) = self.core.poll_timeout() {
                self.now = self.now.max(at);
                self.core.on_timeout(self.now);
                self.drain()?;
            } else {
                break;
            }
        }
        prop_assert_eq!(self.core.tracked(), 0, "requests left pending");
        for id in &self.issued {
            prop_assert_eq!(
                self.settled.get(id).copied(),
                Some(1),
                "{:?} not settled once",
                id
            );
        }
        Ok(())
    }
}

fn run(ops: Vec<Op>, probe: bool) -> Result<(), TestCaseError> {
    let mut model = Model::new(probe);
    for op in ops {
        model.apply(op)?;
    }
    model.quiesce()
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 2_000, ..ProptestConfig::default() })]

    #[test]
    fn invariants_hold_in_cookie_mode(ops in proptest::collection::vec(op(), 1..120)) {
        run(ops, true)?;
    }

    #[test]
    fn invariants_hold_in_bearer_mode(ops in proptest::collection::vec(op(), 1..120)) {
        run(ops, false)?;
    }
}

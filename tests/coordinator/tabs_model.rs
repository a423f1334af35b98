//! Rule 9 under random interleavings: several tabs of one browser, each with
//! its own coordinator, sharing what real tabs share. A simulated Web Lock
//! (requests granted in order, a grant heard a moment later, a closed tab's
//! lock freed at once, a frozen tab's kept), the stored shared state (never
//! replaced by an older generation), a broadcast channel (a message is a
//! hint, delivered late and out of order; its receiver re-reads storage),
//! one cookie jar, and one server whose refresh-token family rotates with a
//! blacklist and no grace: a refresh carrying anything but the current
//! token is refused. A request gets 401 when the access token it carries
//! is older than the current one, or the current one expired. Tabs are
//! reloaded, closed, frozen and thawed; answers are lost or never come.
//!
//! The network is fast unless told otherwise: whatever it does not lose
//! arrives within `LATENCY`, which is what lets a lost race be confirmed
//! within the refusal window. Only an explicit stall holds a refresh on its
//! way to the server for longer.
//!
//! The invariants, checked after every step and again once everything is
//! drained: a refresh is sent only by the lock holder, and never while
//! another refresh is still out and waited for; one rotation per shared
//! generation; no refresh is refused for a token another tab rotated
//! unless one of them was left behind (past its deadline, or sent by a page
//! that is gone), and none at all while every tab stays alive and awake;
//! every request settles exactly once; generations only move forward; and,
//! the server never revoking the family, no session ever ends. With
//! revocation allowed: once it is revoked every tab that asks finds the
//! session over, each is told once, and no refresh goes out after the end
//! is stored.
//!
//! The core bugs the model found each have a regression test below, with
//! the smallest script that showed it.

use refresh_coordinator::core::Duration;
use std::collections::{BTreeMap, BTreeSet, VecDeque};

use proptest::prelude::*;
use refresh_coordinator::core::{
    Action, Answer, Config, Coordinator, Failure, Generation, Instant, Notice, RefreshId,
    RefreshOutcome, RequestId, Session, SharedSession,
};

use crate::harness::{Host, Settled, REFUSED, ROTATED};

/// Everything the network does not lose or stall arrives within this.
const LATENCY: Duration = Duration::from_millis(300);
/// As the web layer sets it for a shared credential.
const REFUSAL_WINDOW: Duration = Duration::from_secs(2);
/// An access token is accepted at least this long after its rotation (far
/// shorter than any real one, still longer than a refresh timeout plus the
/// refusal window: a probe that confirms a refusal sees a fresh token).
const ACCESS_LIFE: Duration = Duration::from_secs(20);
/// Bounds the final "deliver everything, then tick to the next timer".
const DRAIN_ROUNDS: usize = 400;

type R = Result<(), TestCaseError>;

/// A page: its tab's slot and which load of it.
type Page = (usize, u32);

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Variant {
    /// Every tab stays alive and awake: no refresh is ever refused.
    Calm,
    /// Tabs are reloaded, closed, frozen; refreshes stall on the way.
    Chaos,
    /// As `Chaos`, and the server may revoke the family.
    Revoke,
}

/// What becomes of a step of a refresh on the network (a request is
/// always answered).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum How {
    Normal,
    /// A refresh's answer is lost (its cookie still lands if it rotated),
    /// or it never reaches the server and the page sees a network error.
    Lost,
    /// As `Lost`, but the page never hears anything.
    Silent,
    /// The server answers a refresh 503 without rotating.
    Busy,
}

/// Which tab an op picks.
#[derive(Debug, Clone, Copy)]
enum Whom {
    Tab(usize),
    /// The tab whose page has a refresh out (one that rotated first), or
    /// else holds the lock or is granted it, if any (else the tab given):
    /// where closing or freezing a tab matters most.
    Holder(usize),
}

#[derive(Debug, Clone)]
enum Op {
    Issue {
        tab: usize,
        replayable: bool,
    },
    /// Every tab issues a request at once (the browser wakes up).
    Burst,
    /// The current access token expires (if it has lived `ACCESS_LIFE`).
    Expire,
    /// One pending thing of the network happens.
    Deliver {
        pick: usize,
        how: How,
    },
    Tick {
        millis: u64,
    },
    /// A refresh on its way to the server is held, for as long as it takes.
    Stall {
        pick: usize,
    },
    Freeze {
        tab: Whom,
    },
    Thaw {
        tab: usize,
        timers_first: bool,
    },
    /// `keepalive`: its refreshes not yet at the server still get there
    /// (else they never left); one the server answered lands its cookie
    /// either way.
    Reload {
        tab: Whom,
        keepalive: bool,
    },
    Kill {
        tab: Whom,
        keepalive: bool,
    },
    Revoke,
}

fn op(variant: Variant) -> BoxedStrategy<Op> {
    let tab = 0usize..4;
    let how = prop_oneof![
        8 => Just(How::Normal),
        1 => Just(How::Lost),
        1 => Just(How::Silent),
        1 => Just(How::Busy),
    ];
    let tick = prop_oneof![0u64..400, 0u64..3_000, 0u64..15_000];
    let calm = prop_oneof![
        5 => (tab.clone(), proptest::bool::weighted(0.9))
            .prop_map(|(tab, replayable)| Op::Issue { tab, replayable }),
        3 => Just(Op::Expire),
        1 => Just(Op::Burst),
        12 => (any::<usize>(), how).prop_map(|(pick, how)| Op::Deliver { pick, how }),
        4 => tick.prop_map(|millis| Op::Tick { millis }),
    ];
    if variant == Variant::Calm {
        return calm.boxed();
    }
    let whom = prop_oneof![
        (0usize..4).prop_map(Whom::Tab),
        (0usize..4).prop_map(Whom::Holder),
    ];
    let chaos = prop_oneof![
        12 => calm,
        2 => any::<usize>().prop_map(|pick| Op::Stall { pick }),
        2 => whom.clone().prop_map(|tab| Op::Freeze { tab }),
        2 => (tab.clone(), any::<bool>())
            .prop_map(|(tab, timers_first)| Op::Thaw { tab, timers_first }),
        3 => (whom.clone(), any::<bool>()).prop_map(|(tab, keepalive)| Op::Reload { tab, keepalive }),
        1 => (whom, any::<bool>()).prop_map(|(tab, keepalive)| Op::Kill { tab, keepalive }),
    ];
    if variant == Variant::Chaos {
        return chaos.boxed();
    }
    prop_oneof![28 => chaos, 1 => Just(Op::Revoke)].boxed()
}

/// Where a refresh is.
#[derive(Debug, Clone, Copy)]
enum Stage {
    ToServer,
    /// Answered; `lands` is the token version its cookie brings the jar.
    FromServer {
        outcome: RefreshOutcome,
        lands: Option<u64>,
    },
}

#[derive(Debug, Clone, Copy)]
struct Refresh {
    to: Page,
    refresh: RefreshId,
    /// The token version it carries: the jar's when it was sent.
    carried: u64,
    sent: Instant,
    /// The stored generation when it was sent.
    generation: u64,
    /// Another refresh was still out when it was sent (one left behind).
    overlapped: bool,
    stage: Stage,
}

#[derive(Debug, Clone, Copy)]
enum Kind {
    Request {
        to: Page,
        id: RequestId,
        carried: u64,
    },
    Refresh(Refresh),
    Grant {
        to: Page,
        n: u64,
    },
    Message {
        to: Page,
    },
}

#[derive(Debug, Clone, Copy)]
struct Pending {
    due: Instant,
    stalled: bool,
    kind: Kind,
}

/// What a page hears: queued while it is frozen.
#[derive(Debug, Clone, Copy)]
enum Heard {
    Answer(RequestId, Answer),
    Outcome(RefreshId, RefreshOutcome),
    Grant(u64),
    Message,
}

#[derive(Debug)]
struct Tab {
    core: Coordinator,
    load: u32,
    alive: bool,
    frozen: bool,
    /// Heard while frozen, in arrival order.
    asleep: VecDeque<Heard>,
    /// The lock request not yet granted that counts (the web layer's
    /// `#request`); a grant of any other is given back.
    lock_request: Option<u64>,
    /// The lock request granted and heard (the web layer's `#release`).
    lock_held: Option<u64>,
    next_lock: u64,
    /// The web layer's note of a refresh sent and not yet answered; it
    /// survives a reload (sessionStorage).
    note: Option<Instant>,
    issued: Vec<RequestId>,
    settled: BTreeMap<RequestId, u32>,
    on_wire: BTreeSet<RequestId>,
    expired_notices: u32,
    generation: Generation,
    published: u64,
    /// Requests failed with `Failure::SessionExpired`.
    expired: BTreeSet<RequestId>,
}

impl Tab {
    fn new(slot: usize, load: u32, joined: u64, note: Option<Instant>, now: Instant) -> Self {
        let seed = ((slot as u64) << 32) | u64::from(load);
        let mut core = Coordinator::new(Config::default(), seed);
        // As the web layer builds its core in cookie mode.
        let timeout = Config::default().refresh_timeout;
        if let Some(at) = note {
            if now < at.after(timeout) {
                core.refresh_may_be_landing(at.after(timeout));
            }
        }
        core.confirm_refusals_for(REFUSAL_WINDOW);
        core.share_across_tabs(joined);
        Self {
            core,
            load,
            alive: true,
            frozen: false,
            asleep: VecDeque::new(),
            lock_request: None,
            lock_held: None,
            next_lock: 0,
            note,
            issued: Vec::new(),
            settled: BTreeMap::new(),
            on_wire: BTreeSet::new(),
            expired_notices: 0,
            generation: Generation::default(),
            published: 0,
            expired: BTreeSet::new(),
        }
    }

    fn awake(&self) -> bool {
        self.alive && !self.frozen
    }
}

#[derive(Debug)]
struct World {
    variant: Variant,
    refresh_timeout: Duration,
    now: Instant,
    tabs: Vec<Tab>,
    pending: Vec<Pending>,
    stored: (u64, SharedSession),
    holder: Option<(Page, u64)>,
    queue: VecDeque<(Page, u64)>,
    /// The server: the current token version, when it was minted (`None`:
    /// long ago), whether its access token expired, whether the family is
    /// revoked.
    current: u64,
    minted: Option<Instant>,
    expired: bool,
    revoked: bool,
    /// The token version the cookie jar holds; every tab sends it.
    jar: u64,
    /// Successful rotations by the stored generation their refresh was
    /// sent at, and the refreshes whose rotation their sender counted.
    rotations: BTreeMap<u64, Vec<(Page, u64)>>,
    counted: BTreeSet<(Page, u64)>,
    /// Every live tab had seen the end when a request was issued.
    everyone_knew: bool,
}

impl World {
    fn new(tabs: usize, variant: Variant) -> Self {
        let now = Instant::from_millis(1_000);
        Self {
            variant,
            refresh_timeout: Config::default().refresh_timeout,
            now,
            tabs: (0..tabs).map(|t| Tab::new(t, 0, 0, None, now)).collect(),
            pending: Vec::new(),
            stored: (0, SharedSession::Active),
            holder: None,
            queue: VecDeque::new(),
            current: 0,
            // The browser wakes with every tab on an expired access token:
            // their first requests all get 401 at once.
            minted: None,
            expired: true,
            revoked: false,
            jar: 0,
            rotations: BTreeMap::new(),
            counted: BTreeSet::new(),
            everyone_knew: false,
        }
    }

    fn live(&self, page: Page) -> bool {
        let tab = &self.tabs[page.0];
        tab.alive && tab.load == page.1
    }

    fn page(&self, t: usize) -> Page {
        (t, self.tabs[t].load)
    }

    fn whom(&self, whom: Whom) -> usize {
        // A rotation whose cookie has not landed yet first: a page closed
        // then leaves the next holder the token it replaced.
        let sender = |rotated: bool| {
            self.pending.iter().find_map(|p| match p.kind {
                Kind::Refresh(r) if self.live(r.to) => {
                    let landing = matches!(r.stage, Stage::FromServer { lands: Some(_), .. });
                    (landing || !rotated).then_some(r.to.0)
                }
                _ => None,
            })
        };
        let refreshing = sender(true).or(sender(false));
        match whom {
            Whom::Tab(t) => t % self.tabs.len(),
            Whom::Holder(t) => refreshing
                .or(self.holder.map(|((h, _), _)| h))
                .unwrap_or(t % self.tabs.len()),
        }
    }

    fn apply(&mut self, op: Op) -> R {
        let tabs = self.tabs.len();
        match op {
            Op::Issue { tab, replayable } => {
                let t = tab % tabs;
                if !self.tabs[t].awake() {
                    return Ok(());
                }
                let live: Vec<&Tab> = self.tabs.iter().filter(|t| t.alive).collect();
                if self.revoked && live.iter().all(|t| t.core.session() == Session::Ended) {
                    self.everyone_knew = true;
                }
                let id = self.tabs[t].core.issue(self.now, replayable);
                self.tabs[t].issued.push(id);
                self.run(t)?;
            }
            Op::Burst => {
                for t in 0..tabs {
                    self.apply(Op::Issue {
                        tab: t,
                        replayable: true,
                    })?;
                }
            }
            Op::Expire => {
                let old_enough = self
                    .minted
                    .is_none_or(|at| self.now >= at.after(ACCESS_LIFE));
                if old_enough {
                    self.expired = true;
                }
            }
            Op::Deliver { pick, how } => {
                if !self.pending.is_empty() {
                    let at = pick % self.pending.len();
                    self.step(at, how)?;
                }
            }
            Op::Tick { millis } => {
                self.advance_to(self.now.after(Duration::from_millis(millis)))?
            }
            Op::Stall { pick } => {
                let on_the_way: Vec<usize> = (0..self.pending.len())
                    .filter(|&i| {
                        matches!(
                            self.pending[i].kind,
                            Kind::Refresh(Refresh {
                                stage: Stage::ToServer,
                                ..
                            })
                        )
                    })
                    .collect();
                if !on_the_way.is_empty() {
                    let at = on_the_way[pick % on_the_way.len()];
                    self.pending[at].stalled = true;
                }
            }
            Op::Freeze { tab } => {
                let t = self.whom(tab);
                let tab = &mut self.tabs[t];
                if tab.alive {
                    tab.frozen = true;
                }
            }
            Op::Thaw { tab, timers_first } => self.thaw(tab % tabs, timers_first)?,
            Op::Reload { tab, keepalive } => self.unload(self.whom(tab), keepalive, true)?,
            Op::Kill { tab, keepalive } => {
                let t = self.whom(tab);
                // Keep one tab: a browser with none has nothing left to check.
                if self.tabs.iter().filter(|t| t.alive).count() > 1 {
                    self.unload(t, keepalive, false)?;
                }
            }
            Op::Revoke => self.revoked = true,
        }
        self.check()
    }

    /// What holds after every step.
    fn check(&self) -> R {
        for (t, tab) in self.tabs.iter().enumerate() {
            if tab.alive && !self.revoked {
                prop_assert_ne!(
                    tab.core.session(),
                    Session::Ended,
                    "tab {} ended a session the server never revoked",
                    t
                );
            }
        }
        if let Some((page, n)) = self.holder {
            prop_assert!(self.live(page), "the lock is held by a page that is gone");
            let tab = &self.tabs[page.0];
            prop_assert!(
                tab.lock_held.is_none() || tab.lock_held == Some(n),
                "a tab holds a grant it was not given"
            );
        }
        for (t, tab) in self.tabs.iter().enumerate() {
            if tab.alive && tab.lock_held.is_some() {
                prop_assert_eq!(
                    self.holder.map(|(page, n)| (page, Some(n))),
                    Some(((t, tab.load), tab.lock_held)),
                    "two holders"
                );
            }
        }
        Ok(())
    }

    /// Carries out tab `t`'s actions.
    fn run(&mut self, t: usize) -> R {
        let page = self.page(t);
        while let Some(action) = self.tabs[t].core.poll_action() {
            match action {
                Action::Send { request, .. } | Action::Probe { request } => {
                    let tab = &mut self.tabs[t];
                    prop_assert!(
                        !tab.settled.contains_key(&request),
                        "{:?} sent after it settled",
                        request
                    );
                    prop_assert!(
                        tab.on_wire.insert(request),
                        "{:?} sent while on the wire",
                        request
                    );
                    self.pending.push(Pending {
                        due: self.now.after(LATENCY),
                        stalled: false,
                        kind: Kind::Request {
                            to: page,
                            id: request,
                            carried: self.jar,
                        },
                    });
                }
                Action::Deliver { request } => self.settle(t, request, None)?,
                Action::Fail { request, failure } => self.settle(t, request, Some(failure))?,
                Action::StartRefresh { refresh } => self.refresh_sent(t, refresh)?,
                Action::Notify(notice) => self.notice(t, notice)?,
                Action::AcquireLock => {
                    let tab = &mut self.tabs[t];
                    let n = tab.next_lock;
                    tab.next_lock += 1;
                    tab.lock_request = Some(n);
                    if self.holder.is_none() {
                        self.grant(page, n);
                    } else {
                        self.queue.push_back((page, n));
                    }
                }
                Action::CancelLock => {
                    // Withdrawn before it is granted; a grant already given
                    // is given back when it is heard.
                    if let Some(n) = self.tabs[t].lock_request.take() {
                        self.queue.retain(|&entry| entry != (page, n));
                    }
                }
                Action::ReleaseLock => {
                    let held = self.tabs[t].lock_held.take();
                    prop_assert!(
                        held.is_some() && self.holder == held.map(|n| (page, n)),
                        "tab {} released a lock it does not hold",
                        t
                    );
                    self.free();
                }
                Action::Persist {
                    generation,
                    session,
                    ..
                } => {
                    let tab = &mut self.tabs[t];
                    prop_assert!(
                        generation >= tab.published,
                        "tab {} published generation {} after {}",
                        t,
                        generation,
                        tab.published
                    );
                    tab.published = generation;
                    if generation >= self.stored.0 {
                        self.stored = (generation, session);
                    }
                }
                Action::Announce { .. } => {
                    for u in 0..self.tabs.len() {
                        if u != t && self.tabs[u].alive {
                            let to = self.page(u);
                            self.pending.push(Pending {
                                due: self.now.after(LATENCY),
                                stalled: false,
                                kind: Kind::Message { to },
                            });
                        }
                    }
                }
            }
        }
        let generation = self.tabs[t].core.generation();
        prop_assert!(
            generation >= self.tabs[t].generation,
            "tab {} went back from generation {:?} to {:?}",
            t,
            self.tabs[t].generation,
            generation
        );
        self.tabs[t].generation = generation;
        Ok(())
    }

    fn settle(&mut self, t: usize, id: RequestId, failure: Option<Failure>) -> R {
        let tab = &mut self.tabs[t];
        prop_assert!(tab.issued.contains(&id), "{:?} settled, never issued", id);
        let count = tab.settled.entry(id).or_default();
        *count += 1;
        prop_assert_eq!(*count, 1, "tab {}: {:?} settled twice", t, id);
        if failure == Some(Failure::SessionExpired) {
            prop_assert!(self.revoked, "tab {}: {:?} failed as expired", t, id);
            tab.expired.insert(id);
        }
        Ok(())
    }

    fn notice(&mut self, t: usize, notice: Notice) -> R {
        let tab = &mut self.tabs[t];
        match notice {
            Notice::SessionExpired { .. } => {
                prop_assert!(self.revoked, "tab {} told the session expired", t);
                tab.expired_notices += 1;
                prop_assert_eq!(tab.expired_notices, 1, "tab {} told twice", t);
            }
            Notice::RefreshStarted { .. } => {}
            Notice::RefreshSucceeded { generation } | Notice::Adopted { generation } => {
                prop_assert!(
                    generation > tab.generation,
                    "tab {}: generation {:?} after {:?}",
                    t,
                    generation,
                    tab.generation
                );
            }
            _ => {}
        }
        Ok(())
    }

    fn refresh_sent(&mut self, t: usize, refresh: RefreshId) -> R {
        let page = self.page(t);
        let held = self.tabs[t].lock_held;
        prop_assert!(
            held.is_some() && self.holder == held.map(|n| (page, n)),
            "tab {} refreshes without the lock (held by {:?})",
            t,
            self.holder
        );
        prop_assert!(
            self.stored.1 != SharedSession::Ended,
            "tab {} refreshes after the end was stored",
            t
        );
        prop_assert!(
            !self.everyone_knew,
            "a refresh after every tab had seen the end"
        );
        let mut overlapped = false;
        for pending in &self.pending {
            if let Kind::Refresh(other) = pending.kind {
                let gone = !self.live(other.to);
                let overdue = self.now >= other.sent.after(self.refresh_timeout);
                prop_assert!(
                    gone || overdue,
                    "tab {} refreshes while {:?} of {:?} is out and waited for",
                    t,
                    other.refresh,
                    other.to
                );
                overlapped = true;
            }
        }
        if self.variant == Variant::Calm {
            prop_assert!(!overlapped, "two refreshes out in a calm browser");
        }
        self.tabs[t].note = Some(self.now);
        self.pending.push(Pending {
            due: self.now.after(LATENCY),
            stalled: false,
            kind: Kind::Refresh(Refresh {
                to: page,
                refresh,
                carried: self.jar,
                sent: self.now,
                generation: self.stored.0,
                overlapped,
                stage: Stage::ToServer,
            }),
        });
        Ok(())
    }

    /// The server answers a request carrying token version `carried`.
    fn answer(&self, carried: u64) -> Answer {
        if self.revoked || carried < self.current || self.expired {
            Answer::Unauthorized
        } else {
            Answer::Other
        }
    }

    /// The server handles refresh `r`: it rotates (true) only the current
    /// token of a family not revoked, and refuses anything else.
    fn refresh_at_server(&mut self, r: &Refresh) -> Result<bool, TestCaseError> {
        if self.revoked {
            return Ok(false);
        }
        if r.carried < self.current {
            // Refused because another refresh rotated the token first: only
            // when one of the two was left behind.
            let left_behind =
                r.overlapped || !self.live(r.to) || self.now >= r.sent.after(self.refresh_timeout);
            prop_assert!(
                left_behind,
                "{:?} of {:?} sent token {} the server had rotated ({})",
                r.refresh,
                r.to,
                r.carried,
                self.current
            );
            prop_assert!(
                self.variant != Variant::Calm,
                "a lost race in a calm browser"
            );
            return Ok(false);
        }
        // One rotation per shared generation: a second one only after a
        // first its sender never counted (it lost the answer and had nobody
        // to probe with, or it was closed), so nobody published it.
        let earlier = self.rotations.entry(r.generation).or_default();
        let counted = earlier.iter().filter(|k| self.counted.contains(k)).count();
        prop_assert_eq!(
            counted,
            0,
            "a second rotation for generation {}, the first one counted",
            r.generation
        );
        earlier.push((r.to, r.refresh.number()));
        self.current += 1;
        self.minted = Some(self.now);
        self.expired = false;
        Ok(true)
    }

    /// One pending thing of the network happens.
    fn step(&mut self, at: usize, how: How) -> R {
        let pending = self.pending.remove(at);
        match pending.kind {
            Kind::Request { to, id, carried } => {
                prop_assert!(carried <= self.current, "a token from the future");
                let answer = self.answer(carried);
                self.hear(to, Heard::Answer(id, answer))
            }
            Kind::Refresh(r) => match r.stage {
                Stage::ToServer => match how {
                    How::Normal | How::Busy => {
                        let (outcome, lands) = if how == How::Busy && !self.revoked {
                            let busy = RefreshOutcome::Unavailable {
                                status: 503,
                                retry_after: None,
                            };
                            (busy, None)
                        } else if self.refresh_at_server(&r)? {
                            let rotated = RefreshOutcome::Rotated {
                                lifetime: Some(ACCESS_LIFE),
                            };
                            (rotated, Some(self.current))
                        } else {
                            (RefreshOutcome::Refused, None)
                        };
                        self.pending.push(Pending {
                            due: self.now.after(LATENCY),
                            stalled: false,
                            kind: Kind::Refresh(Refresh {
                                stage: Stage::FromServer { outcome, lands },
                                ..r
                            }),
                        });
                        Ok(())
                    }
                    How::Lost => self.hear(r.to, Heard::Outcome(r.refresh, RefreshOutcome::Lost)),
                    How::Silent => Ok(()),
                },
                Stage::FromServer { outcome, lands } => {
                    if let Some(version) = lands {
                        // The browser stores the cookie whatever becomes of
                        // the page (the web layer sends with keepalive).
                        prop_assert!(version > self.jar, "the jar went back");
                        self.jar = version;
                    }
                    match how {
                        How::Normal | How::Busy => {
                            self.hear(r.to, Heard::Outcome(r.refresh, outcome))
                        }
                        How::Lost => {
                            self.hear(r.to, Heard::Outcome(r.refresh, RefreshOutcome::Lost))
                        }
                        How::Silent => Ok(()),
                    }
                }
            },
            Kind::Grant { to, n } => self.hear(to, Heard::Grant(n)),
            Kind::Message { to } => self.hear(to, Heard::Message),
        }
    }

    fn hear(&mut self, to: Page, heard: Heard) -> R {
        if !self.live(to) {
            // The page is gone; nobody hears.
            return Ok(());
        }
        let t = to.0;
        if self.tabs[t].frozen {
            self.tabs[t].asleep.push_back(heard);
            return Ok(());
        }
        let now = self.now;
        let (generation, session) = self.stored;
        match heard {
            Heard::Answer(id, answer) => {
                let tab = &mut self.tabs[t];
                tab.on_wire.remove(&id);
                tab.core.on_answer(now, id, answer);
            }
            Heard::Outcome(refresh, outcome) => {
                let tab = &mut self.tabs[t];
                if tab.core.refresh_numbered(refresh.number()).is_some() {
                    tab.note = None;
                    if matches!(outcome, RefreshOutcome::Rotated { .. }) {
                        self.counted.insert((to, refresh.number()));
                    }
                }
                tab.core.on_refresh_outcome(now, refresh, outcome);
            }
            Heard::Grant(n) => {
                let tab = &mut self.tabs[t];
                if tab.lock_request == Some(n) {
                    tab.lock_request = None;
                    tab.lock_held = Some(n);
                    // The core decides on the shared state read now.
                    tab.core.lock_granted(now, generation, session);
                } else if self.holder == Some((to, n)) {
                    // Withdrawn before the grant was heard: given back.
                    self.free();
                }
            }
            Heard::Message => self.tabs[t].core.shared_state(generation, session),
        }
        self.run(t)
    }

    fn grant(&mut self, to: Page, n: u64) {
        self.holder = Some((to, n));
        self.pending.push(Pending {
            due: self.now,
            stalled: false,
            kind: Kind::Grant { to, n },
        });
    }

    /// The lock is free: the next live request in line gets it.
    fn free(&mut self) {
        self.holder = None;
        while let Some((page, n)) = self.queue.pop_front() {
            if self.live(page) {
                self.grant(page, n);
                break;
            }
        }
    }

    fn thaw(&mut self, t: usize, timers_first: bool) -> R {
        if !self.tabs[t].alive || !self.tabs[t].frozen {
            return Ok(());
        }
        self.tabs[t].frozen = false;
        if timers_first {
            self.tabs[t].core.on_timeout(self.now);
            self.run(t)?;
        }
        let page = self.page(t);
        while let Some(heard) = self.tabs[t].asleep.pop_front() {
            self.hear(page, heard)?;
        }
        self.tabs[t].core.on_timeout(self.now);
        self.run(t)
    }

    /// The page in tab `t` goes: closed, or reloaded into a new coordinator.
    fn unload(&mut self, t: usize, keepalive: bool, reload: bool) -> R {
        if !self.tabs[t].alive {
            return Ok(());
        }
        let page = self.page(t);
        self.queue.retain(|&(p, _)| p != page);
        if self.holder.is_some_and(|(p, _)| p == page) {
            // A page that goes releases its lock at once, frozen or not.
            self.free();
        }
        if !keepalive {
            self.pending.retain(|p| {
                !matches!(
                    p.kind,
                    Kind::Refresh(Refresh {
                        to,
                        stage: Stage::ToServer,
                        ..
                    }) if to == page
                )
            });
        }
        if reload {
            let note = self.tabs[t].note;
            let load = self.tabs[t].load + 1;
            self.tabs[t] = Tab::new(t, load, self.stored.0, note, self.now);
            // A new page has not seen the end.
            self.everyone_knew = false;
            self.run(t)
        } else {
            self.tabs[t].alive = false;
            Ok(())
        }
    }

    /// Advances the clock to `target`, delivering whatever the network
    /// owes and firing every timer in the order they come due.
    fn advance_to(&mut self, target: Instant) -> R {
        for _ in 0..100_000 {
            let due = (0..self.pending.len())
                .filter(|&i| !self.pending[i].stalled)
                .min_by_key(|&i| self.pending[i].due)
                .map(|i| (self.pending[i].due, i));
            let timer = self
                .tabs
                .iter()
                .filter(|t| t.awake())
                .filter_map(|t| t.core.poll_timeout())
                .min();
            match (due, timer) {
                (Some((at, i)), timer) if at <= target && timer.is_none_or(|tm| at <= tm) => {
                    self.now = self.now.max(at);
                    self.step(i, How::Normal)?;
                    self.check()?;
                }
                (_, Some(at)) if at <= target => {
                    self.now = self.now.max(at);
                    self.fire_timers()?;
                    self.check()?;
                }
                _ => {
                    self.now = self.now.max(target);
                    return self.fire_timers();
                }
            }
        }
        prop_assert!(false, "a timer that keeps coming due at {:?}", self.now);
        Ok(())
    }

    fn fire_timers(&mut self) -> R {
        for t in 0..self.tabs.len() {
            if self.tabs[t].awake() {
                self.tabs[t].core.on_timeout(self.now);
                self.run(t)?;
            }
        }
        Ok(())
    }

    /// Thaws every tab, lets every stalled refresh go on, then delivers
    /// everything and ticks to the next timer until nothing is left. After a
    /// revocation every tab then asks once more, and must find the end.
    fn drain(&mut self) -> R {
        for pending in &mut self.pending {
            pending.stalled = false;
        }
        for t in 0..self.tabs.len() {
            self.thaw(t, false)?;
        }
        self.quiesce()?;
        if !self.revoked {
            return Ok(());
        }
        let mut last = Vec::new();
        for t in 0..self.tabs.len() {
            if self.tabs[t].alive {
                self.apply(Op::Issue {
                    tab: t,
                    replayable: true,
                })?;
                last.push((t, *self.tabs[t].issued.last().unwrap()));
            }
        }
        self.quiesce()?;
        for (t, id) in last {
            let tab = &self.tabs[t];
            prop_assert_eq!(
                tab.core.session(),
                Session::Ended,
                "tab {}: the family is revoked and it does not know",
                t
            );
            prop_assert_eq!(tab.expired_notices, 1, "tab {}: never told", t);
            prop_assert!(
                tab.expired.contains(&id),
                "tab {}: its last request did not fail as expired",
                t
            );
        }
        Ok(())
    }

    fn quiesce(&mut self) -> R {
        for _ in 0..DRAIN_ROUNDS {
            for _ in 0..10_000 {
                let Some(i) = (0..self.pending.len()).min_by_key(|&i| self.pending[i].due) else {
                    break;
                };
                self.step(i, How::Normal)?;
                self.check()?;
            }
            let timer = self
                .tabs
                .iter()
                .filter(|t| t.alive)
                .filter_map(|t| t.core.poll_timeout())
                .min();
            match timer {
                Some(at) => self.advance_to(at.max(self.now))?,
                None => break,
            }
        }
        prop_assert!(self.pending.is_empty(), "the network still owes something");
        for (t, tab) in self.tabs.iter().enumerate() {
            if !tab.alive {
                continue;
            }
            prop_assert_eq!(tab.core.tracked(), 0, "tab {}: requests left pending", t);
            prop_assert!(tab.core.poll_timeout().is_none(), "tab {}: a timer left", t);
            for id in &tab.issued {
                prop_assert_eq!(
                    tab.settled.get(id).copied(),
                    Some(1),
                    "tab {}: {:?} not settled once",
                    t,
                    id
                );
            }
        }
        Ok(())
    }
}

/// One tab of a shared browser, in cookie mode, holding the lock with a
/// refresh on the wire for a request that got 401; `replayable` is that
/// request's body.
fn refreshing_under_the_lock(replayable: bool) -> (Host, RequestId) {
    let mut host = Host::new();
    host.core.confirm_refusals_for(REFUSAL_WINDOW);
    host.core.share_across_tabs(0);
    let id = host.issue_body(replayable);
    host.answer(id, Answer::Unauthorized);
    assert!(host.browser.contains(&Action::AcquireLock));
    host.core.lock_granted(host.now, 0, SharedSession::Active);
    host.drain();
    assert_eq!(host.refreshes.len(), 1);
    host.browser.clear();
    (host, id)
}

fn stored_an_end(host: &Host) -> bool {
    host.browser.iter().any(|a| {
        matches!(
            a,
            Action::Persist {
                session: SharedSession::Ended,
                ..
            }
        )
    })
}

/// Found by the model: a page closed (or reloaded) mid-refresh had rotated
/// the token, its keepalive answer landing the new cookie in the jar a
/// moment later; the tab granted the lock next refreshed with the token
/// that rotation replaced, and was refused. Its one 401 had a body that
/// cannot be sent twice, so nobody waits, and without a waiter the core
/// takes the refusal as confirmed: it stores the end, and every tab logs
/// out though the jar holds a working cookie.
#[test]
fn a_lost_race_with_nobody_waiting_does_not_end_the_session() {
    let (mut host, id) = refreshing_under_the_lock(false);
    assert_eq!(
        host.outcome(id),
        Some(Settled::Failed(Failure::ReplayNotPossible))
    );
    host.refresh_ends(REFUSED);
    assert_eq!(host.core.session(), Session::Active, "a lost race");
    assert_eq!(host.session_expired_notices(), 0);
    assert!(!stored_an_end(&host), "no tab is told the session ended");
}

/// Found by the model: the holder's refresh is on the wire when another tab
/// (its lock wait timed out) probes, finds the jar's cookie working (a
/// rotation nobody published: its sender lost the answer and had nobody to
/// probe with, or was closed) and publishes a new generation. The holder
/// adopts it and releases the lock at once, its refresh still out: the next
/// tab granted the lock refreshes too, with the token that refresh is
/// rotating, and one of the two is refused by the blacklist.
#[test]
fn a_holder_that_adopts_keeps_the_lock_while_its_refresh_is_out() {
    let (mut host, id) = refreshing_under_the_lock(true);
    host.core.shared_state(1, SharedSession::Active);
    host.drain();
    assert_eq!(
        host.sends_of(id),
        vec![(false, false), (true, false)],
        "the waiter goes with the browser's credential"
    );
    assert!(
        !host.browser.contains(&Action::ReleaseLock),
        "released with its refresh on the wire"
    );
    host.refresh_ends(ROTATED);
    assert!(
        host.browser.contains(&Action::ReleaseLock),
        "released once the refresh is over"
    );
}

/// The model's own case of the bug above, in a browser whose tabs all stay
/// alive and awake. Tab 2's refresh (for a 401 whose body cannot be sent
/// twice: nobody waits) rotates the token, its answer never comes, and at
/// its deadline tab 2 gives up without a probe and publishes nothing. Tabs 0
/// and 1 waited that long for the lock: tab 0 is granted it and refreshes
/// again, with the jar's new cookie; tab 1's lock-wait probe finds that
/// cookie working and publishes it; tab 0 adopts it and lets go of the
/// lock with its refresh still out; tab 1's next 401 is granted the lock
/// and refreshes with the token tab 0's refresh is rotating.
#[test]
fn in_a_calm_browser_no_refresh_goes_out_beside_another() {
    use How::{Normal, Silent};
    let deliver = |pick, how| Op::Deliver { pick, how };
    let issue = |tab, replayable| Op::Issue { tab, replayable };
    let ops = vec![
        issue(2, false),
        deliver(0, Normal),
        deliver(0, Normal),
        issue(0, true),
        deliver(0, Normal),
        issue(1, false),
        deliver(0, Normal),
        deliver(1, Normal),
        deliver(0, Silent),
        issue(1, false),
        issue(1, false),
    ];
    if let Err(broken) = replay(3, Variant::Calm, ops) {
        panic!("{broken}");
    }
}

/// Found by the model: the refresh lost a race (another page's rotation
/// beat it; that cookie lands a moment later) and the refusal is being
/// confirmed. The probe goes out with the cookie the jar holds before the
/// winner's lands; then the tab is frozen, longer than the refusal window.
/// On thaw the probe's 401 is heard and ends the session at once, in every
/// tab, though no probe was ever sent with the cookie the jar holds now.
/// (Frozen for less, the same happens at the window's end: its last check
/// ends the session without a probe.)
#[test]
fn a_refusal_confirmed_across_a_freeze_is_probed_again_after_it() {
    let (mut host, id) = refreshing_under_the_lock(true);
    host.refresh_ends(REFUSED);
    assert_eq!(host.sends_of(id).last(), Some(&(true, true)), "probed");
    // Frozen: no timer fires, nothing is heard; the clock goes on.
    host.now = host.now.after(REFUSAL_WINDOW.saturating_mul(2));
    host.answer(id, Answer::Unauthorized);
    assert_eq!(host.core.session(), Session::Active, "not on old evidence");
    assert!(!stored_an_end(&host));
    let probes = host
        .sends_of(id)
        .iter()
        .filter(|&&(_, probe)| probe)
        .count();
    assert_eq!(
        probes, 2,
        "probed again, with the cookie the jar holds after the freeze"
    );
    host.answer(id, Answer::Other);
    assert_eq!(host.outcome(id), Some(Settled::Delivered));
    assert_eq!(host.core.session(), Session::Active);
}

/// Runs a regression script: known bugs fail it.
fn replay(tabs: usize, variant: Variant, ops: Vec<Op>) -> R {
    let mut world = World::new(tabs, variant);
    for op in ops {
        world.apply(op)?;
    }
    world.drain()
}

fn run(tabs: usize, ops: Vec<Op>, variant: Variant) -> R {
    let mut world = World::new(tabs, variant);
    for op in ops {
        world.apply(op)?;
    }
    world.drain()
}

proptest! {
    #![proptest_config(ProptestConfig {
        cases: 256,
        failure_persistence: None,
        ..ProptestConfig::default()
    })]

    #[test]
    fn tabs_that_stay_awake_never_race_at_the_server(
        tabs in 2usize..=4,
        ops in proptest::collection::vec(op(Variant::Calm), 1..60),
    ) {
        run(tabs, ops, Variant::Calm)?;
    }

    #[test]
    fn reloaded_closed_and_frozen_tabs_never_end_the_session(
        tabs in 2usize..=4,
        ops in proptest::collection::vec(op(Variant::Chaos), 1..60),
    ) {
        run(tabs, ops, Variant::Chaos)?;
    }

    #[test]
    fn a_revoked_family_ends_every_tab_once_and_refreshes_no_more(
        tabs in 2usize..=4,
        ops in proptest::collection::vec(op(Variant::Revoke), 1..60),
    ) {
        run(tabs, ops, Variant::Revoke)?;
    }
}

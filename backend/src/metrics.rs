//! Counters for `GET /metrics`, in the Prometheus text format.
//!
//! Every count is an atomic bumped exactly once per event, so tests can
//! assert exact numbers (how many refreshes a burst of 401s caused).

use std::fmt::Write as _;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

/// How a request to either refresh endpoint ended. Each request counts once,
/// in `refresh_requests_total{outcome="..."}`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum RefreshOutcome {
    /// 200: new access token (and a new refresh token when rotating).
    Success,
    /// 200 within the grace window: the same successor as before.
    GraceReuse,
    /// 401 "Token is blacklisted".
    Blacklisted,
    /// 401 "Token is blacklisted", and the token's family was revoked.
    ReuseDetected,
    /// 401 "Token is expired".
    Expired,
    /// 401 "Token is invalid": format, signature, algorithm, claim types.
    Invalid,
    /// 401 "Token has wrong type" or "Token has no type".
    WrongType,
    /// 401 for a missing `exp`, `jti` or user id claim.
    MissingClaim,
    /// 400 "This field is required." or 401 "No valid refresh token found.".
    Missing,
    /// 400, 413 or 415 for a body that is not a usable request.
    BadRequest,
    /// 401 "No active account found for the given token.".
    NoUser,
    /// 401 "Token is expired" because `--session-max-lifetime` has passed.
    SessionExpired,
    /// 500 injected by `/api/_test/faults`.
    InjectedServerError,
    /// 429 injected by `/api/_test/faults`.
    InjectedThrottle,
    /// 500 from a storage or signing failure.
    ServerError,
}

impl RefreshOutcome {
    const ALL: [Self; 15] = [
        Self::Success,
        Self::GraceReuse,
        Self::Blacklisted,
        Self::ReuseDetected,
        Self::Expired,
        Self::Invalid,
        Self::WrongType,
        Self::MissingClaim,
        Self::Missing,
        Self::BadRequest,
        Self::NoUser,
        Self::SessionExpired,
        Self::InjectedServerError,
        Self::InjectedThrottle,
        Self::ServerError,
    ];

    /// The `outcome` label value.
    pub fn label(self) -> &'static str {
        match self {
            Self::Success => "success",
            Self::GraceReuse => "grace_reuse",
            Self::Blacklisted => "blacklisted",
            Self::ReuseDetected => "reuse_detected",
            Self::Expired => "expired",
            Self::Invalid => "invalid",
            Self::WrongType => "wrong_type",
            Self::MissingClaim => "missing_claim",
            Self::Missing => "missing",
            Self::BadRequest => "bad_request",
            Self::NoUser => "no_user",
            Self::SessionExpired => "session_expired",
            Self::InjectedServerError => "injected_500",
            Self::InjectedThrottle => "injected_429",
            Self::ServerError => "server_error",
        }
    }

    fn index(self) -> usize {
        Self::ALL.iter().position(|o| *o == self).unwrap_or(0)
    }
}

/// How a request to a protected endpoint ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum ProtectedOutcome {
    /// Authenticated and answered.
    Ok,
    /// 401 of any kind.
    Unauthorized,
    /// 400 or 413 after authentication (bad `delay_ms`, body too large).
    BadRequest,
}

impl ProtectedOutcome {
    const ALL: [Self; 3] = [Self::Ok, Self::Unauthorized, Self::BadRequest];

    fn label(self) -> &'static str {
        match self {
            Self::Ok => "ok",
            Self::Unauthorized => "unauthorized",
            Self::BadRequest => "bad_request",
        }
    }

    fn index(self) -> usize {
        Self::ALL.iter().position(|o| *o == self).unwrap_or(0)
    }
}

/// A fault the test hooks injected.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum InjectedFault {
    /// A refresh was held back by the armed delay.
    Delay,
    /// A refresh answered 500 without touching the token.
    ServerError,
    /// A refresh answered 429 without touching the token.
    Throttle,
    /// A rotation was committed and the connection closed before any byte.
    LostResponse,
    /// A rotation was committed and the body cut short after the headers.
    TruncatedBody,
}

impl InjectedFault {
    const ALL: [Self; 5] = [
        Self::Delay,
        Self::ServerError,
        Self::Throttle,
        Self::LostResponse,
        Self::TruncatedBody,
    ];

    fn label(self) -> &'static str {
        match self {
            Self::Delay => "delay",
            Self::ServerError => "server_error",
            Self::Throttle => "throttle",
            Self::LostResponse => "lost_response",
            Self::TruncatedBody => "truncated_body",
        }
    }

    fn index(self) -> usize {
        Self::ALL.iter().position(|o| *o == self).unwrap_or(0)
    }
}

/// Upper bounds of the refresh latency buckets, in microseconds.
const BUCKETS_US: [u64; 14] = [
    250, 500, 1_000, 2_500, 5_000, 10_000, 25_000, 50_000, 100_000, 250_000, 500_000, 1_000_000,
    2_500_000, 10_000_000,
];

/// The counters. One per backend, shared by every request.
#[derive(Debug, Default)]
pub struct Metrics {
    refresh: [AtomicU64; RefreshOutcome::ALL.len()],
    protected: [AtomicU64; ProtectedOutcome::ALL.len()],
    faults: [AtomicU64; InjectedFault::ALL.len()],
    token_rotations: AtomicU64,
    blacklist_hits: AtomicU64,
    grace_reuses: AtomicU64,
    reuse_detections: AtomicU64,
    logins: AtomicU64,
    login_failures: AtomicU64,
    logouts: AtomicU64,
    latency_buckets: [AtomicU64; BUCKETS_US.len()],
    latency_sum_us: AtomicU64,
    latency_count: AtomicU64,
}

fn bump(counters: &[AtomicU64], index: usize) {
    if let Some(counter) = counters.get(index) {
        counter.fetch_add(1, Ordering::Relaxed);
    }
}

fn read(counter: &AtomicU64) -> u64 {
    counter.load(Ordering::Relaxed)
}

impl Metrics {
    /// Counts one refresh request and its latency.
    pub fn refresh(&self, outcome: RefreshOutcome, elapsed: Duration) {
        bump(&self.refresh, outcome.index());
        match outcome {
            RefreshOutcome::GraceReuse => {
                self.grace_reuses.fetch_add(1, Ordering::Relaxed);
            }
            RefreshOutcome::ReuseDetected => {
                self.reuse_detections.fetch_add(1, Ordering::Relaxed);
                self.blacklist_hits.fetch_add(1, Ordering::Relaxed);
            }
            RefreshOutcome::Blacklisted => {
                self.blacklist_hits.fetch_add(1, Ordering::Relaxed);
            }
            _ => {}
        }
        let us = u64::try_from(elapsed.as_micros()).unwrap_or(u64::MAX);
        if let Some(i) = BUCKETS_US.iter().position(|bound| us <= *bound) {
            bump(&self.latency_buckets, i);
        }
        self.latency_sum_us.fetch_add(us, Ordering::Relaxed);
        self.latency_count.fetch_add(1, Ordering::Relaxed);
    }

    /// Counts a refresh that issued a new refresh token.
    pub fn rotation(&self) {
        self.token_rotations.fetch_add(1, Ordering::Relaxed);
    }

    /// Counts a blacklisted token refused outside the refresh endpoints
    /// (verify, blacklist, logout).
    pub fn blacklist_hit(&self) {
        self.blacklist_hits.fetch_add(1, Ordering::Relaxed);
    }

    /// Counts a login attempt on either login endpoint.
    pub fn login(&self, succeeded: bool) {
        let counter = if succeeded {
            &self.logins
        } else {
            &self.login_failures
        };
        counter.fetch_add(1, Ordering::Relaxed);
    }

    /// Counts a cookie-mode logout, whatever its answer.
    pub fn logout(&self) {
        self.logouts.fetch_add(1, Ordering::Relaxed);
    }

    /// Counts a request to a protected endpoint.
    pub fn protected(&self, outcome: ProtectedOutcome) {
        bump(&self.protected, outcome.index());
    }

    /// Counts an injected fault.
    pub fn fault(&self, fault: InjectedFault) {
        bump(&self.faults, fault.index());
    }

    /// The count for one refresh outcome.
    pub fn refresh_count(&self, outcome: RefreshOutcome) -> u64 {
        self.refresh.get(outcome.index()).map_or(0, read)
    }

    /// Everything, in the Prometheus text format (version 0.0.4).
    pub fn render(&self) -> String {
        let mut out = String::with_capacity(4096);
        header(
            &mut out,
            "refresh_requests_total",
            "Requests to either refresh endpoint, by outcome.",
            "counter",
        );
        for outcome in RefreshOutcome::ALL {
            let _ = writeln!(
                out,
                "refresh_requests_total{{outcome=\"{}\"}} {}",
                outcome.label(),
                self.refresh_count(outcome)
            );
        }
        let singles: [(&str, &str, &AtomicU64); 7] = [
            (
                "token_rotations_total",
                "Refreshes that issued a new refresh token.",
                &self.token_rotations,
            ),
            (
                "blacklist_hits_total",
                "Presented refresh tokens refused as blacklisted, on any endpoint.",
                &self.blacklist_hits,
            ),
            (
                "grace_reuses_total",
                "Refreshes answered with the same successor inside the rotation grace window.",
                &self.grace_reuses,
            ),
            (
                "reuse_detections_total",
                "Reuses of a rotated refresh token that revoked its family.",
                &self.reuse_detections,
            ),
            (
                "logins_total",
                "Successful logins on either login endpoint.",
                &self.logins,
            ),
            (
                "login_failures_total",
                "Refused logins on either login endpoint.",
                &self.login_failures,
            ),
            ("logouts_total", "Cookie-mode logouts.", &self.logouts),
        ];
        for (name, help, counter) in singles {
            header(&mut out, name, help, "counter");
            let _ = writeln!(out, "{name} {}", read(counter));
        }
        header(
            &mut out,
            "protected_requests_total",
            "Requests to protected endpoints, by outcome.",
            "counter",
        );
        for outcome in ProtectedOutcome::ALL {
            let n = self.protected.get(outcome.index()).map_or(0, read);
            let _ = writeln!(
                out,
                "protected_requests_total{{outcome=\"{}\"}} {n}",
                outcome.label()
            );
        }
        header(
            &mut out,
            "injected_faults_total",
            "Faults injected through /api/_test/faults, by kind.",
            "counter",
        );
        for fault in InjectedFault::ALL {
            let n = self.faults.get(fault.index()).map_or(0, read);
            let _ = writeln!(
                out,
                "injected_faults_total{{kind=\"{}\"}} {n}",
                fault.label()
            );
        }
        header(
            &mut out,
            "refresh_duration_seconds",
            "Time to answer a refresh request, injected delays included.",
            "histogram",
        );
        let mut cumulative = 0;
        for (bound, counter) in BUCKETS_US.iter().zip(&self.latency_buckets) {
            cumulative += read(counter);
            let _ = writeln!(
                out,
                "refresh_duration_seconds_bucket{{le=\"{}\"}} {cumulative}",
                *bound as f64 / 1_000_000.0
            );
        }
        let count = read(&self.latency_count);
        let _ = writeln!(
            out,
            "refresh_duration_seconds_bucket{{le=\"+Inf\"}} {count}"
        );
        let _ = writeln!(
            out,
            "refresh_duration_seconds_sum {}",
            read(&self.latency_sum_us) as f64 / 1_000_000.0
        );
        let _ = writeln!(out, "refresh_duration_seconds_count {count}");
        out
    }
}

fn header(out: &mut String, name: &str, help: &str, kind: &str) {
    let _ = writeln!(out, "# HELP {name} {help}");
    let _ = writeln!(out, "# TYPE {name} {kind}");
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn render_lists_every_series_with_exact_counts() {
        let m = Metrics::default();
        m.refresh(RefreshOutcome::Success, Duration::from_micros(300));
        m.refresh(RefreshOutcome::Blacklisted, Duration::from_secs(20));
        m.rotation();
        let text = m.render();
        assert!(text.contains("refresh_requests_total{outcome=\"success\"} 1\n"));
        assert!(text.contains("refresh_requests_total{outcome=\"grace_reuse\"} 0\n"));
        assert!(text.contains("blacklist_hits_total 1\n"));
        assert!(text.contains("token_rotations_total 1\n"));
        assert!(text.contains("refresh_duration_seconds_bucket{le=\"0.00025\"} 0\n"));
        assert!(text.contains("refresh_duration_seconds_bucket{le=\"0.0005\"} 1\n"));
        assert!(text.contains("refresh_duration_seconds_bucket{le=\"10\"} 1\n"));
        assert!(text.contains("refresh_duration_seconds_bucket{le=\"+Inf\"} 2\n"));
        assert!(text.contains("refresh_duration_seconds_count 2\n"));
    }
}

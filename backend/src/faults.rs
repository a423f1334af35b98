//! Fault injection for end-to-end tests, mounted only with `--test-hooks`:
//! the armed [`FaultPlan`], the per-connection [`ConnectionKill`] switch
//! that lets a handler close its own TCP connection, and the
//! [`TruncatedBody`] that sends headers and half a body before pulling it.

use std::convert::Infallible;
use std::pin::Pin;
use std::sync::{Arc, Mutex, MutexGuard};
use std::task::{Context, Poll};
use std::time::Duration;

use axum::body::Bytes;
use http_body::{Frame, SizeHint};
use serde::{Deserialize, Deserializer, Serialize};
use tokio::sync::Notify;

/// What `POST /api/_test/faults` arms. A POST replaces the whole plan;
/// fields left out are zero.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct FaultPlan {
    /// Every refresh waits this long first, until the plan is replaced or
    /// cleared.
    pub delay_ms: u64,
    /// Every successful refresh commits its rotation at once, then holds its
    /// answer this long, until the plan is replaced or cleared: the window
    /// in which a reload cuts the page off from a rotation that happened.
    pub delay_after_ms: u64,
    /// The next N refreshes answer 500 and leave the token alone.
    #[serde(deserialize_with = "count")]
    pub fail_500: u32,
    /// Then the next N refreshes answer 429 with `Retry-After`, and leave
    /// the token alone.
    #[serde(deserialize_with = "count")]
    pub fail_429: u32,
    /// The `Retry-After` seconds of those 429s (1 when left out).
    pub retry_after: u64,
    /// The next N *successful* refreshes commit, then close the connection
    /// without sending a byte.
    #[serde(deserialize_with = "count")]
    pub lost_response: u32,
    /// The next N successful refreshes commit, send the status, headers
    /// (cookies included) and half the body, then close the connection.
    #[serde(deserialize_with = "count")]
    pub truncated_body: u32,
    /// Every protected request answers 401 `token_not_valid`, whatever its
    /// access token, until the plan is replaced or cleared: a server that
    /// refuses even what it just issued (the client must not loop).
    pub refuse_access: bool,
}

impl Default for FaultPlan {
    fn default() -> Self {
        Self {
            delay_ms: 0,
            delay_after_ms: 0,
            fail_500: 0,
            fail_429: 0,
            retry_after: 1,
            lost_response: 0,
            truncated_body: 0,
            refuse_access: false,
        }
    }
}

/// A count given as a number, or `true` for 1 and `false` for 0.
fn count<'de, D: Deserializer<'de>>(d: D) -> Result<u32, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum Count {
        Flag(bool),
        N(u32),
    }
    Ok(match Count::deserialize(d)? {
        Count::Flag(on) => u32::from(on),
        Count::N(n) => n,
    })
}

/// A fault that answers before the token is touched.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EarlyFault {
    /// Answer 500.
    ServerError,
    /// Answer 429 with this `Retry-After`.
    Throttle {
        /// Seconds.
        retry_after: u64,
    },
}

/// A fault applied after a rotation is committed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LateFault {
    /// Close the connection before the response.
    LostResponse,
    /// Close the connection halfway through the body.
    TruncatedBody,
}

/// The armed plan, shared by every request.
#[derive(Debug, Default)]
pub struct Faults {
    plan: Mutex<FaultPlan>,
}

impl Faults {
    fn plan(&self) -> MutexGuard<'_, FaultPlan> {
        // The plan is plain data; a panic elsewhere cannot leave it torn.
        self.plan.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Replaces the plan.
    pub fn arm(&self, mut plan: FaultPlan) {
        if plan.retry_after == 0 {
            plan.retry_after = 1;
        }
        *self.plan() = plan;
    }

    /// What is armed now.
    pub fn show(&self) -> FaultPlan {
        self.plan().clone()
    }

    /// Disarms everything.
    pub fn clear(&self) {
        *self.plan() = FaultPlan::default();
    }

    /// The delay for this refresh, when one is armed.
    pub fn delay(&self) -> Option<Duration> {
        let ms = self.plan().delay_ms;
        (ms > 0).then(|| Duration::from_millis(ms))
    }

    /// How long a committed rotation's answer is held, when armed.
    pub fn delay_after(&self) -> Option<Duration> {
        let ms = self.plan().delay_after_ms;
        (ms > 0).then(|| Duration::from_millis(ms))
    }

    /// Whether protected requests are refused whatever their token.
    pub fn refuses_access(&self) -> bool {
        self.plan().refuse_access
    }

    /// Takes the next 500 or 429, in that order.
    pub fn take_early(&self) -> Option<EarlyFault> {
        let mut plan = self.plan();
        if plan.fail_500 > 0 {
            plan.fail_500 -= 1;
            return Some(EarlyFault::ServerError);
        }
        if plan.fail_429 > 0 {
            plan.fail_429 -= 1;
            return Some(EarlyFault::Throttle {
                retry_after: plan.retry_after.max(1),
            });
        }
        None
    }

    /// Takes the next lost response or truncated body, in that order. Only
    /// called after a successful refresh, so a failed one does not use it up.
    pub fn take_late(&self) -> Option<LateFault> {
        let mut plan = self.plan();
        if plan.lost_response > 0 {
            plan.lost_response -= 1;
            return Some(LateFault::LostResponse);
        }
        if plan.truncated_body > 0 {
            plan.truncated_body -= 1;
            return Some(LateFault::TruncatedBody);
        }
        None
    }
}

/// Closes the TCP connection a request came in on.
///
/// The accept loop puts one in each request's extensions and drops the
/// connection (without writing anything more) as soon as it fires. Requests
/// that did not come through the accept loop (`oneshot` tests) have none.
#[derive(Debug, Clone, Default)]
pub struct ConnectionKill {
    fired: Arc<Notify>,
}

impl ConnectionKill {
    /// Asks the accept loop to drop the connection.
    pub fn fire(&self) {
        // notify_one keeps a permit if the loop is not waiting yet.
        self.fired.notify_one();
    }

    /// Resolves once [`ConnectionKill::fire`] was called.
    pub async fn fired(&self) {
        self.fired.notified().await;
    }
}

/// A body that yields its first half, then fires the connection's kill
/// switch and never ends. Its size hint is the full length, so the
/// `Content-Length` sent promises bytes that never come.
#[derive(Debug)]
pub struct TruncatedBody {
    first_half: Option<Bytes>,
    full_length: u64,
    kill: ConnectionKill,
}

impl TruncatedBody {
    /// Cuts `full` after half its bytes.
    pub fn new(full: Bytes, kill: ConnectionKill) -> Self {
        let full_length = full.len() as u64;
        let first_half = full.slice(..full.len() / 2);
        Self {
            first_half: Some(first_half),
            full_length,
            kill,
        }
    }
}

impl http_body::Body for TruncatedBody {
    type Data = Bytes;
    type Error = Infallible;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        _cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, Infallible>>> {
        if let Some(first) = self.first_half.take() {
            return Poll::Ready(Some(Ok(Frame::data(first))));
        }
        // Hyper flushes what it has written before waiting on us again; the
        // accept loop then drops the connection mid-body. No waker is kept:
        // nothing will ever complete this body.
        self.kill.fire();
        Poll::Pending
    }

    fn is_end_stream(&self) -> bool {
        false
    }

    fn size_hint(&self) -> SizeHint {
        SizeHint::with_exact(self.full_length)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_are_used_up_in_order() {
        let faults = Faults::default();
        let plan: FaultPlan =
            serde_json::from_str(r#"{"fail_500": 1, "fail_429": true, "lost_response": 1}"#)
                .unwrap();
        faults.arm(plan);
        assert_eq!(faults.take_early(), Some(EarlyFault::ServerError));
        assert_eq!(
            faults.take_early(),
            Some(EarlyFault::Throttle { retry_after: 1 })
        );
        assert_eq!(faults.take_early(), None);
        assert_eq!(faults.take_late(), Some(LateFault::LostResponse));
        assert_eq!(faults.take_late(), None);
        assert_eq!(faults.delay(), None);
    }

    #[test]
    fn unknown_fields_are_refused() {
        assert!(serde_json::from_str::<FaultPlan>(r#"{"fail_501": 1}"#).is_err());
    }
}

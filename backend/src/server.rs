//! The accept loop: HTTP/1.1 connections served by hyper, each with a
//! [`ConnectionKill`] in its requests' extensions so the fault hooks can cut
//! a connection from inside a handler.
//!
//! A client that stalls must not hold a connection (and its file
//! descriptor) for ever: the head of every request, and the wait for the
//! next one on a kept-alive connection, is bounded by
//! [`ConnectionLimits::header_timeout`], bodies and handling by the layers
//! of [`crate::app`], and the number of open connections by
//! [`ConnectionLimits::max_connections`].

use std::future::Future;
use std::io;
use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::Router;
use hyper::body::Incoming;
use hyper::server::conn::http1;
use hyper::Request;
use hyper_util::rt::{TokioIo, TokioTimer};
use tokio::net::TcpListener;
use tokio::sync::{OwnedSemaphorePermit, Semaphore};
use tower_service::Service;

use crate::faults::ConnectionKill;

/// What one server lets its clients hold.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ConnectionLimits {
    /// Connections open at once; further clients wait in the listen backlog
    /// until one closes. Keep it below the descriptor limit (`ulimit -n`).
    /// Defaults to 512.
    pub max_connections: usize,
    /// The longest wait for a request's head, and for the next request on
    /// an idle kept-alive connection. Defaults to 30 s.
    pub header_timeout: Duration,
}

impl Default for ConnectionLimits {
    fn default() -> Self {
        Self {
            max_connections: 512,
            header_timeout: Duration::from_secs(30),
        }
    }
}

/// Serves `router` on `listener` within `limits` until `shutdown` resolves.
///
/// # Errors
/// Never on a bad connection (those are dropped one by one), nor when
/// accepting fails for lack of descriptors or memory (the loop backs off and
/// retries); only when the listener itself is unusable.
pub async fn serve(
    listener: TcpListener,
    router: Router,
    limits: ConnectionLimits,
    shutdown: impl Future<Output = ()>,
) -> io::Result<()> {
    tokio::pin!(shutdown);
    let open = Arc::new(Semaphore::new(limits.max_connections.max(1)));
    let mut backoff = AcceptBackoff::default();
    loop {
        // Waiting here, rather than accepting and closing, leaves the
        // clients over the limit queued in the kernel until a slot frees.
        let permit = tokio::select! {
            permit = Arc::clone(&open).acquire_owned() => match permit {
                Ok(permit) => permit,
                Err(_closed) => return Ok(()),
            },
            () = &mut shutdown => return Ok(()),
        };
        let stream = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok((stream, _peer)) => stream,
                Err(e) if is_per_connection(&e) => continue,
                Err(e) => {
                    backoff.failed(&e).await;
                    continue;
                }
            },
            () = &mut shutdown => return Ok(()),
        };
        backoff.succeeded();
        // Small request/response pairs: do not let Nagle hold them back.
        let _ = stream.set_nodelay(true);
        tokio::spawn(serve_connection(stream, router.clone(), limits, permit));
    }
}

fn is_per_connection(e: &io::Error) -> bool {
    matches!(
        e.kind(),
        io::ErrorKind::ConnectionAborted
            | io::ErrorKind::ConnectionReset
            | io::ErrorKind::Interrupted
    )
}

/// The pause after a failed accept (out of descriptors, out of memory):
/// doubling from 10 ms up to 1 s while the failures last, so a full
/// descriptor table is not spun on, and one line in the log per
/// [`AcceptBackoff::REPORT_EVERY`] at most, so it is not flooded either.
#[derive(Debug)]
struct AcceptBackoff {
    /// The next pause.
    delay: Duration,
    /// When the last failure was logged.
    reported: Option<Instant>,
    /// Failures since then, not logged.
    unreported: u64,
}

impl Default for AcceptBackoff {
    fn default() -> Self {
        Self {
            delay: Self::FIRST,
            reported: None,
            unreported: 0,
        }
    }
}

impl AcceptBackoff {
    const FIRST: Duration = Duration::from_millis(10);
    const LONGEST: Duration = Duration::from_secs(1);
    const REPORT_EVERY: Duration = Duration::from_secs(10);

    /// Logs the failure unless one was logged lately, then waits.
    async fn failed(&mut self, e: &io::Error) {
        let now = Instant::now();
        if self
            .reported
            .is_none_or(|at| now.duration_since(at) >= Self::REPORT_EVERY)
        {
            let unreported = match self.unreported {
                0 => String::new(),
                n => format!(" ({n} more failures since the last report)"),
            };
            eprintln!("refresh-backend: accept failed: {e}{unreported}; backing off up to 1 s");
            self.reported = Some(now);
            self.unreported = 0;
        } else {
            self.unreported = self.unreported.saturating_add(1);
        }
        tokio::time::sleep(self.delay).await;
        self.delay = (self.delay * 2).min(Self::LONGEST);
    }

    /// Ends a run of failures; the report interval carries over, so runs
    /// that alternate with single accepts are not each logged.
    fn succeeded(&mut self) {
        self.delay = Self::FIRST;
    }
}

async fn serve_connection(
    stream: tokio::net::TcpStream,
    router: Router,
    limits: ConnectionLimits,
    _slot: OwnedSemaphorePermit,
) {
    let kill = ConnectionKill::default();
    let kill_for_requests = kill.clone();
    let service = hyper::service::service_fn(move |mut request: Request<Incoming>| {
        request.extensions_mut().insert(kill_for_requests.clone());
        let mut router = router.clone();
        async move { router.call(request).await }
    });
    let mut builder = http1::Builder::new();
    builder
        .timer(TokioTimer::new())
        .header_read_timeout(limits.header_timeout);
    let connection = builder.serve_connection(TokioIo::new(stream), service);
    tokio::pin!(connection);
    tokio::select! {
        // Client errors (bad requests, resets) end only their connection.
        _ = connection.as_mut() => {}
        // Dropping the connection closes the socket without writing
        // anything that hyper has not flushed yet.
        () = kill.fired() => {}
    }
}

//! The accept loop: HTTP/1.1 connections served by hyper, each with a
//! [`ConnectionKill`] in its requests' extensions so the fault hooks can cut
//! a connection from inside a handler.

use std::future::Future;
use std::io;
use std::time::Duration;

use axum::Router;
use hyper::body::Incoming;
use hyper::server::conn::http1;
use hyper::Request;
use hyper_util::rt::{TokioIo, TokioTimer};
use tokio::net::TcpListener;
use tower_service::Service;

use crate::faults::ConnectionKill;

/// Serves `router` on `listener` until `shutdown` resolves.
///
/// # Errors
/// Never on a bad connection (those are dropped one by one); only when the
/// listener itself is unusable.
pub async fn serve(
    listener: TcpListener,
    router: Router,
    shutdown: impl Future<Output = ()>,
) -> io::Result<()> {
    tokio::pin!(shutdown);
    loop {
        let stream = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok((stream, _peer)) => stream,
                Err(e) if is_per_connection(&e) => continue,
                Err(e) => {
                    // Out of file descriptors and the like: back off a little
                    // instead of spinning, and keep serving.
                    eprintln!("refresh-backend: accept failed: {e}");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            },
            () = &mut shutdown => return Ok(()),
        };
        // Small request/response pairs: do not let Nagle hold them back.
        let _ = stream.set_nodelay(true);
        tokio::spawn(serve_connection(stream, router.clone()));
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

async fn serve_connection(stream: tokio::net::TcpStream, router: Router) {
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
        .header_read_timeout(Duration::from_secs(30));
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

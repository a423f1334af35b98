//! Issue 12's audit: a client that stalls must not hold a connection for
//! ever. Bodies that stop, bodies that never end, heads that never end and
//! idle connections are all closed in bounded time, the number of
//! connections is capped, and the server keeps answering.

// Test code: a failed unwrap or index is a failed test, which is what we want
// (.clippy.toml allows these in #[test] fns but not in their helpers).
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

mod common;

use std::time::Duration;

use axum::body::Body;
use axum::http::{Method, Request, StatusCode};
use common::http::{read_response, scrape_metrics, Received, SHORT_BODY};
use common::*;
use refresh_backend::{app, serve, ConnectionLimits};
use serde_json::json;
use tokio::io::AsyncWriteExt;
use tokio::net::TcpStream;

/// How a stalled client stops.
#[derive(Debug, Clone, Copy)]
enum Stall {
    /// `Content-Length: 100`, 4 bytes sent, then nothing.
    ShortBody,
    /// A chunked body whose last chunk never comes.
    EndlessChunks,
    /// Half a request head.
    HalfHead,
    /// Connected, nothing sent.
    Idle,
}

impl Stall {
    const ALL: [Self; 4] = [
        Self::ShortBody,
        Self::EndlessChunks,
        Self::HalfHead,
        Self::Idle,
    ];

    fn bytes(self) -> &'static [u8] {
        match self {
            Self::ShortBody => SHORT_BODY,
            Self::EndlessChunks => {
                b"POST /api/token/refresh/ HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n4\r\n{\"re\r\n"
            }
            Self::HalfHead => b"GET /metrics HTTP/1.1\r\nHost: 127.0.0.1\r\nAcc",
            Self::Idle => b"",
        }
    }

    /// Whether the server reads a body, and so answers 408 before closing.
    fn has_body(self) -> bool {
        matches!(self, Self::ShortBody | Self::EndlessChunks)
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stalled_clients_are_closed_and_metrics_still_answers() {
    let (config, ..) = config_with(|c| c.body_timeout = Duration::from_millis(200));
    let limits = ConnectionLimits {
        max_connections: 8,
        header_timeout: Duration::from_millis(300),
    };
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(serve(listener, app(config), limits, std::future::pending()));

    // Five times the connection cap, every kind of stall.
    let mut stalled = Vec::new();
    for i in 0..40 {
        let stall = Stall::ALL[i % Stall::ALL.len()];
        let mut stream = TcpStream::connect(addr).await.unwrap();
        stream.write_all(stall.bytes()).await.unwrap();
        stalled.push((stall, stream));
    }

    // Queued behind all of them, a scrape still gets its answer.
    let metrics = scrape_metrics(addr).await.unwrap();
    assert_eq!(metrics.status, 200);

    // Each stalled connection was answered (bodies) or closed (heads).
    for (stall, mut stream) in stalled {
        let mut buffer = Vec::new();
        let received = read_response(&mut stream, &mut buffer).await.unwrap();
        match received {
            Received::Response(response) if stall.has_body() => {
                assert_eq!(response.status, 408, "{stall:?}");
                assert_eq!(
                    response.json(),
                    json!({"detail": "Request body was not received in time."})
                );
                let mut rest = Vec::new();
                let after = read_response(&mut stream, &mut rest).await.unwrap();
                assert!(matches!(after, Received::ClosedEmpty), "{stall:?}");
            }
            Received::ClosedEmpty if !stall.has_body() => {}
            other => panic!("{stall:?}: {other:?}"),
        }
    }
    let text = String::from_utf8(metrics.body).unwrap();
    assert_eq!(
        metric(&text, "refresh_requests_total{outcome=\"success\"}"),
        0
    );
}

/// A request body whose next piece never comes.
struct StalledBody;

impl http_body::Body for StalledBody {
    type Data = axum::body::Bytes;
    type Error = std::convert::Infallible;

    fn poll_frame(
        self: std::pin::Pin<&mut Self>,
        _cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Option<Result<http_body::Frame<Self::Data>, Self::Error>>> {
        std::task::Poll::Pending
    }
}

/// The body timeout, on the clock alone: a paused runtime jumps to it.
#[tokio::test(start_paused = true)]
async fn a_body_that_stalls_is_408_after_the_body_timeout() {
    let app = test_app(|c| c.body_timeout = Duration::from_secs(3));
    let started = tokio::time::Instant::now();
    for path in ["/api/token/refresh/", "/api/auth/login/"] {
        let request = Request::builder()
            .method(Method::POST)
            .uri(path)
            .header("content-type", "application/json")
            .body(Body::new(StalledBody))
            .unwrap();
        let reply = app.send(request).await;
        assert_eq!(reply.status, StatusCode::REQUEST_TIMEOUT, "{path}");
        assert_eq!(
            reply.json(),
            json!({"detail": "Request body was not received in time."})
        );
    }
    assert_eq!(started.elapsed(), Duration::from_secs(6));
    assert_eq!(
        metric(
            &app.metrics().await,
            "refresh_requests_total{outcome=\"bad_request\"}"
        ),
        1
    );
}

/// The request timeout bounds the whole answer, delays included.
#[tokio::test(start_paused = true)]
async fn a_request_that_outlives_the_request_timeout_is_408() {
    let app = test_app(|c| c.request_timeout = Duration::from_secs(2));
    let started = tokio::time::Instant::now();
    let reply = app
        .call(
            Method::GET,
            "/api/data/1/?delay_ms=5000",
            &[],
            Body::empty(),
        )
        .await;
    assert_eq!(reply.status, StatusCode::REQUEST_TIMEOUT);
    assert_eq!(started.elapsed(), Duration::from_secs(2));
}

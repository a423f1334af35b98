//! The `refresh-backend` binary itself: the "listening on" line test
//! harnesses read, `--help`, startup refusals, and `flush-expired-tokens`.

// Test code: a failed unwrap or index is a failed test, which is what we want
// (.clippy.toml allows these in #[test] fns but not in their helpers).
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

mod common;

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::Duration;

use common::http::{request, scrape_metrics, Connection, SHORT_BODY};
use common::*;
use refresh_backend::store::{OAuthIssue, OutstandingToken};
use refresh_backend::{SqliteStore, Timestamp, TokenStore};
use serde_json::json;

const BIN: &str = env!("CARGO_BIN_EXE_refresh-backend");

/// Kills the child when the test ends, however it ends.
struct Server(Child);

impl Server {
    /// Stops the server and returns what it wrote to stderr.
    fn stop(mut self) -> String {
        let _ = self.0.kill();
        let _ = self.0.wait();
        let mut stderr = String::new();
        if let Some(mut pipe) = self.0.stderr.take() {
            let _ = std::io::Read::read_to_string(&mut pipe, &mut stderr);
        }
        stderr
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Starts the binary and reads the port from its first stdout line.
fn start(args: &[&str]) -> (Server, std::net::SocketAddr) {
    let mut command = Command::new(BIN);
    command.args(args);
    start_command(command)
}

/// Runs `command` (the binary, perhaps under a shell) and reads the port.
fn start_command(mut command: Command) -> (Server, std::net::SocketAddr) {
    let mut child = command
        // Django's million PBKDF2 rounds per --user take seconds unoptimised.
        .env("REFRESH_BACKEND_PASSWORD_ITERATIONS", "2")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let stdout = child.stdout.take().unwrap();
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        let mut line = String::new();
        let _ = BufReader::new(stdout).read_line(&mut line);
        let _ = tx.send(line);
    });
    let server = Server(child);
    let line = rx
        .recv_timeout(Duration::from_secs(30))
        .expect("no listening line");
    let addr = line
        .trim()
        .strip_prefix("listening on http://")
        .unwrap_or_else(|| panic!("unexpected first line {line:?}"));
    assert!(addr.starts_with("127.0.0.1:"), "{addr}");
    (server, addr.parse().unwrap())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn binary_prints_its_port_and_serves() {
    let (server, addr) = start(&[
        "--addr",
        "127.0.0.1:0",
        "--db",
        ":memory:",
        "--user",
        "alice:wonderland",
        "--rotate-refresh-tokens",
        "--blacklist-after-rotation",
        "--rotation-grace",
        "5s",
    ]);
    assert_ne!(addr.port(), 0);
    let mut conn = Connection::open(addr).await.unwrap();
    let body = json!({"username": USER, "password": PASSWORD}).to_string();
    let login = conn
        .exchange(&request(
            "POST",
            "/api/token/",
            &[("Content-Type", "application/json")],
            body.as_bytes(),
        ))
        .await
        .unwrap();
    assert_eq!(login.status, 200);
    let refresh = login.json()["refresh"].as_str().unwrap().to_owned();
    let body = json!({"refresh": refresh}).to_string();
    for _ in 0..2 {
        let reply = conn
            .exchange(&request(
                "POST",
                "/api/token/refresh/",
                &[("Content-Type", "application/json")],
                body.as_bytes(),
            ))
            .await
            .unwrap();
        assert_eq!(reply.status, 200, "the second is a grace reuse");
    }
    let metrics = conn
        .exchange(&request("GET", "/metrics", &[], b""))
        .await
        .unwrap();
    let text = String::from_utf8(metrics.body).unwrap();
    assert_eq!(metric(&text, "grace_reuses_total"), 1);
    // The random development key is announced, never shown.
    let stderr = server.stop();
    assert!(stderr.contains("no --signing-key given"), "{stderr}");
    let longest_hex_run = stderr
        .split(|c: char| !c.is_ascii_hexdigit())
        .map(str::len)
        .max()
        .unwrap_or(0);
    assert!(longest_hex_run < 16, "{stderr}");
}

/// Issue 12's audit as it was found: with 60 stalled request bodies under
/// a 64-descriptor limit `/metrics` stopped answering and stderr logged
/// `accept failed: Too many open files` every 50 ms.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sixty_stalled_bodies_under_64_descriptors_leave_metrics_answering() {
    let mut command = Command::new("sh");
    command.args([
        "-c",
        "ulimit -n 64 && exec \"$0\" \"$@\"",
        BIN,
        "--addr",
        "127.0.0.1:0",
        "--db",
        ":memory:",
        "--body-timeout",
        "300ms",
        "--header-timeout",
        "300ms",
    ]);
    let (server, addr) = start_command(command);
    let mut stalled = Vec::new();
    for _ in 0..60 {
        let mut connection = Connection::open(addr).await.unwrap();
        connection.send(SHORT_BODY).await.unwrap();
        stalled.push(connection);
    }
    assert_eq!(scrape_metrics(addr).await.unwrap().status, 200);
    drop(stalled);
    let stderr = server.stop();
    let reports = stderr.matches("accept failed").count();
    assert!(reports <= 2, "{reports} reports in\n{stderr}");
}

#[test]
fn help_documents_every_flag() {
    let output = Command::new(BIN).arg("--help").output().unwrap();
    assert!(output.status.success());
    let help = String::from_utf8(output.stdout).unwrap();
    for flag in [
        "--addr",
        "--workers",
        "--db",
        "--access-token-lifetime",
        "--refresh-token-lifetime",
        "--rotate-refresh-tokens",
        "--blacklist-after-rotation",
        "--no-blacklist-store",
        "--user-id-field",
        "--user-id-claim",
        "--auth-header-types",
        "--leeway",
        "--algorithm",
        "--signing-key",
        "--signing-key-file",
        "--verifying-key",
        "--verifying-key-file",
        "--user",
        "--secure-cookies",
        "--access-cookie-name",
        "--refresh-cookie-name",
        "REFRESH_BACKEND_ACCESS_COOKIE_NAME",
        "REFRESH_BACKEND_REFRESH_COOKIE_NAME",
        "--atomic-rotation",
        "--rotation-grace",
        "--reuse-detection",
        "--session-max-lifetime",
        "--static",
        "--cors-origin",
        "--test-hooks",
        "--password-iterations",
        "REFRESH_BACKEND_PASSWORD_ITERATIONS",
        "--db-pool",
        "REFRESH_BACKEND_DB_POOL",
        "--oauth-client-id",
        "REFRESH_BACKEND_OAUTH_CLIENT_IDS",
        "--oauth-access-token-lifetime",
        "REFRESH_BACKEND_OAUTH_ACCESS_TOKEN_EXPIRE_SECONDS",
        "--oauth-refresh-token-lifetime",
        "REFRESH_BACKEND_OAUTH_REFRESH_TOKEN_EXPIRE_SECONDS",
        "--oauth-scopes",
        "REFRESH_BACKEND_OAUTH_SCOPES",
        "--max-connections",
        "REFRESH_BACKEND_MAX_CONNECTIONS",
        "--header-timeout",
        "REFRESH_BACKEND_HEADER_TIMEOUT",
        "--body-timeout",
        "REFRESH_BACKEND_BODY_TIMEOUT",
        "--request-timeout",
        "REFRESH_BACKEND_REQUEST_TIMEOUT",
        "flush-expired-tokens",
        "REFRESH_BACKEND_ACCESS_TOKEN_LIFETIME",
    ] {
        assert!(help.contains(flag), "--help lacks {flag}");
    }
}

/// The names of process `pid`'s threads other than its main one.
fn thread_names(pid: u32) -> Vec<String> {
    std::fs::read_dir(format!("/proc/{pid}/task"))
        .unwrap()
        .map(|task| task.unwrap().path())
        .filter(|path| !path.ends_with(pid.to_string()))
        .filter_map(|path| std::fs::read_to_string(path.join("comm")).ok())
        .map(|name| name.trim().to_owned())
        .collect()
}

/// The runtime's worker threads of process `pid`. They are created with the
/// runtime, before the listening line, but each names itself once it runs;
/// until then it shows the process's name. So this waits (bounded) until
/// every thread has its own name, then counts tokio's workers
/// (`tokio-rt-worker`; before tokio 1.44 `tokio-runtime-worker`, which Linux
/// cuts to 15 bytes).
fn worker_threads(pid: u32) -> usize {
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    loop {
        let names = thread_names(pid);
        let unnamed = names.iter().any(|name| name == "refresh-backend");
        if !unnamed || std::time::Instant::now() > deadline {
            return names
                .iter()
                .filter(|name| matches!(name.as_str(), "tokio-rt-worker" | "tokio-runtime-w"))
                .count();
        }
        std::thread::sleep(Duration::from_millis(5));
    }
}

#[test]
fn workers_sets_the_serving_threads() {
    for (workers, expected) in [("1", 1), ("3", 3)] {
        let (server, _) = start(&[
            "--addr",
            "127.0.0.1:0",
            "--db",
            ":memory:",
            "--workers",
            workers,
        ]);
        assert_eq!(
            worker_threads(server.0.id()),
            expected,
            "--workers {workers}"
        );
    }
    let output = Command::new(BIN)
        .args(["--db", ":memory:", "--workers", "0"])
        .output()
        .unwrap();
    assert!(!output.status.success(), "no workers cannot serve");
    let stderr = String::from_utf8(output.stderr).unwrap();
    assert!(stderr.contains("--workers <N>"), "{stderr}");
}

#[test]
fn options_without_their_prerequisites_refuse_to_start() {
    let output = Command::new(BIN)
        .args([
            "--addr",
            "127.0.0.1:0",
            "--db",
            ":memory:",
            "--atomic-rotation",
        ])
        .output()
        .unwrap();
    assert!(!output.status.success());
    let stderr = String::from_utf8(output.stderr).unwrap();
    assert!(stderr.contains("--atomic-rotation needs"), "{stderr}");
    assert!(
        output.stdout.is_empty(),
        "no listening line before the config is valid"
    );
}

#[test]
fn hmac_other_than_hs256_needs_a_key() {
    let output = Command::new(BIN)
        .args(["--db", ":memory:", "--algorithm", "HS512"])
        .output()
        .unwrap();
    assert!(!output.status.success(), "HS512 without a key is refused");
    let stderr = String::from_utf8(output.stderr).unwrap();
    assert!(stderr.contains("needs --signing-key"), "{stderr}");
}

fn token(jti: &str, expires_at: i64) -> OutstandingToken {
    OutstandingToken {
        jti: jti.to_owned(),
        user_pk: None,
        family: jti.to_owned(),
        token: format!("token-{jti}"),
        created_at: 0,
        expires_at,
    }
}

/// Seed 002 (DOT `clear_expired`) through the command: expired outstanding
/// tokens and their blacklist rows go, live ones stay, no orphans.
#[test]
fn flush_expired_tokens_command_purges_without_orphans() {
    let dir = TempDir::new("flush");
    let db = dir.0.join("tokens.db");
    {
        let store = SqliteStore::open(&db).unwrap();
        let now = Timestamp::from_secs(1_000);
        store.outstand(&token("expired-blacklisted", 10)).unwrap();
        store
            .blacklist(&token("expired-blacklisted", 10), now)
            .unwrap();
        store.outstand(&token("expired", 20)).unwrap();
        store
            .outstand(&token("live-blacklisted", i64::MAX / 2))
            .unwrap();
        store
            .blacklist(&token("live-blacklisted", i64::MAX / 2), now)
            .unwrap();
        // DOT's tables: one grant whose access token expired long ago, one
        // still alive.
        let user = store.upsert_user("u", "h").unwrap();
        for (name, expires_at) in [("old", 100), ("live", i64::MAX / 2_000_000)] {
            let access = format!("access-{name}");
            let refresh = format!("refresh-{name}");
            store
                .oauth_issue(&OAuthIssue {
                    user_pk: user.pk,
                    client_id: "spa",
                    scope: "read",
                    access_token: &access,
                    refresh_token: &refresh,
                    access_expires_at: Timestamp::from_secs(expires_at),
                })
                .unwrap();
        }
    }
    // The OAuth refresh lifetime is DOT's REFRESH_TOKEN_EXPIRE_SECONDS.
    let output = Command::new(BIN)
        .args([
            "--db",
            db.to_str().unwrap(),
            "flush-expired-tokens",
            "--oauth-refresh-token-lifetime",
            "1d",
        ])
        .output()
        .unwrap();
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    assert_eq!(
        String::from_utf8(output.stdout).unwrap(),
        "deleted 2 expired outstanding tokens and 1 blacklisted tokens; 1 OAuth refresh tokens and 1 OAuth access tokens\n"
    );
    let store = SqliteStore::open(&db).unwrap();
    let counts = store.counts().unwrap();
    assert_eq!(
        (counts.outstanding, counts.blacklisted, counts.orphans),
        (1, 1, 0)
    );
    let counts = store.oauth_counts().unwrap();
    assert_eq!((counts.access, counts.refresh, counts.orphans), (1, 1, 0));
}

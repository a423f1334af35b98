//! Refresh throughput and latency of the backend, as a second process.
//!
//! `cargo bench -p refresh-backend --bench refresh_throughput`
//!
//! Starts `refresh-backend` built with the `server` profile (built first if
//! missing, or taken from `REFRESH_BACKEND_BIN`), with rotation and
//! blacklisting on and SQLite on disk in a temporary directory. Then, at 1,
//! 16 and 64 concurrent clients: each client logs in once and refreshes its
//! own chain over one HTTP/1.1 keep-alive connection, always with the newest
//! refresh token, for a few seconds. Prints throughput, p50/p99 latency, the
//! CPU time per refresh of the server and of the client, and the server's
//! peak RSS (VmHWM).
//!
//! With `REFRESH_BACKEND_BENCH_JSON=FILE` it also writes the figures as
//! one JSON object (the `backend_*` keys of www/bench/results.json, which
//! `make bench` merges).
//!
//! Client and server share the machine: on 2 cores the client's own CPU
//! time is part of what is measured. The client runs on one thread and the
//! server with one worker thread (`--workers 1`), a core each; set
//! `REFRESH_BACKEND_WORKERS` to serve with another count.

// A benchmark harness: a failed unwrap ends the run with its message, and
// printing is its whole output.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    clippy::print_stdout
)]

#[path = "../tests/common/http.rs"]
mod http;

use std::io::{BufRead, BufReader};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use http::{request, Connection};
use tokio::sync::Barrier;

const CLIENTS: [usize; 3] = [1, 16, 64];
const WARMUP: Duration = Duration::from_millis(500);
const MEASURE: Duration = Duration::from_secs(3);
/// A ceiling on requests per client per case, besides the time limit.
const MAX_PER_CLIENT: usize = 2_000_000;

/// The server binary: `REFRESH_BACKEND_BIN`, or `<target>/server/refresh-backend`,
/// built with `cargo build --profile server` when it is not there yet.
fn server_binary() -> PathBuf {
    if let Some(path) = std::env::var_os("REFRESH_BACKEND_BIN") {
        return PathBuf::from(path);
    }
    // This bench runs from <target>/release/deps/.
    let exe = std::env::current_exe().unwrap();
    let target = exe.ancestors().nth(3).unwrap().to_path_buf();
    let binary = target.join("server").join("refresh-backend");
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    println!("building the server binary: cargo build --profile server -p refresh-backend");
    let status = Command::new(cargo)
        .args([
            "build",
            "--quiet",
            "--profile",
            "server",
            "-p",
            "refresh-backend",
        ])
        .env("CARGO_TARGET_DIR", &target)
        .status()
        .unwrap();
    assert!(status.success(), "building the server failed");
    binary
}

struct Server {
    child: Child,
    addr: SocketAddr,
}

impl Server {
    /// A server on `db` (a file, or a PostgreSQL URL); instances on one
    /// PostgreSQL share `signing_key`.
    fn start(binary: &Path, db: &std::ffi::OsStr, signing_key: &str, workers: &[&str]) -> Self {
        let mut child = Command::new(binary)
            .args(["--addr", "127.0.0.1:0", "--db"])
            .arg(db)
            .args(["--signing-key", signing_key])
            .args(workers)
            .args([
                "--rotate-refresh-tokens",
                "--blacklist-after-rotation",
                "--user",
                "bench:bench-password",
            ])
            // Each client logs in once, before the clock starts; Django's
            // million PBKDF2 rounds would only delay the start. (An
            // environment variable, so older binaries can be compared.)
            .env("REFRESH_BACKEND_PASSWORD_ITERATIONS", "1000")
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let mut line = String::new();
        BufReader::new(child.stdout.take().unwrap())
            .read_line(&mut line)
            .unwrap();
        let addr = line
            .trim()
            .strip_prefix("listening on http://")
            .unwrap_or_else(|| panic!("unexpected first line {line:?}"))
            .parse()
            .unwrap();
        Self { child, addr }
    }

    /// CPU time the server has used so far (user + system).
    fn cpu_time(&self) -> Duration {
        cpu_time(&self.child.id().to_string())
    }

    /// Peak resident set size in KiB (`VmHWM`).
    fn peak_rss_kib(&self) -> u64 {
        let status = std::fs::read_to_string(format!("/proc/{}/status", self.child.id())).unwrap();
        status
            .lines()
            .find_map(|l| l.strip_prefix("VmHWM:"))
            .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
            .unwrap_or(0)
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// CPU time (user + system) of process `pid` ("self" for this one).
fn cpu_time(pid: &str) -> Duration {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap();
    // utime and stime are the 14th and 15th fields, counted from the pid, in
    // clock ticks (100 Hz on Linux); the command name before them may hold
    // spaces, so count from its closing parenthesis.
    let after_name = stat.rsplit_once(')').map_or("", |(_, rest)| rest);
    let fields: Vec<u64> = after_name
        .split_whitespace()
        .map(|f| f.parse().unwrap_or(0))
        .collect();
    let ticks = fields.get(11).copied().unwrap_or(0) + fields.get(12).copied().unwrap_or(0);
    Duration::from_millis(ticks * 10)
}

fn json_post(path: &str, body: &str) -> Vec<u8> {
    request(
        "POST",
        path,
        &[("Content-Type", "application/json")],
        body.as_bytes(),
    )
}

/// One client: log in, then refresh its own chain until `deadline`.
/// Returns the latencies measured after `measure_from`, and the failures.
async fn client(
    addr: SocketAddr,
    barrier: Arc<Barrier>,
    measure_from: Arc<std::sync::OnceLock<(Instant, Instant)>>,
) -> (Vec<Duration>, usize) {
    let mut conn = Connection::open(addr).await.unwrap();
    let login = conn
        .exchange(&json_post(
            "/api/token/",
            r#"{"username":"bench","password":"bench-password"}"#,
        ))
        .await
        .unwrap();
    assert_eq!(login.status, 200);
    let mut refresh = login.json()["refresh"].as_str().unwrap().to_owned();
    barrier.wait().await;
    let (start, deadline) = *measure_from.get_or_init(|| {
        let now = Instant::now();
        (now + WARMUP, now + WARMUP + MEASURE)
    });
    let mut latencies = Vec::with_capacity(64 * 1024);
    let mut failures = 0;
    for _ in 0..MAX_PER_CLIENT {
        let sent = Instant::now();
        if sent >= deadline {
            break;
        }
        let reply = conn
            .exchange(&json_post(
                "/api/token/refresh/",
                &format!(r#"{{"refresh":"{refresh}"}}"#),
            ))
            .await
            .unwrap();
        let took = sent.elapsed();
        if reply.status != 200 {
            failures += 1;
            continue;
        }
        refresh = reply.json()["refresh"].as_str().unwrap().to_owned();
        if sent >= start {
            latencies.push(took);
        }
    }
    (latencies, failures)
}

/// `--workers 1` unless `REFRESH_BACKEND_WORKERS` (read by the server
/// itself) asks for another count.
fn workers_flag() -> Vec<&'static str> {
    if std::env::var_os("REFRESH_BACKEND_WORKERS").is_some() {
        Vec::new()
    } else {
        vec!["--workers", "1"]
    }
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    let index = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted.get(index).copied().unwrap_or_default()
}

/// A signing key for this run only, shared by its instances.
fn run_key() -> String {
    let mut bytes = [0u8; 16];
    getrandom::getrandom(&mut bytes).unwrap();
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn print_header(what: &str) {
    println!(
        "refresh throughput: chained refreshes, rotation + blacklist, {what}, HTTP/1.1 keep-alive, {}s per case",
        MEASURE.as_secs()
    );
    println!(
        "{:>8} {:>12} {:>10} {:>10} {:>10} {:>9} {:>11} {:>11}",
        "clients",
        "refreshes/s",
        "p50 ms",
        "p99 ms",
        "max ms",
        "failures",
        "server µs",
        "client µs"
    );
}

/// What one case measured.
struct Case {
    throughput: f64,
    p99_ms: f64,
}

/// One case: `clients` clients spread round-robin over `servers`; prints
/// its row. The server CPU column is the sum over the servers.
fn run_case(runtime: &tokio::runtime::Runtime, servers: &[Server], clients: usize) -> Case {
    let server_cpu = || -> Duration { servers.iter().map(Server::cpu_time).sum() };
    let cpu_before = server_cpu();
    let client_before = cpu_time("self");
    let (mut latencies, failures) = runtime.block_on(async {
        let barrier = Arc::new(Barrier::new(clients));
        let window = Arc::new(std::sync::OnceLock::new());
        let tasks: Vec<_> = (0..clients)
            .map(|i| {
                let addr = servers[i % servers.len()].addr;
                tokio::spawn(client(addr, barrier.clone(), window.clone()))
            })
            .collect();
        let mut all = Vec::new();
        let mut failures = 0;
        for task in tasks {
            let (latencies, failed) = task.await.unwrap();
            all.extend(latencies);
            failures += failed;
        }
        (all, failures)
    });
    // Includes the warm-up and the logins: an upper bound per refresh.
    let cpu = server_cpu().saturating_sub(cpu_before);
    let client_cpu = cpu_time("self").saturating_sub(client_before);
    latencies.sort();
    let throughput = latencies.len() as f64 / MEASURE.as_secs_f64();
    let ms = |d: Duration| d.as_secs_f64() * 1000.0;
    let total = latencies.len() as f64 * (1.0 + WARMUP.as_secs_f64() / MEASURE.as_secs_f64());
    println!(
        "{clients:>8} {throughput:>12.0} {:>10.3} {:>10.3} {:>10.3} {failures:>9} {:>11.0} {:>11.0}",
        ms(percentile(&latencies, 0.50)),
        ms(percentile(&latencies, 0.99)),
        ms(latencies.last().copied().unwrap_or_default()),
        cpu.as_secs_f64() * 1e6 / total.max(1.0),
        client_cpu.as_secs_f64() * 1e6 / total.max(1.0),
    );
    Case {
        throughput,
        p99_ms: ms(percentile(&latencies, 0.99)),
    }
}

/// The figures as `key: value` pairs, written to `REFRESH_BACKEND_BENCH_JSON` if set.
#[derive(Default)]
struct Figures(serde_json::Map<String, serde_json::Value>);

impl Figures {
    /// `backend_refresh_rps_<label>` and `backend_refresh_p99_ms_<label>`.
    fn case(&mut self, label: &str, case: &Case) {
        self.put(
            &format!("backend_refresh_rps_{label}"),
            case.throughput.round(),
        );
        self.put(
            &format!("backend_refresh_p99_ms_{label}"),
            (case.p99_ms * 100.0).round() / 100.0,
        );
    }

    fn put(&mut self, key: &str, value: f64) {
        self.0.insert(key.to_owned(), serde_json::json!(value));
    }

    fn write(self) {
        if let Some(path) = std::env::var_os("REFRESH_BACKEND_BENCH_JSON") {
            let json = serde_json::to_string_pretty(&serde_json::Value::Object(self.0)).unwrap();
            std::fs::write(path, json + "\n").unwrap();
        }
    }
}

fn main() {
    let binary = server_binary();
    let key = run_key();
    let dir = std::env::temp_dir().join(format!("refresh-backend-bench-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    // The client gets one thread, the server the rest of the machine.
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let server = Server::start(
        &binary,
        dir.join("bench.db").as_os_str(),
        &key,
        &workers_flag(),
    );
    let mut figures = Figures::default();
    print_header("SQLite on disk");
    for clients in CLIENTS {
        let case = run_case(&runtime, std::slice::from_ref(&server), clients);
        figures.case(&clients.to_string(), &case);
    }
    let peak_mib = server.peak_rss_kib() as f64 / 1024.0;
    println!("server peak RSS (VmHWM): {peak_mib:.1} MiB");
    figures.put("backend_peak_rss_mb", (peak_mib * 10.0).round() / 10.0);
    drop(server);
    let _ = std::fs::remove_dir_all(&dir);

    // PostgreSQL, when given a database to use (make bench starts one):
    // one instance, then three on the same database.
    let Some(url) = std::env::var_os("REFRESH_BACKEND_BENCH_POSTGRES") else {
        figures.write();
        return;
    };
    // A store call waits for PostgreSQL on its worker thread, so each
    // instance gets as many workers as connections (the default pool, 4)
    // to keep that many refreshes in flight.
    for instances in [1, 3] {
        let servers: Vec<Server> = (0..instances)
            .map(|_| Server::start(&binary, &url, &key, &["--workers", "4"]))
            .collect();
        print_header(&format!("PostgreSQL, {instances} instance(s)"));
        for clients in [16, 64] {
            let case = run_case(&runtime, &servers, clients);
            figures.case(&format!("postgres_{instances}x_{clients}"), &case);
        }
    }
    figures.write();
}

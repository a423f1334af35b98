//! `refresh-backend`: parses the command line, then either serves
//! [`refresh_backend::app`] or runs a maintenance command.

use std::io::Write;
use std::process::ExitCode;

use clap::Parser;
use refresh_backend::{app, serve, Cli, Clock, Command, Settings, SystemClock};
use tokio::net::TcpListener;

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Some(Command::FlushExpiredTokens) => flush_expired_tokens(&cli.settings),
        None => run(cli.settings),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(message) => {
            eprintln!("refresh-backend: {message}");
            ExitCode::FAILURE
        }
    }
}

fn run(settings: Settings) -> Result<(), String> {
    let mut builder = tokio::runtime::Builder::new_multi_thread();
    if let Some(workers) = settings.workers {
        builder.worker_threads(workers.get());
    }
    let runtime = builder
        .enable_all()
        .build()
        .map_err(|e| format!("cannot start the runtime: {e}"))?;
    runtime.block_on(async {
        let addr = settings.addr;
        let limits = settings.connection_limits();
        let config = settings.into_config()?;
        let listener = TcpListener::bind(addr)
            .await
            .map_err(|e| format!("cannot listen on {addr}: {e}"))?;
        let bound = listener.local_addr().map_err(|e| e.to_string())?;
        // Test harnesses read the port from this line.
        let mut stdout = std::io::stdout();
        writeln!(stdout, "listening on http://{bound}")
            .and_then(|()| stdout.flush())
            .map_err(|e| e.to_string())?;
        serve(listener, app(config), limits, shutdown())
            .await
            .map_err(|e| e.to_string())
    })
}

/// Resolves on Ctrl-C or SIGTERM.
async fn shutdown() {
    let interrupt = tokio::signal::ctrl_c();
    #[cfg(unix)]
    {
        let Ok(mut terminate) =
            tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
        else {
            let _ = interrupt.await;
            return;
        };
        tokio::select! {
            _ = interrupt => {}
            _ = terminate.recv() => {}
        }
    }
    #[cfg(not(unix))]
    {
        let _ = interrupt.await;
    }
}

fn flush_expired_tokens(settings: &Settings) -> Result<(), String> {
    let store = settings.open_store()?;
    let now = SystemClock.now();
    let simplejwt = store.flush_expired(now).map_err(|e| e.to_string())?;
    let oauth = store
        .oauth_flush(now, settings.oauth_refresh_token_lifetime)
        .map_err(|e| e.to_string())?;
    let mut stdout = std::io::stdout();
    writeln!(
        stdout,
        "deleted {} expired outstanding tokens and {} blacklisted tokens; {} OAuth refresh tokens and {} OAuth access tokens",
        simplejwt.outstanding, simplejwt.blacklisted, oauth.refresh, oauth.access
    )
    .map_err(|e| e.to_string())
}

//! refresh-coordinator: a single-flight token refresh coordinator for the
//! browser.
//!
//! When requests get HTTP 401, exactly one refresh is in flight; every 401'd
//! request waits behind it and is replayed with the rotated cookie (or the new
//! bearer token) once it succeeds. If the refresh is refused, every waiter
//! fails with one typed error and the app is told once that the session
//! ended.
//!
//! [`core`] is the state machine, pure and runtime-agnostic. [`web`] exports
//! it to JavaScript as `Core`, with a numeric interface; the JS half of the
//! web layer (`src/web/*.js`) binds it to `fetch`, abort signals and timers,
//! and the package's entry (`www/index.js`) offers `createAuthFetch`.

// The shipped `.wasm` is built without `std` (`--no-default-features`):
// std's panic machinery alone would be a large share of the download. Tests
// and native builds use the default `std` feature.
#![cfg_attr(not(feature = "std"), no_std)]

extern crate alloc;

pub mod core;
#[cfg(all(target_arch = "wasm32", not(feature = "std")))]
mod runtime;
pub mod web;

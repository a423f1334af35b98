//! The web layer: binds the core to `fetch`, timers and abort signals, and
//! exports the `AuthCoordinator` class that the package's `createAuthFetch`
//! and `attachAxios` wrap.
//!
//! Its JavaScript half, `bridge.js`, holds the typed errors and the safety
//! net that settles every caller even if this side fails.

mod coordinator;
mod events;
mod options;
mod outgoing;
mod platform;
mod refresh;
mod tokens;

pub use coordinator::AuthCoordinator;

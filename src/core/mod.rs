//! The coordinator's pure core: the single-flight refresh state machine.
//!
//! No `wasm_bindgen`, `js_sys` or `web_sys` here, and no clock: time, answers
//! and refresh outcomes are handed in, decisions come out as [`Action`]s. The
//! web layer binds it to `fetch` and timers; the native tests drive it with a
//! fake transport and a fake clock.

mod action;
mod backoff;
mod config;
mod coordinator;
mod credential;
mod generation;
mod outcome;
mod policy;
mod request;
mod shared;
mod slots;
mod time;

pub use action::{Action, Notice, RefreshId};
pub use config::Config;
pub use coordinator::{Coordinator, Session};
pub use generation::Generation;
pub use outcome::{Answer, Failure, GrantError, RefreshOutcome, Unavailability};
pub use policy::{split_origin, RequestPolicy, Route};
pub use request::RequestId;
pub use shared::SharedSession;
pub use time::{Duration, Instant};

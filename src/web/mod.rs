//! The web layer. Its Rust half is [`Core`], the state machine exported to
//! JavaScript with a numeric interface; its JS half (`coordinator.js`,
//! `options.js`, `errors.js` beside this file) binds it to `fetch`,
//! `Request`/`Response`, abort signals and timers, and holds the typed
//! errors. The split keeps every decision in Rust and every JS object in
//! JS, which is also what keeps the `.wasm` small.

mod core_binding;

pub use core_binding::{answer, failure, kind, outcome, route, Core};

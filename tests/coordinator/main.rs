//! Native tests of the pure core, driven step by step with a fake transport
//! and a fake clock. No sleeps: the test decides when every answer arrives.
#![cfg(not(target_arch = "wasm32"))]
// A test that panics is a test that fails; the no-panic rule is for code
// reachable from JavaScript.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic
)]

mod harness;

mod ahead;
mod confirmation;
mod failures;
mod flight;
mod logout;
mod lost_answer;
mod outlived;
mod policy;
mod properties;
mod redirect;
mod tabs;
mod tabs_model;
mod unanswered;

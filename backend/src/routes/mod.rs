//! The HTTP handlers, one file per group of endpoints. They read requests
//! and shape responses; the token logic is in [`crate::session`] and
//! [`crate::auth`].

pub mod body_mode;
pub mod cookie_mode;
pub mod data;
mod exchange;
mod methods;
pub mod metrics;
pub mod oauth_token;
mod refresh_faults;
mod request_data;
pub mod test_hooks;

pub use methods::only;

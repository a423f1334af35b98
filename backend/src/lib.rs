//! Reference refresh backend: Django REST Framework SimpleJWT 5.5 and
//! dj-rest-auth's cookie mode on the wire, without their rotation bugs, plus
//! options they lack (atomic rotation, a grace window, reuse detection, a
//! session cap) and fault hooks for end-to-end tests.
//!
//! [`app`] builds the router from a [`Config`]; [`serve`] runs it on a
//! listener; `main.rs` only wires the command line to the two.

mod app;
mod auth;
mod body;
pub mod clock;
mod config;
mod cookies;
mod cors;
mod error;
mod faults;
mod ids;
mod jwt;
mod metrics;
mod oauth;
mod password;
mod routes;
mod server;
mod session;
mod settings;
mod static_files;
pub mod store;

pub use app::app;
pub use clock::{Clock, ManualClock, SystemClock, Timestamp};
pub use config::{parse_duration, Config, OAuthConfig, UserIdField};
pub use error::BODY_LIMIT;
pub use faults::FaultPlan;
pub use jwt::{SigningKeys, TokenCodec, TokenError, TokenType};
pub use metrics::RefreshOutcome;
pub use password::hash as hash_password;
pub use server::{serve, ConnectionLimits};
pub use settings::{Cli, Command, Settings};
pub use static_files::StaticMount;
pub use store::{PostgresStore, SqliteStore, TokenStore};

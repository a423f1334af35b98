//! The backend's configuration, passed to [`crate::app`]. Every setting that
//! SimpleJWT has keeps SimpleJWT's default, so a default backend is
//! wire-identical to a default Django deployment.

use std::fmt;
use std::str::FromStr;
use std::sync::Arc;
use std::time::Duration;

use crate::clock::{Clock, SystemClock};
use crate::cookies::{is_cookie_name, ACCESS_COOKIE, REFRESH_COOKIE};
use crate::jwt::SigningKeys;
use crate::static_files::StaticMount;
use crate::store::TokenStore;

/// Which user field goes into the user id claim (SimpleJWT's `USER_ID_FIELD`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum UserIdField {
    /// The integer primary key, as a string. This is the default.
    #[default]
    Id,
    /// A UUID that is not the primary key (the case of SimpleJWT #874).
    Uuid,
}

impl FromStr for UserIdField {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "id" => Ok(Self::Id),
            "uuid" => Ok(Self::Uuid),
            other => Err(format!(
                "unknown user id field {other:?} (expected id or uuid)"
            )),
        }
    }
}

/// Django OAuth Toolkit's `/o/token/`, mounted when there is a client.
/// The grace window, reuse protection and atomic rotation are the
/// [`Config`]'s, shared with the SimpleJWT endpoints.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OAuthConfig {
    /// Registered public clients (DOT applications of type public).
    /// Defaults to none: no `/o/token/`.
    pub clients: Vec<String>,
    /// `ACCESS_TOKEN_EXPIRE_SECONDS`. Defaults to 36 000 s, DOT's.
    pub access_token_lifetime: Duration,
    /// `REFRESH_TOKEN_EXPIRE_SECONDS`, which only `flush-expired-tokens`
    /// reads, as DOT's `cleartokens` does. Defaults to none, DOT's.
    pub refresh_token_lifetime: Option<Duration>,
    /// The scopes there are, all of them granted when none is asked for
    /// (`SCOPES` with `DEFAULT_SCOPES = ["__all__"]`). Defaults to `read`,
    /// `write`, DOT's.
    pub scopes: Vec<String>,
}

impl Default for OAuthConfig {
    fn default() -> Self {
        Self {
            clients: Vec::new(),
            access_token_lifetime: Duration::from_secs(36_000),
            refresh_token_lifetime: None,
            scopes: vec!["read".to_owned(), "write".to_owned()],
        }
    }
}

/// Everything [`crate::app`] needs. Build one with [`Config::new`] and adjust
/// the public fields.
#[derive(Clone)]
pub struct Config {
    /// Lifetime of access tokens (`ACCESS_TOKEN_LIFETIME`). Defaults to 5 minutes.
    pub access_token_lifetime: Duration,
    /// Lifetime of refresh tokens (`REFRESH_TOKEN_LIFETIME`). Defaults to 1 day.
    pub refresh_token_lifetime: Duration,
    /// Issue a new refresh token on every refresh (`ROTATE_REFRESH_TOKENS`).
    /// Defaults to false.
    pub rotate_refresh_tokens: bool,
    /// Blacklist the presented refresh token when rotating
    /// (`BLACKLIST_AFTER_ROTATION`). Defaults to false.
    pub blacklist_after_rotation: bool,
    /// Keep outstanding and blacklisted tokens (SimpleJWT's `token_blacklist`
    /// app in `INSTALLED_APPS`). Defaults to true.
    pub blacklist_store: bool,
    /// Which user field identifies the user in tokens (`USER_ID_FIELD`).
    /// Defaults to [`UserIdField::Id`].
    pub user_id_field: UserIdField,
    /// Name of the claim holding the user id (`USER_ID_CLAIM`). Defaults to `user_id`.
    pub user_id_claim: String,
    /// Accepted `Authorization` schemes, first one used in `WWW-Authenticate`
    /// (`AUTH_HEADER_TYPES`). Defaults to `["Bearer"]`.
    pub auth_header_types: Vec<String>,
    /// Clock skew allowed when checking `exp` (`LEEWAY`). Defaults to 0.
    pub leeway: Duration,
    /// Signing and verifying keys with their algorithm (`ALGORITHM`,
    /// `SIGNING_KEY`, `VERIFYING_KEY`). No default: [`Config::new`] takes them.
    pub keys: SigningKeys,
    /// Mark the auth cookies `Secure` (dj-rest-auth's `JWT_AUTH_SECURE`).
    /// Defaults to false.
    pub secure_cookies: bool,
    /// Name of the access token cookie (dj-rest-auth's `JWT_AUTH_COOKIE`).
    /// Defaults to `access`.
    pub access_cookie_name: String,
    /// Name of the refresh token cookie (dj-rest-auth's
    /// `JWT_AUTH_REFRESH_COOKIE`). Defaults to `refresh`.
    pub refresh_cookie_name: String,
    /// Consume a refresh token in one transaction, so that of concurrent
    /// refreshes of one token exactly one succeeds. Defaults to false
    /// (SimpleJWT checks and blacklists in separate queries and can fork).
    pub atomic_rotation: bool,
    /// Within this time after a rotation, the immediately previous refresh
    /// token gets the same successor again. Implies atomic rotation.
    /// Defaults to none.
    pub rotation_grace: Option<Duration>,
    /// Reuse of a rotated refresh token outside the grace window revokes its
    /// whole family (RFC 9700 §4.14.2). Implies atomic rotation. Defaults to false.
    pub reuse_detection: bool,
    /// Absolute cap on a session, counted from login, whatever the
    /// rotations. Defaults to none (SimpleJWT has no such cap).
    pub session_max_lifetime: Option<Duration>,
    /// Directories served as static files. Defaults to none.
    pub static_mounts: Vec<StaticMount>,
    /// Origins allowed to make credentialed cross-origin requests. Defaults to none.
    pub cors_origins: Vec<String>,
    /// Mount `/api/_test/faults`. Defaults to false.
    pub test_hooks: bool,
    /// The longest wait for the next piece of a request body; a body that
    /// stalls longer is answered 408. Defaults to 10 s.
    pub body_timeout: Duration,
    /// The longest a request may take from its head to its answer, body,
    /// `delay_ms` and injected delays included; then 408. Defaults to 30 s.
    pub request_timeout: Duration,
    /// Django OAuth Toolkit's token endpoint. Defaults to off.
    pub oauth: OAuthConfig,
    /// Users, outstanding and blacklisted tokens. No default: [`Config::new`] takes it.
    pub store: Arc<dyn TokenStore>,
    /// Where "now" comes from. Defaults to [`SystemClock`].
    pub clock: Arc<dyn Clock>,
}

impl Config {
    /// A config with SimpleJWT's defaults around the given store and keys.
    pub fn new(store: Arc<dyn TokenStore>, keys: SigningKeys) -> Self {
        Self {
            access_token_lifetime: Duration::from_secs(5 * 60),
            refresh_token_lifetime: Duration::from_secs(24 * 60 * 60),
            rotate_refresh_tokens: false,
            blacklist_after_rotation: false,
            blacklist_store: true,
            user_id_field: UserIdField::Id,
            user_id_claim: "user_id".to_owned(),
            auth_header_types: vec!["Bearer".to_owned()],
            leeway: Duration::ZERO,
            keys,
            secure_cookies: false,
            access_cookie_name: ACCESS_COOKIE.to_owned(),
            refresh_cookie_name: REFRESH_COOKIE.to_owned(),
            atomic_rotation: false,
            rotation_grace: None,
            reuse_detection: false,
            session_max_lifetime: None,
            static_mounts: Vec::new(),
            cors_origins: Vec::new(),
            test_hooks: false,
            body_timeout: Duration::from_secs(10),
            request_timeout: Duration::from_secs(30),
            oauth: OAuthConfig::default(),
            store,
            clock: Arc::new(SystemClock),
        }
    }

    /// Whether refreshes go through the store's single-transaction rotation
    /// instead of SimpleJWT's (or DOT's) check-then-write sequence.
    pub(crate) fn transactional_rotation(&self) -> bool {
        self.atomic_rotation || self.rotation_grace.is_some() || self.reuse_detection
    }

    /// Whether SimpleJWT's endpoints rotate in one transaction: asked for,
    /// and with the rotation and blacklist it builds on (without them the
    /// flags are for `/o/token/` only).
    pub(crate) fn transactional_simplejwt_rotation(&self) -> bool {
        self.transactional_rotation()
            && self.rotate_refresh_tokens
            && self.blacklist_after_rotation
            && self.blacklist_store
    }

    /// Checks that the beyond-SimpleJWT options have what they build on.
    ///
    /// # Errors
    /// Returns a message naming the flag when atomic rotation, a grace window
    /// or reuse detection is asked for without rotation, blacklisting after
    /// rotation and the blacklist store (each needs all three), unless an
    /// OAuth client is configured, since DOT always rotates.
    pub fn validate(&self) -> Result<(), String> {
        let needs_store = [
            (self.atomic_rotation, "--atomic-rotation"),
            (self.rotation_grace.is_some(), "--rotation-grace"),
            (self.reuse_detection, "--reuse-detection"),
        ];
        for (on, flag) in needs_store {
            if on
                && self.oauth.clients.is_empty()
                && !(self.rotate_refresh_tokens
                    && self.blacklist_after_rotation
                    && self.blacklist_store)
            {
                return Err(format!(
                    "{flag} needs --rotate-refresh-tokens, --blacklist-after-rotation and the blacklist store"
                ));
            }
        }
        if self.auth_header_types.is_empty() {
            return Err("--auth-header-types needs at least one type".to_owned());
        }
        if self.user_id_claim.is_empty() {
            return Err("--user-id-claim must not be empty".to_owned());
        }
        for (name, flag) in [
            (&self.access_cookie_name, "--access-cookie-name"),
            (&self.refresh_cookie_name, "--refresh-cookie-name"),
        ] {
            if !is_cookie_name(name) {
                return Err(format!(
                    "{flag} {name:?} is not a cookie name (letters, digits and !#$%&'*+-.^_`|~)"
                ));
            }
        }
        if self.access_cookie_name == self.refresh_cookie_name {
            return Err("--access-cookie-name and --refresh-cookie-name must differ".to_owned());
        }
        Ok(())
    }
}

impl fmt::Debug for Config {
    // Written by hand so that the keys stay out of any debug output.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Config")
            .field("access_token_lifetime", &self.access_token_lifetime)
            .field("refresh_token_lifetime", &self.refresh_token_lifetime)
            .field("rotate_refresh_tokens", &self.rotate_refresh_tokens)
            .field("blacklist_after_rotation", &self.blacklist_after_rotation)
            .field("blacklist_store", &self.blacklist_store)
            .field("user_id_field", &self.user_id_field)
            .field("user_id_claim", &self.user_id_claim)
            .field("auth_header_types", &self.auth_header_types)
            .field("leeway", &self.leeway)
            .field("keys", &self.keys)
            .field("secure_cookies", &self.secure_cookies)
            .field("access_cookie_name", &self.access_cookie_name)
            .field("refresh_cookie_name", &self.refresh_cookie_name)
            .field("atomic_rotation", &self.atomic_rotation)
            .field("rotation_grace", &self.rotation_grace)
            .field("reuse_detection", &self.reuse_detection)
            .field("session_max_lifetime", &self.session_max_lifetime)
            .field("static_mounts", &self.static_mounts)
            .field("cors_origins", &self.cors_origins)
            .field("test_hooks", &self.test_hooks)
            .field("body_timeout", &self.body_timeout)
            .field("request_timeout", &self.request_timeout)
            .field("oauth", &self.oauth)
            .finish_non_exhaustive()
    }
}

/// Parses a duration as the flags take it: a number with an optional unit,
/// `ms`, `s` (the default), `m`, `h`, `d` or `w`: `3s`, `5m`, `1d`, `90`.
///
/// # Errors
/// Returns a message when the number or the unit is not understood.
pub fn parse_duration(text: &str) -> Result<Duration, String> {
    let text = text.trim();
    let split = text
        .find(|c: char| !c.is_ascii_digit() && c != '.')
        .unwrap_or(text.len());
    let (number, unit) = text.split_at(split);
    let value: f64 = number
        .parse()
        .map_err(|_| format!("invalid duration {text:?} (expected e.g. 3s, 5m, 1d)"))?;
    let unit_secs = match unit.trim() {
        "ms" => 0.001,
        "" | "s" => 1.0,
        "m" => 60.0,
        "h" => 3600.0,
        "d" => 86_400.0,
        "w" => 604_800.0,
        other => return Err(format!("unknown duration unit {other:?} in {text:?}")),
    };
    Duration::try_from_secs_f64(value * unit_secs).map_err(|e| format!("{text:?}: {e}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_take_simplejwt_style_units() {
        assert_eq!(parse_duration("3s"), Ok(Duration::from_secs(3)));
        assert_eq!(parse_duration("5m"), Ok(Duration::from_secs(300)));
        assert_eq!(parse_duration("1d"), Ok(Duration::from_secs(86_400)));
        assert_eq!(parse_duration("90"), Ok(Duration::from_secs(90)));
        assert_eq!(parse_duration("250ms"), Ok(Duration::from_millis(250)));
        assert!(parse_duration("soon").is_err());
        assert!(parse_duration("5y").is_err());
    }
}

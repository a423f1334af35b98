//! The command line: every setting as a flag with an environment variable
//! (`REFRESH_BACKEND_` + SimpleJWT's setting name where it has one), turned
//! into a [`Config`].

use std::fmt;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::str::FromStr;
use std::sync::Arc;
use std::time::Duration;

use clap::builder::BoolishValueParser;
use clap::{ArgAction, Args, Parser, Subcommand};
use jsonwebtoken::Algorithm;

use crate::config::{parse_duration, Config, OAuthConfig, UserIdField};
use crate::jwt::SigningKeys;
use crate::server::ConnectionLimits;
use crate::static_files::StaticMount;
use crate::store::{PostgresStore, SqliteStore, TokenStore};

/// The command line.
#[derive(Debug, Parser)]
#[command(
    name = "refresh-backend",
    version,
    about = "Reference refresh backend: SimpleJWT 5.5 and dj-rest-auth on the wire, with safe rotation options",
    after_help = "Durations take a unit: 3s, 5m, 1h, 1d (a bare number is seconds).\n\
                  Once bound, the server prints one line to stdout: listening on http://ADDR:PORT"
)]
pub struct Cli {
    /// What to do instead of serving.
    #[command(subcommand)]
    pub command: Option<Command>,
    /// The settings.
    #[command(flatten)]
    pub settings: Settings,
}

/// Commands besides serving.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Delete expired outstanding tokens and their blacklist rows, then exit
    /// (SimpleJWT's flushexpiredtokens, DOT's cleartokens).
    FlushExpiredTokens,
}

/// A secret that never shows in debug output or `--help`.
#[derive(Clone, Default)]
pub struct Secret(String);

impl FromStr for Secret {
    type Err = std::convert::Infallible;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Ok(Self(s.to_owned()))
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret(..)")
    }
}

/// A user to create (or whose password to reset) at start.
#[derive(Clone)]
pub struct UserSpec {
    /// Login name.
    pub username: String,
    /// Password.
    pub password: String,
}

impl FromStr for UserSpec {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s.split_once(':') {
            Some((username, password)) if !username.is_empty() && !password.is_empty() => {
                Ok(Self {
                    username: username.to_owned(),
                    password: password.to_owned(),
                })
            }
            _ => Err("expected NAME:PASSWORD".to_owned()),
        }
    }
}

impl fmt::Debug for UserSpec {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "UserSpec({}:..)", self.username)
    }
}

/// Every setting. Defaults are SimpleJWT's (and dj-rest-auth's).
#[derive(Debug, Args)]
pub struct Settings {
    /// Address to listen on; port 0 picks a free one.
    #[arg(long, env = "REFRESH_BACKEND_ADDR", default_value = "127.0.0.1:8000")]
    pub addr: SocketAddr,

    /// Threads that serve requests; default one per CPU core. The store runs
    /// one write at a time behind one SQLite connection, so on a machine that
    /// shares its cores with the clients (a laptop, CI) fewer threads
    /// contend less: `make bench` serves with 1 on 2 cores.
    #[arg(long, env = "REFRESH_BACKEND_WORKERS", value_name = "N")]
    pub workers: Option<std::num::NonZeroUsize>,

    /// SQLite database file, or :memory:, or a PostgreSQL URL (postgres://user@host:port/db) shared by several instances.
    #[arg(
        long,
        env = "REFRESH_BACKEND_DB",
        default_value = "refresh-backend.db",
        global = true
    )]
    pub db: PathBuf,

    /// Connections to PostgreSQL per instance (ignored for SQLite).
    #[arg(
        long,
        env = "REFRESH_BACKEND_DB_POOL",
        value_name = "N",
        default_value = "4",
        global = true
    )]
    pub db_pool: std::num::NonZeroUsize,

    /// ACCESS_TOKEN_LIFETIME.
    #[arg(long, env = "REFRESH_BACKEND_ACCESS_TOKEN_LIFETIME", default_value = "5m", value_parser = parse_duration)]
    pub access_token_lifetime: Duration,

    /// REFRESH_TOKEN_LIFETIME.
    #[arg(long, env = "REFRESH_BACKEND_REFRESH_TOKEN_LIFETIME", default_value = "1d", value_parser = parse_duration)]
    pub refresh_token_lifetime: Duration,

    /// ROTATE_REFRESH_TOKENS: every refresh returns a new refresh token.
    #[arg(long, env = "REFRESH_BACKEND_ROTATE_REFRESH_TOKENS", action = ArgAction::SetTrue, value_parser = BoolishValueParser::new())]
    pub rotate_refresh_tokens: bool,

    /// BLACKLIST_AFTER_ROTATION: the presented refresh token is blacklisted when rotating.
    #[arg(long, env = "REFRESH_BACKEND_BLACKLIST_AFTER_ROTATION", action = ArgAction::SetTrue, value_parser = BoolishValueParser::new())]
    pub blacklist_after_rotation: bool,

    /// Run as SimpleJWT without the token_blacklist app: no outstanding or blacklisted tokens.
    #[arg(long, env = "REFRESH_BACKEND_NO_BLACKLIST_STORE", action = ArgAction::SetTrue, value_parser = BoolishValueParser::new())]
    pub no_blacklist_store: bool,

    /// USER_ID_FIELD: id (integer primary key) or uuid.
    #[arg(long, env = "REFRESH_BACKEND_USER_ID_FIELD", default_value = "id")]
    pub user_id_field: UserIdField,

    /// USER_ID_CLAIM.
    #[arg(long, env = "REFRESH_BACKEND_USER_ID_CLAIM", default_value = "user_id")]
    pub user_id_claim: String,

    /// AUTH_HEADER_TYPES, comma-separated; the first is used in WWW-Authenticate.
    #[arg(
        long,
        env = "REFRESH_BACKEND_AUTH_HEADER_TYPES",
        default_value = "Bearer",
        value_delimiter = ','
    )]
    pub auth_header_types: Vec<String>,

    /// LEEWAY on exp.
    #[arg(long, env = "REFRESH_BACKEND_LEEWAY", default_value = "0", value_parser = parse_duration)]
    pub leeway: Duration,

    /// ALGORITHM: HS256, HS384, HS512, RS256, RS384 or RS512.
    #[arg(long, env = "REFRESH_BACKEND_ALGORITHM", default_value = "HS256")]
    pub algorithm: Algorithm,

    /// SIGNING_KEY: the HMAC secret, or the RSA private key PEM. Default: random per process.
    #[arg(
        long,
        env = "REFRESH_BACKEND_SIGNING_KEY",
        hide_env_values = true,
        conflicts_with = "signing_key_file"
    )]
    pub signing_key: Option<Secret>,

    /// SIGNING_KEY read from a file.
    #[arg(long, env = "REFRESH_BACKEND_SIGNING_KEY_FILE")]
    pub signing_key_file: Option<PathBuf>,

    /// VERIFYING_KEY: the RSA public key PEM (RS* only).
    #[arg(
        long,
        env = "REFRESH_BACKEND_VERIFYING_KEY",
        conflicts_with = "verifying_key_file"
    )]
    pub verifying_key: Option<String>,

    /// VERIFYING_KEY read from a file.
    #[arg(long, env = "REFRESH_BACKEND_VERIFYING_KEY_FILE")]
    pub verifying_key_file: Option<PathBuf>,

    /// A user to create at start, NAME:PASSWORD (repeatable).
    #[arg(
        long = "user",
        env = "REFRESH_BACKEND_USERS",
        hide_env_values = true,
        value_delimiter = ','
    )]
    pub users: Vec<UserSpec>,

    /// JWT_AUTH_SECURE: mark the cookies Secure.
    #[arg(long, env = "REFRESH_BACKEND_SECURE_COOKIES", action = ArgAction::SetTrue, value_parser = BoolishValueParser::new())]
    pub secure_cookies: bool,

    /// JWT_AUTH_COOKIE: name of the access token cookie.
    #[arg(
        long,
        env = "REFRESH_BACKEND_ACCESS_COOKIE_NAME",
        default_value = "access"
    )]
    pub access_cookie_name: String,

    /// JWT_AUTH_REFRESH_COOKIE: name of the refresh token cookie.
    #[arg(
        long,
        env = "REFRESH_BACKEND_REFRESH_COOKIE_NAME",
        default_value = "refresh"
    )]
    pub refresh_cookie_name: String,

    /// Consume a refresh token in one transaction: of concurrent refreshes of one token exactly one succeeds. Needs --rotate-refresh-tokens and --blacklist-after-rotation.
    #[arg(long, env = "REFRESH_BACKEND_ATOMIC_ROTATION", action = ArgAction::SetTrue, value_parser = BoolishValueParser::new())]
    pub atomic_rotation: bool,

    /// Within this time after a rotation, the immediately previous refresh token gets the same successor again. Implies --atomic-rotation.
    #[arg(long, env = "REFRESH_BACKEND_ROTATION_GRACE", value_name = "SECONDS", value_parser = parse_duration)]
    pub rotation_grace: Option<Duration>,

    /// Reuse of a rotated refresh token outside the grace window revokes its whole family (RFC 9700 4.14.2). Implies --atomic-rotation.
    #[arg(long, env = "REFRESH_BACKEND_REUSE_DETECTION", action = ArgAction::SetTrue, value_parser = BoolishValueParser::new())]
    pub reuse_detection: bool,

    /// Absolute cap on a session from login, whatever the rotations.
    #[arg(long, env = "REFRESH_BACKEND_SESSION_MAX_LIFETIME", value_parser = parse_duration)]
    pub session_max_lifetime: Option<Duration>,

    /// Serve a directory: DIR at /, or PREFIX=DIR (e.g. /pkg=pkg). Repeatable.
    #[arg(long = "static", env = "REFRESH_BACKEND_STATIC", value_delimiter = ',')]
    pub static_mounts: Vec<StaticMount>,

    /// Allow credentialed cross-origin requests from ORIGIN (e.g. http://127.0.0.1:8080). Repeatable.
    #[arg(
        long = "cors-origin",
        env = "REFRESH_BACKEND_CORS_ORIGINS",
        value_delimiter = ','
    )]
    pub cors_origins: Vec<String>,

    /// Mount /api/_test/faults for fault injection. Never in production.
    #[arg(long, env = "REFRESH_BACKEND_TEST_HOOKS", action = ArgAction::SetTrue, value_parser = BoolishValueParser::new())]
    pub test_hooks: bool,

    /// Register a public OAuth client for Django OAuth Toolkit's /o/token/ (repeatable); without one there is no /o/token/. --atomic-rotation, --rotation-grace (REFRESH_TOKEN_GRACE_PERIOD_SECONDS) and --reuse-detection (REFRESH_TOKEN_REUSE_PROTECTION) apply to it too.
    #[arg(
        long = "oauth-client-id",
        env = "REFRESH_BACKEND_OAUTH_CLIENT_IDS",
        value_name = "ID",
        value_delimiter = ','
    )]
    pub oauth_clients: Vec<String>,

    /// DOT's ACCESS_TOKEN_EXPIRE_SECONDS for /o/token/.
    #[arg(long, env = "REFRESH_BACKEND_OAUTH_ACCESS_TOKEN_EXPIRE_SECONDS", default_value = "36000s", value_parser = parse_duration)]
    pub oauth_access_token_lifetime: Duration,

    /// DOT's REFRESH_TOKEN_EXPIRE_SECONDS: flush-expired-tokens deletes OAuth refresh tokens revoked, or whose access token expired, longer ago. Default: none, as DOT.
    #[arg(long, env = "REFRESH_BACKEND_OAUTH_REFRESH_TOKEN_EXPIRE_SECONDS", value_parser = parse_duration, global = true)]
    pub oauth_refresh_token_lifetime: Option<Duration>,

    /// DOT's SCOPES, comma-separated; all are granted when a client asks for none.
    #[arg(
        long,
        env = "REFRESH_BACKEND_OAUTH_SCOPES",
        default_value = "read,write",
        value_delimiter = ','
    )]
    pub oauth_scopes: Vec<String>,

    /// PBKDF2 iterations for the --user passwords (Django's PBKDF2PasswordHasher); every login pays them. Keep Django's default in production, use a low count in tests.
    #[arg(long, env = "REFRESH_BACKEND_PASSWORD_ITERATIONS", value_name = "N", default_value_t = crate::password::DJANGO_ITERATIONS, value_parser = clap::value_parser!(u32).range(1..))]
    pub password_iterations: u32,

    /// Connections served at once; more wait in the listen backlog. Keep below the descriptor limit (ulimit -n).
    #[arg(
        long,
        env = "REFRESH_BACKEND_MAX_CONNECTIONS",
        value_name = "N",
        default_value = "512"
    )]
    pub max_connections: std::num::NonZeroUsize,

    /// Longest wait for a request's head, and for the next request on an idle kept-alive connection.
    #[arg(long, env = "REFRESH_BACKEND_HEADER_TIMEOUT", default_value = "30s", value_parser = parse_duration)]
    pub header_timeout: Duration,

    /// Longest wait for the next piece of a request body; then 408.
    #[arg(long, env = "REFRESH_BACKEND_BODY_TIMEOUT", default_value = "10s", value_parser = parse_duration)]
    pub body_timeout: Duration,

    /// Longest time from a request's head to its answer, delays included; then 408.
    #[arg(long, env = "REFRESH_BACKEND_REQUEST_TIMEOUT", default_value = "30s", value_parser = parse_duration)]
    pub request_timeout: Duration,
}

impl Settings {
    /// Opens the configured database: PostgreSQL for a `postgres://` (or
    /// `postgresql://`) URL, else the SQLite file (or `:memory:`).
    ///
    /// # Errors
    /// A message naming the file (never the URL, which may hold a password)
    /// when it cannot be opened.
    pub fn open_store(&self) -> Result<Arc<dyn TokenStore>, String> {
        let db = self.db.to_string_lossy();
        if db.starts_with("postgres://") || db.starts_with("postgresql://") {
            let store = PostgresStore::connect(&db, self.db_pool.get())
                .map_err(|e| format!("the PostgreSQL database: {e}"))?;
            return Ok(Arc::new(store));
        }
        let store =
            SqliteStore::open(&self.db).map_err(|e| format!("{}: {e}", self.db.display()))?;
        Ok(Arc::new(store))
    }

    /// What the accept loop lets clients hold.
    pub fn connection_limits(&self) -> ConnectionLimits {
        ConnectionLimits {
            max_connections: self.max_connections.get(),
            header_timeout: self.header_timeout,
        }
    }

    /// The signing keys, and whether they were generated for lack of any.
    fn keys(&self) -> Result<(SigningKeys, bool), String> {
        let signing = match (&self.signing_key, &self.signing_key_file) {
            (Some(Secret(key)), _) => Some(key.clone().into_bytes()),
            (None, Some(path)) => {
                Some(std::fs::read(path).map_err(|e| format!("{}: {e}", path.display()))?)
            }
            (None, None) => None,
        };
        let verifying = match (&self.verifying_key, &self.verifying_key_file) {
            (Some(key), _) => Some(key.clone().into_bytes()),
            (None, Some(path)) => {
                Some(std::fs::read(path).map_err(|e| format!("{}: {e}", path.display()))?)
            }
            (None, None) => None,
        };
        match (self.algorithm, signing, verifying) {
            (Algorithm::HS256, None, _) => Ok((SigningKeys::random_hs256()?, true)),
            (
                Algorithm::RS256 | Algorithm::RS384 | Algorithm::RS512,
                Some(private),
                Some(public),
            ) => Ok((
                SigningKeys::rsa_pem(self.algorithm, &private, &public)?,
                false,
            )),
            (Algorithm::RS256 | Algorithm::RS384 | Algorithm::RS512, _, _) => Err(format!(
                "{:?} needs --signing-key(-file) and --verifying-key(-file) as PEM",
                self.algorithm
            )),
            (algorithm, Some(secret), _) => {
                // A trailing newline from a key file is not part of the secret.
                let secret = secret.strip_suffix(b"\n").unwrap_or(&secret);
                Ok((SigningKeys::hmac(algorithm, secret)?, false))
            }
            (algorithm, None, _) => Err(format!("{algorithm:?} needs --signing-key")),
        }
    }

    /// The config these settings describe: the store opened, the users
    /// created, the keys loaded.
    ///
    /// # Errors
    /// A message for the first thing that is wrong.
    pub fn into_config(self) -> Result<Config, String> {
        let store = self.open_store()?;
        for user in &self.users {
            let hash = crate::password::hash(&user.password, self.password_iterations)
                .map_err(|e| format!("no randomness: {e}"))?;
            store
                .upsert_user(&user.username, &hash)
                .map_err(|e| format!("creating user {}: {e}", user.username))?;
        }
        let (keys, generated) = self.keys()?;
        if generated {
            eprintln!(
                "refresh-backend: no --signing-key given; tokens are signed with a random key that lasts as long as this process"
            );
        }
        let mut config = Config::new(store, keys);
        config.access_token_lifetime = self.access_token_lifetime;
        config.refresh_token_lifetime = self.refresh_token_lifetime;
        config.rotate_refresh_tokens = self.rotate_refresh_tokens;
        config.blacklist_after_rotation = self.blacklist_after_rotation;
        config.blacklist_store = !self.no_blacklist_store;
        config.user_id_field = self.user_id_field;
        config.user_id_claim = self.user_id_claim;
        config.auth_header_types = self
            .auth_header_types
            .into_iter()
            .map(|t| t.trim().to_owned())
            .filter(|t| !t.is_empty())
            .collect();
        config.leeway = self.leeway;
        config.secure_cookies = self.secure_cookies;
        config.access_cookie_name = self.access_cookie_name;
        config.refresh_cookie_name = self.refresh_cookie_name;
        config.atomic_rotation = self.atomic_rotation;
        config.rotation_grace = self.rotation_grace;
        config.reuse_detection = self.reuse_detection;
        config.session_max_lifetime = self.session_max_lifetime;
        config.static_mounts = self.static_mounts;
        config.cors_origins = self.cors_origins;
        config.test_hooks = self.test_hooks;
        config.oauth = OAuthConfig {
            clients: self.oauth_clients,
            access_token_lifetime: self.oauth_access_token_lifetime,
            refresh_token_lifetime: self.oauth_refresh_token_lifetime,
            scopes: self
                .oauth_scopes
                .into_iter()
                .map(|s| s.trim().to_owned())
                .filter(|s| !s.is_empty())
                .collect(),
        };
        config.body_timeout = self.body_timeout;
        config.request_timeout = self.request_timeout;
        config.validate()?;
        Ok(config)
    }
}

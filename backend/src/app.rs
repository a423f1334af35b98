//! `app(config) -> Router`: the routes, the state they share, and the
//! layers every response goes through (CORS, `WWW-Authenticate` on 401s, a
//! `Date` from the backend's own clock).

use std::sync::Arc;

use axum::extract::{Request, State};
use axum::http::{header, HeaderValue, StatusCode};
use axum::middleware::{from_fn_with_state, map_response_with_state};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::Router;
use tower_http::timeout::{RequestBodyTimeoutLayer, TimeoutLayer};

use crate::clock::{http_date, AdjustableClock};
use crate::config::Config;
use crate::cors::cors;
use crate::error::{ApiError, Unchallenged};
use crate::faults::Faults;
use crate::jwt::TokenCodec;
use crate::metrics::Metrics;
use crate::routes::{body_mode, cookie_mode, data, metrics, oauth_token, only, test_hooks};
use crate::static_files;

/// What every handler shares: the config, the token codec built from its
/// keys, the counters and the armed faults.
#[derive(Debug)]
pub(crate) struct AppState {
    /// As passed to [`app`].
    pub config: Config,
    /// Signs and checks tokens with the configured keys and leeway.
    pub codec: TokenCodec,
    /// The counters behind `/metrics`.
    pub metrics: Metrics,
    /// The faults armed through `/api/_test/faults`.
    pub faults: Faults,
    /// With `--test-hooks`, the clock `config.clock` is, which
    /// `/api/_test/clock` puts ahead.
    pub test_clock: Option<Arc<AdjustableClock>>,
}

/// The state as handlers hold it.
pub(crate) type SharedState = Arc<AppState>;

/// The whole backend as a router, for a socket or for `oneshot` tests.
///
/// The config is taken as given; [`Config::validate`] is the caller's to
/// run (the command line does).
pub fn app(mut config: Config) -> Router {
    let test_clock = config.test_hooks.then(|| {
        let clock = Arc::new(AdjustableClock::new(config.clock.clone()));
        config.clock = clock.clone();
        clock
    });
    let codec = TokenCodec::new(config.keys.clone(), config.leeway);
    let state = Arc::new(AppState {
        config,
        codec,
        metrics: Metrics::default(),
        faults: Faults::default(),
        test_clock,
    });
    let post_only = "POST, OPTIONS";
    let mut router = Router::new()
        .route(
            "/api/token/",
            post(body_mode::obtain).fallback(only(post_only, "Token Obtain Pair")),
        )
        .route(
            "/api/token/refresh/",
            post(body_mode::refresh).fallback(only(post_only, "Token Refresh")),
        )
        .route(
            "/api/token/verify/",
            post(body_mode::verify).fallback(only(post_only, "Token Verify")),
        )
        .route(
            "/api/token/blacklist/",
            post(body_mode::blacklist).fallback(only(post_only, "Token Blacklist")),
        )
        .route(
            "/api/auth/login/",
            post(cookie_mode::login).fallback(only(post_only, "Login")),
        )
        .route(
            "/api/auth/token/refresh/",
            post(cookie_mode::refresh)
                .fallback(only(post_only, "Refresh View With Cookie Support")),
        )
        .route(
            "/api/auth/logout/",
            // dj-rest-auth's view has `get` (405 unless ACCOUNT_LOGOUT_ON_GET).
            post(cookie_mode::logout).fallback(only("GET, HEAD, OPTIONS, POST", "Logout")),
        )
        .route(
            "/api/data/{n}/",
            get(data::show)
                .post(data::digest)
                .fallback(only("GET, POST, HEAD, OPTIONS", "Data")),
        )
        .route(
            "/metrics",
            get(metrics::render).fallback(only("GET, HEAD, OPTIONS", "Metrics")),
        );
    if !state.config.oauth.clients.is_empty() {
        router = router.route(
            "/o/token/",
            post(oauth_token::token).fallback(oauth_token::other),
        );
    }
    if state.config.test_hooks {
        router = router.route(
            "/api/_test/faults",
            get(test_hooks::show)
                .post(test_hooks::arm)
                .delete(test_hooks::clear)
                .fallback(only("GET, POST, DELETE, OPTIONS", "Faults")),
        );
        router = router.route(
            "/api/_test/clock",
            get(test_hooks::show_clock)
                .post(test_hooks::advance_clock)
                .fallback(only("GET, POST, OPTIONS", "Clock")),
        );
    }
    router
        .fallback(static_or_not_found)
        // A stalled body fails its read (408 from the handler); a request
        // that takes too long as a whole is answered 408 here.
        .layer(RequestBodyTimeoutLayer::new(state.config.body_timeout))
        .layer(TimeoutLayer::with_status_code(
            StatusCode::REQUEST_TIMEOUT,
            state.config.request_timeout,
        ))
        .layer(map_response_with_state(state.clone(), www_authenticate))
        .layer(map_response_with_state(state.clone(), date_from_own_clock))
        .layer(from_fn_with_state(state.clone(), cors))
        .with_state(state)
}

async fn static_or_not_found(State(state): State<SharedState>, request: Request) -> Response {
    if state.config.static_mounts.is_empty() {
        return ApiError::NotFound.into_response();
    }
    static_files::serve(&state.config.static_mounts, request).await
}

/// The `Date` of every answer comes from the clock the tokens are stamped
/// with, as on any server with one clock: a client that counts a token's
/// life as `access_expiration − Date` gets it right whatever its own clock
/// says (hyper would otherwise add the system time, and the test clock may
/// be ahead of it).
async fn date_from_own_clock(State(state): State<SharedState>, mut response: Response) -> Response {
    if let Ok(value) = HeaderValue::from_str(&http_date(state.config.clock.now().secs())) {
        response.headers_mut().insert(header::DATE, value);
    }
    response
}

/// DRF sets `WWW-Authenticate` on every 401 it raises, with the first
/// accepted scheme (`Bearer realm="api"` by default); here it is done once
/// for all routes. 401s a view writes by hand ([`Unchallenged`]) get none.
async fn www_authenticate(State(state): State<SharedState>, mut response: Response) -> Response {
    if response.status() == StatusCode::UNAUTHORIZED
        && !response.headers().contains_key(header::WWW_AUTHENTICATE)
        && response.extensions().get::<Unchallenged>().is_none()
    {
        let scheme = state
            .config
            .auth_header_types
            .first()
            .map_or("Bearer", String::as_str);
        if let Ok(value) = HeaderValue::from_str(&format!("{scheme} realm=\"api\"")) {
            response
                .headers_mut()
                .insert(header::WWW_AUTHENTICATE, value);
        }
    }
    response
}

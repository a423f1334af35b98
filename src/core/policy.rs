//! Which requests the coordinator takes care of, and where credentials may go.
//!
//! URLs arrive here already absolute and normalised (the web layer builds a
//! `Request`, whose `url` is the serialised URL), so plain string work is
//! exact: the origin is everything before the first `/` after `scheme://`.

use alloc::string::String;
use alloc::vec::Vec;

/// How the coordinator treats one request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Route {
    /// Credentials attached, 401s refreshed and replayed, queued behind a
    /// refresh in flight.
    Coordinated,
    /// The app opted this request out of refresh handling: credentials are
    /// attached, a 401 is returned as it is.
    OptedOut,
    /// An excluded URL (the login and refresh endpoints, and the app's own
    /// exclusions): sent without refresh handling and without a bearer
    /// header, which a login endpoint must not get stale; cookies still go,
    /// so the browser stores the ones the answer sets.
    Excluded,
    /// Another origin, not on the allow-list: sent exactly as the app wrote
    /// it. A 401 from someone else's server says nothing about our session,
    /// and our credentials must not travel there.
    Foreign,
}

/// The allow-list of origins and the excluded URLs.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RequestPolicy {
    allowed_origins: Vec<String>,
    excluded: Vec<String>,
}

impl RequestPolicy {
    /// `allowed_origins` are serialised origins (`https://api.example.com`);
    /// credentials go to these only. `excluded` are URL prefixes: one starting
    /// with `/` matches the path of a URL on an allowed origin, any other
    /// matches the start of the absolute URL.
    pub fn new(allowed_origins: Vec<String>, excluded: Vec<String>) -> Self {
        Self {
            allowed_origins,
            excluded,
        }
    }

    /// Adds an allowed origin (serialised, like `https://api.example.com`).
    pub fn allow(&mut self, origin: String) {
        self.allowed_origins.push(origin);
    }

    /// Adds an excluded URL prefix (see [`RequestPolicy::new`]).
    pub fn exclude(&mut self, prefix: String) {
        self.excluded.push(prefix);
    }

    /// Decides how to treat a request to `url`. `opted_out` is the app's
    /// per-request opt-out.
    pub fn route(&self, url: &str, opted_out: bool) -> Route {
        let (origin, path) = split_origin(url);
        if !self.allowed_origins.iter().any(|o| o == origin) {
            return Route::Foreign;
        }
        let excluded = self.excluded.iter().any(|pattern| {
            // Byte comparisons: same answers as `str::starts_with` on these
            // ASCII URLs, without str's char-boundary panic paths, which
            // would bring formatting code into the .wasm.
            let subject = if pattern.as_bytes().first() == Some(&b'/') {
                path
            } else {
                url
            };
            subject.as_bytes().starts_with(pattern.as_bytes())
        });
        if excluded {
            Route::Excluded
        } else if opted_out {
            Route::OptedOut
        } else {
            Route::Coordinated
        }
    }

    /// Whether credentials may be sent to `url`.
    pub fn allows(&self, url: &str) -> bool {
        let (origin, _) = split_origin(url);
        self.allowed_origins.iter().any(|o| o == origin)
    }
}

/// Splits an absolute URL into its origin and the rest (path, query,
/// fragment). A URL without `://` has no origin we could allow, so all of it
/// is "path" and the origin is empty.
pub fn split_origin(url: &str) -> (&str, &str) {
    let bytes = url.as_bytes();
    let Some(scheme_end) = bytes.windows(3).position(|w| w == b"://") else {
        return ("", url);
    };
    let after_scheme = scheme_end + 3;
    let authority_end = bytes
        .iter()
        .skip(after_scheme)
        .position(|b| matches!(b, b'/' | b'?' | b'#'))
        .map_or(bytes.len(), |i| after_scheme + i);
    // `authority_end` is at an ASCII byte or the end, a char boundary.
    match (url.get(..authority_end), url.get(authority_end..)) {
        (Some(origin), Some(rest)) => (origin, rest),
        _ => ("", url),
    }
}

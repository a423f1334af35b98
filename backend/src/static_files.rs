//! Static files for the demo page and the browser tests: `--static DIR`
//! mounts a directory at `/`, `--static /pkg=DIR` at `/pkg`. No auth.

use std::path::{Path, PathBuf};

use axum::body::Body;
use axum::extract::Request;
use axum::http::{header, HeaderValue, Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use tower::ServiceExt;
use tower_http::services::ServeDir;

use crate::error::ApiError;

/// A directory served under a URL prefix.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StaticMount {
    /// `/`, or a prefix such as `/pkg` (no trailing slash).
    pub prefix: String,
    /// The directory.
    pub dir: PathBuf,
}

impl std::str::FromStr for StaticMount {
    type Err = String;

    /// `DIR` (mounted at `/`) or `PREFIX=DIR`.
    fn from_str(spec: &str) -> Result<Self, String> {
        let (prefix, dir) = match spec.split_once('=') {
            Some((prefix, dir)) if prefix.starts_with('/') => (prefix, dir),
            _ => ("/", spec),
        };
        let trimmed = prefix.trim_end_matches('/');
        let prefix = if trimmed.is_empty() { "/" } else { trimmed };
        if dir.is_empty() {
            return Err(format!("--static {spec:?}: no directory"));
        }
        Ok(Self {
            prefix: prefix.to_owned(),
            dir: PathBuf::from(dir),
        })
    }
}

/// The `Content-Type` for a file name. `.wasm` must be exactly
/// `application/wasm` for streaming compilation, and module scripts need a
/// JavaScript type.
pub fn content_type(path: &Path) -> &'static str {
    let ext = path
        .extension()
        .and_then(|e| e.to_str())
        .map(str::to_ascii_lowercase)
        .unwrap_or_default();
    match ext.as_str() {
        "wasm" => "application/wasm",
        "js" | "mjs" => "text/javascript",
        "html" | "htm" => "text/html; charset=utf-8",
        "css" => "text/css",
        "svg" => "image/svg+xml",
        "png" => "image/png",
        "json" | "map" => "application/json",
        "txt" | "ts" => "text/plain; charset=utf-8",
        "ico" => "image/x-icon",
        _ => "application/octet-stream",
    }
}

/// The path below a mount's prefix, when `path` is under it.
fn below<'a>(prefix: &str, path: &'a str) -> Option<&'a str> {
    if prefix == "/" {
        return Some(path);
    }
    let rest = path.strip_prefix(prefix)?;
    (rest.is_empty() || rest.starts_with('/')).then_some(rest)
}

/// The redirect to `path` with a trailing slash, so that relative links in
/// a directory's index resolve inside it. The location is a path on this
/// site whatever the request said: `//name` (or `/\name`) would be another
/// host's address to a browser, an open redirect.
fn directory_redirect(path: &str) -> Response {
    let location = format!("/{}/", path.trim_start_matches(['/', '\\']));
    match HeaderValue::from_str(&location) {
        Ok(location) => (
            StatusCode::MOVED_PERMANENTLY,
            [(header::LOCATION, location)],
        )
            .into_response(),
        Err(_) => ApiError::NotFound.into_response(),
    }
}

/// Serves a GET or HEAD under one of `mounts`, the longest prefix first,
/// through `tower-http`'s `ServeDir` (which refuses `..` and absolute parts
/// after decoding, and answers ranges and conditional requests). Around it
/// stays what the browsers and DRF's shape need: the content types below,
/// `no-cache`, a site-relative directory redirect, and DRF's JSON 404 for
/// anything not served (a name the file system refuses, such as one with a
/// NUL, included: `ServeDir` answers those 500).
pub async fn serve(mounts: &[StaticMount], request: Request) -> Response {
    if request.method() != Method::GET && request.method() != Method::HEAD {
        return ApiError::NotFound.into_response();
    }
    let (parts, _body) = request.into_parts();
    let path = parts.uri.path();
    let mut candidates: Vec<&StaticMount> = mounts.iter().collect();
    candidates.sort_by_key(|m| std::cmp::Reverse(m.prefix.len()));
    for mount in candidates {
        let Some(rest) = below(&mount.prefix, path) else {
            continue;
        };
        if rest.is_empty() {
            return directory_redirect(path);
        }
        let Ok(uri) = Uri::builder().path_and_query(rest).build() else {
            return ApiError::NotFound.into_response();
        };
        let mut inner = Request::new(Body::empty());
        *inner.method_mut() = parts.method.clone();
        *inner.uri_mut() = uri;
        *inner.headers_mut() = parts.headers.clone();
        let Ok(response) = ServeDir::new(&mount.dir).oneshot(inner).await;
        let status = response.status();
        if status.is_redirection() && status != StatusCode::NOT_MODIFIED {
            return directory_redirect(path);
        }
        if status.is_success() || status == StatusCode::NOT_MODIFIED {
            let mut response = response.map(Body::new);
            let headers = response.headers_mut();
            // A directory's answer is its index.
            let served = if rest.ends_with('/') {
                "index.html"
            } else {
                rest
            };
            headers.insert(
                header::CONTENT_TYPE,
                HeaderValue::from_static(content_type(Path::new(served))),
            );
            // The tests rebuild files between runs; never serve a stale copy.
            headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
            return response;
        }
        if status == StatusCode::RANGE_NOT_SATISFIABLE {
            return response.map(Body::new);
        }
    }
    ApiError::NotFound.into_response()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mounts_parse_with_and_without_prefix() {
        let m: StaticMount = "www".parse().unwrap();
        assert_eq!(
            (m.prefix.as_str(), m.dir.as_path()),
            ("/", Path::new("www"))
        );
        let m: StaticMount = "/pkg/=build/pkg".parse().unwrap();
        assert_eq!(
            (m.prefix.as_str(), m.dir.as_path()),
            ("/pkg", Path::new("build/pkg"))
        );
    }

    #[test]
    fn prefixes_match_whole_segments() {
        assert_eq!(below("/pkg", "/pkgx/a"), None);
        assert_eq!(below("/pkg", "/pkg/a"), Some("/a"));
        assert_eq!(below("/", "//a"), Some("//a"));
    }

    #[test]
    fn content_types_fit_browsers() {
        assert_eq!(content_type(Path::new("a.wasm")), "application/wasm");
        assert_eq!(content_type(Path::new("a.mjs")), "text/javascript");
        assert_eq!(content_type(Path::new("a.SVG")), "image/svg+xml");
    }
}

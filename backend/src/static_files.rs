//! Static files for the demo page and the browser tests: `--static DIR`
//! mounts a directory at `/`, `--static /pkg=DIR` at `/pkg`. No auth.

use std::path::{Component, Path, PathBuf};

use axum::http::{header, HeaderValue, Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};

use crate::body::percent_decode;
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

/// The file a URL path names inside `dir`, refusing anything that could
/// leave it: `..`, absolute parts, backslashes, NUL, bad UTF-8 (all after
/// percent-decoding).
fn resolve(dir: &Path, rest: &str) -> Option<PathBuf> {
    let mut path = dir.to_path_buf();
    for segment in rest.split('/').filter(|s| !s.is_empty()) {
        let decoded = String::from_utf8(percent_decode(segment.as_bytes(), false)).ok()?;
        if decoded.contains(['/', '\\', '\0']) {
            return None;
        }
        let mut components = Path::new(&decoded).components();
        match (components.next(), components.next()) {
            (Some(Component::Normal(part)), None) => path.push(part),
            _ => return None,
        }
    }
    Some(path)
}

/// Serves a GET or HEAD under one of `mounts`, the longest prefix first;
/// anything else is a 404 in DRF's shape.
pub async fn serve(mounts: &[StaticMount], method: &Method, uri: &Uri) -> Response {
    if method != Method::GET && method != Method::HEAD {
        return ApiError::NotFound.into_response();
    }
    let path = uri.path();
    let mut candidates: Vec<&StaticMount> = mounts.iter().collect();
    candidates.sort_by_key(|m| std::cmp::Reverse(m.prefix.len()));
    for mount in candidates {
        let Some(rest) = below(&mount.prefix, path) else {
            continue;
        };
        let Some(file) = resolve(&mount.dir, rest) else {
            return ApiError::NotFound.into_response();
        };
        // Hyper leaves the body out of HEAD responses by itself.
        if let Some(response) = read(mount, &file, path).await {
            return response;
        }
    }
    ApiError::NotFound.into_response()
}

async fn read(mount: &StaticMount, file: &Path, url_path: &str) -> Option<Response> {
    // Symlinks may not lead outside the mounted directory.
    let root = tokio::fs::canonicalize(&mount.dir).await.ok()?;
    let mut real = tokio::fs::canonicalize(file).await.ok()?;
    if !real.starts_with(&root) {
        return None;
    }
    if tokio::fs::metadata(&real).await.ok()?.is_dir() {
        if !url_path.ends_with('/') {
            // So that relative links in the index resolve inside the directory.
            let location = HeaderValue::from_str(&format!("{url_path}/")).ok()?;
            return Some(
                (
                    StatusCode::MOVED_PERMANENTLY,
                    [(header::LOCATION, location)],
                )
                    .into_response(),
            );
        }
        real.push("index.html");
        if !tokio::fs::metadata(&real).await.ok()?.is_file() {
            return None;
        }
    }
    let bytes = tokio::fs::read(&real).await.ok()?;
    let headers = [
        (
            header::CONTENT_TYPE,
            HeaderValue::from_static(content_type(&real)),
        ),
        // The tests rebuild files between runs; never serve a stale copy.
        (header::CACHE_CONTROL, HeaderValue::from_static("no-cache")),
    ];
    Some((headers, bytes).into_response())
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
    fn traversal_is_refused_after_decoding() {
        let dir = Path::new("/srv");
        assert_eq!(resolve(dir, "/a/b.js"), Some(PathBuf::from("/srv/a/b.js")));
        assert_eq!(resolve(dir, "/../etc/passwd"), None);
        assert_eq!(resolve(dir, "/%2e%2e/etc/passwd"), None);
        assert_eq!(resolve(dir, "/a%2f..%2f..%2fx"), None);
        assert_eq!(resolve(dir, "/a%5c..%5cx"), None);
        assert_eq!(resolve(dir, "/a%00"), None);
        assert_eq!(resolve(dir, "/./a"), None);
        assert_eq!(below("/pkg", "/pkgx/a"), None);
        assert_eq!(below("/pkg", "/pkg/a"), Some("/a"));
    }

    #[test]
    fn content_types_fit_browsers() {
        assert_eq!(content_type(Path::new("a.wasm")), "application/wasm");
        assert_eq!(content_type(Path::new("a.mjs")), "text/javascript");
        assert_eq!(content_type(Path::new("a.SVG")), "image/svg+xml");
    }
}

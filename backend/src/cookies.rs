//! The `access` and `refresh` cookies of dj-rest-auth's cookie mode (their
//! names configurable as `JWT_AUTH_COOKIE` and `JWT_AUTH_REFRESH_COOKIE`):
//! `Set-Cookie` lines shaped as Django writes them, and `Cookie` headers
//! read with the `cookie` crate as Django's `parse_cookie` reads them.
//!
//! The `Set-Cookie` lines stay written by hand: the `cookie` crate puts the
//! attributes in an order of its own (`HttpOnly; SameSite=Lax; Path=/;
//! Max-Age=..; Expires=..`), and these lines are Django's byte for byte
//! (Python's `SimpleCookie` sorts them: `expires`, `HttpOnly`, `Max-Age`,
//! `Path`, `SameSite`, `Secure`).

use axum::http::{header, HeaderMap, HeaderValue};
use cookie::Cookie;

use crate::clock::{http_date, Timestamp};

/// The default of dj-rest-auth's `JWT_AUTH_COOKIE`.
pub const ACCESS_COOKIE: &str = "access";
/// The default of dj-rest-auth's `JWT_AUTH_REFRESH_COOKIE`.
pub const REFRESH_COOKIE: &str = "refresh";

/// Whether `name` is an RFC 6265 cookie name (an HTTP token), so that it
/// can go into `Set-Cookie` as it is.
pub fn is_cookie_name(name: &str) -> bool {
    !name.is_empty()
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b))
}

/// A cookie holding `value` until `expires_at` (whole seconds), HttpOnly,
/// SameSite=Lax, Path=/, and Secure when asked. Attributes come in the
/// order Python's `SimpleCookie` sorts them.
pub fn set_cookie(
    name: &str,
    value: &str,
    expires_at: i64,
    now: Timestamp,
    secure: bool,
) -> Option<HeaderValue> {
    let remaining_us = expires_at
        .saturating_mul(1_000_000)
        .saturating_sub(now.micros());
    let max_age = remaining_us.div_euclid(1_000_000).max(0);
    let secure = if secure { "; Secure" } else { "" };
    let line = format!(
        "{name}={value}; expires={}; HttpOnly; Max-Age={max_age}; Path=/; SameSite=Lax{secure}",
        http_date(now.secs().saturating_add(max_age))
    );
    HeaderValue::from_str(&line).ok()
}

/// The `Set-Cookie` that deletes a cookie, as Django's `delete_cookie`
/// writes it, plus SameSite (and Secure when the cookies are Secure) so that
/// browsers which insist on matching attributes still drop it.
pub fn delete_cookie(name: &str, secure: bool) -> HeaderValue {
    let line = format!(
        "{name}=\"\"; expires=Thu, 01 Jan 1970 00:00:00 GMT; Max-Age=0; Path=/; SameSite=Lax{}",
        if secure { "; Secure" } else { "" }
    );
    HeaderValue::from_str(&line).unwrap_or_else(|_| HeaderValue::from_static("invalid=\"\""))
}

/// Adds the deletions of the two named cookies to `headers`.
pub fn delete_auth_cookies(headers: &mut HeaderMap, names: [&str; 2], secure: bool) {
    for name in names {
        headers.append(header::SET_COOKIE, delete_cookie(name, secure));
    }
}

/// The value of cookie `name`, the last one winning as in Django's
/// `parse_cookie`, surrounding quotes taken off. Chunks that are no cookie
/// (no `=`, no name) are skipped, never an error.
pub fn read_cookie(headers: &HeaderMap, name: &str) -> Option<String> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .flat_map(|line| Cookie::split_parse(String::from_utf8_lossy(line.as_bytes()).into_owned()))
        .filter_map(Result::ok)
        .filter(|cookie| cookie.name() == name)
        .last()
        .map(|cookie| cookie.value_trimmed().to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn set_cookie_has_django_shape() {
        let line = set_cookie(
            "access",
            "abc",
            1300,
            Timestamp::from_micros(1_000_500_000),
            true,
        )
        .unwrap();
        assert_eq!(
            line.to_str().unwrap(),
            "access=abc; expires=Thu, 01 Jan 1970 00:21:39 GMT; HttpOnly; Max-Age=299; Path=/; SameSite=Lax; Secure"
        );
    }

    #[test]
    fn cookie_names_are_http_tokens() {
        assert!(is_cookie_name("naive_access"));
        assert!(is_cookie_name("__Host-refresh"));
        for bad in ["", "a b", "a=b", "a;b", "a,b", "\"a\"", "é"] {
            assert!(!is_cookie_name(bad), "{bad:?}");
        }
    }

    #[test]
    fn cookie_parsing_skips_garbage_and_last_wins() {
        let mut headers = HeaderMap::new();
        headers.append(
            header::COOKIE,
            HeaderValue::from_static("junk; refresh=one; ;=;x"),
        );
        headers.append(header::COOKIE, HeaderValue::from_static("refresh=\"two\""));
        assert_eq!(read_cookie(&headers, "refresh").as_deref(), Some("two"));
        assert_eq!(read_cookie(&headers, "access"), None);
    }
}

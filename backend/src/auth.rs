//! Authentication of protected requests: SimpleJWT's `JWTAuthentication`
//! reading the `Authorization` header, and dj-rest-auth's fallback to the
//! access cookie (`JWT_AUTH_COOKIE`) when there is no such header.

use axum::http::{header, HeaderMap};

use crate::app::AppState;
use crate::cookies::read_cookie;
use crate::error::ApiError;
use crate::jwt::TokenType;
use crate::session::NO_USER_CLAIM;
use crate::store::User;

/// Where the credentials of a request are.
#[derive(Debug, PartialEq, Eq)]
enum Credentials {
    /// A raw token from the header or the cookie.
    Token(String),
    /// Nothing usable: DRF's "not provided".
    None,
}

/// SimpleJWT's `get_header` + `get_raw_token`, then the cookie.
///
/// Several `Authorization` headers are joined with commas, as gunicorn
/// joins them before Django sees them; the result then has more than two
/// parts and is refused as malformed.
fn credentials(
    headers: &HeaderMap,
    header_types: &[String],
    access_cookie: &str,
) -> Result<Credentials, ApiError> {
    let lines: Vec<&[u8]> = headers
        .get_all(header::AUTHORIZATION)
        .iter()
        .map(|v| v.as_bytes())
        .collect();
    if lines.is_empty() {
        return Ok(match read_cookie(headers, access_cookie) {
            Some(token) if !token.is_empty() => Credentials::Token(token),
            _ => Credentials::None,
        });
    }
    let joined = lines.join(&b","[..]);
    let parts: Vec<&[u8]> = joined
        .split(|b| b.is_ascii_whitespace())
        .filter(|p| !p.is_empty())
        .collect();
    let Some(scheme) = parts.first() else {
        return Ok(Credentials::None);
    };
    if !header_types.iter().any(|t| t.as_bytes() == *scheme) {
        // Not a JWT header at all: for SimpleJWT someone else's business.
        return Ok(Credentials::None);
    }
    match parts.as_slice() {
        [_, token] => Ok(Credentials::Token(
            String::from_utf8_lossy(token).into_owned(),
        )),
        _ => Err(ApiError::AuthenticationFailedCode {
            detail: "Authorization header must contain two space-delimited values",
            code: "bad_authorization_header",
        }),
    }
}

impl AppState {
    /// The active user with this name and password, if any, as Django's
    /// `authenticate` finds one.
    ///
    /// # Errors
    /// [`ApiError::Server`] on a storage failure.
    pub fn check_credentials(
        &self,
        username: &str,
        password: &str,
    ) -> Result<Option<User>, ApiError> {
        let user = self
            .config
            .store
            .user_by_username(username)
            .map_err(|e| ApiError::internal("looking up the user", &e))?;
        Ok(user.filter(|u| u.is_active && crate::password::verify(password, &u.password_hash)))
    }

    /// The user a protected request is made by.
    ///
    /// # Errors
    /// SimpleJWT's 401s: not provided, malformed header, a token not valid
    /// as an access token, no user claim, user not found or inactive.
    pub fn authenticate(&self, headers: &HeaderMap) -> Result<User, ApiError> {
        let raw = match credentials(
            headers,
            &self.config.auth_header_types,
            &self.config.access_cookie_name,
        )? {
            Credentials::Token(raw) => raw,
            Credentials::None => return Err(ApiError::NotAuthenticated),
        };
        let decoded = match self.codec.decode(&raw, self.config.clock.now()) {
            Ok(decoded) => decoded,
            Err(error) => {
                // Not a JWT: perhaps an opaque access token from /o/token/.
                if let Some(user) = self.oauth_access_user(&raw)? {
                    return Ok(user);
                }
                return Err(ApiError::AccessToken(error));
            }
        };
        decoded
            .check(Some(TokenType::Access))
            .map_err(ApiError::AccessToken)?;
        let user_id = decoded
            .user_id(&self.config.user_id_claim)
            .ok_or(ApiError::TokenDetail(NO_USER_CLAIM))?;
        match self.user_for_claim(&user_id) {
            Ok(Some(user)) if user.is_active => Ok(user),
            Ok(Some(_)) => Err(ApiError::AuthenticationFailedCode {
                detail: "User is inactive",
                code: "user_inactive",
            }),
            Ok(None) => Err(ApiError::AuthenticationFailedCode {
                detail: "User not found",
                code: "user_not_found",
            }),
            Err(e) => Err(ApiError::internal("looking up the user", &e)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::HeaderValue;

    fn types() -> Vec<String> {
        vec!["JWT".to_owned(), "Bearer".to_owned()]
    }

    fn with_auth(values: &[&'static str]) -> HeaderMap {
        let mut headers = HeaderMap::new();
        for v in values {
            headers.append(header::AUTHORIZATION, HeaderValue::from_static(v));
        }
        headers
    }

    #[test]
    fn header_parsing_follows_simplejwt() {
        let t = types();
        assert_eq!(
            credentials(&with_auth(&["Bearer abc"]), &t, "access").unwrap(),
            Credentials::Token("abc".into())
        );
        assert_eq!(
            credentials(&with_auth(&["JWT abc"]), &t, "access").unwrap(),
            Credentials::Token("abc".into())
        );
        assert_eq!(
            credentials(&with_auth(&["Basic abc"]), &t, "access").unwrap(),
            Credentials::None
        );
        assert_eq!(
            credentials(&with_auth(&["bearer abc"]), &t, "access").unwrap(),
            Credentials::None
        );
        assert_eq!(
            credentials(&with_auth(&["   "]), &t, "access").unwrap(),
            Credentials::None
        );
        assert!(credentials(&with_auth(&["Bearer"]), &t, "access").is_err());
        assert!(credentials(&with_auth(&["Bearer a b"]), &t, "access").is_err());
        assert!(credentials(&with_auth(&["Bearer a", "Bearer b"]), &t, "access").is_err());
    }

    #[test]
    fn cookie_is_used_only_without_a_header() {
        let t = types();
        let mut headers = HeaderMap::new();
        headers.insert(header::COOKIE, HeaderValue::from_static("access=tok"));
        assert_eq!(
            credentials(&headers, &t, "access").unwrap(),
            Credentials::Token("tok".into())
        );
        headers.insert(header::AUTHORIZATION, HeaderValue::from_static("Basic x"));
        assert_eq!(
            credentials(&headers, &t, "access").unwrap(),
            Credentials::None
        );
    }
}

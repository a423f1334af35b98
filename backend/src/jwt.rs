//! Signing and checking JWTs the way SimpleJWT 5.5 (on PyJWT) does, with
//! its messages.
//!
//! `jsonwebtoken` checks only the signature and the algorithm here; every
//! claim check is done by hand so that each failure gets the exact message
//! SimpleJWT gives, in SimpleJWT's order.

use std::fmt;

use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use serde_json::{Map, Value};

use crate::clock::Timestamp;

/// Claim names SimpleJWT uses (`TOKEN_TYPE_CLAIM`, `JTI_CLAIM`).
pub const TOKEN_TYPE_CLAIM: &str = "token_type";
/// The token id claim.
pub const JTI_CLAIM: &str = "jti";
/// Time of the login that started a token family; only written when a
/// session cap is configured, so default tokens carry SimpleJWT's claims only.
pub const AUTH_TIME_CLAIM: &str = "auth_time";

/// What a token is for (`token_type` claim).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TokenType {
    /// Sent with API requests.
    Access,
    /// Exchanged for new access tokens.
    Refresh,
}

impl TokenType {
    /// The claim value.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Access => "access",
            Self::Refresh => "refresh",
        }
    }

    /// SimpleJWT's class name, used in the `messages` list of a 401 from a
    /// protected endpoint.
    pub fn class_name(self) -> &'static str {
        match self {
            Self::Access => "AccessToken",
            Self::Refresh => "RefreshToken",
        }
    }
}

/// Why a token was refused. The [`fmt::Display`] text is SimpleJWT's message.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum TokenError {
    /// Bad format, bad signature, wrong algorithm, malformed claims.
    Invalid,
    /// `exp` has passed.
    Expired,
    /// The refresh token is in the blacklist.
    Blacklisted,
    /// `token_type` is not the expected one.
    WrongType,
    /// No `token_type` claim.
    NoType,
    /// No `jti` claim.
    NoId,
    /// No `exp` claim.
    NoExp,
}

impl TokenError {
    /// SimpleJWT's message.
    pub fn message(self) -> &'static str {
        match self {
            Self::Invalid => "Token is invalid",
            Self::Expired => "Token is expired",
            Self::Blacklisted => "Token is blacklisted",
            Self::WrongType => "Token has wrong type",
            Self::NoType => "Token has no type",
            Self::NoId => "Token has no id",
            Self::NoExp => "Token has no 'exp' claim",
        }
    }
}

impl fmt::Display for TokenError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.message())
    }
}

/// The algorithm with its keys. HMAC uses one secret for both; RSA signs
/// with a private PEM and verifies with the public one.
#[derive(Clone)]
pub struct SigningKeys {
    algorithm: Algorithm,
    encoding: EncodingKey,
    decoding: DecodingKey,
}

impl SigningKeys {
    /// HMAC keys (`HS256`, `HS384`, `HS512`) from a shared secret.
    ///
    /// # Errors
    /// Returns a message when `algorithm` is not an HMAC algorithm or the
    /// secret is empty.
    pub fn hmac(algorithm: Algorithm, secret: &[u8]) -> Result<Self, String> {
        if !matches!(
            algorithm,
            Algorithm::HS256 | Algorithm::HS384 | Algorithm::HS512
        ) {
            return Err(format!("{algorithm:?} is not an HMAC algorithm"));
        }
        if secret.is_empty() {
            return Err("the signing key must not be empty".to_owned());
        }
        Ok(Self {
            algorithm,
            encoding: EncodingKey::from_secret(secret),
            decoding: DecodingKey::from_secret(secret),
        })
    }

    /// HS256 with 32 random bytes: the development default when no key is
    /// given, so that no fixed secret ever ships in the code.
    ///
    /// # Errors
    /// Returns a message when the operating system has no randomness to give.
    pub fn random_hs256() -> Result<Self, String> {
        let mut secret = [0u8; 32];
        getrandom::getrandom(&mut secret).map_err(|e| format!("no randomness: {e}"))?;
        Self::hmac(Algorithm::HS256, &secret)
    }

    /// RSA keys (`RS256`, `RS384`, `RS512`) from PEM text.
    ///
    /// # Errors
    /// Returns a message when `algorithm` is not an RSA algorithm or a PEM
    /// does not parse, or when the two keys are not a pair.
    pub fn rsa_pem(
        algorithm: Algorithm,
        private_pem: &[u8],
        public_pem: &[u8],
    ) -> Result<Self, String> {
        if !matches!(
            algorithm,
            Algorithm::RS256 | Algorithm::RS384 | Algorithm::RS512
        ) {
            return Err(format!("{algorithm:?} is not an RSA algorithm"));
        }
        let keys = Self {
            algorithm,
            encoding: EncodingKey::from_rsa_pem(private_pem)
                .map_err(|e| format!("signing key: {e}"))?,
            decoding: DecodingKey::from_rsa_pem(public_pem)
                .map_err(|e| format!("verifying key: {e}"))?,
        };
        keys.check_pair()?;
        Ok(keys)
    }

    /// The algorithm tokens are signed with.
    pub fn algorithm(&self) -> Algorithm {
        self.algorithm
    }

    /// Signs and verifies a probe, so a mismatched key pair fails at start
    /// instead of on every request.
    fn check_pair(&self) -> Result<(), String> {
        let mut probe = Map::new();
        probe.insert("probe".to_owned(), Value::Bool(true));
        let token = jsonwebtoken::encode(&Header::new(self.algorithm), &probe, &self.encoding)
            .map_err(|e| format!("cannot sign with the signing key: {e}"))?;
        let mut validation = Validation::new(self.algorithm);
        relax(&mut validation);
        jsonwebtoken::decode::<Map<String, Value>>(&token, &self.decoding, &validation)
            .map(|_| ())
            .map_err(|e| format!("the verifying key does not match the signing key: {e}"))
    }
}

impl fmt::Debug for SigningKeys {
    // Never print key material.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SigningKeys")
            .field("algorithm", &self.algorithm)
            .finish_non_exhaustive()
    }
}

/// Leaves only the signature and algorithm checks to `jsonwebtoken`.
fn relax(validation: &mut Validation) {
    validation.required_spec_claims.clear();
    validation.validate_exp = false;
    validation.validate_nbf = false;
    validation.validate_aud = false;
    validation.leeway = 0;
}

/// Signs tokens and checks presented ones.
#[derive(Debug, Clone)]
pub struct TokenCodec {
    keys: SigningKeys,
    validation: Validation,
    leeway_secs: f64,
}

/// A token whose signature checked out, with its claims not yet judged
/// beyond what PyJWT itself checks (`exp`, `iat`, `nbf` values).
#[derive(Debug, Clone)]
pub struct DecodedToken {
    claims: Map<String, Value>,
}

impl TokenCodec {
    /// A codec for `keys`, allowing `leeway` of clock skew on time claims.
    pub fn new(keys: SigningKeys, leeway: std::time::Duration) -> Self {
        let mut validation = Validation::new(keys.algorithm);
        relax(&mut validation);
        Self {
            keys,
            validation,
            leeway_secs: leeway.as_secs_f64(),
        }
    }

    /// Signs `claims`.
    ///
    /// # Errors
    /// Fails only when the signing key cannot sign, which [`SigningKeys`]
    /// already ruled out at start.
    pub fn sign(&self, claims: &Map<String, Value>) -> Result<String, jsonwebtoken::errors::Error> {
        jsonwebtoken::encode(
            &Header::new(self.keys.algorithm),
            claims,
            &self.keys.encoding,
        )
    }

    /// Checks the signature, the algorithm and the time claims the way
    /// `PyJWT.decode` does for SimpleJWT's token backend.
    ///
    /// # Errors
    /// [`TokenError::Expired`] when `exp` has passed, [`TokenError::Invalid`]
    /// for anything else wrong (format, signature, `alg: none`, an HS/RS
    /// mix-up, non-numeric time claims, `iat` or `nbf` in the future, a
    /// non-string `jti`).
    pub fn decode(&self, raw: &str, now: Timestamp) -> Result<DecodedToken, TokenError> {
        let data =
            jsonwebtoken::decode::<Map<String, Value>>(raw, &self.keys.decoding, &self.validation)
                .map_err(|_| TokenError::Invalid)?;
        let claims = data.claims;
        let now = now.secs_f64();
        if let Some(exp) = claims.get("exp") {
            let exp = numeric(exp).ok_or(TokenError::Invalid)?;
            if exp <= now - self.leeway_secs {
                return Err(TokenError::Expired);
            }
        }
        for not_before in ["iat", "nbf"] {
            if let Some(value) = claims.get(not_before) {
                let value = numeric(value).ok_or(TokenError::Invalid)?;
                if value > now + self.leeway_secs {
                    return Err(TokenError::Invalid);
                }
            }
        }
        if claims.get(JTI_CLAIM).is_some_and(|jti| !jti.is_string()) {
            return Err(TokenError::Invalid);
        }
        Ok(DecodedToken { claims })
    }
}

/// A JSON number as PyJWT reads a time claim (`int(value)`): integers as they
/// are, floats truncated. Anything else is not a time.
fn numeric(value: &Value) -> Option<f64> {
    match value {
        Value::Number(n) => n
            .as_i64()
            .map(|i| i as f64)
            .or_else(|| n.as_f64().map(f64::trunc)),
        _ => None,
    }
}

impl DecodedToken {
    /// The rest of SimpleJWT's `Token.verify`, after the blacklist check:
    /// `exp` present, `jti` present, then the type (unless `expected` is
    /// `None`, as for `UntypedToken` in the verify endpoint).
    ///
    /// # Errors
    /// [`TokenError::NoExp`], [`TokenError::NoId`], [`TokenError::NoType`] or
    /// [`TokenError::WrongType`], in that order of checking.
    pub fn check(&self, expected: Option<TokenType>) -> Result<(), TokenError> {
        if !self.claims.contains_key("exp") {
            return Err(TokenError::NoExp);
        }
        if self.jti().is_none() {
            return Err(TokenError::NoId);
        }
        if let Some(expected) = expected {
            match self.claims.get(TOKEN_TYPE_CLAIM) {
                None => return Err(TokenError::NoType),
                Some(Value::String(t)) if t == expected.as_str() => {}
                Some(_) => return Err(TokenError::WrongType),
            }
        }
        Ok(())
    }

    /// The `jti` claim, when it is there (it is always a string once decoded).
    pub fn jti(&self) -> Option<&str> {
        self.claims.get(JTI_CLAIM).and_then(Value::as_str)
    }

    /// The `exp` claim in whole seconds, when it is there.
    pub fn exp(&self) -> Option<i64> {
        self.claims.get("exp").and_then(numeric).map(|e| e as i64)
    }

    /// The user id claim as a string. SimpleJWT writes it as a string; older
    /// tokens may hold an integer. Any other JSON type is no user id at all.
    pub fn user_id(&self, claim: &str) -> Option<String> {
        match self.claims.get(claim)? {
            Value::String(s) => Some(s.clone()),
            Value::Number(n) if n.is_i64() || n.is_u64() => Some(n.to_string()),
            _ => None,
        }
    }

    /// The `auth_time` claim, when it is a number.
    pub fn auth_time(&self) -> Option<i64> {
        self.claims
            .get(AUTH_TIME_CLAIM)
            .and_then(numeric)
            .map(|t| t as i64)
    }

    /// All claims, to copy into a rotated or derived token.
    pub fn claims(&self) -> &Map<String, Value> {
        &self.claims
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;
    use std::time::Duration;

    fn codec() -> TokenCodec {
        TokenCodec::new(
            SigningKeys::hmac(Algorithm::HS256, b"test-secret").unwrap(),
            Duration::ZERO,
        )
    }

    fn claims(value: Value) -> Map<String, Value> {
        value.as_object().unwrap().clone()
    }

    #[test]
    fn expired_and_future_iat_are_told_apart() {
        let codec = codec();
        let now = Timestamp::from_secs(1000);
        let expired = codec.sign(&claims(json!({"exp": 1000}))).unwrap();
        assert_eq!(
            codec.decode(&expired, now).unwrap_err(),
            TokenError::Expired
        );
        let future = codec
            .sign(&claims(json!({"exp": 2000, "iat": 1500})))
            .unwrap();
        assert_eq!(codec.decode(&future, now).unwrap_err(), TokenError::Invalid);
        let text_exp = codec.sign(&claims(json!({"exp": "2000"}))).unwrap();
        assert_eq!(
            codec.decode(&text_exp, now).unwrap_err(),
            TokenError::Invalid
        );
    }

    #[test]
    fn claim_checks_follow_simplejwt_order() {
        let codec = codec();
        let now = Timestamp::from_secs(1000);
        let no_exp = codec
            .sign(&claims(json!({"token_type": "refresh"})))
            .unwrap();
        let decoded = codec.decode(&no_exp, now).unwrap();
        assert_eq!(
            decoded.check(Some(TokenType::Refresh)),
            Err(TokenError::NoExp)
        );
        let no_jti = codec
            .sign(&claims(json!({"exp": 2000, "token_type": "refresh"})))
            .unwrap();
        let decoded = codec.decode(&no_jti, now).unwrap();
        assert_eq!(
            decoded.check(Some(TokenType::Refresh)),
            Err(TokenError::NoId)
        );
        let access = codec
            .sign(&claims(
                json!({"exp": 2000, "jti": "a", "token_type": "access"}),
            ))
            .unwrap();
        let decoded = codec.decode(&access, now).unwrap();
        assert_eq!(
            decoded.check(Some(TokenType::Refresh)),
            Err(TokenError::WrongType)
        );
        assert_eq!(decoded.check(None), Ok(()));
    }

    #[test]
    fn rsa_keys_must_be_a_pair() {
        assert!(SigningKeys::rsa_pem(Algorithm::RS256, b"nope", b"nope").is_err());
        assert!(SigningKeys::hmac(Algorithm::RS256, b"secret").is_err());
    }
}

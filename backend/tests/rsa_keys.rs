//! RS256 with a PEM key pair, and the HS/RS confusion attack against it.
//! The key pair is generated for the test run, never stored.

// Test code: a failed unwrap or index is a failed test, which is what we want
// (.clippy.toml allows these in #[test] fns but not in their helpers).
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

mod common;

use axum::body::Body;
use axum::http::{Method, StatusCode};
use common::*;
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use refresh_backend::SigningKeys;
use rsa::pkcs8::{EncodePrivateKey, EncodePublicKey, LineEnding};
use serde_json::json;

#[tokio::test]
async fn rs256_pem_keys_sign_and_hs256_with_the_public_key_is_refused() {
    let private = rsa::RsaPrivateKey::new(&mut rand::rngs::OsRng, 2048).unwrap();
    let private_pem = private.to_pkcs8_pem(LineEnding::LF).unwrap();
    let public_pem = private
        .to_public_key()
        .to_public_key_pem(LineEnding::LF)
        .unwrap();
    let keys = SigningKeys::rsa_pem(
        Algorithm::RS256,
        private_pem.as_bytes(),
        public_pem.as_bytes(),
    )
    .unwrap();
    let app = test_app(|c| {
        c.keys = keys;
        rotating(c);
    });
    let (access, refresh) = app.login().await;
    assert_eq!(claims_of(&access)["user_id"], app.user_pk.to_string());
    let reply = app.refresh(&refresh).await;
    assert_eq!(reply.status, StatusCode::OK);
    let header = format!("Bearer {access}");
    let reply = app
        .call(
            Method::GET,
            "/api/data/1/",
            &[("authorization", &header)],
            Body::empty(),
        )
        .await;
    assert_eq!(reply.status, StatusCode::OK);

    // The classic confusion: HS256 keyed with the (public) verifying key.
    let forged = jsonwebtoken::encode(
        &Header::new(Algorithm::HS256),
        &claims_of(&refresh),
        &EncodingKey::from_secret(public_pem.as_bytes()),
    )
    .unwrap();
    let reply = app.refresh(&forged).await;
    assert_eq!(
        reply.json(),
        json!({"detail": "Token is invalid", "code": "token_not_valid"})
    );
    // An HS256 token from the test secret is no better.
    let reply = app.refresh(&forge(refresh_claims())).await;
    assert_eq!(reply.status, StatusCode::UNAUTHORIZED);

    // A public key that is not the pair's is refused at start.
    let other = rsa::RsaPrivateKey::new(&mut rand::rngs::OsRng, 1024).unwrap();
    let other_public = other
        .to_public_key()
        .to_public_key_pem(LineEnding::LF)
        .unwrap();
    assert!(SigningKeys::rsa_pem(
        Algorithm::RS256,
        private_pem.as_bytes(),
        other_public.as_bytes()
    )
    .is_err());
}

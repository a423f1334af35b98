//! The bugs of the seed articles (shared/seeds/), one regression test each.

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
use refresh_backend::{Timestamp, TokenStore, UserIdField};
use serde_json::json;

/// Seed 000, SimpleJWT 5.5.0 #875: with rotation on and the token_blacklist
/// app not installed, every refresh crashed with
/// `AttributeError: type object 'OutstandingToken' has no attribute 'objects'`.
#[tokio::test]
async fn rotation_works_without_the_blacklist_store_simplejwt_875() {
    let app = test_app(|c| {
        rotating(c);
        c.blacklist_store = false;
    });
    let (_, t0) = app.login().await;
    let reply = app.refresh(&t0).await;
    assert_eq!(reply.status, StatusCode::OK);
    let t1 = reply.json()["refresh"].as_str().unwrap().to_owned();
    assert_eq!(app.refresh(&t1).await.status, StatusCode::OK);
    // Nothing was written: there is no store to write to.
    let counts = app.store.counts().unwrap();
    assert_eq!((counts.outstanding, counts.blacklisted), (0, 0));
    // Without the store nothing is blacklisted, exactly as SimpleJWT then.
    assert_eq!(app.refresh(&t0).await.status, StatusCode::OK);
}

/// Seed 001, SimpleJWT #874: `USER_ID_FIELD = "uuid"` with rotation and
/// blacklisting failed with `ValueError: Field 'id' expected a number but
/// got '4faf8673-...'`: the uuid claim was used as the primary key.
#[tokio::test]
async fn uuid_user_id_field_works_with_rotation_and_blacklist_simplejwt_874() {
    let app = test_app(|c| {
        rotating(c);
        c.user_id_field = UserIdField::Uuid;
    });
    let (access, t0) = app.login().await;
    assert_eq!(claims_of(&t0)["user_id"], app.user_uuid);
    let reply = app.refresh(&t0).await;
    assert_eq!(reply.status, StatusCode::OK, "{:?}", reply.json());
    let t1 = reply.json()["refresh"].as_str().unwrap().to_owned();
    assert_eq!(claims_of(&t1)["user_id"], app.user_uuid);
    assert_eq!(app.refresh(&t0).await.status, StatusCode::UNAUTHORIZED);
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
    // The blacklist rows point at the user's primary key, not the uuid.
    let counts = app.store.counts().unwrap();
    assert_eq!(
        (counts.outstanding, counts.blacklisted, counts.orphans),
        (2, 1, 0)
    );
}

/// The other direction of #874: a claim that cannot be a value of the id
/// field (a uuid where an integer key is expected, or garbage where a uuid
/// is) is "no such user", a 401, never a crash.
#[tokio::test]
async fn user_id_claim_of_the_wrong_type_is_401_not_500() {
    let by_id = test_app(rotating);
    let mut claims = refresh_claims();
    claims["user_id"] = json!("4faf8673-02f5-4a1d-8994-dd76adab934a");
    let reply = by_id.refresh(&forge(claims)).await;
    assert_eq!(reply.status, StatusCode::UNAUTHORIZED);
    assert_eq!(
        reply.json(),
        json!({"detail": "No active account found for the given token."})
    );

    let by_uuid = test_app(|c| {
        rotating(c);
        c.user_id_field = UserIdField::Uuid;
    });
    for value in [json!("1"), json!(1), json!("not-a-uuid")] {
        let mut claims = refresh_claims();
        claims["user_id"] = value;
        let reply = by_uuid.refresh(&forge(claims)).await;
        assert_eq!(reply.status, StatusCode::UNAUTHORIZED);
    }
}

/// Seed 003, Djoser: with `AUTH_HEADER_TYPES = ('JWT', 'Bearer')` both
/// schemes authenticate, and logout works whichever one the client uses.
#[tokio::test]
async fn jwt_and_bearer_both_accepted_and_logout_works_with_either_djoser() {
    let app = test_app(|c| c.auth_header_types = vec!["JWT".into(), "Bearer".into()]);
    for scheme in ["JWT", "Bearer"] {
        let login = app
            .post_json(
                "/api/auth/login/",
                json!({"username": USER, "password": PASSWORD}),
            )
            .await;
        let access = login.json()["access"].as_str().unwrap().to_owned();
        let refresh = login.cookie("refresh").unwrap();
        let header = format!("{scheme} {access}");
        let reply = app
            .call(
                Method::GET,
                "/api/data/5/",
                &[("authorization", &header)],
                Body::empty(),
            )
            .await;
        assert_eq!(reply.status, StatusCode::OK, "{scheme}");
        let cookie = format!("refresh={refresh}");
        let reply = app
            .call(
                Method::POST,
                "/api/auth/logout/",
                &[("authorization", &header), ("cookie", &cookie)],
                Body::empty(),
            )
            .await;
        assert_eq!(reply.status, StatusCode::OK, "{scheme}");
        assert_eq!(reply.json(), json!({"detail": "Successfully logged out."}));
        assert_eq!(app.refresh(&refresh).await.status, StatusCode::UNAUTHORIZED);
    }
    // With only Bearer configured, a JWT header is someone else's scheme.
    let bearer_only = test_app(|_| {});
    let (access, _) = bearer_only.login().await;
    let header = format!("JWT {access}");
    let reply = bearer_only
        .call(
            Method::GET,
            "/api/data/5/",
            &[("authorization", &header)],
            Body::empty(),
        )
        .await;
    assert_eq!(
        reply.json(),
        json!({"detail": "Authentication credentials were not provided."})
    );
}

/// Seed 002, DOT `clear_expired`: purging expired tokens must leave no
/// orphan rows. Expired outstanding tokens go with their blacklist rows;
/// live ones and their rows stay.
#[tokio::test]
async fn flush_expired_tokens_leaves_no_orphans_dot_clear_expired() {
    let app = test_app(|c| {
        rotating(c);
        c.refresh_token_lifetime = std::time::Duration::from_secs(100);
    });
    let (_, t0) = app.login().await;
    let t1 = app.refresh(&t0).await.json()["refresh"]
        .as_str()
        .unwrap()
        .to_owned();
    app.post_json("/api/token/blacklist/", json!({"refresh": t1}))
        .await;
    app.advance(50);
    let (_, live) = app.login().await;
    let before = app.store.counts().unwrap();
    assert_eq!((before.outstanding, before.blacklisted), (3, 2));
    app.advance(51); // t0 and t1 have expired, `live` has not.
    let report = app
        .store
        .flush_expired(Timestamp::from_secs(app.now()))
        .unwrap();
    assert_eq!((report.outstanding, report.blacklisted), (2, 2));
    let after = app.store.counts().unwrap();
    assert_eq!(
        (after.outstanding, after.blacklisted, after.orphans),
        (1, 0, 0)
    );
    assert_eq!(app.refresh(&live).await.status, StatusCode::OK);
}

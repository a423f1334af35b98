//! The store suite, run against both stores (issue 14: one suite, two
//! backends): SQLite in memory, and PostgreSQL on a throw-away cluster.

// Test code: a failed unwrap or index is a failed test, which is what we want
// (.clippy.toml allows these in #[test] fns but not in their helpers).
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

mod common;

use std::time::Duration;

use common::postgres::Cluster;
use refresh_backend::store::{
    FlushReport, OutstandingToken, Rotation, RotationOutcome, StoreCounts,
};
use refresh_backend::{PostgresStore, SqliteStore, Timestamp, TokenStore};

fn token(jti: &str, family: &str, expires_at: i64) -> OutstandingToken {
    OutstandingToken {
        jti: jti.to_owned(),
        user_pk: None,
        family: family.to_owned(),
        token: format!("token-{jti}"),
        created_at: 0,
        expires_at,
    }
}

fn rotation<'a>(
    presented: &'a OutstandingToken,
    successor: &'a OutstandingToken,
    now: i64,
    grace: Option<u64>,
    reuse_detection: bool,
) -> Rotation<'a> {
    Rotation {
        presented,
        successor,
        now: Timestamp::from_secs(now),
        grace: grace.map(Duration::from_secs),
        reuse_detection,
    }
}

fn users_get_distinct_v4_uuids_and_upsert_keeps_the_row(store: &dyn TokenStore) {
    let a = store.upsert_user("a", "h1").unwrap();
    let b = store.upsert_user("b", "h2").unwrap();
    assert_ne!(a.uuid, b.uuid);
    assert_eq!(a.uuid.len(), 36);
    assert_eq!(a.uuid.chars().nth(14), Some('4'));
    let again = store.upsert_user("a", "h3").unwrap();
    assert_eq!((again.pk, again.uuid.as_str()), (a.pk, a.uuid.as_str()));
    assert_eq!(again.password_hash, "h3");
    assert_eq!(store.user_by_uuid(&a.uuid).unwrap().unwrap().pk, a.pk);
}

fn rotation_consumes_once_and_grace_returns_the_same_successor(store: &dyn TokenStore) {
    let t0 = token("t0", "t0", 100);
    let t1 = token("t1", "ignored", 200);
    let t1b = token("t1b", "ignored", 200);
    store.outstand(&t0).unwrap();
    assert_eq!(
        store
            .rotate(&rotation(&t0, &t1, 10, Some(5), false))
            .unwrap(),
        RotationOutcome::Rotated
    );
    assert_eq!(
        store
            .rotate(&rotation(&t0, &t1b, 14, Some(5), false))
            .unwrap(),
        RotationOutcome::GraceReuse {
            token: "token-t1".into(),
            expires_at: 200
        }
    );
    assert_eq!(
        store
            .rotate(&rotation(&t0, &t1b, 16, Some(5), false))
            .unwrap(),
        RotationOutcome::Blacklisted
    );
    assert_eq!(store.counts().unwrap().outstanding, 2);
}

fn reuse_outside_grace_revokes_the_whole_family(store: &dyn TokenStore) {
    let t0 = token("t0", "t0", 100);
    let t1 = token("t1", "x", 200);
    let t2 = token("t2", "x", 300);
    store.outstand(&t0).unwrap();
    store.rotate(&rotation(&t0, &t1, 10, None, true)).unwrap();
    store.rotate(&rotation(&t1, &t2, 11, None, true)).unwrap();
    let spare = token("t9", "x", 300);
    assert_eq!(
        store
            .rotate(&rotation(&t0, &spare, 12, None, true))
            .unwrap(),
        RotationOutcome::ReuseDetected { revoked: 1 }
    );
    assert!(store.is_blacklisted("t2").unwrap());
}

fn flush_removes_expired_tokens_and_their_blacklist_rows(store: &dyn TokenStore) {
    store.outstand(&token("old", "old", 50)).unwrap();
    store
        .blacklist(&token("old", "old", 50), Timestamp::from_secs(1))
        .unwrap();
    store
        .blacklist(
            &token("never-outstanding", "n", 60),
            Timestamp::from_secs(1),
        )
        .unwrap();
    store.outstand(&token("live", "live", 500)).unwrap();
    let report = store.flush_expired(Timestamp::from_secs(100)).unwrap();
    assert_eq!(
        report,
        FlushReport {
            outstanding: 2,
            blacklisted: 2
        }
    );
    assert_eq!(
        store.counts().unwrap(),
        StoreCounts {
            outstanding: 1,
            blacklisted: 0,
            orphans: 0
        }
    );
}

/// Every case, each on a fresh store from `fresh`.
fn suite(fresh: &mut dyn FnMut() -> Box<dyn TokenStore>) {
    users_get_distinct_v4_uuids_and_upsert_keeps_the_row(&*fresh());
    rotation_consumes_once_and_grace_returns_the_same_successor(&*fresh());
    reuse_outside_grace_revokes_the_whole_family(&*fresh());
    flush_removes_expired_tokens_and_their_blacklist_rows(&*fresh());
}

#[test]
fn the_sqlite_store_passes_the_suite() {
    suite(&mut || Box::new(SqliteStore::in_memory().unwrap()));
}

#[test]
fn the_postgres_store_passes_the_suite() {
    let cluster = Cluster::start("suite");
    let mut n = 0;
    suite(&mut || {
        n += 1;
        let url = cluster.database(&format!("suite{n}"));
        Box::new(PostgresStore::connect(&url, 2).unwrap())
    });
}

//! The OAuth half of [`super::PostgresStore`], as the SQLite store's
//! (`sqlite_oauth.rs`) but with the presented refresh token's row locked
//! for its exchange. Its statements, as the token store's, are prepared
//! once per connection (`prepare_cached`, through `super::cached`).

use std::time::Duration;

use deadpool_postgres::{Client, Transaction};

use super::cached;

use crate::clock::Timestamp;
use crate::store::oauth::flush_cutoff;
use crate::store::{
    OAuthAccess, OAuthCounts, OAuthFlushReport, OAuthIssue, OAuthPair, OAuthRefreshState,
    OAuthRotation, OAuthRotationOutcome, StoreError,
};

/// Inserts a pair: the access token (made by refresh `source`, if any),
/// then the refresh token pointing at it.
pub async fn issue(
    tx: &Transaction<'_>,
    issue: &OAuthIssue<'_>,
    family: &str,
    source: Option<i64>,
) -> Result<(), StoreError> {
    let access_id: i64 = cached::query_one(
        tx,
        "INSERT INTO oauth_access_tokens
         (token, user_id, client_id, scope, expires_at_us, source_refresh_id)
         VALUES ($1, $2, $3, $4, $5, $6) RETURNING id",
        &[
            &issue.access_token,
            &issue.user_pk,
            &issue.client_id,
            &issue.scope,
            &issue.access_expires_at.micros(),
            &source,
        ],
    )
    .await?
    .get(0);
    cached::execute(
        tx,
        "INSERT INTO oauth_refresh_tokens
         (token, user_id, client_id, scope, access_token_id, family)
         VALUES ($1, $2, $3, $4, $5, $6)",
        &[
            &issue.refresh_token,
            &issue.user_pk,
            &issue.client_id,
            &issue.scope,
            &access_id,
            &family,
        ],
    )
    .await?;
    Ok(())
}

/// A refresh token as the grant checks it.
pub async fn refresh_state(
    client: &Client,
    token: &str,
) -> Result<Option<OAuthRefreshState>, StoreError> {
    let row = cached::query_opt(
        client,
        "SELECT user_id, client_id, scope, revoked_at_us FROM oauth_refresh_tokens WHERE token = $1",
        &[&token],
    )
    .await?;
    Ok(row.map(|r| OAuthRefreshState {
        user_pk: r.get(0),
        client_id: r.get(1),
        scope: r.get(2),
        revoked_at: r.get::<_, Option<i64>>(3).map(Timestamp::from_micros),
    }))
}

async fn revoke(
    tx: &Transaction<'_>,
    id: i64,
    access_id: Option<i64>,
    now: Timestamp,
) -> Result<(), StoreError> {
    if let Some(access_id) = access_id {
        cached::execute(
            tx,
            "DELETE FROM oauth_access_tokens WHERE id = $1",
            &[&access_id],
        )
        .await?;
    }
    cached::execute(
        tx,
        "UPDATE oauth_refresh_tokens SET access_token_id = NULL, revoked_at_us = $2 WHERE id = $1",
        &[&id, &now.micros()],
    )
    .await?;
    Ok(())
}

async fn revoke_family(
    tx: &Transaction<'_>,
    family: &str,
    now: Timestamp,
) -> Result<usize, StoreError> {
    let live = cached::query(
        tx,
        "SELECT id, access_token_id FROM oauth_refresh_tokens
         WHERE family = $1 AND revoked_at_us IS NULL FOR UPDATE",
        &[&family],
    )
    .await?;
    for row in &live {
        revoke(tx, row.get(0), row.get(1), now).await?;
    }
    Ok(live.len())
}

/// The body of `oauth_rotate`, with the presented row locked.
pub async fn rotate(
    tx: &Transaction<'_>,
    rotation: &OAuthRotation<'_>,
) -> Result<OAuthRotationOutcome, StoreError> {
    let row = cached::query_opt(
        tx,
        "SELECT id, access_token_id, client_id, family, revoked_at_us
         FROM oauth_refresh_tokens WHERE token = $1 FOR UPDATE",
        &[&rotation.presented],
    )
    .await?;
    let Some(row) = row else {
        return Ok(OAuthRotationOutcome::Unknown);
    };
    let id: i64 = row.get(0);
    let access_id: Option<i64> = row.get(1);
    let client_id: String = row.get(2);
    let family: String = row.get(3);
    let revoked_at: Option<i64> = row.get(4);
    if client_id != rotation.successor.client_id {
        return Ok(OAuthRotationOutcome::Unknown);
    }
    let Some(revoked_at) = revoked_at.map(Timestamp::from_micros) else {
        revoke(tx, id, access_id, rotation.now).await?;
        issue(tx, &rotation.successor, &family, Some(id)).await?;
        return Ok(OAuthRotationOutcome::Rotated);
    };
    if let Some(grace) = rotation.grace {
        if rotation.now <= revoked_at.plus(grace) {
            let current = cached::query_opt(
                tx,
                "SELECT a.token, r.token, a.scope, a.expires_at_us
                 FROM oauth_access_tokens a JOIN oauth_refresh_tokens r ON r.access_token_id = a.id
                 WHERE a.source_refresh_id = $1 AND r.revoked_at_us IS NULL
                 ORDER BY a.id DESC LIMIT 1",
                &[&id],
            )
            .await?;
            return Ok(match current {
                Some(r) => OAuthRotationOutcome::GraceRepeat(OAuthPair {
                    access_token: r.get(0),
                    refresh_token: r.get(1),
                    scope: r.get(2),
                    access_expires_at: Timestamp::from_micros(r.get(3)),
                }),
                None => OAuthRotationOutcome::Used,
            });
        }
    }
    if !rotation.exclusive {
        issue(tx, &rotation.successor, &family, Some(id)).await?;
        return Ok(OAuthRotationOutcome::Rotated);
    }
    if rotation.reuse_protection {
        let revoked = revoke_family(tx, &family, rotation.now).await?;
        return Ok(OAuthRotationOutcome::ReuseDetected { revoked });
    }
    Ok(OAuthRotationOutcome::Used)
}

/// An access token, as a protected request checks it.
pub async fn access(client: &Client, token: &str) -> Result<Option<OAuthAccess>, StoreError> {
    let row = cached::query_opt(
        client,
        "SELECT user_id, expires_at_us FROM oauth_access_tokens WHERE token = $1",
        &[&token],
    )
    .await?;
    Ok(row.map(|r| OAuthAccess {
        user_pk: r.get(0),
        expires_at: Timestamp::from_micros(r.get(1)),
    }))
}

/// DOT's `clear_expired` (see the SQLite store).
pub async fn flush(
    tx: &Transaction<'_>,
    now: Timestamp,
    refresh_lifetime: Option<Duration>,
) -> Result<OAuthFlushReport, StoreError> {
    let mut report = OAuthFlushReport::default();
    if let Some(lifetime) = refresh_lifetime {
        let cutoff = flush_cutoff(now, lifetime);
        // Two fixed strings (`stale` is a constant), so two cache entries.
        let stale = "SELECT id FROM oauth_refresh_tokens WHERE revoked_at_us < $1
             OR access_token_id IN (SELECT id FROM oauth_access_tokens WHERE expires_at_us < $1)";
        let unlink = format!(
            "UPDATE oauth_access_tokens SET source_refresh_id = NULL WHERE source_refresh_id IN ({stale})"
        );
        cached::execute(tx, &unlink, &[&cutoff]).await?;
        let delete = format!("DELETE FROM oauth_refresh_tokens WHERE id IN ({stale})");
        let deleted = cached::execute(tx, &delete, &[&cutoff]).await?;
        report.refresh = usize::try_from(deleted).unwrap_or(0);
    }
    let deleted = cached::execute(
        tx,
        "DELETE FROM oauth_access_tokens WHERE expires_at_us < $1 AND id NOT IN
         (SELECT access_token_id FROM oauth_refresh_tokens WHERE access_token_id IS NOT NULL)",
        &[&now.micros()],
    )
    .await?;
    report.access = usize::try_from(deleted).unwrap_or(0);
    Ok(report)
}

/// Row counts, orphans included.
pub async fn counts(client: &Client) -> Result<OAuthCounts, StoreError> {
    let row = cached::query_one(
        client,
        "SELECT (SELECT COUNT(*) FROM oauth_access_tokens),
                (SELECT COUNT(*) FROM oauth_refresh_tokens),
                (SELECT COUNT(*) FROM oauth_refresh_tokens WHERE access_token_id IS NOT NULL
                    AND access_token_id NOT IN (SELECT id FROM oauth_access_tokens))
              + (SELECT COUNT(*) FROM oauth_access_tokens WHERE source_refresh_id IS NOT NULL
                    AND source_refresh_id NOT IN (SELECT id FROM oauth_refresh_tokens))",
        &[],
    )
    .await?;
    let count = |i: usize| usize::try_from(row.get::<_, i64>(i)).unwrap_or(0);
    Ok(OAuthCounts {
        access: count(0),
        refresh: count(1),
        orphans: count(2),
    })
}

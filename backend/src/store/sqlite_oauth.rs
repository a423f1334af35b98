//! The OAuth half of [`super::SqliteStore`]: DOT's `AccessToken` and
//! `RefreshToken` tables and the statements on them, each run by the store
//! on its one connection (inside its transactions where it says so).

use std::time::Duration;

use rusqlite::{params, Connection, OptionalExtension};

use super::oauth::{
    flush_cutoff, OAuthAccess, OAuthCounts, OAuthFlushReport, OAuthIssue, OAuthPair,
    OAuthRefreshState, OAuthRotation, OAuthRotationOutcome,
};
use super::sqlite::count_rows;
use super::StoreError;
use crate::clock::Timestamp;

/// The two tables, pointing at each other as DOT's do
/// (`RefreshToken.access_token`, `AccessToken.source_refresh_token`).
pub const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS oauth_access_tokens (
    id INTEGER PRIMARY KEY,
    token TEXT NOT NULL UNIQUE,
    user_id INTEGER REFERENCES users(id) ON DELETE CASCADE,
    client_id TEXT NOT NULL,
    scope TEXT NOT NULL,
    expires_at_us INTEGER NOT NULL,
    source_refresh_id INTEGER REFERENCES oauth_refresh_tokens(id) ON DELETE SET NULL
);
CREATE INDEX IF NOT EXISTS oauth_access_source ON oauth_access_tokens(source_refresh_id);
CREATE TABLE IF NOT EXISTS oauth_refresh_tokens (
    id INTEGER PRIMARY KEY,
    token TEXT NOT NULL UNIQUE,
    user_id INTEGER REFERENCES users(id) ON DELETE CASCADE,
    client_id TEXT NOT NULL,
    scope TEXT NOT NULL,
    access_token_id INTEGER UNIQUE REFERENCES oauth_access_tokens(id) ON DELETE SET NULL,
    family TEXT NOT NULL,
    revoked_at_us INTEGER
);
CREATE INDEX IF NOT EXISTS oauth_refresh_family ON oauth_refresh_tokens(family);
";

/// Inserts a pair: the access token (made by refresh `source`, if any),
/// then the refresh token pointing at it.
pub fn issue(
    conn: &Connection,
    issue: &OAuthIssue<'_>,
    family: &str,
    source: Option<i64>,
) -> Result<(), StoreError> {
    conn.prepare_cached(
        "INSERT INTO oauth_access_tokens
         (token, user_id, client_id, scope, expires_at_us, source_refresh_id)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
    )?
    .execute(params![
        issue.access_token,
        issue.user_pk,
        issue.client_id,
        issue.scope,
        issue.access_expires_at.micros(),
        source
    ])?;
    let access_id = conn.last_insert_rowid();
    conn.prepare_cached(
        "INSERT INTO oauth_refresh_tokens
         (token, user_id, client_id, scope, access_token_id, family)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
    )?
    .execute(params![
        issue.refresh_token,
        issue.user_pk,
        issue.client_id,
        issue.scope,
        access_id,
        family
    ])?;
    Ok(())
}

/// A refresh token as the grant checks it.
pub fn refresh_state(
    conn: &Connection,
    token: &str,
) -> Result<Option<OAuthRefreshState>, StoreError> {
    Ok(conn
        .prepare_cached(
            "SELECT user_id, client_id, scope, revoked_at_us FROM oauth_refresh_tokens WHERE token = ?1",
        )?
        .query_row([token], |r| {
            Ok(OAuthRefreshState {
                user_pk: r.get(0)?,
                client_id: r.get(1)?,
                scope: r.get(2)?,
                revoked_at: r.get::<_, Option<i64>>(3)?.map(Timestamp::from_micros),
            })
        })
        .optional()?)
}

/// DOT's `RefreshToken.revoke()`: the access token is deleted (so it stops
/// working at once) and the refresh token marked revoked, not deleted.
fn revoke(
    conn: &Connection,
    id: i64,
    access_id: Option<i64>,
    now: Timestamp,
) -> Result<(), StoreError> {
    if let Some(access_id) = access_id {
        conn.prepare_cached("DELETE FROM oauth_access_tokens WHERE id = ?1")?
            .execute([access_id])?;
    }
    conn.prepare_cached(
        "UPDATE oauth_refresh_tokens SET access_token_id = NULL, revoked_at_us = ?2 WHERE id = ?1",
    )?
    .execute(params![id, now.micros()])?;
    Ok(())
}

/// Revokes every refresh token of `family` that is not revoked yet.
fn revoke_family(conn: &Connection, family: &str, now: Timestamp) -> Result<usize, StoreError> {
    let live: Vec<(i64, Option<i64>)> = conn
        .prepare_cached(
            "SELECT id, access_token_id FROM oauth_refresh_tokens
             WHERE family = ?1 AND revoked_at_us IS NULL",
        )?
        .query_map([family], |r| Ok((r.get(0)?, r.get(1)?)))?
        .collect::<Result<_, _>>()?;
    for (id, access_id) in &live {
        revoke(conn, *id, *access_id, now)?;
    }
    Ok(live.len())
}

/// The pair a refresh token was exchanged for, while that pair's refresh
/// token is unused.
fn current_successor(conn: &Connection, id: i64) -> Result<Option<OAuthPair>, StoreError> {
    Ok(conn
        .prepare_cached(
            "SELECT a.token, r.token, a.scope, a.expires_at_us
             FROM oauth_access_tokens a JOIN oauth_refresh_tokens r ON r.access_token_id = a.id
             WHERE a.source_refresh_id = ?1 AND r.revoked_at_us IS NULL
             ORDER BY a.id DESC LIMIT 1",
        )?
        .query_row([id], |r| {
            Ok(OAuthPair {
                access_token: r.get(0)?,
                refresh_token: r.get(1)?,
                scope: r.get(2)?,
                access_expires_at: Timestamp::from_micros(r.get(3)?),
            })
        })
        .optional()?)
}

/// The body of [`super::TokenStore::oauth_rotate`]; the caller holds the
/// transaction.
pub fn rotate(
    conn: &Connection,
    rotation: &OAuthRotation<'_>,
) -> Result<OAuthRotationOutcome, StoreError> {
    type Row = (i64, Option<i64>, String, String, Option<i64>);
    let row: Option<Row> = conn
        .prepare_cached(
            "SELECT id, access_token_id, client_id, family, revoked_at_us
             FROM oauth_refresh_tokens WHERE token = ?1",
        )?
        .query_row([rotation.presented], |r| {
            Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?))
        })
        .optional()?;
    let Some((id, access_id, client_id, family, revoked_at)) = row else {
        return Ok(OAuthRotationOutcome::Unknown);
    };
    if client_id != rotation.successor.client_id {
        return Ok(OAuthRotationOutcome::Unknown);
    }
    let Some(revoked_at) = revoked_at.map(Timestamp::from_micros) else {
        revoke(conn, id, access_id, rotation.now)?;
        issue(conn, &rotation.successor, &family, Some(id))?;
        return Ok(OAuthRotationOutcome::Rotated);
    };
    if let Some(grace) = rotation.grace {
        if rotation.now <= revoked_at.plus(grace) {
            // Once the successor is used itself, this is no longer the
            // immediately previous token (DOT would issue a new branch).
            return Ok(match current_successor(conn, id)? {
                Some(pair) => OAuthRotationOutcome::GraceRepeat(pair),
                None => OAuthRotationOutcome::Used,
            });
        }
    }
    if !rotation.exclusive {
        // DOT's race: the caller found the token unused, a concurrent
        // refresh used it since, and this one still issues a pair.
        issue(conn, &rotation.successor, &family, Some(id))?;
        return Ok(OAuthRotationOutcome::Rotated);
    }
    if rotation.reuse_protection {
        let revoked = revoke_family(conn, &family, rotation.now)?;
        return Ok(OAuthRotationOutcome::ReuseDetected { revoked });
    }
    Ok(OAuthRotationOutcome::Used)
}

/// An access token, as a protected request checks it.
pub fn access(conn: &Connection, token: &str) -> Result<Option<OAuthAccess>, StoreError> {
    Ok(conn
        .prepare_cached("SELECT user_id, expires_at_us FROM oauth_access_tokens WHERE token = ?1")?
        .query_row([token], |r| {
            Ok(OAuthAccess {
                user_pk: r.get(0)?,
                expires_at: Timestamp::from_micros(r.get(1)?),
            })
        })
        .optional()?)
}

/// DOT's `clear_expired`: with a refresh token lifetime, the refresh tokens
/// revoked, or whose access token expired, longer ago than that; then, with
/// or without one, the expired access tokens no refresh token refers to.
/// References to deleted rows are cleared by hand, so no orphan is left
/// even without foreign key enforcement. The caller holds the transaction.
pub fn flush(
    conn: &Connection,
    now: Timestamp,
    refresh_lifetime: Option<Duration>,
) -> Result<OAuthFlushReport, StoreError> {
    let mut report = OAuthFlushReport::default();
    if let Some(lifetime) = refresh_lifetime {
        let cutoff = flush_cutoff(now, lifetime);
        let stale = "SELECT id FROM oauth_refresh_tokens WHERE revoked_at_us < ?1
             OR access_token_id IN (SELECT id FROM oauth_access_tokens WHERE expires_at_us < ?1)";
        conn.execute(
            &format!(
                "UPDATE oauth_access_tokens SET source_refresh_id = NULL WHERE source_refresh_id IN ({stale})"
            ),
            [cutoff],
        )?;
        report.refresh = conn.execute(
            &format!("DELETE FROM oauth_refresh_tokens WHERE id IN ({stale})"),
            [cutoff],
        )?;
    }
    report.access = conn.execute(
        "DELETE FROM oauth_access_tokens WHERE expires_at_us < ?1 AND id NOT IN
         (SELECT access_token_id FROM oauth_refresh_tokens WHERE access_token_id IS NOT NULL)",
        [now.micros()],
    )?;
    Ok(report)
}

/// Row counts, orphans included.
pub fn counts(conn: &Connection) -> Result<OAuthCounts, StoreError> {
    let count = |sql: &str| count_rows(conn, sql);
    Ok(OAuthCounts {
        access: count("SELECT COUNT(*) FROM oauth_access_tokens")?,
        refresh: count("SELECT COUNT(*) FROM oauth_refresh_tokens")?,
        orphans: count(
            "SELECT (SELECT COUNT(*) FROM oauth_refresh_tokens WHERE access_token_id IS NOT NULL
                AND access_token_id NOT IN (SELECT id FROM oauth_access_tokens))
             + (SELECT COUNT(*) FROM oauth_access_tokens WHERE source_refresh_id IS NOT NULL
                AND source_refresh_id NOT IN (SELECT id FROM oauth_refresh_tokens))",
        )?,
    })
}

//! [`TokenStore`] on SQLite: a file (WAL, so `flush-expired-tokens` can run
//! beside a live server) or `:memory:`.

use std::path::Path;
use std::sync::{mpsc, Arc, Mutex, MutexGuard, RwLock, RwLockReadGuard, RwLockWriteGuard};
use std::time::Duration;

use rusqlite::{params, Connection, OptionalExtension, Row};

use super::{
    sqlite_oauth, FlushReport, OAuthAccess, OAuthCounts, OAuthFlushReport, OAuthIssue,
    OAuthRefreshState, OAuthRotation, OAuthRotationOutcome, OutstandingToken, Rotation,
    RotationOutcome, StoreCounts, StoreError, TokenStore, User,
};
use crate::clock::Timestamp;

const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS users (
    id INTEGER PRIMARY KEY,
    uuid TEXT NOT NULL UNIQUE,
    username TEXT NOT NULL UNIQUE,
    password TEXT NOT NULL,
    email TEXT NOT NULL DEFAULT '',
    first_name TEXT NOT NULL DEFAULT '',
    last_name TEXT NOT NULL DEFAULT '',
    is_active INTEGER NOT NULL DEFAULT 1
);
CREATE TABLE IF NOT EXISTS outstanding_tokens (
    id INTEGER PRIMARY KEY,
    jti TEXT NOT NULL UNIQUE,
    user_id INTEGER REFERENCES users(id) ON DELETE SET NULL,
    family TEXT NOT NULL,
    token TEXT NOT NULL,
    created_at INTEGER NOT NULL,
    expires_at INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS blacklisted_tokens (
    token_id INTEGER PRIMARY KEY REFERENCES outstanding_tokens(id) ON DELETE CASCADE,
    blacklisted_at_us INTEGER NOT NULL,
    successor_jti TEXT
);
";

/// SQLite behind one connection and a mutex.
///
/// SQLite has one writer at a time anyway; one connection keeps every
/// statement cached and makes [`TokenStore::rotate`]'s transaction the only
/// thing between two refreshes of one token.
#[derive(Debug)]
pub struct SqliteStore {
    conn: Arc<Mutex<Connection>>,
    /// Every user, kept in step with the table. Users are fixtures made at
    /// start (`--user`), a handful, changed only through this store; reading
    /// them here saves a database round trip on every refresh and every
    /// protected request.
    users: RwLock<Vec<User>>,
    /// Dropping this stops the checkpoint thread (file databases only).
    _checkpointer: Option<mpsc::Sender<()>>,
}

/// How often the checkpoint thread copies the WAL into the database file.
const CHECKPOINT_EVERY: Duration = Duration::from_millis(100);

/// Checkpoints the WAL from a thread of its own, so that copying pages to
/// the database file, and the fsyncs that go with it, happen outside the
/// requests' critical section. The thread ends when the returned sender is
/// dropped, that is, with the store.
///
/// Under steady writes a checkpoint beside the writer never catches up (the
/// writer appends while it copies), and the WAL only restarts from its
/// beginning once everything is copied. So each round has two passes: the
/// bulk on the thread's own connection without the store's lock, then the
/// few frames appended meanwhile on the store's connection, under its lock.
fn spawn_checkpointer(
    path: &Path,
    main: Arc<Mutex<Connection>>,
) -> Result<mpsc::Sender<()>, StoreError> {
    let own = Connection::open(path)?;
    own.busy_timeout(Duration::from_secs(5))?;
    let (stop, stopped) = mpsc::channel::<()>();
    std::thread::Builder::new()
        .name("sqlite-checkpoint".to_owned())
        .spawn(move || {
            while let Err(mpsc::RecvTimeoutError::Timeout) = stopped.recv_timeout(CHECKPOINT_EVERY)
            {
                // PASSIVE never waits for the writer; whatever a round could
                // not copy, the next one does.
                let _ = own.query_row("PRAGMA wal_checkpoint(PASSIVE)", [], |_| Ok(()));
                let main = main.lock().unwrap_or_else(|p| p.into_inner());
                let _ = main.query_row("PRAGMA wal_checkpoint(PASSIVE)", [], |_| Ok(()));
            }
        })
        .map_err(|e| StoreError::Thread(e.to_string()))?;
    Ok(stop)
}

impl SqliteStore {
    /// Opens (creating if needed) the database at `path`; `:memory:` gives a
    /// private in-memory database.
    ///
    /// # Errors
    /// When the file cannot be opened or the schema cannot be created.
    pub fn open(path: &Path) -> Result<Self, StoreError> {
        let in_memory = path.as_os_str() == ":memory:";
        let conn = if in_memory {
            Connection::open_in_memory()?
        } else {
            let conn = Connection::open(path)?;
            // WAL lets the flush command and readers work beside the server;
            // NORMAL syncs at checkpoints, not on every commit.
            let _mode: String = conn.query_row("PRAGMA journal_mode=WAL", [], |r| r.get(0))?;
            conn.pragma_update(None, "synchronous", "NORMAL")?;
            // Checkpoints are the checkpoint thread's job; this only catches
            // a WAL that thread let grow past 40 MB.
            conn.pragma_update(None, "wal_autocheckpoint", 10_000)?;
            conn
        };
        conn.busy_timeout(Duration::from_secs(5))?;
        conn.pragma_update(None, "foreign_keys", "ON")?;
        conn.pragma_update(None, "cache_size", -8192)?;
        conn.execute_batch(SCHEMA)?;
        conn.execute_batch(sqlite_oauth::SCHEMA)?;
        conn.set_prepared_statement_cache_capacity(32);
        let conn = Arc::new(Mutex::new(conn));
        let checkpointer = if in_memory {
            None
        } else {
            Some(spawn_checkpointer(path, Arc::clone(&conn))?)
        };
        let users = {
            let conn = conn.lock().unwrap_or_else(|p| p.into_inner());
            let mut stmt = conn.prepare(&format!("SELECT {USER_COLUMNS} FROM users"))?;
            let rows = stmt.query_map([], user_from_row)?;
            rows.collect::<Result<Vec<User>, _>>()?
        };
        Ok(Self {
            conn,
            users: RwLock::new(users),
            _checkpointer: checkpointer,
        })
    }

    /// A private in-memory database.
    ///
    /// # Errors
    /// When SQLite cannot allocate it.
    pub fn in_memory() -> Result<Self, StoreError> {
        Self::open(Path::new(":memory:"))
    }

    fn users(&self) -> RwLockReadGuard<'_, Vec<User>> {
        // Plain data, replaced whole under the write lock: never torn.
        self.users.read().unwrap_or_else(|p| p.into_inner())
    }

    fn users_mut(&self) -> RwLockWriteGuard<'_, Vec<User>> {
        self.users.write().unwrap_or_else(|p| p.into_inner())
    }

    fn find_user(&self, matches: impl Fn(&User) -> bool) -> Option<User> {
        self.users().iter().find(|u| matches(u)).cloned()
    }

    fn conn(&self) -> MutexGuard<'_, Connection> {
        // A panic while holding the lock can only come from a bug in this
        // file; SQLite has already rolled back any open transaction, so the
        // connection is still consistent and the store keeps serving.
        self.conn
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

/// Runs `work` in a `BEGIN IMMEDIATE` transaction (the write lock taken up
/// front, so two writers never deadlock on an upgrade), committing on
/// success and rolling back on error. The statements are cached: a rotation
/// costs no SQL parsing.
fn immediate<T>(
    conn: &Connection,
    work: impl FnOnce(&Connection) -> Result<T, StoreError>,
) -> Result<T, StoreError> {
    conn.prepare_cached("BEGIN IMMEDIATE")?.execute([])?;
    match work(conn) {
        Ok(value) => {
            conn.prepare_cached("COMMIT")?.execute([])?;
            Ok(value)
        }
        Err(e) => {
            // Nothing more can be done if the rollback fails too; the
            // original error is the one worth reporting.
            let _ = conn
                .prepare_cached("ROLLBACK")
                .and_then(|mut s| s.execute([]));
            Err(e)
        }
    }
}

/// The one number a `SELECT COUNT(*) ...` gives.
pub(super) fn count_rows(conn: &Connection, sql: &str) -> Result<usize, StoreError> {
    let n: i64 = conn.query_row(sql, [], |r| r.get(0))?;
    Ok(usize::try_from(n).unwrap_or(0))
}

const USER_COLUMNS: &str = "id, uuid, username, password, email, first_name, last_name, is_active";

fn user_from_row(row: &Row<'_>) -> rusqlite::Result<User> {
    Ok(User {
        pk: row.get(0)?,
        uuid: row.get(1)?,
        username: row.get(2)?,
        password_hash: row.get(3)?,
        email: row.get(4)?,
        first_name: row.get(5)?,
        last_name: row.get(6)?,
        is_active: row.get(7)?,
    })
}

fn user_where(
    conn: &Connection,
    column: &str,
    value: &dyn rusqlite::ToSql,
) -> Result<Option<User>, StoreError> {
    let sql = format!("SELECT {USER_COLUMNS} FROM users WHERE {column} = ?1");
    let mut stmt = conn.prepare_cached(&sql)?;
    Ok(stmt.query_row([value], user_from_row).optional()?)
}

/// The outstanding row's id and family for `token`, inserting the row first
/// when it is not there (SimpleJWT's `OutstandingToken.get_or_create`).
fn ensure_outstanding(
    conn: &Connection,
    token: &OutstandingToken,
) -> Result<(i64, String), StoreError> {
    let mut select =
        conn.prepare_cached("SELECT id, family FROM outstanding_tokens WHERE jti = ?1")?;
    if let Some(found) = select
        .query_row([&token.jti], |r| Ok((r.get(0)?, r.get(1)?)))
        .optional()?
    {
        return Ok(found);
    }
    insert_outstanding(conn, token, &token.family)?;
    Ok((conn.last_insert_rowid(), token.family.clone()))
}

/// Blacklists outstanding row `id`; a second time is not an error.
fn insert_blacklisted(
    conn: &Connection,
    id: i64,
    now: Timestamp,
    successor: Option<&str>,
) -> Result<(), StoreError> {
    conn.prepare_cached(
        "INSERT INTO blacklisted_tokens (token_id, blacklisted_at_us, successor_jti)
         VALUES (?1, ?2, ?3) ON CONFLICT(token_id) DO NOTHING",
    )?
    .execute(params![id, now.micros(), successor])?;
    Ok(())
}

/// The longest chain walked when revoking; far beyond any real session.
const MAX_CHAIN: usize = 100_000;

/// Blacklists what is still live of the chain that continues with `jti`.
///
/// With transactional rotation a chain never forks, so the family of a
/// reused token is the rotated (already blacklisted) tokens before it and
/// the chain after it, whose only live link is its head. Walking the
/// successor links finds that head without an index on the family.
fn revoke_chain_after(conn: &Connection, jti: String, now: Timestamp) -> Result<usize, StoreError> {
    let mut next = Some(jti);
    let mut revoked = 0;
    for _ in 0..MAX_CHAIN {
        let Some(jti) = next.take() else {
            break;
        };
        let link: Option<(i64, Option<i64>, Option<String>)> = conn
            .prepare_cached(
                "SELECT o.id, b.token_id, b.successor_jti FROM outstanding_tokens o
                 LEFT JOIN blacklisted_tokens b ON b.token_id = o.id WHERE o.jti = ?1",
            )?
            .query_row([&jti], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))
            .optional()?;
        match link {
            None => break,
            Some((id, None, _)) => {
                insert_blacklisted(conn, id, now, None)?;
                revoked += 1;
            }
            Some((_, Some(_), successor)) => next = successor,
        }
    }
    Ok(revoked)
}

fn insert_outstanding(
    conn: &Connection,
    token: &OutstandingToken,
    family: &str,
) -> Result<(), StoreError> {
    let mut insert = conn.prepare_cached(
        "INSERT INTO outstanding_tokens (jti, user_id, family, token, created_at, expires_at)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
    )?;
    insert.execute(params![
        token.jti,
        token.user_pk,
        family,
        token.token,
        token.created_at,
        token.expires_at
    ])?;
    Ok(())
}

impl TokenStore for SqliteStore {
    fn upsert_user(&self, username: &str, password_hash: &str) -> Result<User, StoreError> {
        let conn = self.conn();
        let uuid = crate::ids::new_uuid().map_err(|e| StoreError::Randomness(e.to_string()))?;
        conn.execute(
            "INSERT INTO users (uuid, username, password) VALUES (?1, ?2, ?3)
             ON CONFLICT(username) DO UPDATE SET password = excluded.password",
            params![uuid, username, password_hash],
        )?;
        let user = user_where(&conn, "username", &username)?
            .ok_or(StoreError::Sqlite(rusqlite::Error::QueryReturnedNoRows))?;
        let mut users = self.users_mut();
        users.retain(|u| u.pk != user.pk);
        users.push(user.clone());
        Ok(user)
    }

    fn user_by_username(&self, username: &str) -> Result<Option<User>, StoreError> {
        Ok(self.find_user(|u| u.username == username))
    }

    fn user_by_pk(&self, pk: i64) -> Result<Option<User>, StoreError> {
        Ok(self.find_user(|u| u.pk == pk))
    }

    fn user_by_uuid(&self, uuid: &str) -> Result<Option<User>, StoreError> {
        Ok(self.find_user(|u| u.uuid == uuid))
    }

    fn delete_user(&self, username: &str) -> Result<bool, StoreError> {
        let conn = self.conn();
        let n = conn.execute("DELETE FROM users WHERE username = ?1", [username])?;
        self.users_mut().retain(|u| u.username != username);
        Ok(n > 0)
    }

    fn outstand(&self, token: &OutstandingToken) -> Result<(), StoreError> {
        insert_outstanding(&self.conn(), token, &token.family)
    }

    fn is_blacklisted(&self, jti: &str) -> Result<bool, StoreError> {
        // A subquery rather than a join: SQLite re-prepares this join after
        // every write to either table, which cost more than the query.
        let conn = self.conn();
        let mut stmt = conn.prepare_cached(
            "SELECT EXISTS (SELECT 1 FROM blacklisted_tokens WHERE token_id =
                (SELECT id FROM outstanding_tokens WHERE jti = ?1))",
        )?;
        Ok(stmt.query_row([jti], |r| r.get(0))?)
    }

    fn blacklist(&self, token: &OutstandingToken, now: Timestamp) -> Result<String, StoreError> {
        immediate(&self.conn(), |tx| {
            let (id, family) = ensure_outstanding(tx, token)?;
            insert_blacklisted(tx, id, now, None)?;
            Ok(family)
        })
    }

    fn record_rotation(
        &self,
        presented: &OutstandingToken,
        successor: &OutstandingToken,
        now: Timestamp,
        blacklist_presented: bool,
    ) -> Result<(), StoreError> {
        immediate(&self.conn(), |tx| {
            let (id, family) = ensure_outstanding(tx, presented)?;
            if blacklist_presented {
                insert_blacklisted(tx, id, now, Some(&successor.jti))?;
            }
            insert_outstanding(tx, successor, &family)
        })
    }

    fn rotate(&self, rotation: &Rotation<'_>) -> Result<RotationOutcome, StoreError> {
        immediate(&self.conn(), |tx| {
            let (id, family) = ensure_outstanding(tx, rotation.presented)?;
            let previous: Option<(i64, Option<String>)> = tx
                .prepare_cached(
                    "SELECT blacklisted_at_us, successor_jti FROM blacklisted_tokens WHERE token_id = ?1",
                )?
                .query_row([id], |r| Ok((r.get(0)?, r.get(1)?)))
                .optional()?;
            let Some((blacklisted_at_us, successor_jti)) = previous else {
                insert_blacklisted(tx, id, rotation.now, Some(&rotation.successor.jti))?;
                insert_outstanding(tx, rotation.successor, &family)?;
                return Ok(RotationOutcome::Rotated);
            };

            if let (Some(grace), Some(successor_jti)) = (rotation.grace, successor_jti.as_deref()) {
                let window_end = Timestamp::from_micros(blacklisted_at_us).plus(grace);
                if rotation.now <= window_end {
                    // The successor must still be the head of the chain: once
                    // it has been rotated (or logged out) the presented token
                    // is no longer the immediately previous one.
                    let current: Option<(String, i64)> = tx
                        .prepare_cached(
                            "SELECT o.token, o.expires_at FROM outstanding_tokens o
                             WHERE o.jti = ?1
                               AND NOT EXISTS (SELECT 1 FROM blacklisted_tokens b WHERE b.token_id = o.id)",
                        )?
                        .query_row([successor_jti], |r| Ok((r.get(0)?, r.get(1)?)))
                        .optional()?;
                    if let Some((token, expires_at)) = current {
                        return Ok(RotationOutcome::GraceReuse { token, expires_at });
                    }
                }
            }

            if let (true, Some(first)) = (rotation.reuse_detection, successor_jti) {
                let revoked = revoke_chain_after(tx, first, rotation.now)?;
                return Ok(RotationOutcome::ReuseDetected { revoked });
            }
            Ok(RotationOutcome::Blacklisted)
        })
    }

    fn flush_expired(&self, now: Timestamp) -> Result<FlushReport, StoreError> {
        immediate(&self.conn(), |tx| {
            // Blacklist rows first, explicitly, so no orphan is left even on a
            // database opened without foreign key enforcement.
            let blacklisted = tx.execute(
                "DELETE FROM blacklisted_tokens WHERE token_id IN
                 (SELECT id FROM outstanding_tokens WHERE expires_at <= ?1)",
                [now.secs()],
            )?;
            let outstanding = tx.execute(
                "DELETE FROM outstanding_tokens WHERE expires_at <= ?1",
                [now.secs()],
            )?;
            Ok(FlushReport {
                outstanding,
                blacklisted,
            })
        })
    }

    fn counts(&self) -> Result<StoreCounts, StoreError> {
        let conn = self.conn();
        let count = |sql: &str| count_rows(&conn, sql);
        Ok(StoreCounts {
            outstanding: count("SELECT COUNT(*) FROM outstanding_tokens")?,
            blacklisted: count("SELECT COUNT(*) FROM blacklisted_tokens")?,
            orphans: count(
                "SELECT COUNT(*) FROM blacklisted_tokens
                 WHERE token_id NOT IN (SELECT id FROM outstanding_tokens)",
            )?,
        })
    }

    fn oauth_issue(&self, issue: &OAuthIssue<'_>) -> Result<(), StoreError> {
        immediate(&self.conn(), |tx| {
            sqlite_oauth::issue(tx, issue, issue.refresh_token, None)
        })
    }

    fn oauth_refresh_state(&self, token: &str) -> Result<Option<OAuthRefreshState>, StoreError> {
        sqlite_oauth::refresh_state(&self.conn(), token)
    }

    fn oauth_rotate(
        &self,
        rotation: &OAuthRotation<'_>,
    ) -> Result<OAuthRotationOutcome, StoreError> {
        immediate(&self.conn(), |tx| sqlite_oauth::rotate(tx, rotation))
    }

    fn oauth_access(&self, token: &str) -> Result<Option<OAuthAccess>, StoreError> {
        sqlite_oauth::access(&self.conn(), token)
    }

    fn oauth_flush(
        &self,
        now: Timestamp,
        refresh_lifetime: Option<Duration>,
    ) -> Result<OAuthFlushReport, StoreError> {
        immediate(&self.conn(), |tx| {
            sqlite_oauth::flush(tx, now, refresh_lifetime)
        })
    }

    fn oauth_counts(&self) -> Result<OAuthCounts, StoreError> {
        sqlite_oauth::counts(&self.conn())
    }
}

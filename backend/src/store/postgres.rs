//! [`TokenStore`] on PostgreSQL (`--db postgres://...`), so that several
//! instances share one token family and rotation stays exact across them.
//!
//! The trait is synchronous, as SQLite's calls are short and local. Here
//! the connections are `tokio-postgres` clients whose I/O runs on a
//! runtime thread of this store's own; a call blocks its caller on the
//! answer (as a SQLite call blocks on its mutex) without ever blocking
//! that runtime, so it is safe from inside request handlers.
//!
//! The connections are a `deadpool-postgres` pool: a call takes whichever
//! connection is idle (never queueing behind a busy one while another is
//! free), and a connection the server ended (a restart, a failover,
//! `pg_terminate_backend`) is dropped when next taken and a new one opened
//! in its place.
//!
//! Every query is prepared once per connection and then taken from that
//! connection's statement cache (`deadpool-postgres`'s `prepare_cached`,
//! which the helpers in `cached` call before they run a statement), so a
//! statement costs one round trip once its connection has it, not two
//! (a query sent as text is parsed and described first, then run). The
//! cache lives and dies with its connection: a connection the server ended
//! is dropped with its statements, and its replacement prepares its own.
//! The schema is migrated in `connect` before any store query runs, so
//! nothing is prepared against the schema of before; the migrations
//! themselves are sent as text (they run once). A migration that another,
//! newer instance applies later is the server's to handle: it replans a
//! prepared statement whose tables changed, and refuses one only if the
//! type of a column it returns changed (columns are listed, never `*`, so
//! an added column is no such change); after a migration that retypes a
//! column, restart the older instances.
//!
//! Rotation is exact across instances because the presented token's row is
//! locked (`SELECT ... FOR UPDATE`) in the transaction that checks and
//! consumes it; the successor is stored with the row, so any instance
//! answers the same one within the grace window.

use std::future::Future;
use std::sync::{Arc, RwLock};
use std::task::{Context, Poll, Wake, Waker};
use std::time::Duration;

use deadpool_postgres::{Client, Manager, ManagerConfig, Pool, RecyclingMethod, Transaction};
use tokio_postgres::{NoTls, Row};

use super::{
    FlushReport, OAuthAccess, OAuthCounts, OAuthFlushReport, OAuthIssue, OAuthRefreshState,
    OAuthRotation, OAuthRotationOutcome, OutstandingToken, Rotation, RotationOutcome, StoreCounts,
    StoreError, TokenStore, User,
};
use crate::clock::Timestamp;

mod cached;
mod migrations;
mod oauth;

/// A pool of connections to one database.
pub struct PostgresStore {
    /// The connections, opened as calls need them, up to `--db-pool`.
    pool: Pool,
    /// The handful of users, read through on a miss (another instance may
    /// have made one).
    users: RwLock<Vec<User>>,
    /// Drives the connections' I/O; shut down with the store.
    runtime: Option<tokio::runtime::Runtime>,
}

impl Drop for PostgresStore {
    fn drop(&mut self) {
        // The store may be dropped inside another runtime (a test's, a
        // server's), where waiting for this one to stop would panic.
        if let Some(runtime) = self.runtime.take() {
            runtime.shutdown_background();
        }
    }
}

impl std::fmt::Debug for PostgresStore {
    // The URL may hold a password: never print it.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PostgresStore")
            .field("connections", &self.pool.status().max_size)
            .finish_non_exhaustive()
    }
}

/// Wakes the thread that waits in [`wait`].
struct Unpark(std::thread::Thread);

impl Wake for Unpark {
    fn wake(self: Arc<Self>) {
        self.0.unpark();
    }
}

/// Runs `future` to its end on this thread. The futures here wait on
/// channels to the connection tasks, or on a new connection's socket, all
/// driven by the store's runtime (entered by the caller), so this thread
/// needs no reactor of its own.
fn wait<T>(future: impl Future<Output = T>) -> T {
    let waker = Waker::from(Arc::new(Unpark(std::thread::current())));
    let mut context = Context::from_waker(&waker);
    let mut future = std::pin::pin!(future);
    loop {
        if let Poll::Ready(value) = future.as_mut().poll(&mut context) {
            return value;
        }
        std::thread::park();
    }
}

impl From<tokio_postgres::Error> for StoreError {
    fn from(e: tokio_postgres::Error) -> Self {
        Self::Postgres(e.to_string())
    }
}

impl PostgresStore {
    /// A pool of up to `pool` connections to `url`; connects and brings
    /// the schema up to date (embedded migrations, one instance at a time).
    ///
    /// # Errors
    /// When the database cannot be reached or the schema not migrated.
    pub fn connect(url: &str, pool: usize) -> Result<Self, StoreError> {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .thread_name("postgres-io")
            .enable_all()
            .build()
            .map_err(|e| StoreError::Thread(e.to_string()))?;
        let config: tokio_postgres::Config = url.parse()?;
        // Fast: a connection is checked by whether its socket is still
        // open, not by a query, which would cost a round trip per call.
        // (`Clean` would also run `DISCARD ALL`, which deallocates the
        // connection's prepared statements and empties its cache.)
        let manager = Manager::from_config(
            config,
            NoTls,
            ManagerConfig {
                recycling_method: RecyclingMethod::Fast,
            },
        );
        let pool = Pool::builder(manager)
            .max_size(pool.max(1))
            .build()
            .map_err(|e| StoreError::Postgres(e.to_string()))?;
        let store = Self {
            pool,
            users: RwLock::new(Vec::new()),
            runtime: Some(runtime),
        };
        // Before any statement is prepared: none is planned against the
        // schema of before.
        store.with(async |client| migrations::run(client).await)?;
        let users = store.with(async |client| load_users(client).await)?;
        *store.users_mut() = users;
        Ok(store)
    }

    /// Runs `work` on an idle connection (a new one when none is, and the
    /// pool is not full) and waits for it.
    fn with<T>(
        &self,
        work: impl AsyncFnOnce(&mut Client) -> Result<T, StoreError>,
    ) -> Result<T, StoreError> {
        let runtime = self
            .runtime
            .as_ref()
            .ok_or_else(|| StoreError::Postgres("store shut down".to_owned()))?;
        // A connection opened here registers its socket with, and spawns
        // its I/O task on, the store's runtime rather than the caller's.
        let _context = runtime.enter();
        wait(async move {
            let mut client = self
                .pool
                .get()
                .await
                .map_err(|e| StoreError::Postgres(e.to_string()))?;
            work(&mut client).await
        })
    }

    /// Runs `work` in a transaction on the next connection: committed when
    /// it succeeds, rolled back (dropped) when it fails.
    fn in_tx<T>(
        &self,
        work: impl AsyncFnOnce(&Transaction<'_>) -> Result<T, StoreError>,
    ) -> Result<T, StoreError> {
        self.with(async |client| {
            let tx = client.transaction().await?;
            let value = work(&tx).await?;
            tx.commit().await?;
            Ok(value)
        })
    }

    fn users_mut(&self) -> std::sync::RwLockWriteGuard<'_, Vec<User>> {
        self.users.write().unwrap_or_else(|p| p.into_inner())
    }

    fn cached(&self, matches: impl Fn(&User) -> bool) -> Option<User> {
        self.users
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .iter()
            .find(|u| matches(u))
            .cloned()
    }

    fn remember(&self, user: &User) {
        let mut users = self.users_mut();
        users.retain(|u| u.pk != user.pk);
        users.push(user.clone());
    }

    fn user_where(&self, column: &'static str, value: String) -> Result<Option<User>, StoreError> {
        let found = self.with(async |client| {
            // Cached per column: `column` is one of a fixed few (`id`,
            // `username`, `uuid`), so the cache holds that many of these.
            let sql = format!("SELECT {USER_COLUMNS} FROM users WHERE {column}::text = $1");
            let row = cached::query_opt(client, &sql, &[&value]).await?;
            Ok(row.as_ref().map(user_from_row))
        })?;
        if let Some(user) = &found {
            self.remember(user);
        }
        Ok(found)
    }
}

const USER_COLUMNS: &str = "id, uuid, username, password, email, first_name, last_name, is_active";

fn user_from_row(row: &Row) -> User {
    User {
        pk: row.get(0),
        uuid: row.get(1),
        username: row.get(2),
        password_hash: row.get(3),
        email: row.get(4),
        first_name: row.get(5),
        last_name: row.get(6),
        is_active: row.get(7),
    }
}

async fn load_users(client: &Client) -> Result<Vec<User>, StoreError> {
    let sql = format!("SELECT {USER_COLUMNS} FROM users");
    let rows = cached::query(client, &sql, &[]).await?;
    Ok(rows.iter().map(user_from_row).collect())
}

/// The outstanding row's id and family for `token`, inserting it first when
/// it is not there (SimpleJWT's `get_or_create`); concurrent inserts of one
/// jti wait on the unique index and then find the row.
async fn ensure_outstanding(
    tx: &Transaction<'_>,
    token: &OutstandingToken,
) -> Result<(i64, String), StoreError> {
    cached::execute(
        tx,
        "INSERT INTO outstanding_tokens (jti, user_id, family, token, created_at, expires_at)
         VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (jti) DO NOTHING",
        &[
            &token.jti,
            &token.user_pk,
            &token.family,
            &token.token,
            &token.created_at,
            &token.expires_at,
        ],
    )
    .await?;
    let row = cached::query_one(
        tx,
        "SELECT id, family FROM outstanding_tokens WHERE jti = $1",
        &[&token.jti],
    )
    .await?;
    Ok((row.get(0), row.get(1)))
}

async fn insert_outstanding(
    tx: &Transaction<'_>,
    token: &OutstandingToken,
    family: &str,
) -> Result<(), StoreError> {
    cached::execute(
        tx,
        "INSERT INTO outstanding_tokens (jti, user_id, family, token, created_at, expires_at)
         VALUES ($1, $2, $3, $4, $5, $6)",
        &[
            &token.jti,
            &token.user_pk,
            &family,
            &token.token,
            &token.created_at,
            &token.expires_at,
        ],
    )
    .await?;
    Ok(())
}

async fn insert_blacklisted(
    tx: &Transaction<'_>,
    id: i64,
    now: Timestamp,
    successor: Option<&str>,
) -> Result<(), StoreError> {
    cached::execute(
        tx,
        "INSERT INTO blacklisted_tokens (token_id, blacklisted_at_us, successor_jti)
         VALUES ($1, $2, $3) ON CONFLICT (token_id) DO NOTHING",
        &[&id, &now.micros(), &successor],
    )
    .await?;
    Ok(())
}

/// The longest chain walked when revoking; far beyond any real session.
const MAX_CHAIN: usize = 100_000;

/// Blacklists what is still live of the chain that continues with `jti`
/// (see the SQLite store: with transactional rotation a chain never forks).
async fn revoke_chain_after(
    tx: &Transaction<'_>,
    jti: String,
    now: Timestamp,
) -> Result<usize, StoreError> {
    let mut next = Some(jti);
    let mut revoked = 0;
    for _ in 0..MAX_CHAIN {
        let Some(jti) = next.take() else {
            break;
        };
        let link = cached::query_opt(
            tx,
            "SELECT o.id, b.token_id, b.successor_jti FROM outstanding_tokens o
             LEFT JOIN blacklisted_tokens b ON b.token_id = o.id WHERE o.jti = $1",
            &[&jti],
        )
        .await?;
        let Some(link) = link else {
            break;
        };
        let id: i64 = link.get(0);
        let blacklisted: Option<i64> = link.get(1);
        if blacklisted.is_none() {
            insert_blacklisted(tx, id, now, None).await?;
            revoked += 1;
        } else {
            next = link.get(2);
        }
    }
    Ok(revoked)
}

async fn rotate(
    tx: &Transaction<'_>,
    rotation: &Rotation<'_>,
) -> Result<RotationOutcome, StoreError> {
    let (id, family) = ensure_outstanding(tx, rotation.presented).await?;
    // The lock that makes one of concurrent rotations win, whichever
    // instance each one reached.
    cached::execute(
        tx,
        "SELECT id FROM outstanding_tokens WHERE id = $1 FOR UPDATE",
        &[&id],
    )
    .await?;
    let previous = cached::query_opt(
        tx,
        "SELECT blacklisted_at_us, successor_jti FROM blacklisted_tokens WHERE token_id = $1",
        &[&id],
    )
    .await?;
    let Some(previous) = previous else {
        insert_blacklisted(tx, id, rotation.now, Some(&rotation.successor.jti)).await?;
        insert_outstanding(tx, rotation.successor, &family).await?;
        return Ok(RotationOutcome::Rotated);
    };
    let blacklisted_at_us: i64 = previous.get(0);
    let successor_jti: Option<String> = previous.get(1);
    if let (Some(grace), Some(successor)) = (rotation.grace, successor_jti.as_deref()) {
        let window_end = Timestamp::from_micros(blacklisted_at_us).plus(grace);
        if rotation.now <= window_end {
            let current = cached::query_opt(
                tx,
                "SELECT o.token, o.expires_at FROM outstanding_tokens o WHERE o.jti = $1
                 AND NOT EXISTS (SELECT 1 FROM blacklisted_tokens b WHERE b.token_id = o.id)",
                &[&successor],
            )
            .await?;
            if let Some(current) = current {
                return Ok(RotationOutcome::GraceReuse {
                    token: current.get(0),
                    expires_at: current.get(1),
                });
            }
        }
    }
    if let (true, Some(first)) = (rotation.reuse_detection, successor_jti) {
        let revoked = revoke_chain_after(tx, first, rotation.now).await?;
        return Ok(RotationOutcome::ReuseDetected { revoked });
    }
    Ok(RotationOutcome::Blacklisted)
}

fn count(row: &Row, index: usize) -> usize {
    usize::try_from(row.get::<_, i64>(index)).unwrap_or(0)
}

impl TokenStore for PostgresStore {
    fn upsert_user(&self, username: &str, password_hash: &str) -> Result<User, StoreError> {
        let uuid = crate::ids::new_uuid().map_err(|e| StoreError::Randomness(e.to_string()))?;
        let user = self.with(async |client| {
            // One string whatever the call: `USER_COLUMNS` is a constant.
            let sql = format!(
                "INSERT INTO users (uuid, username, password) VALUES ($1, $2, $3)
                 ON CONFLICT (username) DO UPDATE SET password = EXCLUDED.password
                 RETURNING {USER_COLUMNS}"
            );
            let row = cached::query_one(client, &sql, &[&uuid, &username, &password_hash]).await?;
            Ok(user_from_row(&row))
        })?;
        self.remember(&user);
        Ok(user)
    }

    fn user_by_username(&self, username: &str) -> Result<Option<User>, StoreError> {
        match self.cached(|u| u.username == username) {
            Some(user) => Ok(Some(user)),
            None => self.user_where("username", username.to_owned()),
        }
    }

    fn user_by_pk(&self, pk: i64) -> Result<Option<User>, StoreError> {
        match self.cached(|u| u.pk == pk) {
            Some(user) => Ok(Some(user)),
            None => self.user_where("id", pk.to_string()),
        }
    }

    fn user_by_uuid(&self, uuid: &str) -> Result<Option<User>, StoreError> {
        match self.cached(|u| u.uuid == uuid) {
            Some(user) => Ok(Some(user)),
            None => self.user_where("uuid", uuid.to_owned()),
        }
    }

    fn delete_user(&self, username: &str) -> Result<bool, StoreError> {
        let n = self.with(async |client| {
            cached::execute(
                client,
                "DELETE FROM users WHERE username = $1",
                &[&username],
            )
            .await
        })?;
        self.users_mut().retain(|u| u.username != username);
        Ok(n > 0)
    }

    fn outstand(&self, token: &OutstandingToken) -> Result<(), StoreError> {
        self.in_tx(async |tx| insert_outstanding(tx, token, &token.family).await)
    }

    fn is_blacklisted(&self, jti: &str) -> Result<bool, StoreError> {
        self.with(async |client| {
            let row = cached::query_one(
                client,
                "SELECT EXISTS (SELECT 1 FROM blacklisted_tokens b
                 JOIN outstanding_tokens o ON o.id = b.token_id WHERE o.jti = $1)",
                &[&jti],
            )
            .await?;
            Ok(row.get(0))
        })
    }

    fn blacklist(&self, token: &OutstandingToken, now: Timestamp) -> Result<String, StoreError> {
        self.in_tx(async |tx| {
            let (id, family) = ensure_outstanding(tx, token).await?;
            insert_blacklisted(tx, id, now, None).await?;
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
        self.in_tx(async |tx| {
            let (id, family) = ensure_outstanding(tx, presented).await?;
            if blacklist_presented {
                insert_blacklisted(tx, id, now, Some(&successor.jti)).await?;
            }
            insert_outstanding(tx, successor, &family).await
        })
    }

    fn rotate(&self, rotation: &Rotation<'_>) -> Result<RotationOutcome, StoreError> {
        self.in_tx(async |tx| rotate(tx, rotation).await)
    }

    fn flush_expired(&self, now: Timestamp) -> Result<FlushReport, StoreError> {
        self.in_tx(async |tx| {
            let blacklisted = cached::execute(
                tx,
                "DELETE FROM blacklisted_tokens WHERE token_id IN
                     (SELECT id FROM outstanding_tokens WHERE expires_at <= $1)",
                &[&now.secs()],
            )
            .await?;
            let outstanding = cached::execute(
                tx,
                "DELETE FROM outstanding_tokens WHERE expires_at <= $1",
                &[&now.secs()],
            )
            .await?;
            Ok(FlushReport {
                outstanding: usize::try_from(outstanding).unwrap_or(0),
                blacklisted: usize::try_from(blacklisted).unwrap_or(0),
            })
        })
    }

    fn counts(&self) -> Result<StoreCounts, StoreError> {
        self.with(async |client| {
            let row = cached::query_one(
                client,
                "SELECT (SELECT COUNT(*) FROM outstanding_tokens),
                        (SELECT COUNT(*) FROM blacklisted_tokens),
                        (SELECT COUNT(*) FROM blacklisted_tokens
                         WHERE token_id NOT IN (SELECT id FROM outstanding_tokens))",
                &[],
            )
            .await?;
            Ok(StoreCounts {
                outstanding: count(&row, 0),
                blacklisted: count(&row, 1),
                orphans: count(&row, 2),
            })
        })
    }

    fn oauth_issue(&self, issue: &OAuthIssue<'_>) -> Result<(), StoreError> {
        self.in_tx(async |tx| oauth::issue(tx, issue, issue.refresh_token, None).await)
    }

    fn oauth_refresh_state(&self, token: &str) -> Result<Option<OAuthRefreshState>, StoreError> {
        self.with(async |client| oauth::refresh_state(client, token).await)
    }

    fn oauth_rotate(
        &self,
        rotation: &OAuthRotation<'_>,
    ) -> Result<OAuthRotationOutcome, StoreError> {
        self.in_tx(async |tx| oauth::rotate(tx, rotation).await)
    }

    fn oauth_access(&self, token: &str) -> Result<Option<OAuthAccess>, StoreError> {
        self.with(async |client| oauth::access(client, token).await)
    }

    fn oauth_flush(
        &self,
        now: Timestamp,
        refresh_lifetime: Option<Duration>,
    ) -> Result<OAuthFlushReport, StoreError> {
        self.in_tx(async |tx| oauth::flush(tx, now, refresh_lifetime).await)
    }

    fn oauth_counts(&self) -> Result<OAuthCounts, StoreError> {
        self.with(async |client| oauth::counts(client).await)
    }
}

//! The schema as numbered, embedded migrations, applied at start under an
//! advisory lock so that instances starting together take turns.

use tokio_postgres::Client;

use crate::store::StoreError;

/// Each migration once, in order; never edit one that has shipped.
const MIGRATIONS: &[&str] = &[
    // 1: SimpleJWT's token_blacklist tables plus family and successor, and
    // DOT's access and refresh tokens.
    "
    CREATE TABLE users (
        id BIGSERIAL PRIMARY KEY,
        uuid TEXT NOT NULL UNIQUE,
        username TEXT NOT NULL UNIQUE,
        password TEXT NOT NULL,
        email TEXT NOT NULL DEFAULT '',
        first_name TEXT NOT NULL DEFAULT '',
        last_name TEXT NOT NULL DEFAULT '',
        is_active BOOLEAN NOT NULL DEFAULT TRUE
    );
    CREATE TABLE outstanding_tokens (
        id BIGSERIAL PRIMARY KEY,
        jti TEXT NOT NULL UNIQUE,
        user_id BIGINT REFERENCES users(id) ON DELETE SET NULL,
        family TEXT NOT NULL,
        token TEXT NOT NULL,
        created_at BIGINT NOT NULL,
        expires_at BIGINT NOT NULL
    );
    CREATE TABLE blacklisted_tokens (
        token_id BIGINT PRIMARY KEY REFERENCES outstanding_tokens(id) ON DELETE CASCADE,
        blacklisted_at_us BIGINT NOT NULL,
        successor_jti TEXT
    );
    CREATE TABLE oauth_access_tokens (
        id BIGSERIAL PRIMARY KEY,
        token TEXT NOT NULL UNIQUE,
        user_id BIGINT REFERENCES users(id) ON DELETE CASCADE,
        client_id TEXT NOT NULL,
        scope TEXT NOT NULL,
        expires_at_us BIGINT NOT NULL,
        source_refresh_id BIGINT
    );
    CREATE INDEX oauth_access_source ON oauth_access_tokens(source_refresh_id);
    CREATE TABLE oauth_refresh_tokens (
        id BIGSERIAL PRIMARY KEY,
        token TEXT NOT NULL UNIQUE,
        user_id BIGINT REFERENCES users(id) ON DELETE CASCADE,
        client_id TEXT NOT NULL,
        scope TEXT NOT NULL,
        access_token_id BIGINT UNIQUE REFERENCES oauth_access_tokens(id) ON DELETE SET NULL,
        family TEXT NOT NULL,
        revoked_at_us BIGINT
    );
    CREATE INDEX oauth_refresh_family ON oauth_refresh_tokens(family);
    ALTER TABLE oauth_access_tokens ADD FOREIGN KEY (source_refresh_id)
        REFERENCES oauth_refresh_tokens(id) ON DELETE SET NULL;
    ",
];

/// The advisory lock of this backend's migrations: "refresh" in ASCII.
const LOCK: i64 = 0x0072_6566_7265_7368;

/// Applies the migrations this database has not seen, in one transaction.
///
/// # Errors
/// When a migration fails; the transaction is then rolled back.
pub async fn run(client: &mut Client) -> Result<(), StoreError> {
    let tx = client.transaction().await?;
    tx.execute("SELECT pg_advisory_xact_lock($1)", &[&LOCK])
        .await?;
    tx.batch_execute(
        "CREATE TABLE IF NOT EXISTS refresh_backend_migrations (version INTEGER PRIMARY KEY)",
    )
    .await?;
    let applied: i32 = tx
        .query_one(
            "SELECT COALESCE(MAX(version), 0) FROM refresh_backend_migrations",
            &[],
        )
        .await?
        .get(0);
    for (index, sql) in MIGRATIONS.iter().enumerate() {
        let version = i32::try_from(index + 1).unwrap_or(i32::MAX);
        if version <= applied {
            continue;
        }
        tx.batch_execute(sql).await?;
        tx.execute(
            "INSERT INTO refresh_backend_migrations (version) VALUES ($1)",
            &[&version],
        )
        .await?;
    }
    tx.commit().await?;
    Ok(())
}

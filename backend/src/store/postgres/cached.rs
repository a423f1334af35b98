//! Runs a statement prepared through its connection's statement cache.
//!
//! Every store query goes through these, so each statement is prepared
//! once per connection and then taken from that connection's cache
//! (`deadpool-postgres`'s `prepare_cached`): one round trip a call rather
//! than two (a query sent as text is parsed and described first); the
//! pool table in backend/README.md measures what that gains. They take a
//! pooled connection or a transaction alike (`GenericClient`): a
//! transaction prepares through the cache of the connection it runs on.

use deadpool_postgres::GenericClient;
use tokio_postgres::types::ToSql;
use tokio_postgres::Row;

use crate::store::StoreError;

/// `sql` run through the cache; the number of rows it changed.
pub async fn execute(
    client: &impl GenericClient,
    sql: &str,
    params: &[&(dyn ToSql + Sync)],
) -> Result<u64, StoreError> {
    let statement = client.prepare_cached(sql).await?;
    Ok(client.execute(&statement, params).await?)
}

/// `sql` run through the cache; every row it returns.
pub async fn query(
    client: &impl GenericClient,
    sql: &str,
    params: &[&(dyn ToSql + Sync)],
) -> Result<Vec<Row>, StoreError> {
    let statement = client.prepare_cached(sql).await?;
    Ok(client.query(&statement, params).await?)
}

/// `sql` run through the cache; its one row (an error when it returns
/// none or several).
pub async fn query_one(
    client: &impl GenericClient,
    sql: &str,
    params: &[&(dyn ToSql + Sync)],
) -> Result<Row, StoreError> {
    let statement = client.prepare_cached(sql).await?;
    Ok(client.query_one(&statement, params).await?)
}

/// `sql` run through the cache; its row, if any (an error when it returns
/// several).
pub async fn query_opt(
    client: &impl GenericClient,
    sql: &str,
    params: &[&(dyn ToSql + Sync)],
) -> Result<Option<Row>, StoreError> {
    let statement = client.prepare_cached(sql).await?;
    Ok(client.query_opt(&statement, params).await?)
}

//! The store behind every Rust server: Redis through a pool of 8
//! connections (`deadpool-redis`), one `HGETALL` per call.

use deadpool_redis::{Config, Pool, PoolConfig, Runtime};

/// The hash holding the 12 stored fortunes (field: id, value: message).
pub(crate) const KEY: &str = "fortunes";

/// The fortune every call adds before sorting (id 0).
pub(crate) const EXTRA: &str = "Additional fortune added at request time.";

/// Connections in each server's pool.
pub(crate) const POOL_SIZE: usize = 8;

/// A pool of [`POOL_SIZE`] connections to `addr` (`host:port`), all opened
/// (and checked with one `HGETALL`) before it is returned, so the first
/// calls under load do not pay for connecting.
pub(crate) async fn pool(addr: &str) -> Result<Pool, Box<dyn std::error::Error>> {
    let mut config = Config::from_url(format!("redis://{addr}"));
    config.pool = Some(PoolConfig::new(POOL_SIZE));
    let pool = config.create_pool(Some(Runtime::Tokio1))?;
    let mut held = Vec::with_capacity(POOL_SIZE);
    for _ in 0..POOL_SIZE {
        held.push(pool.get().await?);
    }
    let stored: Vec<(i32, String)> = redis::cmd("HGETALL")
        .arg(KEY)
        .query_async(&mut held[0])
        .await?;
    if stored.len() != 12 {
        return Err(format!(
            "{addr}: hash {KEY:?} holds {} fortunes, not 12",
            stored.len()
        )
        .into());
    }
    drop(held);
    Ok(pool)
}

/// The 12 stored fortunes and [`EXTRA`], sorted by message: what every
/// server answers.
pub(crate) async fn fortunes(pool: &Pool) -> Result<Vec<(i32, String)>, String> {
    let mut conn = pool.get().await.map_err(|e| e.to_string())?;
    let mut fortunes: Vec<(i32, String)> = redis::cmd("HGETALL")
        .arg(KEY)
        .query_async(&mut conn)
        .await
        .map_err(|e| e.to_string())?;
    drop(conn);
    fortunes.push((0, EXTRA.to_owned()));
    fortunes.sort_unstable_by(|a, b| a.1.cmp(&b.1));
    Ok(fortunes)
}

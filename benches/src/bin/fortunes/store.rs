//! The store behind every Rust server: Redis through a pool of 8
//! connections (`deadpool-redis`), one `HGETALL` per call.

use deadpool_redis::{Config, Pool, PoolConfig, Runtime};

/// The hash holding the 12 stored fortunes (field: id, value: message).
pub(crate) const KEY: &str = "fortunes";

/// The fortune every call adds before sorting (id 0).
pub(crate) const EXTRA: &str = "Additional fortune added at request time.";

/// The 12 stored fortunes (TechEmpower's), seeded by `fortunes seed`.
pub(crate) const FORTUNES: [(i32, &str); 12] = [
    (1, "fortune: No such file or directory"),
    (
        2,
        "A computer scientist is someone who fixes things that aren't broken.",
    ),
    (3, "After enough decimal places, nobody gives a damn."),
    (
        4,
        "A bad random number generator: 1, 1, 1, 1, 1, 4.33e+67, 1, 1, 1",
    ),
    (
        5,
        "A computer program does what you tell it to do, not what you want it to do.",
    ),
    (
        6,
        "Emacs is a nice operating system, but I prefer UNIX. — Tom Christaensen",
    ),
    (7, "Any program that runs right is obsolete."),
    (
        8,
        "A list is only as strong as its weakest link. — Donald Knuth",
    ),
    (9, "Feature: A bug with seniority."),
    (10, "Computers make very fast, very accurate mistakes."),
    (
        11,
        "<script>alert(\"This should not be displayed in a browser alert box.\");</script>",
    ),
    (12, "フレームワークのベンチマーク"),
];

/// Stores [`FORTUNES`] in the hash [`KEY`] of the Redis at `addr`
/// (`host:port`), replacing what was there.
pub(crate) async fn seed(addr: &str) -> Result<(), Box<dyn std::error::Error>> {
    let client = redis::Client::open(format!("redis://{addr}"))?;
    let mut conn = client.get_multiplexed_async_connection().await?;
    let mut del = redis::cmd("DEL");
    del.arg(KEY);
    let () = del.query_async(&mut conn).await?;
    let mut hset = redis::cmd("HSET");
    hset.arg(KEY);
    for (id, message) in FORTUNES {
        hset.arg(id).arg(message);
    }
    let _: i64 = hset.query_async(&mut conn).await?;
    Ok(())
}

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

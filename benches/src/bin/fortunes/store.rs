//! The store behind every Rust server: Redis through a pool of 8
//! connections (`deadpool` over `redis`), one `HGETALL` per call: one
//! round trip.
//!
//! Not `deadpool-redis`: its manager checks every connection it hands out
//! with an `UNWATCH` and a `PING`, a second round trip on every call, which
//! doubled Redis's work and each call's wait (go-redis's pool, in the
//! connect-go server, checks a connection without a round trip). Here a
//! connection is handed out as it is; one that fails a call is taken out
//! of the pool, and the pool opens a new one when it is next needed.

use deadpool::managed::{self, Metrics, Object, RecycleResult};
use redis::aio::MultiplexedConnection;

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

/// Opens the pool's connections and hands them out unchecked.
pub(crate) struct Connections {
    client: redis::Client,
}

impl managed::Manager for Connections {
    type Type = MultiplexedConnection;
    type Error = redis::RedisError;

    async fn create(&self) -> Result<MultiplexedConnection, redis::RedisError> {
        self.client.get_multiplexed_async_connection().await
    }

    async fn recycle(
        &self,
        _: &mut MultiplexedConnection,
        _: &Metrics,
    ) -> RecycleResult<redis::RedisError> {
        Ok(())
    }
}

/// Each server's pool.
pub(crate) type Pool = managed::Pool<Connections>;

/// A pool of [`POOL_SIZE`] connections to `addr` (`host:port`), all opened
/// (and checked with one `HGETALL`) before it is returned, so the first
/// calls under load do not pay for connecting.
pub(crate) async fn pool(addr: &str) -> Result<Pool, Box<dyn std::error::Error>> {
    let client = redis::Client::open(format!("redis://{addr}"))?;
    let pool = Pool::builder(Connections { client })
        .max_size(POOL_SIZE)
        .build()?;
    let mut held = Vec::with_capacity(POOL_SIZE);
    for _ in 0..POOL_SIZE {
        held.push(pool.get().await.map_err(|e| e.to_string())?);
    }
    let stored: Vec<(i32, String)> = redis::cmd("HGETALL")
        .arg(KEY)
        .query_async(&mut *held[0])
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
    let answer = redis::cmd("HGETALL").arg(KEY).query_async(&mut *conn).await;
    let mut fortunes: Vec<(i32, String)> = match answer {
        Ok(fortunes) => fortunes,
        Err(e) => {
            // A broken connection leaves the pool rather than fail the
            // next call too.
            drop(Object::take(conn));
            return Err(e.to_string());
        }
    };
    drop(conn);
    fortunes.push((0, EXTRA.to_owned()));
    fortunes.sort_unstable_by(|a, b| a.1.cmp(&b.1));
    Ok(fortunes)
}

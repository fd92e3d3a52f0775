//! Bad answers stay bounded: servers that go away as soon as they are
//! reached, connection failures that ask for re-resolution, DNS.

use std::sync::atomic::{AtomicUsize, Ordering};

use hyper::server::conn::http2;

use super::*;

/// A server that accepts HTTP/2 connections and at once sends GOAWAY:
/// counts the connections.
async fn goaway_server() -> (
    SocketAddr,
    Arc<AtomicUsize>,
    mpsc::UnboundedReceiver<Instant>,
) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let accepted = Arc::new(AtomicUsize::new(0));
    let (tx, rx) = mpsc::unbounded_channel();
    let count = accepted.clone();
    tokio::spawn(async move {
        while let Ok((io, _)) = listener.accept().await {
            count.fetch_add(1, Ordering::SeqCst);
            let _ = tx.send(Instant::now());
            tokio::spawn(async move {
                let svc = service_fn(|_req: http::Request<hyper::body::Incoming>| async {
                    Ok::<_, Infallible>(http::Response::new(Full::new(Bytes::new())))
                });
                let conn = http2::Builder::new(TokioExecutor::new())
                    .serve_connection(TokioIo::new(io), svc);
                tokio::pin!(conn);
                conn.as_mut().graceful_shutdown();
                let _ = conn.await;
            });
        }
    });
    (addr, accepted, rx)
}

#[tokio::test]
async fn a_goaway_storm_redials_with_backoff_and_calls_end() {
    let (addr, accepted, mut dials) = goaway_server().await;
    let backoff = Backoff::new(Duration::from_millis(50), Duration::from_millis(200));
    let channel = BalancedChannel::builder(StaticResolver::new([addr]))
        .backoff(backoff)
        .connect_timeout(Duration::from_secs(2))
        .build();
    // Calls end (fail `unavailable` or wait, bounded), never hang.
    let started = Instant::now();
    for _ in 0..5 {
        let result =
            tokio::time::timeout(Duration::from_secs(5), send(channel.clone(), request("/x")))
                .await
                .expect("a call hung");
        if let Err(e) = result {
            assert_eq!(e.code(), Code::Unavailable, "{e}");
        }
    }
    assert!(started.elapsed() < Duration::from_secs(10));
    // Each redial after a connection that closed at once waits the
    // backoff: five dials take at least the first four waits (−20 %).
    let first = dials.recv().await.unwrap();
    let mut last = first;
    for _ in 0..4 {
        last = dials.recv().await.unwrap();
    }
    let floor: f64 = (1..=4)
        .map(|n| backoff.base_delay(n).as_secs_f64() * 0.8)
        .sum();
    assert!(
        (last - first).as_secs_f64() >= floor,
        "{:?} for five dials, floor {floor}",
        last - first
    );
    let status = channel.endpoints();
    assert!(
        status[0]
            .last_error
            .as_deref()
            .is_none_or(|e| e.contains("closed")),
        "{status:?}"
    );
    // Dropping the channel ends the redials.
    drop(channel);
    let after_drop = accepted.load(Ordering::SeqCst);
    let more = tokio::time::timeout(Duration::from_millis(600), async {
        while dials.recv().await.is_some() {
            if accepted.load(Ordering::SeqCst) > after_drop + 1 {
                return;
            }
        }
    })
    .await;
    assert!(more.is_err(), "dials went on after the channel was dropped");
}

#[tokio::test]
async fn connection_failures_re_resolve_at_most_once_per_min_interval() {
    let dead = dead_addr().await;
    let resolutions = Arc::new(AtomicUsize::new(0));
    let (tx, mut resolved) = mpsc::unbounded_channel::<Instant>();
    let count = resolutions.clone();
    let resolver = move || {
        count.fetch_add(1, Ordering::SeqCst);
        let _ = tx.send(Instant::now());
        async move { Ok::<_, crate::BoxError>(vec![Endpoint::new(dead)]) }
    };
    let min = Duration::from_millis(300);
    let channel = BalancedChannel::builder(resolver)
        .backoff(Backoff::new(
            Duration::from_millis(10),
            Duration::from_millis(20),
        ))
        .resolve_interval(Duration::from_secs(3600))
        .min_resolve_interval(min)
        .build();
    let err = send(channel.clone(), request("/x")).await.unwrap_err();
    assert_eq!(err.code(), Code::Unavailable);
    // Dials fail every ~15 ms, each asking for a resolution: they come,
    // but one per `min` at most.
    let first = resolved.recv().await.unwrap();
    let second = resolved.recv().await.unwrap();
    let third = resolved.recv().await.unwrap();
    assert!(second - first >= min, "{:?}", second - first);
    assert!(third - second >= min, "{:?}", third - second);
    drop(channel);
}

#[tokio::test]
async fn dns_names_resolve_to_endpoints() {
    let a = server().await;
    let resolver = DnsResolver::new("localhost", a.addr.port());
    let found = resolver.resolve().await.unwrap();
    assert!(found.iter().any(|e| e.addr() == a.addr), "{found:?}");
    let channel = fast(resolver).build();
    let (served, _) = send(channel, request("/x")).await.unwrap();
    assert_eq!(served, a.addr);

    let err = DnsResolver::new("no-such-host.invalid", 80)
        .resolve()
        .await
        .unwrap_err();
    assert!(err.to_string().contains("no-such-host.invalid"), "{err}");
}

#[tokio::test]
async fn a_failing_or_empty_resolution_keeps_the_last_good_set() {
    let a = server().await;
    let answer: Arc<std::sync::Mutex<Result<Vec<Endpoint>, String>>> =
        Arc::new(std::sync::Mutex::new(Ok(vec![Endpoint::new(a.addr)])));
    let (asked_tx, mut asked) = mpsc::unbounded_channel::<()>();
    let shared = answer.clone();
    let resolver = move || {
        let _ = asked_tx.send(());
        let answer = shared.lock().unwrap().clone();
        async move { answer.map_err(crate::BoxError::from) }
    };
    let channel = fast(resolver)
        .resolve_interval(Duration::from_millis(10))
        .build();
    assert_eq!(
        send(channel.clone(), request("/x")).await.unwrap().0,
        a.addr
    );
    for bad in [Err("registry down".to_owned()), Ok(Vec::new())] {
        *answer.lock().unwrap() = bad;
        // Questions asked from now on get the bad answer; after two, the
        // first one's has been applied.
        while asked.try_recv().is_ok() {}
        for _ in 0..2 {
            asked.recv().await.unwrap();
        }
        assert_eq!(channel.endpoints().len(), 1);
        assert_eq!(
            send(channel.clone(), request("/x")).await.unwrap().0,
            a.addr
        );
    }
}

//! The channel against small in-process servers on 127.0.0.1.

use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use connect_core::{Code, ConnectError};
use connect_layers::ClientBody;
use http_body_util::{BodyExt, Full};
use hyper::service::service_fn;
use hyper_util::rt::{TokioExecutor, TokioIo};
use tokio::sync::{Notify, mpsc, oneshot};
use tower::ServiceExt as _;

use super::*;
use crate::resilience::{Attempt, ServedBy};

/// A server that reports each request (path, authority) and answers
/// `x-authority`; `/hold` waits for `release`, `/fail` answers 503.
struct Server {
    addr: SocketAddr,
    /// Path, authority, client's address (one per connection).
    arrivals: mpsc::UnboundedReceiver<(String, String, SocketAddr)>,
    release: Arc<Notify>,
    _stop: oneshot::Sender<()>,
}

async fn server() -> Server {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let (tx, arrivals) = mpsc::unbounded_channel();
    let release = Arc::new(Notify::new());
    let (stop, mut stopped) = oneshot::channel::<()>();
    let rel = release.clone();
    tokio::spawn(async move {
        loop {
            let (io, peer) = tokio::select! {
                _ = &mut stopped => return,
                r = listener.accept() => r.unwrap(),
            };
            let (tx, rel) = (tx.clone(), rel.clone());
            let svc = service_fn(move |req: http::Request<hyper::body::Incoming>| {
                let (tx, rel) = (tx.clone(), rel.clone());
                async move {
                    let authority = req
                        .uri()
                        .authority()
                        .map(|a| a.to_string())
                        .or_else(|| {
                            req.headers()
                                .get("host")
                                .map(|h| h.to_str().unwrap().to_owned())
                        })
                        .unwrap_or_default();
                    let path = req.uri().path().to_owned();
                    let _ = tx.send((path.clone(), authority.clone(), peer));
                    if path == "/hold" {
                        rel.notified().await;
                    }
                    let status = if path == "/fail" { 503 } else { 200 };
                    let resp = http::Response::builder()
                        .status(status)
                        .header("x-authority", authority)
                        .body(Full::new(Bytes::from_static(b"ok")))
                        .unwrap();
                    Ok::<_, Infallible>(resp)
                }
            });
            tokio::spawn(async move {
                let _ = hyper_util::server::conn::auto::Builder::new(TokioExecutor::new())
                    .serve_connection(TokioIo::new(io), svc)
                    .await;
            });
        }
    });
    Server {
        addr,
        arrivals,
        release,
        _stop: stop,
    }
}

/// An address nothing listens on.
async fn dead_addr() -> SocketAddr {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    listener.local_addr().unwrap()
}

fn request(path: &str) -> http::Request<ClientBody> {
    http::Request::post(format!("http://logical.test:1234{path}"))
        .body(ClientBody::full(Bytes::from_static(b"hi")))
        .unwrap()
}

fn fast(resolver: impl Resolve) -> BalancedChannelBuilder {
    BalancedChannel::builder(resolver)
        .backoff(Backoff::new(
            Duration::from_millis(50),
            Duration::from_millis(200),
        ))
        .connect_timeout(Duration::from_secs(2))
        .resolve_timeout(Duration::from_millis(200))
}

async fn send(
    channel: BalancedChannel,
    req: http::Request<ClientBody>,
) -> Result<(SocketAddr, String), ConnectError> {
    let resp = channel.oneshot(req).await?;
    let served = resp.extensions().get::<ServedBy>().expect("ServedBy").0;
    let authority = resp.headers()["x-authority"].to_str().unwrap().to_owned();
    resp.into_body().collect().await?;
    Ok((served, authority))
}

async fn all_ready(channel: &BalancedChannel, n: usize) {
    channel
        .wait_until(Duration::from_secs(5), |eps| {
            eps.len() == n && eps.iter().all(|e| e.health == Health::Ready)
        })
        .await
        .unwrap();
}

#[tokio::test]
async fn calls_carry_the_logical_authority_and_served_by() {
    for version in [HttpVersion::Http2, HttpVersion::Http1] {
        let mut a = server().await;
        let channel = fast(StaticResolver::new([a.addr]))
            .http_version(version)
            .build();
        let (served, authority) = send(channel.clone(), request("/x")).await.unwrap();
        assert_eq!(served, a.addr);
        assert_eq!(authority, "logical.test:1234", "{version:?}");
        assert_eq!(a.arrivals.recv().await.unwrap().0, "/x");
    }
}

#[tokio::test]
async fn a_refused_endpoint_gets_no_calls() {
    let live = server().await;
    let dead = dead_addr().await;
    let channel = fast(StaticResolver::new([dead, live.addr])).build();
    for _ in 0..20 {
        let (served, _) = send(channel.clone(), request("/x")).await.unwrap();
        assert_eq!(served, live.addr);
    }
    let status = channel.endpoints();
    let dead_status = status.iter().find(|e| e.addr == dead).unwrap();
    assert_ne!(dead_status.health, Health::Ready);
    assert!(
        dead_status
            .last_error
            .as_deref()
            .unwrap()
            .contains("refused"),
        "{status:?}"
    );
}

#[tokio::test]
async fn all_endpoints_down_fails_fast_naming_them() {
    let (a, b) = (dead_addr().await, dead_addr().await);
    let channel = fast(StaticResolver::new([a, b])).build();
    let started = Instant::now();
    let err = send(channel.clone(), request("/x")).await.unwrap_err();
    assert_eq!(err.code(), Code::Unavailable);
    assert!(
        started.elapsed() < Duration::from_secs(2),
        "{:?}",
        started.elapsed()
    );
    for addr in [a, b] {
        assert!(
            err.message().contains(&addr.to_string()),
            "{}",
            err.message()
        );
    }
    assert!(err.message().contains("refused"), "{}", err.message());
}

#[tokio::test]
async fn empty_or_failing_resolvers_are_unavailable_with_the_reason() {
    let resolver = ManualResolver::new(Vec::<SocketAddr>::new());
    let channel = fast(resolver.clone()).build();
    let err = send(channel.clone(), request("/x")).await.unwrap_err();
    assert_eq!(err.code(), Code::Unavailable);
    assert!(err.message().contains("no endpoints"), "{}", err.message());

    resolver.fail("registry down");
    channel
        .wait_until(Duration::from_secs(5), |_| true)
        .await
        .unwrap();
    let err = loop {
        let err = send(channel.clone(), request("/x")).await.unwrap_err();
        if err.message().contains("registry down") {
            break err;
        }
        // The failure reaches the channel through the resolver's change.
        tokio::task::yield_now().await;
    };
    assert_eq!(err.code(), Code::Unavailable);

    // A resolver that never answers: bounded by the resolve timeout.
    let never = || std::future::pending::<Result<Vec<Endpoint>, crate::BoxError>>();
    let channel = fast(never).build();
    let started = Instant::now();
    let err = send(channel.clone(), request("/x")).await.unwrap_err();
    assert_eq!(err.code(), Code::Unavailable);
    assert!(
        err.message().contains("did not answer"),
        "{}",
        err.message()
    );
    assert!(started.elapsed() < Duration::from_secs(3));
}

#[tokio::test]
async fn resolver_updates_add_and_remove_without_dropping_calls_in_flight() {
    let (mut a, b, c) = (server().await, server().await, server().await);
    let resolver = ManualResolver::new([a.addr, b.addr]);
    let channel = fast(resolver.clone()).build();
    all_ready(&channel, 2).await;

    // A call held on `a`.
    let held = loop {
        let call = tokio::spawn(send(channel.clone(), request("/hold")));
        let mut arrived_at_a = false;
        tokio::select! {
            Some(_) = a.arrivals.recv() => arrived_at_a = true,
            _ = tokio::time::sleep(Duration::from_millis(500)) => {}
        }
        if arrived_at_a {
            break call;
        }
        b.release.notify_waiters();
        call.await.unwrap().unwrap();
    };

    // `a` kept, `c` added, `b` removed.
    resolver.set([a.addr, c.addr]);
    channel
        .wait_until(Duration::from_secs(5), |eps| {
            let mut addrs: Vec<_> = eps
                .iter()
                .filter(|e| e.health == Health::Ready)
                .map(|e| e.addr)
                .collect();
            addrs.sort();
            let mut want = vec![a.addr, c.addr];
            want.sort();
            eps.len() == 2 && addrs == want
        })
        .await
        .unwrap();
    for _ in 0..20 {
        let (served, _) = send(channel.clone(), request("/x")).await.unwrap();
        assert!(served == a.addr || served == c.addr, "{served}");
    }
    // Then `a` removed too: its call in flight still finishes.
    resolver.set([c.addr]);
    channel
        .wait_until(Duration::from_secs(5), |eps| eps.len() == 1)
        .await
        .unwrap();
    a.release.notify_waiters();
    let (served, _) = held.await.unwrap().unwrap();
    assert_eq!(served, a.addr);
}

#[tokio::test]
async fn retries_avoid_the_endpoints_of_earlier_attempts() {
    let (a, b) = (server().await, server().await);
    let channel = fast(StaticResolver::new([a.addr, b.addr])).build();
    all_ready(&channel, 2).await;
    for _ in 0..20 {
        let mut req = request("/x");
        req.extensions_mut().insert(Attempt {
            number: 2,
            avoid: vec![a.addr],
        });
        assert_eq!(send(channel.clone(), req).await.unwrap().0, b.addr);
    }
}

#[tokio::test]
async fn several_connections_per_endpoint_share_the_calls() {
    let a = server().await;
    let channel = fast(StaticResolver::new([a.addr]))
        .connections_per_endpoint(3)
        .build();
    channel
        .wait_until(Duration::from_secs(5), |eps| {
            eps.len() == 1 && eps[0].connections == 3
        })
        .await
        .unwrap();
    // Three held calls: one per connection (fewest in flight first).
    let calls: Vec<_> = (0..3)
        .map(|_| tokio::spawn(send(channel.clone(), request("/hold"))))
        .collect();
    let Server {
        mut arrivals,
        release,
        ..
    } = a;
    let mut peers = Vec::new();
    for _ in 0..3 {
        peers.push(arrivals.recv().await.unwrap().2);
    }
    assert_eq!(channel.endpoints()[0].in_flight, 3);
    peers.sort();
    peers.dedup();
    assert_eq!(peers.len(), 3, "one call per connection: {peers:?}");
    release.notify_waiters();
    for call in calls {
        call.await.unwrap().unwrap();
    }
    assert_eq!(channel.endpoints()[0].in_flight, 0);
}

#[tokio::test]
async fn failing_endpoints_are_ejected() {
    let (a, b, c) = (server().await, server().await, server().await);
    let od = OutlierDetection {
        interval: Duration::from_millis(100),
        failure_percentage: Some(FailurePercentage {
            minimum_hosts: 3,
            request_volume: 5,
            ..Default::default()
        }),
        ..Default::default()
    };
    let channel = fast(StaticResolver::new([a.addr, b.addr, c.addr]))
        .outlier_detection(od)
        .build();
    all_ready(&channel, 3).await;
    // `/fail` answers 503 everywhere: every endpoint fails, one may go.
    for _ in 0..60 {
        let resp = channel.clone().oneshot(request("/fail")).await.unwrap();
        assert_eq!(resp.status(), 503);
    }
    channel
        .wait_until(Duration::from_secs(5), |eps| eps.iter().any(|e| e.ejected))
        .await
        .unwrap();
    let ejected: Vec<_> = channel
        .endpoints()
        .into_iter()
        .filter(|e| e.ejected)
        .collect();
    assert_eq!(ejected.len(), 1, "10 % of 3: one");
    let out = ejected[0].addr;
    for _ in 0..20 {
        assert_ne!(send(channel.clone(), request("/x")).await.unwrap().0, out);
    }
}

#[tokio::test]
async fn background_tasks_end_with_the_last_clone() {
    struct Dropped(Option<oneshot::Sender<()>>);
    impl Drop for Dropped {
        fn drop(&mut self) {
            let _ = self.0.take().unwrap().send(());
        }
    }
    let a = server().await;
    let (tx, rx) = oneshot::channel();
    let token = Arc::new(Dropped(Some(tx)));
    let addr = a.addr;
    let resolver = move || {
        let _keep = token.clone();
        async move { Ok::<_, crate::BoxError>(vec![Endpoint::new(addr)]) }
    };
    let channel = fast(resolver)
        .resolve_interval(Duration::from_millis(20))
        .build();
    send(channel.clone(), request("/x")).await.unwrap();
    let clone = channel.clone();
    drop(channel);
    send(clone.clone(), request("/x")).await.unwrap();
    drop(clone);
    // The resolver (and everything the tasks hold) is dropped.
    tokio::time::timeout(Duration::from_secs(5), rx)
        .await
        .expect("tasks ended")
        .unwrap();
}

mod storms;
#[cfg(feature = "tls")]
mod tls;

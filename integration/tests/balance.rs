//! The balanced channel over real sockets: three of our servers on
//! 127.0.0.1, calls spread over them, one stopped and restarted on the
//! same port, over h2c (gRPC) and HTTP/1.1 (Connect, gRPC-Web).

mod support;

use std::collections::HashSet;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use connectrpc::client::resilience::balance::{
    Backoff, BalancedChannel, EndpointStatus, Health, HttpVersion, StaticResolver,
};
use connectrpc::{ClientConfig, Router, Server};
use integration_tests::proto::test::v1::{TestServiceClient, TestServiceExt as _};
use support::UnaryRequest;

/// Only a hang guard.
const HANG: Duration = Duration::from_secs(30);

/// The authority every call names: the logical target, not an endpoint.
const LOGICAL: &str = "greet.logical:4444";

/// One of our servers, counting the calls it gets and the authorities
/// they name.
struct Backend {
    addr: SocketAddr,
    hits: Arc<AtomicUsize>,
    authorities: Arc<Mutex<HashSet<String>>>,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    task: Option<tokio::task::JoinHandle<std::io::Result<()>>>,
}

impl Backend {
    async fn start(addr: SocketAddr) -> Backend {
        let listener = tokio::net::TcpListener::bind(addr).await.unwrap();
        let addr = listener.local_addr().unwrap();
        let hits = Arc::new(AtomicUsize::new(0));
        let authorities = Arc::new(Mutex::new(HashSet::new()));
        let (h, a) = (hits.clone(), authorities.clone());
        let router = tower::ServiceBuilder::new()
            .map_request(move |req: http::Request<hyper::body::Incoming>| {
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
                a.lock().unwrap().insert(authority);
                h.fetch_add(1, Ordering::SeqCst);
                req
            })
            .service(Arc::new(support::Impl).register(Router::new()));
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let task = tokio::spawn(
            Server::new(router)
                .with_graceful_shutdown(async move {
                    let _ = stopped.await;
                })
                .drain_timeout(Duration::from_secs(5))
                .serve_with_listener(listener),
        );
        Backend {
            addr,
            hits,
            authorities,
            stop: Some(stop),
            task: Some(task),
        }
    }

    fn hits(&self) -> usize {
        self.hits.load(Ordering::SeqCst)
    }

    /// Graceful shutdown (GOAWAY, calls in flight finish); returns once the
    /// port is free.
    async fn stop(&mut self) {
        drop(self.stop.take());
        let task = self.task.take().unwrap();
        tokio::time::timeout(HANG, task)
            .await
            .expect("server stops")
            .unwrap()
            .unwrap();
    }
}

/// Calls running `concurrency` at a time until `stop`, counting outcomes.
#[derive(Default)]
struct Load {
    ok: AtomicUsize,
    failed: AtomicUsize,
    /// Each failure, with the phase its call started in.
    errors: Mutex<Vec<(usize, String)>>,
    /// Set by the test: calls started from then on are in a new phase.
    phase: AtomicUsize,
    stop: AtomicBool,
    progress: tokio::sync::Notify,
}

impl Load {
    fn ok(&self) -> usize {
        self.ok.load(Ordering::SeqCst)
    }

    fn failed(&self) -> usize {
        self.failed.load(Ordering::SeqCst)
    }

    /// Waits until `done` holds, re-checking after every call.
    async fn until(&self, what: &str, mut done: impl FnMut(&Load) -> bool) {
        tokio::time::timeout(HANG, async {
            loop {
                let progressed = self.progress.notified();
                if done(self) {
                    return;
                }
                progressed.await;
            }
        })
        .await
        .unwrap_or_else(|_| panic!("{what}: ok {}, failed {}", self.ok(), self.failed()));
    }
}

fn run_load(
    client: TestServiceClient<BalancedChannel>,
    concurrency: usize,
    load: Arc<Load>,
) -> Vec<tokio::task::JoinHandle<()>> {
    (0..concurrency)
        .map(|w| {
            let (client, load) = (client.clone(), load.clone());
            tokio::spawn(async move {
                let mut i = 0;
                while !load.stop.load(Ordering::SeqCst) {
                    let phase = load.phase.load(Ordering::SeqCst);
                    let text = format!("w{w} call {i}");
                    i += 1;
                    let req = UnaryRequest {
                        text: text.clone(),
                        ..Default::default()
                    };
                    match client.unary(&req).await {
                        Ok(reply) => {
                            assert_eq!(reply.message().text, text);
                            load.ok.fetch_add(1, Ordering::SeqCst);
                        }
                        Err(e) => {
                            load.failed.fetch_add(1, Ordering::SeqCst);
                            load.errors.lock().unwrap().push((
                                phase,
                                format!("{e} (unprocessed: {})", e.is_unprocessed()),
                            ));
                        }
                    }
                    load.progress.notify_waiters();
                }
            })
        })
        .collect()
}

async fn stop_load(load: &Load, workers: Vec<tokio::task::JoinHandle<()>>) {
    load.stop.store(true, Ordering::SeqCst);
    for w in workers {
        w.await.unwrap();
    }
}

fn health_of(eps: &[EndpointStatus], addr: SocketAddr) -> Option<Health> {
    eps.iter().find(|e| e.addr == addr).map(|e| e.health)
}

async fn stop_restart(version: HttpVersion, config: fn(ClientConfig) -> ClientConfig) {
    let mut backends = Vec::new();
    for _ in 0..3 {
        backends.push(Backend::start("127.0.0.1:0".parse().unwrap()).await);
    }
    let addrs: Vec<SocketAddr> = backends.iter().map(|b| b.addr).collect();
    let connections_per_endpoint = 1;
    let channel = BalancedChannel::builder(StaticResolver::new(addrs.clone()))
        .http_version(version)
        .connections_per_endpoint(connections_per_endpoint)
        .backoff(Backoff::new(
            Duration::from_millis(100),
            Duration::from_millis(300),
        ))
        .build();
    let base = ClientConfig::new(format!("http://{LOGICAL}").parse().unwrap());
    let client = TestServiceClient::new(channel.clone(), config(base));
    channel
        .wait_until(HANG, |eps| {
            eps.len() == 3 && eps.iter().all(|e| e.health == Health::Ready)
        })
        .await
        .unwrap();

    // 60 calls over all three, four at a time.
    let load = Arc::new(Load::default());
    let workers = run_load(client.clone(), 4, load.clone());
    load.until("60 calls", |l| l.ok() >= 60).await;
    stop_load(&load, workers).await;
    let spread: Vec<usize> = backends.iter().map(Backend::hits).collect();
    assert!(spread.iter().all(|n| *n >= 5), "{version:?}: {spread:?}");
    assert_eq!(load.failed(), 0, "{:?}", load.errors.lock().unwrap());

    // One stopped under a call at a time: once detected, nothing more goes
    // to it; before, at most one call per connection to it fails.
    let load = Arc::new(Load::default());
    let workers = run_load(client.clone(), 1, load.clone());
    load.until("calls before the stop", |l| l.ok() >= 10).await;
    let (down, down_addr) = (1, addrs[1]);
    backends[down].stop().await;
    channel
        .wait_until(HANG, |eps| health_of(eps, down_addr) != Some(Health::Ready))
        .await
        .unwrap();
    // Calls from now on were picked after the detection.
    load.phase.store(1, Ordering::SeqCst);
    let ok_at_detection = load.ok();
    load.until("30 calls after detection", |l| {
        l.ok() >= ok_at_detection + 30
    })
    .await;
    stop_load(&load, workers).await;
    let errors = load.errors.lock().unwrap().clone();
    assert!(
        errors.iter().all(|(phase, _)| *phase == 0),
        "{version:?}: calls failed after detection: {errors:?}"
    );
    assert!(
        errors.len() <= connections_per_endpoint,
        "{version:?}: {} calls failed in the detection window: {errors:?}",
        errors.len()
    );
    let status = channel.endpoints();
    let down_status = status.iter().find(|e| e.addr == down_addr).unwrap();
    assert!(down_status.last_error.is_some(), "{status:?}");

    // Restarted on the same port: traffic again after the backoff.
    backends[down] = Backend::start(down_addr).await;
    channel
        .wait_until(HANG, |eps| health_of(eps, down_addr) == Some(Health::Ready))
        .await
        .unwrap();
    let load = Arc::new(Load::default());
    let workers = run_load(client.clone(), 4, load.clone());
    let back = &backends[down];
    load.until("calls to the restarted server", |_| back.hits() >= 5)
        .await;
    stop_load(&load, workers).await;
    assert_eq!(load.failed(), 0, "{:?}", load.errors.lock().unwrap());

    // Every server saw the logical authority, never an endpoint address.
    for b in &backends {
        let seen = b.authorities.lock().unwrap().clone();
        assert_eq!(seen, HashSet::from([LOGICAL.to_owned()]), "{version:?}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn h2c_grpc_spreads_routes_around_a_stopped_server_and_takes_it_back() {
    stop_restart(HttpVersion::Http2, ClientConfig::grpc).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn http1_connect_spreads_routes_around_a_stopped_server_and_takes_it_back() {
    stop_restart(HttpVersion::Http1, |c| c).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn http1_grpc_web_spreads_routes_around_a_stopped_server_and_takes_it_back() {
    stop_restart(HttpVersion::Http1, ClientConfig::grpc_web).await;
}

#[tokio::test]
async fn a_dead_endpoint_gets_no_calls_from_the_start() {
    // The case: with tower's p2c, 15 of 20 calls went to the
    // dead backend (a refused connection fails fast and looks idle).
    let live = Backend::start("127.0.0.1:0".parse().unwrap()).await;
    let dead = {
        let l = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        l.local_addr().unwrap()
    };
    let channel = BalancedChannel::builder(StaticResolver::new([dead, live.addr]))
        .backoff(Backoff::new(
            Duration::from_millis(100),
            Duration::from_millis(300),
        ))
        .build();
    let base = ClientConfig::new(format!("http://{LOGICAL}").parse().unwrap());
    let client = TestServiceClient::new(channel.clone(), base.grpc());
    for i in 0..20 {
        let req = UnaryRequest {
            text: format!("{i}"),
            ..Default::default()
        };
        client.unary(&req).await.unwrap();
    }
    assert_eq!(live.hits(), 20);
}

#[tokio::test]
async fn connections_the_server_retires_are_replaced_without_failing_calls() {
    // Each connection serves five calls, then the server sends GOAWAY.
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let (_stop, stopped) = tokio::sync::oneshot::channel::<()>();
    tokio::spawn(
        Server::new(Arc::new(support::Impl).register(Router::new()))
            .max_requests_per_connection(Some(5))
            .with_graceful_shutdown(async move {
                let _ = stopped.await;
            })
            .serve_with_listener(listener),
    );
    let channel = BalancedChannel::builder(StaticResolver::new([addr]))
        .backoff(Backoff::new(
            Duration::from_millis(100),
            Duration::from_millis(300),
        ))
        .build();
    let base = ClientConfig::new(format!("http://{LOGICAL}").parse().unwrap());
    let client = TestServiceClient::new(channel.clone(), base.grpc());
    let mut failures = Vec::new();
    for i in 0..50 {
        let req = UnaryRequest {
            text: format!("{i}"),
            ..Default::default()
        };
        if let Err(e) = client.unary(&req).await {
            failures.push(e.to_string());
        }
    }
    assert!(
        failures.is_empty(),
        "{} failed: {failures:?}",
        failures.len()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn retired_connections_under_concurrent_calls_fail_only_unprocessed() {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let (_stop, stopped) = tokio::sync::oneshot::channel::<()>();
    tokio::spawn(
        Server::new(Arc::new(support::Impl).register(Router::new()))
            .max_requests_per_connection(Some(20))
            .with_graceful_shutdown(async move {
                let _ = stopped.await;
            })
            .serve_with_listener(listener),
    );
    let channel = BalancedChannel::builder(StaticResolver::new([addr]))
        .connections_per_endpoint(2)
        .build();
    let base = ClientConfig::new(format!("http://{LOGICAL}").parse().unwrap());
    let client = TestServiceClient::new(channel.clone(), base.grpc());
    let load = Arc::new(Load::default());
    let workers = run_load(client, 4, load.clone());
    load.until("400 calls", |l| l.ok() + l.failed() >= 400)
        .await;
    stop_load(&load, workers).await;
    let errors = load.errors.lock().unwrap().clone();
    // A request a retiring connection hands back unsent goes to the other
    // connection; what may still fail is a request already on the wire
    // when the GOAWAY came: never more than one per retirement, and all
    // marked unprocessed, so a retry layer resends them transparently.
    let calls = load.ok() + errors.len();
    assert!(errors.len() <= calls / 20, "{errors:?}");
    assert!(
        errors.iter().all(|(_, e)| e.contains("unprocessed: true")),
        "{errors:?}"
    );
}

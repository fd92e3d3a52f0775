//! The health service over a real socket, called by the generated
//! `HealthClient` over Connect (JSON and binary, HTTP/1.1), gRPC (h2c) and
//! gRPC-Web (HTTP/1.1): Check, List and Watch, unknown services, status
//! changes at run time and graceful shutdown.

use std::net::SocketAddr;
use std::time::Duration;

use connect_client::{ClientBody, ClientConfig, HttpClient};
use connect_core::Code;
use connect_health::proto::grpc::health::v1::{
    HealthCheckRequest, HealthClient, HealthListRequest,
};
use connect_health::{HealthReporter, HealthService, ServingStatus};
use connect_server::{Router, Server};

const GREET: &str = "greet.v1.GreetService";

struct Running {
    addr: SocketAddr,
    reporter: HealthReporter,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    server: tokio::task::JoinHandle<std::io::Result<()>>,
}

/// A server with only the health service, `GREET` SERVING; shutting down
/// calls `reporter.shutdown()` from `Server::on_shutdown`, as the docs show. The drain deadline is
/// long (30 s), so a test that finishes fast proves nothing waited for it.
async fn start() -> Running {
    let health = HealthService::new();
    let reporter = health.reporter();
    reporter.set_serving(GREET);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let on_shutdown = reporter.clone();
    let server = tokio::spawn(
        Server::new(health.register(Router::new()))
            .with_graceful_shutdown(async move {
                let _ = stopped.await;
            })
            .on_shutdown(move || on_shutdown.shutdown())
            .serve_with_listener(listener),
    );
    Running {
        addr,
        reporter,
        stop: Some(stop),
        server,
    }
}

/// Clients for every protocol: (name, client).
fn clients(addr: SocketAddr) -> Vec<(&'static str, HealthClient<HttpClient<ClientBody>>)> {
    let base: http::Uri = format!("http://{addr}").parse().unwrap();
    let h1: HttpClient<ClientBody> = HttpClient::builder().http1_only(true).build();
    let h2: HttpClient<ClientBody> = HttpClient::builder().http2_only(true).build();
    vec![
        (
            "connect+proto",
            HealthClient::new(h1.clone(), ClientConfig::new(base.clone())),
        ),
        (
            "connect+json",
            HealthClient::new(h1.clone(), ClientConfig::new(base.clone()).json()),
        ),
        (
            "grpc",
            HealthClient::new(h2, ClientConfig::new(base.clone()).grpc()),
        ),
        (
            "grpc-web",
            HealthClient::new(h1, ClientConfig::new(base).grpc_web()),
        ),
    ]
}

fn request(service: &str) -> HealthCheckRequest {
    HealthCheckRequest {
        service: service.into(),
        ..Default::default()
    }
}

fn status_of(
    item: Option<
        Result<
            connect_health::proto::grpc::health::v1::HealthCheckResponse,
            connect_core::ConnectError,
        >,
    >,
) -> ServingStatus {
    let message = item.expect("a message").expect("not an error");
    message.status.as_known().expect("a known status")
}

#[tokio::test]
async fn check_and_list_over_every_protocol() {
    let server = start().await;
    for (name, client) in clients(server.addr) {
        let overall = client.check(&request("")).await.unwrap();
        assert_eq!(
            overall.message().status.as_known(),
            Some(ServingStatus::SERVING),
            "{name}"
        );
        let greet = client.check(&request(GREET)).await.unwrap();
        assert_eq!(
            greet.message().status.as_known(),
            Some(ServingStatus::SERVING),
            "{name}"
        );

        let unknown = client.check(&request("no.Such")).await.unwrap_err();
        assert_eq!(unknown.code(), Code::NotFound, "{name}: {unknown:?}");
        assert!(unknown.message().contains("no.Such"), "{name}: {unknown:?}");

        let list = client.list(&HealthListRequest::default()).await.unwrap();
        let statuses = &list.message().statuses;
        assert_eq!(statuses.len(), 2, "{name}");
        assert_eq!(
            statuses[GREET].status.as_known(),
            Some(ServingStatus::SERVING),
            "{name}"
        );
    }

    server.reporter.set_not_serving(GREET);
    for (name, client) in clients(server.addr) {
        let greet = client.check(&request(GREET)).await.unwrap();
        assert_eq!(
            greet.message().status.as_known(),
            Some(ServingStatus::NOT_SERVING),
            "{name}"
        );
    }
}

#[tokio::test]
async fn a_long_service_name_is_cut_in_the_error() {
    let server = start().await;
    let (_, client) = clients(server.addr).remove(0);
    let name = "é".repeat(10_000);
    let err = client.check(&request(&name)).await.unwrap_err();
    assert_eq!(err.code(), Code::NotFound);
    assert!(err.message().len() < 300, "{}", err.message().len());
}

#[tokio::test]
async fn list_refuses_more_than_a_hundred_services() {
    let server = start().await;
    for i in 0..100 {
        server.reporter.set_serving(format!("svc.S{i}"));
    }
    let (_, client) = clients(server.addr).remove(0);
    let err = client
        .list(&HealthListRequest::default())
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::ResourceExhausted, "{err:?}");
    server.reporter.clear("svc.S0");
    server.reporter.clear(GREET);
    let list = client.list(&HealthListRequest::default()).await.unwrap();
    assert_eq!(list.message().statuses.len(), 100);
}

#[tokio::test]
async fn watch_sends_the_status_then_every_change_over_every_protocol() {
    let server = start().await;
    for (name, client) in clients(server.addr) {
        let service = format!("watched.{}", name.replace(['+', '-'], "_"));
        let mut stream = client.watch(&request(&service)).await.unwrap();
        // Unknown: SERVICE_UNKNOWN, and the call stays open.
        assert_eq!(
            status_of(stream.message().await),
            ServingStatus::SERVICE_UNKNOWN,
            "{name}"
        );

        server.reporter.set_serving(service.as_str());
        assert_eq!(
            status_of(stream.message().await),
            ServingStatus::SERVING,
            "{name}"
        );
        // Setting the same status again sends nothing; the next change does.
        server.reporter.set_serving(service.as_str());
        server.reporter.set_not_serving(service.as_str());
        assert_eq!(
            status_of(stream.message().await),
            ServingStatus::NOT_SERVING,
            "{name}"
        );
        server.reporter.clear(&service);
        assert_eq!(
            status_of(stream.message().await),
            ServingStatus::SERVICE_UNKNOWN,
            "{name}"
        );
    }
}

#[tokio::test]
async fn graceful_shutdown_reports_not_serving_and_ends_watches() {
    let mut server = start().await;
    let clients = clients(server.addr);
    let mut watches = Vec::new();
    for (name, client) in &clients {
        let mut stream = client.watch(&request(GREET)).await.unwrap();
        assert_eq!(
            status_of(stream.message().await),
            ServingStatus::SERVING,
            "{name}"
        );
        watches.push((name, stream));
    }

    let started = tokio::time::Instant::now();
    server.stop.take().unwrap().send(()).unwrap();
    for (name, stream) in &mut watches {
        assert_eq!(
            status_of(stream.message().await),
            ServingStatus::NOT_SERVING,
            "{name}"
        );
        let end = stream.message().await.expect("an end").unwrap_err();
        assert_eq!(end.code(), Code::Unavailable, "{name}: {end:?}");
    }
    assert!(server.reporter.is_shut_down());
    assert_eq!(
        server.reporter.status(GREET),
        Some(ServingStatus::NOT_SERVING)
    );
    // Nothing waited for the 30 s drain deadline: the watches ended, so the
    // server stopped at once.
    drop(watches);
    drop(clients);
    tokio::time::timeout(Duration::from_secs(10), &mut server.server)
        .await
        .expect("the server stops without waiting out the drain")
        .unwrap()
        .unwrap();
    assert!(started.elapsed() < Duration::from_secs(10));
}

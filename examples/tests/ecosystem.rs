//! The example server (greet + health + reflection, as `greet-server`
//! builds it) against the tools teams already use, started on 127.0.0.1 by
//! each test: `grpc-health-probe`, `grpcurl` (no `.proto` files: server
//! reflection) and `buf curl --reflect`.
//!
//! The tools are installed by `bash peers/install-go-tools.sh` (pinned
//! versions); a missing tool fails the test with that instruction.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::Output;
use std::sync::Arc;
use std::time::Duration;

use connectrpc::health::{HealthReporter, HealthService};
use connectrpc::reflection::Reflection;
use connectrpc::{Router, Server};
use examples::Greeter;
use examples::proto::greet::v1::{GREET_SERVICE_NAME, GreetServiceExt as _, greet_service};

/// A running example server; dropping it stops the server.
struct Running {
    addr: SocketAddr,
    reporter: HealthReporter,
    _stop: tokio::sync::oneshot::Sender<()>,
}

/// Starts the router `examples/greet/server.rs` serves, on a free port.
async fn start() -> Running {
    let health = HealthService::new();
    let reporter = health.reporter();
    reporter.set_serving(GREET_SERVICE_NAME);
    let reflection = Reflection::new()
        .register_file_descriptor_set(greet_service::FILE_DESCRIPTOR_SET)
        .unwrap()
        .register_file_descriptor_set(connectrpc::health::FILE_DESCRIPTOR_SET)
        .unwrap();
    let router = Arc::new(Greeter).register(Router::new());
    let router = reflection.register(health.register(router));

    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let shutdown_reporter = reporter.clone();
    tokio::spawn(
        Server::new(router)
            .with_graceful_shutdown(async move {
                let _ = stopped.await;
                shutdown_reporter.shutdown();
            })
            .drain_timeout(Duration::from_secs(1))
            .serve_with_listener(listener),
    );
    Running {
        addr,
        reporter,
        _stop: stop,
    }
}

/// The path of an installed tool: `$(go env GOPATH)/bin` (or `$GOPATH`,
/// `~/go`) for the Go tools, the pinned npm install for `buf`.
fn tool(name: &str) -> PathBuf {
    let path = if name == "buf" {
        PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("buf-generate/node_modules/.bin/buf")
    } else {
        let gopath = std::env::var("GOPATH").ok().or_else(|| {
            let out = std::process::Command::new("go")
                .args(["env", "GOPATH"])
                .output()
                .ok()?;
            Some(String::from_utf8_lossy(&out.stdout).trim().to_owned())
        });
        let gopath = gopath
            .filter(|p| !p.is_empty())
            .map(PathBuf::from)
            .unwrap_or_else(|| PathBuf::from(std::env::var("HOME").unwrap_or_default()).join("go"));
        gopath.join("bin").join(name)
    };
    if !path.is_file() {
        install_tools();
    }
    assert!(
        path.is_file(),
        "{name} is not installed at {}: run `bash peers/install-go-tools.sh`",
        path.display()
    );
    path
}

/// Runs `peers/install-go-tools.sh` (once per test binary) when a tool is
/// missing, so `cargo test --workspace` needs no step of its own.
fn install_tools() {
    static INSTALLED: std::sync::Once = std::sync::Once::new();
    INSTALLED.call_once(|| {
        let script = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../peers/install-go-tools.sh");
        let status = std::process::Command::new("bash")
            .arg(&script)
            .status()
            .unwrap_or_else(|e| panic!("running {}: {e}", script.display()));
        assert!(status.success(), "{} failed: {status}", script.display());
    });
}

/// Runs `name args..` (at most 60 s) and returns what it did.
async fn run(name: &str, args: &[&str]) -> Output {
    let mut command = tokio::process::Command::new(tool(name));
    command.args(args).kill_on_drop(true);
    tokio::time::timeout(Duration::from_secs(60), command.output())
        .await
        .unwrap_or_else(|_| panic!("{name} {args:?} did not finish in 60 s"))
        .unwrap_or_else(|e| panic!("{name} {args:?}: {e}"))
}

/// Runs a tool that must succeed; returns its stdout, then its stderr.
async fn ok(name: &str, args: &[&str]) -> String {
    let out = run(name, args).await;
    assert!(out.status.success(), "{name} {args:?}: {}", describe(&out));
    let mut text = String::from_utf8_lossy(&out.stdout).into_owned();
    text.push_str(&String::from_utf8_lossy(&out.stderr));
    text
}

fn describe(out: &Output) -> String {
    format!(
        "{}\nstdout: {}\nstderr: {}",
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn grpc_health_probe_passes_when_serving_and_fails_when_not() {
    let server = start().await;
    let addr = format!("-addr={}", server.addr);
    let greet = format!("-service={GREET_SERVICE_NAME}");

    // The server as a whole, and the greet service: SERVING, exit 0.
    let out = ok("grpc-health-probe", &[&addr]).await;
    assert!(out.contains("status: SERVING"), "{out}");
    ok("grpc-health-probe", &[&addr, &greet]).await;

    // An unknown service: the Check fails with NOT_FOUND (exit 3, RPC failure).
    let out = run("grpc-health-probe", &[&addr, "-service=no.Such"]).await;
    assert_eq!(out.status.code(), Some(3), "{}", describe(&out));
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("NotFound"),
        "{}",
        describe(&out)
    );

    // NOT_SERVING: exit 4 (unhealthy); the server as a whole is still up.
    server.reporter.set_not_serving(GREET_SERVICE_NAME);
    let out = run("grpc-health-probe", &[&addr, &greet]).await;
    assert_eq!(out.status.code(), Some(4), "{}", describe(&out));
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("NOT_SERVING"),
        "{}",
        describe(&out)
    );
    ok("grpc-health-probe", &[&addr]).await;

    // Back to SERVING, then what graceful shutdown does: everything
    // NOT_SERVING.
    server.reporter.set_serving(GREET_SERVICE_NAME);
    ok("grpc-health-probe", &[&addr, &greet]).await;
    server.reporter.shutdown();
    for args in [vec![addr.as_str()], vec![addr.as_str(), greet.as_str()]] {
        let out = run("grpc-health-probe", &args).await;
        assert_eq!(out.status.code(), Some(4), "{}", describe(&out));
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn grpcurl_lists_describes_and_calls_without_proto_files() {
    let server = start().await;
    let addr = server.addr.to_string();

    let list = ok("grpcurl", &["-plaintext", &addr, "list"]).await;
    let services: Vec<&str> = list.lines().collect();
    assert_eq!(
        services,
        [
            "greet.v1.GreetService",
            "grpc.health.v1.Health",
            "grpc.reflection.v1.ServerReflection",
            "grpc.reflection.v1alpha.ServerReflection",
        ]
    );

    // Describe a service, a method, messages, an enum and a field's type.
    let service = ok(
        "grpcurl",
        &["-plaintext", &addr, "describe", "greet.v1.GreetService"],
    )
    .await;
    assert!(service.contains("service GreetService {"), "{service}");
    assert!(
        service.contains(
            "rpc GreetStream ( .greet.v1.GreetStreamRequest ) returns ( stream .greet.v1.GreetResponse );"
        ),
        "{service}"
    );
    assert!(
        service.contains(
            "rpc Chat ( stream .greet.v1.GreetRequest ) returns ( stream .greet.v1.GreetResponse );"
        ),
        "{service}"
    );
    for (symbol, expected) in [
        (
            "greet.v1.GreetService.Greet",
            "rpc Greet ( .greet.v1.GreetRequest )",
        ),
        ("greet.v1.GreetRequest", "string name = 1;"),
        ("greet.v1.GreetStreamRequest", "int32 count = 2;"),
        (
            "grpc.health.v1.HealthCheckResponse.ServingStatus",
            "NOT_SERVING = 2;",
        ),
        (
            "grpc.health.v1.HealthListResponse",
            "map<string, .grpc.health.v1.HealthCheckResponse> statuses = 1;",
        ),
    ] {
        let text = ok("grpcurl", &["-plaintext", &addr, "describe", symbol]).await;
        assert!(text.contains(expected), "{symbol}: {text}");
    }

    // Unknown symbol: reflection answers NOT_FOUND, grpcurl says so.
    let out = run("grpcurl", &["-plaintext", &addr, "describe", "no.Such"]).await;
    assert!(!out.status.success());
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("Symbol not found: no.Such"),
        "{}",
        describe(&out)
    );

    // Calls, with the request written as JSON against reflected schemas.
    let reply = ok(
        "grpcurl",
        &[
            "-plaintext",
            "-d",
            r#"{"name":"Tools"}"#,
            &addr,
            "greet.v1.GreetService/Greet",
        ],
    )
    .await;
    assert!(reply.contains(r#""greeting": "Hello, Tools!""#), "{reply}");
    let stream = ok(
        "grpcurl",
        &[
            "-plaintext",
            "-d",
            r#"{"name":"S","count":2}"#,
            &addr,
            "greet.v1.GreetService/GreetStream",
        ],
    )
    .await;
    assert!(
        stream.contains("Hello, S! (1)") && stream.contains("Hello, S! (2)"),
        "{stream}"
    );
    let check = ok(
        "grpcurl",
        &[
            "-plaintext",
            "-d",
            r#"{"service":"greet.v1.GreetService"}"#,
            &addr,
            "grpc.health.v1.Health/Check",
        ],
    )
    .await;
    assert!(check.contains(r#""status": "SERVING""#), "{check}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn grpcurl_calls_the_v1alpha_reflection_service() {
    let server = start().await;
    let addr = server.addr.to_string();
    // Three questions on one stream, the v1alpha way: list, a symbol, and
    // an unknown symbol (an error response; the stream goes on).
    let requests = r#"{"list_services":""}
{"file_containing_symbol":"greet.v1.GreetRequest"}
{"file_containing_symbol":"no.Such"}
{"all_extension_numbers_of_type":"greet.v1.GreetRequest"}"#;
    let out = ok(
        "grpcurl",
        &[
            "-plaintext",
            "-d",
            requests,
            &addr,
            "grpc.reflection.v1alpha.ServerReflection/ServerReflectionInfo",
        ],
    )
    .await;
    assert!(out.contains(r#""name": "greet.v1.GreetService""#), "{out}");
    assert!(out.contains(r#""fileDescriptorProto": ["#), "{out}");
    assert!(out.contains(r#""errorCode": 5"#), "{out}");
    assert!(
        out.contains(r#""baseTypeName": "greet.v1.GreetRequest""#),
        "{out}"
    );
    assert_eq!(out.matches(r#""originalRequest""#).count(), 4, "{out}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn buf_curl_reflects_and_calls_over_every_protocol() {
    let server = start().await;
    let url = format!("http://{}/greet.v1.GreetService/Greet", server.addr);
    for (protocol, h2) in [
        ("connect", false),
        ("connect", true),
        ("grpc", true),
        ("grpcweb", false),
        ("grpcweb", true),
    ] {
        let mut args = vec!["curl", "--reflect", "--protocol", protocol];
        if h2 {
            args.push("--http2-prior-knowledge");
        }
        args.extend(["-d", r#"{"name":"Buf"}"#, url.as_str()]);
        let reply = ok("buf", &args).await;
        assert!(
            reply.contains(r#""greeting": "Hello, Buf!""#),
            "{protocol} h2={h2}: {reply}"
        );
    }

    // Listing through each reflection version.
    let base = format!("http://{}", server.addr);
    for version in ["grpc-v1", "grpc-v1alpha"] {
        let methods = ok(
            "buf",
            &[
                "curl",
                "--reflect",
                "--reflect-protocol",
                version,
                "--http2-prior-knowledge",
                "--list-methods",
                &base,
            ],
        )
        .await;
        for method in [
            "greet.v1.GreetService/Chat",
            "greet.v1.GreetService/Greet",
            "grpc.health.v1.Health/Watch",
            "grpc.reflection.v1alpha.ServerReflection/ServerReflectionInfo",
        ] {
            assert!(methods.lines().any(|l| l == method), "{version}: {methods}");
        }
    }
}

//! The original `connectrpc` README's code, as a user would type it, against
//! the generated greet service; served and called on 127.0.0.1 where that
//! is cheap. Each test names the README section it copies.

use std::net::SocketAddr;
use std::sync::Arc;

use compat_tests::MyGreetService;
use compat_tests::proto::greet::v1::{GreetRequest, GreetServiceClient, GreetServiceExt as _};

type BoxError = Box<dyn std::error::Error + Send + Sync>;

/// Serves a `connectrpc::Server` on an ephemeral port of 127.0.0.1 and
/// evaluates to its address.
macro_rules! serve {
    ($server:expr) => {{
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr: SocketAddr = listener.local_addr().unwrap();
        tokio::spawn($server.serve_with_listener(listener));
        addr
    }};
}

// "Architecture" (lib docs): the tower service made from a router.
#[tokio::test]
async fn connect_rpc_service_from_a_router() -> Result<(), BoxError> {
    use connectrpc::{ConnectError, ConnectRpcService, Context, Router};

    let greet_impl = Arc::new(MyGreetService);
    let router = greet_impl.register(Router::new());
    let service = ConnectRpcService::new(router)
        .with_limits(connectrpc::Limits::default().max_message_size(64));
    // `Context` and `ConnectError` are what a handler names.
    let _: fn(Context) -> Result<Context, ConnectError> = Ok;

    let addr = serve!(connectrpc::Server::new(service));
    let http = connectrpc::client::HttpClient::plaintext();
    let config = connectrpc::client::ClientConfig::new(format!("http://{addr}").parse()?);
    let client = GreetServiceClient::new(http, config);
    let response = client
        .greet(GreetRequest {
            name: "World".into(),
            ..Default::default()
        })
        .await?;
    assert_eq!(response.greeting, "Hello, World!");
    // The limits apply: a request message over 64 bytes is refused.
    let err = client
        .greet(GreetRequest {
            name: "x".repeat(100),
            ..Default::default()
        })
        .await
        .unwrap_err();
    assert_eq!(err.code(), connectrpc::Code::ResourceExhausted);
    Ok(())
}

// "Standalone server" and "Client", then "Per-call options and client-wide
// defaults".
#[tokio::test]
async fn standalone_server_client_and_options() -> Result<(), BoxError> {
    use connectrpc::{Router, Server};

    let router = Arc::new(MyGreetService).register(Router::new());
    let addr = serve!(Server::new(router));

    use connectrpc::client::{ClientConfig, HttpClient};

    let http = HttpClient::plaintext(); // cleartext http:// only; use with_tls() for https://
    let config = ClientConfig::new(format!("http://{addr}").parse()?);
    let client = GreetServiceClient::new(http.clone(), config);

    let response = client
        .greet(GreetRequest {
            name: "World".into(),
            ..Default::default()
        })
        .await?;
    assert_eq!(response.message().greeting, "Hello, World!");

    use connectrpc::client::CallOptions;
    use std::time::Duration;

    // Per-call timeout
    let response = client
        .greet_with_options(
            GreetRequest {
                name: "World".into(),
                ..Default::default()
            },
            CallOptions::default().with_timeout(Duration::from_secs(5)),
        )
        .await?;
    assert_eq!(response.into_inner().greeting, "Hello, World!");

    // Client-wide defaults, in both spellings the original crate used.
    let config = ClientConfig::new(format!("http://{addr}").parse()?)
        .default_timeout(Duration::from_secs(30))
        .default_header("authorization", "Bearer ...");
    let client = GreetServiceClient::new(http.clone(), config);
    let request = GreetRequest {
        name: "defaults".into(),
        ..Default::default()
    };
    let response = client.greet(request).await?;
    assert_eq!(response.into_message().greeting, "Hello, defaults!");

    let config = ClientConfig::new(format!("http://{addr}").parse()?)
        .with_default_timeout(Duration::from_secs(30))
        .with_default_header("authorization", "Bearer ...");
    let client = GreetServiceClient::new(http, config);
    // By reference still works, and the view twin takes options too.
    let request = GreetRequest {
        name: "ref".into(),
        ..Default::default()
    };
    assert_eq!(client.greet(&request).await?.greeting, "Hello, ref!");
    let view = client
        .greet_view_with_options(&request, CallOptions::default().with_max_message_size(1024))
        .await?;
    assert_eq!(view.message().reborrow().greeting, "Hello, ref!");
    let view = client.greet_view(request).await?;
    assert_eq!(view.reborrow().greeting, "Hello, ref!");
    Ok(())
}

// An invalid header given as a string neither panics nor vanishes: the call
// fails and says which header.
#[tokio::test]
async fn invalid_string_headers_fail_the_call() -> Result<(), BoxError> {
    use connectrpc::client::{CallOptions, ClientConfig, HttpClient};

    let config = ClientConfig::new("http://127.0.0.1:9".parse()?)
        .default_header("authorization", "Bearer \n");
    let client = GreetServiceClient::new(HttpClient::plaintext(), config);
    let err = client.greet(GreetRequest::default()).await.unwrap_err();
    assert_eq!(err.code(), connectrpc::Code::InvalidArgument);
    assert!(err.message().contains("authorization"), "{}", err.message());

    let client = GreetServiceClient::new(
        HttpClient::plaintext(),
        ClientConfig::new("http://127.0.0.1:9".parse()?),
    );
    let options = CallOptions::default().with_header("x y", "1");
    let err = client
        .greet_with_options(GreetRequest::default(), options)
        .await
        .unwrap_err();
    assert_eq!(err.code(), connectrpc::Code::InvalidArgument);
    Ok(())
}

// "With Axum (recommended)".
#[tokio::test]
async fn with_axum() -> Result<(), BoxError> {
    use axum::{Router, routing::get};
    use connectrpc::Router as ConnectRouter;
    use std::sync::Arc;

    let connect = Arc::new(MyGreetService).register(ConnectRouter::new());

    let app = Router::new()
        .route("/health", get(|| async { "OK" }))
        .fallback_service(connect.into_axum_service());

    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let addr = listener.local_addr()?;
    tokio::spawn(async move { axum::serve(listener, app).await });

    let client = GreetServiceClient::new(
        connectrpc::client::HttpClient::plaintext(),
        connectrpc::client::ClientConfig::new(format!("http://{addr}").parse()?),
    );
    let response = client
        .greet(GreetRequest {
            name: "axum".into(),
            ..Default::default()
        })
        .await?;
    assert_eq!(response.greeting, "Hello, axum!");
    Ok(())
}

// "Custom Compression": a provider in the README's form, registered on the
// default registry, used by a server and a client.
mod custom_compression {
    use bytes::Bytes;
    use connectrpc::{CompressionProvider, CompressionRegistry, ConnectError};

    /// Stores bytes XOR 0x5a: reversible, and easy to tell from plain.
    pub(crate) struct MyCompression;

    impl CompressionProvider for MyCompression {
        fn name(&self) -> &'static str {
            "my-algo"
        }
        fn compress(&self, data: &[u8]) -> Result<Bytes, ConnectError> {
            Ok(data.iter().map(|b| b ^ 0x5a).collect())
        }
        fn decompressor<'a>(
            &self,
            data: &'a [u8],
        ) -> Result<Box<dyn std::io::Read + 'a>, ConnectError> {
            // Return a reader that yields decompressed bytes. The framework
            // controls how much is read.
            let plain: Vec<u8> = data.iter().map(|b| b ^ 0x5a).collect();
            Ok(Box::new(std::io::Cursor::new(plain)))
        }
    }

    pub(crate) fn registry() -> CompressionRegistry {
        CompressionRegistry::default().register(MyCompression)
    }
}

#[tokio::test]
async fn custom_compression_end_to_end() -> Result<(), BoxError> {
    use connectrpc::client::{CallOptions, ClientConfig, HttpClient};
    use connectrpc::{ConnectRpcService, Router, StackConfig};

    let registry = custom_compression::registry();
    assert!(registry.accept_encoding().ends_with("my-algo"));
    let router = Arc::new(MyGreetService)
        .register(Router::new().with_config(StackConfig::new().compression(registry.clone())));
    let addr = serve!(connectrpc::Server::new(ConnectRpcService::new(router)));

    for config in [
        ClientConfig::new(format!("http://{addr}").parse()?),
        ClientConfig::new(format!("http://{addr}").parse()?).grpc(),
    ] {
        let config = config.compressions(registry.clone());
        let client = GreetServiceClient::new(HttpClient::plaintext_http2_only(), config);
        let options = CallOptions::default().with_compression("my-algo");
        let response = client
            .greet_with_options(
                GreetRequest {
                    name: "packed".into(),
                    ..Default::default()
                },
                options,
            )
            .await?;
        assert_eq!(response.greeting, "Hello, packed!");
    }
    Ok(())
}

// "Standalone server" with an address, and "Feature Flags": the TLS
// constructors the table names; compiled, not run (a fixed port, and TLS
// needs certificates).
#[allow(dead_code)]
async fn serve_on_a_fixed_port(router: connectrpc::Router) -> Result<(), BoxError> {
    use connectrpc::Server;

    Server::new(router).serve("127.0.0.1:8080".parse()?).await?;
    Ok(())
}

#[allow(dead_code)]
async fn tls_forms(
    uri: http::Uri,
    router: connectrpc::Router,
    server_tls: connectrpc::server::TlsConfig,
) -> Result<(), BoxError> {
    use connectrpc::ClientTlsConfig;
    use connectrpc::client::{Http2Connection, HttpClient};

    let _pooled = HttpClient::with_tls(ClientTlsConfig::webpki_roots());
    let _single = Http2Connection::connect_tls(uri, ClientTlsConfig::webpki_roots()).await?;
    connectrpc::Server::new(router)
        .with_tls(server_tls)
        .serve("127.0.0.1:8443".parse()?)
        .await?;
    Ok(())
}

// "use buffa::OwnedView for the view type": the handler's request type.
#[test]
fn owned_view_is_buffa_s() {
    fn takes(
        _: buffa::OwnedView<
            compat_tests::proto::greet::v1::greet_service::GreetRequestView<'static>,
        >,
    ) {
    }
    let _ = takes;
    let _: Option<
        connectrpc::OwnedView<
            compat_tests::proto::greet::v1::greet_service::GreetRequestView<'static>,
        >,
    > = None::<buffa::OwnedView<_>>;
}

//! Serves every corpus service on 127.0.0.1 and calls each method with its
//! generated client, over the binary and the JSON codec — once for the code
//! `connectrpc-build` generated, once for the code `protoc-gen-connect-rust`
//! generated.

/// A server on 127.0.0.1; stops when dropped.
struct TestServer {
    base: String,
    _stop: tokio::sync::oneshot::Sender<()>,
}

async fn start(router: connectrpc::Router) -> TestServer {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let (tx, rx) = tokio::sync::oneshot::channel::<()>();
    tokio::spawn(
        connectrpc::Server::new(router)
            .with_graceful_shutdown(async move {
                let _ = rx.await;
            })
            .serve_with_listener(listener),
    );
    TestServer { base, _stop: tx }
}

macro_rules! corpus_tests {
    ($tree:ident: $($name:ident),* $(,)?) => {
        /// The corpus as one workflow generated it.
        mod $tree {
            use codegen_tests::$tree::{calls, impls};

            $(
                #[tokio::test]
                async fn $name() {
                    let server = super::start(impls::router()).await;
                    for json in [false, true] {
                        calls::$name(&server.base, json).await.unwrap_or_else(|e| {
                            panic!("{} (json: {json}): {e:?}", stringify!($name))
                        });
                    }
                }
            )*
        }
    };
}

corpus_tests!(build_rs:
    keywords, methods, multi, split, nested, digits, no_package, well_known, imports, streaming,
    deprecated, optional, clash, editions,
);

corpus_tests!(plugin:
    keywords, methods, multi, split, nested, digits, no_package, well_known, imports, streaming,
    deprecated, optional, clash, editions,
);

//! Transports: tower HTTP services that carry client calls.
//!
//! A client stack runs over any `tower::Service<http::Request<B>>`; this
//! module has two ready-made ones, both answering with
//! `http::Response<`[`ResponseBody`]`>` (hyper's body, failures mapped) and failing with a
//! [`ConnectError`](connect_core::ConnectError):
//!
//! | transport | connections | protocols |
//! | --- | --- | --- |
//! | [`HttpClient`] | a pool per host, on `hyper-util`'s legacy client | HTTP/1.1; h2c with prior knowledge ([`HttpClientBuilder::http2_only`]); over TLS, HTTP/2 or HTTP/1.1 as ALPN chooses |
//! | [`Http2Connection`] | exactly one, opened by [`Http2Connection::connect`] | HTTP/2 only: h2c for `http://`, TLS with ALPN `h2` for `https://` |
//!
//! TLS (feature `tls`) is rustls with the `ring` provider, configured with a
//! `ClientTlsConfig`: the Mozilla roots, the system's roots, or your own
//! PEM roots, and optionally a client certificate.
//!
//! # Errors
//!
//! Everything that goes wrong below HTTP — a refused connection, a failed
//! TLS handshake, a reset stream, a connection closed before the response —
//! is [`Code::Unavailable`](connect_core::Code) with the underlying error's
//! text in the message (`connection refused: 127.0.0.1:1: tcp connect
//! error: Connection refused (os error 111)`). A timeout — the connect
//! timeout, hyper's, any I/O `TimedOut` — is `DeadlineExceeded`, so retry
//! policies that retry `unavailable` do not retry it. A
//! request the transport cannot send as given (no scheme or authority,
//! `https` on a client without TLS) is `InvalidArgument`. An error from the
//! request body that is itself a `ConnectError` is returned unchanged.
//!
//! Both are generic over the request body `B`, by default the client
//! stack's [`ClientBody`]; `HttpClient::builder().build()` and
//! `Http2Connection::builder().connect(uri)` make transports for other
//! bodies.
//!
//! ```no_run
//! # async fn run() -> Result<(), connect_core::ConnectError> {
//! use connect_client::transport::HttpClient;
//! use connect_layers::ClientBody;
//! use tower_service::Service;
//!
//! let mut client = HttpClient::plaintext();
//! let request = http::Request::post("http://127.0.0.1:8080/greet.v1.GreetService/Greet")
//!     .header("content-type", "application/proto")
//!     .body(ClientBody::full("\x0a\x03Ada".into()))
//!     .unwrap();
//! std::future::poll_fn(|cx| client.poll_ready(cx)).await?;
//! let response = client.call(request).await?;
//! assert_eq!(response.version(), http::Version::HTTP_11);
//! # Ok(())
//! # }
//! ```

use connect_layers::ClientBody;

mod client;
pub(crate) mod connector;
pub(crate) mod error;
mod future;
mod http2;
mod resend;
#[cfg(feature = "tls")]
pub(crate) mod tls;

pub use self::client::{HttpClient, HttpClientBuilder};
pub use self::future::{ResponseBody, ResponseFuture};
pub use self::http2::{Http2Connection, Http2ConnectionBuilder};
#[cfg(feature = "tls")]
pub use self::tls::{ClientTlsConfig, TlsError};

/// A boxed error, as bodies and connectors report them.
type BoxError = Box<dyn std::error::Error + Send + Sync>;

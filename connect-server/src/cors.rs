//! CORS for browser clients (connect-web, grpc-web): the request headers a
//! preflight must allow and the response headers a browser must be allowed
//! to read, for use with `tower_http::cors::CorsLayer` in front of the
//! router.
//!
//! ```
//! use connect_server::{Router, cors};
//! use http::Method;
//! use tower::ServiceBuilder;
//! use tower_http::cors::{AllowOrigin, CorsLayer};
//!
//! let cors = CorsLayer::new()
//!     .allow_origin(AllowOrigin::exact("https://app.example".parse().unwrap()))
//!     .allow_methods([Method::GET, Method::POST])
//!     .allow_headers(cors::allowed_headers())
//!     .expose_headers(cors::exposed_headers())
//!     .max_age(std::time::Duration::from_secs(7200));
//! let app = ServiceBuilder::new().layer(cors).service(Router::new());
//! # let _ = app;
//! ```
//!
//! Add your own metadata headers to both lists (and `trailer-<name>` for
//! Connect unary trailers you want a browser to read), and `etag` to the
//! exposed ones if pages read cache validators.
//!
//! The recipe is checked in a real browser: `browser/run.sh` calls
//! `examples/greet/web.rs` from headless Chromium with connect-web over
//! Connect (JSON, binary, GET) and gRPC-Web from another origin. connect-web
//! sends `connect-protocol-version` on every Connect POST,
//! `connect-timeout-ms` or `grpc-timeout` when a call has a timeout, and
//! `x-grpc-web` and `x-user-agent` on every gRPC-Web call: a preflight that
//! does not allow them fails the call before it is sent.

use http::HeaderName;

/// Request headers Connect and gRPC-Web clients send.
pub const ALLOWED_HEADERS: [&str; 10] = [
    "content-type",
    "connect-protocol-version",
    "connect-timeout-ms",
    "connect-content-encoding",
    "connect-accept-encoding",
    "grpc-timeout",
    "grpc-encoding",
    "grpc-accept-encoding",
    "x-grpc-web",
    "x-user-agent",
];

/// Response headers a browser client needs to read.
pub const EXPOSED_HEADERS: [&str; 7] = [
    "grpc-status",
    "grpc-message",
    "grpc-status-details-bin",
    "grpc-encoding",
    "grpc-accept-encoding",
    "connect-content-encoding",
    "connect-accept-encoding",
];

/// [`ALLOWED_HEADERS`] as header names.
pub fn allowed_headers() -> Vec<HeaderName> {
    ALLOWED_HEADERS
        .iter()
        .map(|h| HeaderName::from_static(h))
        .collect()
}

/// [`EXPOSED_HEADERS`] as header names.
pub fn exposed_headers() -> Vec<HeaderName> {
    EXPOSED_HEADERS
        .iter()
        .map(|h| HeaderName::from_static(h))
        .collect()
}

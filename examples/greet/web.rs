//! The greet service for browsers: CORS with tower-http's `CorsLayer` and
//! the project's recipe (`connectrpc::server::cors`), so a page served from
//! another origin calls it with connect-web over Connect (JSON or binary)
//! and gRPC-Web. `browser/run.sh` drives it from headless Chromium.
//!
//! ```sh
//! cargo run --example greet-web -- 127.0.0.1:8080 http://127.0.0.1:3000
//! # a preflight, as a browser on http://127.0.0.1:3000 sends it:
//! curl -i -X OPTIONS http://127.0.0.1:8080/greet.v1.GreetService/Greet \
//!     -H 'origin: http://127.0.0.1:3000' \
//!     -H 'access-control-request-method: POST' \
//!     -H 'access-control-request-headers: content-type,connect-protocol-version'
//! ```
//!
//! Arguments: the address to listen on (default `127.0.0.1:8080`), then
//! the origins allowed to call (default `http://127.0.0.1:3000`). The
//! server prints `greet-web listening on http://ADDR` once it accepts
//! connections.
//!
//! Next to the example `Greeter`, `Greet` rejects names longer than
//! [`MAX_NAME_CHARS`] with `invalid_argument` and a detail (the limit, as
//! a `google.protobuf.Int32Value`), `GreetStream` adds the same detail to
//! its `count` error, every response carries an `x-greet-server`
//! header, and `Greet` answers with `cache-control: public, max-age=60` and
//! an `etag` (it may be called with a Connect GET): the page reads error
//! details, a custom header and the cache headers across origins.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use buffa_types::google::protobuf::Int32Value;
use connectrpc::server::cors;
use connectrpc::{ConnectError, Context, ErrorDetailsExt as _, OwnedView, ResponseStream};
use connectrpc::{Router, Server, Streaming};
use examples::Greeter;
use examples::greeter::MAX_GREETINGS;
use examples::proto::greet::v1::greet_service::{GreetRequestView, GreetStreamRequestView};
use examples::proto::greet::v1::{GreetResponse, GreetService, GreetServiceExt as _};
use http::header::{CACHE_CONTROL, ETAG};
use http::{HeaderName, HeaderValue, Method};
use tower::ServiceBuilder;
use tower_http::cors::{AllowOrigin, CorsLayer};

/// The longest name `Greet` accepts, in characters.
const MAX_NAME_CHARS: i32 = 40;

/// A custom response header; listed in the exposed headers so that a page
/// on another origin may read it.
const SERVER_HEADER: &str = "x-greet-server";

/// The example `Greeter` with error details and a custom header.
#[derive(Clone, Copy, Debug, Default)]
struct WebGreeter;

fn limit(value: i32) -> Int32Value {
    Int32Value {
        value,
        ..Default::default()
    }
}

/// A strong validator for a greeting: its FNV-1a hash, quoted.
fn etag_for(text: &str) -> String {
    let hash = text.bytes().fold(0xcbf2_9ce4_8422_2325_u64, |h, b| {
        (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3)
    });
    format!("\"{hash:016x}\"")
}

fn tag(ctx: &mut Context) {
    ctx.response_headers_mut()
        .insert(SERVER_HEADER, HeaderValue::from_static("greet-web"));
}

impl GreetService for WebGreeter {
    async fn greet(
        &self,
        mut ctx: Context,
        request: OwnedView<GreetRequestView<'static>>,
    ) -> Result<(GreetResponse, Context), ConnectError> {
        let chars = request.reborrow().name.chars().count();
        if chars > MAX_NAME_CHARS as usize {
            return Err(ConnectError::invalid_argument(format!(
                "name must be at most {MAX_NAME_CHARS} characters, got {chars}"
            ))
            .with_typed_detail(&limit(MAX_NAME_CHARS)));
        }
        tag(&mut ctx);
        let (response, mut ctx) = Greeter.greet(ctx, request).await?;
        // Greet has no side effects, so connect-web may send it as a GET
        // (`useHttpGet`): let browsers and CDNs cache the answer.
        let h = ctx.response_headers_mut();
        h.insert(
            CACHE_CONTROL,
            HeaderValue::from_static("public, max-age=60"),
        );
        if let Ok(etag) = HeaderValue::try_from(etag_for(&response.greeting)) {
            h.insert(ETAG, etag);
        }
        Ok((response, ctx))
    }

    async fn greet_stream(
        &self,
        mut ctx: Context,
        request: OwnedView<GreetStreamRequestView<'static>>,
    ) -> Result<(ResponseStream<GreetResponse>, Context), ConnectError> {
        tag(&mut ctx);
        Greeter
            .greet_stream(ctx, request)
            .await
            .map_err(|e| e.with_typed_detail(&limit(MAX_GREETINGS)))
    }

    async fn greet_many(
        &self,
        ctx: Context,
        requests: Streaming<GreetRequestView<'static>>,
    ) -> Result<(GreetResponse, Context), ConnectError> {
        Greeter.greet_many(ctx, requests).await
    }

    async fn chat(
        &self,
        ctx: Context,
        requests: Streaming<GreetRequestView<'static>>,
    ) -> Result<(ResponseStream<GreetResponse>, Context), ConnectError> {
        Greeter.chat(ctx, requests).await
    }
}

/// The CORS recipe: the Connect and gRPC-Web request headers allowed, the
/// status headers (and our own `x-greet-server` and `etag`) exposed, preflights
/// cached for two hours.
fn cors_layer(origins: Vec<HeaderValue>) -> CorsLayer {
    let mut exposed = cors::exposed_headers();
    exposed.push(HeaderName::from_static(SERVER_HEADER));
    // `cache-control` is readable cross-origin anyway; `etag` is not.
    exposed.push(ETAG);
    CorsLayer::new()
        .allow_origin(AllowOrigin::list(origins))
        .allow_methods([Method::GET, Method::POST])
        .allow_headers(cors::allowed_headers())
        .expose_headers(exposed)
        .max_age(Duration::from_secs(7200))
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let addr: SocketAddr = args
        .next()
        .unwrap_or_else(|| "127.0.0.1:8080".to_owned())
        .parse()?;
    let mut origins = args
        .map(|o| HeaderValue::try_from(o.as_str()))
        .collect::<Result<Vec<_>, _>>()?;
    if origins.is_empty() {
        origins.push(HeaderValue::from_static("http://127.0.0.1:3000"));
    }
    let router = Arc::new(WebGreeter).register(Router::new());
    let app = ServiceBuilder::new()
        .layer(cors_layer(origins))
        .service(router);
    let listener = tokio::net::TcpListener::bind(addr).await?;
    println!("greet-web listening on http://{}", listener.local_addr()?);
    Server::new(app)
        // SIGTERM (containers, systemd) or ctrl-c: stop accepting, let the
        // calls in flight finish.
        .with_graceful_shutdown_on_signals()
        .serve_with_listener(listener)
        .await?;
    Ok(())
}

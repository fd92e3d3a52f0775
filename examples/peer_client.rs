//! Our client against someone else's server: the generated
//! `GreetServiceClient` over `HttpClient` calls every method of a
//! `greet.v1.GreetService` server with one protocol, codec and HTTP version,
//! and checks the answers and what went over the wire.
//!
//! ```sh
//! cargo run --example peer-client -- --url http://127.0.0.1:8080 \
//!     --protocol connect|grpc|grpc-web --codec proto|json --http 1|2 \
//!     [--peer NAME] [--extras] [--h1-bidi-refused] [--filter TEXT]
//! ```
//!
//! Prints one line per case, `ok <case>` or `FAIL <case>: <reason>`, then a
//! count, and exits 1 if any case failed (or none ran without `--filter`,
//! which keeps the cases whose name contains its text). `peers/run.sh` runs
//! it against the connect-node and Python grpcio servers of `peers/`.
//!
//! The server must behave like the example `Greeter` (greetings, the
//! `GreetStream` count limit and its 50 ms pacing). `--extras` adds the cases
//! for what the peer servers of `peers/` do besides: echo request header
//! `x-peer-echo` as a response header and as trailer `x-peer-trailer`, and
//! fail `Greet` with `invalid_argument` when the request has header
//! `x-peer-error`. `--h1-bidi-refused`: the server refuses bidi streams over
//! HTTP/1.1 (connect-node answers 505), so the HTTP/1.1 `Chat` cases expect
//! that failure instead of a half-duplex exchange.

use std::fmt::Write as _;
use std::future::Future;
use std::pin::Pin;
use std::process::ExitCode;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use connectrpc::client::ClientBody;
use connectrpc::{
    CallOptions, ClientConfig, Code, Codec, ConnectError, GetPolicy, HttpClient, Idempotency,
    MethodDescriptor, Protocol, StreamType,
};
use examples::proto::greet::v1::{
    GreetRequest, GreetResponse, GreetServiceClient, GreetStreamRequest,
};
use futures_core::Stream;
use http::{HeaderMap, HeaderName, HeaderValue, Method, StatusCode, Version};
use tower_service::Service;

/// The timeout of every call that sets none (sent to the server, enforced
/// locally).
const CALL_TIMEOUT: Duration = Duration::from_secs(10);

/// How long one case may take before it fails as hung.
const CASE_TIMEOUT: Duration = Duration::from_secs(20);

/// A method the server does not have, for the unary error path.
static NOPE: MethodDescriptor = MethodDescriptor::new(
    "greet.v1.GreetService",
    "Nope",
    "/greet.v1.GreetService/Nope",
    StreamType::Unary,
    Idempotency::Unknown,
);

/// Request header the peer servers echo back (`--extras`).
const ECHO: HeaderName = HeaderName::from_static("x-peer-echo");
/// Trailer in which the peer servers echo [`ECHO`] (`--extras`).
const ECHO_TRAILER: HeaderName = HeaderName::from_static("x-peer-trailer");
/// Request header that makes the peer servers fail `Greet` (`--extras`).
const FAIL: HeaderName = HeaderName::from_static("x-peer-error");

// ===== wire recording =====

/// One HTTP exchange as the channel saw it.
#[derive(Debug, Default)]
struct Exchange {
    /// The request's method.
    method: Method,
    /// The request's path and query.
    path_and_query: String,
    /// The request's headers.
    request_headers: HeaderMap,
    /// The response's HTTP version (`None` until it comes, if ever).
    version: Option<Version>,
    /// The response's status.
    status: Option<StatusCode>,
    /// The response's headers.
    response_headers: HeaderMap,
}

impl Exchange {
    /// One line: method, path, HTTP version, status, content type.
    fn summary(&self) -> String {
        let status = self
            .status
            .map_or_else(|| "no response".to_owned(), |s| s.as_u16().to_string());
        let content_type = self
            .response_headers
            .get(http::header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("-");
        let version = self
            .version
            .map_or_else(|| "-".to_owned(), |v| format!("{v:?}"));
        format!(
            "{} {} {version} {status} {content_type}",
            self.method, self.path_and_query,
        )
    }
}

/// The exchanges of the current case.
type Log = Arc<Mutex<Vec<Arc<Mutex<Exchange>>>>>;

/// A channel that records every exchange it carries into a [`Log`].
#[derive(Clone, Debug)]
struct Recorder<S> {
    inner: S,
    log: Log,
}

impl<S, B> Service<http::Request<ClientBody>> for Recorder<S>
where
    S: Service<http::Request<ClientBody>, Response = http::Response<B>>,
    S::Future: Send + 'static,
    B: Send + 'static,
{
    type Response = http::Response<B>;
    type Error = S::Error;
    type Future = Pin<Box<dyn Future<Output = Result<Self::Response, S::Error>> + Send>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), S::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, req: http::Request<ClientBody>) -> Self::Future {
        let exchange = Arc::new(Mutex::new(Exchange {
            method: req.method().clone(),
            path_and_query: req
                .uri()
                .path_and_query()
                .map_or_else(String::new, ToString::to_string),
            request_headers: req.headers().clone(),
            ..Exchange::default()
        }));
        self.log.lock().unwrap().push(Arc::clone(&exchange));
        let response = self.inner.call(req);
        Box::pin(async move {
            let response = response.await;
            if let Ok(r) = &response {
                let mut ex = exchange.lock().unwrap();
                ex.version = Some(r.version());
                ex.status = Some(r.status());
                ex.response_headers = r.headers().clone();
            }
            response
        })
    }
}

// ===== configuration =====

/// What one run tests.
#[derive(Debug)]
struct Args {
    /// The server's base URL (`--url`).
    url: http::Uri,
    /// `--protocol`.
    protocol: Protocol,
    /// `--codec`.
    codec: Codec,
    /// `--http 2` (h2c with prior knowledge) rather than `--http 1`.
    http2: bool,
    /// `--peer`: the server's name, in front of every case name.
    peer: Option<String>,
    /// `--extras`: run the cases for the peer servers' extras.
    extras: bool,
    /// `--h1-bidi-refused`: the server refuses bidi over HTTP/1.1.
    h1_bidi_refused: bool,
    /// `--filter`: run only the cases whose name contains this.
    filter: Option<String>,
}

/// The command line, for errors and `--help`.
const USAGE: &str = "usage: peer-client --url URL --protocol connect|grpc|grpc-web \
    --codec proto|json --http 1|2 [--peer NAME] [--extras] [--h1-bidi-refused] [--filter TEXT]";

/// Reads the command line.
fn parse_args() -> Result<Args, String> {
    let mut url = None;
    let mut protocol = None;
    let mut codec = None;
    let mut http2 = None;
    let mut peer = None;
    let mut extras = false;
    let mut h1_bidi_refused = false;
    let mut filter = None;
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        let mut value = || args.next().ok_or_else(|| format!("{arg} needs a value"));
        match arg.as_str() {
            "--url" => url = Some(value()?.parse().map_err(|e| format!("--url: {e}"))?),
            "--protocol" => {
                protocol = Some(match value()?.as_str() {
                    "connect" => Protocol::Connect,
                    "grpc" => Protocol::Grpc,
                    "grpc-web" => Protocol::GrpcWeb,
                    other => return Err(format!("unknown protocol {other:?}")),
                })
            }
            "--codec" => {
                codec = Some(match value()?.as_str() {
                    "proto" => Codec::Proto,
                    "json" => Codec::Json,
                    other => return Err(format!("unknown codec {other:?}")),
                })
            }
            "--http" => {
                http2 = Some(match value()?.as_str() {
                    "1" | "1.1" => false,
                    "2" => true,
                    other => return Err(format!("unknown HTTP version {other:?}")),
                })
            }
            "--peer" => peer = Some(value()?),
            "--filter" => filter = Some(value()?),
            "--extras" => extras = true,
            "--h1-bidi-refused" => h1_bidi_refused = true,
            "-h" | "--help" => return Err(USAGE.to_owned()),
            other => return Err(format!("unknown argument {other:?}\n{USAGE}")),
        }
    }
    let missing = |what: &str| format!("{what} is required\n{USAGE}");
    Ok(Args {
        url: url.ok_or_else(|| missing("--url"))?,
        protocol: protocol.ok_or_else(|| missing("--protocol"))?,
        codec: codec.ok_or_else(|| missing("--codec"))?,
        http2: http2.ok_or_else(|| missing("--http"))?,
        peer,
        extras,
        h1_bidi_refused,
        filter,
    })
}

/// The client type every case uses.
type Greet = GreetServiceClient<Recorder<HttpClient<ClientBody>>>;

/// Everything a case needs.
struct Peer {
    /// The client of the case.
    client: Greet,
    /// A client sending `Greet` as Connect GET (Connect only).
    get_client: Option<Greet>,
    /// The exchanges the channel carried for the current case.
    log: Log,
    /// The protocol of both clients.
    protocol: Protocol,
    /// The codec of both clients.
    codec: Codec,
    /// Whether the clients speak h2c (else HTTP/1.1).
    http2: bool,
    /// Whether the server refuses bidi over HTTP/1.1.
    h1_bidi_refused: bool,
}

impl Peer {
    /// The clients `args` describe, over one recording `HttpClient`.
    fn new(args: &Args) -> Self {
        let log = Log::default();
        let transport: HttpClient<ClientBody> = if args.http2 {
            HttpClient::builder()
                .http2_only(true)
                .connect_timeout(Duration::from_secs(5))
                .build()
        } else {
            HttpClient::builder()
                .connect_timeout(Duration::from_secs(5))
                .build()
        };
        let channel = Recorder {
            inner: transport,
            log: Arc::clone(&log),
        };
        let config = ClientConfig::new(args.url.clone())
            .with_protocol(args.protocol)
            .with_codec(args.codec)
            .default_timeout(CALL_TIMEOUT);
        let get_client = (args.protocol == Protocol::Connect).then(|| {
            GreetServiceClient::new(
                channel.clone(),
                config.clone().get_policy(GetPolicy::IfNoSideEffects),
            )
        });
        Peer {
            client: GreetServiceClient::new(channel, config),
            get_client,
            log,
            protocol: args.protocol,
            codec: args.codec,
            http2: args.http2,
            h1_bidi_refused: args.h1_bidi_refused,
        }
    }

    /// The transport, as case names show it: `grpc http/2 proto`.
    fn label(&self) -> String {
        let http = if self.http2 { "2" } else { "1.1" };
        format!("{} http/{http} {}", self.protocol, self.codec)
    }

    /// The exchanges of the current case so far.
    fn exchanges(&self) -> Vec<Arc<Mutex<Exchange>>> {
        self.log.lock().unwrap().clone()
    }

    /// The one exchange of the case, sent over the right HTTP version.
    fn exchange(&self) -> Result<Arc<Mutex<Exchange>>, String> {
        let exchanges = self.exchanges();
        if exchanges.len() != 1 {
            return Err(format!("expected 1 HTTP exchange, saw {}", exchanges.len()));
        }
        let ex = Arc::clone(&exchanges[0]);
        {
            let e = ex.lock().unwrap();
            let want = if self.http2 {
                Version::HTTP_2
            } else {
                Version::HTTP_11
            };
            if e.version.is_some_and(|v| v != want) {
                return Err(format!("answered over {:?}, wanted {want:?}", e.version));
            }
        }
        Ok(ex)
    }

    /// Checks a successful exchange: one request with `method`, answered
    /// 200 with the content type of the protocol and codec over the right
    /// HTTP version. Returns its summary.
    fn check_wire(&self, streaming: bool, method: &Method) -> Result<String, String> {
        let ex = self.exchange()?;
        let ex = ex.lock().unwrap();
        if ex.method != method {
            return Err(format!("HTTP method {}, wanted {method}", ex.method));
        }
        if ex.status != Some(StatusCode::OK) {
            return Err(format!("HTTP status {:?}, wanted 200", ex.status));
        }
        let content_type = ex
            .response_headers
            .get(http::header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default();
        let codec = self.codec.to_string();
        let allowed: Vec<String> = match (self.protocol, streaming) {
            (Protocol::Connect, false) => vec![format!("application/{codec}")],
            (Protocol::Connect, true) => vec![format!("application/connect+{codec}")],
            (Protocol::GrpcWeb, _) => grpc_content_types("application/grpc-web", self.codec),
            _ => grpc_content_types("application/grpc", self.codec),
        };
        if !allowed.iter().any(|a| a == content_type) {
            return Err(format!(
                "content-type {content_type:?}, wanted one of {allowed:?}"
            ));
        }
        Ok(ex.summary())
    }

    /// The header that names a request's or response's message compression.
    fn encoding_header(&self, streaming: bool) -> &'static str {
        match (self.protocol, streaming) {
            (Protocol::Connect, false) => "content-encoding",
            (Protocol::Connect, true) => "connect-content-encoding",
            _ => "grpc-encoding",
        }
    }
}

/// The content types of a gRPC or gRPC-Web answer (`base`) with `codec`.
fn grpc_content_types(base: &str, codec: Codec) -> Vec<String> {
    match codec {
        Codec::Proto => vec![base.to_owned(), format!("{base}+proto")],
        _ => vec![format!("{base}+{codec}")],
    }
}

// ===== helpers =====

/// A case's outcome: a detail to print, or why it failed.
type Outcome = Result<String, String>;

/// A `GreetRequest` for `name`.
fn request(name: &str) -> GreetRequest {
    GreetRequest {
        name: name.to_owned(),
        ..Default::default()
    }
}

/// A `GreetStreamRequest` for `count` greetings of `name`.
fn stream_request(name: &str, count: i32) -> GreetStreamRequest {
    GreetStreamRequest {
        name: name.to_owned(),
        count,
        ..Default::default()
    }
}

/// Checks a greeting's text.
fn expect_greeting(got: &GreetResponse, want: &str) -> Result<(), String> {
    if got.greeting == want {
        Ok(())
    } else {
        Err(format!(
            "greeting {:?}, wanted {want:?}",
            shorten(&got.greeting)
        ))
    }
}

/// At most 80 characters of `s`, for messages about long greetings.
fn shorten(s: &str) -> String {
    if s.len() <= 80 {
        s.to_owned()
    } else {
        let cut = (0..=77).rev().find(|&i| s.is_char_boundary(i)).unwrap_or(0);
        format!("{}... ({} bytes)", &s[..cut], s.len())
    }
}

/// The reason of a case whose call failed unexpectedly.
fn call_failed(e: &ConnectError) -> String {
    format!("call failed: {e}")
}

/// Checks an error's code and, if given, its message.
fn expect_error(e: &ConnectError, code: Code, message: Option<&str>) -> Result<(), String> {
    if e.code() != code {
        return Err(format!("error {e}, wanted code {code}"));
    }
    if let Some(m) = message
        && e.message() != m
    {
        return Err(format!("error message {:?}, wanted {m:?}", e.message()));
    }
    Ok(())
}

/// Call options carrying the echo header.
fn echo_options(value: &'static str) -> CallOptions {
    CallOptions::new().header(ECHO, HeaderValue::from_static(value))
}

/// Checks the echo of `value` in `headers` and `trailers`.
fn check_echo(
    headers: &HeaderMap,
    trailers: Option<&HeaderMap>,
    value: &str,
) -> Result<(), String> {
    if headers.get(&ECHO).is_none_or(|v| v != value) {
        return Err(format!(
            "response header {ECHO} = {:?}, wanted {value:?}",
            headers.get(&ECHO)
        ));
    }
    let Some(trailers) = trailers else {
        return Err("no trailers".to_owned());
    };
    if trailers.get(&ECHO_TRAILER).is_none_or(|v| v != value) {
        return Err(format!(
            "trailer {ECHO_TRAILER} = {:?}, wanted {value:?} (trailers {trailers:?})",
            trailers.get(&ECHO_TRAILER)
        ));
    }
    Ok(())
}

/// A stream of `items`, one message at a time.
struct Iter<I>(I);

impl<I: Iterator + Unpin> Stream for Iter<I> {
    type Item = I::Item;

    fn poll_next(mut self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<Option<I::Item>> {
        Poll::Ready(self.0.next())
    }
}

/// A request stream greeting each of `names`.
fn requests(names: &[&str]) -> Iter<std::vec::IntoIter<GreetRequest>> {
    Iter(
        names
            .iter()
            .map(|n| request(n))
            .collect::<Vec<_>>()
            .into_iter(),
    )
}

/// Reads a server stream to its end: the messages, or the first error.
async fn collect(
    stream: &mut connectrpc::ServerStreaming<GreetResponse>,
) -> Result<Vec<String>, (Vec<String>, ConnectError)> {
    let mut out = Vec::new();
    while let Some(item) = stream.message().await {
        match item {
            Ok(m) => out.push(m.greeting),
            Err(e) => return Err((out, e)),
        }
    }
    Ok(out)
}

// ===== cases =====

/// Unary `Greet` of `name`, answered `want`.
async fn greet(p: &Peer, name: &str, want: &str) -> Outcome {
    let resp = p
        .client
        .greet(&request(name))
        .await
        .map_err(|e| call_failed(&e))?;
    expect_greeting(resp.message(), want)?;
    p.check_wire(false, &Method::POST)
}

/// A large message (256 KiB each way), compressed with `compression` if set.
async fn greet_large(p: &Peer, compression: Option<&'static str>) -> Outcome {
    let name: String = "0123456789abcdef".repeat(16 * 1024);
    let mut options = CallOptions::new();
    if let Some(c) = compression {
        options = options.compression(c);
    }
    let resp = p
        .client
        .greet_with_options(&request(&name), options)
        .await
        .map_err(|e| call_failed(&e))?;
    expect_greeting(resp.message(), &format!("Hello, {name}!"))?;
    let mut detail = p.check_wire(false, &Method::POST)?;
    let ex = p.exchange()?;
    let ex = ex.lock().unwrap();
    let header = p.encoding_header(false);
    let sent = ex.request_headers.get(header).and_then(|v| v.to_str().ok());
    if let Some(c) = compression
        && sent != Some(c)
    {
        return Err(format!("request {header}: {sent:?}, wanted {c:?}"));
    }
    let received = ex
        .response_headers
        .get(header)
        .and_then(|v| v.to_str().ok());
    let _ = write!(
        detail,
        "; request {header}: {}, response {header}: {}",
        sent.unwrap_or("-"),
        received.unwrap_or("-")
    );
    Ok(detail)
}

/// Unary `Greet` as Connect GET: the query carries the message.
async fn greet_get(p: &Peer) -> Outcome {
    let client = p.get_client.as_ref().ok_or("no GET client")?;
    let resp = client
        .greet(&request("Get"))
        .await
        .map_err(|e| call_failed(&e))?;
    expect_greeting(resp.message(), "Hello, Get!")?;
    let detail = p.check_wire(false, &Method::GET)?;
    let ex = p.exchange()?;
    let query = ex.lock().unwrap().path_and_query.clone();
    for want in ["connect=v1", &format!("encoding={}", p.codec)] {
        if !query.split(['?', '&']).any(|kv| kv == want) {
            return Err(format!("query of {query:?} lacks {want}"));
        }
    }
    Ok(detail)
}

/// A unary call to a method the server lacks: `unimplemented` (the
/// unary error path; Connect says 404, gRPC a 200 or 404, depending on
/// the server).
async fn greet_unknown_method(p: &Peer) -> Outcome {
    let result = p
        .client
        .client()
        .unary::<GreetRequest, GreetResponse>(&NOPE, &request("x"), CallOptions::new())
        .await;
    let e = match result {
        Ok(_) => return Err("call succeeded, wanted unimplemented".to_owned()),
        Err(e) => e,
    };
    expect_error(&e, Code::Unimplemented, None)?;
    let ex = p.exchange()?;
    let summary = ex.lock().unwrap().summary();
    Ok(format!("{e}; {summary}"))
}

/// Unary `Greet` with the echo header: it comes back as a response
/// header and a trailer (`--extras`).
async fn greet_metadata(p: &Peer) -> Outcome {
    let resp = p
        .client
        .greet_with_options(&request("Meta"), echo_options("unary"))
        .await
        .map_err(|e| call_failed(&e))?;
    expect_greeting(resp.message(), "Hello, Meta!")?;
    check_echo(resp.headers(), Some(resp.trailers()), "unary")?;
    p.check_wire(false, &Method::POST)
}

/// Unary `Greet` failed by the server (`--extras`): `invalid_argument`
/// with the message asked for, metadata on the error, and the protocol's
/// HTTP status (400 for Connect, 200 for gRPC and gRPC-Web).
async fn greet_error(p: &Peer) -> Outcome {
    let options =
        echo_options("failed").header(FAIL, HeaderValue::from_static("no greeting today"));
    let e = match p.client.greet_with_options(&request("Err"), options).await {
        Ok(r) => {
            return Err(format!(
                "call succeeded ({:?}), wanted invalid_argument",
                r.message().greeting
            ));
        }
        Err(e) => e,
    };
    expect_error(&e, Code::InvalidArgument, Some("no greeting today"))?;
    // The error's metadata: the echo is a header or a trailer, as the
    // protocol carries it (a gRPC trailers-only answer has only one block).
    let echoed = [e.headers(), e.trailers()]
        .iter()
        .any(|h| h.get(&ECHO).is_some_and(|v| v == "failed"));
    if !echoed {
        return Err(format!(
            "{ECHO} not in the error's headers {:?} or trailers {:?}",
            e.headers(),
            e.trailers()
        ));
    }
    let ex = p.exchange()?;
    let ex = ex.lock().unwrap();
    let want = if p.protocol == Protocol::Connect {
        StatusCode::BAD_REQUEST
    } else {
        StatusCode::OK
    };
    if ex.status != Some(want) {
        return Err(format!("HTTP status {:?}, wanted {want}", ex.status));
    }
    Ok(format!("{e}; {}", ex.summary()))
}

/// `GreetStream` of `count` greetings, in order, ending with trailers;
/// with `metadata`, the echo too (`--extras`).
async fn greet_stream(p: &Peer, count: i32, metadata: bool) -> Outcome {
    let req = stream_request("Stream", count);
    let options = if metadata {
        echo_options("server-stream")
    } else {
        CallOptions::new()
    };
    let mut stream = p
        .client
        .greet_stream_with_options(&req, options)
        .await
        .map_err(|e| call_failed(&e))?;
    let got = collect(&mut stream)
        .await
        .map_err(|(got, e)| format!("stream failed after {} messages: {e}", got.len()))?;
    let want: Vec<String> = (1..=count)
        .map(|i| format!("Hello, Stream! ({i})"))
        .collect();
    if got != want {
        return Err(format!("messages {got:?}, wanted {want:?}"));
    }
    if stream.trailers().is_none() {
        return Err("no trailers after the end of the stream".to_owned());
    }
    if metadata {
        check_echo(stream.headers(), stream.trailers(), "server-stream")?;
    }
    p.check_wire(true, &Method::POST)
}

/// `GreetStream` over the count limit: `invalid_argument` before any
/// message (the error in the stream's end, not in the headers).
async fn greet_stream_invalid(p: &Peer) -> Outcome {
    let result = match p.client.greet_stream(&stream_request("Stream", 1000)).await {
        Ok(mut stream) => collect(&mut stream).await.map(|got| got.len()),
        Err(e) => Err((Vec::new(), e)),
    };
    let e = match result {
        Ok(n) => {
            return Err(format!(
                "stream ended well after {n} messages, wanted an error"
            ));
        }
        Err((got, _)) if !got.is_empty() => {
            return Err(format!(
                "{} messages before the error, wanted none",
                got.len()
            ));
        }
        Err((_, e)) => e,
    };
    expect_error(
        &e,
        Code::InvalidArgument,
        Some("count must be between 0 and 100"),
    )?;
    let detail = p.check_wire(true, &Method::POST)?;
    Ok(format!("{e}; {detail}"))
}

/// `GreetStream` of 100 greetings 50 ms apart with a 300 ms timeout:
/// `deadline_exceeded`, promptly.
async fn greet_stream_deadline(p: &Peer) -> Outcome {
    let started = Instant::now();
    let options = CallOptions::new().timeout(Duration::from_millis(300));
    let result = match p
        .client
        .greet_stream_with_options(&stream_request("Slow", 100), options)
        .await
    {
        Ok(mut stream) => collect(&mut stream).await.map(|got| got.len()),
        Err(e) => Err((Vec::new(), e)),
    };
    let elapsed = started.elapsed();
    let (got, e) = match result {
        Ok(n) => {
            return Err(format!(
                "stream ended well after {n} messages, wanted deadline_exceeded"
            ));
        }
        Err(r) => r,
    };
    expect_error(&e, Code::DeadlineExceeded, None)?;
    if elapsed > Duration::from_secs(3) {
        return Err(format!("the 300 ms deadline took {elapsed:?}"));
    }
    let ex = p.exchange()?;
    let summary = ex.lock().unwrap().summary();
    Ok(format!(
        "{e} after {} messages, {} ms; {summary}",
        got.len(),
        elapsed.as_millis()
    ))
}

/// `GreetMany` of `names`, answered `want`; with `metadata`, the echo too
/// (`--extras`).
async fn greet_many(
    p: &Peer,
    names: &'static [&'static str],
    want: &str,
    metadata: bool,
) -> Outcome {
    let options = if metadata {
        echo_options("client-stream")
    } else {
        CallOptions::new()
    };
    let resp = p
        .client
        .greet_many_with_options(requests(names), options)
        .await
        .map_err(|e| call_failed(&e))?;
    expect_greeting(resp.message(), want)?;
    if metadata {
        check_echo(resp.headers(), Some(resp.trailers()), "client-stream")?;
    }
    p.check_wire(true, &Method::POST)
}

/// Waits for the next chat reply, at most a few seconds.
async fn reply(
    chat: &mut connectrpc::BidiStream<GreetRequest, GreetResponse>,
) -> Result<Option<String>, String> {
    match tokio::time::timeout(Duration::from_secs(5), chat.message()).await {
        Err(_) => Err("no reply within 5 s".to_owned()),
        Ok(None) => Ok(None),
        Ok(Some(Ok(m))) => Ok(Some(m.greeting)),
        Ok(Some(Err(e))) => Err(format!("receive failed: {e}")),
    }
}

/// Bidi over HTTP/2: each reply is read before the next request is sent,
/// which only works full duplex.
async fn chat_full_duplex(p: &Peer, metadata: bool) -> Outcome {
    let options = if metadata {
        echo_options("bidi")
    } else {
        CallOptions::new()
    };
    let mut chat = p
        .client
        .chat_with_options(options)
        .await
        .map_err(|e| call_failed(&e))?;
    for name in ["Ann", "Bob", "Cy"] {
        chat.send(&request(name))
            .await
            .map_err(|e| format!("send {name}: {e}"))?;
        let got = reply(&mut chat).await?;
        let want = format!("Hello, {name}!");
        if got.as_deref() != Some(want.as_str()) {
            return Err(format!("reply {got:?} to {name}, wanted {want:?}"));
        }
    }
    chat.close_send();
    if let Some(extra) = reply(&mut chat).await? {
        return Err(format!("unexpected reply {extra:?} after the last request"));
    }
    if metadata {
        let headers = chat.headers().await.map_err(|e| e.to_string())?.clone();
        check_echo(&headers, chat.trailers(), "bidi")?;
    } else if chat.trailers().is_none() {
        return Err("no trailers after the end of the stream".to_owned());
    }
    p.check_wire(true, &Method::POST)
}

/// Bidi over HTTP/1.1: all requests, then all replies.
async fn chat_half_duplex(p: &Peer) -> Outcome {
    let mut chat = p.client.chat().await.map_err(|e| call_failed(&e))?;
    let names = ["Ann", "Bob", "Cy"];
    for name in names {
        chat.send(&request(name))
            .await
            .map_err(|e| format!("send {name}: {e}"))?;
    }
    chat.close_send();
    let mut got = Vec::new();
    while let Some(g) = reply(&mut chat).await? {
        got.push(g);
    }
    let want: Vec<String> = names.iter().map(|n| format!("Hello, {n}!")).collect();
    if got != want {
        return Err(format!("replies {got:?}, wanted {want:?}"));
    }
    if chat.trailers().is_none() {
        return Err("no trailers after the end of the stream".to_owned());
    }
    p.check_wire(true, &Method::POST)
}

/// Bidi over HTTP/1.1 to a server that refuses it: the call must fail
/// promptly, not hang.
async fn chat_refused(p: &Peer) -> Outcome {
    let mut chat = p.client.chat().await.map_err(|e| call_failed(&e))?;
    // The server may answer (and close) before reading the requests, so a
    // failed send is fine: the status is on the receiving side.
    let _ = chat.send(&request("Ann")).await;
    chat.close_send();
    let e = match tokio::time::timeout(Duration::from_secs(5), chat.message()).await {
        Err(_) => return Err("no answer within 5 s".to_owned()),
        Ok(None) => return Err("the stream ended well, wanted an error".to_owned()),
        Ok(Some(Ok(m))) => return Err(format!("reply {:?}, wanted an error", m.greeting)),
        Ok(Some(Err(e))) => e,
    };
    let ex = p.exchange()?;
    let ex = ex.lock().unwrap();
    if ex.status != Some(StatusCode::HTTP_VERSION_NOT_SUPPORTED) {
        return Err(format!("{e}; HTTP status {:?}, wanted 505", ex.status));
    }
    Ok(format!("{e}; {}", ex.summary()))
}

// ===== runner =====

/// Runs the cases one after the other and counts them.
struct Runner<'a> {
    /// The clients and their log.
    peer: &'a Peer,
    /// Put in front of every case name: the peer and the transport.
    prefix: String,
    /// Only cases whose name contains this run.
    filter: Option<String>,
    /// Cases passed so far.
    passed: usize,
    /// Cases failed so far.
    failed: usize,
}

impl Runner<'_> {
    /// Runs `case` as `name` unless filtered out, with a fresh log and a
    /// time limit, and prints its line.
    async fn case(&mut self, name: &str, case: impl Future<Output = Outcome>) {
        let name = format!("{}{name}", self.prefix);
        if self
            .filter
            .as_ref()
            .is_some_and(|f| !name.contains(f.as_str()))
        {
            return;
        }
        self.peer.log.lock().unwrap().clear();
        let outcome = match tokio::time::timeout(CASE_TIMEOUT, case).await {
            Ok(outcome) => outcome,
            Err(_) => Err(format!("no outcome within {CASE_TIMEOUT:?}")),
        };
        match outcome {
            Ok(detail) => {
                self.passed += 1;
                println!("ok {name}  [{detail}]");
            }
            Err(reason) => {
                self.failed += 1;
                let wire: Vec<String> = self
                    .peer
                    .exchanges()
                    .iter()
                    .map(|e| e.lock().unwrap().summary())
                    .collect();
                println!("FAIL {name}: {reason}  [wire: {}]", wire.join(", "));
            }
        }
    }
}

/// Runs every case for `args` and tells whether all passed.
async fn run(args: Args) -> ExitCode {
    let peer = Peer::new(&args);
    let p = &peer;
    let mut prefix = args
        .peer
        .clone()
        .map(|n| format!("{n} "))
        .unwrap_or_default();
    let _ = write!(prefix, "{} ", p.label());
    let mut r = Runner {
        peer: p,
        prefix,
        filter: args.filter.clone(),
        passed: 0,
        failed: 0,
    };

    // Unary.
    r.case("greet", greet(p, "Rust", "Hello, Rust!")).await;
    r.case("greet empty name", greet(p, "", "Hello, World!"))
        .await;
    r.case("greet 256 KiB", greet_large(p, None)).await;
    r.case("greet 256 KiB gzip", greet_large(p, Some("gzip")))
        .await;
    if p.protocol == Protocol::Connect {
        r.case("greet via GET", greet_get(p)).await;
    }
    r.case("unknown method -> unimplemented", greet_unknown_method(p))
        .await;
    if args.extras {
        r.case("greet metadata", greet_metadata(p)).await;
        r.case("greet error -> invalid_argument", greet_error(p))
            .await;
    }

    // Server streaming.
    r.case("greet_stream count=3", greet_stream(p, 3, false))
        .await;
    r.case("greet_stream count=0", greet_stream(p, 0, false))
        .await;
    r.case(
        "greet_stream count=1000 -> invalid_argument",
        greet_stream_invalid(p),
    )
    .await;
    r.case(
        "greet_stream 300 ms deadline -> deadline_exceeded",
        greet_stream_deadline(p),
    )
    .await;
    if args.extras {
        r.case("greet_stream metadata", greet_stream(p, 2, true))
            .await;
    }

    // Client streaming.
    r.case(
        "greet_many",
        greet_many(p, &["Ann", "Bob", "Cy"], "Hello, Ann, Bob, Cy!", false),
    )
    .await;
    r.case(
        "greet_many no requests",
        greet_many(p, &[], "Hello, World!", false),
    )
    .await;
    if args.extras {
        r.case(
            "greet_many metadata",
            greet_many(p, &["Meta"], "Hello, Meta!", true),
        )
        .await;
    }

    // Bidi streaming.
    if p.http2 {
        r.case("chat full duplex", chat_full_duplex(p, false)).await;
        if args.extras {
            r.case("chat metadata", chat_full_duplex(p, true)).await;
        }
    } else if p.h1_bidi_refused {
        r.case("chat over HTTP/1.1 -> refused (505)", chat_refused(p))
            .await;
    } else {
        r.case("chat half duplex", chat_half_duplex(p)).await;
    }

    println!("{}{} passed, {} failed", r.prefix, r.passed, r.failed);
    // With a filter, running no case is fine (other runs may have them).
    if r.failed == 0 && (r.passed > 0 || args.filter.is_some()) {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    }
}

/// Parses the arguments and runs the cases; exits 2 on bad arguments.
#[tokio::main]
async fn main() -> ExitCode {
    match parse_args() {
        Ok(args) => run(args).await,
        Err(e) => {
            eprintln!("{e}");
            ExitCode::from(2)
        }
    }
}

//! Our client against someone else's server: the generated
//! `GreetServiceClient` over `HttpClient` calls every method of a
//! `greet.v1.GreetService` server with one protocol, codec and HTTP version,
//! and checks the answers and what went over the wire.
//!
//! ```sh
//! cargo run -p peers --bin peer-client -- --url http://127.0.0.1:8080 \
//!     --protocol connect|grpc|grpc-web --codec proto|json --http 1|2 \
//!     [--peer NAME] [--extras] [--h1-bidi-refused] [--filter TEXT]
//! ```
//!
//! Prints one line per case, `ok <case>` or `FAIL <case>: <reason>`, then a
//! count, and exits 1 if any case failed (or none ran without `--filter`,
//! which keeps the cases whose name contains its text). `peers/run.sh` runs
//! it against the connect-node and Python grpcio servers of `peers/`.
//!
//! The command line is in `args.rs`, the recording channel in `wire.rs`,
//! the clients and the wire checks in `peer.rs`, the cases in `cases.rs`;
//! this file runs them.
//!
//! The server must behave like the example `Greeter` (greetings, the
//! `GreetStream` count limit and its 50 ms pacing). `--extras` adds the cases
//! for what the peer servers of `peers/` do besides: echo request header
//! `x-peer-echo` as a response header and as trailer `x-peer-trailer`, and
//! fail `Greet` with `invalid_argument` when the request has header
//! `x-peer-error`. `--h1-bidi-refused`: the server refuses bidi streams over
//! HTTP/1.1 (connect-node answers 505), so the HTTP/1.1 `Chat` cases expect
//! that failure instead of a half-duplex exchange.
mod args;
mod cases;
mod peer;
mod wire;

use std::fmt::Write as _;
use std::future::Future;
use std::process::ExitCode;
use std::time::Duration;

use connectrpc::{Idempotency, MethodDescriptor, Protocol, StreamType};
use http::HeaderName;

use crate::args::{Args, parse_args};
use crate::cases::{
    Outcome, chat_full_duplex, chat_half_duplex, chat_refused, greet, greet_error, greet_get,
    greet_large, greet_many, greet_metadata, greet_stream, greet_stream_deadline,
    greet_stream_invalid, greet_unknown_method,
};
use crate::peer::Peer;

/// The timeout of every call that sets none (sent to the server, enforced
/// locally).
pub(crate) const CALL_TIMEOUT: Duration = Duration::from_secs(10);

/// How long one case may take before it fails as hung.
pub(crate) const CASE_TIMEOUT: Duration = Duration::from_secs(20);

/// A method the server does not have, for the unary error path.
pub(crate) static NOPE: MethodDescriptor = MethodDescriptor::new(
    "greet.v1.GreetService",
    "Nope",
    "/greet.v1.GreetService/Nope",
    StreamType::Unary,
    Idempotency::Unknown,
);

/// Request header the peer servers echo back (`--extras`).
pub(crate) const ECHO: HeaderName = HeaderName::from_static("x-peer-echo");
/// Trailer in which the peer servers echo [`ECHO`] (`--extras`).
pub(crate) const ECHO_TRAILER: HeaderName = HeaderName::from_static("x-peer-trailer");
/// Request header that makes the peer servers fail `Greet` (`--extras`).
pub(crate) const FAIL: HeaderName = HeaderName::from_static("x-peer-error");

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

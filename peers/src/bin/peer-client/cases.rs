//! The cases, one `async fn` each, and their helpers.

use std::fmt::Write as _;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use connectrpc::{CallOptions, Code, ConnectError, Protocol};
use examples::proto::greet::v1::{GreetRequest, GreetResponse, GreetStreamRequest};
use futures_core::Stream;
use http::{HeaderMap, HeaderValue, Method, StatusCode};

use crate::peer::Peer;
use crate::{ECHO, ECHO_TRAILER, FAIL, NOPE};

/// A case's outcome: a detail to print, or why it failed.
pub(crate) type Outcome = Result<String, String>;

/// A `GreetRequest` for `name`.
pub(crate) fn request(name: &str) -> GreetRequest {
    GreetRequest {
        name: name.to_owned(),
        ..Default::default()
    }
}

/// A `GreetStreamRequest` for `count` greetings of `name`.
pub(crate) fn stream_request(name: &str, count: i32) -> GreetStreamRequest {
    GreetStreamRequest {
        name: name.to_owned(),
        count,
        ..Default::default()
    }
}

/// Checks a greeting's text.
pub(crate) fn expect_greeting(got: &GreetResponse, want: &str) -> Result<(), String> {
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
pub(crate) fn shorten(s: &str) -> String {
    if s.len() <= 80 {
        s.to_owned()
    } else {
        let cut = (0..=77).rev().find(|&i| s.is_char_boundary(i)).unwrap_or(0);
        format!("{}... ({} bytes)", &s[..cut], s.len())
    }
}

/// The reason of a case whose call failed unexpectedly.
pub(crate) fn call_failed(e: &ConnectError) -> String {
    format!("call failed: {e}")
}

/// Checks an error's code and, if given, its message.
pub(crate) fn expect_error(
    e: &ConnectError,
    code: Code,
    message: Option<&str>,
) -> Result<(), String> {
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
pub(crate) fn echo_options(value: &'static str) -> CallOptions {
    CallOptions::new().header(ECHO, HeaderValue::from_static(value))
}

/// Checks the echo of `value` in `headers` and `trailers`.
pub(crate) fn check_echo(
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
pub(crate) struct Iter<I>(I);

impl<I: Iterator + Unpin> Stream for Iter<I> {
    type Item = I::Item;

    fn poll_next(mut self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<Option<I::Item>> {
        Poll::Ready(self.0.next())
    }
}

/// A request stream greeting each of `names`.
pub(crate) fn requests(names: &[&str]) -> Iter<std::vec::IntoIter<GreetRequest>> {
    Iter(
        names
            .iter()
            .map(|n| request(n))
            .collect::<Vec<_>>()
            .into_iter(),
    )
}

/// Reads a server stream to its end: the messages, or the first error.
pub(crate) async fn collect(
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
pub(crate) async fn greet(p: &Peer, name: &str, want: &str) -> Outcome {
    let resp = p
        .client
        .greet(&request(name))
        .await
        .map_err(|e| call_failed(&e))?;
    expect_greeting(resp.message(), want)?;
    p.check_wire(false, &Method::POST)
}

/// A large message (256 KiB each way), compressed with `compression` if set.
pub(crate) async fn greet_large(p: &Peer, compression: Option<&'static str>) -> Outcome {
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
pub(crate) async fn greet_get(p: &Peer) -> Outcome {
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
pub(crate) async fn greet_unknown_method(p: &Peer) -> Outcome {
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
pub(crate) async fn greet_metadata(p: &Peer) -> Outcome {
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
pub(crate) async fn greet_error(p: &Peer) -> Outcome {
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
pub(crate) async fn greet_stream(p: &Peer, count: i32, metadata: bool) -> Outcome {
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
pub(crate) async fn greet_stream_invalid(p: &Peer) -> Outcome {
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
pub(crate) async fn greet_stream_deadline(p: &Peer) -> Outcome {
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
pub(crate) async fn greet_many(
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
pub(crate) async fn reply(
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
pub(crate) async fn chat_full_duplex(p: &Peer, metadata: bool) -> Outcome {
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
pub(crate) async fn chat_half_duplex(p: &Peer) -> Outcome {
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
pub(crate) async fn chat_refused(p: &Peer) -> Outcome {
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

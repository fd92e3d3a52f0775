//! The unary path answers as the layers do: case by case, the same request
//! reaches the channel and the same answer or error comes back.

use std::convert::Infallible;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::Bytes;
use connect_core::{Idempotency, MethodDescriptor, StreamType};
use http::{HeaderMap, HeaderValue, StatusCode};
use http_body::Frame as BodyFrame;
use http_body_util::{BodyExt as _, StreamBody};
use tower::ServiceExt as _;

use super::*;
use crate::rpc::client::{CallSettings, ResponseFrames, StreamItem};
use crate::rpc::{Frame, RequestMessages};

static UNARY: MethodDescriptor = MethodDescriptor::new(
    "a.v1.S",
    "M",
    "/a.v1.S/M",
    StreamType::Unary,
    Idempotency::NoSideEffects,
);

static CLIENT_STREAM: MethodDescriptor = MethodDescriptor::new(
    "a.v1.S",
    "C",
    "/a.v1.S/C",
    StreamType::ClientStream,
    Idempotency::Unknown,
);

static SERVER_STREAM: MethodDescriptor = MethodDescriptor::new(
    "a.v1.S",
    "S",
    "/a.v1.S/S",
    StreamType::ServerStream,
    Idempotency::Unknown,
);

static BIDI: MethodDescriptor = MethodDescriptor::new(
    "a.v1.S",
    "B",
    "/a.v1.S/B",
    StreamType::BidiStream,
    Idempotency::Unknown,
);

type Chunks = futures_util::stream::Iter<std::vec::IntoIter<Result<BodyFrame<Bytes>, Infallible>>>;

/// An answer the channel gives: status, headers, body chunks, trailers;
/// `None` never answers.
/// Status, headers, body chunks and trailers.
type Parts = (
    StatusCode,
    Vec<(&'static str, &'static str)>,
    Vec<Bytes>,
    Option<HeaderMap>,
);

#[derive(Clone)]
struct Answer(Option<Parts>);

/// What reached the channel: method, URI, headers, body, and the path of
/// the RPC method the request named.
type Seen = (
    http::Method,
    http::Uri,
    HeaderMap,
    Bytes,
    Option<&'static str>,
);

/// A channel that records each request and gives its answer.
#[derive(Clone)]
struct Script {
    answer: Answer,
    seen: Arc<Mutex<Vec<Seen>>>,
}

impl tower_service::Service<http::Request<ClientBody>> for Script {
    type Response = http::Response<StreamBody<Chunks>>;
    type Error = std::io::Error;
    type Future = crate::BoxFuture<Result<Self::Response, std::io::Error>>;

    fn poll_ready(&mut self, _: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, req: http::Request<ClientBody>) -> Self::Future {
        let (answer, seen) = (self.answer.clone(), Arc::clone(&self.seen));
        Box::pin(async move {
            let rpc = crate::intercept::method_of(&req).map(|m| m.path());
            let (parts, body) = req.into_parts();
            let body = body
                .collect()
                .await
                .map(|b| b.to_bytes())
                .unwrap_or_default();
            seen.lock()
                .unwrap()
                .push((parts.method, parts.uri, parts.headers, body, rpc));
            let Some((status, headers, chunks, trailers)) = answer.0 else {
                std::future::pending::<()>().await;
                unreachable!("never answers");
            };
            if status == StatusCode::BAD_GATEWAY && chunks.is_empty() {
                return Err(std::io::Error::new(
                    std::io::ErrorKind::ConnectionRefused,
                    "refused",
                ));
            }
            let mut frames: Vec<_> = chunks.into_iter().map(|c| Ok(BodyFrame::data(c))).collect();
            frames.extend(trailers.map(|t| Ok(BodyFrame::trailers(t))));
            let mut resp = http::Response::new(StreamBody::new(futures_util::stream::iter(frames)));
            *resp.status_mut() = status;
            for (name, value) in headers {
                resp.headers_mut()
                    .append(name, HeaderValue::from_static(value));
            }
            Ok(resp)
        })
    }
}

/// An answer or error, in a form two runs can be compared in.
/// A streamed answer is read to its end.
async fn outcome(r: Result<ClientResponse, ConnectError>) -> String {
    use futures_util::StreamExt as _;
    let error = |e: ConnectError| {
        format!(
            "{:?} {:?} {:?} {:?}",
            e.code(),
            e.message(),
            e.headers(),
            e.trailers()
        )
    };
    match r {
        Ok(resp) => match resp.messages {
            ResponseFrames::Unary { frame, trailers } => format!(
                "ok {:?} {:?} {} {:?}",
                resp.headers, frame.data, frame.compressed, trailers
            ),
            ResponseFrames::Stream(mut items) => {
                let mut out = format!("ok stream {:?}", resp.headers);
                while let Some(item) = items.next().await {
                    out += &match item {
                        Ok(StreamItem::Message(f)) => {
                            format!(" message {:?} {}", f.data, f.compressed)
                        }
                        Ok(StreamItem::Trailers(t)) => format!(" trailers {:?}", t.into_map()),
                        Err(e) => format!(" error {}", error(e)),
                    };
                }
                out
            }
        },
        Err(e) => error(e),
    }
}

/// Runs `settings` against `answer` on the unary path and through the
/// layers; both runs' outcome and what the channel saw.
async fn both(
    config: &ClientStackConfig,
    settings: CallSettings,
    answer: Answer,
) -> [(String, Vec<Seen>); 2] {
    both_for(&UNARY, config, settings, answer, HeaderMap::new()).await
}

/// [`both`] for a call of `method` (a client stream sends two messages).
async fn both_for(
    method: &'static MethodDescriptor,
    config: &ClientStackConfig,
    settings: CallSettings,
    answer: Answer,
    headers: HeaderMap,
) -> [(String, Vec<Seen>); 2] {
    let mut runs = Vec::new();
    for layered in [false, true] {
        let seen = Arc::new(Mutex::new(Vec::new()));
        let channel = Script {
            answer: answer.clone(),
            seen: Arc::clone(&seen),
        };
        let stack = client_stack(channel, config);
        #[cfg(feature = "tracing")]
        let stack = stack.into_inner();
        let message = Frame::new(Bytes::from_static(b"\x0a\x02hi"));
        let messages = if !method.stream_type().client_streams() {
            RequestMessages::Unary(message)
        } else {
            let frames = vec![Ok(message.clone()), Ok(message)];
            RequestMessages::Stream(Box::pin(futures_util::stream::iter(frames)))
        };
        let req = ClientRequest {
            method,
            headers: headers.clone(),
            extensions: http::Extensions::new(),
            settings: settings.clone(),
            messages,
        };
        let out = if layered {
            stack.layered().clone().oneshot(req).await
        } else {
            stack.oneshot(req).await
        };
        let seen = std::mem::take(&mut *seen.lock().unwrap());
        for request in &seen {
            assert_eq!(
                request.4,
                Some(method.path()),
                "the request names its method"
            );
        }
        runs.push((outcome(out).await, seen));
    }
    let [a, b]: [_; 2] = runs.try_into().unwrap_or_else(|_| unreachable!());
    [a, b]
}

fn answer(
    status: u16,
    headers: &[(&'static str, &'static str)],
    chunks: &[&'static [u8]],
    trailers: Option<&[(&'static str, &'static str)]>,
) -> Answer {
    let trailers = trailers.map(|t| {
        let mut map = HeaderMap::new();
        for (name, value) in t {
            map.append(*name, HeaderValue::from_static(value));
        }
        map
    });
    Answer(Some((
        StatusCode::from_u16(status).unwrap(),
        headers.to_vec(),
        chunks.iter().map(|c| Bytes::from_static(c)).collect(),
        trailers,
    )))
}

fn config(protocol: Protocol) -> ClientStackConfig {
    ClientStackConfig::new("http://h:1/api".parse().unwrap()).protocol(protocol)
}

const ENVELOPE: &[u8] = b"\x00\x00\x00\x00\x04\x0a\x02ok";

#[tokio::test]
async fn grpc_answers_alike() {
    let grpc = config(Protocol::Grpc);
    let ct = ("content-type", "application/grpc");
    let cases = [
        answer(
            200,
            &[ct, ("x-h", "1")],
            &[ENVELOPE],
            Some(&[("grpc-status", "0"), ("x-t", "2")]),
        ),
        answer(
            200,
            &[ct],
            &[ENVELOPE],
            Some(&[("grpc-status", "5"), ("grpc-message", "gone")]),
        ),
        answer(
            200,
            &[ct, ("grpc-status", "7"), ("grpc-message", "no")],
            &[],
            None,
        ),
        answer(
            200,
            &[ct],
            &[ENVELOPE, ENVELOPE],
            Some(&[("grpc-status", "0")]),
        ),
        answer(200, &[ct], &[&ENVELOPE[..3]], None),
        answer(
            200,
            &[ct, ("grpc-encoding", "bogus")],
            &[ENVELOPE],
            Some(&[("grpc-status", "0")]),
        ),
        answer(200, &[("content-type", "text/html")], &[b"<html>"], None),
        answer(503, &[], &[], None),
        answer(502, &[], &[], None), // the channel fails
    ];
    for (i, case) in cases.into_iter().enumerate() {
        let [fused, layered] = both(&grpc, CallSettings::default(), case).await;
        assert_eq!(fused, layered);
        assert_eq!(fused.0.starts_with("ok"), i == 0, "{}", fused.0);
        assert_eq!(fused.1.len(), 1, "sent once: {}", fused.0);
    }
}

#[tokio::test]
async fn connect_answers_alike_and_get_is_taken_alike() {
    let ct = ("content-type", "application/proto");
    let json = ("content-type", "application/json");
    let cases = [
        answer(200, &[ct, ("trailer-x", "y")], &[b"\x0a\x02ok"], None),
        answer(
            404,
            &[json],
            &[br#"{"code":"not_found","message":"nope"}"#],
            None,
        ),
        answer(500, &[json], &[b"not json"], None),
        answer(
            200,
            &[ct, ("content-encoding", "gzip")],
            &[b"\x0a\x02ok"],
            None,
        ),
        answer(200, &[("content-type", "application/json")], &[b"{}"], None),
    ];
    for get in [GetPolicy::Never, GetPolicy::IfNoSideEffects] {
        let connect = config(Protocol::Connect).get_policy(get);
        for (i, case) in cases.clone().into_iter().enumerate() {
            let [fused, layered] = both(&connect, CallSettings::default(), case).await;
            assert_eq!(fused, layered);
            assert_eq!(fused.0.starts_with("ok"), i == 0, "{}", fused.0);
            let method = &fused.1[0].0;
            assert_eq!(
                *method == http::Method::GET,
                get == GetPolicy::IfNoSideEffects
            );
        }
    }
}

#[tokio::test]
async fn grpc_web_text_answers_alike() {
    let text = config(Protocol::GrpcWeb).web_text(true);
    // One message, then the trailer frame (grpc-status: 0), in base64.
    let body: &'static [u8] = b"AAAAAAQKAm9rgAAAABBncnBjLXN0YXR1czogMA0K";
    let ct = ("content-type", "application/grpc-web-text+proto");
    for case in [
        answer(200, &[ct], &[body], None),
        answer(200, &[ct], &[b"!!"], None),
    ] {
        let [fused, layered] = both(&text, CallSettings::default(), case).await;
        assert_eq!(fused, layered);
    }
}

#[tokio::test]
async fn settings_act_alike() {
    let grpc = config(Protocol::Grpc);
    let ok = answer(
        200,
        &[("content-type", "application/grpc")],
        &[ENVELOPE],
        Some(&[("grpc-status", "0")]),
    );
    let zero = CallSettings {
        timeout: Some(Duration::ZERO),
        ..CallSettings::default()
    };
    let [fused, layered] = both(&grpc, zero, ok.clone()).await;
    assert_eq!(fused, layered);
    assert!(
        fused.0.starts_with("DeadlineExceeded") && fused.1.is_empty(),
        "{}",
        fused.0
    );

    let unknown = CallSettings {
        send_compression: Some("snappy-not-here"),
        ..CallSettings::default()
    };
    let [fused, layered] = both(&grpc, unknown, ok.clone()).await;
    assert_eq!(fused, layered);
    assert!(
        fused.0.starts_with("Internal") && fused.1.is_empty(),
        "{}",
        fused.0
    );

    let gzip = CallSettings {
        send_compression: Some("gzip"),
        timeout: Some(Duration::from_secs(5)),
        ..CallSettings::default()
    };
    let [fused, layered] = both(&grpc, gzip, ok.clone()).await;
    assert_eq!(fused, layered);
    assert_eq!(fused.1[0].2["grpc-encoding"], "gzip");
    assert!(fused.1[0].2.contains_key("grpc-timeout"));

    let small = CallSettings {
        read_max_bytes: 2,
        ..CallSettings::default()
    };
    let [fused, layered] = both(&grpc, small, ok).await;
    assert_eq!(fused, layered);
    assert!(fused.0.starts_with("ResourceExhausted"), "{}", fused.0);
}

#[tokio::test]
async fn a_silent_server_meets_the_deadline_alike() {
    let soon = CallSettings {
        timeout: Some(Duration::from_millis(20)),
        ..CallSettings::default()
    };
    let [fused, layered] = both(&config(Protocol::Connect), soon, Answer(None)).await;
    assert_eq!(fused, layered);
    assert!(fused.0.starts_with("DeadlineExceeded"), "{}", fused.0);
}

#[tokio::test]
async fn client_streams_answer_alike() {
    let grpc = config(Protocol::Grpc);
    let ct = ("content-type", "application/grpc");
    let ok = Some(&[("grpc-status", "0")][..]);
    for (i, case) in [
        answer(200, &[ct], &[ENVELOPE], ok),
        answer(200, &[ct], &[], ok),
        answer(200, &[ct, ("grpc-status", "3")], &[], None),
    ]
    .into_iter()
    .enumerate()
    {
        let [fused, layered] = both_for(
            &CLIENT_STREAM,
            &grpc,
            CallSettings::default(),
            case,
            HeaderMap::new(),
        )
        .await;
        assert_eq!(fused, layered);
        assert_eq!(fused.0.starts_with("ok"), i == 0, "{}", fused.0);
        assert_eq!(fused.1[0].3.len(), 2 * 9, "both messages sent");
    }
    let connect = config(Protocol::Connect);
    let ct = ("content-type", "application/connect+proto");
    let end: &'static [u8] = b"\x02\x00\x00\x00\x02{}";
    let failed: &'static [u8] =
        b"\x02\x00\x00\x00\x2a{\"error\":{\"code\":\"aborted\",\"message\":\"x\"}}";
    for (i, case) in [
        answer(200, &[ct], &[ENVELOPE, end], None),
        answer(200, &[ct], &[failed], None),
        answer(
            200,
            &[("content-type", "application/proto")],
            &[ENVELOPE, end],
            None,
        ),
    ]
    .into_iter()
    .enumerate()
    {
        let [fused, layered] = both_for(
            &CLIENT_STREAM,
            &connect,
            CallSettings::default(),
            case,
            HeaderMap::new(),
        )
        .await;
        assert_eq!(fused, layered);
        assert_eq!(fused.0.starts_with("ok"), i == 0, "{}", fused.0);
        assert_eq!(fused.1[0].2["content-type"], "application/connect+proto");
        assert_eq!(fused.0.starts_with("Aborted"), i == 1, "{}", fused.0);
    }
}

#[tokio::test]
async fn streamed_answers_alike() {
    let grpc = config(Protocol::Grpc);
    let ct = ("content-type", "application/grpc");
    let gzip = ("grpc-encoding", "gzip");
    let ok = Some(&[("grpc-status", "0"), ("x-t", "1")][..]);
    let cases = [
        answer(200, &[ct], &[ENVELOPE, ENVELOPE], ok),
        answer(200, &[ct], &[ENVELOPE], Some(&[("grpc-status", "9")])),
        answer(200, &[ct, ("grpc-status", "3")], &[], None),
        answer(200, &[ct, gzip], &[b"\x01\x00\x00\x00\x02no"], ok),
        answer(200, &[ct, ("grpc-encoding", "bogus")], &[ENVELOPE], ok),
        answer(200, &[ct], &[ENVELOPE, &ENVELOPE[..2]], None),
        answer(404, &[], &[], None),
    ];
    for method in [&SERVER_STREAM, &BIDI] {
        for (i, case) in cases.clone().into_iter().enumerate() {
            let [fused, layered] = both_for(
                method,
                &grpc,
                CallSettings::default(),
                case,
                HeaderMap::new(),
            )
            .await;
            assert_eq!(fused, layered);
            assert_eq!(
                fused.0.starts_with("ok stream"),
                i < 4 || i == 5,
                "{i}: {}",
                fused.0
            );
        }
    }
    // A stream cut at the deadline, both ways.
    let soon = CallSettings {
        timeout: Some(Duration::from_secs(30)),
        ..CallSettings::default()
    };
    let [fused, layered] = both_for(
        &SERVER_STREAM,
        &grpc,
        soon,
        answer(200, &[ct], &[ENVELOPE], ok),
        HeaderMap::new(),
    )
    .await;
    assert_eq!(fused, layered);
    assert!(fused.1[0].2.contains_key("grpc-timeout"));
    let web = config(Protocol::GrpcWeb).web_text(true);
    let body: &'static [u8] = b"AAAAAAQKAm9rgAAAABBncnBjLXN0YXR1czogMA0K";
    let text = answer(
        200,
        &[("content-type", "application/grpc-web-text+proto")],
        &[body],
        None,
    );
    let [fused, layered] = both_for(
        &SERVER_STREAM,
        &web,
        CallSettings::default(),
        text,
        HeaderMap::new(),
    )
    .await;
    assert_eq!(fused, layered);
    assert!(
        fused.0.contains("message") && fused.0.contains("trailers"),
        "{}",
        fused.0
    );
}

#[tokio::test]
async fn the_callers_headers_are_kept_alike() {
    let mut own = HeaderMap::new();
    own.insert("user-agent", HeaderValue::from_static("mine/1"));
    own.insert("x-trace", HeaderValue::from_static("7"));
    let settings = CallSettings {
        timeout: Some(std::time::Duration::from_secs(5)),
        ..CallSettings::default()
    };
    for protocol in [Protocol::Connect, Protocol::Grpc, Protocol::GrpcWeb] {
        let answer = answer(200, &[("content-type", "application/proto")], &[], None);
        for headers in [HeaderMap::new(), own.clone()] {
            let config = config(protocol);
            let answer = answer.clone();
            let [direct, layered] =
                both_for(&UNARY, &config, settings.clone(), answer, headers.clone()).await;
            assert_eq!(direct, layered, "{protocol}: the same request and outcome");
            let sent = &direct.1[0].2;
            let agent = sent["user-agent"].to_str().unwrap();
            assert_eq!(
                agent == "mine/1",
                !headers.is_empty(),
                "{protocol}: {agent}"
            );
            assert_eq!(sent.contains_key("x-trace"), !headers.is_empty());
            assert!(sent.contains_key("content-type"), "{protocol}: {sent:?}");
            let timeout = if protocol == Protocol::Connect {
                "connect-timeout-ms"
            } else {
                "grpc-timeout"
            };
            assert!(sent.contains_key(timeout), "{protocol}: {sent:?}");
            let accept = if protocol == Protocol::Connect {
                "accept-encoding"
            } else {
                "grpc-accept-encoding"
            };
            assert!(sent.contains_key(accept), "{protocol}: {sent:?}");
        }
    }
}

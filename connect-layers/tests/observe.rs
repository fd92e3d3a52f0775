//! The server trace layer on its own, over `RpcRequest`s: the span is
//! entered while the handler and its response stream run, and a call
//! dropped unfinished ends `canceled`, or `deadline_exceeded` once its
//! deadline has passed.
#![cfg(feature = "tracing")]

use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::Bytes;
use connect_core::{Codec, ConnectError, Idempotency, MethodDescriptor, Protocol, StreamType};
use connect_layers::observe::TraceLayer;
use connect_layers::rpc::{
    Frame, RequestHead, RequestMessages, ResponseMessages, RpcRequest, RpcResponse,
};
use futures_util::StreamExt as _;
use tower::{ServiceBuilder, ServiceExt as _};
use tracing::field::{Field, Visit};
use tracing_subscriber::layer::{Context, SubscriberExt as _};
use tracing_subscriber::registry::LookupSpan;

static UNARY: MethodDescriptor = MethodDescriptor::new(
    "t.v1.S",
    "U",
    "/t.v1.S/U",
    StreamType::Unary,
    Idempotency::Unknown,
);
static STREAM: MethodDescriptor = MethodDescriptor::new(
    "t.v1.S",
    "Server",
    "/t.v1.S/Server",
    StreamType::ServerStream,
    Idempotency::Unknown,
);

#[derive(Default)]
struct Seen {
    /// (event message, the span it was in)
    events: Vec<(String, Option<&'static str>)>,
    /// error.type of each closed span ("" when it has none)
    closed: Vec<String>,
}

#[derive(Clone, Default)]
struct Capture(Arc<Mutex<Seen>>);

struct Message(String);

impl Visit for Message {
    fn record_debug(&mut self, field: &Field, value: &dyn std::fmt::Debug) {
        if field.name() == "message" || field.name() == "error.type" {
            self.0 = format!("{value:?}").trim_matches('"').to_owned();
        }
    }
}

struct ErrorType(String);

impl<S: tracing::Subscriber + for<'a> LookupSpan<'a>> tracing_subscriber::Layer<S> for Capture {
    fn on_new_span(
        &self,
        _: &tracing::span::Attributes<'_>,
        id: &tracing::span::Id,
        ctx: Context<'_, S>,
    ) {
        ctx.span(id)
            .unwrap()
            .extensions_mut()
            .insert(ErrorType(String::new()));
    }

    fn on_record(
        &self,
        id: &tracing::span::Id,
        values: &tracing::span::Record<'_>,
        ctx: Context<'_, S>,
    ) {
        let mut m = Message(String::new());
        values.record(&mut m);
        if !m.0.is_empty() {
            ctx.span(id)
                .unwrap()
                .extensions_mut()
                .get_mut::<ErrorType>()
                .unwrap()
                .0 = m.0;
        }
    }

    fn on_event(&self, event: &tracing::Event<'_>, ctx: Context<'_, S>) {
        let mut m = Message(String::new());
        event.record(&mut m);
        let span = ctx.event_span(event).map(|s| s.name());
        self.0.lock().unwrap().events.push((m.0, span));
    }

    fn on_close(&self, id: tracing::span::Id, ctx: Context<'_, S>) {
        let span = ctx.span(&id).unwrap();
        let error = span.extensions().get::<ErrorType>().unwrap().0.clone();
        self.0.lock().unwrap().closed.push(error);
    }
}

fn request(method: &'static MethodDescriptor, deadline: Option<Duration>) -> RpcRequest {
    RpcRequest {
        head: RequestHead {
            method,
            protocol: Protocol::Connect,
            codec: Codec::Proto,
            headers: Default::default(),
            extensions: Default::default(),
            deadline: deadline.map(|d| tokio::time::Instant::now() + d),
        },
        messages: RequestMessages::Unary(Frame::new(Bytes::from_static(b"req"))),
    }
}

fn subscribe() -> (Capture, tracing::subscriber::DefaultGuard) {
    let capture = Capture::default();
    let guard =
        tracing::subscriber::set_default(tracing_subscriber::registry().with(capture.clone()));
    (capture, guard)
}

#[tokio::test]
async fn the_span_is_entered_in_the_handler_and_its_stream() {
    let (capture, _guard) = subscribe();
    let svc = ServiceBuilder::new()
        .layer(TraceLayer::new())
        .service_fn(|_req: RpcRequest| async {
            tracing::info!("handler");
            let frames = futures_util::stream::iter(0..2).map(|i| {
                tracing::info!("message {i}");
                Ok::<_, ConnectError>(Frame::new(Bytes::from_static(b"xy")))
            });
            Ok::<_, ConnectError>(RpcResponse {
                messages: ResponseMessages::Stream(Box::pin(frames)),
                ..Default::default()
            })
        });
    let resp = svc.oneshot(request(&STREAM, None)).await.unwrap();
    // The handler returned: the stream is still to run, the span open.
    assert!(capture.0.lock().unwrap().closed.is_empty());
    let ResponseMessages::Stream(stream) = resp.messages else {
        panic!("a stream");
    };
    assert_eq!(stream.count().await, 2);
    tracing::info!("after");
    let seen = capture.0.lock().unwrap();
    let events: Vec<_> = seen.events.iter().map(|(m, s)| (m.as_str(), *s)).collect();
    assert_eq!(
        events,
        [
            ("handler", Some("rpc.server")),
            ("message 0", Some("rpc.server")),
            ("message 1", Some("rpc.server")),
            ("after", None),
        ]
    );
    assert_eq!(seen.closed, [""]);
}

#[tokio::test(start_paused = true)]
async fn dropped_calls_end_canceled_or_past_their_deadline() {
    let (capture, _guard) = subscribe();
    let slow =
        ServiceBuilder::new()
            .layer(TraceLayer::new())
            .service_fn(|_req: RpcRequest| async {
                tokio::time::sleep(Duration::from_secs(60)).await;
                Ok::<_, ConnectError>(RpcResponse::default())
            });
    // Dropped before its deadline: canceled.
    let call = slow
        .clone()
        .oneshot(request(&UNARY, Some(Duration::from_secs(10))));
    assert!(
        tokio::time::timeout(Duration::from_secs(1), call)
            .await
            .is_err()
    );
    // Dropped after it (as the deadline layer above does): deadline_exceeded.
    let call = slow.oneshot(request(&UNARY, Some(Duration::from_secs(1))));
    assert!(
        tokio::time::timeout(Duration::from_secs(2), call)
            .await
            .is_err()
    );
    assert_eq!(
        capture.0.lock().unwrap().closed,
        ["canceled", "deadline_exceeded"]
    );
}

#[tokio::test]
async fn without_a_subscriber_calls_pass_through() {
    let svc =
        ServiceBuilder::new()
            .layer(TraceLayer::new())
            .service_fn(|req: RpcRequest| async move {
                let RequestMessages::Unary(frame) = req.messages else {
                    panic!("unary");
                };
                Ok::<_, ConnectError>(RpcResponse {
                    messages: ResponseMessages::Unary(frame),
                    ..Default::default()
                })
            });
    let resp = svc.oneshot(request(&UNARY, None)).await.unwrap();
    let ResponseMessages::Unary(frame) = resp.messages else {
        panic!("unary");
    };
    assert_eq!(frame.data, "req");
}

//! One call's record: its span, its message counts, and the end written
//! exactly once — when the last response message (or the error) passes,
//! or when the call is dropped unfinished.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::task::{Context, Poll, ready};
use std::time::Instant;

use connect_core::{Code, ConnectError, Protocol};
use futures_core::Stream;
use tracing::Span;

use super::hooks::{self, CallInfo, CallSummary, Observer, Side};
use crate::rpc::{Frame, FrameStream};

/// `rpc.system` (semantic conventions v1.37 and before).
pub(crate) fn rpc_system(protocol: Protocol) -> &'static str {
    match protocol {
        Protocol::Connect => "connect_rpc",
        _ => "grpc",
    }
}

/// `connectrpc.protocol`: the wire protocol, gRPC-Web told apart.
pub(crate) fn protocol_name(protocol: Protocol) -> &'static str {
    match protocol {
        Protocol::Connect => "connect",
        Protocol::Grpc => "grpc",
        _ => "grpc_web",
    }
}

/// Whether `code` makes the span's status an error: every failure for a
/// client; for a server only the codes that mean the server failed (the
/// semantic conventions' list), not the caller's mistakes.
fn is_error(side: Side, code: Code) -> bool {
    match side {
        Side::Client => code != Code::Ok,
        Side::Server => matches!(
            code,
            Code::Unknown
                | Code::DeadlineExceeded
                | Code::Unimplemented
                | Code::Internal
                | Code::Unavailable
                | Code::DataLoss
        ),
    }
}

/// Message counts kept apart from the record, for a request stream read
/// by someone else (the handler, or the client's sender).
#[derive(Debug, Default)]
pub(crate) struct SharedCounts {
    messages: AtomicU64,
    bytes: AtomicU64,
}

impl SharedCounts {
    fn add(&self, frame: &Frame) {
        self.messages.fetch_add(1, Ordering::Relaxed);
        self.bytes
            .fetch_add(frame.payload().len() as u64, Ordering::Relaxed);
    }
}

/// A request stream counting its messages into `counts`.
struct Counted {
    inner: FrameStream,
    counts: Arc<SharedCounts>,
}

impl Stream for Counted {
    type Item = Result<Frame, ConnectError>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        let item = self.inner.as_mut().poll_next(cx);
        if let Poll::Ready(Some(Ok(frame))) = &item {
            self.counts.add(frame);
        }
        item
    }
}

/// The live record of one call.
pub(crate) struct CallRecord {
    span: Span,
    info: CallInfo,
    observer: Option<&'static dyn Observer>,
    /// Taken only when an observer wants the duration.
    start: Option<Instant>,
    /// A server call's deadline: dropped after it, the call timed out.
    deadline: Option<tokio::time::Instant>,
    request: (u64, u64),
    response: (u64, u64),
    request_stream: Option<Arc<SharedCounts>>,
    done: bool,
}

impl CallRecord {
    /// Starts the record of a call whose span is `span`, or `None` when
    /// nobody listens (a disabled span, no hooks): the call then runs
    /// untouched.
    pub(crate) fn start(span: Span, info: CallInfo) -> Option<Self> {
        let observer = hooks::observer();
        if span.is_disabled() && observer.is_none() && hooks::propagator().is_none() {
            return None;
        }
        if let Some(o) = observer {
            o.call_started(&info);
        }
        Some(CallRecord {
            span,
            info,
            observer,
            start: observer.map(|_| Instant::now()),
            deadline: None,
            request: (0, 0),
            response: (0, 0),
            request_stream: None,
            done: false,
        })
    }

    pub(crate) fn span(&self) -> &Span {
        &self.span
    }

    pub(crate) fn set_deadline(&mut self, deadline: Option<tokio::time::Instant>) {
        self.deadline = deadline;
    }

    /// Counts the single request message.
    pub(crate) fn request_frame(&mut self, frame: &Frame) {
        self.request = (1, frame.payload().len() as u64);
    }

    /// Wraps a request stream so its messages are counted as it is read
    /// (one shared counter per streaming call).
    pub(crate) fn count_request_stream(&mut self, frames: FrameStream) -> FrameStream {
        let counts = Arc::new(SharedCounts::default());
        self.request_stream = Some(counts.clone());
        Box::pin(Counted {
            inner: frames,
            counts,
        })
    }

    /// Counts one response message.
    pub(crate) fn response_frame(&mut self, frame: &Frame) {
        self.response.0 += 1;
        self.response.1 += frame.payload().len() as u64;
    }

    /// Ends the call: `None` for success, else the error's code and message.
    pub(crate) fn finish(&mut self, error: Option<(Code, &str)>) {
        if std::mem::replace(&mut self.done, true) {
            return;
        }
        let (mut req_msgs, mut req_bytes) = self.request;
        if let Some(c) = &self.request_stream {
            req_msgs += c.messages.load(Ordering::Relaxed);
            req_bytes += c.bytes.load(Ordering::Relaxed);
        }
        let code = error.map_or(Code::Ok, |(c, _)| c);
        let span = &self.span;
        span.record("rpc.request.messages", req_msgs);
        span.record("rpc.request.size", req_bytes);
        span.record("rpc.response.messages", self.response.0);
        span.record("rpc.response.size", self.response.1);
        match self.info.protocol {
            Protocol::Connect => {
                if code != Code::Ok {
                    span.record("rpc.connect_rpc.error_code", code.as_str());
                }
            }
            _ => {
                span.record("rpc.grpc.status_code", code.grpc_number());
            }
        }
        if let Some((code, message)) = error {
            span.record("error.type", code.as_str());
            if is_error(self.info.side, code) {
                span.record("otel.status_code", "ERROR");
                span.record("otel.status_message", message);
            }
        }
        if let Some(o) = self.observer {
            let summary = CallSummary {
                code,
                duration: self.start.map(|s| s.elapsed()).unwrap_or_default(),
                request_messages: req_msgs,
                request_bytes: req_bytes,
                response_messages: self.response.0,
                response_bytes: self.response.1,
            };
            o.call_finished(&self.info, &summary);
        }
        // The call is over: close its span now, not when the last handle
        // (a finished stream still held by the body) goes.
        self.span = Span::none();
    }

    pub(crate) fn finish_with(&mut self, result: Result<(), &ConnectError>) {
        self.finish(result.err().map(|e| (e.code(), e.message())));
    }
}

/// Polls a call's future inside its record's span (if it is recorded) and,
/// once it is ready, hands the record back for the response to carry on or
/// to finish.
pub(crate) fn poll_in_span<F: Future>(
    record: &mut Option<CallRecord>,
    inner: Pin<&mut F>,
    cx: &mut Context<'_>,
) -> Poll<(F::Output, Option<CallRecord>)> {
    let out = match record {
        None => ready!(inner.poll(cx)),
        Some(r) => {
            let _entered = r.span().enter();
            ready!(inner.poll(cx))
        }
    };
    Poll::Ready((out, record.take()))
}

impl Drop for CallRecord {
    fn drop(&mut self) {
        if !self.done {
            let expired = self
                .deadline
                .is_some_and(|d| tokio::time::Instant::now() >= d);
            if expired {
                self.finish(Some((
                    Code::DeadlineExceeded,
                    "the call's deadline expired",
                )));
            } else {
                self.finish(Some((
                    Code::Canceled,
                    "the call was dropped before it ended",
                )));
            }
        }
    }
}

/// A server's response stream, recorded: the span is entered while the
/// handler's stream runs, and the call ends with the stream.
pub(crate) struct RecordedFrames {
    inner: FrameStream,
    record: CallRecord,
}

impl RecordedFrames {
    pub(crate) fn new(inner: FrameStream, record: CallRecord) -> Self {
        RecordedFrames { inner, record }
    }
}

impl Stream for RecordedFrames {
    type Item = Result<Frame, ConnectError>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        let this = &mut *self;
        if this.record.done {
            return this.inner.as_mut().poll_next(cx);
        }
        let item = {
            let _entered = this.record.span.enter();
            this.inner.as_mut().poll_next(cx)
        };
        match &item {
            Poll::Ready(Some(Ok(frame))) => this.record.response_frame(frame),
            Poll::Ready(Some(Err(e))) => this.record.finish_with(Err(e)),
            Poll::Ready(None) => this.record.finish(None),
            Poll::Pending => {}
        }
        item
    }
}

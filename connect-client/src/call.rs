//! The futures of one call: readiness, the stack's answer, then what the
//! method makes of it (one decoded message, or a stream handed up).
//!
//! Written by hand rather than as nested `async` blocks: each nested block
//! kept its own copy of the future inside it, and a unary call's future
//! came to 6.4 KB (tonic's: 1.2 KB), all of it moved on every `block_on`
//! or spawn. Here each state holds only what it needs.

use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll, ready};

use connect_core::{Codec, ConnectError};
use connect_layers::{ClientRequest, ClientResponse, ResponseFrames};
use pin_project_lite::pin_project;
use tower_service::Service;

use crate::response::{DecodeFn, Response, ServerStreaming};

pin_project! {
    /// Sends one prepared request down a stack: waits for readiness, calls,
    /// and resolves to the stack's answer.
    ///
    /// The stack's future has a field of its own rather than sharing an
    /// enum with the stack and request: built straight into that field, it
    /// is not moved again (with an enum, the whole stack future was copied
    /// into the new state on every call).
    pub(crate) struct SendCall<S>
    where
        S: Service<ClientRequest>,
    {
        #[pin]
        fut: Option<S::Future>,
        stack: S,
        // The request until it is sent; `Err` when it could not be built.
        req: Option<Result<ClientRequest, ConnectError>>,
    }
}

fn polled_after_completion() -> ConnectError {
    ConnectError::internal("call future polled after completion")
}

impl<S> SendCall<S>
where
    S: Service<ClientRequest>,
{
    /// Sends `req` through `stack` (a clone of the client's, owned by the
    /// call until it is sent), or fails with `req`'s error when polled.
    pub(crate) fn new(stack: S, req: Result<ClientRequest, ConnectError>) -> Self {
        SendCall {
            fut: None,
            stack,
            req: Some(req),
        }
    }
}

impl<S> Future for SendCall<S>
where
    S: Service<ClientRequest, Response = ClientResponse, Error = ConnectError>,
{
    type Output = Result<ClientResponse, ConnectError>;

    #[inline]
    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let mut this = self.project();
        if let Some(fut) = this.fut.as_mut().as_pin_mut() {
            return fut.poll(cx);
        }
        let req = match this.req.take() {
            Some(Ok(req)) => req,
            Some(Err(e)) => return Poll::Ready(Err(e)),
            None => return Poll::Ready(Err(polled_after_completion())),
        };
        match this.stack.poll_ready(cx) {
            Poll::Ready(Ok(())) => {}
            Poll::Ready(Err(e)) => return Poll::Ready(Err(e)),
            Poll::Pending => {
                *this.req = Some(Ok(req));
                return Poll::Pending;
            }
        }
        this.fut.set(Some(this.stack.call(req)));
        match this.fut.as_pin_mut() {
            Some(fut) => fut.poll(cx),
            None => Poll::Ready(Err(polled_after_completion())),
        }
    }
}

/// What a method makes of the stack's answer: one decoded message
/// ([`single`]) or a stream of them ([`streaming`]).
pub(crate) type Finish<M, O> = fn(Codec, ClientResponse, DecodeFn<M>) -> Result<O, ConnectError>;

pin_project! {
    /// A call: sends, then finishes the answer as its method needs.
    pub(crate) struct Call<S, M, O>
    where
        S: Service<ClientRequest>,
    {
        #[pin]
        send: SendCall<S>,
        codec: Codec,
        decode: DecodeFn<M>,
        finish: Finish<M, O>,
    }
}

impl<S, M, O> Call<S, M, O>
where
    S: Service<ClientRequest>,
{
    pub(crate) fn new(
        send: SendCall<S>,
        codec: Codec,
        decode: DecodeFn<M>,
        finish: Finish<M, O>,
    ) -> Self {
        Call {
            send,
            codec,
            decode,
            finish,
        }
    }
}

impl<S, M, O> Future for Call<S, M, O>
where
    S: Service<ClientRequest, Response = ClientResponse, Error = ConnectError>,
{
    type Output = Result<O, ConnectError>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = self.project();
        let resp = ready!(this.send.poll(cx))?;
        Poll::Ready((this.finish)(*this.codec, resp, *this.decode))
    }
}

/// The one answer of a unary or client-streaming call, decoded; a message
/// that does not decode fails the call with the answer's headers and
/// trailers on the error.
pub(crate) fn single<M>(
    codec: Codec,
    resp: ClientResponse,
    decode: DecodeFn<M>,
) -> Result<Response<M>, ConnectError> {
    let ResponseFrames::Unary { frame, trailers } = resp.messages else {
        return Err(ConnectError::internal(
            "a single-response call received a stream",
        ));
    };
    match decode(codec, frame.into_payload()) {
        Ok(m) => Ok(Response::new(resp.headers, m, trailers)),
        Err(mut e) => {
            *e.headers_mut() = resp.headers;
            *e.trailers_mut() = trailers;
            Err(e)
        }
    }
}

/// A streamed answer from a stack response.
pub(crate) fn streaming<M>(
    codec: Codec,
    resp: ClientResponse,
    decode: DecodeFn<M>,
) -> Result<ServerStreaming<M>, ConnectError> {
    let ResponseFrames::Stream(items) = resp.messages else {
        return Err(ConnectError::internal(
            "a streaming call received a single response",
        ));
    };
    Ok(ServerStreaming::new(resp.headers, items, codec, decode))
}

#[cfg(test)]
mod tests {
    use std::convert::Infallible;

    use connect_core::{Idempotency, MethodDescriptor, StreamType};
    use http_body_util::Empty;

    use crate::{CallOptions, Client, ClientConfig};

    static UNARY: MethodDescriptor = MethodDescriptor::new(
        "a.v1.S",
        "M",
        "/a.v1.S/M",
        StreamType::Unary,
        Idempotency::Unknown,
    );

    /// A server stream read as views: each message decoded over its own
    /// bytes; one that does not decode ends the stream with `internal`.
    #[tokio::test]
    async fn view_streams_decode_each_message_and_stop_at_a_bad_one() {
        use buffa::Message as _;
        use buffa_types::google::protobuf::__buffa::view::StringValueView;
        use buffa_types::google::protobuf::StringValue;
        use futures_util::StreamExt as _;

        static STREAM: MethodDescriptor = MethodDescriptor::new(
            "a.v1.S",
            "S",
            "/a.v1.S/S",
            StreamType::ServerStream,
            Idempotency::Unknown,
        );
        fn envelope(out: &mut Vec<u8>, flags: u8, data: &[u8]) {
            out.push(flags);
            out.extend_from_slice(&(data.len() as u32).to_be_bytes());
            out.extend_from_slice(data);
        }
        let ok = StringValue {
            value: "one".into(),
            ..Default::default()
        };
        let mut body = Vec::new();
        envelope(&mut body, 0, &ok.encode_to_vec());
        // Field 1 as a string of 5 bytes, with only 1 present.
        envelope(&mut body, 0, &[0x0a, 0x05, b'x']);
        // Never read: the stream ends at its first error.
        envelope(&mut body, 0, &ok.encode_to_vec());
        envelope(&mut body, 2, b"{}");
        let body = bytes::Bytes::from(body);
        let channel = tower::service_fn(move |_req: http::Request<crate::ClientBody>| {
            let body = body.clone();
            async move {
                let resp = http::Response::builder()
                    .header("content-type", "application/connect+proto")
                    .body(http_body_util::Full::new(body))
                    .unwrap();
                Ok::<_, Infallible>(resp)
            }
        });
        let client = Client::new(channel, ClientConfig::new("http://h".parse().unwrap()));
        let mut stream = client
            .server_stream_view::<_, StringValueView<'static>>(
                &STREAM,
                &StringValue::default(),
                CallOptions::new(),
            )
            .await
            .unwrap();
        let first = stream.next().await.unwrap().unwrap();
        assert_eq!(first.reborrow().value, "one");
        let err = stream.next().await.unwrap().unwrap_err();
        assert_eq!(err.code(), connect_core::Code::Internal, "{err}");
        assert!(err.message().starts_with("failed to decode"), "{err}");
        assert!(stream.next().await.is_none());
        // The first view is still good after the stream moved on.
        assert_eq!(first.reborrow().value, "one");
    }

    /// Every `block_on`, spawn and `.await` in a caller's own future moves
    /// the call's future: nested `async` blocks once made a unary call's
    /// 6.4 KB. Each layer's future is small; so must the whole be.
    #[test]
    fn call_futures_stay_small() {
        let channel = tower::service_fn(|_req: http::Request<crate::ClientBody>| async {
            Ok::<_, Infallible>(http::Response::new(Empty::<bytes::Bytes>::new()))
        });
        let client = Client::new(channel, ClientConfig::new("http://h".parse().unwrap()));
        let req = buffa_types::google::protobuf::Empty::default();
        let unary = client.unary::<_, buffa_types::google::protobuf::Empty>(
            &UNARY,
            &req,
            CallOptions::new(),
        );
        let stream = client.server_stream::<_, buffa_types::google::protobuf::Empty>(
            &UNARY,
            &req,
            CallOptions::new(),
        );
        let (unary, stream) = (size_of_val(&unary), size_of_val(&stream));
        assert!(unary <= 1024, "a unary call's future is {unary} bytes");
        assert!(stream <= 1024, "a server stream's future is {stream} bytes");
    }
}

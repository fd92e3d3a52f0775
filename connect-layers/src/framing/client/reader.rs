//! Reading a response body: whole (bounded), or envelope by envelope
//! until the protocol's end of the call.

use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll, ready};

use bytes::Bytes;
use connect_codec::compression::IDENTITY;
use connect_codec::envelope::EnvelopeDecoder;
use connect_codec::{error_json, grpc_status};
use connect_core::error::chain_text;
use connect_core::{Code, ConnectError, Protocol, StreamType, flags, metadata};
use futures_core::Stream;
use http::HeaderMap;
use http_body::Body;
use pin_project_lite::pin_project;

use super::FramingConfig;
use crate::BoxError;
use crate::framing::Collected;
use crate::protocol::encoding_headers;
use crate::rpc::Frame;
use crate::rpc::client::{StreamItem, Trailers};

/// The error for a response body past the read limit.
pub(super) fn too_large(limit: usize) -> ConnectError {
    ConnectError::resource_exhausted(format!(
        "response message larger than the read limit {limit}"
    ))
}

/// Reads a whole body, failing with `resource_exhausted` past `limit`.
pub async fn read_bounded<R>(body: R, limit: usize) -> Result<Bytes, ConnectError>
where
    R: Body<Data = Bytes>,
    R::Error: Into<BoxError>,
{
    use http_body_util::BodyExt as _;
    let mut body = std::pin::pin!(body);
    let mut collect = Collected::default();
    while let Some(frame) = body.frame().await {
        if let Ok(data) = frame.map_err(body_error)?.into_data()
            && !collect.push(data, limit)
        {
            return Err(too_large(limit));
        }
    }
    Ok(collect.into_bytes())
}

/// The error for a response body that failed mid-way.
pub fn body_error(e: impl Into<BoxError>) -> ConnectError {
    let e = e.into();
    match ConnectError::find_in(&*e) {
        // Decoding layers below (gRPC-Web text) report a malformed body as
        // `invalid_argument`, as servers do for requests; in a response it
        // is the server's fault.
        Some(c) if c.code() == Code::InvalidArgument => {
            let mut e = ConnectError::internal(c.message().to_owned());
            *e.headers_mut() = c.headers().clone();
            *e.trailers_mut() = c.trailers().clone();
            e
        }
        Some(c) => c.clone(),
        None => ConnectError::new(
            Code::Unavailable,
            format!("response body failed: {}", chain_text(&*e)),
        ),
    }
}

pin_project! {
    /// Decodes a response body envelope by envelope.
    pub(crate) struct EnvelopeReader<R> {
        #[pin]
        body: R,
        decoder: EnvelopeDecoder,
        // The read limit, for decompressed end-of-stream messages too.
        read_max: usize,
        config: Arc<FramingConfig>,
        saw_bytes: bool,
        done: bool,
    }
}

impl<R> EnvelopeReader<R>
where
    R: Body<Data = Bytes>,
    R::Error: Into<BoxError>,
{
    pub(super) fn new(body: R, read_max: usize, config: Arc<FramingConfig>) -> Self {
        EnvelopeReader {
            body,
            decoder: EnvelopeDecoder::new(read_max),
            read_max,
            config,
            saw_bytes: false,
            done: false,
        }
    }

    /// The next message's payload if it is uncompressed and whole in the
    /// chunk being read; `None` for anything else ([`poll_item`] then).
    ///
    /// [`poll_item`]: Self::poll_item
    #[inline]
    fn next_ready(self: Pin<&mut Self>) -> Option<Bytes> {
        let this = self.project();
        if *this.done {
            return None;
        }
        this.decoder.next_ready(0).map(|env| env.data)
    }

    /// The next item: a message, then the trailers or an error, then
    /// `None`. `headers` are the response's (trailers-only answers carry
    /// their status there).
    #[inline]
    pub(super) fn poll_item(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        headers: &HeaderMap,
    ) -> Poll<Option<Result<StreamItem, ConnectError>>> {
        let mut this = self.project();
        if *this.done {
            return Poll::Ready(None);
        }
        let item = loop {
            match next_envelope(this.decoder, this.config, *this.read_max, headers) {
                Ok(Some(item)) => break Ok(item),
                Ok(None) => {}
                Err(e) => break Err(e),
            }
            match ready!(this.body.as_mut().poll_frame(cx)) {
                Some(Ok(frame)) => match frame.into_data() {
                    Ok(data) => {
                        *this.saw_bytes |= !data.is_empty();
                        this.decoder.push(data);
                    }
                    Err(frame) => {
                        if let Ok(trailers) = frame.into_trailers() {
                            break http_trailers(this.decoder, this.config, trailers);
                        }
                    }
                },
                Some(Err(e)) => break Err(body_error(e)),
                None => break body_ended(this.decoder, this.config, *this.saw_bytes, headers),
            }
        };
        if !matches!(item, Ok(StreamItem::Message(_))) {
            *this.done = true;
        }
        Poll::Ready(Some(item))
    }
}

/// The next complete envelope's item, if one is buffered. A message (the
/// hot path, ten or a thousand times a call) is built here, inlined into
/// the reader; anything else leaves for [`envelope_end`].
#[inline]
fn next_envelope(
    decoder: &mut EnvelopeDecoder,
    config: &FramingConfig,
    read_max: usize,
    headers: &HeaderMap,
) -> Result<Option<StreamItem>, ConnectError> {
    let Some(env) = decoder.next_envelope().map_err(response_error)? else {
        return Ok(None);
    };
    if env.flags & !flags::COMPRESSED == 0 {
        return Ok(Some(StreamItem::Message(Frame {
            data: env.data,
            compressed: env.flags != 0,
            prefixed: false,
        })));
    }
    envelope_end(decoder, config, read_max, headers, env).map(Some)
}

/// An envelope with flags beyond compression: the protocol's end of the
/// stream (its trailers or error), or flags no response may carry.
#[cold]
#[inline(never)]
fn envelope_end(
    decoder: &EnvelopeDecoder,
    config: &FramingConfig,
    read_max: usize,
    headers: &HeaderMap,
    env: connect_codec::envelope::Envelope,
) -> Result<StreamItem, ConnectError> {
    let compressed = env.flags & flags::COMPRESSED != 0;
    let end_flag = match config.protocol {
        Protocol::Connect => flags::CONNECT_END_STREAM,
        Protocol::GrpcWeb => flags::GRPC_WEB_TRAILERS,
        _ => 0,
    };
    if env.flags & !(flags::COMPRESSED | end_flag) != 0 || env.flags & end_flag == 0 {
        return Err(ConnectError::internal(format!(
            "invalid envelope flags {:#04x} in a {} response",
            env.flags, config.protocol
        )));
    }
    if !decoder.is_empty() {
        return Err(ConnectError::internal(
            "response has extra bytes after the end of the stream",
        ));
    }
    let data = if compressed {
        decompress_end(config, headers, &env.data, read_max)?
    } else {
        env.data
    };
    match config.protocol {
        Protocol::Connect => end_stream(&data),
        _ => grpc_end(grpc_status::parse_web_trailer_block(&data)),
    }
}

fn decompress_end(
    config: &FramingConfig,
    headers: &HeaderMap,
    data: &[u8],
    read_max: usize,
) -> Result<Bytes, ConnectError> {
    let (encoding, _) = encoding_headers(config.protocol, StreamType::BidiStream);
    let name = metadata::find(headers, &encoding)
        .and_then(|v| v.to_str().ok())
        .unwrap_or(IDENTITY);
    if name == IDENTITY || !config.registry.supports(name) {
        return Err(ConnectError::internal(format!(
            "received a compressed end-of-stream message with encoding {name:?}"
        )));
    }
    config
        .registry
        .decompress(name, data, read_max)
        .map_err(response_error)
}

fn http_trailers(
    decoder: &EnvelopeDecoder,
    config: &FramingConfig,
    trailers: HeaderMap,
) -> Result<StreamItem, ConnectError> {
    if !decoder.is_empty() {
        return Err(ConnectError::internal(
            "response body ended inside an envelope",
        ));
    }
    match config.protocol {
        Protocol::Grpc => grpc_end(trailers),
        _ => Err(ConnectError::internal(format!(
            "{} response carried HTTP trailers",
            config.protocol
        ))),
    }
}

fn body_ended(
    decoder: &EnvelopeDecoder,
    config: &FramingConfig,
    saw_bytes: bool,
    headers: &HeaderMap,
) -> Result<StreamItem, ConnectError> {
    if !decoder.is_empty() {
        return Err(ConnectError::internal(
            "response body ended inside an envelope",
        ));
    }
    match config.protocol {
        Protocol::Connect => Err(ConnectError::internal(
            "response stream ended without an end-of-stream message",
        )),
        _ if !saw_bytes => {
            // Trailers-only: the status travels in the headers.
            let mut trailers = headers.clone();
            trailers.remove(http::header::CONTENT_TYPE);
            grpc_end(trailers)
        }
        _ => Err(ConnectError::internal(
            "response stream ended without trailers",
        )),
    }
}

pin_project! {
    /// A streamed response: the reader, the headers it needs, and the
    /// encoding its compressed messages are decompressed with. Messages
    /// are decompressed here, as they are read, rather than in one more
    /// boxed stream around this one (the compression layer checks the
    /// encoding when the response head arrives).
    pub(super) struct ItemReader<R> {
        #[pin]
        pub(super) reader: EnvelopeReader<R>,
        pub(super) headers: HeaderMap,
        pub(super) encoding: Option<&'static str>,
    }
}

impl<R> Stream for ItemReader<R>
where
    R: Body<Data = Bytes>,
    R::Error: Into<BoxError>,
{
    type Item = Result<StreamItem, ConnectError>;

    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        let this = self.project();
        let mut reader = this.reader;
        // The hot path: an uncompressed message whole in the chunk at hand,
        // built once, in the caller's slot (not moved through the general
        // path's nested results).
        if let Some(data) = reader.as_mut().next_ready() {
            return Poll::Ready(Some(Ok(StreamItem::Message(Frame {
                data,
                compressed: false,
                prefixed: false,
            }))));
        }
        match ready!(reader.as_mut().poll_item(cx, this.headers)) {
            Some(Ok(StreamItem::Message(frame))) if frame.compressed => {
                let read_max = *reader.as_mut().project().read_max;
                let config = Arc::clone(reader.as_mut().project().config);
                let item = decompress_message(&config, *this.encoding, read_max, frame);
                if item.is_err() {
                    // The stream ends after its first error.
                    *reader.project().done = true;
                }
                Poll::Ready(Some(item.map(StreamItem::Message)))
            }
            item => Poll::Ready(item),
        }
    }
}

/// A compressed message of a streamed answer, decompressed within the read
/// limit; one that fails to decompress is the server's fault (`internal`).
fn decompress_message(
    config: &FramingConfig,
    encoding: Option<&'static str>,
    read_max: usize,
    frame: Frame,
) -> Result<Frame, ConnectError> {
    crate::compression::decompress(&config.registry, encoding, frame, read_max).map_err(|e| match e
        .code()
    {
        Code::ResourceExhausted | Code::Internal => e,
        _ => ConnectError::internal(e.message().to_owned()),
    })
}

/// The encoding a streamed answer's messages are compressed with, by the
/// response headers: `None` for identity or one the registry lacks (the
/// compression layer fails the call on that before a message is read).
pub(super) fn message_encoding(
    config: &FramingConfig,
    headers: &HeaderMap,
) -> Option<&'static str> {
    let (encoding, _) = encoding_headers(config.protocol, StreamType::BidiStream);
    let name = metadata::find(headers, &encoding)?.to_str().ok()?.trim();
    if name.is_empty() || name == IDENTITY {
        return None;
    }
    config.registry.get(name).map(|p| p.name())
}

fn response_error(e: ConnectError) -> ConnectError {
    match e.code() {
        Code::ResourceExhausted => e,
        _ => ConnectError::internal(e.message().to_owned()),
    }
}

fn end_stream(data: &[u8]) -> Result<StreamItem, ConnectError> {
    let end = error_json::decode_end_stream(data).ok_or_else(|| {
        ConnectError::internal("received an end-of-stream message that is not valid JSON")
    })?;
    match end.error {
        Some(mut e) => {
            *e.trailers_mut() = end.trailers;
            Err(e)
        }
        None => Ok(StreamItem::Trailers(end.trailers.into())),
    }
}

fn grpc_end(mut trailers: HeaderMap) -> Result<StreamItem, ConnectError> {
    // The common end, `grpc-status: 0` alone: no lookups by hash.
    if trailers.len() == 1
        && metadata::find(&trailers, &grpc_status::GRPC_STATUS).is_some_and(|v| v == "0")
    {
        return Ok(StreamItem::Trailers(Trailers::default()));
    }
    let status = grpc_status::parse_status(&trailers);
    for name in [
        grpc_status::GRPC_STATUS,
        grpc_status::GRPC_MESSAGE,
        grpc_status::GRPC_STATUS_DETAILS,
    ] {
        trailers.remove(name);
    }
    match status {
        Ok(()) => Ok(StreamItem::Trailers(trailers.into())),
        Err(mut e) => {
            *e.trailers_mut() = trailers;
            Err(e)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::framing::take_trailer_headers;

    #[test]
    fn trailer_headers_are_split_off() {
        let mut h = HeaderMap::new();
        h.insert("content-type", "application/proto".parse().unwrap());
        h.append("trailer-x-a", "1".parse().unwrap());
        h.append("trailer-x-a", "2".parse().unwrap());
        let t = take_trailer_headers(&mut h);
        assert_eq!(t.get_all("x-a").iter().count(), 2);
        assert!(h.get("trailer-x-a").is_none());
        assert!(h.get("content-type").is_some());
    }

    #[test]
    fn grpc_end_reads_status_and_keeps_metadata() {
        let mut t = HeaderMap::new();
        t.insert("grpc-status", "5".parse().unwrap());
        t.insert("grpc-message", "gone".parse().unwrap());
        t.insert("x-m", "1".parse().unwrap());
        let e = grpc_end(t).unwrap_err();
        assert_eq!(e.code(), Code::NotFound);
        assert_eq!(e.message(), "gone");
        assert_eq!(e.trailers()["x-m"], "1");
        assert!(e.trailers().get("grpc-status").is_none());
        let mut ok = HeaderMap::new();
        ok.insert("grpc-status", "0".parse().unwrap());
        assert_eq!(
            grpc_end(ok).unwrap(),
            StreamItem::Trailers(Trailers::default())
        );
        assert_eq!(
            grpc_end(HeaderMap::new()).unwrap_err().code(),
            Code::Unknown
        );
    }

    #[test]
    fn end_stream_parsing_is_lenient_and_bogus_json_is_internal() {
        assert!(matches!(
            end_stream(br#"{"error":null}"#),
            Ok(StreamItem::Trailers(_))
        ));
        let e = end_stream(br#"{"error":{"code":"foobar","message":"m"}}"#).unwrap_err();
        assert_eq!((e.code(), e.message()), (Code::Unknown, "m"));
        assert_eq!(end_stream(b"not json").unwrap_err().code(), Code::Internal);
    }
}

//! Reading request bodies: whole (bounded), or envelope by envelope.

use std::fmt;
use std::pin::Pin;
use std::task::{Context, Poll};

use bytes::Bytes;
use connect_codec::envelope::{Envelope, EnvelopeDecoder};
use connect_core::{ConnectError, ENVELOPE_PREFIX_LEN, flags};
use futures_core::Stream;
use http_body::Body;

use crate::rpc::Frame;

pub(crate) fn body_error(e: impl Into<Box<dyn std::error::Error + Send + Sync>>) -> ConnectError {
    let e = ConnectError::from_error(e.into());
    if e.code() == connect_core::Code::Unknown {
        ConnectError::new(
            connect_core::Code::Canceled,
            format!("failed to read request body: {}", e.message()),
        )
    } else {
        e
    }
}

/// Checks a request envelope's flags and makes it a frame.
pub(crate) fn request_frame(env: Envelope) -> Result<Frame, ConnectError> {
    if env.flags & !flags::COMPRESSED != 0 {
        return Err(ConnectError::internal(format!(
            "protocol error: invalid envelope flags {:#04x}",
            env.flags
        )));
    }
    Ok(Frame {
        data: env.data,
        compressed: env.flags & flags::COMPRESSED != 0,
        prefixed: false,
    })
}

/// Exactly one envelope from a whole body, as unary and server-streaming
/// requests must carry.
pub(crate) fn single_envelope(body: Bytes, limit: usize) -> Result<Frame, ConnectError> {
    // Zero-copy: the payload is a slice of the body; the checks are those
    // the incremental decoder makes, in the same order.
    fn prefix(buf: &[u8], limit: usize) -> Result<Option<(u8, usize)>, ConnectError> {
        let Some(p) = buf.get(..ENVELOPE_PREFIX_LEN) else {
            return Ok(None);
        };
        let len = u32::from_be_bytes([p[1], p[2], p[3], p[4]]) as usize;
        if len > limit {
            return Err(ConnectError::resource_exhausted(format!(
                "message size {len} is larger than configured max {limit}"
            )));
        }
        Ok(Some((p[0], len)))
    }
    let incomplete = |n: usize| {
        ConnectError::invalid_argument(format!(
            "protocol error: incomplete envelope: {n} trailing bytes"
        ))
    };
    if body.is_empty() {
        return Err(ConnectError::unimplemented(
            "protocol error: request has no message (expected exactly one)",
        ));
    }
    let Some((flags, len)) = prefix(&body, limit)? else {
        return Err(incomplete(body.len()));
    };
    let end = ENVELOPE_PREFIX_LEN + len;
    if body.len() < end {
        return Err(incomplete(body.len()));
    }
    let rest = &body[end..];
    if !rest.is_empty() {
        return Err(match prefix(rest, limit)? {
            Some((_, len2)) if rest.len() >= ENVELOPE_PREFIX_LEN + len2 => {
                ConnectError::unimplemented(
                    "protocol error: request has more than one message (expected exactly one)",
                )
            }
            _ => incomplete(rest.len()),
        });
    }
    request_frame(Envelope {
        flags,
        data: body.slice(ENVELOPE_PREFIX_LEN..end),
    })
}

pin_project_lite::pin_project! {
    /// A stream of request frames decoded from a body as it arrives.
    pub struct FrameDecoder<B> {
        #[pin]
        body: B,
        decoder: EnvelopeDecoder,
        done: bool,
    }
}

impl<B> fmt::Debug for FrameDecoder<B> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("FrameDecoder")
            .field("decoder", &self.decoder)
            .field("done", &self.done)
            .finish()
    }
}

impl<B> FrameDecoder<B> {
    /// Decodes `body`, refusing envelopes longer than `limit`.
    pub fn new(body: B, limit: usize) -> Self {
        FrameDecoder {
            body,
            decoder: EnvelopeDecoder::new(limit),
            done: false,
        }
    }
}

impl<B> Stream for FrameDecoder<B>
where
    B: Body,
    B::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
{
    type Item = Result<Frame, ConnectError>;

    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        let mut this = self.project();
        loop {
            if *this.done {
                return Poll::Ready(None);
            }
            match this.decoder.next_envelope() {
                Ok(Some(env)) => {
                    let frame = request_frame(env);
                    if frame.is_err() {
                        *this.done = true;
                    }
                    return Poll::Ready(Some(frame));
                }
                Ok(None) => {}
                Err(e) => {
                    *this.done = true;
                    return Poll::Ready(Some(Err(e)));
                }
            }
            match std::task::ready!(this.body.as_mut().poll_frame(cx)) {
                Some(Ok(frame)) => {
                    if let Ok(data) = frame.into_data() {
                        this.decoder.push(data);
                    }
                }
                Some(Err(e)) => {
                    *this.done = true;
                    return Poll::Ready(Some(Err(body_error(e))));
                }
                None => {
                    *this.done = true;
                    return Poll::Ready(this.decoder.finish().err().map(Err));
                }
            }
        }
    }
}

/// The most a whole-body read may take for a message limit of `limit`.
pub(crate) fn body_limit(limit: usize, enveloped: bool) -> usize {
    if enveloped {
        limit.saturating_add(ENVELOPE_PREFIX_LEN)
    } else {
        limit
    }
}

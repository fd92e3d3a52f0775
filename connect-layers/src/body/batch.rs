//! A stream's message frames gathered into body chunks: a client's request
//! stream and a server's response stream alike.
//!
//! Messages that are ready together (an iterator, a channel with a
//! backlog) would otherwise leave as one body chunk each: one HTTP/2 DATA
//! frame per message. Besides the framing overhead, that can cost the
//! connection: h2 (0.4.20 on) charges every unread DATA frame under 256
//! bytes against a connection-wide budget, half the connection window,
//! and closes the connection with `ENHANCE_YOUR_CALM`
//! ("too_many_data_frames") when a peer runs it out. A few hundred client
//! streams of small messages to a busy server did (tonic's server and
//! ours alike; `examples/tests/busy_streams.rs`).
//!
//! The [`Batcher`] reads frames while they are ready and copies the small
//! ones into one chunk, so they leave together; a frame that is not ready
//! yet is not waited for, so nothing is held back.

use std::task::{Context, Poll};

use bytes::Bytes;
use connect_codec::envelope::put_prefix;
use connect_core::{ConnectError, ENVELOPE_PREFIX_LEN, flags};

use crate::framing::client::check_send_limit;
use crate::rpc::{Frame, FrameStream};

/// Messages up to this size are copied into a shared chunk; a larger one
/// leaves as its own chunk, without a copy.
const COPY_MAX: usize = 1024;

/// A chunk takes no more messages once it holds this many bytes.
pub(super) const CHUNK_MAX: usize = 16 * 1024;

/// Room reserved in a chunk for the end of the stream written after its
/// messages (a Connect end without error or metadata is 7 bytes; a larger
/// one grows the chunk).
pub(crate) const END_ROOM: usize = 64;

/// The most messages gathered into one chunk (held on the stack until the
/// chunk's size is known, so it is allocated once, exactly).
const GATHER_MAX: usize = 32;

/// Message frames read as envelope chunks, each frame checked against a
/// send limit, small ready frames gathered into one chunk.
pub(crate) struct Batcher {
    frames: FrameStream,
    limit: usize,
    /// What the last chunk read past its end: a large frame, an error, or
    /// the stream's end (`Some(None)`).
    next: Option<Option<Result<Frame, ConnectError>>>,
    done: bool,
}

impl Batcher {
    /// Gathers `frames`, failing on a message over `limit` bytes.
    pub(crate) fn new(frames: FrameStream, limit: usize) -> Self {
        Batcher {
            frames,
            limit,
            next: None,
            done: false,
        }
    }

    /// Whether the stream is known to have ended with nothing left to
    /// yield: the last chunk read up to the stream's end. A body reports it
    /// as its end, so HTTP/2 ends the stream on that chunk's DATA frame
    /// rather than on an empty one after it.
    pub(crate) fn is_finished(&self) -> bool {
        self.done || matches!(self.next, Some(None))
    }

    /// The next chunk: one or more envelopes, or the stream's error.
    pub(crate) fn poll_chunk(
        &mut self,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Bytes, ConnectError>>> {
        self.poll_chunk_ending(cx, None::<fn(&mut Vec<u8>)>)
            .map(|chunk| chunk.map(|c| c.map(|(bytes, _)| bytes)))
    }

    /// The next chunk, as [`poll_chunk`](Self::poll_chunk); when the
    /// messages it gathers run up to the stream's end, `end` (if given)
    /// writes the protocol's last bytes (an end-of-stream envelope) at the
    /// chunk's end, and the flag says so: the response then ends on one
    /// DATA frame rather than two. The stream is then done.
    #[inline]
    pub(crate) fn poll_chunk_ending<F: FnOnce(&mut Vec<u8>)>(
        &mut self,
        cx: &mut Context<'_>,
        end: Option<F>,
    ) -> Poll<Option<Result<(Bytes, bool), ConnectError>>> {
        if self.done {
            return Poll::Ready(None);
        }
        let item = match self.next.take() {
            Some(item) => item,
            None => std::task::ready!(self.frames.as_mut().poll_next(cx)),
        };
        let checked = item.map(|f| f.and_then(|f| check_send_limit(&f, self.limit).map(|()| f)));
        let first = match checked {
            Some(Ok(f)) => f,
            Some(Err(e)) => {
                self.done = true;
                return Poll::Ready(Some(Err(e)));
            }
            None => {
                self.done = true;
                return Poll::Ready(None);
            }
        };
        if first.payload().len() > COPY_MAX {
            return Poll::Ready(Some(Ok((first.into_envelope(0), false))));
        }
        let mut size = envelope_len(&first);
        let mut gathered: [Option<Frame>; GATHER_MAX] = Default::default();
        gathered[0] = Some(first);
        let mut count = 1;
        while count < GATHER_MAX && size < CHUNK_MAX {
            match self.frames.as_mut().poll_next(cx) {
                Poll::Pending => break,
                Poll::Ready(Some(Ok(f)))
                    if f.payload().len() <= COPY_MAX && f.payload().len() <= self.limit =>
                {
                    size += envelope_len(&f);
                    gathered[count] = Some(f);
                    count += 1;
                }
                Poll::Ready(other) => {
                    self.next = Some(other);
                    break;
                }
            }
        }
        let end = match end {
            Some(end) if matches!(self.next, Some(None)) => {
                self.next = None;
                self.done = true;
                Some(end)
            }
            _ => None,
        };
        if count == 1 && end.is_none() {
            let alone = gathered[0].take().expect("the first frame");
            return Poll::Ready(Some(Ok((alone.into_envelope(0), false))));
        }
        let room = if end.is_some() { END_ROOM } else { 0 };
        let mut chunk = Vec::with_capacity(size + room);
        for frame in gathered[..count].iter().flatten() {
            append(&mut chunk, frame);
        }
        let ended = end.is_some();
        if let Some(end) = end {
            end(&mut chunk);
        }
        Poll::Ready(Some(Ok((Bytes::from(chunk), ended))))
    }
}

/// The size of `frame` behind its envelope prefix.
fn envelope_len(frame: &Frame) -> usize {
    ENVELOPE_PREFIX_LEN + frame.payload().len()
}

/// Writes `frame`'s envelope at the end of `chunk`.
#[inline]
pub(super) fn append(chunk: &mut Vec<u8>, frame: &Frame) {
    if frame.prefixed && !frame.compressed {
        // The prefix written at encode time (flags 0) is the envelope's.
        chunk.extend_from_slice(&frame.data);
        return;
    }
    let payload = frame.payload();
    let flags = if frame.compressed {
        flags::COMPRESSED
    } else {
        0
    };
    put_prefix(chunk, flags, payload.len());
    chunk.extend_from_slice(payload);
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::pin::Pin;
    use std::sync::{Arc, Mutex};

    use futures_core::Stream;

    fn frame(payload: &[u8]) -> Frame {
        Frame::new(Bytes::copy_from_slice(payload))
    }

    fn prefixed(payload: &[u8]) -> Frame {
        Frame {
            data: connect_codec::envelope::encode_envelope(0, payload),
            compressed: false,
            prefixed: true,
        }
    }

    fn envelope(flags: u8, payload: &[u8]) -> Vec<u8> {
        connect_codec::envelope::encode_envelope(flags, payload).to_vec()
    }

    type Item = Option<Result<Frame, ConnectError>>;

    /// A stream whose items are released by the test: `Pending` until then.
    #[derive(Clone, Default)]
    struct Feed(Arc<Mutex<(Vec<Item>, usize)>>);

    impl Feed {
        fn push(&self, item: Item) {
            self.0.lock().unwrap().0.push(item);
        }
    }

    impl Stream for Feed {
        type Item = Result<Frame, ConnectError>;
        fn poll_next(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<Option<Self::Item>> {
            let mut state = self.0.lock().unwrap();
            let (items, read) = &mut *state;
            match items.get_mut(*read) {
                Some(item) => {
                    *read += 1;
                    Poll::Ready(item.take())
                }
                None => Poll::Pending,
            }
        }
    }

    fn poll(b: &mut Batcher) -> Poll<Option<Result<Bytes, ConnectError>>> {
        b.poll_chunk(&mut Context::from_waker(std::task::Waker::noop()))
    }

    fn chunk(b: &mut Batcher) -> Vec<u8> {
        match poll(b) {
            Poll::Ready(Some(Ok(c))) => c.to_vec(),
            other => panic!("expected a chunk, got {other:?}"),
        }
    }

    #[test]
    fn ready_messages_leave_in_one_chunk() {
        let frames = vec![Ok(prefixed(b"one")), Ok(frame(b"two")), Ok(prefixed(b""))];
        let mut b = Batcher::new(Box::pin(futures_util::stream::iter(frames)), 100);
        let mut want = envelope(0, b"one");
        want.extend(envelope(0, b"two"));
        want.extend(envelope(0, b""));
        assert!(!b.is_finished());
        assert_eq!(chunk(&mut b), want);
        assert!(b.is_finished(), "the chunk read up to the stream's end");
        assert!(matches!(poll(&mut b), Poll::Ready(None)));
        assert!(matches!(poll(&mut b), Poll::Ready(None)));
        assert!(b.is_finished());
    }

    #[test]
    fn a_message_not_ready_is_not_waited_for() {
        let feed = Feed::default();
        feed.push(Some(Ok(frame(b"a"))));
        let mut b = Batcher::new(Box::pin(feed.clone()), 100);
        assert_eq!(chunk(&mut b), envelope(0, b"a"));
        assert!(poll(&mut b).is_pending());
        feed.push(Some(Ok(frame(b"b"))));
        feed.push(Some(Ok(frame(b"c"))));
        let mut want = envelope(0, b"b");
        want.extend(envelope(0, b"c"));
        assert_eq!(chunk(&mut b), want);
        assert!(!b.is_finished(), "the end has not been seen");
        feed.push(None);
        assert!(matches!(poll(&mut b), Poll::Ready(None)));
        assert!(b.is_finished());
    }

    #[test]
    fn a_compressed_message_keeps_its_flag() {
        let compressed = Frame {
            data: Bytes::from_static(b"zz"),
            compressed: true,
            prefixed: false,
        };
        let frames = vec![Ok(frame(b"a")), Ok(compressed)];
        let mut b = Batcher::new(Box::pin(futures_util::stream::iter(frames)), 100);
        let mut want = envelope(0, b"a");
        want.extend(envelope(flags::COMPRESSED, b"zz"));
        assert_eq!(chunk(&mut b), want);
    }

    #[test]
    fn a_large_message_leaves_alone_and_uncopied() {
        let big = prefixed(&[7; COPY_MAX + 1]);
        let big_ptr = big.data.as_ptr();
        let frames = vec![Ok(frame(b"a")), Ok(big), Ok(frame(b"b"))];
        let mut b = Batcher::new(Box::pin(futures_util::stream::iter(frames)), 1 << 20);
        assert_eq!(chunk(&mut b), envelope(0, b"a"));
        match poll(&mut b) {
            Poll::Ready(Some(Ok(c))) => assert_eq!(c.as_ptr(), big_ptr),
            other => panic!("expected the large chunk, got {other:?}"),
        }
        assert_eq!(chunk(&mut b), envelope(0, b"b"));
        assert!(matches!(poll(&mut b), Poll::Ready(None)));
    }

    #[test]
    fn messages_before_an_error_leave_then_the_error() {
        let frames = vec![
            Ok(frame(b"a")),
            Ok(frame(b"b")),
            Err(ConnectError::internal("encoder failed")),
            Ok(frame(b"never")),
        ];
        let mut b = Batcher::new(Box::pin(futures_util::stream::iter(frames)), 100);
        let mut want = envelope(0, b"a");
        want.extend(envelope(0, b"b"));
        assert_eq!(chunk(&mut b), want);
        match poll(&mut b) {
            Poll::Ready(Some(Err(e))) => assert_eq!(e.message(), "encoder failed"),
            other => panic!("expected the error, got {other:?}"),
        }
        assert!(matches!(poll(&mut b), Poll::Ready(None)));
    }

    #[test]
    fn a_message_over_the_limit_fails_after_the_ones_before() {
        let frames = vec![Ok(frame(b"ok")), Ok(frame(b"too long"))];
        let mut b = Batcher::new(Box::pin(futures_util::stream::iter(frames)), 4);
        assert_eq!(chunk(&mut b), envelope(0, b"ok"));
        match poll(&mut b) {
            Poll::Ready(Some(Err(e))) => {
                assert_eq!(e.code(), connect_core::Code::ResourceExhausted)
            }
            other => panic!("expected the limit error, got {other:?}"),
        }
        assert!(matches!(poll(&mut b), Poll::Ready(None)));
    }

    #[test]
    fn many_tiny_messages_leave_in_order_at_most_a_gather_each() {
        let frames: Vec<_> = (0..100u8).map(|i| Ok(frame(&[i]))).collect();
        let mut b = Batcher::new(Box::pin(futures_util::stream::iter(frames)), 100);
        let mut all = Vec::new();
        let mut chunks = 0;
        while let Poll::Ready(Some(Ok(c))) = poll(&mut b) {
            assert!(c.len() <= GATHER_MAX * (ENVELOPE_PREFIX_LEN + 1));
            all.extend_from_slice(&c);
            chunks += 1;
        }
        let want: Vec<u8> = (0..100u8).flat_map(|i| envelope(0, &[i])).collect();
        assert_eq!(all, want);
        assert_eq!(chunks, 100usize.div_ceil(GATHER_MAX));
    }

    #[test]
    fn a_chunk_stops_growing_at_its_cap() {
        let payload = [1u8; COPY_MAX];
        let count = 2 * CHUNK_MAX / (COPY_MAX + ENVELOPE_PREFIX_LEN) + 3;
        let frames: Vec<_> = (0..count).map(|_| Ok(frame(&payload))).collect();
        let mut b = Batcher::new(Box::pin(futures_util::stream::iter(frames)), 1 << 20);
        let mut total = 0;
        loop {
            match poll(&mut b) {
                Poll::Ready(Some(Ok(c))) => {
                    assert!(c.len() < CHUNK_MAX + COPY_MAX + ENVELOPE_PREFIX_LEN);
                    assert_eq!(c.len() % (COPY_MAX + ENVELOPE_PREFIX_LEN), 0);
                    total += c.len() / (COPY_MAX + ENVELOPE_PREFIX_LEN);
                }
                Poll::Ready(None) => break,
                other => panic!("unexpected {other:?}"),
            }
        }
        assert_eq!(total, count);
    }
}

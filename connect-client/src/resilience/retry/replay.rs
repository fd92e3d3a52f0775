//! Request bodies sent again: one buffer is shared (no copy), a stream is
//! recorded while it fits the per-call and per-channel limits.

use std::pin::Pin;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::task::{Context, Poll};

use bytes::Bytes;
use connect_core::{ConnectError, MethodDescriptor};
use connect_layers::ClientBody;
use connect_layers::body::client::ChunkStream;
use futures_core::Stream;

/// What a call can send again: its body, naming the method the original
/// named (layers below the retry layer read it there).
#[derive(Debug)]
pub(crate) struct Replay {
    kind: Kind,
    method: Option<&'static MethodDescriptor>,
}

#[derive(Debug)]
enum Kind {
    /// One buffer (unary and server-stream requests, GETs).
    Full(Bytes),
    /// A recorded stream.
    Stream(Arc<Tee>),
}

impl Replay {
    /// The body of the first attempt and what replays it: a one-buffer
    /// body as is, a stream through a [`Tee`].
    pub(crate) fn new(body: ClientBody, limits: &Limits) -> (ClientBody, Replay) {
        let method = body.method();
        let (first, kind) = match body.as_full() {
            Some(bytes) => (body, Kind::Full(bytes)),
            None => {
                let tee = Arc::new(Tee::new(body, limits.clone()));
                let first = tee.reader().expect("a new tee replays");
                (first, Kind::Stream(tee))
            }
        };
        let replay = Replay { kind, method };
        (replay.named(first), replay)
    }

    /// The body of another attempt; `None` once a stream outgrew its
    /// buffer (or failed), so the call can no longer be retried.
    pub(crate) fn body(&self) -> Option<ClientBody> {
        let body = match &self.kind {
            Kind::Full(b) => ClientBody::full(b.clone()),
            Kind::Stream(tee) => tee.reader()?,
        };
        Some(self.named(body))
    }

    /// `body`, naming the original's method.
    fn named(&self, body: ClientBody) -> ClientBody {
        match self.method {
            Some(m) => body.with_method(m),
            None => body,
        }
    }

    /// Whether another attempt could be sent.
    pub(crate) fn available(&self) -> bool {
        match &self.kind {
            Kind::Full(_) => true,
            Kind::Stream(tee) => !tee.lock().overflowed,
        }
    }

    /// The response is committed: nothing more is recorded, and what was
    /// is let go as soon as the current attempt has sent it.
    pub(crate) fn commit(&self) {
        if let Kind::Stream(tee) = &self.kind {
            let mut state = tee.lock();
            state.overflowed = true;
            tee.release(&mut state);
        }
    }
}

/// The replay limits: bytes per call, and bytes over all calls of a
/// channel (the counter its calls share).
#[derive(Clone, Debug)]
pub(crate) struct Limits {
    pub(crate) per_call: usize,
    pub(crate) per_channel: usize,
    pub(crate) in_use: Arc<AtomicUsize>,
}

/// A client stream recorded for replay: the source is read by the current
/// attempt's reader, and what it read is kept while it fits.
#[derive(Debug)]
pub(crate) struct Tee {
    state: Mutex<TeeState>,
    limits: Limits,
}

struct TeeState {
    source: ChunkStream,
    chunks: Vec<Bytes>,
    recorded: usize,
    /// Nothing more is recorded, and no new reader is made (the limit was
    /// passed, the source failed, or the response is committed).
    overflowed: bool,
    ended: bool,
    generation: u32,
    /// How many chunks the current reader has sent.
    sent: usize,
}

impl std::fmt::Debug for TeeState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TeeState")
            .field("chunks", &self.chunks.len())
            .field("recorded", &self.recorded)
            .field("overflowed", &self.overflowed)
            .field("generation", &self.generation)
            .finish()
    }
}

impl Tee {
    fn new(body: ClientBody, limits: Limits) -> Self {
        use futures_util::StreamExt as _;
        use http_body_util::BodyExt as _;
        let source: ChunkStream = Box::pin(body.into_data_stream().map(|r| r));
        Tee {
            state: Mutex::new(TeeState {
                source,
                chunks: Vec::new(),
                recorded: 0,
                overflowed: false,
                ended: false,
                generation: 0,
                sent: 0,
            }),
            limits,
        }
    }

    fn lock(&self) -> MutexGuard<'_, TeeState> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// A body replaying the stream from its start; earlier readers fail
    /// from now on (their attempts are over).
    pub(crate) fn reader(self: &Arc<Self>) -> Option<ClientBody> {
        let mut state = self.lock();
        if state.overflowed {
            return None;
        }
        state.generation += 1;
        state.sent = 0;
        Some(ClientBody::stream(Box::pin(Reader {
            tee: self.clone(),
            generation: state.generation,
            index: 0,
        })))
    }

    fn record(&self, state: &mut TeeState, chunk: &Bytes) {
        if state.overflowed {
            return;
        }
        let len = chunk.len();
        let fits_call = state.recorded + len <= self.limits.per_call;
        let fits_channel = fits_call
            && self
                .limits
                .in_use
                .fetch_update(Ordering::AcqRel, Ordering::Acquire, |used| {
                    (used + len <= self.limits.per_channel).then_some(used + len)
                })
                .is_ok();
        if fits_channel {
            state.recorded += len;
            state.chunks.push(chunk.clone());
        } else {
            state.overflowed = true;
        }
    }
}

impl Tee {
    /// Lets the recording go once no reader can need it: nothing more is
    /// recorded and the current reader has sent it all.
    fn release(&self, state: &mut TeeState) {
        if state.overflowed && state.sent >= state.chunks.len() && !state.chunks.is_empty() {
            state.chunks = Vec::new();
            state.sent = 0;
            self.limits
                .in_use
                .fetch_sub(std::mem::take(&mut state.recorded), Ordering::AcqRel);
        }
    }
}

impl Drop for Tee {
    fn drop(&mut self) {
        let recorded = self.lock().recorded;
        self.limits.in_use.fetch_sub(recorded, Ordering::AcqRel);
    }
}

/// One attempt's view of the stream.
struct Reader {
    tee: Arc<Tee>,
    generation: u32,
    index: usize,
}

impl Stream for Reader {
    type Item = Result<Bytes, ConnectError>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        let tee = self.tee.clone();
        let mut state = tee.lock();
        if state.generation != self.generation {
            // A later attempt replaced this one: end it with an error, so
            // the server never sees a cut stream as complete.
            return Poll::Ready(Some(Err(ConnectError::canceled(
                "the request stream moved to another attempt",
            ))));
        }
        if let Some(chunk) = state.chunks.get(self.index).cloned() {
            self.index += 1;
            state.sent = self.index;
            tee.release(&mut state);
            return Poll::Ready(Some(Ok(chunk)));
        }
        if state.ended {
            return Poll::Ready(None);
        }
        match state.source.as_mut().poll_next(cx) {
            Poll::Ready(Some(Ok(chunk))) => {
                tee.record(&mut state, &chunk);
                if !state.overflowed {
                    self.index += 1;
                    state.sent = self.index;
                }
                tee.release(&mut state);
                Poll::Ready(Some(Ok(chunk)))
            }
            Poll::Ready(Some(Err(e))) => {
                state.overflowed = true;
                tee.release(&mut state);
                Poll::Ready(Some(Err(e)))
            }
            Poll::Ready(None) => {
                state.ended = true;
                Poll::Ready(None)
            }
            Poll::Pending => Poll::Pending,
        }
    }
}

impl std::fmt::Debug for Reader {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Reader")
            .field("generation", &self.generation)
            .field("index", &self.index)
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use http_body_util::BodyExt as _;

    fn limits(per_call: usize, per_channel: usize) -> Limits {
        Limits {
            per_call,
            per_channel,
            in_use: Arc::new(AtomicUsize::new(0)),
        }
    }

    fn stream(chunks: Vec<&'static [u8]>) -> ClientBody {
        let items: Vec<Result<Bytes, ConnectError>> = chunks
            .into_iter()
            .map(|c| Ok(Bytes::from_static(c)))
            .collect();
        ClientBody::stream(Box::pin(futures_util::stream::iter(items)))
    }

    async fn collect(body: ClientBody) -> Result<Bytes, ConnectError> {
        body.collect().await.map(|c| c.to_bytes())
    }

    #[tokio::test]
    async fn full_bodies_share_their_buffer() {
        let bytes = Bytes::from_static(b"hello");
        let (first, replay) = Replay::new(ClientBody::full(bytes.clone()), &limits(0, 0));
        let again = replay.body().unwrap();
        assert_eq!(again.as_full().unwrap().as_ptr(), bytes.as_ptr(), "no copy");
        assert_eq!(collect(first).await.unwrap(), "hello");
    }

    #[tokio::test]
    async fn streams_replay_within_the_limit() {
        let l = limits(10, 100);
        let (first, replay) = Replay::new(stream(vec![b"abc", b"def"]), &l);
        let again = replay.body().unwrap();
        // The first reader is superseded.
        assert!(collect(first).await.is_err());
        assert_eq!(collect(again).await.unwrap(), "abcdef");
        assert_eq!(collect(replay.body().unwrap()).await.unwrap(), "abcdef");
        assert_eq!(l.in_use.load(Ordering::Relaxed), 6);
        drop(replay);
        assert_eq!(l.in_use.load(Ordering::Relaxed), 0, "released at the end");
    }

    #[tokio::test]
    async fn streams_past_the_limit_are_not_replayed() {
        let l = limits(5, 100);
        let (first, replay) = Replay::new(stream(vec![b"abc", b"def"]), &l);
        assert_eq!(
            collect(first).await.unwrap(),
            "abcdef",
            "the attempt goes on"
        );
        assert!(!replay.available());
        assert!(replay.body().is_none());
        // The channel limit counts too.
        let l = limits(100, 4);
        let (first, replay) = Replay::new(stream(vec![b"abc", b"def"]), &l);
        assert_eq!(collect(first).await.unwrap(), "abcdef");
        assert!(replay.body().is_none());
        assert_eq!(
            l.in_use.load(Ordering::Relaxed),
            0,
            "let go once not replayable"
        );
    }

    #[tokio::test]
    async fn a_commit_lets_the_recording_go_once_it_was_sent() {
        let l = limits(100, 100);
        let (first, replay) = Replay::new(stream(vec![b"ab", b"cd", b"ef"]), &l);
        let mut first = first.into_data_stream();
        use futures_util::StreamExt as _;
        assert_eq!(first.next().await.unwrap().unwrap(), "ab");
        assert_eq!(first.next().await.unwrap().unwrap(), "cd");
        let again = replay.body().unwrap();
        let mut again = again.into_data_stream();
        assert_eq!(again.next().await.unwrap().unwrap(), "ab");
        replay.commit();
        assert_eq!(l.in_use.load(Ordering::Relaxed), 4, "still replaying");
        assert_eq!(again.next().await.unwrap().unwrap(), "cd");
        assert_eq!(l.in_use.load(Ordering::Relaxed), 0, "released at commit");
        assert_eq!(again.next().await.unwrap().unwrap(), "ef");
        assert!(again.next().await.is_none());
        assert!(replay.body().is_none());
    }

    #[tokio::test]
    async fn a_retry_mid_stream_replays_then_continues() {
        let l = limits(100, 100);
        let (first, replay) = Replay::new(stream(vec![b"ab", b"cd", b"ef"]), &l);
        let mut first = first.into_data_stream();
        use futures_util::StreamExt as _;
        assert_eq!(first.next().await.unwrap().unwrap(), "ab");
        let again = replay.body().unwrap();
        assert!(first.next().await.unwrap().is_err(), "old attempt cut");
        assert_eq!(collect(again).await.unwrap(), "abcdef");
    }
}

//! Sending again a call the pool dropped before it was sent.
//!
//! hyper-util's pool makes a call wait for a connection that another call
//! is dialling (for HTTP/2 with prior knowledge, and over TLS once ALPN
//! picked `h2`). When that dial or its handshake fails, or the pool keeps
//! an older connection instead of the new one, the waiting calls end with
//! "request was canceled" (the pool's `CheckoutNoLongerWanted`): requests
//! that never left the client, which hyper-util does not send again.
//! [`HttpClient`](super::HttpClient) does, up to [`MAX_RESENDS`] times, for
//! the calls it can replay: a body of one buffer (the client stack's unary
//! [`ClientBody`], or `Full<Bytes>`), and a streamed [`ClientBody`] that was
//! not read yet (it is lent to the request through a shared slot, and taken
//! back if the request comes back unsent; once the pool starts sending it,
//! the body is the request's). It copies the request (its head, and a
//! reference to the body's buffer) only while a dial is in progress, which
//! is when a call can end up waiting; otherwise a call costs one atomic load
//! more.

use std::any::Any;
use std::error::Error as _;
use std::pin::Pin;
use std::sync::{Arc, Mutex, PoisonError};
use std::task::{Poll, ready};

use bytes::Bytes;
use connect_core::ConnectError;
use connect_layers::ClientBody;
use http::{Extensions, HeaderMap, Method, Request, Uri, Version};
use http_body::Body as _;
use http_body_util::Full;
use hyper_util::client::legacy::{self, Client};

use super::connector::Connector;

/// How many times one call is sent again.
pub(crate) const MAX_RESENDS: u8 = 3;

/// Sends a copy of the original request once more.
/// (`None` if it cannot be, which a replayable body never is.)
pub(crate) type Resend = Box<dyn FnMut() -> Option<legacy::ResponseFuture> + Send>;

/// A way to send `req` again on `client`, if its body can be replayed (a
/// streamed body is lent to `req` from a slot it can be taken back from).
pub(crate) fn resend<B>(client: &Client<Connector, B>, req: &mut Request<B>) -> Option<Resend>
where
    B: http_body::Body<Data = Bytes> + Send + Unpin + 'static,
    B::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
{
    let body = replayable(req.body_mut())?;
    let head = Head {
        method: req.method().clone(),
        uri: req.uri().clone(),
        version: req.version(),
        headers: req.headers().clone(),
        extensions: req.extensions().clone(),
    };
    let client = client.clone();
    Some(Box::new(move || {
        let mut again = Request::new(body.make::<B>()?);
        *again.method_mut() = head.method.clone();
        *again.uri_mut() = head.uri.clone();
        *again.version_mut() = head.version;
        *again.headers_mut() = head.headers.clone();
        *again.extensions_mut() = head.extensions.clone();
        Some(client.request(again))
    }))
}

/// Whether `err` is the pool giving up on a call waiting for a connection
/// (the request was never sent).
pub(crate) fn checkout_canceled(err: &legacy::Error) -> bool {
    // The pool's error type is private; its message is what tells.
    err.is_connect()
        && err
            .source()
            .is_some_and(|e| e.source().is_none() && e.to_string() == "request was canceled")
}

/// A request's head, kept to send it again.
struct Head {
    method: Method,
    uri: Uri,
    version: Version,
    headers: HeaderMap,
    extensions: Extensions,
}

/// A body that can be made again, of one of the types that can be.
enum Replayable {
    Client(Bytes),
    Full(Full<Bytes>),
    /// A streamed body, until the request that borrows it is sent.
    Lent(Slot),
}

/// Where a streamed body waits until a request reads it.
type Slot = Arc<Mutex<Option<ClientBody>>>;

fn replayable<B: 'static>(body: &mut B) -> Option<Replayable> {
    let body = body as &mut dyn Any;
    if let Some(b) = body.downcast_mut::<ClientBody>() {
        if let Some(full) = b.as_full() {
            return Some(Replayable::Client(full));
        }
        let slot: Slot = Arc::new(Mutex::new(Some(std::mem::take(b))));
        *b = lend(&slot);
        return Some(Replayable::Lent(slot));
    }
    body.downcast_ref::<Full<Bytes>>()
        .map(|b| Replayable::Full(b.clone()))
}

/// A body reading the one in `slot`, taken out when first polled.
fn lend(slot: &Slot) -> ClientBody {
    let slot = Arc::clone(slot);
    let mut body: Option<ClientBody> = None;
    ClientBody::stream(Box::pin(futures_util::stream::poll_fn(move |cx| {
        if body.is_none() {
            body = slot.lock().unwrap_or_else(PoisonError::into_inner).take();
        }
        let Some(b) = body.as_mut() else {
            return Poll::Ready(Some(Err(ConnectError::internal(
                "a resent request's body was already sent",
            ))));
        };
        loop {
            return match ready!(Pin::new(&mut *b).poll_frame(cx)) {
                Some(Ok(frame)) => match frame.into_data() {
                    Ok(data) => Poll::Ready(Some(Ok(data))),
                    Err(_) => continue,
                },
                Some(Err(e)) => Poll::Ready(Some(Err(e))),
                None => Poll::Ready(None),
            };
        }
    })))
}

impl Replayable {
    /// The body again, as `B` (the type it was read from); `None` once a
    /// lent body has been read.
    fn make<B: 'static>(&self) -> Option<B> {
        let made: Box<dyn Any> = match self {
            Replayable::Client(bytes) => Box::new(ClientBody::full(bytes.clone())),
            Replayable::Full(full) => Box::new(full.clone()),
            Replayable::Lent(slot) => {
                let unread = slot
                    .lock()
                    .unwrap_or_else(PoisonError::into_inner)
                    .is_some();
                if !unread {
                    return None;
                }
                Box::new(lend(slot))
            }
        };
        made.downcast::<B>().ok().map(|body| *body)
    }
}

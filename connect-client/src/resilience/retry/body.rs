//! [`RetryBody`]: the response body the retry layer hands up.

use std::pin::Pin;
use std::task::{Context, Poll};

use bytes::Bytes;
use http_body::{Body, Frame, SizeHint};
use pin_project_lite::pin_project;

pin_project! {
    /// A response body: the channel's own, passed through, after the bytes
    /// the retry layer read to classify an error answer (a Connect unary
    /// error body) if any.
    #[derive(Debug)]
    pub struct RetryBody<B> {
        prefix: Option<Bytes>,
        inner_done: bool,
        #[pin]
        inner: B,
    }
}

impl<B> RetryBody<B> {
    /// The channel's body as it is.
    pub(crate) fn passthrough(inner: B) -> Self {
        RetryBody {
            prefix: None,
            inner_done: false,
            inner,
        }
    }

    /// `prefix`, then what is left of `inner` (nothing if `inner_done`).
    pub(crate) fn prefixed(prefix: Bytes, inner: B, inner_done: bool) -> Self {
        RetryBody {
            prefix: (!prefix.is_empty()).then_some(prefix),
            inner_done,
            inner,
        }
    }
}

impl<B: Body<Data = Bytes>> Body for RetryBody<B> {
    type Data = Bytes;
    type Error = B::Error;

    #[inline]
    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, B::Error>>> {
        let this = self.project();
        if let Some(prefix) = this.prefix.take() {
            return Poll::Ready(Some(Ok(Frame::data(prefix))));
        }
        if *this.inner_done {
            return Poll::Ready(None);
        }
        this.inner.poll_frame(cx)
    }

    #[inline]
    fn is_end_stream(&self) -> bool {
        self.prefix.is_none() && (self.inner_done || self.inner.is_end_stream())
    }

    fn size_hint(&self) -> SizeHint {
        let prefix = self.prefix.as_ref().map_or(0, |p| p.len() as u64);
        if self.inner_done {
            return SizeHint::with_exact(prefix);
        }
        let inner = self.inner.size_hint();
        let mut hint = SizeHint::new();
        hint.set_lower(inner.lower() + prefix);
        if let Some(upper) = inner.upper() {
            hint.set_upper(upper + prefix);
        }
        hint
    }
}

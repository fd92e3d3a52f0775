//! One call's state across its attempts: the request to send again, the
//! deadline, the endpoints tried, and sending an attempt.

use std::future::poll_fn;
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use connect_core::{MethodDescriptor, Protocol};
use connect_layers::ClientBody;
use connect_layers::deadline::{request_timeout, timeout_value};
use http::{Extensions, HeaderMap, HeaderName, HeaderValue, Method, Uri, Version};
use tokio::time::Instant;

use super::classify::{self, Kind, Outcome};
use super::policy::MethodPolicy;
use super::replay::Replay;
use super::{Shared, stats::Counters};
use crate::Channel;
use crate::resilience::{Attempt, ServedBy};

/// `grpc-previous-rpc-attempts`.
pub(crate) const PREVIOUS_ATTEMPTS: HeaderName =
    HeaderName::from_static("grpc-previous-rpc-attempts");

/// A call that may be sent again.
pub(crate) struct Call<S> {
    pub(crate) svc: S,
    pub(crate) shared: Arc<Shared>,
    pub(crate) policy: Arc<MethodPolicy>,
    pub(crate) kind: Kind,
    /// Whether an enveloped answer's first frame is read before it commits.
    pub(crate) peek: bool,
    pub(crate) path: &'static str,
    method: Method,
    uri: Uri,
    version: Version,
    headers: HeaderMap,
    extensions: Extensions,
    pub(crate) replay: Replay,
    start: Instant,
    deadline: Option<Option<Instant>>,
    /// Requests sent so far.
    pub(crate) sent: u32,
    pub(crate) avoid: Vec<SocketAddr>,
    rng: u64,
}

impl<S> std::fmt::Debug for Call<S> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Call")
            .field("path", &self.path)
            .field("kind", &self.kind)
            .field("sent", &self.sent)
            .finish_non_exhaustive()
    }
}

impl<S: Channel> Call<S> {
    /// Keeps what is needed to send `req` again, and returns the request
    /// of the first attempt (unchanged but for a recorded stream body).
    pub(crate) fn new(
        svc: S,
        shared: Arc<Shared>,
        policy: Arc<MethodPolicy>,
        method: Option<&'static MethodDescriptor>,
        req: http::Request<ClientBody>,
    ) -> (Self, http::Request<ClientBody>) {
        let (parts, body) = req.into_parts();
        let (first, replay) = Replay::new(body, &shared.limits);
        let kind = Kind::of(&parts.method, &parts.headers);
        // A failure first in the body is looked for only where the
        // response is one message (so nothing waits for it) and a retry
        // could follow.
        let one_response = method.is_some_and(|m| !m.stream_type().server_streams());
        let retries = match &*policy {
            MethodPolicy::Retry(p) => p.max_attempts > 1 && p.codes != Default::default(),
            MethodPolicy::Hedge(h) => h.max_attempts > 1,
        };
        let path = method.map_or("", |m| m.path());
        let call = Call {
            svc,
            kind,
            peek: one_response && retries,
            policy,
            path,
            method: parts.method.clone(),
            uri: parts.uri.clone(),
            version: parts.version,
            headers: parts.headers.clone(),
            extensions: parts.extensions.clone(),
            replay,
            start: Instant::now(),
            deadline: None,
            sent: 1,
            avoid: Vec::new(),
            rng: 0,
            shared,
        };
        (call, http::Request::from_parts(parts, first))
    }

    /// The call's deadline, from the timeout header it was sent with.
    pub(crate) fn deadline(&mut self) -> Option<Instant> {
        if let Some(d) = self.deadline {
            return d;
        }
        let d = request_timeout(self.protocol(), &self.headers)
            .ok()
            .flatten()
            .and_then(|t| self.start.checked_add(t));
        self.deadline = Some(d);
        d
    }

    fn protocol(&self) -> Protocol {
        match self.kind {
            k if k.grpc() => Protocol::Grpc,
            _ => Protocol::Connect,
        }
    }

    /// Whether waiting `delay` would reach the deadline.
    pub(crate) fn too_late(&mut self, delay: Duration) -> bool {
        self.deadline()
            .is_some_and(|d| Instant::now().checked_add(delay).is_none_or(|t| t >= d))
    }

    pub(crate) fn stats(&self) -> &Counters {
        &self.shared.stats.inner
    }

    /// The next attempt's request: the body replayed, the time left in the
    /// timeout header, `grpc-previous-rpc-attempts` and [`Attempt`] set.
    /// `None` if the body can no longer be replayed or no time is left.
    pub(crate) fn next_request(&mut self) -> Option<http::Request<ClientBody>> {
        let body = self.replay.body()?;
        let mut headers = self.headers.clone();
        if let Some(deadline) = self.deadline() {
            let left = deadline.checked_duration_since(Instant::now())?;
            if left.is_zero() {
                return None;
            }
            let (name, value) = timeout_value(self.protocol(), left);
            headers.insert(name, value);
        }
        headers.insert(PREVIOUS_ATTEMPTS, HeaderValue::from(self.sent));
        let mut extensions = self.extensions.clone();
        extensions.insert(Attempt {
            number: self.sent + 1,
            avoid: self.avoid.clone(),
        });
        self.sent += 1;
        Counters::bump(&self.stats().attempts);
        let mut req = http::Request::new(body);
        *req.method_mut() = self.method.clone();
        *req.uri_mut() = self.uri.clone();
        *req.version_mut() = self.version;
        *req.headers_mut() = headers;
        *req.extensions_mut() = extensions;
        Some(req)
    }

    /// Notes the endpoint that answered, for later attempts to avoid.
    pub(crate) fn served_by(&mut self, addr: Option<SocketAddr>) {
        if let Some(addr) = addr
            && !self.avoid.contains(&addr)
        {
            self.avoid.push(addr);
        }
    }

    /// `d` × a random factor in [0.8, 1.2].
    pub(crate) fn jitter(&mut self, d: Duration) -> Duration {
        if self.rng == 0 {
            static SEQ: AtomicU64 = AtomicU64::new(0);
            let seed = std::hash::BuildHasher::hash_one(
                &std::collections::hash_map::RandomState::new(),
                SEQ.fetch_add(1, Ordering::Relaxed),
            );
            self.rng = seed | 1;
        }
        // xorshift64*
        self.rng ^= self.rng >> 12;
        self.rng ^= self.rng << 25;
        self.rng ^= self.rng >> 27;
        let r = self.rng.wrapping_mul(0x2545_f491_4f6c_dd1d) >> 11;
        let unit = r as f64 / (1u64 << 53) as f64;
        d.mul_f64(0.8 + 0.4 * unit)
    }
}

/// Sends `req` on `svc` and classifies the answer (reading a Connect
/// unary error body); also says which endpoint answered.
pub(crate) async fn attempt<S>(
    mut svc: S,
    kind: Kind,
    peek: bool,
    req: http::Request<ClientBody>,
) -> (Outcome<S::ResponseBody>, Option<SocketAddr>)
where
    S: Channel,
    S::ResponseBody: Unpin,
{
    if let Err(e) = poll_fn(|cx| svc.poll_ready(cx)).await {
        return (classify::error(e.into()), None);
    }
    let result = svc.call(req).await.map_err(Into::into);
    match result {
        Err(e) => (classify::error(e), None),
        Ok(resp) => {
            let by = resp.extensions().get::<ServedBy>().map(|s| s.0);
            let outcome = match classify::head(kind, peek, resp) {
                Ok(o) => o,
                Err(resp) => classify::read_body(kind, resp).await,
            };
            (outcome, by)
        }
    }
}

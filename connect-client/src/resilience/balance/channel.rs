//! [`BalancedChannel`]: the tower service over many endpoints.

use std::fmt;
use std::net::SocketAddr;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use connect_core::{Code, ConnectError};
use connect_layers::ClientBody;
use http::{Request, Response};
use tokio::sync::watch;
use tower_service::Service;

use super::builder::{BalancedChannelBuilder, Settings};
use super::endpoint::EndpointStatus;
use super::future::{BalancedBody, Guard, ResponseFuture};
use super::resolve::Resolve;
use super::state::{Pick, Shared};
use crate::resilience::Attempt;

/// A channel over many servers: each endpoint has its own connection(s),
/// calls go by power of two choices over a peak-EWMA load among the ready
/// endpoints, failed endpoints are redialled with backoff and get no calls
/// meanwhile, and outlier detection (gRFC A50) sets aside endpoints whose
/// calls fail.
///
/// The request's URI — from `ClientConfig`'s base URI — is the *logical*
/// target: its scheme, path and authority (the `:authority` or `Host`
/// the server sees) are sent as they are; the channel only picks the
/// address to send to. Every response carries [`ServedBy`] with that
/// address; a request's [`Attempt`] makes the channel prefer endpoints
/// earlier attempts did not use.
///
/// [`ServedBy`]: crate::resilience::ServedBy
///
/// When no endpoint is ready or connecting (all backing off), calls fail
/// at once with `unavailable`, naming each endpoint and its last error. A
/// call that comes before any connection is open waits for one, at most
/// the connect or resolve timeout (whichever is longer) and a second.
///
/// Clones share everything. The background tasks (resolution, dialling)
/// start with the first call and end when the last clone is dropped;
/// calls in flight finish.
///
/// ```no_run
/// # async fn run() -> Result<(), Box<dyn std::error::Error>> {
/// use connect_client::ClientConfig;
/// use connect_client::resilience::balance::{BalancedChannel, StaticResolver};
///
/// let resolver = StaticResolver::parse(["http://127.0.0.1:8081", "http://127.0.0.1:8082"])?;
/// let channel = BalancedChannel::builder(resolver).build();
/// // The logical target: what the servers see as `:authority`.
/// let config = ClientConfig::new("http://greet.internal".parse()?).grpc();
/// // let client = GreetServiceClient::new(channel, config);
/// # let _ = (channel, config);
/// # Ok(()) }
/// ```
#[derive(Clone)]
pub struct BalancedChannel {
    shared: Arc<Shared>,
    /// Dropped with the last clone: the background tasks end.
    stop: Arc<watch::Sender<()>>,
}

impl fmt::Debug for BalancedChannel {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("BalancedChannel")
            .field("endpoints", &self.shared.statuses())
            .finish()
    }
}

impl BalancedChannel {
    /// A builder for a channel over the endpoints `resolver` finds.
    pub fn builder(resolver: impl Resolve) -> BalancedChannelBuilder {
        BalancedChannelBuilder::new(Arc::new(resolver))
    }

    pub(crate) fn new(resolver: Arc<dyn Resolve>, settings: Settings) -> Self {
        let (stop, stop_rx) = watch::channel(());
        BalancedChannel {
            shared: Arc::new(Shared::new(resolver, settings, stop_rx)),
            stop: Arc::new(stop),
        }
    }

    /// A snapshot of every endpoint: health, ejection, calls in flight,
    /// open connections, last error.
    pub fn endpoints(&self) -> Vec<EndpointStatus> {
        self.shared.statuses()
    }

    /// Starts resolving and dialling (if no call has yet) and waits until
    /// `done` holds for the endpoints, at most `limit`: `deadline_exceeded`
    /// then. Needs a tokio runtime.
    ///
    /// ```no_run
    /// # async fn run(channel: connect_client::resilience::balance::BalancedChannel) -> Result<(), connect_core::ConnectError> {
    /// use std::time::Duration;
    ///
    /// use connect_client::resilience::balance::Health;
    ///
    /// // Every endpoint connected before the first call.
    /// channel
    ///     .wait_until(Duration::from_secs(5), |eps| {
    ///         !eps.is_empty() && eps.iter().all(|e| e.health == Health::Ready)
    ///     })
    ///     .await?;
    /// # Ok(()) }
    /// ```
    pub async fn wait_until(
        &self,
        limit: Duration,
        mut done: impl FnMut(&[EndpointStatus]) -> bool,
    ) -> Result<(), ConnectError> {
        self.shared.ensure_started(None);
        let mut changes = self.shared.subscribe();
        let wait = async {
            loop {
                if done(&self.shared.statuses()) {
                    return;
                }
                if changes.changed().await.is_err() {
                    return;
                }
            }
        };
        tokio::time::timeout(limit, wait).await.map_err(|_| {
            let statuses = self.shared.statuses();
            ConnectError::new(
                Code::DeadlineExceeded,
                format!("endpoints not as awaited within {limit:?}: {statuses:?}"),
            )
        })
    }
}

impl Service<Request<ClientBody>> for BalancedChannel {
    type Response = Response<BalancedBody>;
    type Error = ConnectError;
    type Future = ResponseFuture;

    /// Always ready: a call with nowhere to go fails fast (`unavailable`)
    /// or waits, bounded, for a first connection.
    #[inline]
    fn poll_ready(&mut self, _cx: &mut Context<'_>) -> Poll<Result<(), ConnectError>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, req: Request<ClientBody>) -> ResponseFuture {
        if req.uri().authority().is_none() || req.uri().scheme().is_none() {
            return ResponseFuture::failed(ConnectError::new(
                Code::InvalidArgument,
                format!(
                    "cannot send to `{}`: a balanced channel needs an absolute URI (the logical target)",
                    req.uri()
                ),
            ));
        }
        self.shared.ensure_started(req.uri().host());
        let avoid = req
            .extensions()
            .get::<Attempt>()
            .map(|a| a.avoid.clone())
            .unwrap_or_default();
        match self.shared.pick(&avoid) {
            Pick::Send(conn, ticket) => {
                let guard = Guard::new(self.shared.clone(), ticket);
                ResponseFuture::sending(conn.send(req), guard, avoid)
            }
            Pick::Fail(e) => ResponseFuture::failed(e),
            Pick::Wait => {
                let shared = self.shared.clone();
                // The wait keeps the background tasks running even if this
                // was the last clone (`oneshot`).
                let keep = self.stop.clone();
                ResponseFuture::waiting(Box::pin(async move {
                    let _keep = keep;
                    wait_then_send(shared, req, avoid).await
                }))
            }
        }
    }
}

/// Waits for a change that lets the call pick an endpoint (a resolution,
/// a first connection), bounded.
async fn wait_then_send(
    shared: Arc<Shared>,
    req: Request<ClientBody>,
    avoid: Vec<SocketAddr>,
) -> Result<Response<BalancedBody>, ConnectError> {
    let settings = &shared.settings;
    let limit = settings.connect_timeout.max(settings.resolve_timeout) + Duration::from_secs(1);
    let deadline = tokio::time::Instant::now() + limit;
    let mut changes = shared.subscribe();
    loop {
        match shared.pick(&avoid) {
            Pick::Send(conn, ticket) => {
                let guard = Guard::new(shared.clone(), ticket);
                return ResponseFuture::sending(conn.send(req), guard, avoid).await;
            }
            Pick::Fail(e) => return Err(e),
            Pick::Wait => {}
        }
        match tokio::time::timeout_at(deadline, changes.changed()).await {
            Ok(Ok(())) => {}
            Ok(Err(_)) | Err(_) => {
                return Err(
                    shared.unavailable(&format!("no endpoint became ready within {limit:?}"))
                );
            }
        }
    }
}

//! One endpoint's connections, load, outlier counts and health, as the
//! balancer's state holds them.

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use connect_core::ConnectError;
use connect_layers::ClientBody;
use hyper::body::Incoming;
use hyper::client::conn::{TrySendError, http2};
use hyper_util::client::legacy;
use tokio::sync::{Notify, watch};

use super::builder::HttpVersion;
use super::connect::{Dialer, run_slot};
use super::load::Load;
use super::outlier::HostOutlier;
use super::resolve::{BoxFuture, Endpoint};
use super::state::Shared;
use crate::transport::ResponseFuture as TransportFuture;
use std::sync::Arc;

/// What a balanced channel knows of one endpoint's health.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Health {
    /// Not dialled yet (the channel dials when its first call comes).
    Idle,
    /// Dialling; calls wait for it only when no endpoint is ready.
    Connecting,
    /// A connection is open: calls can go here.
    Ready,
    /// The last dial failed; the endpoint gets no calls until a redial,
    /// after the backoff, succeeds.
    TransientFailure,
}

/// A snapshot of one endpoint, from
/// [`BalancedChannel::endpoints`](super::BalancedChannel::endpoints).
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct EndpointStatus {
    /// The address dialled.
    pub addr: SocketAddr,
    /// Its health.
    pub health: Health,
    /// Whether outlier detection has taken it out of the picks.
    pub ejected: bool,
    /// Calls in flight on it.
    pub in_flight: u32,
    /// Its connections that are open.
    pub connections: usize,
    /// The last dial or connection error, if any.
    pub last_error: Option<String>,
}

/// A connection calls can be sent on.
#[derive(Clone, Debug)]
pub(crate) enum Conn {
    /// One HTTP/2 connection (h2c or TLS).
    H2(http2::SendRequest<ClientBody>),
    /// HTTP/1.1: a pool of connections to this endpoint's address.
    H1(Arc<legacy::Client<Dialer, ClientBody>>),
}

impl Conn {
    pub(crate) fn is_open(&self) -> bool {
        match self {
            Conn::H2(send) => !send.is_closed(),
            Conn::H1(_) => true,
        }
    }

    pub(crate) fn send(&self, req: http::Request<ClientBody>) -> SendFuture {
        match self {
            Conn::H2(send) => {
                let mut send = send.clone();
                SendFuture::H2(Box::pin(send.try_send_request(req)))
            }
            Conn::H1(client) => SendFuture::Pooled(TransportFuture::pooled(client.request(req))),
        }
    }
}

/// A request on its way: HTTP/2 hands back a request it never sent (the
/// connection closed or went away first), so the call can go elsewhere.
pub(crate) enum SendFuture {
    Pooled(TransportFuture),
    H2(
        BoxFuture<
            'static,
            Result<http::Response<Incoming>, TrySendError<http::Request<ClientBody>>>,
        >,
    ),
}

/// One connection slot of an endpoint (one for HTTP/1.1, whose pool opens
/// what it needs; `connections_per_endpoint` for HTTP/2).
#[derive(Debug)]
pub(crate) enum SlotState {
    Idle,
    Connecting,
    Ready(Conn),
    Backoff { until: Instant },
}

#[derive(Debug)]
pub(crate) struct Slot {
    pub(crate) state: SlotState,
    pub(crate) in_flight: u32,
    /// Responses the current connection delivered.
    pub(crate) answered: u64,
    /// Bumped at every new connection, so that news about an old one
    /// (a call that failed on it) does not touch its successor.
    pub(crate) generation: u64,
}

/// Which endpoint, slot and connection a call went to.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Ticket {
    pub(crate) endpoint: u64,
    pub(crate) slot: usize,
    pub(crate) generation: u64,
    pub(crate) addr: SocketAddr,
}

#[derive(Debug)]
pub(crate) struct EndpointState {
    /// Unique for the channel's life: a guard of a removed endpoint never
    /// touches one re-added at the same address.
    pub(crate) id: u64,
    pub(crate) endpoint: Endpoint,
    pub(crate) slots: Vec<Slot>,
    pub(crate) load: Load,
    pub(crate) outlier: HostOutlier,
    pub(crate) last_error: Option<String>,
    /// Woken when a call on an HTTP/1.1 pool failed below HTTP: the slot
    /// task redials to check the endpoint.
    pub(crate) probe: Arc<Notify>,
    /// Dropped with the endpoint: its slot tasks end.
    pub(crate) _stop: watch::Sender<()>,
}

impl EndpointState {
    /// A new endpoint, its slot tasks spawned (each dials at once). A
    /// server name that is not one leaves it never pickable, saying why.
    pub(crate) fn start(
        shared: &Arc<Shared>,
        id: u64,
        endpoint: Endpoint,
        server_name: &str,
        load: Load,
    ) -> Self {
        let (stop, stop_rx) = watch::channel(());
        let probe = Arc::new(Notify::new());
        let settings = &shared.settings;
        let dialer = Dialer::new(endpoint.addr(), settings.clone(), server_name);
        let n = match settings.version {
            HttpVersion::Http1 => 1,
            HttpVersion::Http2 => settings.connections_per_endpoint,
        };
        let mut last_error = None;
        let slots = (0..n)
            .map(|slot| {
                let state = match &dialer {
                    Ok(dialer) => {
                        tokio::spawn(run_slot(
                            shared.clone(),
                            id,
                            slot,
                            dialer.clone(),
                            probe.clone(),
                            stop_rx.clone(),
                        ));
                        SlotState::Idle
                    }
                    Err(e) => {
                        last_error = Some(e.message().to_owned());
                        SlotState::Backoff {
                            until: Instant::now() + Duration::from_secs(365 * 24 * 3600),
                        }
                    }
                };
                Slot {
                    state,
                    in_flight: 0,
                    answered: 0,
                    generation: 0,
                }
            })
            .collect();
        EndpointState {
            id,
            endpoint,
            slots,
            load,
            outlier: HostOutlier::default(),
            last_error,
            probe,
            _stop: stop,
        }
    }

    pub(crate) fn health(&self) -> Health {
        let mut health = Health::TransientFailure;
        for slot in &self.slots {
            match &slot.state {
                SlotState::Ready(conn) if conn.is_open() => return Health::Ready,
                SlotState::Ready(_) | SlotState::Connecting => health = Health::Connecting,
                SlotState::Idle if health != Health::Connecting => health = Health::Idle,
                _ => {}
            }
        }
        health
    }

    /// The open connection with the fewest calls in flight.
    pub(crate) fn least_loaded_slot(&self) -> Option<(usize, &Conn)> {
        self.slots
            .iter()
            .enumerate()
            .filter_map(|(i, s)| match &s.state {
                SlotState::Ready(conn) if conn.is_open() => Some((i, conn, s.in_flight)),
                _ => None,
            })
            .min_by_key(|(_, _, n)| *n)
            .map(|(i, conn, _)| (i, conn))
    }

    /// When the earliest backoff ends, if every slot is backing off.
    pub(crate) fn retry_at(&self) -> Option<Instant> {
        self.slots
            .iter()
            .map(|s| match s.state {
                SlotState::Backoff { until } => Some(until),
                _ => None,
            })
            .collect::<Option<Vec<_>>>()?
            .into_iter()
            .min()
    }

    pub(crate) fn status(&self) -> EndpointStatus {
        EndpointStatus {
            addr: self.endpoint.addr(),
            health: self.health(),
            ejected: self.outlier.is_ejected(),
            in_flight: self.load.in_flight(),
            connections: self
                .slots
                .iter()
                .filter(|s| matches!(&s.state, SlotState::Ready(c) if c.is_open()))
                .count(),
            last_error: self.last_error.clone(),
        }
    }
}

/// `unavailable: <why>: <addr> (<health>: <last error>, retry in …), …`:
/// at most eight endpoints named.
pub(crate) fn unavailable(endpoints: &[EndpointState], now: Instant, why: &str) -> ConnectError {
    let mut parts = Vec::new();
    for e in endpoints.iter().take(8) {
        let mut part = format!("{} ({:?}", e.endpoint.addr(), e.health());
        if e.outlier.is_ejected() {
            part.push_str(", ejected");
        }
        if let Some(err) = &e.last_error {
            part.push_str(": ");
            part.push_str(err);
        }
        if let Some(at) = e.retry_at() {
            let wait = at.saturating_duration_since(now);
            part.push_str(&format!("; redial in {} ms", wait.as_millis()));
        }
        part.push(')');
        parts.push(part);
    }
    if endpoints.len() > 8 {
        parts.push(format!("and {} more", endpoints.len() - 8));
    }
    ConnectError::unavailable(format!("{why}: {}", parts.join(", ")))
}

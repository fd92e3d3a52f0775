//! The state a balanced channel's clones, calls and background tasks
//! share: the endpoints, their connections and loads, the resolution.

use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::{Duration, Instant};

use connect_core::ConnectError;
use tokio::sync::{Notify, watch};

use super::backoff::Rng;
use super::builder::Settings;
use super::endpoint::{
    Conn, EndpointState, EndpointStatus, Health, SlotState, Ticket, unavailable,
};
use super::load::Load;
use super::outlier::HostOutlier;
use super::p2c::{self, Candidate};
use super::resolve::{Endpoint, Resolve};

/// How a resolution has gone so far.
#[derive(Debug)]
enum Resolution {
    Pending,
    /// Never a good answer; the last error.
    Failed(String),
    Resolved,
}

#[derive(Debug)]
struct State {
    endpoints: Vec<EndpointState>,
    resolution: Resolution,
    /// The host of the first call's URI: the default TLS server name.
    logical_host: Option<String>,
    next_id: u64,
    rng: Rng,
    /// Reused by every pick (no allocation per call).
    scratch: Vec<Candidate>,
}

/// Shared by the channel's clones, its calls and its tasks.
pub(crate) struct Shared {
    pub(crate) settings: Arc<Settings>,
    pub(crate) resolver: Arc<dyn Resolve>,
    state: Mutex<State>,
    /// Bumped whenever a waiting call may now pick an endpoint or fail.
    changed: watch::Sender<u64>,
    /// Asked by connection failures: resolve again (rate-limited).
    pub(crate) resolve_now: Notify,
    started: AtomicBool,
    /// Closed when the last clone of the channel is dropped.
    stop: watch::Receiver<()>,
}

/// What a call should do.
pub(crate) enum Pick {
    Send(Conn, Ticket),
    /// Nothing ready yet, something may become so: wait for a change.
    Wait,
    Fail(ConnectError),
}

impl Shared {
    pub(crate) fn new(
        resolver: Arc<dyn Resolve>,
        settings: Settings,
        stop: watch::Receiver<()>,
    ) -> Self {
        Shared {
            settings: Arc::new(settings),
            resolver,
            state: Mutex::new(State {
                endpoints: Vec::new(),
                resolution: Resolution::Pending,
                logical_host: None,
                next_id: 0,
                rng: Rng::new(),
                scratch: Vec::new(),
            }),
            changed: watch::channel(0).0,
            resolve_now: Notify::new(),
            started: AtomicBool::new(false),
            stop,
        }
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn bump(&self) {
        self.changed.send_modify(|n| *n = n.wrapping_add(1));
    }

    pub(crate) fn subscribe(&self) -> watch::Receiver<u64> {
        self.changed.subscribe()
    }

    pub(crate) fn stop_signal(&self) -> watch::Receiver<()> {
        self.stop.clone()
    }

    /// Starts resolving and dialling, once (needs a tokio runtime).
    pub(crate) fn ensure_started(self: &Arc<Self>, host: Option<&str>) {
        if self.started.load(Ordering::Acquire) {
            return;
        }
        if let Some(host) = host {
            let mut state = self.lock();
            if state.logical_host.is_none() {
                let host = host.trim_start_matches('[').trim_end_matches(']');
                state.logical_host = Some(host.to_owned());
            }
        }
        if !self.started.swap(true, Ordering::AcqRel) {
            tokio::spawn(super::driver::run(self.clone()));
        }
    }

    // ===== resolution =====

    /// Applies a resolver's answer: new endpoints get slots and tasks,
    /// missing ones are dropped (calls in flight on them finish), kept ones
    /// are untouched. An error or an empty list keeps the set.
    pub(crate) fn apply_resolution(
        self: &Arc<Self>,
        answer: Result<Vec<Endpoint>, String>,
    ) -> bool {
        let mut list = match answer {
            Ok(list) if !list.is_empty() => list,
            Ok(_) => return self.resolution_failed("the resolver returned no endpoints".into()),
            Err(e) => return self.resolution_failed(e),
        };
        list.dedup();
        let mut state = self.lock();
        state.resolution = Resolution::Resolved;
        state.endpoints.retain(|e| list.contains(&e.endpoint));
        let now = Instant::now();
        // Newcomers start at the others' mean estimate: not penalised
        // against estimates that decayed while idle, nor flooded.
        let known: Vec<Duration> = state
            .endpoints
            .iter()
            .map(|e| e.load.estimate(now))
            .collect();
        let first_rtt = match known.len() {
            0 => self.settings.default_rtt,
            n => known.iter().sum::<Duration>() / n as u32,
        };
        for endpoint in list {
            if state.endpoints.iter().any(|e| e.endpoint == endpoint) {
                continue;
            }
            let id = state.next_id;
            state.next_id += 1;
            let name = endpoint
                .server_name()
                .map(str::to_owned)
                .or_else(|| self.settings.server_name.as_deref().map(str::to_owned))
                .or_else(|| state.logical_host.clone())
                .unwrap_or_else(|| endpoint.addr().ip().to_string());
            let load = Load::new(first_rtt, self.settings.decay, now);
            state
                .endpoints
                .push(EndpointState::start(self, id, endpoint, &name, load));
        }
        drop(state);
        self.bump();
        true
    }

    fn resolution_failed(&self, error: String) -> bool {
        let mut state = self.lock();
        if !matches!(state.resolution, Resolution::Resolved) {
            state.resolution = Resolution::Failed(error);
            drop(state);
            self.bump();
        }
        false
    }

    // ===== slots, from their tasks =====

    /// Runs `f` on the slot; `false` if the endpoint is gone.
    fn with_slot(&self, id: u64, slot: usize, f: impl FnOnce(&mut EndpointState)) -> bool {
        let mut state = self.lock();
        let Some(ep) = state.endpoints.iter_mut().find(|e| e.id == id) else {
            return false;
        };
        if slot >= ep.slots.len() {
            return false;
        }
        f(ep);
        drop(state);
        self.bump();
        true
    }

    pub(crate) fn slot_connecting(&self, id: u64, slot: usize) -> bool {
        self.with_slot(id, slot, |ep| ep.slots[slot].state = SlotState::Connecting)
    }

    pub(crate) fn slot_ready(&self, id: u64, slot: usize, conn: Conn) -> bool {
        self.with_slot(id, slot, |ep| {
            let s = &mut ep.slots[slot];
            s.state = SlotState::Ready(conn);
            s.generation += 1;
            s.answered = 0;
            ep.last_error = None;
        })
    }

    /// Whether the slot's current connection answered any call.
    pub(crate) fn slot_was_used(&self, id: u64, slot: usize) -> bool {
        let state = self.lock();
        state
            .endpoints
            .iter()
            .find(|e| e.id == id)
            .is_some_and(|ep| ep.slots[slot].answered > 0)
    }

    pub(crate) fn slot_failed(&self, id: u64, slot: usize, until: Instant, error: String) -> bool {
        let kept = self.with_slot(id, slot, |ep| {
            ep.slots[slot].state = SlotState::Backoff { until };
            ep.last_error = Some(error);
        });
        // DNS may know better: ask it (the driver rate-limits).
        self.resolve_now.notify_one();
        kept
    }

    // ===== calls =====

    /// Picks an endpoint and connection for a call: power of two choices
    /// among the best-ranked endpoints (see `p2c::rank`).
    pub(crate) fn pick(&self, avoid: &[SocketAddr]) -> Pick {
        let now = Instant::now();
        let mut state = self.lock();
        let State {
            endpoints,
            resolution,
            rng,
            scratch,
            ..
        } = &mut *state;
        if endpoints.is_empty() {
            return match resolution {
                Resolution::Pending => Pick::Wait,
                Resolution::Failed(e) => Pick::Fail(ConnectError::unavailable(format!(
                    "no endpoints: resolving failed: {e}"
                ))),
                Resolution::Resolved => {
                    Pick::Fail(ConnectError::unavailable("no endpoints to call"))
                }
            };
        }
        scratch.clear();
        scratch.extend(endpoints.iter().map(|e| {
            let ready = match e.health() {
                Health::Ready => true,
                Health::Idle | Health::Connecting => false,
                _ => {
                    return Candidate {
                        rank: None,
                        cost: 0.0,
                    };
                }
            };
            let avoided = avoid.contains(&e.endpoint.addr());
            Candidate {
                rank: Some(p2c::rank(e.outlier.is_ejected(), ready, avoided)),
                cost: e.load.cost(now),
            }
        }));
        let Some(i) = p2c::pick(scratch, rng) else {
            return Pick::Fail(unavailable(endpoints, now, "no endpoint is available"));
        };
        let ep = &mut endpoints[i];
        let Some((slot, conn)) = ep.least_loaded_slot() else {
            return Pick::Wait;
        };
        let conn = conn.clone();
        ep.slots[slot].in_flight += 1;
        ep.load.start();
        let ticket = Ticket {
            endpoint: ep.id,
            slot,
            generation: ep.slots[slot].generation,
            addr: ep.endpoint.addr(),
        };
        Pick::Send(conn, ticket)
    }

    /// `unavailable` naming every endpoint and its last error.
    pub(crate) fn unavailable(&self, why: &str) -> ConnectError {
        let state = self.lock();
        if state.endpoints.is_empty() {
            return match &state.resolution {
                Resolution::Failed(e) => {
                    ConnectError::unavailable(format!("{why}: resolving failed: {e}"))
                }
                _ => ConnectError::unavailable(format!("{why}: no endpoints resolved yet")),
            };
        }
        unavailable(&state.endpoints, Instant::now(), why)
    }

    /// Records a call's latency to its response head.
    pub(crate) fn observe(&self, ticket: &Ticket, rtt: Duration) {
        let mut state = self.lock();
        if let Some(ep) = state.endpoints.iter_mut().find(|e| e.id == ticket.endpoint) {
            ep.load.observe(rtt, Instant::now());
            let slot = &mut ep.slots[ticket.slot];
            if slot.generation == ticket.generation {
                slot.answered += 1;
            }
        }
    }

    /// A call is over: `success` for outlier detection (`None`: not an
    /// outcome); `broken` when it failed below HTTP, so an HTTP/1.1
    /// endpoint is redialled to check it.
    pub(crate) fn finish(&self, ticket: &Ticket, success: Option<bool>, broken: bool) {
        let mut state = self.lock();
        let Some(ep) = state.endpoints.iter_mut().find(|e| e.id == ticket.endpoint) else {
            return;
        };
        ep.load.end();
        if let (Some(success), Some(_)) = (success, &self.settings.outlier) {
            ep.outlier.record(success);
        }
        let slot = &mut ep.slots[ticket.slot];
        slot.in_flight = slot.in_flight.saturating_sub(1);
        if broken
            && slot.generation == ticket.generation
            && matches!(slot.state, SlotState::Ready(Conn::H1(_)))
        {
            // Unready until a dial says otherwise.
            slot.state = SlotState::Connecting;
            ep.probe.notify_one();
            drop(state);
            self.bump();
        }
    }

    // ===== outliers, status =====

    /// One outlier-detection sweep (A50's timer).
    pub(crate) fn sweep_outliers(&self) {
        let Some(od) = &self.settings.outlier else {
            return;
        };
        let mut state = self.lock();
        let State { endpoints, rng, .. } = &mut *state;
        let mut hosts: Vec<&mut HostOutlier> =
            endpoints.iter_mut().map(|e| &mut e.outlier).collect();
        if od.sweep(&mut hosts, Instant::now(), rng) {
            drop(state);
            self.bump();
        }
    }

    pub(crate) fn statuses(&self) -> Vec<EndpointStatus> {
        self.lock()
            .endpoints
            .iter()
            .map(EndpointState::status)
            .collect()
    }

    pub(crate) fn is_resolved(&self) -> bool {
        matches!(self.lock().resolution, Resolution::Resolved)
    }
}

//! [`HealthService`], the `grpc.health.v1.Health` implementation, and its
//! [`HealthReporter`].

use std::collections::HashMap;
use std::fmt;
use std::sync::{Arc, Mutex, MutexGuard};

use buffa::view::OwnedView;
use connect_core::ConnectError;
use connect_layers::handler::ResponseStream;
use connect_layers::rpc::Context;
use connect_server::Router;
use tokio::sync::watch;

use crate::ServingStatus;
use crate::proto::grpc::health::v1::health::{HealthCheckRequestView, HealthListRequestView};
use crate::proto::grpc::health::v1::{
    Health, HealthCheckResponse, HealthExt as _, HealthListResponse,
};

/// The most services `List` answers with; with more it fails with
/// `resource_exhausted`, as the health protocol asks.
pub const MAX_LIST: usize = 100;

/// The longest service name quoted back in a `not_found` message.
const MAX_QUOTED_NAME: usize = 128;

struct State {
    statuses: HashMap<String, ServingStatus>,
    shut_down: bool,
}

struct Shared {
    state: Mutex<State>,
    /// Bumped on every change; `Watch` streams wait on it and then read
    /// the status of their service, so a watcher costs no entry per name.
    version: watch::Sender<u64>,
}

impl Shared {
    fn lock(&self) -> MutexGuard<'_, State> {
        // A panic while holding the lock cannot leave the map half-updated
        // (every update is one insert or one loop of assignments).
        self.state
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    fn changed(&self) {
        self.version.send_modify(|v| *v = v.wrapping_add(1));
    }
}

/// Sets the status each service reports: a cheap, cloneable handle to the
/// state a [`HealthService`] serves.
///
/// Service names are fully-qualified (`greet.v1.GreetService`); `""`
/// stands for the server as a whole. A name never set is unknown: `Check`
/// fails with `not_found`, `Watch` reports `SERVICE_UNKNOWN`.
///
/// ```
/// use connect_health::{HealthService, ServingStatus};
///
/// let reporter = HealthService::new().reporter();
/// reporter.set_serving("greet.v1.GreetService");
/// reporter.set_status("greet.v1.GreetService", ServingStatus::NOT_SERVING);
/// assert_eq!(reporter.status("greet.v1.GreetService"), Some(ServingStatus::NOT_SERVING));
/// reporter.clear("greet.v1.GreetService");
/// assert_eq!(reporter.status("greet.v1.GreetService"), None);
/// ```
#[derive(Clone)]
pub struct HealthReporter {
    shared: Arc<Shared>,
}

impl fmt::Debug for HealthReporter {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let state = self.shared.lock();
        f.debug_struct("HealthReporter")
            .field("services", &state.statuses.len())
            .field("shut_down", &state.shut_down)
            .finish()
    }
}

impl HealthReporter {
    fn new() -> Self {
        let mut statuses = HashMap::new();
        statuses.insert(String::new(), ServingStatus::SERVING);
        HealthReporter {
            shared: Arc::new(Shared {
                state: Mutex::new(State {
                    statuses,
                    shut_down: false,
                }),
                version: watch::Sender::new(0),
            }),
        }
    }

    /// Sets the status of `service` (`""` for the whole server). Ignored
    /// after [`shutdown`](Self::shutdown) (until [`resume`](Self::resume)),
    /// so a late update cannot report a draining server as serving.
    ///
    /// ```
    /// # use connect_health::{HealthService, ServingStatus};
    /// let reporter = HealthService::new().reporter();
    /// reporter.set_status("", ServingStatus::NOT_SERVING);
    /// assert_eq!(reporter.status(""), Some(ServingStatus::NOT_SERVING));
    /// ```
    pub fn set_status(&self, service: impl Into<String>, status: ServingStatus) {
        let mut state = self.shared.lock();
        if state.shut_down {
            return;
        }
        let previous = state.statuses.insert(service.into(), status);
        drop(state);
        if previous != Some(status) {
            self.shared.changed();
        }
    }

    /// Marks `service` `SERVING`.
    ///
    /// ```
    /// # use connect_health::{HealthService, ServingStatus};
    /// let reporter = HealthService::new().reporter();
    /// reporter.set_serving("greet.v1.GreetService");
    /// assert_eq!(reporter.status("greet.v1.GreetService"), Some(ServingStatus::SERVING));
    /// ```
    pub fn set_serving(&self, service: impl Into<String>) {
        self.set_status(service, ServingStatus::SERVING);
    }

    /// Marks `service` `NOT_SERVING`.
    ///
    /// ```
    /// # use connect_health::{HealthService, ServingStatus};
    /// let reporter = HealthService::new().reporter();
    /// reporter.set_not_serving("");
    /// assert_eq!(reporter.status(""), Some(ServingStatus::NOT_SERVING));
    /// ```
    pub fn set_not_serving(&self, service: impl Into<String>) {
        self.set_status(service, ServingStatus::NOT_SERVING);
    }

    /// Forgets `service`: `Check` fails with `not_found` again and watchers
    /// see `SERVICE_UNKNOWN`. Ignored after [`shutdown`](Self::shutdown).
    ///
    /// ```
    /// # use connect_health::HealthService;
    /// let reporter = HealthService::new().reporter();
    /// reporter.set_serving("a.B");
    /// reporter.clear("a.B");
    /// assert_eq!(reporter.status("a.B"), None);
    /// ```
    pub fn clear(&self, service: &str) {
        let mut state = self.shared.lock();
        if state.shut_down {
            return;
        }
        let removed = state.statuses.remove(service).is_some();
        drop(state);
        if removed {
            self.shared.changed();
        }
    }

    /// The status `service` reports, `None` when it is unknown.
    ///
    /// ```
    /// # use connect_health::{HealthService, ServingStatus};
    /// let reporter = HealthService::new().reporter();
    /// assert_eq!(reporter.status(""), Some(ServingStatus::SERVING));
    /// assert_eq!(reporter.status("no.Such"), None);
    /// ```
    pub fn status(&self, service: &str) -> Option<ServingStatus> {
        self.shared.lock().statuses.get(service).copied()
    }

    /// Call when graceful shutdown begins: every known service (`""`
    /// included) becomes `NOT_SERVING`, later updates are ignored, and open
    /// `Watch` streams send `NOT_SERVING` and then end with `unavailable`
    /// (so they do not hold up the drain; clients retry elsewhere).
    ///
    /// ```
    /// # use connect_health::{HealthService, ServingStatus};
    /// let reporter = HealthService::new().reporter();
    /// reporter.set_serving("greet.v1.GreetService");
    /// reporter.shutdown();
    /// reporter.set_serving("greet.v1.GreetService"); // ignored
    /// assert_eq!(reporter.status("greet.v1.GreetService"), Some(ServingStatus::NOT_SERVING));
    /// assert!(reporter.is_shut_down());
    /// ```
    pub fn shutdown(&self) {
        let mut state = self.shared.lock();
        state.shut_down = true;
        for status in state.statuses.values_mut() {
            *status = ServingStatus::NOT_SERVING;
        }
        drop(state);
        self.shared.changed();
    }

    /// Undoes [`shutdown`](Self::shutdown): updates are accepted again and
    /// every known service becomes `SERVING`.
    ///
    /// ```
    /// # use connect_health::{HealthService, ServingStatus};
    /// let reporter = HealthService::new().reporter();
    /// reporter.shutdown();
    /// reporter.resume();
    /// assert_eq!(reporter.status(""), Some(ServingStatus::SERVING));
    /// ```
    pub fn resume(&self) {
        let mut state = self.shared.lock();
        state.shut_down = false;
        for status in state.statuses.values_mut() {
            *status = ServingStatus::SERVING;
        }
        drop(state);
        self.shared.changed();
    }

    /// Whether [`shutdown`](Self::shutdown) was called (and not undone).
    pub fn is_shut_down(&self) -> bool {
        self.shared.lock().shut_down
    }

    /// The status `Watch` reports for `service`, and whether the server is
    /// shutting down.
    fn watched(&self, service: &str) -> (ServingStatus, bool) {
        let state = self.shared.lock();
        let status = state
            .statuses
            .get(service)
            .copied()
            .unwrap_or(ServingStatus::SERVICE_UNKNOWN);
        (status, state.shut_down)
    }
}

/// The `grpc.health.v1.Health` service: `Check`, `List` and `Watch`
/// answered from the statuses its [`HealthReporter`] sets. The server as a
/// whole (`""`) starts `SERVING`; other services are unknown until set.
///
/// ```
/// use connect_health::HealthService;
/// use connect_server::Router;
///
/// let health = HealthService::new();
/// health.reporter().set_serving("greet.v1.GreetService");
/// let router: Router = health.register(Router::new());
/// # let _ = router;
/// ```
#[derive(Clone, Debug)]
pub struct HealthService {
    reporter: HealthReporter,
}

impl Default for HealthService {
    fn default() -> Self {
        Self::new()
    }
}

impl HealthService {
    /// A health service whose only known service is `""` (the whole
    /// server), `SERVING`.
    pub fn new() -> Self {
        HealthService {
            reporter: HealthReporter::new(),
        }
    }

    /// The handle that sets the statuses this service reports.
    pub fn reporter(&self) -> HealthReporter {
        self.reporter.clone()
    }

    /// Adds `grpc.health.v1.Health` to `router` (all three protocols).
    pub fn register(self, router: Router) -> Router {
        Arc::new(self).register(router)
    }
}

fn response(status: ServingStatus) -> HealthCheckResponse {
    HealthCheckResponse {
        status: status.into(),
        ..Default::default()
    }
}

/// `name` as quoted in an error message, cut at [`MAX_QUOTED_NAME`] bytes
/// (on a character boundary).
fn quoted(name: &str) -> &str {
    if name.len() <= MAX_QUOTED_NAME {
        return name;
    }
    let mut end = MAX_QUOTED_NAME;
    while !name.is_char_boundary(end) {
        end -= 1;
    }
    &name[..end]
}

impl Health for HealthService {
    async fn check(
        &self,
        ctx: Context,
        request: OwnedView<HealthCheckRequestView<'static>>,
    ) -> Result<(HealthCheckResponse, Context), ConnectError> {
        let service = request.reborrow().service;
        match self.reporter.status(service) {
            Some(status) => Ok((response(status), ctx)),
            None => Err(ConnectError::not_found(format!(
                "health: unknown service \"{}\"",
                quoted(service)
            ))),
        }
    }

    async fn list(
        &self,
        ctx: Context,
        _request: OwnedView<HealthListRequestView<'static>>,
    ) -> Result<(HealthListResponse, Context), ConnectError> {
        let state = self.reporter.shared.lock();
        if state.statuses.len() > MAX_LIST {
            return Err(ConnectError::resource_exhausted(format!(
                "health: {} services, more than List answers ({MAX_LIST})",
                state.statuses.len()
            )));
        }
        let statuses = state
            .statuses
            .iter()
            .map(|(name, status)| (name.clone(), response(*status)))
            .collect();
        drop(state);
        Ok((
            HealthListResponse {
                statuses,
                ..Default::default()
            },
            ctx,
        ))
    }

    async fn watch(
        &self,
        ctx: Context,
        request: OwnedView<HealthCheckRequestView<'static>>,
    ) -> Result<(ResponseStream<HealthCheckResponse>, Context), ConnectError> {
        let watcher = Watcher {
            reporter: self.reporter.clone(),
            changes: self.reporter.shared.version.subscribe(),
            service: request.reborrow().service.to_owned(),
            last: None,
            finished: false,
        };
        let stream = futures_util::stream::unfold(watcher, Watcher::next);
        Ok((Box::pin(stream), ctx))
    }
}

/// One `Watch` call: the last status sent, and the change notifications.
struct Watcher {
    reporter: HealthReporter,
    changes: watch::Receiver<u64>,
    service: String,
    last: Option<ServingStatus>,
    finished: bool,
}

impl Watcher {
    /// The next message: the status when it differs from the last one
    /// sent; after shutdown, `unavailable` once the final status is out.
    async fn next(mut self) -> Option<(Result<HealthCheckResponse, ConnectError>, Watcher)> {
        if self.finished {
            return None;
        }
        loop {
            // Mark the current version seen before reading the state, so a
            // change made after the read wakes `changed()` below.
            self.changes.borrow_and_update();
            let (status, shut_down) = self.reporter.watched(&self.service);
            if self.last != Some(status) {
                self.last = Some(status);
                return Some((Ok(response(status)), self));
            }
            if shut_down {
                self.finished = true;
                let error = ConnectError::unavailable("health: the server is shutting down");
                return Some((Err(error), self));
            }
            if self.changes.changed().await.is_err() {
                // The sender lives as long as any reporter: unreachable
                // while this watcher holds one, but end cleanly anyway.
                return None;
            }
        }
    }
}

//! A service wrapper for tests that order calls by events instead of
//! sleeps: it tells the test when calls enter and leave it, and holds the
//! call the test marked until the test releases it.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::task::{Context, Poll};
use std::time::Duration;

use tokio::sync::{Notify, watch};
use tower::{Layer, Service};

/// What happened at the gate, in order: `Enter(n)` when the `n`th call
/// (from 0) entered, `Leave(n)` when it was answered.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Event {
    Enter(usize),
    Leave(usize),
}

/// The test's handle on a [`Gated`] service (shared by its clones).
#[derive(Clone, Debug, Default)]
pub struct Gate(Arc<State>);

#[derive(Debug)]
struct State {
    events: watch::Sender<Vec<Event>>,
    hold_next: AtomicBool,
    released: Notify,
}

impl Default for State {
    fn default() -> Self {
        State {
            events: watch::channel(Vec::new()).0,
            hold_next: AtomicBool::new(false),
            released: Notify::new(),
        }
    }
}

/// How long a test waits for an event: only a hang guard.
pub const EVENT_WITHIN: Duration = Duration::from_secs(30);

impl Gate {
    pub fn new() -> Self {
        Gate::default()
    }

    /// Wraps `inner`.
    pub fn wrap<S>(&self, inner: S) -> Gated<S> {
        Gated {
            inner,
            gate: self.clone(),
        }
    }

    /// The next call to enter waits there until [`Gate::release`].
    pub fn hold_next(&self) {
        self.0.hold_next.store(true, Ordering::SeqCst);
    }

    /// Lets the held call go on (or the next one to be held, if it has not
    /// come yet).
    pub fn release(&self) {
        self.0.released.notify_one();
    }

    /// The events so far.
    pub fn events(&self) -> Vec<Event> {
        self.0.events.borrow().clone()
    }

    /// Waits until `n` calls have entered (at most [`EVENT_WITHIN`]).
    pub async fn entered(&self, n: usize) {
        self.wait_for(|events| {
            events
                .iter()
                .filter(|e| matches!(e, Event::Enter(_)))
                .count()
                >= n
        })
        .await;
    }

    /// Waits until `done` holds for the events (at most [`EVENT_WITHIN`]).
    pub async fn wait_for(&self, mut done: impl FnMut(&[Event]) -> bool) {
        let mut events = self.0.events.subscribe();
        tokio::time::timeout(EVENT_WITHIN, events.wait_for(|e| done(e)))
            .await
            .unwrap_or_else(|_| panic!("not seen within {EVENT_WITHIN:?}: {:?}", self.events()))
            .unwrap();
    }

    /// Records a call's entry; returns its number.
    fn enter(&self) -> usize {
        let mut id = 0;
        self.0.events.send_modify(|events| {
            id = events
                .iter()
                .filter(|e| matches!(e, Event::Enter(_)))
                .count();
            events.push(Event::Enter(id));
        });
        id
    }

    fn leave(&self, id: usize) {
        self.0
            .events
            .send_modify(|events| events.push(Event::Leave(id)));
    }
}

impl<S> Layer<S> for Gate {
    type Service = Gated<S>;

    fn layer(&self, inner: S) -> Gated<S> {
        self.wrap(inner)
    }
}

/// `inner` behind a [`Gate`].
#[derive(Clone, Debug)]
pub struct Gated<S> {
    inner: S,
    gate: Gate,
}

impl<S, R> Service<R> for Gated<S>
where
    S: Service<R> + Clone + Send + 'static,
    S::Future: Send + 'static,
    R: Send + 'static,
{
    type Response = S::Response;
    type Error = S::Error;
    type Future = Pin<Box<dyn Future<Output = Result<S::Response, S::Error>> + Send>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), S::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, req: R) -> Self::Future {
        // The readied service goes with the call; a clone stays.
        let clone = self.inner.clone();
        let mut inner = std::mem::replace(&mut self.inner, clone);
        let gate = self.gate.clone();
        let hold = gate.0.hold_next.swap(false, Ordering::SeqCst);
        Box::pin(async move {
            let id = gate.enter();
            if hold {
                gate.0.released.notified().await;
            }
            let result = inner.call(req).await;
            gate.leave(id);
            result
        })
    }
}

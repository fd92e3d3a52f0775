//! The retry layer against a scripted channel: each attempt is answered
//! as the test says, in paused time.

use std::collections::VecDeque;
use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::Bytes;
use connect_core::{Code, ConnectError, Idempotency, MethodDescriptor, StreamType};
use connect_layers::ClientBody;
use http_body_util::{BodyExt as _, Full};
use tokio::time::Instant;
use tower::{Service, ServiceExt as _};

use super::*;

mod hedging_and_streams;
mod pushback_and_deadlines;
mod retries;
use crate::resilience::{Attempt, ServedBy};

pub(super) const IDEMPOTENT: MethodDescriptor = MethodDescriptor::new(
    "t.S",
    "Get",
    "/t.S/Get",
    StreamType::Unary,
    Idempotency::Idempotent,
);
pub(super) const UNSAFE: MethodDescriptor = MethodDescriptor::new(
    "t.S",
    "Put",
    "/t.S/Put",
    StreamType::Unary,
    Idempotency::Unknown,
);
pub(super) const UPLOAD: MethodDescriptor = MethodDescriptor::new(
    "t.S",
    "Upload",
    "/t.S/Upload",
    StreamType::ClientStream,
    Idempotency::Idempotent,
);

/// How the fake channel answers one attempt.
#[derive(Clone, Debug)]
pub(super) enum Step {
    /// gRPC trailers-only, with an optional `grpc-retry-pushback-ms`.
    TrailersOnly(Code, Option<&'static str>),
    /// A Connect unary error: HTTP status and JSON body.
    ConnectError(u16, String),
    /// A transport error the server never processed.
    Unprocessed,
    /// A 200 whose body is "ok" (committed for every protocol).
    Ok,
    /// Waits, then answers.
    After(Duration, Box<Step>),
    /// Never answers.
    Stall,
}

/// What the fake saw of one attempt.
#[derive(Debug)]
pub(super) struct Seen {
    pub(super) at: Instant,
    pub(super) headers: http::HeaderMap,
    pub(super) attempt: Option<Attempt>,
    /// The method the attempt's request named.
    pub(super) method: Option<&'static MethodDescriptor>,
    pub(super) body: Bytes,
    /// Set when the attempt's future was dropped before it answered.
    pub(super) dropped: Arc<AtomicBool>,
}

#[derive(Clone, Default)]
pub(super) struct Fake {
    script: Arc<Mutex<VecDeque<Step>>>,
    pub(super) seen: Arc<Mutex<Vec<Seen>>>,
}

struct DropFlag(Arc<AtomicBool>, bool);

impl Drop for DropFlag {
    fn drop(&mut self) {
        if !self.1 {
            self.0.store(true, Ordering::SeqCst);
        }
    }
}

pub(super) type FakeFuture =
    Pin<Box<dyn Future<Output = Result<http::Response<Full<Bytes>>, ConnectError>> + Send>>;

impl Fake {
    pub(super) fn new(steps: impl IntoIterator<Item = Step>) -> Self {
        Fake {
            script: Arc::new(Mutex::new(steps.into_iter().collect())),
            seen: Arc::default(),
        }
    }

    pub(super) fn attempts(&self) -> usize {
        self.seen.lock().unwrap().len()
    }

    pub(super) fn header(&self, i: usize, name: &str) -> Option<String> {
        self.seen.lock().unwrap()[i]
            .headers
            .get(name)
            .map(|v| v.to_str().unwrap().to_owned())
    }
}

fn answer(step: Step, n: usize) -> FakeFuture {
    Box::pin(async move {
        let mut resp = match step {
            Step::After(d, next) => {
                tokio::time::sleep(d).await;
                return answer(*next, n).await;
            }
            Step::Stall => std::future::pending().await,
            Step::Unprocessed => {
                return Err(ConnectError::unavailable("refused stream").unprocessed());
            }
            Step::Ok => http::Response::new(Full::new(Bytes::from_static(b"ok"))),
            Step::TrailersOnly(code, pushback) => {
                let mut r = http::Response::new(Full::default());
                let h = r.headers_mut();
                h.insert("content-type", "application/grpc".parse().unwrap());
                h.insert("grpc-status", code.grpc_number().into());
                if let Some(p) = pushback {
                    h.insert("grpc-retry-pushback-ms", p.parse().unwrap());
                }
                r
            }
            Step::ConnectError(status, json) => {
                let mut r = http::Response::new(Full::new(Bytes::from(json)));
                *r.status_mut() = http::StatusCode::from_u16(status).unwrap();
                r.headers_mut()
                    .insert("content-type", "application/json".parse().unwrap());
                r
            }
        };
        let port = 1000 + n as u16;
        resp.extensions_mut()
            .insert(ServedBy(([127, 0, 0, 1], port).into()));
        Ok(resp)
    })
}

impl Service<http::Request<ClientBody>> for Fake {
    type Response = http::Response<Full<Bytes>>;
    type Error = ConnectError;
    type Future = FakeFuture;

    fn poll_ready(
        &mut self,
        _: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Result<(), ConnectError>> {
        std::task::Poll::Ready(Ok(()))
    }

    fn call(&mut self, req: http::Request<ClientBody>) -> FakeFuture {
        let step = self
            .script
            .lock()
            .unwrap()
            .pop_front()
            .expect("an attempt beyond the script");
        let seen = self.seen.clone();
        Box::pin(async move {
            let method = connect_layers::intercept::method_of(&req);
            let (parts, body) = req.into_parts();
            let dropped = Arc::new(AtomicBool::new(false));
            let mut guard = DropFlag(dropped.clone(), false);
            // The whole request body is read before answering.
            let body = body
                .collect()
                .await
                .map(|c| c.to_bytes())
                .unwrap_or_default();
            let n = {
                let mut seen = seen.lock().unwrap();
                seen.push(Seen {
                    at: Instant::now(),
                    headers: parts.headers,
                    attempt: parts.extensions.get::<Attempt>().cloned(),
                    method,
                    body,
                    dropped,
                });
                seen.len()
            };
            let r = answer(step, n).await;
            guard.1 = true;
            r
        })
    }
}

pub(super) fn request(
    method: &'static MethodDescriptor,
    ct: &'static str,
    timeout: Option<&str>,
) -> http::Request<ClientBody> {
    let body = ClientBody::full(Bytes::from_static(b"request")).with_method(method);
    let mut req = http::Request::new(body);
    *req.method_mut() = http::Method::POST;
    req.headers_mut()
        .insert("content-type", ct.parse().unwrap());
    if let Some(t) = timeout {
        let name = if ct.starts_with("application/grpc") {
            "grpc-timeout"
        } else {
            "connect-timeout-ms"
        };
        req.headers_mut().insert(name, t.parse().unwrap());
    }
    req
}

pub(super) fn grpc(method: &'static MethodDescriptor) -> http::Request<ClientBody> {
    request(method, "application/grpc", None)
}

pub(super) async fn run(
    layer: &RetryLayer,
    fake: &Fake,
    req: http::Request<ClientBody>,
) -> Result<(http::StatusCode, http::HeaderMap, Bytes), BoxError> {
    let mut svc = layer.layer(fake.clone());
    let resp = svc.ready().await?.call(req).await?;
    let (parts, body) = resp.into_parts();
    let body = body
        .collect()
        .await
        .map_err(|e| Box::new(e) as BoxError)?
        .to_bytes();
    Ok((parts.status, parts.headers, body))
}

pub(super) fn unavailable() -> Step {
    Step::TrailersOnly(Code::Unavailable, None)
}

pub(super) fn gaps(fake: &Fake) -> Vec<u128> {
    let seen = fake.seen.lock().unwrap();
    seen.windows(2)
        .map(|w| (w[1].at - w[0].at).as_millis())
        .collect()
}

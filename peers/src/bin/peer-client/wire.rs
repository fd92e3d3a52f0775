//! The wire recording: a channel that keeps every HTTP exchange a case makes.

use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};

use connectrpc::client::ClientBody;
use http::{HeaderMap, Method, StatusCode, Version};
use tower_service::Service;

/// One HTTP exchange as the channel saw it.
#[derive(Debug, Default)]
pub(crate) struct Exchange {
    /// The request's method.
    pub(crate) method: Method,
    /// The request's path and query.
    pub(crate) path_and_query: String,
    /// The request's headers.
    pub(crate) request_headers: HeaderMap,
    /// The response's HTTP version (`None` until it comes, if ever).
    pub(crate) version: Option<Version>,
    /// The response's status.
    pub(crate) status: Option<StatusCode>,
    /// The response's headers.
    pub(crate) response_headers: HeaderMap,
}

impl Exchange {
    /// One line: method, path, HTTP version, status, content type.
    pub(crate) fn summary(&self) -> String {
        let status = self
            .status
            .map_or_else(|| "no response".to_owned(), |s| s.as_u16().to_string());
        let content_type = self
            .response_headers
            .get(http::header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("-");
        let version = self
            .version
            .map_or_else(|| "-".to_owned(), |v| format!("{v:?}"));
        format!(
            "{} {} {version} {status} {content_type}",
            self.method, self.path_and_query,
        )
    }
}

/// The exchanges of the current case.
pub(crate) type Log = Arc<Mutex<Vec<Arc<Mutex<Exchange>>>>>;

/// A channel that records every exchange it carries into a [`Log`].
#[derive(Clone, Debug)]
pub(crate) struct Recorder<S> {
    pub(crate) inner: S,
    pub(crate) log: Log,
}

impl<S, B> Service<http::Request<ClientBody>> for Recorder<S>
where
    S: Service<http::Request<ClientBody>, Response = http::Response<B>>,
    S::Future: Send + 'static,
    B: Send + 'static,
{
    type Response = http::Response<B>;
    type Error = S::Error;
    type Future = Pin<Box<dyn Future<Output = Result<Self::Response, S::Error>> + Send>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), S::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, req: http::Request<ClientBody>) -> Self::Future {
        let exchange = Arc::new(Mutex::new(Exchange {
            method: req.method().clone(),
            path_and_query: req
                .uri()
                .path_and_query()
                .map_or_else(String::new, ToString::to_string),
            request_headers: req.headers().clone(),
            ..Exchange::default()
        }));
        self.log.lock().unwrap().push(Arc::clone(&exchange));
        let response = self.inner.call(req);
        Box::pin(async move {
            let response = response.await;
            if let Ok(r) = &response {
                let mut ex = exchange.lock().unwrap();
                ex.version = Some(r.version());
                ex.status = Some(r.status());
                ex.response_headers = r.headers().clone();
            }
            response
        })
    }
}

//! Where the endpoints come from: the [`Resolve`] trait and three
//! resolvers (a static list, DNS, and one a program or test sets by hand).

use std::fmt;
use std::future::Future;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::{Arc, Mutex, PoisonError};

use tokio::sync::watch;

use crate::BoxError;

/// A boxed, `Send` future: what [`Resolve`] methods return.
pub type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// One server a balanced channel can dial: its address and, over TLS, the
/// name to check its certificate against (default: the host of the
/// request's URI, the logical target).
///
/// ```
/// use connect_client::resilience::balance::Endpoint;
///
/// let plain = Endpoint::from("10.0.0.7:8080".parse::<std::net::SocketAddr>().unwrap());
/// let named = Endpoint::new("10.0.0.8:8443".parse().unwrap()).with_server_name("b.internal");
/// assert_eq!(plain.addr().port(), 8080);
/// assert_eq!(named.server_name(), Some("b.internal"));
/// ```
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Endpoint {
    addr: SocketAddr,
    server_name: Option<Arc<str>>,
}

impl Endpoint {
    /// An endpoint at `addr`, checked over TLS against the logical host.
    pub fn new(addr: SocketAddr) -> Self {
        Endpoint {
            addr,
            server_name: None,
        }
    }

    /// Checks this endpoint's TLS certificate against `name` (and sends it
    /// as SNI) instead of the logical host.
    pub fn with_server_name(mut self, name: impl Into<Arc<str>>) -> Self {
        self.server_name = Some(name.into());
        self
    }

    /// The address dialled.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// The TLS server name, if this endpoint has its own.
    pub fn server_name(&self) -> Option<&str> {
        self.server_name.as_deref()
    }
}

impl From<SocketAddr> for Endpoint {
    fn from(addr: SocketAddr) -> Self {
        Endpoint::new(addr)
    }
}

/// Finds the endpoints of a balanced channel: a static list, DNS, a
/// service registry, a file, an xDS client.
///
/// The channel calls [`resolve`](Self::resolve) when it starts, then
/// periodically and after connection failures (at most once per the
/// builder's minimum interval), and whenever [`changed`](Self::changed)
/// completes. A failed or empty resolution keeps the last good set; calls
/// fail `unavailable` with the resolver's error only while there never
/// was one.
///
/// Closures returning a future implement it:
///
/// ```
/// use connect_client::resilience::balance::{Endpoint, Resolve};
///
/// let resolver = || async {
///     // Ask a registry, read a file...
///     Ok::<_, connect_client::BoxError>(vec![Endpoint::new("127.0.0.1:8080".parse().unwrap())])
/// };
/// # fn check(_: &impl Resolve) {}
/// check(&resolver);
/// ```
pub trait Resolve: Send + Sync + 'static {
    /// The endpoints now. An error or an empty list leaves the channel's
    /// set as it was.
    fn resolve(&self) -> BoxFuture<'_, Result<Vec<Endpoint>, BoxError>>;

    /// Completes when the resolver knows the set changed, so the channel
    /// resolves again at once (default: never; the channel polls).
    fn changed(&self) -> BoxFuture<'_, ()> {
        Box::pin(std::future::pending())
    }
}

impl<F, Fut> Resolve for F
where
    F: Fn() -> Fut + Send + Sync + 'static,
    Fut: Future<Output = Result<Vec<Endpoint>, BoxError>> + Send + 'static,
{
    fn resolve(&self) -> BoxFuture<'_, Result<Vec<Endpoint>, BoxError>> {
        Box::pin(self())
    }
}

// ===== StaticResolver =====

/// A fixed list of endpoints.
///
/// ```
/// use connect_client::resilience::balance::StaticResolver;
///
/// let resolver = StaticResolver::new(["127.0.0.1:8080".parse::<std::net::SocketAddr>().unwrap()]);
/// assert_eq!(resolver.endpoints().len(), 1);
/// let resolver = StaticResolver::parse(["http://127.0.0.1:8081", "http://127.0.0.1:8082"]).unwrap();
/// assert_eq!(resolver.endpoints().len(), 2);
/// ```
#[derive(Clone, Debug)]
pub struct StaticResolver {
    endpoints: Vec<Endpoint>,
}

impl StaticResolver {
    /// These endpoints, always.
    pub fn new<E: Into<Endpoint>>(endpoints: impl IntoIterator<Item = E>) -> Self {
        StaticResolver {
            endpoints: endpoints.into_iter().map(Into::into).collect(),
        }
    }

    /// These endpoints, parsed (`127.0.0.1:8080`, `http://127.0.0.1:8080`:
    /// see [`Endpoint`]'s `FromStr`).
    pub fn parse<'a>(
        endpoints: impl IntoIterator<Item = &'a str>,
    ) -> Result<Self, EndpointParseError> {
        Ok(StaticResolver {
            endpoints: endpoints
                .into_iter()
                .map(str::parse)
                .collect::<Result<_, _>>()?,
        })
    }

    /// The endpoints.
    pub fn endpoints(&self) -> &[Endpoint] {
        &self.endpoints
    }
}

impl Resolve for StaticResolver {
    fn resolve(&self) -> BoxFuture<'_, Result<Vec<Endpoint>, BoxError>> {
        Box::pin(std::future::ready(Ok(self.endpoints.clone())))
    }
}

// ===== DnsResolver =====

/// The addresses a DNS name resolves to (the system resolver, through
/// `tokio::net::lookup_host`), each an endpoint on `port`.
///
/// ```
/// use connect_client::resilience::balance::DnsResolver;
///
/// let resolver = DnsResolver::new("greet.internal", 8080);
/// assert_eq!(resolver.to_string(), "dns:greet.internal:8080");
/// ```
#[derive(Clone, Debug)]
pub struct DnsResolver {
    host: Arc<str>,
    port: u16,
}

impl DnsResolver {
    /// Resolves `host` (a name or an IP address), endpoints on `port`.
    pub fn new(host: impl Into<Arc<str>>, port: u16) -> Self {
        DnsResolver {
            host: host.into(),
            port,
        }
    }
}

impl fmt::Display for DnsResolver {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "dns:{}:{}", self.host, self.port)
    }
}

impl Resolve for DnsResolver {
    fn resolve(&self) -> BoxFuture<'_, Result<Vec<Endpoint>, BoxError>> {
        Box::pin(async move {
            let found = tokio::net::lookup_host((&*self.host, self.port))
                .await
                .map_err(|e| format!("resolving {self}: {e}"))?;
            let mut endpoints: Vec<Endpoint> = found.map(Endpoint::new).collect();
            endpoints.dedup();
            Ok(endpoints)
        })
    }
}

// ===== ManualResolver =====

/// A resolver whose answer the program sets: for tests, and for programs
/// that learn their endpoints some other way. Clones share the answer;
/// every change reaches the channel at once.
///
/// ```
/// use connect_client::resilience::balance::ManualResolver;
///
/// let resolver = ManualResolver::new(["127.0.0.1:8080".parse::<std::net::SocketAddr>().unwrap()]);
/// resolver.set(["127.0.0.1:8081".parse::<std::net::SocketAddr>().unwrap()]);
/// resolver.fail("registry down"); // the channel keeps 127.0.0.1:8081
/// ```
#[derive(Clone, Debug)]
pub struct ManualResolver {
    answer: Arc<Mutex<Answer>>,
    changed: Arc<watch::Sender<u64>>,
}

#[derive(Clone, Debug)]
enum Answer {
    Endpoints(Vec<Endpoint>),
    Error(String),
}

impl ManualResolver {
    /// Answers `endpoints` until told otherwise.
    pub fn new<E: Into<Endpoint>>(endpoints: impl IntoIterator<Item = E>) -> Self {
        ManualResolver {
            answer: Arc::new(Mutex::new(Answer::Endpoints(
                endpoints.into_iter().map(Into::into).collect(),
            ))),
            changed: Arc::new(watch::channel(0).0),
        }
    }

    fn answer(&self, answer: Answer) {
        *self.answer.lock().unwrap_or_else(PoisonError::into_inner) = answer;
        self.changed.send_modify(|n| *n += 1);
    }

    /// Answers `endpoints` from now on (an empty list is an error to the
    /// channel, which keeps its last good set).
    pub fn set<E: Into<Endpoint>>(&self, endpoints: impl IntoIterator<Item = E>) {
        self.answer(Answer::Endpoints(
            endpoints.into_iter().map(Into::into).collect(),
        ));
    }

    /// Fails every resolution with `message` from now on.
    pub fn fail(&self, message: impl Into<String>) {
        self.answer(Answer::Error(message.into()));
    }
}

impl Resolve for ManualResolver {
    fn resolve(&self) -> BoxFuture<'_, Result<Vec<Endpoint>, BoxError>> {
        let answer = self
            .answer
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone();
        Box::pin(std::future::ready(match answer {
            Answer::Endpoints(list) => Ok(list),
            Answer::Error(message) => Err(message.into()),
        }))
    }

    fn changed(&self) -> BoxFuture<'_, ()> {
        let mut rx = self.changed.subscribe();
        Box::pin(async move {
            // The sender lives as long as `self`.
            let _ = rx.changed().await;
        })
    }
}

// ===== parsing =====

/// A string that is not an endpoint: see [`Endpoint`]'s `FromStr`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct EndpointParseError(String);

impl fmt::Display for EndpointParseError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for EndpointParseError {}

/// Parses `127.0.0.1:8080`, `[::1]:8080`, `http://127.0.0.1:8080` or
/// `https://10.0.0.1` (port 80 or 443 by default). Names are refused:
/// resolve them with a [`DnsResolver`].
///
/// ```
/// use connect_client::resilience::balance::Endpoint;
///
/// let e: Endpoint = "http://127.0.0.1:8080".parse().unwrap();
/// assert_eq!(e.addr().to_string(), "127.0.0.1:8080");
/// let e: Endpoint = "https://[::1]".parse().unwrap();
/// assert_eq!(e.addr().port(), 443);
/// assert!("http://example.com".parse::<Endpoint>().is_err());
/// ```
impl std::str::FromStr for Endpoint {
    type Err = EndpointParseError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        if let Ok(addr) = s.parse::<SocketAddr>() {
            return Ok(Endpoint::new(addr));
        }
        let bad = |why: &str| EndpointParseError(format!("`{s}` is not an endpoint: {why}"));
        let uri: http::Uri = s.parse().map_err(|e| bad(&format!("{e}")))?;
        let port = match (uri.port_u16(), uri.scheme_str()) {
            (Some(p), _) => p,
            (None, Some("https")) => 443,
            (None, Some("http")) => 80,
            _ => return Err(bad("no port and no http or https scheme")),
        };
        let host = uri.host().ok_or_else(|| bad("no host"))?;
        let ip = host
            .trim_start_matches('[')
            .trim_end_matches(']')
            .parse::<std::net::IpAddr>()
            .map_err(|_| bad("the host is not an IP address (resolve names with DnsResolver)"))?;
        Ok(Endpoint::new(SocketAddr::new(ip, port)))
    }
}

//! [`BalancedChannelBuilder`]: the settings of a balanced channel.

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use super::backoff::Backoff;
use super::channel::BalancedChannel;
use super::outlier::OutlierDetection;
use super::resolve::Resolve;
use crate::transport::connector::TcpSettings;

/// The HTTP version a balanced channel speaks to its endpoints.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub enum HttpVersion {
    /// HTTP/1.1 (over TLS: ALPN `http/1.1`), a pool of connections per
    /// endpoint: Connect and gRPC-Web only.
    Http1,
    /// HTTP/2 (h2c with prior knowledge, or TLS with ALPN `h2`),
    /// `connections_per_endpoint` connections per endpoint: every
    /// protocol. The default.
    #[default]
    Http2,
}

/// What the channel and its tasks read, fixed at build.
pub(crate) struct Settings {
    pub(crate) version: HttpVersion,
    pub(crate) tcp: TcpSettings,
    #[cfg(feature = "tls")]
    pub(crate) tls: Option<Arc<rustls::ClientConfig>>,
    pub(crate) server_name: Option<Arc<str>>,
    pub(crate) connections_per_endpoint: usize,
    pub(crate) connect_timeout: Duration,
    pub(crate) backoff: Backoff,
    pub(crate) resolve_interval: Duration,
    pub(crate) min_resolve_interval: Duration,
    pub(crate) resolve_timeout: Duration,
    pub(crate) outlier: Option<OutlierDetection>,
    pub(crate) default_rtt: Duration,
    pub(crate) decay: Duration,
    pub(crate) keep_alive_interval: Option<Duration>,
    pub(crate) keep_alive_timeout: Option<Duration>,
}

/// Settings for a [`BalancedChannel`], from [`BalancedChannel::builder`].
///
/// ```
/// use std::time::Duration;
///
/// use connect_client::resilience::balance::{Backoff, BalancedChannel, HttpVersion, StaticResolver};
///
/// let resolver = StaticResolver::new(["127.0.0.1:8080".parse::<std::net::SocketAddr>().unwrap()]);
/// let channel = BalancedChannel::builder(resolver)
///     .http_version(HttpVersion::Http2)
///     .connections_per_endpoint(2)
///     .backoff(Backoff::new(Duration::from_millis(100), Duration::from_secs(5)))
///     .build();
/// # drop(channel);
/// ```
#[must_use]
pub struct BalancedChannelBuilder {
    resolver: Arc<dyn Resolve>,
    version: HttpVersion,
    tcp: TcpSettings,
    #[cfg(feature = "tls")]
    tls: Option<crate::ClientTlsConfig>,
    server_name: Option<Arc<str>>,
    connections_per_endpoint: usize,
    connect_timeout: Duration,
    backoff: Backoff,
    resolve_interval: Duration,
    min_resolve_interval: Duration,
    resolve_timeout: Duration,
    outlier: Option<OutlierDetection>,
    default_rtt: Duration,
    decay: Duration,
    keep_alive_interval: Option<Duration>,
    keep_alive_timeout: Option<Duration>,
}

impl fmt::Debug for BalancedChannelBuilder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("BalancedChannelBuilder")
            .field("version", &self.version)
            .field("connections_per_endpoint", &self.connections_per_endpoint)
            .field("backoff", &self.backoff)
            .field("outlier", &self.outlier)
            .finish_non_exhaustive()
    }
}

impl BalancedChannelBuilder {
    pub(crate) fn new(resolver: Arc<dyn Resolve>) -> Self {
        BalancedChannelBuilder {
            resolver,
            version: HttpVersion::Http2,
            tcp: TcpSettings::default(),
            #[cfg(feature = "tls")]
            tls: None,
            server_name: None,
            connections_per_endpoint: 1,
            connect_timeout: Duration::from_secs(10),
            backoff: Backoff::default(),
            resolve_interval: Duration::from_secs(30),
            min_resolve_interval: Duration::from_secs(30),
            resolve_timeout: Duration::from_secs(10),
            outlier: Some(OutlierDetection::default()),
            default_rtt: Duration::from_millis(30),
            decay: Duration::from_secs(10),
            keep_alive_interval: None,
            keep_alive_timeout: None,
        }
    }

    /// HTTP/1.1 or HTTP/2 (default HTTP/2: h2c, or TLS with ALPN `h2`).
    pub fn http_version(mut self, version: HttpVersion) -> Self {
        self.version = version;
        self
    }

    /// Dials every endpoint over TLS configured by `tls` (feature `tls`).
    /// Each endpoint's certificate is checked against its own
    /// [server name](super::Endpoint::with_server_name), else the
    /// builder's [`server_name`](Self::server_name), else the host of the
    /// first call's URI (the logical target; a channel started by
    /// [`wait_until`](BalancedChannel::wait_until) before any call uses
    /// the endpoint's IP address).
    #[cfg(feature = "tls")]
    pub fn tls(mut self, tls: crate::ClientTlsConfig) -> Self {
        self.tls = Some(tls);
        self
    }

    /// The TLS server name for endpoints that have none of their own
    /// (default: the host of the first call's URI).
    pub fn server_name(mut self, name: impl Into<Arc<str>>) -> Self {
        self.server_name = Some(name.into());
        self
    }

    /// HTTP/2 connections per endpoint (default 1, at least 1): more when
    /// one connection's stream limit or lock is the bottleneck; a call
    /// takes the one with the fewest calls in flight. HTTP/1.1 endpoints
    /// keep a pool whatever this says.
    pub fn connections_per_endpoint(mut self, n: usize) -> Self {
        self.connections_per_endpoint = n.max(1);
        self
    }

    /// How long one dial (TCP, TLS, HTTP/2 handshake) may take (default
    /// 10 s); a call waiting for a first connection waits about as long.
    pub fn connect_timeout(mut self, timeout: Duration) -> Self {
        self.connect_timeout = timeout;
        self.tcp.connect_timeout = Some(timeout);
        self
    }

    /// The reconnect backoff (default gRPC's: 1 s, ×1.6, ±20 %, at most
    /// 120 s).
    pub fn backoff(mut self, backoff: Backoff) -> Self {
        self.backoff = backoff;
        self
    }

    /// How often the resolver is asked again (default 30 s).
    pub fn resolve_interval(mut self, interval: Duration) -> Self {
        self.resolve_interval = interval;
        self
    }

    /// The least time between two resolutions that connection failures
    /// ask for (default 30 s, as gRPC's DNS resolver).
    pub fn min_resolve_interval(mut self, interval: Duration) -> Self {
        self.min_resolve_interval = interval;
        self
    }

    /// How long one resolution may take (default 10 s): a resolver that
    /// does not answer counts as failing.
    pub fn resolve_timeout(mut self, timeout: Duration) -> Self {
        self.resolve_timeout = timeout;
        self
    }

    /// Outlier ejection (gRFC A50; default [`OutlierDetection::default`]);
    /// `None` turns it off.
    pub fn outlier_detection(mut self, outlier: impl Into<Option<OutlierDetection>>) -> Self {
        self.outlier = outlier.into();
        self
    }

    /// The latency assumed of an endpoint before its first answer
    /// (default 30 ms), and the time constant with which the peak-EWMA
    /// estimate forgets (default 10 s).
    pub fn load_estimate(mut self, default_rtt: Duration, decay: Duration) -> Self {
        self.default_rtt = default_rtt;
        self.decay = decay;
        self
    }

    /// HTTP/2 keep-alive PINGs this often, and how long to wait for their
    /// answer before the connection counts as dead (default: none).
    pub fn keep_alive(mut self, interval: Duration, timeout: Duration) -> Self {
        self.keep_alive_interval = Some(interval);
        self.keep_alive_timeout = Some(timeout);
        self
    }

    /// The channel. Building needs no runtime: the channel resolves and
    /// dials when its first call comes (or on
    /// [`wait_until`](BalancedChannel::wait_until)).
    pub fn build(self) -> BalancedChannel {
        #[cfg(feature = "tls")]
        let tls = self.tls.as_ref().map(|tls| {
            use crate::transport::tls::{ALPN_H2, ALPN_HTTP1};
            let alpn: &[&[u8]] = match self.version {
                HttpVersion::Http1 => &[ALPN_HTTP1],
                HttpVersion::Http2 => &[ALPN_H2],
            };
            tls.rustls_config(alpn)
        });
        let mut tcp = self.tcp;
        tcp.connect_timeout = Some(self.connect_timeout);
        let settings = Settings {
            version: self.version,
            tcp,
            #[cfg(feature = "tls")]
            tls,
            server_name: self.server_name,
            connections_per_endpoint: self.connections_per_endpoint,
            connect_timeout: self.connect_timeout,
            backoff: self.backoff,
            resolve_interval: self.resolve_interval,
            min_resolve_interval: self.min_resolve_interval,
            resolve_timeout: self.resolve_timeout,
            outlier: self.outlier,
            default_rtt: self.default_rtt,
            decay: self.decay,
            keep_alive_interval: self.keep_alive_interval,
            keep_alive_timeout: self.keep_alive_timeout,
        };
        BalancedChannel::new(self.resolver, settings)
    }
}

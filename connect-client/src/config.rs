//! [`ClientConfig`]: what every call of a client shares.

use std::fmt;
use std::time::Duration;

use connect_codec::compression::CompressionRegistry;
use connect_core::{Codec, ConnectError, Protocol};
use connect_layers::CallSettings;
use connect_layers::get::client::GetPolicy;
use connect_layers::stack::client::ClientStackConfig;
use http::{HeaderMap, HeaderName, HeaderValue, Uri};

use crate::options::{CallOptions, append_header};

/// A client's configuration: where the server is, how to talk to it, and
/// the defaults every call starts from ([`CallOptions`] override them per
/// call).
///
/// ```
/// use std::time::Duration;
/// use connect_client::ClientConfig;
///
/// let config = ClientConfig::new("http://127.0.0.1:8080".parse().unwrap())
///     .grpc()
///     .json()
///     .send_compression("gzip")
///     .default_timeout(Duration::from_secs(5))
///     .default_header("x-api-key", "secret");
/// assert_eq!(config.protocol(), connect_core::Protocol::Grpc);
/// ```
///
/// Header names and values are anything that converts to `HeaderName` and
/// `HeaderValue`: strings, or the typed values themselves. An invalid one
/// does not panic and is not dropped: it is kept, reported by
/// [`header_error`](Self::header_error), and every call fails with it
/// (`invalid_argument`), so a missing `authorization` header cannot go
/// unnoticed.
///
/// ```
/// use connect_client::ClientConfig;
///
/// let config = ClientConfig::new("http://127.0.0.1:8080".parse().unwrap())
///     .default_header("authorization", "Bearer a\nb");
/// let err = config.header_error().unwrap();
/// assert_eq!(err.code(), connect_core::Code::InvalidArgument);
/// assert!(err.message().contains("authorization"));
/// ```
#[derive(Clone, Debug)]
pub struct ClientConfig {
    pub(crate) stack: ClientStackConfig,
    pub(crate) settings: CallSettings,
    pub(crate) headers: HeaderMap,
    header_error: Option<ConnectError>,
}

impl ClientConfig {
    /// A Connect client with the proto codec for the server at `base_uri`
    /// (scheme, authority and an optional path prefix).
    pub fn new(base_uri: Uri) -> Self {
        ClientConfig {
            stack: ClientStackConfig::new(base_uri),
            settings: CallSettings::default(),
            headers: HeaderMap::new(),
            header_error: None,
        }
    }

    /// The protocol on the wire (Connect by default).
    pub fn protocol(&self) -> Protocol {
        self.stack.get_protocol()
    }

    /// The message codec (proto by default).
    pub fn codec(&self) -> Codec {
        self.stack.get_codec()
    }

    /// The server's base URI.
    pub fn base_uri(&self) -> &Uri {
        self.stack.base_uri()
    }

    /// Uses `protocol`.
    pub fn with_protocol(mut self, protocol: Protocol) -> Self {
        self.stack = self.stack.protocol(protocol);
        self
    }

    /// Uses the Connect protocol (the default).
    pub fn connect(self) -> Self {
        self.with_protocol(Protocol::Connect)
    }

    /// Uses gRPC (HTTP/2 channels only).
    pub fn grpc(self) -> Self {
        self.with_protocol(Protocol::Grpc)
    }

    /// Uses gRPC-Web, binary mode.
    pub fn grpc_web(mut self) -> Self {
        self.stack = self.stack.web_text(false);
        self.with_protocol(Protocol::GrpcWeb)
    }

    /// Uses gRPC-Web, text (base64) mode.
    pub fn grpc_web_text(mut self) -> Self {
        self.stack = self.stack.web_text(true);
        self.with_protocol(Protocol::GrpcWeb)
    }

    /// Uses `codec`.
    pub fn with_codec(mut self, codec: Codec) -> Self {
        self.stack = self.stack.codec(codec);
        self
    }

    /// Uses the JSON codec.
    pub fn json(self) -> Self {
        self.with_codec(Codec::Json)
    }

    /// Uses the binary proto codec (the default).
    pub fn proto(self) -> Self {
        self.with_codec(Codec::Proto)
    }

    /// Compresses request messages with `encoding` (one of the registry's,
    /// e.g. `"gzip"` or `"zstd"`; `"identity"` turns it off).
    pub fn send_compression(mut self, encoding: &'static str) -> Self {
        self.settings.send_compression = Some(encoding);
        self
    }

    /// Messages smaller than `bytes` are sent uncompressed (default 0).
    pub fn compress_min_bytes(mut self, bytes: usize) -> Self {
        self.settings.compress_min_bytes = bytes;
        self
    }

    /// The encodings the client can send and accepts in responses (default:
    /// the built-in gzip and zstd that are compiled in).
    pub fn compressions(mut self, registry: CompressionRegistry) -> Self {
        self.stack = self.stack.registry(registry);
        self
    }

    /// The largest response message accepted, after decompression
    /// (default 4 MiB); larger ones fail with `resource_exhausted`.
    pub fn read_max_bytes(mut self, bytes: usize) -> Self {
        self.settings.read_max_bytes = bytes;
        self
    }

    /// The largest request message sent (default unlimited).
    pub fn send_max_bytes(mut self, bytes: usize) -> Self {
        self.settings.send_max_bytes = bytes;
        self
    }

    /// The timeout of calls that set none.
    pub fn default_timeout(mut self, timeout: Duration) -> Self {
        self.settings.timeout = Some(timeout);
        self
    }

    /// The timeout of calls that set none: [`default_timeout`](Self::default_timeout)
    /// by the original `connectrpc` crate's newer name.
    pub fn with_default_timeout(self, timeout: Duration) -> Self {
        self.default_timeout(timeout)
    }

    /// A header sent with every call (appended to any earlier value). The
    /// name and value are anything convertible to `HeaderName` and
    /// `HeaderValue` (`&str`, `String`, the typed values...); an invalid
    /// one makes every call fail (see [`header_error`](Self::header_error)).
    pub fn default_header<N, V>(mut self, name: N, value: V) -> Self
    where
        N: TryInto<HeaderName>,
        N::Error: fmt::Display,
        V: TryInto<HeaderValue>,
        V::Error: fmt::Display,
    {
        append_header(&mut self.headers, &mut self.header_error, name, value);
        self
    }

    /// [`default_header`](Self::default_header) by the original
    /// `connectrpc` crate's newer name.
    pub fn with_default_header<N, V>(self, name: N, value: V) -> Self
    where
        N: TryInto<HeaderName>,
        N::Error: fmt::Display,
        V: TryInto<HeaderValue>,
        V::Error: fmt::Display,
    {
        self.default_header(name, value)
    }

    /// The first default header that was not valid, as the
    /// `invalid_argument` error every call fails with while it is set.
    pub fn header_error(&self) -> Option<&ConnectError> {
        self.header_error.as_ref()
    }

    /// When unary calls to `NO_SIDE_EFFECTS` methods use Connect GET.
    pub fn get_policy(mut self, policy: GetPolicy) -> Self {
        self.stack = self.stack.get_policy(policy);
        self
    }

    /// The longest GET URL before a call falls back to POST (default
    /// 8 KiB).
    pub fn max_get_url_bytes(mut self, bytes: usize) -> Self {
        self.stack = self.stack.max_get_url_bytes(bytes);
        self
    }

    /// The settings and headers of one call: the defaults, with `options`
    /// applied over them; or the error of an invalid header in either.
    pub(crate) fn resolve(
        &self,
        options: CallOptions,
    ) -> Result<(CallSettings, HeaderMap, http::Extensions), ConnectError> {
        if let Some(e) = self.header_error.as_ref().or(options.header_error.as_ref()) {
            return Err(e.clone());
        }
        let mut settings = self.settings.clone();
        if let Some(t) = options.timeout {
            settings.timeout = Some(t);
        }
        if let Some(c) = options.send_compression {
            settings.send_compression = c;
        }
        if let Some(n) = options.read_max_bytes {
            settings.read_max_bytes = n;
        }
        if let Some(n) = options.send_max_bytes {
            settings.send_max_bytes = n;
        }
        let headers = if options.headers.is_empty() {
            self.headers.clone()
        } else if self.headers.is_empty() {
            options.headers
        } else {
            let mut merged = self.headers.clone();
            for name in options.headers.keys() {
                merged.remove(name);
            }
            for (name, value) in &options.headers {
                merged.append(name.clone(), value.clone());
            }
            merged
        };
        Ok((settings, headers, options.extensions))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn call_options_win_over_defaults() {
        let config = ClientConfig::new(Uri::from_static("http://h"))
            .default_timeout(Duration::from_secs(9))
            .send_compression("gzip")
            .default_header(
                HeaderName::from_static("x-a"),
                HeaderValue::from_static("1"),
            )
            .default_header(
                HeaderName::from_static("x-b"),
                HeaderValue::from_static("1"),
            );
        let options = CallOptions::new()
            .timeout(Duration::from_secs(1))
            .no_compression()
            .header(
                HeaderName::from_static("x-a"),
                HeaderValue::from_static("2"),
            )
            .read_max_bytes(10);
        let (s, h, _) = config.resolve(options).unwrap();
        assert_eq!(s.timeout, Some(Duration::from_secs(1)));
        assert_eq!(s.send_compression, None);
        assert_eq!(s.read_max_bytes, 10);
        assert_eq!(h.get_all("x-a").iter().collect::<Vec<_>>(), ["2"]);
        assert_eq!(h["x-b"], "1");
        let (s, h, _) = config.resolve(CallOptions::default()).unwrap();
        assert_eq!(s.timeout, Some(Duration::from_secs(9)));
        assert_eq!(s.send_compression, Some("gzip"));
        assert_eq!(h.len(), 2);
    }

    #[test]
    fn string_headers_are_checked_and_invalid_ones_fail_calls() {
        let config = ClientConfig::new(Uri::from_static("http://h"))
            .with_default_timeout(Duration::from_secs(3))
            .default_header("authorization", "Bearer x")
            .with_default_header(String::from("x-n"), String::from("1"));
        assert!(config.header_error().is_none());
        let (s, h, _) = config.resolve(CallOptions::new()).unwrap();
        assert_eq!(s.timeout, Some(Duration::from_secs(3)));
        assert_eq!(h["authorization"], "Bearer x");
        assert_eq!(h["x-n"], "1");

        let options = CallOptions::new().with_header("x-a", "\u{7f}");
        let err = config.resolve(options).unwrap_err();
        assert_eq!(err.code(), connect_core::Code::InvalidArgument);
        assert!(err.message().contains("x-a"), "{}", err.message());

        let bad = config.clone().default_header("no spaces", "v");
        let err = bad.resolve(CallOptions::new()).unwrap_err();
        assert!(
            err.message().contains("invalid header name"),
            "{}",
            err.message()
        );
        // The first error is kept.
        let worse = bad.default_header("x-ok", "a\rb");
        assert!(worse.header_error().unwrap().message().contains("name"));
    }
}

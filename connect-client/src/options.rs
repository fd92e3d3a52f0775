//! [`CallOptions`]: per-call settings that win over the client's.

use std::time::Duration;

use http::{Extensions, HeaderMap, HeaderName, HeaderValue};

/// Options for one call. Whatever is set here wins over the
/// [`ClientConfig`](crate::ClientConfig)'s defaults; headers set here
/// replace default headers of the same name.
///
/// ```
/// use std::time::Duration;
/// use connect_client::CallOptions;
///
/// let options = CallOptions::new()
///     .timeout(Duration::from_millis(250))
///     .header("x-request-id".parse().unwrap(), "42".parse().unwrap())
///     .compression("zstd")
///     .read_max_bytes(1 << 20);
/// # drop(options);
/// ```
#[derive(Clone, Debug, Default)]
pub struct CallOptions {
    pub(crate) timeout: Option<Duration>,
    pub(crate) headers: HeaderMap,
    pub(crate) send_compression: Option<Option<&'static str>>,
    pub(crate) read_max_bytes: Option<usize>,
    pub(crate) send_max_bytes: Option<usize>,
    pub(crate) extensions: Extensions,
}

impl CallOptions {
    /// No options: the client's defaults apply.
    pub fn new() -> Self {
        Self::default()
    }

    /// The call's timeout: sent to the server and enforced locally.
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.timeout = Some(timeout);
        self
    }

    /// Adds a request header (appended to earlier values set here).
    pub fn header(mut self, name: HeaderName, value: HeaderValue) -> Self {
        self.headers.append(name, value);
        self
    }

    /// The request headers set so far, to edit.
    pub fn headers_mut(&mut self) -> &mut HeaderMap {
        &mut self.headers
    }

    /// Compresses this call's request messages with `encoding`.
    pub fn compression(mut self, encoding: &'static str) -> Self {
        self.send_compression = Some(Some(encoding));
        self
    }

    /// Sends this call's request messages uncompressed.
    pub fn no_compression(mut self) -> Self {
        self.send_compression = Some(None);
        self
    }

    /// The largest response message this call accepts.
    pub fn read_max_bytes(mut self, bytes: usize) -> Self {
        self.read_max_bytes = Some(bytes);
        self
    }

    /// The largest request message this call sends.
    pub fn send_max_bytes(mut self, bytes: usize) -> Self {
        self.send_max_bytes = Some(bytes);
        self
    }

    /// Extensions carried on the HTTP request, for the channel's layers.
    pub fn extensions_mut(&mut self) -> &mut Extensions {
        &mut self.extensions
    }
}

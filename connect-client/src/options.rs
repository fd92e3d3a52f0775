//! [`CallOptions`]: per-call settings that win over the client's.

use std::fmt;
use std::time::Duration;

use connect_core::ConnectError;
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
///
/// The `with_`-prefixed forms are the original `connectrpc` crate's names
/// for the same settings, and take header names and values as strings:
///
/// ```
/// use std::time::Duration;
/// use connect_client::CallOptions;
///
/// let options = CallOptions::default()
///     .with_timeout(Duration::from_secs(5))
///     .with_header("authorization", "Bearer secret")
///     .with_max_message_size(1 << 20)
///     .with_compression("gzip");
/// assert!(options.header_error().is_none());
///
/// // An invalid header is kept as an error, and the call fails with it
/// // (`invalid_argument`) instead of sending a request without the header.
/// let bad = CallOptions::default().with_header("bad header", "x");
/// assert_eq!(bad.header_error().unwrap().code(), connect_core::Code::InvalidArgument);
/// ```
#[derive(Clone, Debug, Default)]
pub struct CallOptions {
    pub(crate) timeout: Option<Duration>,
    pub(crate) headers: HeaderMap,
    pub(crate) send_compression: Option<Option<&'static str>>,
    pub(crate) read_max_bytes: Option<usize>,
    pub(crate) send_max_bytes: Option<usize>,
    pub(crate) extensions: Extensions,
    pub(crate) header_error: Option<ConnectError>,
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

    /// The call's timeout: [`timeout`](Self::timeout) by the original
    /// `connectrpc` crate's name.
    pub fn with_timeout(self, timeout: Duration) -> Self {
        self.timeout(timeout)
    }

    /// Adds a request header given as anything that converts to a header
    /// name and value (`&str`, `String`, `HeaderName`, `HeaderValue`...).
    /// A name or value that is not valid in HTTP is not dropped: the call
    /// fails with `invalid_argument` naming it (see
    /// [`header_error`](Self::header_error)).
    pub fn with_header<N, V>(mut self, name: N, value: V) -> Self
    where
        N: TryInto<HeaderName>,
        N::Error: fmt::Display,
        V: TryInto<HeaderValue>,
        V::Error: fmt::Display,
    {
        append_header(&mut self.headers, &mut self.header_error, name, value);
        self
    }

    /// The largest response message this call accepts:
    /// [`read_max_bytes`](Self::read_max_bytes) by the original crate's
    /// name.
    pub fn with_max_message_size(self, bytes: usize) -> Self {
        self.read_max_bytes(bytes)
    }

    /// Compresses this call's request messages with `encoding`:
    /// [`compression`](Self::compression) by the original crate's name.
    pub fn with_compression(self, encoding: &'static str) -> Self {
        self.compression(encoding)
    }

    /// The first header given to [`with_header`](Self::with_header) that
    /// was not valid, as the error a call with these options fails with.
    pub fn header_error(&self) -> Option<&ConnectError> {
        self.header_error.as_ref()
    }

    /// Extensions carried on the HTTP request, for the channel's layers.
    pub fn extensions_mut(&mut self) -> &mut Extensions {
        &mut self.extensions
    }
}

/// A header name and value from anything convertible, or the
/// `invalid_argument` error saying which part is not valid.
/// Appends `name: value` to `headers`, or keeps the first error in
/// `error` (the call fails with it, so a bad header is never dropped
/// silently).
pub(crate) fn append_header<N, V>(
    headers: &mut HeaderMap,
    error: &mut Option<ConnectError>,
    name: N,
    value: V,
) where
    N: TryInto<HeaderName>,
    N::Error: fmt::Display,
    V: TryInto<HeaderValue>,
    V::Error: fmt::Display,
{
    match parse_header(name, value) {
        Ok((name, value)) => {
            headers.append(name, value);
        }
        Err(e) => {
            error.get_or_insert(e);
        }
    }
}

fn parse_header<N, V>(name: N, value: V) -> Result<(HeaderName, HeaderValue), ConnectError>
where
    N: TryInto<HeaderName>,
    N::Error: fmt::Display,
    V: TryInto<HeaderValue>,
    V::Error: fmt::Display,
{
    let name = name
        .try_into()
        .map_err(|e| ConnectError::invalid_argument(format!("invalid header name: {e}")))?;
    let value = value.try_into().map_err(|e| {
        ConnectError::invalid_argument(format!("invalid value for header {name}: {e}"))
    })?;
    Ok((name, value))
}

//! The one typed error every protocol boundary speaks.

use std::fmt;

use bytes::Bytes;
use http::HeaderMap;

use crate::Code;

/// One error detail: a `google.protobuf.Any`, a fully-qualified message type
/// name and that message's encoded bytes.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ErrorDetail {
    type_name: String,
    value: Bytes,
}

impl ErrorDetail {
    /// A detail of message type `type_name` (for example
    /// `"google.rpc.RetryInfo"`; a `type.googleapis.com/` prefix is
    /// stripped) holding the encoded message `value`.
    pub fn new(type_name: impl Into<String>, value: impl Into<Bytes>) -> Self {
        let mut type_name = type_name.into();
        if let Some(rest) = type_name.strip_prefix("type.googleapis.com/") {
            type_name = rest.to_owned();
        }
        ErrorDetail {
            type_name,
            value: value.into(),
        }
    }

    /// The fully-qualified message type name, without a URL prefix.
    pub fn type_name(&self) -> &str {
        &self.type_name
    }

    /// The `google.protobuf.Any` type URL (`type.googleapis.com/<name>`).
    pub fn type_url(&self) -> String {
        format!("type.googleapis.com/{}", self.type_name)
    }

    /// The encoded message.
    pub fn value(&self) -> &Bytes {
        &self.value
    }
}

#[derive(Clone, Debug)]
struct Inner {
    code: Code,
    message: String,
    details: Vec<ErrorDetail>,
    headers: HeaderMap,
    trailers: HeaderMap,
    unprocessed: bool,
}

/// An RPC error: a [`Code`], a message, details and metadata.
///
/// The same value is written as a Connect JSON error, a Connect end-of-stream
/// message, gRPC status trailers or a gRPC-Web trailer frame, depending on
/// the protocol of the call. It is one pointer wide, so `Result<T,
/// ConnectError>` stays small on the hot path.
///
/// ```
/// use connect_core::{Code, ConnectError, ErrorDetail};
///
/// let err = ConnectError::new(Code::NotFound, "no such user")
///     .with_detail(ErrorDetail::new("acme.v1.UserId", vec![8, 42]));
/// assert_eq!(err.code(), Code::NotFound);
/// assert_eq!(err.message(), "no such user");
/// assert_eq!(err.details()[0].type_url(), "type.googleapis.com/acme.v1.UserId");
/// ```
#[derive(Clone)]
pub struct ConnectError {
    // The code lives behind the pointer with the rest: a `(u8, Box)` pair
    // would put a lone byte at offset 8 of every `Result<_, ConnectError>`
    // and have results copied in odd-sized pieces on the hot path.
    inner: Box<Inner>,
}

// ===== impl ConnectError =====

impl ConnectError {
    /// An error with `code` and a human-readable `message`.
    pub fn new(code: Code, message: impl Into<String>) -> Self {
        ConnectError {
            inner: Box::new(Inner {
                code,
                message: message.into(),
                details: Vec::new(),
                headers: HeaderMap::new(),
                trailers: HeaderMap::new(),
                unprocessed: false,
            }),
        }
    }

    /// An error with `code` and no message.
    pub fn from_code(code: Code) -> Self {
        Self::new(code, String::new())
    }

    /// The error's code.
    pub fn code(&self) -> Code {
        self.inner.code
    }

    /// The error's message; empty when none was given.
    pub fn message(&self) -> &str {
        &self.inner.message
    }

    /// The error's details, in order.
    pub fn details(&self) -> &[ErrorDetail] {
        &self.inner.details
    }

    /// Adds a detail.
    pub fn with_detail(mut self, detail: ErrorDetail) -> Self {
        self.inner.details.push(detail);
        self
    }

    /// Adds a detail in place.
    pub fn add_detail(&mut self, detail: ErrorDetail) {
        self.inner.details.push(detail);
    }

    /// Response headers to send with the error.
    pub fn headers(&self) -> &HeaderMap {
        &self.inner.headers
    }

    /// Response headers to send with the error, mutably.
    pub fn headers_mut(&mut self) -> &mut HeaderMap {
        &mut self.inner.headers
    }

    /// Response trailers to send with the error.
    pub fn trailers(&self) -> &HeaderMap {
        &self.inner.trailers
    }

    /// Response trailers to send with the error, mutably.
    pub fn trailers_mut(&mut self) -> &mut HeaderMap {
        &mut self.inner.trailers
    }

    /// Replaces the message, keeping everything else.
    pub fn with_message(mut self, message: impl Into<String>) -> Self {
        self.inner.message = message.into();
        self
    }

    /// Marks the error as one where the request provably never reached
    /// the server's application: the connection was refused or failed
    /// before the request was written, the HTTP/2 stream was refused
    /// (`REFUSED_STREAM`), or the server's GOAWAY named a last stream
    /// below it. Transports set it; retry policies may then send the call
    /// again anywhere, whatever the method's idempotency (gRFC A6's
    /// transparent retries). Never written on the wire.
    ///
    /// ```
    /// use connect_core::ConnectError;
    ///
    /// let err = ConnectError::unavailable("connection refused").unprocessed();
    /// assert!(err.is_unprocessed());
    /// assert!(!ConnectError::unavailable("reset").is_unprocessed());
    /// ```
    pub fn unprocessed(mut self) -> Self {
        self.inner.unprocessed = true;
        self
    }

    /// Whether the request provably never reached the server's
    /// application (see [`unprocessed`](Self::unprocessed)).
    pub fn is_unprocessed(&self) -> bool {
        self.inner.unprocessed
    }
}

/// Defines one constructor per error code: `$name(message)` is
/// `ConnectError::new(Code::$code, message)`.
macro_rules! code_constructors {
    ($($(#[$attr:meta])* $name:ident => $code:ident;)*) => {
        impl ConnectError {
            $(
                #[doc = concat!("An error with code [`Code::", stringify!($code), "`] and `message`.")]
                $(#[$attr])*
                pub fn $name(message: impl Into<String>) -> Self {
                    Self::new(Code::$code, message)
                }
            )*
        }
    };
}

code_constructors! {
    canceled => Canceled;
    unknown => Unknown;
    invalid_argument => InvalidArgument;
    deadline_exceeded => DeadlineExceeded;
    /// ```
    /// use connect_core::{Code, ConnectError};
    ///
    /// let err = ConnectError::not_found("no such user");
    /// assert_eq!(err.code(), Code::NotFound);
    /// assert_eq!(err.to_string(), "not_found: no such user");
    /// ```
    not_found => NotFound;
    already_exists => AlreadyExists;
    permission_denied => PermissionDenied;
    resource_exhausted => ResourceExhausted;
    failed_precondition => FailedPrecondition;
    aborted => Aborted;
    out_of_range => OutOfRange;
    unimplemented => Unimplemented;
    internal => Internal;
    unavailable => Unavailable;
    data_loss => DataLoss;
    unauthenticated => Unauthenticated;
}

impl fmt::Debug for ConnectError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ConnectError")
            .field("code", &self.inner.code)
            .field("message", &self.inner.message)
            .field("details", &self.inner.details)
            .field("headers", &self.inner.headers)
            .field("trailers", &self.inner.trailers)
            .field("unprocessed", &self.inner.unprocessed)
            .finish()
    }
}

impl fmt::Display for ConnectError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.inner.message.is_empty() {
            write!(f, "{}", self.inner.code)
        } else {
            write!(f, "{}: {}", self.inner.code, self.inner.message)
        }
    }
}

impl std::error::Error for ConnectError {}

impl From<Code> for ConnectError {
    fn from(code: Code) -> Self {
        ConnectError::from_code(code)
    }
}

impl ConnectError {
    /// Turns any boxed error into a `ConnectError`: a `ConnectError` anywhere
    /// in the `source()` chain is returned as is, an I/O timeout becomes
    /// `deadline_exceeded`, anything else `unknown` with the error's text.
    pub fn from_error(err: Box<dyn std::error::Error + Send + Sync + 'static>) -> Self {
        let err = match err.downcast::<ConnectError>() {
            Ok(e) => return *e,
            Err(e) => e,
        };
        if let Some(found) = ConnectError::find_in(&*err) {
            return found.clone();
        }
        if let Some(io) = chain(&*err).find_map(|e| e.downcast_ref::<std::io::Error>())
            && io.kind() == std::io::ErrorKind::TimedOut
        {
            return ConnectError::deadline_exceeded(io.to_string());
        }
        ConnectError::new(Code::Unknown, err.to_string())
    }

    /// The first `ConnectError` in `err`'s `source()` chain, `err`
    /// included: what a layer or body below reported, however wrapped.
    ///
    /// ```
    /// use connect_core::{Code, ConnectError};
    ///
    /// let boxed: Box<dyn std::error::Error + Send + Sync> = Box::new(ConnectError::aborted("stop"));
    /// assert_eq!(ConnectError::find_in(&*boxed).unwrap().code(), Code::Aborted);
    /// assert!(ConnectError::find_in(&std::io::Error::other("plain")).is_none());
    /// ```
    pub fn find_in<'a>(err: &'a (dyn std::error::Error + 'static)) -> Option<&'a ConnectError> {
        chain(err).find_map(|e| e.downcast_ref::<ConnectError>())
    }
}

/// `err` and its `source()`s, outermost first.
pub fn chain<'a>(
    err: &'a (dyn std::error::Error + 'static),
) -> impl Iterator<Item = &'a (dyn std::error::Error + 'static)> {
    std::iter::successors(Some(err), |e| e.source())
}

/// `err`'s text followed by its sources', joined with `": "`; a source
/// whose text the chain already holds is skipped (hyper's "error reading a
/// body from connection" alone does not say what broke).
///
/// ```
/// let inner = std::io::Error::other("connection reset");
/// #[derive(Debug)]
/// struct Outer(std::io::Error);
/// impl std::fmt::Display for Outer {
///     fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result { f.write_str("body failed") }
/// }
/// impl std::error::Error for Outer {
///     fn source(&self) -> Option<&(dyn std::error::Error + 'static)> { Some(&self.0) }
/// }
/// assert_eq!(connect_core::error::chain_text(&Outer(inner)), "body failed: connection reset");
/// ```
pub fn chain_text(err: &(dyn std::error::Error + 'static)) -> String {
    let mut text = err.to_string();
    for e in chain(err).skip(1) {
        let next = e.to_string();
        if !next.is_empty() && !text.contains(&next) {
            text.push_str(": ");
            text.push_str(&next);
        }
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug)]
    struct Wrapper(ConnectError);
    impl fmt::Display for Wrapper {
        fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            f.write_str("wrapped")
        }
    }
    impl std::error::Error for Wrapper {
        fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
            Some(&self.0)
        }
    }

    #[test]
    fn from_error_finds_connect_errors_in_the_chain() {
        let e = ConnectError::from_error(Box::new(Wrapper(ConnectError::new(Code::Aborted, "x"))));
        assert_eq!(e.code(), Code::Aborted);
        let e = ConnectError::from_error("plain".into());
        assert_eq!(e.code(), Code::Unknown);
        assert_eq!(e.message(), "plain");
    }

    #[test]
    fn detail_strips_type_url_prefix() {
        let d = ErrorDetail::new("type.googleapis.com/a.B", Bytes::new());
        assert_eq!(d.type_name(), "a.B");
        assert_eq!(d.type_url(), "type.googleapis.com/a.B");
    }

    #[test]
    fn a_constructor_per_code() {
        let made = [
            ConnectError::canceled("m"),
            ConnectError::unknown("m"),
            ConnectError::invalid_argument("m"),
            ConnectError::deadline_exceeded("m"),
            ConnectError::not_found("m"),
            ConnectError::already_exists("m"),
            ConnectError::permission_denied("m"),
            ConnectError::resource_exhausted("m"),
            ConnectError::failed_precondition("m"),
            ConnectError::aborted("m"),
            ConnectError::out_of_range("m"),
            ConnectError::unimplemented("m"),
            ConnectError::internal("m"),
            ConnectError::unavailable("m"),
            ConnectError::data_loss("m"),
            ConnectError::unauthenticated(String::from("m")),
        ];
        // Every code but `Ok`, in order.
        assert_eq!(made.len(), Code::all().len() - 1);
        for (err, code) in made.iter().zip(&Code::all()[1..]) {
            assert_eq!(err.code(), *code);
            assert_eq!(err.message(), "m");
        }
    }

    #[test]
    fn display_and_size() {
        assert_eq!(
            ConnectError::from_code(Code::Internal).to_string(),
            "internal"
        );
        assert_eq!(
            ConnectError::invalid_argument("bad").to_string(),
            "invalid_argument: bad"
        );
        assert_eq!(
            std::mem::size_of::<ConnectError>(),
            std::mem::size_of::<usize>()
        );
    }
}

//! Transport failures as `ConnectError`s.

use std::error::Error;
use std::io;

use connect_core::{Code, ConnectError};

/// An error's text followed by its sources', joined with `": "`; a source
/// whose text the chain already holds is skipped.
pub(crate) fn chain_text(err: &(dyn Error + 'static)) -> String {
    let mut text = err.to_string();
    let mut source = err.source();
    while let Some(e) = source {
        let next = e.to_string();
        if !next.is_empty() && !text.contains(&next) {
            text.push_str(": ");
            text.push_str(&next);
        }
        source = e.source();
    }
    text
}

/// The first `ConnectError` in `err`'s chain (`err` included).
fn find_connect_error<'a>(err: &'a (dyn Error + 'static)) -> Option<&'a ConnectError> {
    let mut source = Some(err);
    while let Some(e) = source {
        if let Some(found) = e.downcast_ref::<ConnectError>() {
            return Some(found);
        }
        source = e.source();
    }
    None
}

/// The kind of the first I/O error in `err`'s chain.
fn io_kind(err: &(dyn Error + 'static)) -> Option<io::ErrorKind> {
    let mut source = Some(err);
    while let Some(e) = source {
        if let Some(io) = e.downcast_ref::<io::Error>() {
            return Some(io.kind());
        }
        source = e.source();
    }
    None
}

/// A failure to send a request or receive its response: a `ConnectError`
/// in the chain (from the connector or the request body) as is, anything
/// else `unavailable`.
pub(crate) fn transport(err: &(dyn Error + 'static)) -> ConnectError {
    match find_connect_error(err) {
        Some(found) => found.clone(),
        None => unavailable("transport error", err),
    }
}

/// A failure to open a TCP connection to `authority`: `unavailable`,
/// saying whether it was refused or timed out.
pub(crate) fn tcp_connect(authority: &str, err: &(dyn Error + 'static)) -> ConnectError {
    let what = match io_kind(err) {
        Some(io::ErrorKind::ConnectionRefused) => "connection refused",
        Some(io::ErrorKind::TimedOut) => "connect timeout",
        _ => "connection failed",
    };
    unavailable(&format!("{what}: {authority}"), err)
}

/// `unavailable` with `context: <err's chain>` as the message.
pub(crate) fn unavailable(context: &str, err: &(dyn Error + 'static)) -> ConnectError {
    ConnectError::new(Code::Unavailable, format!("{context}: {}", chain_text(err)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug)]
    struct Outer(io::Error);

    impl std::fmt::Display for Outer {
        fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            f.write_str("tcp connect error")
        }
    }

    impl Error for Outer {
        fn source(&self) -> Option<&(dyn Error + 'static)> {
            Some(&self.0)
        }
    }

    #[test]
    fn refused_connections_say_so() {
        let err = Outer(io::Error::new(io::ErrorKind::ConnectionRefused, "refused"));
        let e = tcp_connect("127.0.0.1:1", &err);
        assert_eq!(e.code(), Code::Unavailable);
        assert_eq!(
            e.message(),
            "connection refused: 127.0.0.1:1: tcp connect error: refused"
        );
    }

    #[test]
    fn connect_errors_in_the_chain_pass_through() {
        #[derive(Debug)]
        struct Wrap(ConnectError);
        impl std::fmt::Display for Wrap {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str("body error")
            }
        }
        impl Error for Wrap {
            fn source(&self) -> Option<&(dyn Error + 'static)> {
                Some(&self.0)
            }
        }
        let err = Wrap(ConnectError::new(Code::Aborted, "stop"));
        assert_eq!(transport(&err).code(), Code::Aborted);
        let err = io::Error::other("reset");
        let e = transport(&err);
        assert_eq!(e.code(), Code::Unavailable);
        assert_eq!(e.message(), "transport error: reset");
    }
}

//! Transport failures as `ConnectError`s.

use std::error::Error;
use std::io;

use connect_core::error::{chain, chain_text};
use connect_core::{Code, ConnectError};

/// The kind of the first I/O error in `err`'s chain.
fn io_kind(err: &(dyn Error + 'static)) -> Option<io::ErrorKind> {
    chain(err)
        .find_map(|e| e.downcast_ref::<io::Error>())
        .map(io::Error::kind)
}

/// A failure to send a request or receive its response: a `ConnectError`
/// in the chain (from the connector or the request body) as is, a timeout
/// (hyper's, or an I/O `TimedOut`) `deadline_exceeded`, an HTTP/2 stream
/// reset by its reason, anything else `unavailable`.
pub(crate) fn transport(err: &(dyn Error + 'static)) -> ConnectError {
    classify("transport error", err)
}

/// A response body that failed mid-way, classified like [`transport`].
pub(crate) fn body(err: &(dyn Error + 'static)) -> ConnectError {
    classify("response body failed", err)
}

fn classify(context: &str, err: &(dyn Error + 'static)) -> ConnectError {
    let classified = classify_inner(context, err);
    if !classified.is_unprocessed() && unprocessed(err) {
        classified.unprocessed()
    } else {
        classified
    }
}

/// Whether `err`'s chain proves the server's application never saw the
/// request: a refused stream, a GOAWAY from the server (h2 fails only the
/// streams above the GOAWAY's last stream id with it), a request hyper
/// canceled before writing it, a call the pool dropped while it waited
/// for a connection, or a connection that was never opened.
pub(crate) fn unprocessed(err: &(dyn Error + 'static)) -> bool {
    if ConnectError::find_in(err).is_some_and(ConnectError::is_unprocessed) {
        return true;
    }
    chain(err).any(|e| {
        if let Some(h2) = e.downcast_ref::<h2::Error>() {
            return h2.reason() == Some(h2::Reason::REFUSED_STREAM) && h2.is_remote()
                || h2.is_go_away() && h2.is_remote();
        }
        if let Some(hyper) = e.downcast_ref::<hyper::Error>() {
            return hyper.is_canceled();
        }
        if let Some(pooled) = e.downcast_ref::<hyper_util::client::legacy::Error>() {
            return super::resend::checkout_canceled(pooled);
        }
        false
    })
}

fn classify_inner(context: &str, err: &(dyn Error + 'static)) -> ConnectError {
    if let Some(found) = ConnectError::find_in(err) {
        return found.clone();
    }
    if is_timeout(err) {
        return ConnectError::new(
            Code::DeadlineExceeded,
            format!("{context}: {}", chain_text(err)),
        );
    }
    match h2_reset_code(err) {
        Some(code) => ConnectError::new(code, format!("{context}: {}", chain_text(err))),
        None => unavailable(context, err),
    }
}

/// The code for an HTTP/2 stream reset or GOAWAY found in `err`'s chain,
/// by the gRPC over HTTP/2 table: GOAWAY → unavailable, `CANCEL` → canceled, `REFUSED_STREAM` →
/// unavailable (never processed), `ENHANCE_YOUR_CALM` → resource_exhausted,
/// `INADEQUATE_SECURITY` → permission_denied, protocol-level failures →
/// internal.
fn h2_reset_code(err: &(dyn Error + 'static)) -> Option<Code> {
    for e in chain(err) {
        if let Some(h2) = e.downcast_ref::<h2::Error>() {
            if h2.is_go_away() {
                // The server is going away: the call can go elsewhere.
                return Some(Code::Unavailable);
            }
            let reason = h2.reason()?;
            return Some(match reason {
                h2::Reason::CANCEL => Code::Canceled,
                h2::Reason::REFUSED_STREAM => Code::Unavailable,
                h2::Reason::ENHANCE_YOUR_CALM => Code::ResourceExhausted,
                h2::Reason::INADEQUATE_SECURITY => Code::PermissionDenied,
                _ => Code::Internal,
            });
        }
    }
    None
}

/// Whether `err`'s chain holds a timeout: hyper's (`is_timeout`) or an
/// I/O error of kind `TimedOut`. An HTTP/2 keep-alive PING left
/// unanswered is not one: it says the connection is dead (`unavailable`,
/// as gRPC has it), not that a call ran out of time.
fn is_timeout(err: &(dyn Error + 'static)) -> bool {
    if connect_layers::errors::client::is_keep_alive_failure(err) {
        return false;
    }
    chain(err).any(|e| {
        e.downcast_ref::<hyper::Error>()
            .is_some_and(hyper::Error::is_timeout)
            || e.downcast_ref::<io::Error>()
                .is_some_and(|io| io.kind() == io::ErrorKind::TimedOut)
    })
}

/// A failure to open a TCP connection to `authority`: `unavailable`
/// saying whether it was refused, or `deadline_exceeded` when the connect
/// timed out (like every timeout, so retry policies see it as one).
pub(crate) fn tcp_connect(authority: &str, err: &(dyn Error + 'static)) -> ConnectError {
    let what = match io_kind(err) {
        Some(io::ErrorKind::ConnectionRefused) => "connection refused",
        Some(io::ErrorKind::TimedOut) => {
            return ConnectError::new(
                Code::DeadlineExceeded,
                format!("connect timeout: {authority}: {}", chain_text(err)),
            )
            .unprocessed();
        }
        _ => "connection failed",
    };
    // Nothing was written: the request can go anywhere else.
    unavailable(&format!("{what}: {authority}"), err).unprocessed()
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
    fn stream_resets_map_by_reason() {
        for (reason, code) in [
            (h2::Reason::CANCEL, Code::Canceled),
            (h2::Reason::REFUSED_STREAM, Code::Unavailable),
            (h2::Reason::ENHANCE_YOUR_CALM, Code::ResourceExhausted),
            (h2::Reason::INADEQUATE_SECURITY, Code::PermissionDenied),
            (h2::Reason::INTERNAL_ERROR, Code::Internal),
            (h2::Reason::PROTOCOL_ERROR, Code::Internal),
        ] {
            let err = h2::Error::from(reason);
            assert_eq!(body(&err).code(), code, "{reason:?}");
            assert_eq!(transport(&err).code(), code, "{reason:?}");
        }
    }

    #[test]
    fn unprocessed_requests_are_marked() {
        let refused = h2::Error::from(h2::Reason::REFUSED_STREAM);
        // `From<Reason>` makes a local error: only the server's refusal
        // proves the server did not process the request.
        assert!(!transport(&refused).is_unprocessed());
        let err = Outer(io::Error::new(io::ErrorKind::ConnectionRefused, "refused"));
        assert!(tcp_connect("127.0.0.1:1", &err).is_unprocessed());
        let slow = Outer(io::Error::new(io::ErrorKind::TimedOut, "slow"));
        assert!(tcp_connect("127.0.0.1:1", &slow).is_unprocessed());
        // A connector's own ConnectError keeps its mark through the chain.
        #[derive(Debug)]
        struct Wrap(ConnectError);
        impl std::fmt::Display for Wrap {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str("connect")
            }
        }
        impl Error for Wrap {
            fn source(&self) -> Option<&(dyn Error + 'static)> {
                Some(&self.0)
            }
        }
        let wrapped = Wrap(ConnectError::unavailable("no route").unprocessed());
        assert!(transport(&wrapped).is_unprocessed());
        assert!(!transport(&io::Error::other("reset")).is_unprocessed());
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
    fn timeouts_are_deadline_exceeded() {
        let err = Outer(io::Error::new(io::ErrorKind::TimedOut, "slow"));
        let e = tcp_connect("10.0.0.1:80", &err);
        assert_eq!(e.code(), Code::DeadlineExceeded);
        assert_eq!(
            e.message(),
            "connect timeout: 10.0.0.1:80: tcp connect error: slow"
        );
        assert_eq!(transport(&err).code(), Code::DeadlineExceeded);
        assert_eq!(body(&err).code(), Code::DeadlineExceeded);
        let other = Outer(io::Error::other("reset"));
        assert_eq!(transport(&other).code(), Code::Unavailable);
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

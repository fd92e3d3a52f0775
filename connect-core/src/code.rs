//! RPC status codes shared by Connect, gRPC and gRPC-Web.

use std::fmt;
use std::str::FromStr;

/// The status of an RPC, as defined by gRPC and reused by Connect.
///
/// Each code has a Connect name ([`Code::as_str`]), a gRPC number
/// ([`Code::grpc_number`]) and the HTTP status a Connect unary error travels
/// with ([`Code::http_status`]).
///
/// ```
/// use connect_core::Code;
///
/// let code: Code = "resource_exhausted".parse().unwrap();
/// assert_eq!(code, Code::ResourceExhausted);
/// assert_eq!(code.grpc_number(), 8);
/// assert_eq!(code.http_status(), http::StatusCode::TOO_MANY_REQUESTS);
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Code {
    /// Not an error; returned on success (gRPC only).
    Ok,
    /// The operation was cancelled, typically by the caller.
    Canceled,
    /// An unknown error.
    Unknown,
    /// The client specified an invalid argument.
    InvalidArgument,
    /// The deadline expired before the operation could complete.
    DeadlineExceeded,
    /// Some requested entity was not found.
    NotFound,
    /// The entity a client attempted to create already exists.
    AlreadyExists,
    /// The caller does not have permission to execute the operation.
    PermissionDenied,
    /// Some resource has been exhausted (quota, message size, ...).
    ResourceExhausted,
    /// The system is not in a state required for the operation.
    FailedPrecondition,
    /// The operation was aborted, typically due to a concurrency issue.
    Aborted,
    /// The operation was attempted past the valid range.
    OutOfRange,
    /// The operation is not implemented or not supported.
    Unimplemented,
    /// An invariant expected by the system has been broken.
    Internal,
    /// The service is currently unavailable.
    Unavailable,
    /// Unrecoverable data loss or corruption.
    DataLoss,
    /// The request does not have valid authentication credentials.
    Unauthenticated,
}

const ALL: [Code; 17] = [
    Code::Ok,
    Code::Canceled,
    Code::Unknown,
    Code::InvalidArgument,
    Code::DeadlineExceeded,
    Code::NotFound,
    Code::AlreadyExists,
    Code::PermissionDenied,
    Code::ResourceExhausted,
    Code::FailedPrecondition,
    Code::Aborted,
    Code::OutOfRange,
    Code::Unimplemented,
    Code::Internal,
    Code::Unavailable,
    Code::DataLoss,
    Code::Unauthenticated,
];

// ===== impl Code =====

impl Code {
    /// Every code, `Ok` first, in gRPC number order.
    pub const fn all() -> &'static [Code] {
        &ALL
    }

    /// The Connect name of the code, in snake case (`"invalid_argument"`).
    pub const fn as_str(self) -> &'static str {
        match self {
            Code::Ok => "ok",
            Code::Canceled => "canceled",
            Code::Unknown => "unknown",
            Code::InvalidArgument => "invalid_argument",
            Code::DeadlineExceeded => "deadline_exceeded",
            Code::NotFound => "not_found",
            Code::AlreadyExists => "already_exists",
            Code::PermissionDenied => "permission_denied",
            Code::ResourceExhausted => "resource_exhausted",
            Code::FailedPrecondition => "failed_precondition",
            Code::Aborted => "aborted",
            Code::OutOfRange => "out_of_range",
            Code::Unimplemented => "unimplemented",
            Code::Internal => "internal",
            Code::Unavailable => "unavailable",
            Code::DataLoss => "data_loss",
            Code::Unauthenticated => "unauthenticated",
        }
    }

    /// The gRPC status number (`grpc-status`).
    pub const fn grpc_number(self) -> u32 {
        match self {
            Code::Ok => 0,
            Code::Canceled => 1,
            Code::Unknown => 2,
            Code::InvalidArgument => 3,
            Code::DeadlineExceeded => 4,
            Code::NotFound => 5,
            Code::AlreadyExists => 6,
            Code::PermissionDenied => 7,
            Code::ResourceExhausted => 8,
            Code::FailedPrecondition => 9,
            Code::Aborted => 10,
            Code::OutOfRange => 11,
            Code::Unimplemented => 12,
            Code::Internal => 13,
            Code::Unavailable => 14,
            Code::DataLoss => 15,
            Code::Unauthenticated => 16,
        }
    }

    /// The code for a gRPC status number; numbers outside 0..=16 are `None`.
    pub fn from_grpc_number(n: u32) -> Option<Code> {
        ALL.get(n as usize).copied()
    }

    /// The HTTP status a Connect unary error with this code is sent with.
    pub const fn http_status(self) -> http::StatusCode {
        use http::StatusCode as S;
        match self {
            Code::Ok => S::OK,
            Code::Canceled => match S::from_u16(499) {
                Ok(s) => s,
                Err(_) => S::INTERNAL_SERVER_ERROR,
            },
            Code::Unknown | Code::Internal | Code::DataLoss => S::INTERNAL_SERVER_ERROR,
            Code::InvalidArgument | Code::FailedPrecondition | Code::OutOfRange => S::BAD_REQUEST,
            Code::DeadlineExceeded => S::GATEWAY_TIMEOUT,
            Code::NotFound => S::NOT_FOUND,
            Code::AlreadyExists | Code::Aborted => S::CONFLICT,
            Code::PermissionDenied => S::FORBIDDEN,
            Code::ResourceExhausted => S::TOO_MANY_REQUESTS,
            Code::Unimplemented => S::NOT_IMPLEMENTED,
            Code::Unavailable => S::SERVICE_UNAVAILABLE,
            Code::Unauthenticated => S::UNAUTHORIZED,
        }
    }

    /// The code a client infers from an HTTP status that carried no RPC
    /// error (a proxy's answer, say).
    pub fn from_http_status(status: http::StatusCode) -> Code {
        match status.as_u16() {
            200 => Code::Ok,
            400 => Code::Internal,
            401 => Code::Unauthenticated,
            403 => Code::PermissionDenied,
            404 => Code::Unimplemented,
            429 | 502 | 503 | 504 => Code::Unavailable,
            _ => Code::Unknown,
        }
    }
}

impl fmt::Display for Code {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.pad(self.as_str())
    }
}

/// The error returned when a string is not a Connect code name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UnknownCode(());

impl fmt::Display for UnknownCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.pad("unknown Connect error code")
    }
}

impl std::error::Error for UnknownCode {}

impl FromStr for Code {
    type Err = UnknownCode;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        ALL.iter()
            .copied()
            .find(|c| c.as_str() == s)
            .ok_or(UnknownCode(()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip_and_numbers_are_ordered() {
        for (i, code) in Code::all().iter().enumerate() {
            assert_eq!(code.grpc_number() as usize, i);
            assert_eq!(code.as_str().parse::<Code>().unwrap(), *code);
            assert_eq!(Code::from_grpc_number(i as u32), Some(*code));
        }
        assert_eq!(Code::from_grpc_number(17), None);
        assert!("bogus".parse::<Code>().is_err());
    }

    #[test]
    fn http_mapping_matches_the_connect_table() {
        let table = [
            (Code::Canceled, 499),
            (Code::Unknown, 500),
            (Code::InvalidArgument, 400),
            (Code::DeadlineExceeded, 504),
            (Code::NotFound, 404),
            (Code::AlreadyExists, 409),
            (Code::PermissionDenied, 403),
            (Code::ResourceExhausted, 429),
            (Code::FailedPrecondition, 400),
            (Code::Aborted, 409),
            (Code::OutOfRange, 400),
            (Code::Unimplemented, 501),
            (Code::Internal, 500),
            (Code::Unavailable, 503),
            (Code::DataLoss, 500),
            (Code::Unauthenticated, 401),
        ];
        for (code, status) in table {
            assert_eq!(code.http_status().as_u16(), status, "{code}");
        }
    }

    #[test]
    fn http_status_without_error_maps_for_clients() {
        let s = |n| http::StatusCode::from_u16(n).unwrap();
        assert_eq!(Code::from_http_status(s(400)), Code::Internal);
        assert_eq!(Code::from_http_status(s(404)), Code::Unimplemented);
        assert_eq!(Code::from_http_status(s(502)), Code::Unavailable);
        assert_eq!(Code::from_http_status(s(418)), Code::Unknown);
    }
}

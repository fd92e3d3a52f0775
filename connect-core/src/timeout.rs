//! Parsing and formatting of the two timeout headers: Connect's
//! `connect-timeout-ms` and gRPC's `grpc-timeout`.

use std::time::Duration;

use crate::{Code, ConnectError};

/// The Connect timeout header.
pub const CONNECT_TIMEOUT_HEADER: &str = "connect-timeout-ms";
/// The gRPC timeout header.
pub const GRPC_TIMEOUT_HEADER: &str = "grpc-timeout";

fn bad(header: &str, value: &[u8]) -> ConnectError {
    ConnectError::new(
        Code::InvalidArgument,
        format!(
            "malformed {header} header: {:?}",
            String::from_utf8_lossy(value)
        ),
    )
}

fn parse_digits(digits: &[u8], max_len: usize) -> Option<u64> {
    if digits.is_empty() || digits.len() > max_len || !digits.iter().all(u8::is_ascii_digit) {
        return None;
    }
    digits.iter().try_fold(0u64, |acc, d| {
        acc.checked_mul(10)?.checked_add(u64::from(d - b'0'))
    })
}

/// Parses `connect-timeout-ms`: at most 10 ASCII digits, milliseconds.
///
/// ```
/// use std::time::Duration;
/// use connect_core::timeout::parse_connect_timeout;
///
/// assert_eq!(parse_connect_timeout(b"1500").unwrap(), Duration::from_millis(1500));
/// assert!(parse_connect_timeout(b"-1").is_err());
/// assert!(parse_connect_timeout(b"12345678901").is_err());
/// ```
pub fn parse_connect_timeout(value: &[u8]) -> Result<Duration, ConnectError> {
    parse_digits(value, 10)
        .map(Duration::from_millis)
        .ok_or_else(|| bad(CONNECT_TIMEOUT_HEADER, value))
}

/// Formats a duration for `connect-timeout-ms`, rounding up to whole
/// milliseconds and capping at 10 digits.
pub fn format_connect_timeout(d: Duration) -> String {
    let ms = d.as_nanos().div_ceil(1_000_000).min(9_999_999_999);
    ms.to_string()
}

/// Parses `grpc-timeout`: at most 8 ASCII digits and a unit, one of
/// `H`ours, `M`inutes, `S`econds, `m`illis, `u`micros, `n`anos.
///
/// ```
/// use std::time::Duration;
/// use connect_core::timeout::parse_grpc_timeout;
///
/// assert_eq!(parse_grpc_timeout(b"100m").unwrap(), Duration::from_millis(100));
/// assert_eq!(parse_grpc_timeout(b"2H").unwrap(), Duration::from_secs(7200));
/// assert!(parse_grpc_timeout(b"123456789S").is_err());
/// assert!(parse_grpc_timeout(b"10x").is_err());
/// ```
pub fn parse_grpc_timeout(value: &[u8]) -> Result<Duration, ConnectError> {
    let err = || bad(GRPC_TIMEOUT_HEADER, value);
    let (unit, digits) = value.split_last().ok_or_else(err)?;
    let n = parse_digits(digits, 8).ok_or_else(err)?;
    Ok(match unit {
        b'H' => Duration::from_secs(n * 3600),
        b'M' => Duration::from_secs(n * 60),
        b'S' => Duration::from_secs(n),
        b'm' => Duration::from_millis(n),
        b'u' => Duration::from_micros(n),
        b'n' => Duration::from_nanos(n),
        _ => return Err(err()),
    })
}

/// Formats a duration for `grpc-timeout`, choosing the finest unit whose
/// value fits in 8 digits (rounding up, so the peer never sees more time
/// than there is).
pub fn format_grpc_timeout(d: Duration) -> String {
    const MAX: u128 = 99_999_999;
    let nanos = d.as_nanos();
    let units: [(u128, char); 6] = [
        (1, 'n'),
        (1_000, 'u'),
        (1_000_000, 'm'),
        (1_000_000_000, 'S'),
        (60_000_000_000, 'M'),
        (3_600_000_000_000, 'H'),
    ];
    for (per, unit) in units {
        let v = nanos.div_ceil(per);
        if v <= MAX {
            return format!("{v}{unit}");
        }
    }
    format!("{MAX}H")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn connect_timeout_edges() {
        assert_eq!(parse_connect_timeout(b"0").unwrap(), Duration::ZERO);
        assert_eq!(
            parse_connect_timeout(b"9999999999").unwrap(),
            Duration::from_millis(9_999_999_999)
        );
        for bad in [&b""[..], b" 1", b"1.5", b"+1", b"1e3", b"\xff"] {
            assert!(parse_connect_timeout(bad).is_err(), "{bad:?}");
        }
        assert_eq!(format_connect_timeout(Duration::from_micros(1500)), "2");
    }

    #[test]
    fn grpc_timeout_round_trips_for_many_values() {
        let mut x: u64 = 1;
        for _ in 0..60 {
            let d = Duration::from_nanos(x);
            let s = format_grpc_timeout(d);
            let back = parse_grpc_timeout(s.as_bytes()).unwrap();
            assert!(back >= d, "{d:?} -> {s} -> {back:?}");
            assert!(s.len() <= 9);
            x = x.saturating_mul(3).saturating_add(7);
        }
        for bad in [&b""[..], b"m", b"1", b"-1S", b"1s", b"999999999m"] {
            assert!(parse_grpc_timeout(bad).is_err(), "{bad:?}");
        }
    }
}

//! Server pushback in a Connect error: a `google.rpc.RetryInfo` detail,
//! read (and, for tests and servers, written) without a protobuf runtime.

use std::time::Duration;

use bytes::Bytes;
use connect_core::ConnectError;

use super::classify::Pushback;

/// The `google.rpc.RetryInfo` error detail's type.
const RETRY_INFO: &str = "google.rpc.RetryInfo";

/// The pushback of a `google.rpc.RetryInfo` detail: its `retry_delay`, or
/// stop if it is negative or unreadable.
pub(crate) fn retry_info(err: &ConnectError) -> Pushback {
    let Some(detail) = err.details().iter().find(|d| d.type_name() == RETRY_INFO) else {
        return Pushback::None;
    };
    parse_retry_info(detail.value()).map_or(Pushback::Stop, Pushback::Delay)
}

/// `RetryInfo { google.protobuf.Duration retry_delay = 1; }` with
/// `Duration { int64 seconds = 1; int32 nanos = 2; }`: `None` if malformed
/// or negative.
pub(crate) fn parse_retry_info(mut buf: &[u8]) -> Option<Duration> {
    let mut delay = Some(Duration::ZERO);
    while !buf.is_empty() {
        let key = varint(&mut buf)?;
        match (key >> 3, key & 7) {
            (1, 2) => delay = Some(parse_duration(take_len(&mut buf)?)?),
            (_, 0) => drop(varint(&mut buf)?),
            (_, 2) => drop(take_len(&mut buf)?),
            (_, 1) => buf = buf.get(8..)?,
            (_, 5) => buf = buf.get(4..)?,
            _ => return None,
        }
    }
    delay
}

fn parse_duration(mut buf: &[u8]) -> Option<Duration> {
    let (mut seconds, mut nanos) = (0i64, 0i32);
    while !buf.is_empty() {
        let key = varint(&mut buf)?;
        match (key >> 3, key & 7) {
            (1, 0) => seconds = varint(&mut buf)? as i64,
            (2, 0) => nanos = varint(&mut buf)? as i64 as i32,
            (_, 0) => drop(varint(&mut buf)?),
            (_, 2) => drop(take_len(&mut buf)?),
            _ => return None,
        }
    }
    if seconds < 0 || !(0..1_000_000_000).contains(&nanos) {
        return None;
    }
    Some(Duration::new(seconds as u64, nanos as u32))
}

fn varint(buf: &mut &[u8]) -> Option<u64> {
    let mut value = 0u64;
    for shift in (0..70).step_by(7) {
        let (&byte, rest) = buf.split_first()?;
        *buf = rest;
        value |= u64::from(byte & 0x7f).checked_shl(shift).unwrap_or(0);
        if byte & 0x80 == 0 {
            return Some(value);
        }
    }
    None
}

fn take_len<'a>(buf: &mut &'a [u8]) -> Option<&'a [u8]> {
    let len = usize::try_from(varint(buf)?).ok()?;
    let (head, rest) = (buf.get(..len)?, buf.get(len..)?);
    *buf = rest;
    Some(head)
}

/// A `google.rpc.RetryInfo` encoding `delay` (seconds, nanos): for tests
/// and servers that push back.
pub fn encode_retry_info(seconds: i64, nanos: i32) -> Bytes {
    fn put_varint(out: &mut Vec<u8>, mut v: u64) {
        while v >= 0x80 {
            out.push((v as u8) | 0x80);
            v >>= 7;
        }
        out.push(v as u8);
    }
    let mut duration = Vec::new();
    if seconds != 0 {
        duration.push(0x08);
        put_varint(&mut duration, seconds as u64);
    }
    if nanos != 0 {
        duration.push(0x10);
        put_varint(&mut duration, nanos as i64 as u64);
    }
    let mut out = vec![0x0a];
    put_varint(&mut out, duration.len() as u64);
    out.extend_from_slice(&duration);
    Bytes::from(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn retry_info_round_trips_and_negatives_stop() {
        assert_eq!(
            parse_retry_info(&encode_retry_info(1, 500_000_000)),
            Some(Duration::from_millis(1500))
        );
        assert_eq!(
            parse_retry_info(&encode_retry_info(0, 0)),
            Some(Duration::ZERO)
        );
        assert_eq!(parse_retry_info(&encode_retry_info(-1, 0)), None);
        assert_eq!(parse_retry_info(&encode_retry_info(0, -5)), None);
        assert_eq!(parse_retry_info(&[0x0a, 0x05, 0x08]), None, "truncated");
    }
}

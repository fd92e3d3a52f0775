//! gRPC status: `grpc-status`, the percent-encoded `grpc-message`, and
//! `grpc-status-details-bin` carrying a `google.rpc.Status`.
//!
//! No buffa crate ships `google.rpc.Status`; its three fields are encoded by
//! hand here (`1: int32 code`, `2: string message`, `3: repeated
//! google.protobuf.Any details`, with `Any` as `1: string type_url`,
//! `2: bytes value`).

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD_NO_PAD;
use bytes::{Buf, BufMut, Bytes, BytesMut};
use connect_core::{Code, ConnectError, ErrorDetail, metadata};
use http::{HeaderMap, HeaderName, HeaderValue};

/// `grpc-status`.
pub const GRPC_STATUS: HeaderName = HeaderName::from_static("grpc-status");
/// `grpc-message`.
pub const GRPC_MESSAGE: HeaderName = HeaderName::from_static("grpc-message");
/// `grpc-status-details-bin`.
pub const GRPC_STATUS_DETAILS: HeaderName = HeaderName::from_static("grpc-status-details-bin");

fn put_varint(buf: &mut BytesMut, mut v: u64) {
    while v >= 0x80 {
        buf.put_u8((v as u8) | 0x80);
        v >>= 7;
    }
    buf.put_u8(v as u8);
}

fn put_len_field(buf: &mut BytesMut, field: u32, data: &[u8]) {
    put_varint(buf, u64::from(field << 3 | 2));
    put_varint(buf, data.len() as u64);
    buf.put_slice(data);
}

/// Encodes a `google.rpc.Status` for `err`.
pub fn encode_status(err: &ConnectError) -> Bytes {
    let mut buf = BytesMut::new();
    let code = err.code().grpc_number();
    if code != 0 {
        put_varint(&mut buf, 1 << 3);
        put_varint(&mut buf, u64::from(code));
    }
    if !err.message().is_empty() {
        put_len_field(&mut buf, 2, err.message().as_bytes());
    }
    for d in err.details() {
        let mut any = BytesMut::new();
        put_len_field(&mut any, 1, d.type_url().as_bytes());
        if !d.value().is_empty() {
            put_len_field(&mut any, 2, d.value());
        }
        put_len_field(&mut buf, 3, &any);
    }
    buf.freeze()
}

fn get_varint(buf: &mut &[u8]) -> Option<u64> {
    let mut v = 0u64;
    for shift in (0..64).step_by(7) {
        let b = *buf.first()?;
        buf.advance(1);
        v |= u64::from(b & 0x7f) << shift;
        if b < 0x80 {
            return Some(v);
        }
    }
    None
}

fn get_len<'a>(buf: &mut &'a [u8]) -> Option<&'a [u8]> {
    let len = usize::try_from(get_varint(buf)?).ok()?;
    if buf.len() < len {
        return None;
    }
    let (head, tail) = buf.split_at(len);
    *buf = tail;
    Some(head)
}

fn skip(buf: &mut &[u8], wire: u64) -> Option<()> {
    match wire {
        0 => get_varint(buf).map(drop),
        1 => (buf.len() >= 8).then(|| buf.advance(8)),
        2 => get_len(buf).map(drop),
        5 => (buf.len() >= 4).then(|| buf.advance(4)),
        _ => None,
    }
}

/// Decodes a `google.rpc.Status` into an error (code `Ok` for status 0).
/// `None` if the bytes are not a valid status.
pub fn decode_status(mut buf: &[u8]) -> Option<ConnectError> {
    let mut code = 0u64;
    let mut message = String::new();
    let mut details = Vec::new();
    while !buf.is_empty() {
        let key = get_varint(&mut buf)?;
        match (key >> 3, key & 7) {
            (1, 0) => code = get_varint(&mut buf)?,
            (2, 2) => message = String::from_utf8(get_len(&mut buf)?.to_vec()).ok()?,
            (3, 2) => {
                let mut any = get_len(&mut buf)?;
                let (mut url, mut value) = (String::new(), Bytes::new());
                while !any.is_empty() {
                    let k = get_varint(&mut any)?;
                    match (k >> 3, k & 7) {
                        (1, 2) => url = String::from_utf8(get_len(&mut any)?.to_vec()).ok()?,
                        (2, 2) => value = Bytes::copy_from_slice(get_len(&mut any)?),
                        (_, w) => skip(&mut any, w)?,
                    }
                }
                let name = url.rsplit('/').next().unwrap_or("").to_owned();
                details.push(ErrorDetail::new(name, value));
            }
            (_, w) => skip(&mut buf, w)?,
        }
    }
    let code = u32::try_from(code)
        .ok()
        .and_then(Code::from_grpc_number)
        .unwrap_or(Code::Unknown);
    let mut err = ConnectError::new(code, message);
    for d in details {
        err.add_detail(d);
    }
    Some(err)
}

fn should_escape(b: u8) -> bool {
    !(0x20..=0x7e).contains(&b) || b == b'%'
}

/// Percent-encodes a `grpc-message`: bytes outside printable ASCII, and
/// `%`, become `%XX`.
///
/// ```
/// use connect_codec::grpc_status::{percent_decode_message, percent_encode_message};
///
/// let wire = percent_encode_message("50% off ☺\n");
/// assert_eq!(wire, "50%25 off %E2%98%BA%0A");
/// assert_eq!(percent_decode_message(&wire), "50% off ☺\n");
/// ```
pub fn percent_encode_message(msg: &str) -> String {
    let mut out = String::with_capacity(msg.len());
    for &b in msg.as_bytes() {
        if should_escape(b) {
            out.push_str(&format!("%{b:02X}"));
        } else {
            out.push(b as char);
        }
    }
    out
}

/// Decodes a `grpc-message` leniently: valid `%XX` sequences are decoded,
/// broken ones kept as they are, invalid UTF-8 replaced.
pub fn percent_decode_message(wire: &str) -> String {
    let b = wire.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'%'
            && let Some(v) = b
                .get(i + 1..i + 3)
                .and_then(|h| std::str::from_utf8(h).ok())
                .and_then(|h| u8::from_str_radix(h, 16).ok())
        {
            out.push(v);
            i += 3;
            continue;
        }
        out.push(b[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// The gRPC status fields for a call that ended with `error` (or OK), with
/// the user's `trailers` (protocol headers filtered out) after them.
pub fn status_trailers(error: Option<&ConnectError>, trailers: &HeaderMap) -> HeaderMap {
    if error.is_none() && trailers.is_empty() {
        // The usual end of a successful call: a copy of a prebuilt map
        // (no header name hashed per call).
        static OK: std::sync::LazyLock<HeaderMap> = std::sync::LazyLock::new(|| {
            let mut ok = HeaderMap::with_capacity(1);
            ok.insert(GRPC_STATUS, HeaderValue::from_static("0"));
            ok
        });
        return OK.clone();
    }
    let mut out = HeaderMap::with_capacity(trailers.len() + 3);
    let code = error.map_or(0, |e| match e.code() {
        Code::Ok => Code::Unknown.grpc_number(),
        c => c.grpc_number(),
    });
    // The common statuses need no formatting (nor allocation).
    let status = match code {
        0 => HeaderValue::from_static("0"),
        c => HeaderValue::from(c),
    };
    out.insert(GRPC_STATUS, status);
    if let Some(err) = error {
        if !err.message().is_empty()
            && let Ok(v) = HeaderValue::try_from(percent_encode_message(err.message()))
        {
            out.insert(GRPC_MESSAGE, v);
        }
        if !err.details().is_empty()
            && let Ok(v) = HeaderValue::try_from(STANDARD_NO_PAD.encode(encode_status(err)))
        {
            out.insert(GRPC_STATUS_DETAILS, v);
        }
    }
    for map in [Some(trailers), error.map(ConnectError::trailers)]
        .into_iter()
        .flatten()
    {
        for (k, v) in map {
            if !metadata::is_protocol_header(k.as_str()) {
                out.append(k.clone(), v.clone());
            }
        }
    }
    out
}

/// Reads the status from gRPC trailers (or trailers-only headers):
/// `Ok(())` for status 0, the error otherwise. The details header, when
/// present and valid, wins over the plain fields.
pub fn parse_status(trailers: &HeaderMap) -> Result<(), ConnectError> {
    let Some(status) = trailers.get(GRPC_STATUS) else {
        return Err(ConnectError::new(Code::Unknown, "missing grpc-status"));
    };
    let code = std::str::from_utf8(status.as_bytes())
        .ok()
        .and_then(|s| s.parse::<u32>().ok())
        .and_then(Code::from_grpc_number)
        .unwrap_or(Code::Unknown);
    if let Some(details) = trailers.get(GRPC_STATUS_DETAILS)
        && let Ok(raw) = metadata::decode_binary_value(details.as_bytes())
        && let Some(err) = decode_status(&raw)
    {
        return if err.code() == Code::Ok {
            Ok(())
        } else {
            Err(err)
        };
    }
    if code == Code::Ok {
        return Ok(());
    }
    let message = trailers
        .get(GRPC_MESSAGE)
        .and_then(|v| v.to_str().ok())
        .map(percent_decode_message)
        .unwrap_or_default();
    Err(ConnectError::new(code, message))
}

/// Writes a gRPC-Web trailer block: `key: value\r\n` per field, lower-case
/// names, no blank line.
pub fn web_trailer_block(trailers: &HeaderMap) -> Bytes {
    let mut buf = BytesMut::new();
    for (k, v) in trailers {
        buf.put_slice(k.as_str().as_bytes());
        buf.put_slice(b": ");
        buf.put_slice(v.as_bytes());
        buf.put_slice(b"\r\n");
    }
    buf.freeze()
}

/// Parses a gRPC-Web trailer block (`key: value\r\n` lines) leniently:
/// names are lower-cased, values trimmed, repeated names kept, lines that
/// are not valid header fields skipped.
///
/// ```
/// use connect_codec::grpc_status::parse_web_trailer_block;
///
/// let t = parse_web_trailer_block(b"Grpc-Status: 3\r\ngrpc-message: bad\r\nx-a: 1\r\nx-a: 2\r\n");
/// assert_eq!(t["grpc-status"], "3");
/// assert_eq!(t.get_all("x-a").iter().count(), 2);
/// ```
pub fn parse_web_trailer_block(block: &[u8]) -> HeaderMap {
    let mut out = HeaderMap::new();
    for line in block.split(|&b| b == b'\n') {
        let line = line.strip_suffix(b"\r").unwrap_or(line);
        let Some(colon) = line.iter().position(|&b| b == b':') else {
            continue;
        };
        let name = line[..colon].trim_ascii().to_ascii_lowercase();
        let value = line[colon + 1..].trim_ascii();
        if let (Ok(name), Ok(value)) = (
            HeaderName::from_bytes(&name),
            HeaderValue::from_bytes(value),
        ) {
            out.append(name, value);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn status_round_trips_with_details() {
        let err = ConnectError::new(Code::FailedPrecondition, "nope ☺")
            .with_detail(ErrorDetail::new("a.b.C", vec![1, 2, 3]))
            .with_detail(ErrorDetail::new("a.b.D", Vec::new()));
        let back = decode_status(&encode_status(&err)).unwrap();
        assert_eq!(back.code(), Code::FailedPrecondition);
        assert_eq!(back.message(), "nope ☺");
        assert_eq!(back.details(), err.details());
        assert!(decode_status(&[0x1a, 0x05, 0x0a]).is_none());
    }

    #[test]
    fn trailers_carry_status_message_and_details() {
        let mut user = HeaderMap::new();
        user.append("x-a", "1".parse().unwrap());
        user.append("grpc-status", "0".parse().unwrap());
        let err = ConnectError::new(Code::NotFound, "gone\r\n100%")
            .with_detail(ErrorDetail::new("x.Y", vec![9]));
        let t = status_trailers(Some(&err), &user);
        assert_eq!(t["grpc-status"], "5");
        assert_eq!(t["grpc-message"], "gone%0D%0A100%25");
        assert_eq!(t.get_all("grpc-status").iter().count(), 1);
        assert_eq!(t["x-a"], "1");
        let parsed = parse_status(&t).unwrap_err();
        assert_eq!(parsed.code(), Code::NotFound);
        assert_eq!(parsed.message(), "gone\r\n100%");
        assert_eq!(parsed.details().len(), 1);
        let ok = status_trailers(None, &HeaderMap::new());
        assert_eq!(ok["grpc-status"], "0");
        assert!(parse_status(&ok).is_ok());
    }

    #[test]
    fn lenient_message_decoding() {
        assert_eq!(percent_decode_message("a%2"), "a%2");
        assert_eq!(percent_decode_message("%zz%41"), "%zzA");
        assert_eq!(percent_decode_message("%FF"), "\u{fffd}");
    }

    #[test]
    fn web_block_format() {
        let mut t = HeaderMap::new();
        t.insert("grpc-status", "0".parse().unwrap());
        t.append("x-m", "a".parse().unwrap());
        t.append("x-m", "b".parse().unwrap());
        assert_eq!(
            &web_trailer_block(&t)[..],
            b"grpc-status: 0\r\nx-m: a\r\nx-m: b\r\n"
        );
    }
}

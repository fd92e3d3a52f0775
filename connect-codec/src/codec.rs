//! Message codecs: binary protobuf and the proto3 JSON mapping, over buffa.
//!
//! Requests decode as zero-copy views ([`decode_view`]) or owned messages
//! ([`decode_owned`]); responses encode with [`encode`].

use buffa::view::{MessageView, OwnedView};
use buffa::{DecodeOptions, Message};
use bytes::{Bytes, BytesMut};
use connect_core::{Codec, ConnectError};
use serde::Serialize;
use serde::de::DeserializeOwned;

/// Decodes `bytes` as a zero-copy view with the given codec.
///
/// Binary protobuf borrows every string and bytes field from `bytes`. JSON
/// has no binary form to borrow from: it is parsed into the owned message,
/// encoded once, and viewed — one extra encode on the JSON path, none on
/// the binary path, and handlers keep one signature for both codecs.
///
/// ```
/// # use buffa::Message;
/// # use connect_codec::codec::decode_view;
/// # use connect_core::Codec;
/// # use buffa_types::google::protobuf::{StringValue, __buffa::view::StringValueView};
/// let bytes = StringValue { value: "hi".into(), ..Default::default() }.encode_to_bytes();
/// let view = decode_view::<StringValueView<'static>>(Codec::Proto, bytes).unwrap();
/// assert_eq!(view.reborrow().value, "hi");
/// ```
pub fn decode_view<V>(codec: Codec, bytes: Bytes) -> Result<OwnedView<V>, ConnectError>
where
    V: MessageView<'static>,
    V::Owned: DeserializeOwned,
{
    match codec {
        Codec::Json => {
            let owned: V::Owned = decode_json(&bytes)?;
            OwnedView::from_owned(&owned).map_err(decode_error)
        }
        _ => OwnedView::decode_with_options(bytes, &decode_options()).map_err(decode_error),
    }
}

/// Decodes `bytes` as an owned message with the given codec.
pub fn decode_owned<M>(codec: Codec, bytes: &[u8]) -> Result<M, ConnectError>
where
    M: Message + DeserializeOwned,
{
    match codec {
        Codec::Json => decode_json(bytes),
        _ => decode_options()
            .decode_from_slice(bytes)
            .map_err(decode_error),
    }
}

/// Encodes `msg` with the given codec.
pub fn encode<M>(codec: Codec, msg: &M) -> Result<Bytes, ConnectError>
where
    M: Message + Serialize,
{
    match codec {
        Codec::Json => serde_json::to_vec(msg)
            .map(Bytes::from)
            .map_err(|e| ConnectError::internal(format!("failed to encode JSON message: {e}"))),
        _ => sized(msg, |len, cache| {
            let mut buf = Vec::with_capacity(len);
            msg.write_to(cache, &mut buf);
            Bytes::from(buf)
        }),
    }
}

thread_local! {
    /// The spill buffer of buffa's size cache, kept per thread: a message
    /// with more than 16 nested messages (a batch of records) otherwise
    /// grows a fresh one, a reallocation per doubling, on every encode.
    static SPILL: std::cell::Cell<Vec<u32>> = const { std::cell::Cell::new(Vec::new()) };
}

/// The largest spill buffer kept (in sizes, 4 bytes each).
const SPILL_KEEP: usize = 16 * 1024;

/// One size pass over `msg` into buffa's size cache (its spill buffer
/// reused per thread), then `write(len, cache)` with the encoded length and
/// the filled cache: [`Message::encode`] after [`Message::encoded_len`]
/// would walk the message twice.
fn sized<M: Message, T>(
    msg: &M,
    write: impl FnOnce(usize, &mut buffa::SizeCache) -> T,
) -> Result<T, ConnectError> {
    let mut cache = buffa::SizeCache::with_spill_buffer(SPILL.with(std::cell::Cell::take));
    let out = match buffa::checked_encode_size(msg.compute_size(&mut cache)) {
        Ok(len) => Ok(write(len as usize, &mut cache)),
        Err(e) => Err(ConnectError::resource_exhausted(format!(
            "failed to encode message: {e}"
        ))),
    };
    let spill = cache.into_spill_buffer();
    if spill.capacity() > 0 && spill.capacity() <= SPILL_KEEP {
        SPILL.with(|s| s.set(spill));
    }
    out
}

/// Encodes `msg` behind a 5-byte envelope prefix (flags `0`) for itself:
/// one buffer holding the whole envelope, so an enveloped protocol can send
/// it without copying the message again.
///
/// ```
/// # use buffa_types::google::protobuf::StringValue;
/// # use connect_codec::codec::encode_prefixed;
/// # use connect_core::Codec;
/// let m = StringValue { value: "hi".into(), ..Default::default() };
/// let env = encode_prefixed(Codec::Proto, &m).unwrap();
/// assert_eq!(&env[..], b"\x00\x00\x00\x00\x04\x0a\x02hi");
/// ```
pub fn encode_prefixed<M>(codec: Codec, msg: &M) -> Result<Bytes, ConnectError>
where
    M: Message + Serialize,
{
    const PREFIX: usize = connect_core::ENVELOPE_PREFIX_LEN;
    let mut buf = match codec {
        Codec::Json => {
            let mut buf = vec![0u8; PREFIX];
            serde_json::to_writer(&mut buf, msg).map_err(|e| {
                ConnectError::internal(format!("failed to encode JSON message: {e}"))
            })?;
            buf
        }
        _ => sized(msg, |len, cache| {
            let mut buf = Vec::with_capacity(PREFIX + len);
            buf.extend_from_slice(&[0; PREFIX]);
            msg.write_to(cache, &mut buf);
            buf
        })?,
    };
    let len = u32::try_from(buf.len() - PREFIX)
        .map_err(|_| ConnectError::resource_exhausted("message larger than 4 GiB"))?;
    buf[1..PREFIX].copy_from_slice(&len.to_be_bytes());
    Ok(Bytes::from(buf))
}

/// Encodes `msg` behind a 5-byte envelope prefix into `buf`'s spare room
/// and splits it off: a stream of responses shares one allocation per
/// [`STREAM_BUFFER`] bytes instead of allocating per message.
///
/// ```
/// # use buffa_types::google::protobuf::StringValue;
/// # use connect_codec::codec::encode_prefixed_into;
/// # use connect_core::Codec;
/// let mut buf = bytes::BytesMut::new();
/// let m = StringValue { value: "hi".into(), ..Default::default() };
/// let one = encode_prefixed_into(Codec::Proto, &m, &mut buf).unwrap();
/// let two = encode_prefixed_into(Codec::Proto, &m, &mut buf).unwrap();
/// assert_eq!(&one[..], b"\x00\x00\x00\x00\x04\x0a\x02hi");
/// assert_eq!(one, two);
/// ```
pub fn encode_prefixed_into<M>(
    codec: Codec,
    msg: &M,
    buf: &mut BytesMut,
) -> Result<Bytes, ConnectError>
where
    M: Message + Serialize,
{
    encode_prefixed_into_chunks(codec, msg, buf, STREAM_BUFFER)
}

/// [`encode_prefixed_into`], reserving `chunk` bytes at a time (or what
/// one message needs, if more): a client's request stream uses chunks small
/// enough for the allocator's per-thread cache (1 KiB), where a 4 KiB
/// buffer costs more to allocate than the small ones it replaces.
pub fn encode_prefixed_into_chunks<M>(
    codec: Codec,
    msg: &M,
    buf: &mut BytesMut,
    chunk: usize,
) -> Result<Bytes, ConnectError>
where
    M: Message + Serialize,
{
    use bytes::BufMut as _;
    const PREFIX: usize = connect_core::ENVELOPE_PREFIX_LEN;
    debug_assert!(buf.is_empty(), "previous message not split off");
    match codec {
        Codec::Json => {
            if buf.capacity() < PREFIX + 64 {
                buf.reserve(chunk);
            }
            buf.put_bytes(0, PREFIX);
            let written = serde_json::to_writer((&mut *buf).writer(), msg);
            if let Err(e) = written {
                buf.clear();
                return Err(ConnectError::internal(format!(
                    "failed to encode JSON message: {e}"
                )));
            }
        }
        _ => sized(msg, |len, cache| {
            if buf.capacity() < PREFIX + len {
                buf.reserve((PREFIX + len).max(chunk));
            }
            buf.put_bytes(0, PREFIX);
            msg.write_to(cache, buf);
        })?,
    }
    let Ok(len) = u32::try_from(buf.len() - PREFIX) else {
        buf.clear();
        return Err(ConnectError::resource_exhausted(
            "message larger than 4 GiB",
        ));
    };
    buf[1..PREFIX].copy_from_slice(&len.to_be_bytes());
    Ok(buf.split().freeze())
}

/// How much room [`encode_prefixed_into`] reserves at a time.
pub const STREAM_BUFFER: usize = 4096;

fn decode_options() -> DecodeOptions {
    DecodeOptions::new()
}

fn decode_json<M: DeserializeOwned>(bytes: &[u8]) -> Result<M, ConnectError> {
    // Unlike binary protobuf, where zero bytes are the default message, an
    // empty body is not a JSON object (as in connect-go).
    if bytes.is_empty() {
        return Err(ConnectError::invalid_argument(
            "zero-length payload is not a valid JSON object",
        ));
    }
    serde_json::from_slice(bytes)
        .map_err(|e| ConnectError::invalid_argument(format!("failed to decode JSON message: {e}")))
}

fn decode_error(e: buffa::DecodeError) -> ConnectError {
    ConnectError::invalid_argument(format!("failed to decode protobuf message: {e}"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use buffa_types::google::protobuf::__buffa::view::StringValueView;
    use buffa_types::google::protobuf::StringValue;

    fn msg(s: &str) -> StringValue {
        StringValue {
            value: s.into(),
            ..Default::default()
        }
    }

    #[test]
    fn stream_encoding_matches_one_off_encoding_in_both_codecs() {
        let big = "x".repeat(STREAM_BUFFER * 2);
        for codec in [Codec::Proto, Codec::Json] {
            let mut buf = BytesMut::new();
            for text in ["a", "", big.as_str(), "after the big one", "b"] {
                let m = msg(text);
                let shared = encode_prefixed_into(codec, &m, &mut buf).unwrap();
                let alone = encode_prefixed(codec, &m).unwrap();
                assert_eq!(shared, alone, "{codec:?} {}", text.len());
                assert!(buf.is_empty());
            }
        }
    }

    #[test]
    fn small_stream_messages_share_one_allocation() {
        let mut buf = BytesMut::new();
        let first = encode_prefixed_into(Codec::Proto, &msg("one"), &mut buf).unwrap();
        let second = encode_prefixed_into(Codec::Proto, &msg("two"), &mut buf).unwrap();
        // The second message starts where the first one ended.
        assert_eq!(first.as_ptr_range().end, second.as_ptr());
    }

    #[test]
    fn prefixed_encoding_is_one_envelope_of_the_plain_encoding() {
        for codec in [Codec::Proto, Codec::Json] {
            let plain = encode(codec, &msg("héllo")).unwrap();
            let env = encode_prefixed(codec, &msg("héllo")).unwrap();
            assert_eq!(env[0], 0);
            assert_eq!(
                u32::from_be_bytes([env[1], env[2], env[3], env[4]]) as usize,
                plain.len()
            );
            assert_eq!(&env[5..], &plain[..]);
        }
    }

    #[test]
    fn proto_and_json_round_trip() {
        for codec in [Codec::Proto, Codec::Json] {
            let bytes = encode(codec, &msg("héllo")).unwrap();
            let view = decode_view::<StringValueView<'static>>(codec, bytes.clone()).unwrap();
            assert_eq!(view.reborrow().value, "héllo");
            let owned: StringValue = decode_owned(codec, &bytes).unwrap();
            assert_eq!(owned, msg("héllo"));
        }
    }

    #[test]
    fn empty_body_is_the_default_message_for_proto_only() {
        let view = decode_view::<StringValueView<'static>>(Codec::Proto, Bytes::new()).unwrap();
        assert_eq!(view.reborrow().value, "");
        let err = decode_view::<StringValueView<'static>>(Codec::Json, Bytes::new()).unwrap_err();
        assert_eq!(err.code(), connect_core::Code::InvalidArgument);
    }

    #[test]
    fn malformed_input_is_invalid_argument() {
        let bad = [
            (Codec::Proto, &b"\x0a\xff\xff\xff\xff\x0f"[..]),
            (Codec::Proto, b"\x0a\x02\xff\xfe"),
            (Codec::Json, b"\"\xff\xfe\""),
            (Codec::Json, b"{\"value\": \"\xc3\x28\"}"),
            (Codec::Json, b"{"),
        ];
        for (codec, input) in bad {
            let err = decode_view::<StringValueView<'static>>(codec, Bytes::from_static(input))
                .unwrap_err();
            assert_eq!(err.code(), connect_core::Code::InvalidArgument, "{input:?}");
        }
    }
}

//! The message types a client sends and receives, and how answers are
//! decoded (owned or as zero-copy views).

use buffa::Message;
use buffa::view::{MessageView, OwnedView};
use bytes::Bytes;
use connect_codec::codec;
use connect_core::{Codec, ConnectError};
use serde::Serialize;
use serde::de::DeserializeOwned;

/// Message types a client can send.
pub trait RequestMessage: Message + Serialize {}
impl<M: Message + Serialize> RequestMessage for M {}

/// Message types a client can receive as owned values.
pub trait ResponseMessage: Message + DeserializeOwned + Send + 'static {}
impl<M: Message + DeserializeOwned + Send + 'static> ResponseMessage for M {}

pub(crate) fn decode_owned<M: ResponseMessage>(
    codec: Codec,
    data: Bytes,
) -> Result<M, ConnectError> {
    codec::decode_owned(codec, &data).map_err(response_decode_error)
}

pub(crate) fn decode_view<V>(codec: Codec, data: Bytes) -> Result<OwnedView<V>, ConnectError>
where
    V: MessageView<'static>,
    V::Owned: DeserializeOwned,
{
    codec::decode_view(codec, data).map_err(response_decode_error)
}

fn response_decode_error(e: ConnectError) -> ConnectError {
    ConnectError::internal(format!("failed to decode the response: {}", e.message()))
}

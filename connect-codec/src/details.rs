//! Typed error details: protobuf messages in and out of
//! [`ConnectError`]s and [`ErrorDetail`]s.
//!
//! `connect-core` keeps details as a type name and encoded bytes, with no
//! protobuf library behind them. This module adds the typed view over
//! buffa messages with two extension traits:
//!
//! - [`ErrorDetailsExt`] on [`ConnectError`]: [`detail`] (the first detail
//!   of a type, decoded), [`typed_details`] (every detail of a type),
//!   [`with_typed_detail`] and [`add_typed_detail`];
//! - [`ErrorDetailExt`] on [`ErrorDetail`]: [`from_message`], [`is`] and
//!   [`decode`].
//!
//! A message type is named by [`buffa::MessageName::FULL_NAME`], which
//! buffa's code generator implements for every message. The same calls
//! serve servers (adding details to the errors they return) and clients
//! (reading details from the errors they receive), whatever the protocol:
//! Connect JSON errors, Connect end-of-stream messages and gRPC
//! `grpc-status-details-bin` all carry the same details.
//!
//! [`detail`]: ErrorDetailsExt::detail
//! [`typed_details`]: ErrorDetailsExt::typed_details
//! [`with_typed_detail`]: ErrorDetailsExt::with_typed_detail
//! [`add_typed_detail`]: ErrorDetailsExt::add_typed_detail
//! [`from_message`]: ErrorDetailExt::from_message
//! [`is`]: ErrorDetailExt::is
//! [`decode`]: ErrorDetailExt::decode

use buffa::{Message, MessageName};
use connect_core::{ConnectError, ErrorDetail};

mod sealed {
    pub trait Sealed {}
    impl Sealed for connect_core::ConnectError {}
    impl Sealed for connect_core::ErrorDetail {}
}

/// Whether a detail's type name (a full name, or a type URL whose last
/// `/`-separated segment is the full name) names `T`.
fn names<T: MessageName>(type_name: &str) -> bool {
    type_name.rsplit('/').next() == Some(T::FULL_NAME)
}

/// Typed error details on a [`ConnectError`].
///
/// Bring the trait into scope to add protobuf messages to an error as
/// details and to read them back, by message type.
///
/// The getter for all details of one type is called
/// [`typed_details`](Self::typed_details) rather than `details`: the
/// inherent [`ConnectError::details`] (every detail, untyped) would shadow
/// a trait method of that name.
///
/// ```
/// use buffa_types::google::protobuf::{Duration, StringValue};
/// use connect_codec::details::ErrorDetailsExt;
/// use connect_core::{Code, ConnectError};
///
/// // Server: attach details to the error a handler returns.
/// let retry = Duration { seconds: 3, ..Default::default() };
/// let err = ConnectError::unavailable("overloaded").with_typed_detail(&retry);
///
/// // Client: read them back from the error a call failed with.
/// assert_eq!(err.code(), Code::Unavailable);
/// let got: Duration = err.detail::<Duration>().unwrap()?;
/// assert_eq!(got.seconds, 3);
/// // No detail of another type.
/// assert!(err.detail::<StringValue>().is_none());
/// # Ok::<(), ConnectError>(())
/// ```
pub trait ErrorDetailsExt: sealed::Sealed {
    /// The first detail whose type is `T`, decoded; `None` if the error has
    /// no detail of that type.
    ///
    /// # Errors
    ///
    /// A detail of type `T` whose bytes do not decode as a `T` gives
    /// `Some(Err(_))` with code [`Internal`](connect_core::Code::Internal).
    fn detail<T>(&self) -> Option<Result<T, ConnectError>>
    where
        T: Message + MessageName;

    /// Every detail whose type is `T`, decoded, in order; details of other
    /// types are skipped.
    ///
    /// Each item is a `Result`, so an undecodable detail is seen rather
    /// than dropped: `.filter_map(Result::ok)` keeps only the good ones,
    /// `.collect::<Result<Vec<_>, _>>()` fails on the first bad one.
    ///
    /// ```
    /// use buffa_types::google::protobuf::{Duration, StringValue};
    /// use connect_codec::details::ErrorDetailsExt;
    /// use connect_core::ConnectError;
    ///
    /// let s = |v: &str| StringValue { value: v.into(), ..Default::default() };
    /// let err = ConnectError::invalid_argument("bad request")
    ///     .with_typed_detail(&s("name is empty"))
    ///     .with_typed_detail(&Duration::default())
    ///     .with_typed_detail(&s("age is negative"));
    /// let problems: Vec<String> = err
    ///     .typed_details::<StringValue>()
    ///     .map(|d| d.map(|s| s.value))
    ///     .collect::<Result<_, _>>()?;
    /// assert_eq!(problems, ["name is empty", "age is negative"]);
    /// # Ok::<(), ConnectError>(())
    /// ```
    fn typed_details<T>(&self) -> impl Iterator<Item = Result<T, ConnectError>>
    where
        T: Message + MessageName;

    /// Adds `msg` as a detail (see [`ErrorDetailExt::from_message`]).
    ///
    /// # Panics
    ///
    /// If `msg` encodes to more than 2 GiB.
    #[must_use]
    fn with_typed_detail<T>(self, msg: &T) -> Self
    where
        Self: Sized,
        T: Message + MessageName;

    /// Adds `msg` as a detail in place (see
    /// [`ErrorDetailExt::from_message`]).
    ///
    /// # Panics
    ///
    /// If `msg` encodes to more than 2 GiB.
    fn add_typed_detail<T>(&mut self, msg: &T)
    where
        T: Message + MessageName;
}

impl ErrorDetailsExt for ConnectError {
    fn detail<T>(&self) -> Option<Result<T, ConnectError>>
    where
        T: Message + MessageName,
    {
        self.details()
            .iter()
            .find(|d| d.is::<T>())
            .map(ErrorDetail::decode::<T>)
    }

    fn typed_details<T>(&self) -> impl Iterator<Item = Result<T, ConnectError>>
    where
        T: Message + MessageName,
    {
        self.details()
            .iter()
            .filter(|d| d.is::<T>())
            .map(ErrorDetail::decode::<T>)
    }

    fn with_typed_detail<T>(self, msg: &T) -> Self
    where
        T: Message + MessageName,
    {
        self.with_detail(ErrorDetail::from_message(msg))
    }

    fn add_typed_detail<T>(&mut self, msg: &T)
    where
        T: Message + MessageName,
    {
        self.add_detail(ErrorDetail::from_message(msg));
    }
}

/// Typed access to one [`ErrorDetail`].
///
/// ```
/// use buffa_types::google::protobuf::{Duration, StringValue};
/// use connect_codec::details::ErrorDetailExt;
/// use connect_core::{ConnectError, ErrorDetail};
///
/// let d = ErrorDetail::from_message(&Duration { seconds: 5, ..Default::default() });
/// assert_eq!(d.type_name(), "google.protobuf.Duration");
/// assert!(d.is::<Duration>() && !d.is::<StringValue>());
/// assert_eq!(d.decode::<Duration>()?.seconds, 5);
/// assert!(d.decode::<StringValue>().is_err());
/// # Ok::<(), ConnectError>(())
/// ```
pub trait ErrorDetailExt: sealed::Sealed {
    /// A detail holding `msg`, named by its full protobuf name
    /// ([`MessageName::FULL_NAME`]).
    ///
    /// # Panics
    ///
    /// If `msg` encodes to more than 2 GiB.
    fn from_message<T>(msg: &T) -> Self
    where
        Self: Sized,
        T: Message + MessageName;

    /// Whether the detail's type is `T`. A type URL with any prefix
    /// (`type.example.com/pkg.Msg`) matches on its last segment.
    fn is<T>(&self) -> bool
    where
        T: MessageName;

    /// The detail decoded as a `T`.
    ///
    /// # Errors
    ///
    /// An error with code [`Internal`](connect_core::Code::Internal) if the
    /// detail's type is not `T` or its bytes do not decode as a `T`.
    fn decode<T>(&self) -> Result<T, ConnectError>
    where
        T: Message + MessageName;
}

impl ErrorDetailExt for ErrorDetail {
    fn from_message<T>(msg: &T) -> Self
    where
        T: Message + MessageName,
    {
        ErrorDetail::new(T::FULL_NAME, msg.encode_to_bytes())
    }

    fn is<T>(&self) -> bool
    where
        T: MessageName,
    {
        names::<T>(self.type_name())
    }

    fn decode<T>(&self) -> Result<T, ConnectError>
    where
        T: Message + MessageName,
    {
        if !self.is::<T>() {
            return Err(ConnectError::internal(format!(
                "error detail is a {}, not a {}",
                self.type_name(),
                T::FULL_NAME
            )));
        }
        T::decode_from_slice(self.value()).map_err(|e| {
            ConnectError::internal(format!(
                "failed to decode error detail {}: {e}",
                T::FULL_NAME
            ))
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use buffa_types::google::protobuf::{Duration, StringValue};

    #[test]
    fn names_match_full_names_and_type_urls() {
        assert!(names::<Duration>("google.protobuf.Duration"));
        assert!(names::<Duration>(
            "type.example.com/google.protobuf.Duration"
        ));
        assert!(!names::<Duration>("google.protobuf.DurationX"));
        assert!(!names::<Duration>("x.google.protobuf.Duration"));
        assert!(!names::<StringValue>("google.protobuf.Duration"));
        assert!(!names::<Duration>(""));
    }
}

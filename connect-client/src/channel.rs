//! [`Channel`]: what a client can run over.

use bytes::Bytes;
use connect_layers::ClientBody;
use http_body::Body;
use tower_service::Service;

/// A boxed error, as channels and bodies may return.
pub type BoxError = Box<dyn std::error::Error + Send + Sync>;

/// Any tower HTTP service a client can send its calls through: it takes
/// `http::Request<ClientBody>` and answers with an `http::Response` whose
/// body is an `http_body::Body` of `Bytes`. [`HttpClient`](crate::HttpClient),
/// [`Http2Connection`](crate::Http2Connection) and any of them wrapped in
/// tower layers qualify; so does your own.
///
/// It is implemented for every such service; there is nothing to implement.
///
/// Naming a channel's type — to box it, or to hold one behind
/// `tower::buffer::Buffer` or `tower::balance` — needs three names, all at
/// this crate's root (`connectrpc::client::…`): [`ClientBody`] (what a
/// channel takes), [`ResponseBody`](crate::ResponseBody) (what the built-in
/// transports answer with) and [`BoxError`]:
///
/// ```
/// use connect_client::{BoxError, ClientBody, HttpClient, ResponseBody};
/// use tower::ServiceExt as _;
/// use tower::util::BoxCloneService;
///
/// /// Any channel, boxed: what a struct field or a function signature names.
/// type BoxChannel = BoxCloneService<
///     http::Request<ClientBody>,
///     http::Response<ResponseBody>,
///     BoxError,
/// >;
///
/// let channel: BoxChannel = BoxCloneService::new(HttpClient::plaintext().map_err(BoxError::from));
/// # fn is_channel<T: connect_client::Channel>(_: &T) {}
/// # is_channel(&channel);
/// ```
pub trait Channel:
    Service<
        http::Request<ClientBody>,
        Response = http::Response<<Self as Channel>::ResponseBody>,
        Error: Into<BoxError>,
        Future: Send + 'static,
    > + Clone
    + Send
    + 'static
{
    /// The response body type.
    type ResponseBody: Body<Data = Bytes, Error: Into<BoxError>> + Send + 'static;
}

impl<T, B> Channel for T
where
    T: Service<http::Request<ClientBody>, Response = http::Response<B>> + Clone + Send + 'static,
    T::Error: Into<BoxError>,
    T::Future: Send + 'static,
    B: Body<Data = Bytes> + Send + 'static,
    B::Error: Into<BoxError>,
{
    type ResponseBody = B;
}

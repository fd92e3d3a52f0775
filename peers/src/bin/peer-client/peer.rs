//! One peer under test: the generated client over a recording channel, and
//! the wire checks every case makes.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use connectrpc::client::ClientBody;
use connectrpc::{ClientConfig, Codec, GetPolicy, HttpClient, Protocol};
use examples::proto::greet::v1::GreetServiceClient;
use http::{Method, StatusCode, Version};

use crate::CALL_TIMEOUT;
use crate::args::Args;
use crate::wire::{Exchange, Log, Recorder};

/// The client type every case uses.
pub(crate) type Greet = GreetServiceClient<Recorder<HttpClient<ClientBody>>>;

/// Everything a case needs.
pub(crate) struct Peer {
    /// The client of the case.
    pub(crate) client: Greet,
    /// A client sending `Greet` as Connect GET (Connect only).
    pub(crate) get_client: Option<Greet>,
    /// The exchanges the channel carried for the current case.
    pub(crate) log: Log,
    /// The protocol of both clients.
    pub(crate) protocol: Protocol,
    /// The codec of both clients.
    pub(crate) codec: Codec,
    /// Whether the clients speak h2c (else HTTP/1.1).
    pub(crate) http2: bool,
    /// Whether the server refuses bidi over HTTP/1.1.
    pub(crate) h1_bidi_refused: bool,
}

impl Peer {
    /// The clients `args` describe, over one recording `HttpClient`.
    pub(crate) fn new(args: &Args) -> Self {
        let log = Log::default();
        let transport: HttpClient<ClientBody> = if args.http2 {
            HttpClient::builder()
                .http2_only(true)
                .connect_timeout(Duration::from_secs(5))
                .build()
        } else {
            HttpClient::builder()
                .connect_timeout(Duration::from_secs(5))
                .build()
        };
        let channel = Recorder {
            inner: transport,
            log: Arc::clone(&log),
        };
        let config = ClientConfig::new(args.url.clone())
            .with_protocol(args.protocol)
            .with_codec(args.codec)
            .default_timeout(CALL_TIMEOUT);
        let get_client = (args.protocol == Protocol::Connect).then(|| {
            GreetServiceClient::new(
                channel.clone(),
                config.clone().get_policy(GetPolicy::IfNoSideEffects),
            )
        });
        Peer {
            client: GreetServiceClient::new(channel, config),
            get_client,
            log,
            protocol: args.protocol,
            codec: args.codec,
            http2: args.http2,
            h1_bidi_refused: args.h1_bidi_refused,
        }
    }

    /// The transport, as case names show it: `grpc http/2 proto`.
    pub(crate) fn label(&self) -> String {
        let http = if self.http2 { "2" } else { "1.1" };
        format!("{} http/{http} {}", self.protocol, self.codec)
    }

    /// The exchanges of the current case so far.
    pub(crate) fn exchanges(&self) -> Vec<Arc<Mutex<Exchange>>> {
        self.log.lock().unwrap().clone()
    }

    /// The one exchange of the case, sent over the right HTTP version.
    pub(crate) fn exchange(&self) -> Result<Arc<Mutex<Exchange>>, String> {
        let exchanges = self.exchanges();
        if exchanges.len() != 1 {
            return Err(format!("expected 1 HTTP exchange, saw {}", exchanges.len()));
        }
        let ex = Arc::clone(&exchanges[0]);
        {
            let e = ex.lock().unwrap();
            let want = if self.http2 {
                Version::HTTP_2
            } else {
                Version::HTTP_11
            };
            if e.version.is_some_and(|v| v != want) {
                return Err(format!("answered over {:?}, wanted {want:?}", e.version));
            }
        }
        Ok(ex)
    }

    /// Checks a successful exchange: one request with `method`, answered
    /// 200 with the content type of the protocol and codec over the right
    /// HTTP version. Returns its summary.
    pub(crate) fn check_wire(&self, streaming: bool, method: &Method) -> Result<String, String> {
        let ex = self.exchange()?;
        let ex = ex.lock().unwrap();
        if ex.method != method {
            return Err(format!("HTTP method {}, wanted {method}", ex.method));
        }
        if ex.status != Some(StatusCode::OK) {
            return Err(format!("HTTP status {:?}, wanted 200", ex.status));
        }
        let content_type = ex
            .response_headers
            .get(http::header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default();
        let codec = self.codec.to_string();
        let allowed: Vec<String> = match (self.protocol, streaming) {
            (Protocol::Connect, false) => vec![format!("application/{codec}")],
            (Protocol::Connect, true) => vec![format!("application/connect+{codec}")],
            (Protocol::GrpcWeb, _) => grpc_content_types("application/grpc-web", self.codec),
            _ => grpc_content_types("application/grpc", self.codec),
        };
        if !allowed.iter().any(|a| a == content_type) {
            return Err(format!(
                "content-type {content_type:?}, wanted one of {allowed:?}"
            ));
        }
        Ok(ex.summary())
    }

    /// The header that names a request's or response's message compression.
    pub(crate) fn encoding_header(&self, streaming: bool) -> &'static str {
        match (self.protocol, streaming) {
            (Protocol::Connect, false) => "content-encoding",
            (Protocol::Connect, true) => "connect-content-encoding",
            _ => "grpc-encoding",
        }
    }
}

/// The content types of a gRPC or gRPC-Web answer (`base`) with `codec`.
pub(crate) fn grpc_content_types(base: &str, codec: Codec) -> Vec<String> {
    match codec {
        Codec::Proto => vec![base.to_owned(), format!("{base}+proto")],
        _ => vec![format!("{base}+{codec}")],
    }
}

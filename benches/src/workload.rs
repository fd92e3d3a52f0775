//! Prebuilt request bodies and request templates shared by the in-process
//! benches, the allocation counter and the loopback driver.

use bytes::{BufMut as _, Bytes, BytesMut};
use http::{HeaderMap, HeaderValue, Method, Request, Response};
use http_body_util::{BodyExt as _, Full};
use prost::Message as _;

use crate::tonic_proto::{EchoRequest, IngestRequest, LogRecord, log_record::Source};

/// The small echo message.
pub const ECHO_MESSAGE: &str = "Hello, benchmark! A small echo payload.";
/// Log records per ingest request.
pub const INGEST_RECORDS: usize = 50;

/// Encoded `EchoRequest`.
pub fn echo_request() -> Bytes {
    EchoRequest {
        message: ECHO_MESSAGE.to_owned(),
    }
    .encode_to_vec()
    .into()
}

/// Encoded `IngestRequest` with [`INGEST_RECORDS`] records.
pub fn ingest_request() -> Bytes {
    let services = ["checkout", "payments", "search", "auth"];
    let records = (0..INGEST_RECORDS)
        .map(|i| LogRecord {
            service: services[i % services.len()].to_owned(),
            host: format!("web-{:02}.eu-west-1.internal", i % 16),
            timestamp_ns: 1_760_000_000_000_000_000 + i as i64 * 1_000_003,
            severity: (i % 5) as i32,
            message: format!(
                "request {i} completed: GET /api/v1/cart/items?page={} status=200 duration_ms={}",
                i % 7,
                10 + i * 3
            ),
            attributes: [
                (
                    "trace_id",
                    format!("{:032x}", 0xabcdef_u128 * (i as u128 + 1)),
                ),
                ("span_id", format!("{:016x}", 0x1234_u64 * (i as u64 + 1))),
                ("user_id", format!("user-{}", 1000 + i)),
                ("region", "eu-west-1".to_owned()),
            ]
            .into_iter()
            .map(|(k, v)| (k.to_owned(), v))
            .collect(),
            source: Some(Source {
                file: "src/handlers/cart.rs".to_owned(),
                line: 100 + i as i32,
                function: "handle_list_items".to_owned(),
            }),
        })
        .collect();
    IngestRequest { records }.encode_to_vec().into()
}

/// Wraps messages in gRPC / Connect-streaming envelopes (flag 0, no
/// compression).
pub fn envelope(messages: &[&[u8]]) -> Bytes {
    let mut out = BytesMut::new();
    for m in messages {
        out.put_u8(0);
        out.put_u32(m.len() as u32);
        out.put_slice(m);
    }
    out.freeze()
}

/// Wire protocol of a request.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Proto {
    /// Connect (unary: `application/proto`; streaming:
    /// `application/connect+proto`).
    Connect,
    /// gRPC over HTTP/2 (`application/grpc`).
    Grpc,
}

impl Proto {
    /// Short name for tables.
    pub fn name(self) -> &'static str {
        match self {
            Proto::Connect => "connect",
            Proto::Grpc => "grpc",
        }
    }
}

/// RPC workloads.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Workload {
    /// Unary small echo.
    Echo,
    /// Unary ingest of 50 log records.
    Ingest,
    /// Client stream of 10 echo requests.
    ClientStream,
    /// One echo request, 10 responses.
    ServerStream,
}

impl Workload {
    /// All workloads.
    pub const ALL: [Workload; 4] = [
        Workload::Echo,
        Workload::Ingest,
        Workload::ClientStream,
        Workload::ServerStream,
    ];

    /// Short name for tables.
    pub fn name(self) -> &'static str {
        match self {
            Workload::Echo => "unary_echo",
            Workload::Ingest => "unary_ingest50",
            Workload::ClientStream => "client_stream10",
            Workload::ServerStream => "server_stream10",
        }
    }

    /// Request path.
    pub fn path(self) -> &'static str {
        match self {
            Workload::Echo => "/bench.v1.EchoService/Echo",
            Workload::Ingest => "/bench.v1.LogService/Ingest",
            Workload::ClientStream => "/bench.v1.EchoService/EchoClientStream",
            Workload::ServerStream => "/bench.v1.EchoService/EchoServerStream",
        }
    }

    fn unary(self) -> bool {
        matches!(self, Workload::Echo | Workload::Ingest)
    }
}

/// A prebuilt request: headers and body, cloned into an `http::Request`
/// for each call.
#[derive(Clone, Debug)]
pub struct Template {
    /// Which workload.
    pub workload: Workload,
    /// Which protocol.
    pub proto: Proto,
    /// Request path.
    pub path: &'static str,
    /// Request headers.
    pub headers: HeaderMap,
    /// Request body (already framed for the protocol).
    pub body: Bytes,
}

impl Template {
    /// Builds the template for a workload and protocol.
    pub fn new(workload: Workload, proto: Proto) -> Self {
        let msg = match workload {
            Workload::Ingest => ingest_request(),
            _ => echo_request(),
        };
        let mut headers = HeaderMap::new();
        let (ct, body) = match (proto, workload.unary()) {
            (Proto::Connect, true) => ("application/proto", msg),
            (Proto::Connect, false) => {
                let n = if workload == Workload::ClientStream {
                    crate::STREAM_LEN
                } else {
                    1
                };
                ("application/connect+proto", envelope(&vec![&msg[..]; n]))
            }
            (Proto::Grpc, _) => {
                let n = if workload == Workload::ClientStream {
                    crate::STREAM_LEN
                } else {
                    1
                };
                ("application/grpc", envelope(&vec![&msg[..]; n]))
            }
        };
        headers.insert(http::header::CONTENT_TYPE, HeaderValue::from_static(ct));
        match proto {
            Proto::Connect => {
                headers.insert("connect-protocol-version", HeaderValue::from_static("1"));
            }
            Proto::Grpc => {
                headers.insert(http::header::TE, HeaderValue::from_static("trailers"));
            }
        }
        Template {
            workload,
            proto,
            path: workload.path(),
            headers,
            body,
        }
    }

    /// A fresh HTTP/2 request with a `Full` body over the prebuilt bytes.
    pub fn request(&self) -> Request<Full<Bytes>> {
        let mut req = Request::builder()
            .method(Method::POST)
            .version(http::Version::HTTP_2)
            .uri(format!("http://127.0.0.1{}", self.path))
            .body(Full::new(self.body.clone()))
            .expect("valid request");
        *req.headers_mut() = self.headers.clone();
        req
    }

    /// Header arguments for h2load (`-H 'name: value'`).
    pub fn h2load_headers(&self) -> Vec<String> {
        self.headers
            .iter()
            .map(|(k, v)| format!("{}: {}", k, v.to_str().unwrap()))
            .collect()
    }
}

/// Calls a tower service the way hyper-util's `TowerToHyperService` does
/// (clone, `poll_ready`, `call`) and reads the whole response body,
/// trailers included.
pub async fn call<S, RB>(
    svc: &S,
    req: Request<Full<Bytes>>,
) -> (http::response::Parts, http_body_util::Collected<Bytes>)
where
    S: tower_service::Service<Request<Full<Bytes>>, Response = Response<RB>> + Clone,
    S::Error: std::fmt::Debug,
    RB: http_body::Body<Data = Bytes>,
    RB::Error: std::fmt::Debug,
{
    let mut svc = svc.clone();
    futures_util::future::poll_fn(|cx| svc.poll_ready(cx))
        .await
        .expect("service ready");
    let resp = svc.call(req).await.expect("service call");
    let (parts, body) = resp.into_parts();
    let collected = body.collect().await.expect("response body");
    (parts, collected)
}

/// Checks that a response is a success for its protocol and shape:
/// HTTP 200; for gRPC `grpc-status: 0` (trailers or trailers-only headers);
/// for Connect streaming an end-of-stream message without `error`. Returns
/// the number of response messages seen (or 1 for Connect unary).
pub fn check(
    t: &Template,
    parts: &http::response::Parts,
    trailers: Option<&HeaderMap>,
    body: &[u8],
) -> Result<usize, String> {
    if parts.status != http::StatusCode::OK {
        return Err(format!(
            "HTTP {} body {:?}",
            parts.status,
            String::from_utf8_lossy(body)
        ));
    }
    if t.proto == Proto::Connect && t.workload.unary() {
        return if body.is_empty() && t.workload != Workload::Echo {
            Err("empty body".into())
        } else {
            Ok(1)
        };
    }
    let mut msgs = 0;
    let mut rest = body;
    let mut end_ok = false;
    while rest.len() >= 5 {
        let flags = rest[0];
        let len = u32::from_be_bytes([rest[1], rest[2], rest[3], rest[4]]) as usize;
        let payload = rest.get(5..5 + len).ok_or("truncated envelope")?;
        if flags & 0x02 != 0 {
            let text = String::from_utf8_lossy(payload);
            if text.contains("\"error\"") {
                return Err(format!("end-of-stream error: {text}"));
            }
            end_ok = true;
        } else {
            msgs += 1;
        }
        rest = &rest[5 + len..];
    }
    match t.proto {
        Proto::Connect => {
            if !end_ok {
                return Err("no end-of-stream message".into());
            }
        }
        Proto::Grpc => {
            let status = trailers
                .and_then(|t| t.get("grpc-status"))
                .or_else(|| parts.headers.get("grpc-status"))
                .ok_or("no grpc-status")?;
            if status != "0" {
                let msg = trailers
                    .and_then(|t| t.get("grpc-message"))
                    .or_else(|| parts.headers.get("grpc-message"));
                return Err(format!("grpc-status {status:?} {msg:?}"));
            }
        }
    }
    let want = if t.workload == Workload::ServerStream {
        crate::STREAM_LEN
    } else {
        1
    };
    if msgs != want {
        return Err(format!("{msgs} response messages, want {want}"));
    }
    Ok(msgs)
}

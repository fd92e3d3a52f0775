use std::sync::{Arc, Mutex};

use bytes::Bytes;
use connect_core::{
    Code, Codec, ConnectError, Idempotency, MethodDescriptor, Protocol, StreamType,
};
use http::{HeaderMap, HeaderValue};
use tower::{Layer as _, Service as _, ServiceExt as _};

use super::*;
use crate::ClientBody;
use crate::rpc::{Frame, RequestHead, RequestMessages, RpcRequest, RpcResponse};

static UNARY: MethodDescriptor = MethodDescriptor::new(
    "t.v1.S",
    "U",
    "/t.v1.S/U",
    StreamType::Unary,
    Idempotency::NoSideEffects,
);
static CLIENT_STREAM: MethodDescriptor = MethodDescriptor::new(
    "t.v1.S",
    "C",
    "/t.v1.S/C",
    StreamType::ClientStream,
    Idempotency::Unknown,
);

type Msg = buffa_types::google::protobuf::StringValue;

fn msg(value: &str) -> Msg {
    Msg {
        value: value.into(),
        ..Default::default()
    }
}

fn rpc_request(headers: &[(&'static str, &'static str)], body: Bytes) -> RpcRequest {
    let mut map = HeaderMap::new();
    for (k, v) in headers {
        map.insert(*k, HeaderValue::from_static(v));
    }
    RpcRequest {
        head: RequestHead {
            method: &UNARY,
            protocol: Protocol::Connect,
            codec: Codec::Proto,
            headers: map,
            extensions: http::Extensions::new(),
            deadline: None,
        },
        messages: RequestMessages::Unary(Frame::new(body)),
    }
}

fn require_token() -> Headers<
    impl Fn(&'static MethodDescriptor, &mut HeaderMap) -> Result<(), ConnectError> + Send + Sync,
> {
    headers(|_, headers| match headers.get("authorization") {
        Some(_) => Ok(()),
        None => Err(ConnectError::unauthenticated("no token")),
    })
}

type Log = Arc<Mutex<Vec<(&'static str, Option<Code>)>>>;
type Case = (&'static str, Bytes, Option<(&'static str, &'static str)>);

/// Records each outcome the layer reports, as (path, code).
fn recorder() -> (
    Log,
    impl Fn(&'static MethodDescriptor, Result<&HeaderMap, &ConnectError>) + Send + Sync,
) {
    let seen = Arc::new(Mutex::new(Vec::new()));
    let log = seen.clone();
    (
        seen,
        move |m: &'static MethodDescriptor, outcome: Result<&HeaderMap, &ConnectError>| {
            log.lock()
                .unwrap()
                .push((m.path(), outcome.err().map(ConnectError::code)));
        },
    )
}

#[tokio::test]
async fn server_interceptor_refuses_before_the_handler_and_reports_outcomes() {
    let handled = Arc::new(Mutex::new(Vec::new()));
    let log = handled.clone();
    let (seen, record) = recorder();
    let mut svc = InterceptLayer::new(require_token())
        .on_result(record)
        .layer(tower::service_fn(move |req: RpcRequest| {
            let log = log.clone();
            async move {
                let m: Msg = server::unary_message(&req).unwrap()?;
                log.lock().unwrap().push(m.value);
                Ok::<_, ConnectError>(RpcResponse::default())
            }
        }));
    let body = Bytes::from(buffa::Message::encode_to_vec(&msg("hello")));

    let refused = svc
        .ready()
        .await
        .unwrap()
        .call(rpc_request(&[], body.clone()))
        .await;
    assert_eq!(refused.unwrap_err().code(), Code::Unauthenticated);
    assert!(
        handled.lock().unwrap().is_empty(),
        "the handler ran for a refused call"
    );

    svc.ready()
        .await
        .unwrap()
        .call(rpc_request(&[("authorization", "Bearer x")], body))
        .await
        .unwrap();
    assert_eq!(*handled.lock().unwrap(), vec!["hello".to_string()]);
    assert_eq!(
        *seen.lock().unwrap(),
        vec![
            ("/t.v1.S/U", Some(Code::Unauthenticated)),
            ("/t.v1.S/U", None)
        ]
    );
}

#[tokio::test]
async fn an_async_interceptor_hands_the_handler_what_it_found() {
    #[derive(Clone, Debug, PartialEq)]
    struct User(&'static str);
    let mut svc = InterceptLayer::new(from_fn(|mut req: RpcRequest| async move {
        tokio::task::yield_now().await; // e.g. a token check against a service
        let user = match req.head.headers.get("authorization") {
            Some(v) if v == "Bearer ada" => User("ada"),
            _ => return Err(ConnectError::permission_denied("who?")),
        };
        req.head.extensions.insert(user);
        Ok(req)
    }))
    .layer(tower::service_fn(|req: RpcRequest| async move {
        let user = req.head.extensions.get::<User>().cloned();
        let mut resp = RpcResponse::default();
        resp.headers
            .insert("x-user", HeaderValue::from_static(user.unwrap().0));
        Ok::<_, ConnectError>(resp)
    }));
    let ok = svc
        .ready()
        .await
        .unwrap()
        .call(rpc_request(
            &[("authorization", "Bearer ada")],
            Bytes::new(),
        ))
        .await
        .unwrap();
    assert_eq!(ok.headers["x-user"], "ada");
    let no = svc
        .ready()
        .await
        .unwrap()
        .call(rpc_request(
            &[("authorization", "Bearer bob")],
            Bytes::new(),
        ))
        .await;
    assert_eq!(no.unwrap_err().code(), Code::PermissionDenied);
}

fn client_request(
    method: &'static MethodDescriptor,
    ct: &'static str,
    body: Bytes,
) -> http::Request<ClientBody> {
    let mut req = http::Request::post("http://x/t.v1.S/U")
        .header("content-type", ct)
        .body(ClientBody::full(body))
        .unwrap();
    req.extensions_mut().insert(MethodRoute(method));
    req
}

#[tokio::test]
async fn client_interceptor_adds_headers_sees_the_method_and_classifies_failures() {
    let sent = Arc::new(Mutex::new(Vec::new()));
    let log = sent.clone();
    let (seen, record) = recorder();
    let channel = tower::service_fn(move |req: http::Request<ClientBody>| {
        log.lock()
            .unwrap()
            .push(req.headers().get("x-idempotent").cloned());
        let fail = req.headers().contains_key("x-fail");
        async move {
            if fail {
                return Err(std::io::Error::new(std::io::ErrorKind::TimedOut, "slow"));
            }
            let mut resp = http::Response::new(());
            resp.headers_mut()
                .insert("x-answer", HeaderValue::from_static("1"));
            Ok(resp)
        }
    });
    let mut svc = InterceptLayer::new(headers(|method, headers| {
        if method.idempotency() == Idempotency::NoSideEffects {
            headers.insert("x-idempotent", HeaderValue::from_static("yes"));
        }
        Ok(())
    }))
    .on_result(record)
    .layer(channel);

    let resp = svc
        .ready()
        .await
        .unwrap()
        .call(client_request(&UNARY, "application/proto", Bytes::new()))
        .await
        .unwrap();
    assert_eq!(resp.headers()["x-answer"], "1");
    svc.ready()
        .await
        .unwrap()
        .call(client_request(
            &CLIENT_STREAM,
            "application/connect+proto",
            Bytes::new(),
        ))
        .await
        .unwrap();
    let mut failing = client_request(&UNARY, "application/proto", Bytes::new());
    failing
        .headers_mut()
        .insert("x-fail", HeaderValue::from_static("1"));
    let err = svc.ready().await.unwrap().call(failing).await.unwrap_err();
    // The same code the stack's error layer gives a timeout.
    assert_eq!(ConnectError::from_error(err).code(), Code::DeadlineExceeded);

    assert_eq!(
        *sent.lock().unwrap(),
        vec![
            Some(HeaderValue::from_static("yes")),
            None,
            Some(HeaderValue::from_static("yes"))
        ]
    );
    assert_eq!(
        *seen.lock().unwrap(),
        vec![
            ("/t.v1.S/U", None),
            ("/t.v1.S/C", None),
            ("/t.v1.S/U", Some(Code::DeadlineExceeded)),
        ]
    );
}

#[test]
fn client_unary_message_reads_every_framing() {
    use base64::Engine as _;
    let raw = Bytes::from(buffa::Message::encode_to_vec(&msg("framed")));
    let mut enveloped = vec![0u8];
    enveloped.extend_from_slice(&(raw.len() as u32).to_be_bytes());
    enveloped.extend_from_slice(&raw);
    let gz = CompressionRegistryForTest::gzip(&raw);
    let mut gz_enveloped = vec![1u8];
    gz_enveloped.extend_from_slice(&(gz.len() as u32).to_be_bytes());
    gz_enveloped.extend_from_slice(&gz);
    let text = base64::engine::general_purpose::STANDARD.encode(&enveloped);

    let cases: Vec<Case> = vec![
        ("application/proto", raw.clone(), None),
        (
            "application/proto",
            gz.clone(),
            Some(("content-encoding", "gzip")),
        ),
        ("application/grpc", Bytes::from(enveloped.clone()), None),
        (
            "application/grpc-web+proto",
            Bytes::from(enveloped.clone()),
            None,
        ),
        (
            "application/grpc",
            Bytes::from(gz_enveloped),
            Some(("grpc-encoding", "gzip")),
        ),
        ("application/grpc-web-text", Bytes::from(text), None),
    ];
    for (ct, body, header) in cases {
        let mut req = client_request(&UNARY, ct, body);
        if let Some((k, v)) = header {
            req.headers_mut().insert(k, HeaderValue::from_static(v));
        }
        let got: Msg = client::unary_message(&req)
            .unwrap()
            .unwrap_or_else(|e| panic!("{ct}: {e}"));
        assert_eq!(got.value, "framed", "{ct}");
    }
    let json = client_request(
        &UNARY,
        "application/json",
        Bytes::from_static(b"\"as json\""),
    );
    assert_eq!(
        client::unary_message::<Msg>(&json).unwrap().unwrap().value,
        "as json"
    );
    // Not in the body: a client stream, a GET.
    let stream = client_request(&CLIENT_STREAM, "application/connect+proto", raw.clone());
    assert!(client::unary_message::<Msg>(&stream).is_none());
    let mut get = client_request(&UNARY, "application/proto", raw);
    *get.method_mut() = http::Method::GET;
    assert!(client::unary_message::<Msg>(&get).is_none());
    // A body that is not what it says: an error, not a panic.
    let short = client_request(&UNARY, "application/grpc", Bytes::from_static(b"\0\0"));
    assert!(client::unary_message::<Msg>(&short).unwrap().is_err());
}

struct CompressionRegistryForTest;

impl CompressionRegistryForTest {
    fn gzip(data: &[u8]) -> Bytes {
        connect_codec::compression::CompressionRegistry::new()
            .compress("gzip", data)
            .unwrap()
    }
}

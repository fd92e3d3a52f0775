//! Connect GET and HTTP caching: the cache headers a handler sets
//! (`cache-control`, `etag`, `last-modified`, `vary`) reach the client
//! unchanged, conditional-request headers (`if-none-match`,
//! `if-modified-since`) reach the handler, and a small tower middleware in
//! front of the router can answer a matching `if-none-match` with
//! `304 Not Modified` — over HTTP/1.1 and h2c, JSON and proto, with and
//! without response compression. A handler tells a GET from a POST with
//! `Context::http_method`.

mod support;

use std::convert::Infallible;
use std::sync::Arc;

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use buffa_types::google::protobuf::Empty;
use connectrpc::layers::body::server::ResponseBody;
use connectrpc::{ConnectError, Context, OwnedView, ResponseStream, Router, Streaming};
use http::{HeaderMap, HeaderValue, Method, Request, Response, StatusCode, header};
use integration_tests::proto::test::v1::test_service::{
    EmptyView, ServerStreamRequestView, UnaryRequestView,
};
use integration_tests::proto::test::v1::{TestService, TestServiceExt as _, UnaryResponse};
use support::*;

const UNARY: &str = "/test.v1.TestService/Unary";
const LAST_MODIFIED: &str = "Wed, 21 Oct 2015 07:28:00 GMT";

/// A strong validator for a response text (FNV-1a, quoted).
fn etag_for(text: &str) -> String {
    let hash = text.bytes().fold(0xcbf2_9ce4_8422_2325_u64, |h, b| {
        (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3)
    });
    format!("\"{hash:016x}\"")
}

/// `Unary` with cache headers; the other methods are the shared `Impl`.
struct Cached;

impl TestService for Cached {
    async fn unary(
        &self,
        mut ctx: Context,
        request: OwnedView<UnaryRequestView<'static>>,
    ) -> Result<(UnaryResponse, Context), ConnectError> {
        let req = request.reborrow();
        if req.fail_code != 0 {
            let mut err = ConnectError::not_found(format!("no {}", req.text));
            err.headers_mut()
                .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
            return Err(err);
        }
        // What the client asked, reported back so the test sees that the
        // conditional headers got here.
        let seen = [
            (header::IF_NONE_MATCH, "x-seen-if-none-match"),
            (header::IF_MODIFIED_SINCE, "x-seen-if-modified-since"),
        ];
        for (asked, report) in seen {
            if let Some(v) = ctx.request_headers().get(&asked).cloned() {
                ctx.response_headers_mut().insert(report, v);
            }
        }
        let method = HeaderValue::from_str(ctx.http_method().as_str()).unwrap();
        let h = ctx.response_headers_mut();
        h.insert("x-http-method", method);
        h.insert(
            header::CACHE_CONTROL,
            HeaderValue::from_static("public, max-age=60"),
        );
        h.insert(header::ETAG, etag_for(req.text).parse().unwrap());
        h.insert(
            header::LAST_MODIFIED,
            HeaderValue::from_static(LAST_MODIFIED),
        );
        h.insert(header::VARY, HeaderValue::from_static("x-tenant"));
        let response = UnaryResponse {
            text: req.text.to_owned(),
            ..Default::default()
        };
        Ok((response, ctx))
    }

    async fn server_stream(
        &self,
        ctx: Context,
        request: OwnedView<ServerStreamRequestView<'static>>,
    ) -> Result<(ResponseStream<UnaryResponse>, Context), ConnectError> {
        Impl.server_stream(ctx, request).await
    }

    async fn client_stream(
        &self,
        ctx: Context,
        requests: Streaming<UnaryRequestView<'static>>,
    ) -> Result<(UnaryResponse, Context), ConnectError> {
        Impl.client_stream(ctx, requests).await
    }

    async fn bidi(
        &self,
        ctx: Context,
        requests: Streaming<UnaryRequestView<'static>>,
    ) -> Result<(ResponseStream<UnaryResponse>, Context), ConnectError> {
        Impl.bidi(ctx, requests).await
    }

    async fn not_gettable(
        &self,
        ctx: Context,
        request: OwnedView<UnaryRequestView<'static>>,
    ) -> Result<(UnaryResponse, Context), ConnectError> {
        Impl.not_gettable(ctx, request).await
    }

    async fn ping(
        &self,
        ctx: Context,
        request: OwnedView<EmptyView<'static>>,
    ) -> Result<(Empty, Context), ConnectError> {
        Impl.ping(ctx, request).await
    }
}

fn router() -> Router {
    Arc::new(Cached).register(Router::new())
}

fn proto_query(text: &str) -> String {
    let msg = URL_SAFE_NO_PAD.encode(encode(&unary_req(text)));
    format!("connect=v1&encoding=proto&base64=1&message={msg}")
}

fn json_query(text: &str) -> String {
    let msg = format!("{{\"text\":\"{text}\"}}");
    let msg: String = url_encode(&msg);
    format!("connect=v1&encoding=json&message={msg}")
}

fn url_encode(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                char::from(b).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

fn get(query: &str) -> http::request::Builder {
    Request::get(format!("http://127.0.0.1{UNARY}?{query}"))
}

fn all(headers: &HeaderMap, name: header::HeaderName) -> Vec<&str> {
    headers
        .get_all(name)
        .iter()
        .map(|v| v.to_str().unwrap())
        .collect()
}

/// The handler's cache headers, each exactly once and as set.
fn assert_cache_headers(reply: &Reply, text: &str, what: &str) {
    let h = &reply.headers;
    assert_eq!(
        all(h, header::CACHE_CONTROL),
        ["public, max-age=60"],
        "{what}"
    );
    assert_eq!(all(h, header::ETAG), [etag_for(text).as_str()], "{what}");
    assert_eq!(all(h, header::LAST_MODIFIED), [LAST_MODIFIED], "{what}");
    assert_eq!(all(h, header::VARY), ["x-tenant"], "{what}");
}

#[tokio::test]
async fn cache_headers_set_by_the_handler_reach_get_clients() {
    let server = start_with(router()).await;
    for v in VERSIONS {
        // proto and JSON queries: the handler reads the request like a POST's.
        let reply = call(server.addr, v, get(&proto_query("cached")), "").await;
        assert_eq!(reply.status, StatusCode::OK, "{v:?}");
        assert_eq!(reply.header("content-type"), Some("application/proto"));
        assert_eq!(decode_unary_response(&reply.body).text, "cached");
        assert_cache_headers(&reply, "cached", &format!("{v:?} proto GET"));
        assert_eq!(reply.header("x-http-method"), Some("GET"), "{v:?}");

        let reply = call(server.addr, v, get(&json_query("cached json")), "").await;
        assert_eq!(reply.status, StatusCode::OK, "{v:?}");
        assert_eq!(reply.json()["text"], "cached json");
        assert_cache_headers(&reply, "cached json", &format!("{v:?} JSON GET"));

        // A compressed response keeps them too, `vary` included (the stack
        // adds no `vary: accept-encoding` of its own).
        let long = "y".repeat(4000);
        let reply = call(
            server.addr,
            v,
            get(&proto_query(&long)).header("accept-encoding", "gzip"),
            "",
        )
        .await;
        assert_eq!(reply.status, StatusCode::OK, "{v:?}");
        assert_eq!(reply.header("content-encoding"), Some("gzip"), "{v:?}");
        assert_eq!(decode_unary_response(&gunzip(&reply.body)).text, long);
        assert_cache_headers(&reply, &long, &format!("{v:?} gzip GET"));

        // The same call as a POST: nothing about them is GET-specific.
        let reply = call(
            server.addr,
            v,
            post(UNARY, "application/proto").header("connect-protocol-version", "1"),
            encode(&unary_req("posted")),
        )
        .await;
        assert_eq!(reply.status, StatusCode::OK, "{v:?}");
        assert_cache_headers(&reply, "posted", &format!("{v:?} POST"));
        assert_eq!(reply.header("x-http-method"), Some("POST"), "{v:?}");
    }
}

#[tokio::test]
async fn conditional_request_headers_reach_the_handler() {
    let server = start_with(router()).await;
    let etag = etag_for("cond");
    for v in VERSIONS {
        let reply = call(
            server.addr,
            v,
            get(&proto_query("cond"))
                .header("if-none-match", &etag)
                .header("if-modified-since", LAST_MODIFIED),
            "",
        )
        .await;
        assert_eq!(reply.status, StatusCode::OK, "{v:?}");
        assert_eq!(reply.header("x-seen-if-none-match"), Some(etag.as_str()));
        assert_eq!(
            reply.header("x-seen-if-modified-since"),
            Some(LAST_MODIFIED)
        );
        // Without them, nothing is reported: the handler saw what was sent.
        let reply = call(server.addr, v, get(&proto_query("cond")), "").await;
        assert_eq!(reply.header("x-seen-if-none-match"), None);
    }
}

#[tokio::test]
async fn error_responses_to_get_keep_the_handlers_headers() {
    let server = start_with(router()).await;
    let mut req = unary_req("thing");
    req.fail_code = 5;
    let query = format!(
        "encoding=proto&base64=1&message={}",
        URL_SAFE_NO_PAD.encode(encode(&req))
    );
    for v in VERSIONS {
        let reply = call(server.addr, v, get(&query), "").await;
        assert_eq!(reply.status, StatusCode::NOT_FOUND, "{v:?}");
        assert_eq!(reply.json()["code"], "not_found");
        assert_eq!(all(&reply.headers, header::CACHE_CONTROL), ["no-store"]);
    }
}

/// The 304 recipe: in front of the router, a GET whose `if-none-match`
/// names the ETag of the response the handler gave is answered with
/// `304 Not Modified`, no body, and the response's other headers.
async fn not_modified(
    router: Router,
    req: Request<hyper::body::Incoming>,
) -> Result<Response<ResponseBody>, Infallible> {
    use tower::ServiceExt as _;
    let is_get = req.method() == Method::GET;
    let if_none_match = req.headers().get(header::IF_NONE_MATCH).cloned();
    let resp = router.oneshot(req).await?;
    let matches = match (&if_none_match, resp.headers().get(header::ETAG)) {
        (Some(asked), Some(etag)) => asked
            .to_str()
            .is_ok_and(|a| a.split(',').any(|t| t.trim() == etag || t.trim() == "*")),
        _ => false,
    };
    if is_get && resp.status() == StatusCode::OK && matches {
        let (mut parts, _) = resp.into_parts();
        parts.status = StatusCode::NOT_MODIFIED;
        parts.headers.remove(header::CONTENT_LENGTH);
        parts.headers.remove(header::CONTENT_ENCODING);
        return Ok(Response::from_parts(parts, ResponseBody::empty()));
    }
    Ok(resp)
}

#[tokio::test]
async fn a_middleware_answers_matching_etags_with_304() {
    let router = router();
    let app = tower::service_fn(move |req| not_modified(router.clone(), req));
    let server = start_with(app).await;
    let etag = etag_for("fresh");
    for v in VERSIONS {
        let reply = call(
            server.addr,
            v,
            get(&proto_query("fresh")).header("if-none-match", format!("\"other\", {etag}")),
            "",
        )
        .await;
        assert_eq!(reply.status, StatusCode::NOT_MODIFIED, "{v:?}");
        assert!(reply.body.is_empty(), "{v:?}: {:?}", reply.body);
        assert_cache_headers(&reply, "fresh", &format!("{v:?} 304"));

        // A stale validator gets the full response.
        let reply = call(
            server.addr,
            v,
            get(&proto_query("fresh")).header("if-none-match", "\"stale\""),
            "",
        )
        .await;
        assert_eq!(reply.status, StatusCode::OK, "{v:?}");
        assert_eq!(decode_unary_response(&reply.body).text, "fresh");

        // POSTs are never answered with 304.
        let reply = call(
            server.addr,
            v,
            post(UNARY, "application/proto")
                .header("connect-protocol-version", "1")
                .header("if-none-match", &etag),
            encode(&unary_req("fresh")),
        )
        .await;
        assert_eq!(reply.status, StatusCode::OK, "{v:?}");
    }
}

#[tokio::test]
async fn the_rust_client_reads_the_cache_headers_of_its_get() {
    use connectrpc::client::ClientBody;
    use connectrpc::{ClientConfig, GetPolicy, HttpClient};
    use integration_tests::proto::test::v1::TestServiceClient;

    let server = start_with(router()).await;
    let base = format!("http://{}", server.addr);
    let config = ClientConfig::new(base.parse().unwrap()).get_policy(GetPolicy::IfNoSideEffects);
    let http: HttpClient<ClientBody> = HttpClient::builder().build();
    let client = TestServiceClient::new(http, config);
    let resp = client.unary(&unary_req("rust")).await.unwrap();
    assert_eq!(resp.message().text, "rust");
    let h = resp.headers();
    assert_eq!(h["x-http-method"], "GET", "the client sent a GET");
    assert_eq!(h[header::CACHE_CONTROL], "public, max-age=60");
    assert_eq!(h[header::ETAG], etag_for("rust").as_str());
    assert_eq!(h[header::LAST_MODIFIED], LAST_MODIFIED);
}

//! Plaintext transports against a real hyper server: HTTP/1.1, h2c with
//! prior knowledge, a single HTTP/2 connection, and failures; HTTP/2
//! keep-alive against a raw peer that answers PINGs or ignores them.

mod transport_support;

use std::future::poll_fn;
use std::time::Duration;

use bytes::Bytes;
use connect_client::transport::{Http2Connection, HttpClient};
use connect_core::{Code, ConnectError};
use connect_layers::ClientBody;
use http_body_util::{Full, StreamBody};
use hyper::body::Frame;
use tower_service::Service;
use transport_support::raw_h2::{Pings, RawH2};
use transport_support::{TestServer, bounded, post, read};

/// Readies `svc`, then calls it.
async fn call<S, R>(svc: &mut S, req: R) -> Result<S::Response, ConnectError>
where
    S: Service<R, Error = ConnectError>,
{
    poll_fn(|cx| svc.poll_ready(cx)).await?;
    svc.call(req).await
}

#[tokio::test]
async fn http1_round_trip_reuses_the_pooled_connection() {
    bounded(async {
        let server = TestServer::plaintext().await;
        let mut client = HttpClient::plaintext();
        for body in [&b"one"[..], b"two"] {
            let resp = call(&mut client, post(&server.url("http", "/s.v1.S/M"), body))
                .await
                .unwrap();
            assert_eq!(resp.version(), http::Version::HTTP_11);
            let (version, echoed) = read(resp).await;
            assert_eq!(version, "HTTP/1.1");
            assert_eq!(echoed, body);
        }
        assert_eq!(server.connections(), 1);
    })
    .await;
}

#[tokio::test]
async fn h2c_with_prior_knowledge() {
    bounded(async {
        let server = TestServer::plaintext().await;
        let mut client = HttpClient::builder()
            .http2_only(true)
            .connect_timeout(Duration::from_secs(5))
            .tcp_nodelay(true)
            .pool_idle_timeout(Duration::from_secs(5))
            .pool_max_idle_per_host(4)
            .http2_keep_alive_interval(Duration::from_secs(5))
            .http2_keep_alive_timeout(Duration::from_secs(5))
            .build();
        // Concurrent calls share one HTTP/2 connection.
        let calls = (0..4).map(|_| {
            let mut client = client.clone();
            let req = post(&server.url("http", "/s.v1.S/M"), b"h2c");
            async move { read(call(&mut client, req).await.unwrap()).await }
        });
        for (version, body) in futures_util::future::join_all(calls).await {
            assert_eq!(version, "HTTP/2.0");
            assert_eq!(body, "h2c");
        }
        let resp = call(&mut client, post(&server.url("http", "/"), b""))
            .await
            .unwrap();
        assert_eq!(resp.version(), http::Version::HTTP_2);
        assert_eq!(server.connections(), 1);
    })
    .await;
}

#[tokio::test]
async fn connection_refused_is_unavailable() {
    bounded(async {
        // A port nothing listens on any more.
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        drop(listener);
        let url = format!("http://{addr}/s.v1.S/M");

        let mut client = HttpClient::plaintext();
        let err = call(&mut client, post(&url, b"")).await.unwrap_err();
        assert_eq!(err.code(), Code::Unavailable);
        assert!(
            err.message().starts_with("connection refused: "),
            "{}",
            err.message()
        );
        assert!(
            err.message().contains(&addr.to_string()),
            "{}",
            err.message()
        );

        let err = Http2Connection::connect(url.parse().unwrap())
            .await
            .unwrap_err();
        assert_eq!(err.code(), Code::Unavailable);
        assert!(
            err.message().starts_with("connection refused: "),
            "{}",
            err.message()
        );
    })
    .await;
}

#[tokio::test]
async fn requests_the_transport_cannot_send_are_invalid_arguments() {
    bounded(async {
        let mut client = HttpClient::plaintext();
        for url in ["https://127.0.0.1:1/s.v1.S/M", "/s.v1.S/M", "ftp://a/b"] {
            let err = call(&mut client, post(url, b"")).await.unwrap_err();
            assert_eq!(err.code(), Code::InvalidArgument, "{url}: {err}");
        }
        #[cfg(not(feature = "tls"))]
        {
            let err = Http2Connection::connect("https://127.0.0.1:1".parse().unwrap())
                .await
                .unwrap_err();
            assert_eq!(err.code(), Code::InvalidArgument);
        }
    })
    .await;
}

#[tokio::test]
async fn a_connect_error_from_the_request_body_is_returned_as_is() {
    bounded(async {
        let server = TestServer::plaintext().await;
        let mut client = HttpClient::plaintext();
        let chunks: Vec<Result<Bytes, ConnectError>> = vec![
            Ok(Bytes::from_static(b"partial")),
            Err(ConnectError::new(Code::Aborted, "the body gave up")),
        ];
        let req = http::Request::post(server.url("http", "/s.v1.S/M"))
            .body(ClientBody::stream(Box::pin(futures_util::stream::iter(
                chunks,
            ))))
            .unwrap();
        let err = call(&mut client, req).await.unwrap_err();
        assert_eq!(err.code(), Code::Aborted, "{err}");
        assert_eq!(err.message(), "the body gave up");
    })
    .await;
}

#[tokio::test]
async fn http2_connection_round_trip() {
    bounded(async {
        let server = TestServer::plaintext().await;
        let mut conn = Http2Connection::connect(server.url("http", "").parse().unwrap())
            .await
            .unwrap();
        // A path alone goes to the connection's authority; an absolute URI
        // as is.
        for uri in ["/s.v1.S/M".to_owned(), server.url("http", "/s.v1.S/M")] {
            let resp = call(&mut conn, post(&uri, b"single")).await.unwrap();
            assert_eq!(resp.version(), http::Version::HTTP_2);
            assert_eq!(
                read(resp).await,
                ("HTTP/2.0".to_owned(), Bytes::from("single"))
            );
        }
        // Clones share the connection.
        let mut clone = conn.clone();
        let resp = call(&mut clone, post("/s.v1.S/M", b"clone")).await.unwrap();
        assert_eq!(read(resp).await.1, "clone");
        assert_eq!(server.connections(), 1);
        assert!(!conn.is_closed());
    })
    .await;
}

/// The keep-alive settings of the tests below: a PING after 50 ms without
/// a frame from the peer, and the connection closed if its answer takes
/// longer than 300 ms.
const PING_EVERY: Duration = Duration::from_millis(50);
const PING_TIMEOUT: Duration = Duration::from_millis(300);

/// How long a test waits for what the peer should see: only a hang guard.
const SEEN_WITHIN: Duration = Duration::from_secs(10);

async fn keep_alive_connection(peer: &RawH2) -> Http2Connection<ClientBody> {
    Http2Connection::builder()
        .keep_alive_interval(PING_EVERY)
        .keep_alive_timeout(PING_TIMEOUT)
        .keep_alive_while_idle(true)
        .connect_timeout(Duration::from_secs(5))
        .tcp_nodelay(true)
        .connect(peer.url("http").parse().unwrap())
        .await
        .unwrap()
}

#[tokio::test]
async fn http2_connection_pings_an_idle_peer_and_stays_up_while_answered() {
    bounded(async {
        let peer = RawH2::start(Pings::Answer, None).await;
        let conn = keep_alive_connection(&peer).await;
        // The client sends its next PING only once the last one is answered:
        // eight PINGs mean seven answers were read, over more than the
        // keep-alive timeout, and the connection is still up.
        let seen = peer.wait_for(SEEN_WITHIN, |s| s.pings.len() >= 8).await;
        assert!(seen.closed.is_none(), "{seen:?}");
        assert!(!conn.is_closed());
    })
    .await;
}

#[tokio::test]
async fn http2_connection_closes_when_its_pings_go_unanswered() {
    bounded(async {
        let peer = RawH2::start(Pings::Ignore, None).await;
        let mut conn = keep_alive_connection(&peer).await;
        let seen = peer.wait_for(SEEN_WITHIN, |s| s.closed.is_some()).await;
        // One PING, no answer: the client closes the connection when the
        // keep-alive timeout runs out (not before; the ceiling only
        // guards against a hang).
        assert_eq!(seen.pings.len(), 1, "{seen:?}");
        let waited = seen.closed.unwrap() - seen.pings[0];
        assert!(waited >= PING_TIMEOUT / 2, "closed after {waited:?}");
        assert!(
            waited < PING_TIMEOUT + SEEN_WITHIN / 2,
            "closed after {waited:?}"
        );
        // Calls on it fail `unavailable`.
        let err = call(&mut conn, post("/s.v1.S/M", b"")).await.unwrap_err();
        assert_eq!(err.code(), Code::Unavailable, "{err}");
        while !conn.is_closed() {
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    })
    .await;
}

#[tokio::test]
async fn http_client_calls_fail_when_the_peer_stops_answering_pings() {
    bounded(async {
        let peer = RawH2::start(Pings::Ignore, None).await;
        let mut client = HttpClient::builder()
            .http2_only(true)
            .http2_keep_alive_interval(PING_EVERY)
            .http2_keep_alive_timeout(PING_TIMEOUT)
            .build();
        // The peer never answers the call; the unanswered PING ends it.
        let url = format!("{}/s.v1.S/M", peer.url("http"));
        let err = call(&mut client, post(&url, b"")).await.unwrap_err();
        assert_eq!(err.code(), Code::Unavailable, "{err}");
        let seen = peer.wait_for(SEEN_WITHIN, |s| s.closed.is_some()).await;
        assert_eq!(seen.pings.len(), 1, "{seen:?}");
    })
    .await;
}

#[tokio::test]
async fn http2_connection_to_a_server_that_goes_away_is_closed() {
    bounded(async {
        let server = TestServer::plaintext().await;
        let mut conn = Http2Connection::builder()
            .connect(server.url("http", "").parse().unwrap())
            .await
            .unwrap();
        let resp = call(&mut conn, post("/s.v1.S/M", b"alive")).await.unwrap();
        assert_eq!(read(resp).await.1, "alive");

        // Once the server is gone, the connection reports itself closed and
        // calls fail with `unavailable`.
        drop(server);
        while !conn.is_closed() {
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        let err = poll_fn(|cx| conn.poll_ready(cx)).await.unwrap_err();
        assert_eq!(err.code(), Code::Unavailable);
        assert!(err.message().contains("closed"), "{}", err.message());
        let err = conn.call(post("/s.v1.S/M", b"")).await.unwrap_err();
        assert_eq!(err.code(), Code::Unavailable);
    })
    .await;
}

#[tokio::test]
async fn other_body_types_through_the_builders() {
    bounded(async {
        let server = TestServer::plaintext().await;
        let url = server.url("http", "/s.v1.S/M");
        let full = |body: &'static [u8]| {
            http::Request::post(&url)
                .body(Full::new(Bytes::from_static(body)))
                .unwrap()
        };
        let mut client = HttpClient::builder().build();
        let resp = call(&mut client, full(b"full")).await.unwrap();
        assert_eq!(read(resp).await.1, "full");

        let mut conn = Http2Connection::builder()
            .connect(server.url("http", "").parse().unwrap())
            .await
            .unwrap();
        let resp = call(&mut conn, full(b"full-h2")).await.unwrap();
        assert_eq!(read(resp).await, ("HTTP/2.0".to_owned(), "full-h2".into()));

        // A body error that is not a `ConnectError` is `unavailable`.
        let frames: Vec<Result<Frame<Bytes>, std::io::Error>> =
            vec![Err(std::io::Error::other("disk on fire"))];
        let req = http::Request::post(&url)
            .body(StreamBody::new(futures_util::stream::iter(frames)))
            .unwrap();
        let mut client = HttpClient::builder().build();
        let err = call(&mut client, req).await.unwrap_err();
        assert_eq!(err.code(), Code::Unavailable);
        assert!(err.message().contains("disk on fire"), "{}", err.message());
    })
    .await;
}

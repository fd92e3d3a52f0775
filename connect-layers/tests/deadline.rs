//! The deadline layer alone, on a paused clock.

mod support;

use std::time::Duration;

use bytes::Bytes;
use connect_core::{Code, ConnectError};
use connect_layers::deadline::server::DeadlineLayer;
use connect_layers::rpc::{Frame, ResponseMessages, RpcRequest, RpcResponse};
use futures_util::StreamExt as _;
use support::*;
use tower::{Layer, ServiceExt, service_fn};

fn sleeper(
    delay: Duration,
) -> impl tower::Service<RpcRequest, Response = RpcResponse, Error = ConnectError> + Clone {
    service_fn(move |req: RpcRequest| async move {
        assert!(req.head.deadline.is_some() || req.head.headers.is_empty());
        tokio::time::sleep(delay).await;
        Ok::<_, ConnectError>(RpcResponse::default())
    })
}

#[tokio::test(start_paused = true)]
async fn expiry_is_deadline_exceeded() {
    let svc = DeadlineLayer::new().layer(sleeper(Duration::from_secs(2)));
    let req = unary(&UNARY, &[("connect-timeout-ms", "1000")], Frame::default());
    let err = svc.oneshot(req).await.unwrap_err();
    assert_eq!(err.code(), Code::DeadlineExceeded);
}

#[tokio::test(start_paused = true)]
async fn calls_inside_the_deadline_succeed_and_see_it() {
    let svc = DeadlineLayer::new().layer(service_fn(|req: RpcRequest| async move {
        let left = req.head.deadline.unwrap() - tokio::time::Instant::now();
        assert_eq!(left, Duration::from_millis(1500));
        Ok::<_, ConnectError>(RpcResponse::default())
    }));
    let req = unary(&UNARY, &[("connect-timeout-ms", "1500")], Frame::default());
    svc.oneshot(req).await.unwrap();
}

#[tokio::test(start_paused = true)]
async fn no_header_no_deadline_unless_a_maximum_is_set() {
    let svc = DeadlineLayer::new().layer(sleeper(Duration::from_secs(3600)));
    svc.oneshot(unary(&UNARY, &[], Frame::default()))
        .await
        .unwrap();

    let svc = DeadlineLayer::new()
        .max_timeout(Duration::from_secs(1))
        .layer(sleeper(Duration::from_secs(5)));
    let req = unary(
        &UNARY,
        &[("connect-timeout-ms", "9999999")],
        Frame::default(),
    );
    assert_eq!(
        svc.oneshot(req).await.unwrap_err().code(),
        Code::DeadlineExceeded
    );
}

#[tokio::test(start_paused = true)]
async fn zero_and_malformed_timeouts() {
    let svc = DeadlineLayer::new().layer(sleeper(Duration::ZERO));
    let err = svc
        .clone()
        .oneshot(unary(
            &UNARY,
            &[("connect-timeout-ms", "0")],
            Frame::default(),
        ))
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::DeadlineExceeded);
    for bad in ["-5", "1.5", "99999999999", "ten"] {
        let err = svc
            .clone()
            .oneshot(unary(
                &UNARY,
                &[("connect-timeout-ms", bad)],
                Frame::default(),
            ))
            .await
            .unwrap_err();
        assert_eq!(err.code(), Code::InvalidArgument, "{bad}");
    }
}

#[tokio::test(start_paused = true)]
async fn response_streams_are_cut_at_the_deadline() {
    let svc = DeadlineLayer::new().layer(service_fn(|_req: RpcRequest| async move {
        let ticks = futures_util::stream::iter(0..10).then(|i| async move {
            tokio::time::sleep(Duration::from_millis(100)).await;
            Ok(Frame::new(Bytes::from(vec![i])))
        });
        Ok::<_, ConnectError>(RpcResponse {
            messages: ResponseMessages::Stream(Box::pin(ticks)),
            ..Default::default()
        })
    }));
    let req = unary(&SERVER, &[("connect-timeout-ms", "350")], Frame::default());
    let resp = svc.oneshot(req).await.unwrap();
    let items = response_frames(resp).await;
    assert_eq!(items.len(), 4, "three messages, then the deadline");
    assert_eq!(
        items[3].as_ref().unwrap_err().code(),
        Code::DeadlineExceeded
    );
}

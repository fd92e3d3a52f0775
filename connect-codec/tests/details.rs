//! Typed error details through `ErrorDetail`, the Connect JSON error body,
//! the Connect end-of-stream message and gRPC `grpc-status-details-bin`.

use buffa::Message;
use buffa_types::google::protobuf::{Duration, StringValue};
use connect_codec::details::{ErrorDetailExt, ErrorDetailsExt};
use connect_codec::error_json::{decode_error, encode_end_stream, encode_error};
use connect_codec::grpc_status::{GRPC_STATUS_DETAILS, parse_status, status_trailers};
use connect_core::{Code, ConnectError, ErrorDetail};
use http::HeaderMap;

fn string(v: &str) -> StringValue {
    StringValue {
        value: v.into(),
        ..Default::default()
    }
}

fn duration(seconds: i64, nanos: i32) -> Duration {
    Duration {
        seconds,
        nanos,
        ..Default::default()
    }
}

/// An error with two `StringValue`s around a `Duration`, plus a detail of
/// a type no test decodes.
fn sample() -> ConnectError {
    let mut err = ConnectError::failed_precondition("not ready ☺")
        .with_typed_detail(&string("first"))
        .with_typed_detail(&duration(90, 500))
        .with_detail(ErrorDetail::new("acme.v1.Other", vec![8, 1]));
    err.add_typed_detail(&string("second"));
    err
}

fn assert_sample(err: &ConnectError) {
    assert_eq!(err.code(), Code::FailedPrecondition);
    assert_eq!(err.message(), "not ready ☺");
    assert_eq!(err.details().len(), 4);
    assert_eq!(
        err.detail::<Duration>().unwrap().unwrap(),
        duration(90, 500)
    );
    assert_eq!(
        err.detail::<StringValue>().unwrap().unwrap(),
        string("first")
    );
    let strings: Vec<StringValue> = err
        .typed_details::<StringValue>()
        .collect::<Result<_, _>>()
        .unwrap();
    assert_eq!(strings, [string("first"), string("second")]);
    let durations: Vec<Duration> = err.typed_details().collect::<Result<_, _>>().unwrap();
    assert_eq!(durations, [duration(90, 500)]);
    assert!(
        err.detail::<buffa_types::google::protobuf::Timestamp>()
            .is_none()
    );
}

#[test]
fn typed_details_round_trip_through_error_detail() {
    let d = ErrorDetail::from_message(&duration(-2, -5));
    assert_eq!(d.type_name(), "google.protobuf.Duration");
    assert_eq!(d.type_url(), "type.googleapis.com/google.protobuf.Duration");
    assert_eq!(d.value(), &duration(-2, -5).encode_to_bytes());
    assert!(d.is::<Duration>());
    assert!(!d.is::<StringValue>());
    assert_eq!(d.decode::<Duration>().unwrap(), duration(-2, -5));

    // Rebuilt from its parts, as a wire decoder does.
    let again = ErrorDetail::new(d.type_url(), d.value().clone());
    assert_eq!(again, d);
    assert_eq!(again.decode::<Duration>().unwrap(), duration(-2, -5));

    // A default message encodes to no bytes and still decodes.
    let empty = ErrorDetail::from_message(&StringValue::default());
    assert!(empty.value().is_empty());
    assert_eq!(
        empty.decode::<StringValue>().unwrap(),
        StringValue::default()
    );

    assert_sample(&sample());
}

#[test]
fn typed_details_survive_connect_json_errors() {
    let err = sample();
    let body = encode_error(&err);
    let back = decode_error(&body, Code::Unknown).expect("a JSON error body");
    assert_eq!(back.details(), err.details());
    assert_sample(&back);
}

#[test]
fn typed_details_survive_connect_end_stream() {
    let body = encode_end_stream(Some(&sample()), &HeaderMap::new());
    let v: serde_json::Value = serde_json::from_slice(&body).unwrap();
    let error = serde_json::to_vec(&v["error"]).unwrap();
    let back = decode_error(&error, Code::Unknown).expect("a JSON error");
    assert_sample(&back);
}

#[test]
fn typed_details_survive_grpc_status_details_bin() {
    let err = sample();
    let trailers = status_trailers(Some(&err), &HeaderMap::new());
    assert!(trailers.contains_key(GRPC_STATUS_DETAILS));
    let back = parse_status(&trailers).expect_err("a failed status");
    assert_eq!(back.details(), err.details());
    assert_sample(&back);
}

#[test]
fn wrong_type_details_are_skipped() {
    let err = ConnectError::not_found("x")
        .with_typed_detail(&duration(1, 0))
        .with_detail(ErrorDetail::new(
            "google.protobuf.StringValueX",
            vec![10, 1, b'a'],
        ))
        .with_detail(ErrorDetail::new(
            "x.google.protobuf.StringValue",
            vec![10, 1, b'b'],
        ));
    assert!(err.detail::<StringValue>().is_none());
    assert_eq!(err.typed_details::<StringValue>().count(), 0);
    assert_eq!(err.typed_details::<Duration>().count(), 1);

    // A detail is not decoded as a type it does not name, even if its
    // bytes would parse.
    let e = ErrorDetail::from_message(&string("a"))
        .decode::<Duration>()
        .unwrap_err();
    assert_eq!(e.code(), Code::Internal);
    assert!(e.message().contains("google.protobuf.StringValue"), "{e}");
}

#[test]
fn any_type_url_prefix_matches() {
    let d = ErrorDetail::new(
        "type.example.com/google.protobuf.StringValue",
        string("z").encode_to_bytes(),
    );
    assert!(d.is::<StringValue>());
    let err = ConnectError::unknown("x").with_detail(d);
    assert_eq!(err.detail::<StringValue>().unwrap().unwrap(), string("z"));
}

#[test]
fn corrupt_details_are_errors_not_panics() {
    // A length prefix running past the end, an invalid wire type, and
    // invalid UTF-8 in a string field.
    let corrupt: [&[u8]; 3] = [&[10, 5, b'a'], &[15], &[10, 2, 0xff, 0xfe]];
    for bytes in corrupt {
        let err = ConnectError::data_loss("x")
            .with_detail(ErrorDetail::new(
                "google.protobuf.StringValue",
                bytes.to_vec(),
            ))
            .with_typed_detail(&string("ok"));
        let first = err.detail::<StringValue>().expect("a StringValue detail");
        let e = first.expect_err("corrupt bytes");
        assert_eq!(e.code(), Code::Internal);
        assert!(e.message().contains("google.protobuf.StringValue"), "{e}");

        // The iterator reports the bad one and still yields the good one.
        let all: Vec<_> = err.typed_details::<StringValue>().collect();
        assert_eq!(all.len(), 2);
        assert!(all[0].is_err());
        assert_eq!(all[1].as_ref().unwrap(), &string("ok"));
        let good: Vec<StringValue> = err.typed_details().filter_map(Result::ok).collect();
        assert_eq!(good, [string("ok")]);

        // Corrupt detail values pass through the wire formats untouched
        // and fail the same way on the other side.
        let back = decode_error(&encode_error(&err), Code::Unknown).unwrap();
        assert!(back.detail::<StringValue>().unwrap().is_err());
        let back = parse_status(&status_trailers(Some(&err), &HeaderMap::new())).unwrap_err();
        assert!(back.detail::<StringValue>().unwrap().is_err());
    }
}

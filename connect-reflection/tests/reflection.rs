//! Reflection over a real socket, asked by the generated
//! `ServerReflectionClient` of both protocol versions, over gRPC (h2c) and
//! Connect (h2c; a bidi call needs HTTP/2): every kind of question, the
//! NOT_FOUND error responses, and files sent once per stream.

use std::net::SocketAddr;

use buffa::Message as _;
use buffa_descriptor::generated::descriptor::descriptor_proto::ExtensionRange;
use buffa_descriptor::generated::descriptor::field_descriptor_proto::{Label, Type};
use buffa_descriptor::generated::descriptor::{
    DescriptorProto, EnumDescriptorProto, EnumValueDescriptorProto, FieldDescriptorProto,
    FileDescriptorProto, FileDescriptorSet, MethodDescriptorProto, ServiceDescriptorProto,
};
use connect_client::{ClientBody, ClientConfig, HttpClient};
use connect_reflection::Reflection;
use connect_server::{Router, Server};

fn field(name: &str, number: i32, ty: Type) -> FieldDescriptorProto {
    FieldDescriptorProto {
        name: Some(name.into()),
        number: Some(number),
        label: Some(Label::LABEL_OPTIONAL),
        r#type: Some(ty),
        ..Default::default()
    }
}

fn extension(name: &str, number: i32) -> FieldDescriptorProto {
    FieldDescriptorProto {
        extendee: Some(".ext.base.Base".into()),
        ..field(name, number, Type::TYPE_INT32)
    }
}

/// `ext/base.proto` (`ext.base.Base` with extensions 100 to 199, enum
/// `Color`) and `ext/user.proto` importing it: message `M`, service `S`,
/// the file-level extension `ext.user.tag = 150` and the message-scoped
/// `ext.user.Scope.note = 151`, both of `Base`.
fn descriptor_set() -> Vec<u8> {
    let base = FileDescriptorProto {
        name: Some("ext/base.proto".into()),
        package: Some("ext.base".into()),
        syntax: Some("proto2".into()),
        message_type: vec![DescriptorProto {
            name: Some("Base".into()),
            extension_range: vec![ExtensionRange {
                start: Some(100),
                end: Some(200),
                ..Default::default()
            }],
            ..Default::default()
        }],
        enum_type: vec![EnumDescriptorProto {
            name: Some("Color".into()),
            value: vec![EnumValueDescriptorProto {
                name: Some("RED".into()),
                number: Some(0),
                ..Default::default()
            }],
            ..Default::default()
        }],
        ..Default::default()
    };
    let user = FileDescriptorProto {
        name: Some("ext/user.proto".into()),
        package: Some("ext.user".into()),
        syntax: Some("proto2".into()),
        dependency: vec!["ext/base.proto".into()],
        message_type: vec![
            DescriptorProto {
                name: Some("M".into()),
                field: vec![field("name", 1, Type::TYPE_STRING)],
                ..Default::default()
            },
            DescriptorProto {
                name: Some("Scope".into()),
                extension: vec![extension("note", 151)],
                ..Default::default()
            },
        ],
        extension: vec![extension("tag", 150)],
        service: vec![ServiceDescriptorProto {
            name: Some("S".into()),
            method: vec![MethodDescriptorProto {
                name: Some("Get".into()),
                input_type: Some(".ext.user.M".into()),
                output_type: Some(".ext.user.M".into()),
                ..Default::default()
            }],
            ..Default::default()
        }],
        ..Default::default()
    };
    FileDescriptorSet {
        file: vec![base, user],
        ..Default::default()
    }
    .encode_to_vec()
}

async fn start() -> SocketAddr {
    let reflection = Reflection::new()
        .register_file_descriptor_set(&descriptor_set())
        .unwrap();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(Server::new(reflection.register(Router::new())).serve_with_listener(listener));
    addr
}

/// The names of serialized `FileDescriptorProto`s.
fn names(files: &[Vec<u8>]) -> Vec<String> {
    files
        .iter()
        .map(|bytes| {
            FileDescriptorProto::decode_from_slice(bytes)
                .unwrap()
                .name
                .unwrap()
        })
        .collect()
}

/// One conversation per protocol version: the same questions, the same
/// answers. `$version` is the module of the version's generated code.
macro_rules! conversation {
    ($test:ident, $version:ident) => {
        #[tokio::test]
        async fn $test() {
            use connect_reflection::proto::grpc::reflection::$version::server_reflection_request::MessageRequest;
            use connect_reflection::proto::grpc::reflection::$version::server_reflection_response::MessageResponse;
            use connect_reflection::proto::grpc::reflection::$version::{
                ExtensionRequest, ServerReflectionClient, ServerReflectionRequest,
            };

            let addr = start().await;
            let base: http::Uri = format!("http://{addr}").parse().unwrap();
            let h2: HttpClient<ClientBody> = HttpClient::builder().http2_only(true).build();
            for config in [ClientConfig::new(base.clone()).grpc(), ClientConfig::new(base.clone())] {
                let protocol = format!("{:?}", config.protocol());
                let client = ServerReflectionClient::new(h2.clone(), config);
                let mut stream = client.server_reflection_info().await.unwrap();
                let mut ask = async |question: Option<MessageRequest>| {
                    let request = ServerReflectionRequest {
                        message_request: question,
                        ..Default::default()
                    };
                    stream.send(&request).await.unwrap();
                    let response = stream.message().await.expect("a response").unwrap();
                    assert_eq!(response.original_request.as_option(), Some(&request));
                    response.message_response.expect("an answer")
                };
                let files = |answer: MessageResponse| match answer {
                    MessageResponse::FileDescriptorResponse(files) => {
                        names(&files.file_descriptor_proto)
                    }
                    other => panic!("{protocol}: not files: {other:?}"),
                };
                let error = |answer: MessageResponse| match answer {
                    MessageResponse::ErrorResponse(error) => {
                        (error.error_code, error.error_message.clone())
                    }
                    other => panic!("{protocol}: not an error: {other:?}"),
                };

                match ask(Some(MessageRequest::ListServices(String::new()))).await {
                    MessageResponse::ListServicesResponse(list) => {
                        let services: Vec<_> =
                            list.service.iter().map(|s| s.name.as_str()).collect();
                        assert_eq!(
                            services,
                            [
                                "ext.user.S",
                                "grpc.reflection.v1.ServerReflection",
                                "grpc.reflection.v1alpha.ServerReflection"
                            ],
                            "{protocol}"
                        );
                    }
                    other => panic!("{protocol}: {other:?}"),
                }

                // A file and its import; on the same stream the import is
                // not sent again, the file asked for always is.
                let answer = ask(Some(MessageRequest::FileByFilename("ext/user.proto".into())));
                assert_eq!(files(answer.await), ["ext/user.proto", "ext/base.proto"]);
                let answer = ask(Some(MessageRequest::FileContainingSymbol("ext.user.S".into())));
                assert_eq!(files(answer.await), ["ext/user.proto"]);
                let answer = ask(Some(MessageRequest::FileByFilename("ext/base.proto".into())));
                assert_eq!(files(answer.await), ["ext/base.proto"]);

                // Every kind of symbol grpcurl asks about.
                for (symbol, file) in [
                    ("ext.user.S.Get", "ext/user.proto"),
                    ("ext.user.M", "ext/user.proto"),
                    (".ext.user.M", "ext/user.proto"),
                    ("ext.user.M.name", "ext/user.proto"),
                    ("ext.user.tag", "ext/user.proto"),
                    ("ext.user.Scope.note", "ext/user.proto"),
                    ("ext.base.Color", "ext/base.proto"),
                    ("ext.base.RED", "ext/base.proto"),
                    ("grpc.reflection.v1alpha.ServerReflection", "grpc/reflection/v1alpha/reflection.proto"),
                ] {
                    let answer = ask(Some(MessageRequest::FileContainingSymbol(symbol.into())));
                    assert_eq!(files(answer.await)[0], file, "{protocol}: {symbol}");
                }

                // Extensions.
                let extension = |containing_type: &str, extension_number| {
                    Some(MessageRequest::from(ExtensionRequest {
                        containing_type: containing_type.into(),
                        extension_number,
                        ..Default::default()
                    }))
                };
                for number in [150, 151] {
                    let answer = ask(extension("ext.base.Base", number)).await;
                    assert_eq!(files(answer)[0], "ext/user.proto", "{protocol}: {number}");
                }
                match ask(Some(MessageRequest::AllExtensionNumbersOfType("ext.base.Base".into()))).await {
                    MessageResponse::AllExtensionNumbersResponse(numbers) => {
                        assert_eq!(numbers.base_type_name, "ext.base.Base");
                        let mut found = numbers.extension_number.clone();
                        found.sort();
                        assert_eq!(found, [150, 151], "{protocol}");
                    }
                    other => panic!("{protocol}: {other:?}"),
                }
                match ask(Some(MessageRequest::AllExtensionNumbersOfType("ext.user.M".into()))).await {
                    MessageResponse::AllExtensionNumbersResponse(numbers) => {
                        assert!(numbers.extension_number.is_empty(), "{protocol}");
                    }
                    other => panic!("{protocol}: {other:?}"),
                }

                // Unknown everything: NOT_FOUND error responses, and the
                // stream goes on.
                for question in [
                    Some(MessageRequest::FileByFilename("no/such.proto".into())),
                    Some(MessageRequest::FileContainingSymbol("no.Such".into())),
                    Some(MessageRequest::FileContainingSymbol(String::new())),
                    Some(MessageRequest::FileContainingSymbol("x".repeat(100_000))),
                    extension("ext.base.Base", 160),
                    extension("ext.base.Base", -1),
                    extension("no.Such", 150),
                    Some(MessageRequest::AllExtensionNumbersOfType("no.Such".into())),
                ] {
                    let (code, message) = error(ask(question.clone()).await);
                    assert_eq!(code, 5, "{protocol}: {question:?}: {message}");
                    assert!(message.len() < 300, "{protocol}: {}", message.len());
                }
                let (code, _) = error(ask(None).await);
                assert_eq!(code, 3, "{protocol}: an empty request is INVALID_ARGUMENT");

                // Still answering.
                let answer = ask(Some(MessageRequest::FileContainingSymbol("ext.user.M".into())));
                assert_eq!(files(answer.await), ["ext/user.proto"]);
                stream.close_send();
                assert!(stream.message().await.is_none(), "{protocol}");
            }
        }
    };
}

conversation!(v1_answers_every_question, v1);
conversation!(v1alpha_answers_every_question, v1alpha);

#[test]
fn bad_descriptor_sets_are_errors_not_panics() {
    // Not protobuf.
    assert!(
        Reflection::new()
            .register_file_descriptor_set(b"\xff\xff\xff")
            .is_err()
    );
    // A file naming a type nobody defines.
    let dangling = FileDescriptorSet {
        file: vec![FileDescriptorProto {
            name: Some("d.proto".into()),
            package: Some("d".into()),
            message_type: vec![DescriptorProto {
                name: Some("D".into()),
                field: vec![FieldDescriptorProto {
                    type_name: Some(".d.Missing".into()),
                    ..field("x", 1, Type::TYPE_MESSAGE)
                }],
                ..Default::default()
            }],
            ..Default::default()
        }],
        ..Default::default()
    };
    let err = Reflection::new()
        .register_file_descriptor_set(&dangling.encode_to_vec())
        .unwrap_err();
    assert!(err.to_string().contains("d.Missing"), "{err}");
    // The same set twice, and overlapping sets: fine.
    let set = descriptor_set();
    let reflection = Reflection::new()
        .register_file_descriptor_set(&set)
        .and_then(|r| r.register_file_descriptor_set(&set))
        .unwrap();
    assert_eq!(
        reflection.services().filter(|s| *s == "ext.user.S").count(),
        1
    );
}

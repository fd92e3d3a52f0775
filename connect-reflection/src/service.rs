//! The two `ServerReflection` services (v1 and v1alpha) over one
//! [`Index`]: each request of the stream gets one response, in order.

use std::collections::HashSet;
use std::sync::Arc;

use connect_core::ConnectError;
use connect_layers::handler::{ResponseStream, Streaming};
use connect_layers::rpc::Context;
use futures_util::StreamExt as _;

use crate::index::{Answer, Index, Question};

/// Serves `ServerReflectionInfo` for both protocol versions.
#[derive(Clone, Debug)]
pub(crate) struct ReflectionServer {
    pub(crate) index: Arc<Index>,
}

/// Implements one version's `ServerReflection` trait for
/// [`ReflectionServer`]: the versions differ only in their package.
macro_rules! serve_version {
    ($version:ident) => {
        mod $version {
            use super::*;
            use crate::proto::grpc::reflection::$version::server_reflection::ServerReflectionRequestView;
            use crate::proto::grpc::reflection::$version::server_reflection_request::MessageRequestView;
            use crate::proto::grpc::reflection::$version::server_reflection_response::MessageResponse;
            use crate::proto::grpc::reflection::$version::{
                ErrorResponse, ExtensionNumberResponse, FileDescriptorResponse,
                ListServiceResponse, ServerReflection, ServerReflectionResponse, ServiceResponse,
            };

            fn question<'a>(request: &'a ServerReflectionRequestView<'a>) -> Question<'a> {
                match &request.message_request {
                    Some(MessageRequestView::FileByFilename(name)) => Question::FileByFilename(name),
                    Some(MessageRequestView::FileContainingSymbol(symbol)) => {
                        Question::FileContainingSymbol(symbol)
                    }
                    Some(MessageRequestView::FileContainingExtension(ext)) => {
                        Question::FileContainingExtension(ext.containing_type, ext.extension_number)
                    }
                    Some(MessageRequestView::AllExtensionNumbersOfType(type_name)) => {
                        Question::AllExtensionNumbersOfType(type_name)
                    }
                    Some(MessageRequestView::ListServices(_)) => Question::ListServices,
                    None => Question::Empty,
                }
            }

            fn message(answer: Answer) -> MessageResponse {
                match answer {
                    Answer::Files(file_descriptor_proto) => FileDescriptorResponse {
                        file_descriptor_proto,
                        ..Default::default()
                    }
                    .into(),
                    Answer::ExtensionNumbers(base_type_name, extension_number) => {
                        ExtensionNumberResponse {
                            base_type_name,
                            extension_number,
                            ..Default::default()
                        }
                        .into()
                    }
                    Answer::Services(names) => ListServiceResponse {
                        service: names
                            .into_iter()
                            .map(|name| ServiceResponse {
                                name,
                                ..Default::default()
                            })
                            .collect(),
                        ..Default::default()
                    }
                    .into(),
                    Answer::Error(error_code, error_message) => ErrorResponse {
                        error_code,
                        error_message,
                        ..Default::default()
                    }
                    .into(),
                }
            }

            impl ServerReflection for ReflectionServer {
                async fn server_reflection_info(
                    &self,
                    ctx: Context,
                    requests: Streaming<ServerReflectionRequestView<'static>>,
                ) -> Result<(ResponseStream<ServerReflectionResponse>, Context), ConnectError>
                {
                    let index = Arc::clone(&self.index);
                    let mut sent = HashSet::new();
                    let responses = requests.map(move |request| {
                        let request = request?;
                        let answer = index.answer(&question(request.reborrow()), &mut sent);
                        Ok(ServerReflectionResponse {
                            original_request: request.to_owned_message().into(),
                            message_response: Some(message(answer)),
                            ..Default::default()
                        })
                    });
                    Ok((Box::pin(responses), ctx))
                }
            }
        }
    };
}

serve_version!(v1);
serve_version!(v1alpha);

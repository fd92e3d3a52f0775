//! From buffa's descriptor types to [`ServiceDef`]s and companion files.
//!
//! Type paths are resolved with buffa-codegen's own [`CodeGenContext`], so
//! a request or response type resolves exactly as a message field of that
//! type would: same-package types by name, other packages of the same
//! build through `super::`, well-known types (`google.protobuf.*`) to
//! `::buffa_types::google::protobuf`, and anything covered by an
//! `extern_path` to its configured crate.

use buffa_codegen::context::CodeGenContext;
use buffa_codegen::generated::descriptor::method_options::IdempotencyLevel;
use buffa_codegen::generated::descriptor::{FileDescriptorProto, MethodDescriptorProto};
use buffa_codegen::{CodeGenConfig, GeneratedFile, GeneratedFileKind};
use proc_macro2::TokenStream;

use crate::docs::comment_lines;
use crate::model::{Idempotency, MethodDef, ServiceDef};
use crate::{Error, Options};

/// `FileDescriptorProto.service` field number.
const FILE_SERVICE: i32 = 6;
/// `ServiceDescriptorProto.method` field number.
const SERVICE_METHOD: i32 = 2;

/// The services declared in `file`, with request and response types
/// resolved through `ctx` relative to the file's package module.
///
/// # Errors
///
/// [`Error::UnknownType`] when a method names a message that is not in
/// the descriptor set, [`Error::MissingField`] for a malformed descriptor.
pub fn services_in_file(
    ctx: &CodeGenContext<'_>,
    file: &FileDescriptorProto,
) -> Result<Vec<ServiceDef>, Error> {
    let package = file.package.clone().unwrap_or_default();
    let mut services = Vec::with_capacity(file.service.len());
    for (si, svc) in file.service.iter().enumerate() {
        let name = svc
            .name
            .clone()
            .ok_or(Error::MissingField("service.name"))?;
        let mut methods = Vec::with_capacity(svc.method.len());
        for (mi, m) in svc.method.iter().enumerate() {
            let path = [FILE_SERVICE, si as i32, SERVICE_METHOD, mi as i32];
            methods.push(method_def(ctx, &package, m, comments_at(file, &path))?);
        }
        services.push(ServiceDef {
            name,
            package: package.clone(),
            comments: comments_at(file, &[FILE_SERVICE, si as i32]),
            methods,
        });
    }
    Ok(services)
}

fn method_def(
    ctx: &CodeGenContext<'_>,
    package: &str,
    m: &MethodDescriptorProto,
    comments: Vec<String>,
) -> Result<MethodDef, Error> {
    let name = m.name.clone().ok_or(Error::MissingField("method.name"))?;
    let input = m
        .input_type
        .as_deref()
        .ok_or(Error::MissingField("method.input_type"))?;
    let output = m
        .output_type
        .as_deref()
        .ok_or(Error::MissingField("method.output_type"))?;
    let (input_type, input_view) = resolve_message(ctx, input, package)?;
    let (output_type, output_view) = resolve_message(ctx, output, package)?;
    let idempotency = match m.options.as_option().and_then(|o| o.idempotency_level) {
        Some(IdempotencyLevel::NO_SIDE_EFFECTS) => Idempotency::NoSideEffects,
        Some(IdempotencyLevel::IDEMPOTENT) => Idempotency::Idempotent,
        _ => Idempotency::Unknown,
    };
    Ok(MethodDef {
        name,
        input_type,
        input_view,
        output_type,
        output_view,
        client_streaming: m.client_streaming.unwrap_or(false),
        server_streaming: m.server_streaming.unwrap_or(false),
        idempotency,
        comments,
    })
}

/// Resolves a message's fully-qualified proto name (`.greet.v1.GreetRequest`)
/// to its owned type and its view type (without lifetime), as seen from the
/// root module of `package`.
///
/// # Errors
///
/// [`Error::UnknownType`] if the type is not in `ctx`.
pub fn resolve_message(
    ctx: &CodeGenContext<'_>,
    proto_fqn: &str,
    package: &str,
) -> Result<(TokenStream, TokenStream), Error> {
    let fqn = if proto_fqn.starts_with('.') {
        proto_fqn.to_string()
    } else {
        format!(".{proto_fqn}")
    };
    let split = ctx
        .rust_type_relative_split(&fqn, package, 0)
        .ok_or_else(|| Error::UnknownType(fqn.clone()))?;
    let join = |parts: &[&str]| {
        parts
            .iter()
            .filter(|p| !p.is_empty())
            .copied()
            .collect::<Vec<_>>()
            .join("::")
    };
    let owned = join(&[&split.to_package, &split.within_package]);
    let view_within = format!("{}View", split.within_package);
    let view = join(&[&split.to_package, "__buffa", "view", &view_within]);
    Ok((
        buffa_codegen::idents::rust_path_to_tokens(&owned),
        buffa_codegen::idents::rust_path_to_tokens(&view),
    ))
}

/// The leading comment (or, failing that, the trailing one) recorded for
/// `path` in the file's `SourceCodeInfo`.
fn comments_at(file: &FileDescriptorProto, path: &[i32]) -> Vec<String> {
    let Some(info) = file.source_code_info.as_option() else {
        return Vec::new();
    };
    info.location
        .iter()
        .find(|loc| loc.path == path)
        .and_then(|loc| {
            loc.leading_comments
                .as_deref()
                .or(loc.trailing_comments.as_deref())
        })
        .map(comment_lines)
        .unwrap_or_default()
}

/// The service code for every file in `files_to_generate` that declares a
/// service, as buffa [`Companion`](GeneratedFileKind::Companion) files
/// named `<stem>.__connect.rs`.
///
/// Pass the result to [`buffa_codegen::apply_companions`] together with
/// the output of [`buffa_codegen::generate`] for the same inputs, so the
/// service code is `include!`d into the package module next to the
/// messages it names.
///
/// # Errors
///
/// See [`services_in_file`]; [`Error::InvalidSyntax`] if the generated code
/// does not parse (a bug).
pub fn companion_files(
    files: &[FileDescriptorProto],
    files_to_generate: &[String],
    config: &CodeGenConfig,
    options: &Options,
) -> Result<Vec<GeneratedFile>, Error> {
    let ctx = CodeGenContext::for_generate(files, files_to_generate, config);
    let mut out = Vec::new();
    for name in files_to_generate {
        let file = files
            .iter()
            .find(|f| f.name.as_deref() == Some(name.as_str()))
            .ok_or_else(|| Error::FileNotFound(name.clone()))?;
        let services = services_in_file(&ctx, file)?;
        if services.is_empty() {
            continue;
        }
        out.push(GeneratedFile {
            name: format!("{}.__connect.rs", buffa_codegen::proto_path_to_stem(name)),
            package: file.package.clone().unwrap_or_default(),
            kind: GeneratedFileKind::Companion,
            content: crate::generate_file(&services, options)?,
        });
    }
    Ok(out)
}

//! From buffa's descriptor types to [`ServiceDef`]s and companion files.
//!
//! Type paths are resolved with buffa-codegen's own [`CodeGenContext`], so
//! a request or response type resolves exactly as a message field of that
//! type would: same-package types by name, other packages of the same
//! build through `super::`, well-known types (`google.protobuf.*`) to
//! `::buffa_types::google::protobuf`, and anything covered by an
//! `extern_path` to its configured crate.

use buffa::Message as _;
use buffa_codegen::context::CodeGenContext;
use buffa_codegen::generated::descriptor::method_options::IdempotencyLevel;
use buffa_codegen::generated::descriptor::{
    FileDescriptorProto, FileDescriptorSet, MethodDescriptorProto,
};
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
    services_in_file_of(ctx, file, std::slice::from_ref(file))
}

/// [`services_in_file`], with `files` (the whole descriptor set, or at
/// least the files of `file`'s package and its sub-packages) telling which
/// names the package module already declares
/// ([`ServiceDef::taken_names`]).
///
/// # Errors
///
/// As [`services_in_file`].
pub fn services_in_file_of(
    ctx: &CodeGenContext<'_>,
    file: &FileDescriptorProto,
    files: &[FileDescriptorProto],
) -> Result<Vec<ServiceDef>, Error> {
    let package = file.package.clone().unwrap_or_default();
    let package_taken = taken_names(ctx, &package, files);
    let descriptor_set = (!file.service.is_empty()).then(|| file_descriptor_set(file, files));
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
        let deprecated = svc
            .options
            .as_option()
            .and_then(|o| o.deprecated)
            .unwrap_or(false);
        let (declared, services_in_package) = &package_taken;
        let mut taken_names = declared.clone();
        taken_names.extend(services_in_package.iter().filter(|s| **s != name).cloned());
        services.push(ServiceDef {
            name,
            package: package.clone(),
            comments: comments_at(file, &[FILE_SERVICE, si as i32]),
            methods,
            deprecated,
            taken_names,
            file_descriptor_set: descriptor_set.clone(),
        });
    }
    Ok(services)
}

/// The serialized `FileDescriptorSet` of `file` and its transitive imports
/// found in `files`: imports before the files importing them, `file` last,
/// each once, without `source_code_info` (comments and spans are not needed
/// to describe or call a service, and would double the size).
pub fn file_descriptor_set(file: &FileDescriptorProto, files: &[FileDescriptorProto]) -> Vec<u8> {
    fn visit<'a>(
        file: &'a FileDescriptorProto,
        files: &'a [FileDescriptorProto],
        seen: &mut Vec<&'a str>,
        out: &mut Vec<FileDescriptorProto>,
    ) {
        let name = file.name.as_deref().unwrap_or("");
        if seen.contains(&name) {
            return;
        }
        seen.push(name);
        for dependency in &file.dependency {
            if let Some(dep) = files
                .iter()
                .find(|f| f.name.as_deref() == Some(dependency.as_str()))
            {
                visit(dep, files, seen, out);
            }
        }
        let mut stripped = file.clone();
        stripped.source_code_info = Default::default();
        out.push(stripped);
    }
    let mut out = Vec::new();
    visit(file, files, &mut Vec::new(), &mut out);
    FileDescriptorSet {
        file: out,
        ..Default::default()
    }
    .encode_to_vec()
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
        deprecated: m
            .options
            .as_option()
            .and_then(|o| o.deprecated)
            .unwrap_or(false),
    })
}

/// The names declared in the module of `package` by buffa's code (for
/// every top-level message its struct, the module of its nested types and
/// its `View` and `OwnedView` re-exports; every top-level enum; every
/// sub-package module; `__buffa`), and the package's services.
fn taken_names(
    ctx: &CodeGenContext<'_>,
    package: &str,
    files: &[FileDescriptorProto],
) -> (Vec<String>, Vec<String>) {
    let prefix = &ctx.config.type_name_prefix;
    let mut taken = vec!["__buffa".to_string()];
    let mut services = Vec::new();
    for file in files {
        let file_package = file.package.as_deref().unwrap_or("");
        if file_package == package {
            for m in &file.message_type {
                let name = m.name.as_deref().unwrap_or("");
                taken.push(format!("{prefix}{name}"));
                taken.push(format!("{prefix}{name}View"));
                taken.push(format!("{prefix}{name}OwnedView"));
                taken.push(crate::names::snake_case(name));
                let module = ctx.nested_module_name(package, name);
                taken.push(module.strip_prefix("r#").unwrap_or(&module).to_string());
            }
            for e in &file.enum_type {
                taken.push(format!("{prefix}{}", e.name.as_deref().unwrap_or("")));
            }
            for s in &file.service {
                services.extend(s.name.clone());
            }
        }
        let below = if package.is_empty() {
            Some(file_package)
        } else {
            file_package
                .strip_prefix(package)
                .and_then(|rest| rest.strip_prefix('.'))
        };
        if let Some(first) = below
            .and_then(|rest| rest.split('.').next())
            .filter(|first| !first.is_empty())
        {
            taken.push(crate::names::unraw(&crate::names::ident(first)));
        }
    }
    taken.sort();
    taken.dedup();
    (taken, services)
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

/// The comments recorded for `path` in the file's `SourceCodeInfo`: the
/// leading comment, then (after an empty line, when both exist) the
/// trailing one.
fn comments_at(file: &FileDescriptorProto, path: &[i32]) -> Vec<String> {
    let Some(info) = file.source_code_info.as_option() else {
        return Vec::new();
    };
    let Some(loc) = info.location.iter().find(|loc| loc.path == path) else {
        return Vec::new();
    };
    let leading = loc
        .leading_comments
        .as_deref()
        .map(comment_lines)
        .unwrap_or_default();
    let trailing = loc
        .trailing_comments
        .as_deref()
        .map(comment_lines)
        .unwrap_or_default();
    let mut lines = leading;
    if !lines.is_empty() && !trailing.is_empty() {
        lines.push(String::new());
    }
    lines.extend(trailing);
    lines
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
        let services = services_in_file_of(&ctx, file, files)?;
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

//! Checks run before generating: extern paths and `buffa_module` are well
//! formed and name something, and every method's types can be named.

use std::collections::{BTreeMap, BTreeSet};

use buffa_codegen::CodeGenConfig;
use buffa_codegen::context::CodeGenContext;
use buffa_codegen::generated::descriptor::{DescriptorProto, FileDescriptorProto};

use super::config::covers;
use super::{Config, Error, Messages, TypeProblem};

/// Every extern path must be well formed and name something in `files`.
pub(super) fn check_extern_paths(
    files: &[FileDescriptorProto],
    config: &Config,
) -> Result<(), Error> {
    if let Some(root) = &config.buffa_module {
        if config.messages != Messages::Extern {
            return Err(Error::Config(
                "`buffa_module` only applies when messages are generated elsewhere (messages=extern)"
                    .into(),
            ));
        }
        check_rust_path(root).map_err(|reason| {
            Error::Config(format!("buffa_module `{root}` is not usable: {reason}"))
        })?;
    }
    let mut names: BTreeSet<String> = type_files(files).into_keys().collect();
    for file in files {
        if let Some(package) = file.package.as_deref().filter(|p| !p.is_empty()) {
            names.insert(format!(".{package}"));
        }
    }
    for (proto, rust) in &config.extern_paths {
        let invalid = |reason: String| Error::InvalidExternPath {
            proto: proto.clone(),
            rust: rust.clone(),
            reason,
        };
        let segments_ok = proto == "."
            || proto
                .strip_prefix('.')
                .is_some_and(|p| p.split('.').all(is_proto_ident));
        if !segments_ok {
            return Err(invalid(
                "the proto side must be a package or a fully-qualified type, such as `.my.common` or `.my.common.Shared`"
                    .into(),
            ));
        }
        check_rust_path(rust).map_err(invalid)?;
        if !names.iter().any(|name| covers(proto, name)) {
            return Err(Error::UnknownExternPath {
                proto: proto.clone(),
                rust: rust.clone(),
            });
        }
    }
    Ok(())
}

/// Every message and enum of `files` (nested ones included), by
/// fully-qualified name (`.pkg.Outer.Inner`), with the file defining it.
pub(super) fn type_files(files: &[FileDescriptorProto]) -> BTreeMap<String, String> {
    fn messages(
        prefix: &str,
        file: &str,
        list: &[DescriptorProto],
        out: &mut BTreeMap<String, String>,
    ) {
        for m in list {
            let fqn = format!("{prefix}.{}", m.name.as_deref().unwrap_or(""));
            for e in &m.enum_type {
                out.insert(
                    format!("{fqn}.{}", e.name.as_deref().unwrap_or("")),
                    file.to_string(),
                );
            }
            messages(&fqn, file, &m.nested_type, out);
            out.insert(fqn, file.to_string());
        }
    }
    let mut out = BTreeMap::new();
    for f in files {
        let name = f.name.as_deref().unwrap_or("");
        let prefix = match f.package.as_deref() {
            Some(p) if !p.is_empty() => format!(".{p}"),
            _ => String::new(),
        };
        for e in &f.enum_type {
            out.insert(
                format!("{prefix}.{}", e.name.as_deref().unwrap_or("")),
                name.to_string(),
            );
        }
        messages(&prefix, name, &f.message_type, &mut out);
    }
    out
}

fn is_proto_ident(s: &str) -> bool {
    let mut chars = s.chars();
    chars
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
}

/// An absolute Rust path (`::krate::a::b` or `crate::a::b`) whose segments
/// are plain identifiers (keywords without `r#`: `::k::type`).
fn check_rust_path(path: &str) -> Result<(), String> {
    let rest = if let Some(rest) = path.strip_prefix("::") {
        rest
    } else if path == "crate" || path.starts_with("crate::") {
        path
    } else {
        return Err(format!(
            "the Rust path `{path}` must be absolute: `::crate_name::module` or `crate::module`"
        ));
    };
    if rest.is_empty() || !rest.split("::").all(is_proto_ident) {
        return Err(format!(
            "`{path}` is not a Rust path (identifiers separated by `::`; write keywords without `r#`)"
        ));
    }
    Ok(())
}

/// Every method's request and response type must resolve; with
/// [`Messages::Extern`] to a path outside the generated code.
pub(super) fn check_method_types(
    files: &[FileDescriptorProto],
    files_to_generate: &[String],
    codegen: &CodeGenConfig,
    messages: Messages,
) -> Result<(), Error> {
    let ctx = CodeGenContext::for_generate(files, files_to_generate, codegen);
    let defined_in = type_files(files);
    for name in files_to_generate {
        let Some(file) = files.iter().find(|f| f.name.as_deref() == Some(name)) else {
            continue;
        };
        let package = file.package.as_deref().unwrap_or("");
        for service in &file.service {
            for method in &service.method {
                for ty in [&method.input_type, &method.output_type] {
                    let Some(ty) = ty.as_deref() else { continue };
                    let fqn = if ty.starts_with('.') {
                        ty.to_string()
                    } else {
                        format!(".{ty}")
                    };
                    let home = defined_in.get(&fqn);
                    let problem = match ctx.rust_type_relative_split(&fqn, package, 0) {
                        None => Some(TypeProblem::Unknown),
                        Some(split) if split.is_extern => None,
                        Some(_) if messages == Messages::Extern => Some(TypeProblem::NotExtern),
                        Some(_) => match home {
                            Some(home) if !files_to_generate.contains(home) => {
                                Some(TypeProblem::NotGenerated(home.clone()))
                            }
                            _ => None,
                        },
                    };
                    if let Some(problem) = problem {
                        return Err(Error::MethodType {
                            file: name.clone(),
                            method: format!(
                                "{}.{}",
                                service.name.as_deref().unwrap_or("?"),
                                method.name.as_deref().unwrap_or("?")
                            ),
                            type_name: fqn,
                            problem,
                        });
                    }
                }
            }
        }
    }
    Ok(())
}

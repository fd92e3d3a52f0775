//! [`generate`] and its [`Output`].

use buffa_codegen::generated::descriptor::FileDescriptorProto;
use buffa_codegen::{CodeGenWarning, GeneratedFile, GeneratedFileKind, IncludeMode};

use super::checks::{check_extern_paths, check_method_types, type_files};
use super::{Config, Error, Messages};

/// Every generated file, and buffa's warnings.
#[derive(Debug)]
#[non_exhaustive]
pub struct Output {
    /// Content files, companions (`<stem>.__connect.rs`) and one
    /// [`PackageMod`](GeneratedFileKind::PackageMod) stitcher per package.
    /// Write them all into one directory.
    pub files: Vec<GeneratedFile>,
    /// buffa's non-fatal diagnostics (show them as build warnings).
    pub warnings: Vec<CodeGenWarning>,
}

impl Output {
    /// The `(stitcher file, package)` pairs, for
    /// [`buffa_codegen::generate_module_tree`].
    pub fn package_mods(&self) -> Vec<(String, String)> {
        self.files
            .iter()
            .filter(|f| f.kind == GeneratedFileKind::PackageMod)
            .map(|f| (f.name.clone(), f.package.clone()))
            .collect()
    }

    /// The module tree: `pub mod greet { pub mod v1 { include!(..) } }`,
    /// usable both as a module file (`mod.rs`) and through `include!`.
    /// Every package module is documented (`Protobuf package `greet.v1`.`),
    /// so the tree builds under `#![deny(missing_docs)]`. Besides buffa's
    /// own allow-list, `elided_lifetimes_in_paths` (buffa's views name
    /// other packages' views without `<'_>`) is allowed on every package
    /// module, so generated code stays quiet under `rust_2018_idioms`.
    pub fn module_tree(&self, mode: IncludeMode<'_>) -> String {
        let tree = buffa_codegen::generate_module_tree(&self.package_mods(), mode, false)
            .replace("#[allow(", "#[allow(elided_lifetimes_in_paths, ");
        document_modules(&tree)
    }
}

/// Puts a doc line on every `pub mod` of a module tree, naming the package
/// the module holds (`Protobuf package `greet.v1`.`).
pub(super) fn document_modules(tree: &str) -> String {
    let mut out = String::with_capacity(tree.len() + 256);
    let mut path: Vec<String> = Vec::new();
    let mut depth_of: Vec<usize> = Vec::new();
    let lines: Vec<&str> = tree.lines().collect();
    for (i, line) in lines.iter().enumerate() {
        let trimmed = line.trim_start();
        let indent = &line[..line.len() - trimmed.len()];
        // A module's attributes come first: document before the first of
        // them, once the `pub mod` line that follows is known.
        if trimmed.starts_with("#[") {
            let module = lines[i + 1..]
                .iter()
                .map(|l| l.trim_start())
                .find(|l| !l.starts_with("#["))
                .and_then(|l| l.strip_prefix("pub mod "))
                .and_then(|l| l.strip_suffix(" {"));
            let previous_is_attr = i > 0 && lines[i - 1].trim_start().starts_with("#[");
            if let (Some(name), false) = (module, previous_is_attr) {
                while depth_of.last().is_some_and(|d| *d >= indent.len()) {
                    depth_of.pop();
                    path.pop();
                }
                let package: Vec<&str> = path
                    .iter()
                    .map(String::as_str)
                    .chain([name.trim_start_matches("r#")])
                    .collect();
                out.push_str(indent);
                out.push_str(&format!("/// Protobuf package `{}`.\n", package.join(".")));
            }
        } else if let Some(name) = trimmed
            .strip_prefix("pub mod ")
            .and_then(|l| l.strip_suffix(" {"))
        {
            while depth_of.last().is_some_and(|d| *d >= indent.len()) {
                depth_of.pop();
                path.pop();
            }
            let undocumented = i == 0 || !lines[i - 1].trim_start().starts_with("#[");
            if undocumented {
                let package: Vec<&str> = path
                    .iter()
                    .map(String::as_str)
                    .chain([name.trim_start_matches("r#")])
                    .collect();
                out.push_str(indent);
                out.push_str(&format!("/// Protobuf package `{}`.\n", package.join(".")));
            }
            path.push(name.trim_start_matches("r#").to_owned());
            depth_of.push(indent.len());
        }
        out.push_str(line);
        out.push('\n');
    }
    out
}

/// Generates messages (unless [`Messages::Extern`]), services and
/// stitchers for `files_to_generate`; `files` holds them and all their
/// imports.
///
/// # Errors
///
/// See [`Error`]: every error names the option, file, service or method
/// at fault.
pub fn generate(
    files: &[FileDescriptorProto],
    files_to_generate: &[String],
    config: &Config,
) -> Result<Output, Error> {
    for name in files_to_generate {
        if !files.iter().any(|f| f.name.as_deref() == Some(name)) {
            return Err(Error::FileNotFound(name.clone()));
        }
    }
    check_extern_paths(files, config)?;
    let codegen = config.codegen_config(files);
    check_method_types(files, files_to_generate, &codegen, config.messages)?;

    let (mut generated, warnings) = match config.messages {
        Messages::Generate => {
            buffa_codegen::generate_with_diagnostics(files, files_to_generate, &codegen).map_err(
                |source| Error::Messages {
                    file: culprit(files_to_generate, |one| {
                        buffa_codegen::generate(files, one, &codegen).is_err()
                    }),
                    source,
                },
            )?
        }
        Messages::Extern => (Vec::new(), Vec::new()),
    };
    // buffa leaves a few items undocumented (its `__buffa` modules, nested
    // type modules, unknown-field slots): document them, so generated code
    // builds under `#![deny(missing_docs)]`.
    for file in &mut generated {
        file.content = crate::docs::document_buffa_output(&file.content);
    }
    if let Some(dangling) = warnings.iter().find_map(|w| match w {
        CodeGenWarning::ExcludedPackageFieldRef {
            file_name,
            message_name,
            field_name,
            type_fqn,
            ..
        } => Some(Error::FieldType {
            file: file_name.clone(),
            field: if message_name.is_empty() {
                field_name.clone()
            } else {
                format!("{message_name}.{field_name}")
            },
            type_name: type_fqn.clone(),
            defined_in: type_files(files).get(type_fqn).cloned(),
        }),
        _ => None,
    }) {
        return Err(dangling);
    }

    let services = config.effective_service_options();
    let companions =
        crate::descriptor::companion_files(files, files_to_generate, &codegen, &services).map_err(
            |source| Error::Services {
                file: culprit(files_to_generate, |one| {
                    crate::descriptor::companion_files(files, one, &codegen, &services).is_err()
                }),
                source,
            },
        )?;
    // A package whose files declare only services (their messages live
    // elsewhere) has no stitcher from buffa; give it one so the service
    // code has a module to live in.
    for comp in &companions {
        let has_mod = generated
            .iter()
            .any(|f| f.kind == GeneratedFileKind::PackageMod && f.package == comp.package);
        if !has_mod {
            generated.push(GeneratedFile {
                name: buffa_codegen::package_to_mod_filename(&comp.package),
                package: comp.package.clone(),
                kind: GeneratedFileKind::PackageMod,
                content: "// @generated by connectrpc-codegen. DO NOT EDIT.\n".to_string(),
            });
        }
    }
    buffa_codegen::apply_companions(&mut generated, companions);
    Ok(Output {
        files: generated,
        warnings,
    })
}

/// The first file that fails on its own, to name in an error that came
/// from a run over all of them.
fn culprit(files_to_generate: &[String], fails: impl Fn(&[String]) -> bool) -> Option<String> {
    files_to_generate
        .iter()
        .find(|name| fails(std::slice::from_ref(*name)))
        .cloned()
}

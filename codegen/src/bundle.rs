//! Every generated file for one descriptor set, in one call: buffa's
//! message code, the ConnectRPC service code of each `service`, one
//! stitcher per package and the module tree nesting the packages.
//!
//! `connectrpc-build` (from `build.rs`) and `protoc-gen-connect-rust` (from
//! `protoc` or `buf generate`) both call [`generate`], so the same `.proto`
//! files give the same code either way.
//!
//! ```
//! use buffa_codegen::generated::descriptor::{
//!     DescriptorProto, FileDescriptorProto, MethodDescriptorProto, ServiceDescriptorProto,
//! };
//! use connectrpc_codegen::bundle::{self, Config};
//!
//! let file = FileDescriptorProto {
//!     name: Some("greet/v1/greet.proto".into()),
//!     package: Some("greet.v1".into()),
//!     syntax: Some("proto3".into()),
//!     message_type: vec![DescriptorProto {
//!         name: Some("GreetRequest".into()),
//!         ..Default::default()
//!     }],
//!     service: vec![ServiceDescriptorProto {
//!         name: Some("GreetService".into()),
//!         method: vec![MethodDescriptorProto {
//!             name: Some("Greet".into()),
//!             input_type: Some(".greet.v1.GreetRequest".into()),
//!             output_type: Some(".greet.v1.GreetRequest".into()),
//!             ..Default::default()
//!         }],
//!         ..Default::default()
//!     }],
//!     ..Default::default()
//! };
//! let output = bundle::generate(&[file], &["greet/v1/greet.proto".into()], &Config::new())?;
//! let names: Vec<_> = output.files.iter().map(|f| f.name.as_str()).collect();
//! assert!(names.contains(&"greet.v1.greet.rs")); // messages
//! assert!(names.contains(&"greet.v1.greet.__connect.rs")); // services
//! assert!(names.contains(&"greet.v1.mod.rs")); // the package's stitcher
//! let tree = output.module_tree(buffa_codegen::IncludeMode::Relative(""));
//! assert!(tree.contains("pub mod greet {"));
//! # Ok::<(), connectrpc_codegen::bundle::Error>(())
//! ```
//!
//! With [`Messages::Extern`] only the service code is generated; its
//! request and response types are found through
//! [`Config::buffa_module`] (where `protoc-gen-buffa`'s output is mounted)
//! and [`Config::extern_path`].

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;

use buffa_codegen::context::CodeGenContext;
use buffa_codegen::generated::descriptor::{DescriptorProto, FileDescriptorProto};
use buffa_codegen::{
    CodeGenConfig, CodeGenError, CodeGenWarning, GeneratedFile, GeneratedFileKind, IncludeMode,
};

use crate::Options;

/// Where the message types named by the service code come from.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub enum Messages {
    /// Generate them with `buffa-codegen`, in the same modules as the
    /// services (the default).
    #[default]
    Generate,
    /// They are generated elsewhere (by `protoc-gen-buffa`, another crate):
    /// generate the services only, naming every message through
    /// [`Config::buffa_module`] or [`Config::extern_path`].
    Extern,
}

/// What to generate: messages or not, the service options, JSON support and
/// the extern paths.
///
/// ```
/// use connectrpc_codegen::Options;
/// use connectrpc_codegen::bundle::{Config, Messages};
///
/// let config = Config::new()
///     .messages(Messages::Extern)
///     .buffa_module("crate::proto")
///     .extern_path(".my.common", "::common_protos::my::common")
///     .services(Options::new().client(false));
/// assert_eq!(config.messages_mode(), Messages::Extern);
/// ```
#[derive(Clone, Debug)]
pub struct Config {
    services: Options,
    messages: Messages,
    generate_json: bool,
    extern_paths: Vec<(String, String)>,
    buffa_module: Option<String>,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            services: Options::default(),
            messages: Messages::Generate,
            generate_json: true,
            extern_paths: Vec::new(),
            buffa_module: None,
        }
    }
}

impl Config {
    /// The defaults: messages generated with JSON support, clients and
    /// servers, runtime `::connectrpc`, no extern paths.
    pub fn new() -> Self {
        Self::default()
    }

    /// The service code options (clients, servers, runtime crate).
    pub fn services(mut self, options: Options) -> Self {
        self.services = options;
        self
    }

    /// Whether messages are generated here or elsewhere (default
    /// [`Messages::Generate`]).
    pub fn messages(mut self, messages: Messages) -> Self {
        self.messages = messages;
        self
    }

    /// Whether generated messages get serde JSON support (default `true`;
    /// the runtime's JSON codec and streaming need it).
    pub fn generate_json(mut self, enabled: bool) -> Self {
        self.generate_json = enabled;
        self
    }

    /// Maps a proto package (`.my.common`) or a single message or enum
    /// (`.my.common.Shared`) to Rust code generated elsewhere
    /// (`::common_protos::my::common`, `::common_protos::Shared`). An exact
    /// type entry wins over a package prefix; among prefixes the longest
    /// wins. The leading dot is optional. The Rust path must be absolute
    /// (`::krate::..` or `crate::..`).
    pub fn extern_path(mut self, proto: impl Into<String>, rust: impl Into<String>) -> Self {
        let proto = proto.into();
        let proto = if proto.starts_with('.') {
            proto
        } else {
            format!(".{proto}")
        };
        self.extern_paths.push((proto, rust.into()));
        self
    }

    /// With [`Messages::Extern`]: the module where `protoc-gen-buffa`'s
    /// module tree is mounted (`crate::proto`), so `.greet.v1.GreetRequest`
    /// is `crate::proto::greet::v1::GreetRequest`. Packages covered by an
    /// [`extern_path`](Self::extern_path) and the well-known types
    /// (`::buffa_types`) are not affected.
    pub fn buffa_module(mut self, path: impl Into<String>) -> Self {
        self.buffa_module = Some(path.into());
        self
    }

    /// The service code options.
    pub fn service_options(&self) -> &Options {
        &self.services
    }

    /// Whether messages are generated here.
    pub fn messages_mode(&self) -> Messages {
        self.messages
    }

    /// The extern paths as given, leading dots added.
    pub fn extern_paths(&self) -> &[(String, String)] {
        &self.extern_paths
    }

    /// The `buffa-codegen` configuration for `files`: views on, JSON as
    /// configured, the extern paths, and with [`Messages::Extern`] one
    /// extern path per package under [`buffa_module`](Self::buffa_module).
    pub fn codegen_config(&self, files: &[FileDescriptorProto]) -> CodeGenConfig {
        let mut config = CodeGenConfig::default();
        config.generate_views = true;
        config.generate_json = self.generate_json;
        config.extern_paths = self.extern_paths.clone();
        if let (Messages::Extern, Some(root)) = (self.messages, &self.buffa_module) {
            let packages: BTreeSet<&str> =
                files.iter().filter_map(|f| f.package.as_deref()).collect();
            for package in packages {
                let dotted = format!(".{package}");
                let wkt = package == "google.protobuf" || package.starts_with("google.protobuf.");
                let covered = self
                    .extern_paths
                    .iter()
                    .any(|(proto, _)| covers(proto, &dotted));
                if wkt || covered || package.is_empty() {
                    continue;
                }
                let mut path = root.trim_end_matches("::").to_string();
                for segment in package.split('.') {
                    // The module tree escapes keywords (`r#type`, `self_`);
                    // buffa renders `type` as `r#type` itself, so only the
                    // suffixed forms are spelled out here.
                    let escaped = buffa_codegen::idents::escape_mod_ident(segment);
                    path.push_str("::");
                    path.push_str(escaped.strip_prefix("r#").unwrap_or(&escaped));
                }
                config.extern_paths.push((dotted, path));
            }
        }
        config
    }
}

/// Whether the extern-path key `prefix` (`.my`, `.`) covers the dotted
/// name `name` (`.my.common`): equal, the catch-all, or a prefix ending at
/// a `.`.
fn covers(prefix: &str, name: &str) -> bool {
    prefix == "."
        || prefix == name
        || name
            .strip_prefix(prefix)
            .is_some_and(|rest| rest.starts_with('.'))
}

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
fn document_modules(tree: &str) -> String {
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

    let companions =
        crate::descriptor::companion_files(files, files_to_generate, &codegen, &config.services)
            .map_err(|source| Error::Services {
                file: culprit(files_to_generate, |one| {
                    crate::descriptor::companion_files(files, one, &codegen, &config.services)
                        .is_err()
                }),
                source,
            })?;
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

/// Every extern path must be well formed and name something in `files`.
fn check_extern_paths(files: &[FileDescriptorProto], config: &Config) -> Result<(), Error> {
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
fn type_files(files: &[FileDescriptorProto]) -> BTreeMap<String, String> {
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
fn check_method_types(
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

/// Why a method's request or response type cannot be named.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum TypeProblem {
    /// The type is in none of the files.
    Unknown,
    /// Messages are generated elsewhere, but neither `buffa_module` nor an
    /// `extern_path` says where this one is.
    NotExtern,
    /// The type's file (named here) is imported but neither generated nor
    /// covered by an `extern_path`.
    NotGenerated(String),
}

/// Why [`generate`] failed.
#[derive(Debug)]
#[non_exhaustive]
pub enum Error {
    /// The configuration is contradictory or unusable.
    Config(String),
    /// An `extern_path` is malformed.
    InvalidExternPath {
        /// The proto side (`.my.common`).
        proto: String,
        /// The Rust side (`::common_protos`).
        rust: String,
        /// What is wrong with it.
        reason: String,
    },
    /// An `extern_path`'s proto side names no package or type in the
    /// descriptor set (a typo, or an import missing).
    UnknownExternPath {
        /// The proto side.
        proto: String,
        /// The Rust side.
        rust: String,
    },
    /// A file to generate is not in the descriptor set.
    FileNotFound(String),
    /// A method's request or response type cannot be named.
    MethodType {
        /// The `.proto` file declaring the service.
        file: String,
        /// `Service.Method`.
        method: String,
        /// The type's fully-qualified proto name.
        type_name: String,
        /// What is wrong.
        problem: TypeProblem,
    },
    /// A message field names a type whose file is imported but neither
    /// generated nor covered by an `extern_path`: the code would not
    /// compile.
    FieldType {
        /// The `.proto` file with the field.
        file: String,
        /// `Message.field`.
        field: String,
        /// The field type's fully-qualified proto name.
        type_name: String,
        /// Where that type is defined, when known.
        defined_in: Option<String>,
    },
    /// buffa could not generate the messages.
    Messages {
        /// The file that fails on its own, when one does.
        file: Option<String>,
        /// buffa's error.
        source: CodeGenError,
    },
    /// The service code could not be generated.
    Services {
        /// The file that fails on its own, when one does.
        file: Option<String>,
        /// The generator's error.
        source: crate::Error,
    },
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let in_file = |file: &Option<String>| match file {
            Some(file) => format!("{file}: "),
            None => String::new(),
        };
        match self {
            Error::Config(msg) => f.write_str(msg),
            Error::InvalidExternPath {
                proto,
                rust,
                reason,
            } => write!(f, "extern_path `{proto}={rust}`: {reason}"),
            Error::UnknownExternPath { proto, rust } => write!(
                f,
                "extern_path `{proto}={rust}`: `{proto}` is not a package or type in these files or their imports"
            ),
            Error::FileNotFound(name) => write!(f, "{name}: not in the descriptor set"),
            Error::MethodType {
                file,
                method,
                type_name,
                problem: TypeProblem::Unknown,
            } => write!(
                f,
                "{file}: rpc {method}: message `{type_name}` is not defined in this file or its imports"
            ),
            Error::MethodType {
                file,
                method,
                type_name,
                problem: TypeProblem::NotExtern,
            } => write!(
                f,
                "{file}: rpc {method}: message `{type_name}` has no Rust path (messages are generated elsewhere: set buffa_module=<module of protoc-gen-buffa's output>, or an extern_path covering it)"
            ),
            Error::MethodType {
                file,
                method,
                type_name,
                problem: TypeProblem::NotGenerated(home),
            } => {
                write!(f, "{file}: rpc {method}: message `{type_name}`")?;
                not_generated(f, home, type_name)
            }
            Error::FieldType {
                file,
                field,
                type_name,
                defined_in,
            } => {
                write!(f, "{file}: field {field}: type `{type_name}`")?;
                not_generated(f, defined_in.as_deref().unwrap_or("its file"), type_name)
            }
            Error::Messages { file, source } => {
                write!(f, "{}generating messages: {source}", in_file(file))
            }
            Error::Services { file, source } => {
                write!(f, "{}generating services: {source}", in_file(file))
            }
        }
    }
}

/// The end of a dangling-reference message: what to do about it.
fn not_generated(f: &mut fmt::Formatter<'_>, home: &str, type_name: &str) -> fmt::Result {
    write!(
        f,
        " is defined in {home}, which is neither generated nor mapped by an extern_path: \
         generate it too (buf: `strategy: all`; protoc: list it; connectrpc-build: add it to `files`) \
         or map `{type_name}` or its package with an extern_path"
    )
}

impl std::error::Error for Error {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            Error::Messages { source, .. } => Some(source),
            Error::Services { source, .. } => Some(source),
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests;

//! Why [`generate`](super::generate) failed: [`Error`] and [`TypeProblem`].

use std::fmt;

use buffa_codegen::CodeGenError;

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

/// Why [`generate`](super::generate) failed.
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

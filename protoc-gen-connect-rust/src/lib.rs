//! `protoc-gen-connect-rust`: a `protoc` / `buf generate` plugin writing
//! everything a ConnectRPC crate needs from its `.proto` files in one run —
//! buffa's message types, the service traits, servers and clients, and a
//! `mod.rs` nesting the packages — in the module layout `connectrpc-build`
//! produces from `build.rs`.
//!
//! ```sh
//! cargo install --path protoc-gen-connect-rust
//! protoc -I proto --connect-rust_out=src/proto greet/v1/greet.proto
//! ```
//!
//! ```yaml
//! # buf.gen.yaml
//! version: v2
//! plugins:
//!   - local: protoc-gen-connect-rust
//!     out: src/proto
//!     strategy: all        # one run sees every file: one mod.rs
//! ```
//!
//! ```ignore
//! // src/lib.rs
//! pub mod proto; // src/proto/mod.rs, generated
//! ```
//!
//! Options ([`options::KNOWN`]) switch to services only
//! (`messages=extern,buffa_module=crate::proto` next to
//! `protoc-gen-buffa`'s output), map packages or single types to other
//! crates (`extern_path=.my.common=::common_protos::my::common`), leave out
//! clients or servers (`client=false`, `server=false`), rename the
//! runtime (`runtime_crate=`), or set buffa's switches as
//! `connectrpc-build`'s builder methods do: `strict_utf8_mapping=true`
//! (strings with `utf8_validation = NONE`, so every proto2 string, become
//! `Vec<u8>`), `preserve_unknown_fields=false` (unknown fields dropped) and
//! `views=false` (no view types; needs `server=false` for files with
//! services, as the generated server decodes requests as views).
//!
//! Every failure — a bad option, an `extern_path` naming nothing, a file
//! that cannot be generated, even a bug in a generator — comes back as the
//! response's `error`, which `protoc` and `buf` print; the plugin never
//! crashes or answers with nothing.

pub mod options;

use std::fmt;
use std::panic::{AssertUnwindSafe, catch_unwind};

use buffa::Message as _;
use buffa_codegen::IncludeMode;
use buffa_codegen::generated::compiler::code_generator_response::{Feature, File};
use buffa_codegen::generated::compiler::{CodeGeneratorRequest, CodeGeneratorResponse};
use buffa_codegen::generated::descriptor::Edition;
use connectrpc_codegen::bundle;

pub use options::OptionError;

/// The features the plugin declares in every response: `proto3 optional`
/// fields and editions (buffa generates both).
pub const SUPPORTED_FEATURES: u64 =
    Feature::FEATURE_PROTO3_OPTIONAL as u64 | Feature::FEATURE_SUPPORTS_EDITIONS as u64;

/// The oldest edition the plugin accepts (proto2 and proto3 included).
pub const MINIMUM_EDITION: Edition = Edition::EDITION_PROTO2;

/// The newest edition the plugin accepts (as buffa's own plugin).
pub const MAXIMUM_EDITION: Edition = Edition::EDITION_2024;

/// The name of the module tree file at the root of the output.
pub const MOD_FILE: &str = "mod.rs";

/// Why a request produced no files.
#[derive(Debug)]
#[non_exhaustive]
pub enum Error {
    /// The request bytes did not decode.
    Request(String),
    /// The parameter string is unusable.
    Option(OptionError),
    /// Generation failed (the error names the file, rpc or option).
    Generate(bundle::Error),
    /// A generator panicked: a bug, reported instead of crashing.
    Panic {
        /// The files being generated.
        files: Vec<String>,
        /// The panic message.
        message: String,
    },
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("protoc-gen-connect-rust: ")?;
        match self {
            Error::Request(e) => write!(f, "reading the CodeGeneratorRequest on stdin: {e}"),
            Error::Option(e) => write!(f, "{e}"),
            Error::Generate(e) => write!(f, "{e}"),
            Error::Panic { files, message } => write!(
                f,
                "internal error while generating {}: {message} (please report this bug)",
                files.join(", ")
            ),
        }
    }
}

impl std::error::Error for Error {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            Error::Option(e) => Some(e),
            Error::Generate(e) => Some(e),
            _ => None,
        }
    }
}

/// The plugin protocol in one call: the encoded `CodeGeneratorRequest` in,
/// the encoded `CodeGeneratorResponse` out. Never fails: errors travel in
/// the response's `error` field. Warnings go to stderr.
pub fn run(input: &[u8]) -> Vec<u8> {
    let response = match buffa_codegen::decode_request(input) {
        Ok(request) => respond(&request),
        Err(e) => error_response(&Error::Request(e)),
    };
    response.encode_to_vec()
}

/// The response to a decoded request: the files, or the error.
pub fn respond(request: &CodeGeneratorRequest) -> CodeGeneratorResponse {
    match generate(request) {
        Ok((files, warnings)) => {
            for warning in warnings {
                eprintln!("protoc-gen-connect-rust: warning: {warning}");
            }
            CodeGeneratorResponse {
                file: files,
                ..declared()
            }
        }
        Err(e) => error_response(&e),
    }
}

/// The generated files (and buffa's warnings) for a request.
///
/// # Errors
///
/// See [`Error`].
pub fn generate(request: &CodeGeneratorRequest) -> Result<(Vec<File>, Vec<String>), Error> {
    let config =
        options::parse(request.parameter.as_deref().unwrap_or("")).map_err(Error::Option)?;
    let output = guarded(&request.file_to_generate, || {
        bundle::generate(&request.proto_file, &request.file_to_generate, &config)
    })?
    .map_err(Error::Generate)?;
    let tree = output.module_tree(IncludeMode::Relative(""));
    let warnings = output.warnings.iter().map(ToString::to_string).collect();
    let mut files: Vec<File> = output
        .files
        .into_iter()
        .map(|f| File {
            name: Some(f.name),
            content: Some(f.content),
            ..Default::default()
        })
        .collect();
    files.push(File {
        name: Some(MOD_FILE.to_string()),
        content: Some(tree),
        ..Default::default()
    });
    Ok((files, warnings))
}

/// Runs `f`, turning a panic into [`Error::Panic`].
fn guarded<T>(files: &[String], f: impl FnOnce() -> T) -> Result<T, Error> {
    catch_unwind(AssertUnwindSafe(f)).map_err(|payload| Error::Panic {
        files: files.to_vec(),
        message: payload
            .downcast_ref::<&str>()
            .map(|s| s.to_string())
            .or_else(|| payload.downcast_ref::<String>().cloned())
            .unwrap_or_else(|| "unknown panic".to_string()),
    })
}

/// A response with the plugin's features and editions and nothing else.
fn declared() -> CodeGeneratorResponse {
    CodeGeneratorResponse {
        supported_features: Some(SUPPORTED_FEATURES),
        minimum_edition: Some(MINIMUM_EDITION as i32),
        maximum_edition: Some(MAXIMUM_EDITION as i32),
        ..Default::default()
    }
}

/// A response carrying `error`.
pub fn error_response(error: &Error) -> CodeGeneratorResponse {
    CodeGeneratorResponse {
        error: Some(error.to_string()),
        ..declared()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn panics_become_errors() {
        let err = guarded(&["a.proto".to_string()], || -> () { panic!("boom {}", 1) }).unwrap_err();
        assert_eq!(
            err.to_string(),
            "protoc-gen-connect-rust: internal error while generating a.proto: boom 1 (please report this bug)"
        );
        let err = guarded(&[], || std::panic::panic_any(7)).unwrap_err();
        assert!(err.to_string().contains("unknown panic"));
    }

    #[test]
    fn undecodable_requests_answer_with_an_error() {
        let response = CodeGeneratorResponse::decode(&mut &run(&[0xff, 0xff])[..]).unwrap();
        assert!(
            response.error.as_deref().unwrap().starts_with(
                "protoc-gen-connect-rust: reading the CodeGeneratorRequest on stdin: "
            ),
            "{response:?}"
        );
        assert_eq!(response.supported_features, Some(3));
        assert!(response.file.is_empty());
    }
}

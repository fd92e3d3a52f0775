//! `build.rs` support for ConnectRPC: compiles `.proto` files into buffa
//! messages and ConnectRPC service code, in one module tree.
//!
//! By default the `.proto` files are compiled in-process with
//! [`protox`], so no `protoc` is needed. [`Config::use_protoc`],
//! [`Config::use_buf`] and [`Config::descriptor_set`] switch to `protoc`,
//! `buf` or a prebuilt `FileDescriptorSet` (for editions, which protox does
//! not parse).
//!
//! ```no_run
//! // build.rs
//! fn main() -> Result<(), Box<dyn std::error::Error>> {
//!     connectrpc_build::Config::new()
//!         .files(&["greet/v1/greet.proto"])
//!         .includes(&["proto"])
//!         .include_file("_connectrpc.rs")
//!         .compile()?;
//!     Ok(())
//! }
//! ```
//!
//! ```ignore
//! // src/lib.rs
//! pub mod proto {
//!     include!(concat!(env!("OUT_DIR"), "/_connectrpc.rs"));
//! }
//! // proto::greet::v1::{GreetRequest, GreetService, GreetServiceServer,
//! //                     GreetServiceClient, ...}
//! ```
//!
//! For every file, buffa's message code and the service code for each
//! `service` land in the module of the file's package, so the service code
//! names its messages directly. A service's code is its method
//! descriptors, its server side (the service trait, `GreetServiceServer`
//! and `GreetServiceExt`) and its typed client (`GreetServiceClient`);
//! [`Config::server`] and [`Config::client`] leave either side out.
//!
//! buffa's code-generation switches pass straight through:
//! [`Config::generate_json`], [`Config::generate_views`],
//! [`Config::strict_utf8_mapping`] and [`Config::preserve_unknown_fields`]
//! (the plugin takes the same as `json=`, `views=`, `strict_utf8_mapping=`
//! and `preserve_unknown_fields=`):
//!
//! ```no_run
//! // build.rs: raw bytes for `utf8_validation = NONE` strings, unknown
//! // fields dropped, no view types (so clients only).
//! connectrpc_build::Config::new()
//!     .files(&["raw/v1/raw.proto"])
//!     .includes(&["proto"])
//!     .strict_utf8_mapping(true)
//!     .preserve_unknown_fields(false)
//!     .generate_views(false)
//!     .server(false)
//!     .include_file("_connectrpc.rs")
//!     .compile()?;
//! # Ok::<(), connectrpc_build::Error>(())
//! ```
//!
//! The crate using the generated code needs `connectrpc`, `buffa`, `serde`
//! (JSON is on by default) and, for well-known types such as
//! `google.protobuf.Empty`, `buffa-types`.

use std::fmt;
use std::path::{Path, PathBuf};
use std::process::Command;

use buffa_codegen::IncludeMode;
use buffa_codegen::generated::descriptor::FileDescriptorSet;

/// Where the `FileDescriptorSet` comes from.
#[derive(Clone, Debug)]
enum Source {
    Protox,
    Protoc,
    Buf,
    DescriptorSet(PathBuf),
}

/// Configures and runs code generation from a build script.
///
/// ```no_run
/// connectrpc_build::Config::new()
///     .files(&["greet/v1/greet.proto"])
///     .includes(&["proto"])
///     .include_file("_connectrpc.rs")
///     .compile()
///     .unwrap();
/// ```
#[derive(Clone, Debug)]
pub struct Config {
    files: Vec<PathBuf>,
    includes: Vec<PathBuf>,
    include_file: Option<String>,
    out_dir: Option<PathBuf>,
    source: Source,
    emit_rerun_if_changed: bool,
    /// What to generate (JSON, runtime crate, clients, servers, extern
    /// paths): the generator's own configuration, so the options are
    /// defined once, in `connectrpc-codegen`.
    bundle: connectrpc_codegen::bundle::Config,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            files: Vec::new(),
            includes: Vec::new(),
            include_file: None,
            out_dir: None,
            source: Source::Protox,
            emit_rerun_if_changed: true,
            bundle: connectrpc_codegen::bundle::Config::new(),
        }
    }
}

impl Config {
    /// A configuration with the defaults: protox, JSON and views on,
    /// `String` for every `string` field, unknown fields kept, runtime
    /// `::connectrpc`, clients and servers, output in `OUT_DIR`,
    /// `cargo:rerun-if-changed` on.
    ///
    /// ```
    /// let config = connectrpc_build::Config::new();
    /// # let _ = config;
    /// ```
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds `.proto` files to generate code for, relative to one of the
    /// [`includes`](Self::includes) (`greet/v1/greet.proto`). A path that
    /// starts with an include directory (`proto/greet/v1/greet.proto`) is
    /// accepted too. With [`use_buf`](Self::use_buf) or
    /// [`descriptor_set`](Self::descriptor_set), give the names as they
    /// appear in the descriptor set.
    ///
    /// ```
    /// let config = connectrpc_build::Config::new().files(&["greet/v1/greet.proto"]);
    /// # let _ = config;
    /// ```
    pub fn files(mut self, files: &[impl AsRef<Path>]) -> Self {
        self.files
            .extend(files.iter().map(|f| f.as_ref().to_path_buf()));
        self
    }

    /// Adds include directories, searched for the files and their imports.
    /// The well-known types (`google/protobuf/*.proto`) are always
    /// available with protox.
    ///
    /// ```
    /// let config = connectrpc_build::Config::new().includes(&["proto"]);
    /// # let _ = config;
    /// ```
    pub fn includes(mut self, includes: &[impl AsRef<Path>]) -> Self {
        self.includes
            .extend(includes.iter().map(|i| i.as_ref().to_path_buf()));
        self
    }

    /// Also writes `name` into the output directory: one file to
    /// `include!` that nests every package as modules
    /// (`pub mod greet { pub mod v1 { .. } }`).
    ///
    /// ```
    /// let config = connectrpc_build::Config::new().include_file("_connectrpc.rs");
    /// # let _ = config;
    /// ```
    pub fn include_file(mut self, name: impl Into<String>) -> Self {
        self.include_file = Some(name.into());
        self
    }

    /// Writes the generated files to `dir` instead of `OUT_DIR`. The include
    /// file then includes its siblings by relative path.
    ///
    /// ```
    /// let config = connectrpc_build::Config::new().out_dir("src/gen");
    /// # let _ = config;
    /// ```
    pub fn out_dir(mut self, dir: impl Into<PathBuf>) -> Self {
        self.out_dir = Some(dir.into());
        self
    }

    /// Compiles with `protoc` (from `$PROTOC`, else `protoc` on `PATH`)
    /// instead of protox.
    ///
    /// ```
    /// let config = connectrpc_build::Config::new().use_protoc();
    /// # let _ = config;
    /// ```
    pub fn use_protoc(mut self) -> Self {
        self.source = Source::Protoc;
        self
    }

    /// Compiles with `buf build` (which needs a `buf.yaml` at the crate
    /// root) instead of protox. [`files`](Self::files) are then names
    /// relative to the buf module root.
    ///
    /// ```
    /// let config = connectrpc_build::Config::new().use_buf();
    /// # let _ = config;
    /// ```
    pub fn use_buf(mut self) -> Self {
        self.source = Source::Buf;
        self
    }

    /// Uses a prebuilt, binary `FileDescriptorSet` (with imports) instead of
    /// compiling. [`files`](Self::files) are then names inside the set.
    ///
    /// ```
    /// let config = connectrpc_build::Config::new().descriptor_set("greet.binpb");
    /// # let _ = config;
    /// ```
    pub fn descriptor_set(mut self, path: impl Into<PathBuf>) -> Self {
        self.source = Source::DescriptorSet(path.into());
        self
    }

    /// Whether messages get serde JSON support (default `true`; the
    /// `connectrpc` runtime needs it for the JSON codec and for streaming
    /// requests).
    ///
    /// ```
    /// let config = connectrpc_build::Config::new().generate_json(true);
    /// # let _ = config;
    /// ```
    pub fn generate_json(mut self, enabled: bool) -> Self {
        self.bundle = self.bundle.generate_json(enabled);
        self
    }

    /// Whether messages get zero-copy view types (`GreetRequestView<'a>`)
    /// beside the owned ones (default `true`; buffa's `generate_views`).
    ///
    /// Generated servers decode every request as a view and hand it to the
    /// handler as `OwnedView<GreetRequestView<'static>>`, so views off
    /// needs [`server(false)`](Self::server) for files that declare a
    /// service: [`compile`](Self::compile) fails with an error naming the
    /// service otherwise. Without views, clients keep their plain and
    /// `_with_options` methods (owned messages in and out) and lose the
    /// `_view` pair. Turn views off for message-only or client-only crates
    /// that want less generated code.
    ///
    /// ```
    /// let client_only = connectrpc_build::Config::new()
    ///     .generate_views(false)
    ///     .server(false);
    /// # let _ = client_only;
    /// ```
    pub fn generate_views(mut self, enabled: bool) -> Self {
        self.bundle = self.bundle.generate_views(enabled);
        self
    }

    /// Whether `string` fields that opt out of UTF-8 validation become raw
    /// bytes (default `false`; buffa's `strict_utf8_mapping`).
    ///
    /// On, a `string` field whose `features.utf8_validation` is `NONE`
    /// (editions) — and so every proto2 `string`, whose default is `NONE`
    /// — is a `Vec<u8>` (`&[u8]` in views), decoded without validation and
    /// written as base64 in JSON (other implementations write a JSON
    /// string there: use the binary codec with peers that are not built
    /// this way). The caller decides whether to check it
    /// (`std::str::from_utf8`). Off, every `string` field is a `String`
    /// and decode rejects invalid UTF-8 in all of them. Proto3 strings and
    /// editions fields left at `VERIFY` stay `String` either way; the wire
    /// format is the same.
    ///
    /// ```
    /// let raw = connectrpc_build::Config::new().strict_utf8_mapping(true);
    /// # let _ = raw;
    /// ```
    pub fn strict_utf8_mapping(mut self, enabled: bool) -> Self {
        self.bundle = self.bundle.strict_utf8_mapping(enabled);
        self
    }

    /// Whether decoded messages keep fields they do not know and write
    /// them back when encoded (default `true`; buffa's
    /// `preserve_unknown_fields`). Off, unknown fields are skipped on
    /// decode and lost on re-encode, and messages carry no storage for
    /// them.
    ///
    /// ```
    /// let lean = connectrpc_build::Config::new().preserve_unknown_fields(false);
    /// # let _ = lean;
    /// ```
    pub fn preserve_unknown_fields(mut self, enabled: bool) -> Self {
        self.bundle = self.bundle.preserve_unknown_fields(enabled);
        self
    }

    /// The path generated service code names the runtime by (default
    /// `::connectrpc`), for crates that rename the dependency or re-export
    /// it.
    ///
    /// ```
    /// let config = connectrpc_build::Config::new().runtime_crate("connectrpc");
    /// # let _ = config;
    /// ```
    pub fn runtime_crate(mut self, path: impl Into<String>) -> Self {
        let services = self.bundle.service_options().clone().runtime_crate(path);
        self.bundle = self.bundle.services(services);
        self
    }

    /// Whether to generate each service's typed client
    /// (`GreetServiceClient`, default `true`). Turn it off in a crate that
    /// only serves.
    ///
    /// ```
    /// let server_only = connectrpc_build::Config::new().client(false);
    /// # let _ = server_only;
    /// ```
    pub fn client(mut self, enabled: bool) -> Self {
        let services = self.bundle.service_options().clone().client(enabled);
        self.bundle = self.bundle.services(services);
        self
    }

    /// Whether to generate each service's server side: the service trait
    /// (`GreetService`), the typed server (`GreetServiceServer`) and the
    /// registration trait (`GreetServiceExt`) (default `true`). Turn it off
    /// in a crate that only calls. The method descriptors are generated
    /// either way.
    ///
    /// ```
    /// let client_only = connectrpc_build::Config::new().server(false);
    /// # let _ = client_only;
    /// ```
    pub fn server(mut self, enabled: bool) -> Self {
        let services = self.bundle.service_options().clone().server(enabled);
        self.bundle = self.bundle.services(services);
        self
    }

    /// Whether to print `cargo:rerun-if-changed` for every input file
    /// (default `true`).
    ///
    /// ```
    /// let config = connectrpc_build::Config::new().emit_rerun_if_changed(false);
    /// # let _ = config;
    /// ```
    pub fn emit_rerun_if_changed(mut self, enabled: bool) -> Self {
        self.emit_rerun_if_changed = enabled;
        self
    }

    /// Maps a proto package (`.my.common`) or a single type
    /// (`.my.common.Shared`) to Rust code generated elsewhere
    /// (`::common_protos::my::common`, `::common_protos::my::common::Shared`),
    /// instead of generating it here. An exact type entry wins over a
    /// package prefix; among prefixes the longest wins. The Rust path must
    /// be absolute (`::krate::..` or `crate::..`) and the proto side must
    /// name a package or type of the compiled files, or compiling fails
    /// with an error naming the entry. `google.protobuf` maps to
    /// `::buffa_types::google::protobuf` without this.
    ///
    /// ```
    /// let config = connectrpc_build::Config::new()
    ///     .extern_path(".my.common", "::common_protos::my::common");
    /// # let _ = config;
    /// ```
    pub fn extern_path(mut self, proto: impl Into<String>, rust: impl Into<String>) -> Self {
        self.bundle = self.bundle.extern_path(proto, rust);
        self
    }

    /// Compiles the files and writes messages, services and the include
    /// file.
    ///
    /// # Errors
    ///
    /// Fails if the `.proto` files do not compile, the compiler cannot be
    /// run, the descriptor set does not decode, generation fails or the
    /// output cannot be written.
    ///
    /// ```no_run
    /// connectrpc_build::Config::new()
    ///     .files(&["greet/v1/greet.proto"])
    ///     .includes(&["proto"])
    ///     .include_file("_connectrpc.rs")
    ///     .compile()?;
    /// # Ok::<(), connectrpc_build::Error>(())
    /// ```
    pub fn compile(self) -> Result<(), Error> {
        if self.files.is_empty() {
            return Err(Error::Config(
                "no .proto files given (Config::files)".into(),
            ));
        }
        let relative_includes = self.out_dir.is_some();
        let out_dir = match &self.out_dir {
            Some(dir) => dir.clone(),
            None => std::env::var_os("OUT_DIR")
                .map(PathBuf::from)
                .ok_or_else(|| Error::Config("OUT_DIR is not set and no out_dir given".into()))?,
        };
        std::fs::create_dir_all(&out_dir).map_err(|e| Error::io(&out_dir, e))?;

        let bytes = self.descriptor_bytes(&out_dir)?;
        let options = buffa_codegen::tooling_decode_options().map_err(Error::Descriptor)?;
        let fds = options
            .decode_from_slice::<FileDescriptorSet>(&bytes)
            .map_err(|e| {
                Error::Descriptor(buffa_codegen::decode_failure(
                    "FileDescriptorSet",
                    &e,
                    options.element_memory_limit(),
                ))
            })?;

        let files_to_generate: Vec<String> = match self.source {
            Source::Protox | Source::Protoc => self
                .files
                .iter()
                .map(|f| proto_name(f, &self.includes))
                .collect(),
            Source::Buf | Source::DescriptorSet(_) => self
                .files
                .iter()
                .map(|f| f.to_string_lossy().replace('\\', "/"))
                .collect(),
        };
        for name in &files_to_generate {
            if !fds.file.iter().any(|f| f.name.as_deref() == Some(name)) {
                return Err(Error::Config(format!(
                    "`{name}` is not in the compiled descriptor set; give files relative to an include directory"
                )));
            }
        }

        let output =
            connectrpc_codegen::bundle::generate(&fds.file, &files_to_generate, &self.bundle)
                .map_err(Error::Generate)?;
        for warning in &output.warnings {
            println!("cargo:warning=buffa: {warning}");
        }
        for file in &output.files {
            write_if_changed(&out_dir.join(&file.name), file.content.as_bytes())?;
        }
        if let Some(name) = &self.include_file {
            let mode = if relative_includes {
                IncludeMode::Relative("")
            } else {
                IncludeMode::OutDir
            };
            let path = out_dir.join(name);
            write_if_changed(&path, output.module_tree(mode).as_bytes())?;
        }

        if self.emit_rerun_if_changed {
            self.emit_rerun(&fds);
        }
        Ok(())
    }

    /// Runs the configured compiler (or reads the configured file).
    fn descriptor_bytes(&self, out_dir: &Path) -> Result<Vec<u8>, Error> {
        match &self.source {
            Source::Protox => {
                let mut compiler = protox::Compiler::new(&self.includes)
                    .map_err(|e| Error::Compile(e.to_string()))?;
                compiler.include_imports(true).include_source_info(true);
                compiler
                    .open_files(&self.files)
                    .map_err(|e| Error::Compile(e.to_string()))?;
                Ok(compiler.encode_file_descriptor_set())
            }
            Source::Protoc => {
                let protoc = std::env::var("PROTOC").unwrap_or_else(|_| "protoc".to_string());
                let out = out_dir.join("connectrpc-build.protoc.binpb");
                let mut cmd = Command::new(&protoc);
                cmd.arg("--include_imports")
                    .arg("--include_source_info")
                    .arg(format!("--descriptor_set_out={}", out.display()));
                for include in &self.includes {
                    cmd.arg(format!("--proto_path={}", include.display()));
                }
                cmd.args(&self.files);
                run(cmd, &protoc)?;
                std::fs::read(&out).map_err(|e| Error::io(&out, e))
            }
            Source::Buf => {
                let out = out_dir.join("connectrpc-build.buf.binpb");
                let mut cmd = Command::new("buf");
                cmd.arg("build")
                    .arg("--as-file-descriptor-set")
                    .arg("-o")
                    .arg(&out);
                run(cmd, "buf")?;
                std::fs::read(&out).map_err(|e| Error::io(&out, e))
            }
            Source::DescriptorSet(path) => std::fs::read(path).map_err(|e| Error::io(path, e)),
        }
    }

    /// Prints `cargo:rerun-if-changed` for the inputs cargo can see.
    fn emit_rerun(&self, fds: &FileDescriptorSet) {
        match &self.source {
            Source::Protox | Source::Protoc => {
                if matches!(self.source, Source::Protoc) {
                    println!("cargo:rerun-if-env-changed=PROTOC");
                }
                // Every file of the set found under an include directory:
                // the requested files and their local imports.
                for file in &fds.file {
                    let Some(name) = file.name.as_deref() else {
                        continue;
                    };
                    if let Some(path) = self
                        .includes
                        .iter()
                        .map(|i| i.join(name))
                        .find(|p| p.is_file())
                    {
                        println!("cargo:rerun-if-changed={}", path.display());
                    }
                }
            }
            Source::Buf => {
                for name in ["buf.yaml", "buf.lock", "buf.work.yaml"] {
                    if Path::new(name).is_file() {
                        println!("cargo:rerun-if-changed={name}");
                    }
                }
                for include in &self.includes {
                    println!("cargo:rerun-if-changed={}", include.display());
                }
            }
            Source::DescriptorSet(path) => {
                println!("cargo:rerun-if-changed={}", path.display());
            }
        }
    }
}

/// The name of `file` inside the descriptor set: relative to the first
/// include directory it is under, or as given.
fn proto_name(file: &Path, includes: &[PathBuf]) -> String {
    let relative = includes
        .iter()
        .find_map(|i| file.strip_prefix(i).ok())
        .unwrap_or(file);
    relative
        .components()
        .map(|c| c.as_os_str().to_string_lossy())
        .collect::<Vec<_>>()
        .join("/")
}

fn run(mut cmd: Command, program: &str) -> Result<(), Error> {
    let output = cmd
        .output()
        .map_err(|e| Error::Compile(format!("failed to run `{program}`: {e}")))?;
    if output.status.success() {
        Ok(())
    } else {
        Err(Error::Compile(format!(
            "`{program}` failed ({}): {}",
            output.status,
            String::from_utf8_lossy(&output.stderr)
        )))
    }
}

/// Writes `content` unless the file already holds it, so unchanged output
/// does not trigger recompilation.
fn write_if_changed(path: &Path, content: &[u8]) -> Result<(), Error> {
    if std::fs::read(path).is_ok_and(|old| old == content) {
        return Ok(());
    }
    if let Some(parent) = path.parent() {
        std::fs::create_dir_all(parent).map_err(|e| Error::io(parent, e))?;
    }
    std::fs::write(path, content).map_err(|e| Error::io(path, e))
}

/// Why [`Config::compile`] failed.
///
/// ```
/// let err = connectrpc_build::Config::new().compile().unwrap_err();
/// assert!(err.to_string().contains("no .proto files"));
/// ```
#[derive(Debug)]
#[non_exhaustive]
pub enum Error {
    /// The configuration is unusable.
    Config(String),
    /// The `.proto` files did not compile, or the compiler could not run.
    Compile(String),
    /// The descriptor set did not decode.
    Descriptor(String),
    /// The messages or the service code could not be generated (the error
    /// names the file, service or option at fault).
    Generate(connectrpc_codegen::bundle::Error),
    /// Reading or writing a file failed.
    Io {
        /// The file.
        path: PathBuf,
        /// The error.
        source: std::io::Error,
    },
}

impl Error {
    fn io(path: &Path, source: std::io::Error) -> Self {
        Error::Io {
            path: path.to_path_buf(),
            source,
        }
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::Config(msg) => write!(f, "connectrpc-build: {msg}"),
            Error::Compile(msg) => write!(f, "connectrpc-build: compiling protos: {msg}"),
            Error::Descriptor(msg) => write!(f, "connectrpc-build: {msg}"),
            Error::Generate(e) => write!(f, "connectrpc-build: {e}"),
            Error::Io { path, source } => {
                write!(f, "connectrpc-build: {}: {source}", path.display())
            }
        }
    }
}

impl std::error::Error for Error {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            Error::Generate(e) => Some(e),
            Error::Io { source, .. } => Some(source),
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests;

//! Generates the corpus in `proto/` twice: with `connectrpc-build` (every
//! file through protox except the editions file, which protox does not
//! parse and which comes from a descriptor set made with `buf`,
//! `descriptors/editions.binpb`, see `descriptors/README.md`), and with the
//! `protoc-gen-connect-rust` plugin, run in-process on the
//! `CodeGeneratorRequest`s `protoc`/`buf` would send for the same files,
//! into `OUT_DIR/plugin/{corpus,editions}/` with its `mod.rs` trees. Both
//! trees compile under the crate's lints and serve the same calls.

use std::path::Path;

use buffa::Message as _;
use buffa_codegen::generated::compiler::{CodeGeneratorRequest, CodeGeneratorResponse};
use buffa_codegen::generated::descriptor::FileDescriptorSet;

/// The corpus files protox compiles, relative to `proto/`.
const FILES: &[&str] = &[
    "keywords.proto",
    "methods.proto",
    "multi.proto",
    "split/v1/one.proto",
    "split/v1/two.proto",
    "nested.proto",
    "my_pkg2/v1_beta3/digits.proto",
    "nopkg.proto",
    "wkt.proto",
    "imports.proto",
    "streaming.proto",
    "deprecated.proto",
    "optional.proto",
    "clash.proto",
    "clash/v1/clash_service/sub.proto",
];

fn main() -> Result<(), Box<dyn std::error::Error>> {
    connectrpc_build::Config::new()
        .files(FILES)
        .includes(&["proto"])
        .include_file("_corpus.rs")
        .compile()?;
    connectrpc_build::Config::new()
        .files(&["editions.proto"])
        .descriptor_set("descriptors/editions.binpb")
        .include_file("_editions.rs")
        .compile()?;
    println!("cargo:rerun-if-changed=proto/editions.proto");

    let out = std::path::PathBuf::from(std::env::var("OUT_DIR")?);
    let mut compiler = protox::Compiler::new(["proto"])?;
    compiler.include_imports(true).include_source_info(true);
    compiler.open_files(FILES)?;
    let corpus = FileDescriptorSet::decode_from_slice(&compiler.encode_file_descriptor_set())?;
    plugin(&corpus, FILES, &out.join("plugin/corpus"))?;
    let editions =
        FileDescriptorSet::decode_from_slice(&std::fs::read("descriptors/editions.binpb")?)?;
    plugin(&editions, &["editions.proto"], &out.join("plugin/editions"))?;
    Ok(())
}

/// Runs the plugin on the request `protoc` would send for `files` and
/// writes its files into `dir`.
fn plugin(
    set: &FileDescriptorSet,
    files: &[&str],
    dir: &Path,
) -> Result<(), Box<dyn std::error::Error>> {
    let request = CodeGeneratorRequest {
        file_to_generate: files.iter().map(|f| f.to_string()).collect(),
        proto_file: set.file.clone(),
        ..Default::default()
    };
    let response = CodeGeneratorResponse::decode_from_slice(&protoc_gen_connect_rust::run(
        &request.encode_to_vec(),
    ))?;
    if let Some(error) = response.error {
        return Err(format!("protoc-gen-connect-rust: {error}").into());
    }
    std::fs::create_dir_all(dir)?;
    for file in response.file {
        let name = file.name.ok_or("plugin file without a name")?;
        let content = file.content.unwrap_or_default();
        let path = dir.join(name);
        if std::fs::read_to_string(&path).ok().as_deref() != Some(content.as_str()) {
            std::fs::write(&path, content)?;
        }
    }
    Ok(())
}

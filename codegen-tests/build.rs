//! Generates the corpus in `proto/` twice: with `connectrpc-build` (every
//! file through protox except the editions file, which protox does not
//! parse and which comes from a descriptor set made with `buf`,
//! `descriptors/editions.binpb`, see `descriptors/README.md`), and with the
//! `protoc-gen-connect-rust` plugin, run in-process on the
//! `CodeGeneratorRequest`s `protoc`/`buf` would send for the same files,
//! into `OUT_DIR/plugin/{corpus,editions}/` with its `mod.rs` trees. Both
//! trees compile under the crate's lints and serve the same calls.
//!
//! buffa's switches get files of their own, each generated with and
//! without its switch, by both workflows, into `OUT_DIR/switches/<name>/`
//! (see `src/switches.rs`): `raw_strings.proto` (editions, from
//! `descriptors/raw_strings.binpb`) for `strict_utf8_mapping`,
//! `unknown.proto` for `preserve_unknown_fields`, `owned.proto` for
//! `generate_views`.

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
    plugin(&corpus, FILES, &out.join("plugin/corpus"), "")?;
    let editions =
        FileDescriptorSet::decode_from_slice(&std::fs::read("descriptors/editions.binpb")?)?;
    plugin(
        &editions,
        &["editions.proto"],
        &out.join("plugin/editions"),
        "",
    )?;
    switches(&out)?;
    Ok(())
}

/// The files of `src/switches.rs`: each generated with its switch off and
/// on, with `connectrpc-build` into `OUT_DIR/switches/<name>/_include.rs`
/// and with the plugin (its switch as a parameter) into
/// `OUT_DIR/switches/plugin_<name>/mod.rs`.
fn switches(out: &Path) -> Result<(), Box<dyn std::error::Error>> {
    type Switch = fn(connectrpc_build::Config) -> connectrpc_build::Config;
    let raw_set = "descriptors/raw_strings.binpb";
    let build = |name: &str, file: &str, descriptors: Option<&str>, switch: Switch| {
        let config = connectrpc_build::Config::new().files(&[file]);
        let config = match descriptors {
            Some(set) => config.descriptor_set(set),
            None => config.includes(&["proto"]),
        };
        switch(config)
            .out_dir(out.join("switches").join(name))
            .include_file("_include.rs")
            .compile()
    };
    build("raw_lenient", "raw_strings.proto", Some(raw_set), |c| c)?;
    build("raw_strict", "raw_strings.proto", Some(raw_set), |c| {
        c.strict_utf8_mapping(true)
    })?;
    println!("cargo:rerun-if-changed=proto/raw_strings.proto");
    build("unknown_kept", "unknown.proto", None, |c| c)?;
    build("unknown_dropped", "unknown.proto", None, |c| {
        c.preserve_unknown_fields(false)
    })?;
    build("owned_views", "owned.proto", None, |c| c)?;
    build("owned_client", "owned.proto", None, |c| {
        c.generate_views(false).server(false)
    })?;

    let raw = FileDescriptorSet::decode_from_slice(&std::fs::read(raw_set)?)?;
    let dir = out.join("switches");
    plugin(
        &raw,
        &["raw_strings.proto"],
        &dir.join("plugin_raw_strict"),
        "strict_utf8_mapping=true",
    )?;
    let mut compiler = protox::Compiler::new(["proto"])?;
    compiler.include_imports(true).include_source_info(true);
    compiler.open_files(["unknown.proto", "owned.proto"])?;
    let set = FileDescriptorSet::decode_from_slice(&compiler.encode_file_descriptor_set())?;
    plugin(
        &set,
        &["unknown.proto"],
        &dir.join("plugin_unknown_dropped"),
        "preserve_unknown_fields=false",
    )?;
    plugin(
        &set,
        &["owned.proto"],
        &dir.join("plugin_owned_client"),
        "views=false,server=false",
    )?;
    Ok(())
}

/// Runs the plugin on the request `protoc` would send for `files` with
/// `parameter` (`--connect-rust_opt=`) and writes its files into `dir`.
fn plugin(
    set: &FileDescriptorSet,
    files: &[&str],
    dir: &Path,
    parameter: &str,
) -> Result<(), Box<dyn std::error::Error>> {
    let request = CodeGeneratorRequest {
        file_to_generate: files.iter().map(|f| f.to_string()).collect(),
        parameter: (!parameter.is_empty()).then(|| parameter.to_string()),
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

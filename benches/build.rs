//! Generates the bench service three times from `proto/bench/v1/bench.proto`,
//! with no protoc: `protox` parses the .proto into a descriptor set.
//!
//! - ours: `connectrpc-build` (this workspace) -> `$OUT_DIR/ours/_connectrpc.rs`
//! - connectrpc 0.9 (crates.io): its `connectrpc-build` 0.9 with the same
//!   descriptor set -> `$OUT_DIR/published/`; the generated code names its
//!   runtime `::connectrpc`, which in this crate is ours, so the paths are
//!   rewritten to `::connectrpc_published`.
//! - tonic 0.14 + prost: `tonic-prost-build` `compile_fds` -> `$OUT_DIR/tonic/`.
//!
//! `proto/fortunes/v1/fortunes.proto` (the fortunes workload) goes through
//! the same three generators into `$OUT_DIR/fortunes/{ours,published,tonic}`.

use std::path::{Path, PathBuf};

use prost::Message as _;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let out = PathBuf::from(std::env::var("OUT_DIR")?);
    generate("bench/v1/bench.proto", &out)?;
    // The fortunes workload (`--bin fortunes`), in its own directory so the
    // bench services' generated code is unchanged.
    generate("fortunes/v1/fortunes.proto", &out.join("fortunes"))?;
    // The ingest messages as an editions file whose strings skip UTF-8
    // validation, generated (ours only) with `strict_utf8_mapping`.
    generate_raw("raw/v1/raw.proto", &out.join("raw"))?;
    Ok(())
}

/// Generates `proto` with ours and `strict_utf8_mapping` under `out/ours`,
/// as an editions file: `edition = 2023`, `utf8_validation = NONE`,
/// `field_presence = IMPLICIT` (set on the parsed descriptor: protox does
/// not parse `edition` yet).
fn generate_raw(proto: &str, out: &Path) -> Result<(), Box<dyn std::error::Error>> {
    println!("cargo:rerun-if-changed=proto/{proto}");
    let fds = protox::compile([proto], ["proto"])?;
    let [file] = <[_; 1]>::try_from(fds.file).map_err(|_| "one file, no imports")?;
    let mut file = file;
    file.syntax = Some("editions".into());
    let mut bytes = file.encode_to_vec();
    // FileDescriptorProto.edition (14) = EDITION_2023 (1000).
    bytes.extend_from_slice(&[0x70, 0xE8, 0x07]);
    // FileDescriptorProto.options (8), merged into the parsed ones:
    // FileOptions.features (50) = FeatureSet { field_presence (1) =
    // IMPLICIT (2), utf8_validation (4) = NONE (3) }.
    bytes.extend_from_slice(&[0x42, 0x07, 0x92, 0x03, 0x04, 0x08, 0x02, 0x20, 0x03]);
    // FileDescriptorSet.file (1).
    let mut set = vec![0x0A];
    prost::encoding::encode_varint(bytes.len() as u64, &mut set);
    set.extend_from_slice(&bytes);
    std::fs::create_dir_all(out.join("ours"))?;
    let fds_path = out.join("descriptors.binpb");
    std::fs::write(&fds_path, set)?;
    connectrpc_build::Config::new()
        .files(&[proto])
        .includes(&["proto"])
        .descriptor_set(&fds_path)
        .out_dir(out.join("ours"))
        .include_file("_connectrpc.rs")
        .strict_utf8_mapping(true)
        .compile()?;
    Ok(())
}

/// Generates `proto` with the three generators under `out/{ours,published,tonic}`.
fn generate(proto: &str, out: &Path) -> Result<(), Box<dyn std::error::Error>> {
    println!("cargo:rerun-if-changed=proto/{proto}");

    let fds = protox::compile([proto], ["proto"])?;
    std::fs::create_dir_all(out)?;
    let fds_path = out.join("descriptors.binpb");
    std::fs::write(&fds_path, fds.encode_to_vec())?;

    // Ours.
    let ours = out.join("ours");
    std::fs::create_dir_all(&ours)?;
    connectrpc_build::Config::new()
        .files(&[proto])
        .includes(&["proto"])
        .descriptor_set(&fds_path)
        .out_dir(&ours)
        .include_file("_connectrpc.rs")
        .compile()?;

    // connectrpc 0.9 from crates.io.
    let published = out.join("published");
    std::fs::create_dir_all(&published)?;
    connectrpc_build_published::Config::new()
        .files(&[proto])
        .includes(&["proto"])
        .descriptor_set(&fds_path)
        .out_dir(&published)
        .include_file("_connectrpc.rs")
        .compile()?;
    rewrite_runtime_path(&published)?;

    // tonic 0.14 + prost.
    let tonic = out.join("tonic");
    std::fs::create_dir_all(&tonic)?;
    tonic_prost_build::configure()
        .build_client(true)
        .build_transport(false)
        .out_dir(&tonic)
        .compile_fds(fds)?;
    Ok(())
}

fn rewrite_runtime_path(dir: &Path) -> std::io::Result<()> {
    for entry in std::fs::read_dir(dir)? {
        let path = entry?.path();
        if path.extension().is_some_and(|e| e == "rs") {
            let src = std::fs::read_to_string(&path)?;
            let fixed = src.replace("::connectrpc::", "::connectrpc_published::");
            std::fs::write(&path, fixed)?;
        }
    }
    Ok(())
}

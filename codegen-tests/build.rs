//! Generates the corpus in `proto/` with `connectrpc-build`: every file
//! through protox except the editions file, which protox does not parse
//! and which comes from a descriptor set made with `buf`
//! (`descriptors/editions.binpb`, see `descriptors/README.md`).

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
    Ok(())
}

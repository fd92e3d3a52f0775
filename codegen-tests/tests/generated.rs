//! What the generated service code of the corpus says: docs from the
//! proto comments, `#[deprecated]` where the protos say so, and the names
//! chosen for hard cases.

use std::path::Path;

/// The generated service code of `stem` (`keywords` for
/// `keywords.proto`), without whitespace so assertions ignore layout.
fn service_code(stem: &str) -> String {
    let path = Path::new(env!("OUT_DIR")).join(format!("{stem}.__connect.rs"));
    let code = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    code.split_whitespace().collect()
}

fn squash(s: &str) -> String {
    s.split_whitespace().collect()
}

fn assert_has(code: &str, needle: &str) {
    assert!(code.contains(&squash(needle)), "missing `{needle}`");
}

#[test]
fn leading_and_trailing_comments_become_docs() {
    let code = service_code("keywords");
    // Trailing only, on the trait method, the client methods and the descriptor.
    let trailing = "///Atrailingcommenton`match`.";
    assert!(
        code.matches(trailing).count() >= 5,
        "{}",
        code.matches(trailing).count()
    );
    // Leading comments on the service: trait, server, client, module.
    assert!(
        code.matches("///Aservicenamedbyakeyword,withkeywordmethods.")
            .count()
            >= 4
    );
    assert_has(
        &code,
        "/// Server streaming `self`. /// /// Server streaming: one request, a stream of responses.",
    );
}

#[test]
fn deprecated_items_are_marked() {
    let code = service_code("deprecated");
    for item in [
        "pub const OLD_SERVICE_NAME",
        "pub trait OldService:",
        "pub struct OldServiceServer<T>",
        "pub trait OldServiceExt",
        "pub struct OldServiceClient<T>",
        "fn before(",
        "fn before_many(",
        "pub fn before(",
        "pub fn before_with_options(",
        "pub fn before_view(",
        "pub fn before_view_with_options(",
        "pub async fn before_many(",
    ] {
        assert_has(&code, &format!("#[deprecated] {item}"));
    }
    assert_has(&code, "#[deprecated] pub const BEFORE:");
    assert_has(&code, "#[deprecated] #[allow(deprecated)] pub const CALL:");
    assert!(!code.contains(&squash("#[deprecated] fn now(")));
    assert!(!code.contains(&squash("#[deprecated] pub struct MixedService")));
}

#[test]
fn hard_names() {
    let keywords = service_code("keywords");
    assert_has(
        &keywords,
        "#[allow(non_camel_case_types)] pub trait r#type:",
    );
    assert_has(&keywords, "pub struct TypeServer<T>");
    assert_has(&keywords, "pub mod type_ {");
    assert_has(&keywords, "pub trait self_:");
    assert_has(&keywords, "pub mod self__ {");
    let methods = service_code("methods");
    assert_has(&methods, "pub const METHODS_:");
    assert_has(&methods, "<T as Service>::clone(&*inner, ctx, request)");
    let clash = service_code("clash");
    assert_has(&clash, "pub struct ClashServiceClient_<T>");
    assert_has(&clash, "pub mod clash_service_ {");
    let imports = service_code("imports");
    assert_has(
        &imports,
        "pub use super::super::super::split::v1::__buffa::view::OneView as SplitV1OneView;",
    );
}

/// The descriptor sets in `descriptors/` (`editions.binpb`,
/// `raw_strings.binpb`) match their `.proto` files in `proto/`, rebuilt
/// with `buf` (see `descriptors/README.md`): the one
/// `peers/install-go-tools.sh` installs under
/// `examples/buf-generate/node_modules`, or else one on `PATH`. Without a
/// `buf` the test is skipped, unless `CI` is set: then it fails, so CI
/// cannot pass it without checking.
#[test]
fn editions_descriptor_is_current() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let Some(buf) = find_buf(root) else {
        assert!(
            std::env::var_os("CI").is_none(),
            "CI is set but buf was found neither under \
             examples/buf-generate/node_modules/.bin nor on PATH: \
             run `bash peers/install-go-tools.sh` first"
        );
        eprintln!("buf not found: not checking descriptors/*.binpb");
        return;
    };
    for stem in ["editions", "raw_strings"] {
        let out = Path::new(env!("OUT_DIR")).join(format!("{stem}.check.binpb"));
        let status = std::process::Command::new(&buf)
            .current_dir(root.join("proto"))
            .arg("build")
            .arg(format!("{stem}.proto"))
            .args(["--as-file-descriptor-set", "-o"])
            .arg(&out)
            .status()
            .unwrap_or_else(|e| panic!("running {}: {e}", buf.display()));
        assert!(status.success(), "buf build {stem}.proto failed");
        let fresh = std::fs::read(&out).unwrap();
        let checked_in = std::fs::read(root.join(format!("descriptors/{stem}.binpb"))).unwrap();
        assert!(
            fresh == checked_in,
            "descriptors/{stem}.binpb is stale: see descriptors/README.md"
        );
    }
}

/// The workspace's pinned `buf` if installed, else the first `buf` on `PATH`.
fn find_buf(root: &Path) -> Option<std::path::PathBuf> {
    let pinned = root.join("../examples/buf-generate/node_modules/.bin/buf");
    if pinned.is_file() {
        return Some(pinned);
    }
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .map(|dir| dir.join("buf"))
        .find(|candidate| candidate.is_file())
}

//! Generates the corpus in `proto/` with `connectrpc-build`: every file
//! through protox except the editions file, which protox does not parse
//! and which comes from a descriptor set made with `buf`
//! (`descriptors/editions.binpb`, see `descriptors/README.md`).
//!
//! Then writes the same code a second time under `OUT_DIR/strict/`, with
//! [`connectrpc_codegen::docs::document_buffa_output`] applied to buffa's
//! files and a module tree of its own that documents every package module
//! and allows no missing docs (`connectrpc-build`'s include file allows
//! `missing_docs` over whole packages, which would hide undocumented
//! service code).

use std::fmt::Write as _;
use std::path::Path;

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
    strict_tree(&out, &out.join("strict"))?;
    Ok(())
}

/// Copies the generated files of `out` into `strict`, documenting buffa's
/// output, and writes `strict/_strict.rs`, a documented module tree over
/// every package.
fn strict_tree(out: &Path, strict: &Path) -> Result<(), Box<dyn std::error::Error>> {
    std::fs::create_dir_all(strict)?;
    let mut packages = Vec::new();
    for entry in std::fs::read_dir(out)? {
        let path = entry?.path();
        let Some(name) = path.file_name().and_then(|n| n.to_str()) else {
            continue;
        };
        if !name.ends_with(".rs") || name.starts_with('_') && !name.starts_with("__buffa") {
            continue;
        }
        let content = std::fs::read_to_string(&path)?;
        // The service code is left alone: it must be documented as generated.
        let content = if name.ends_with(".__connect.rs") {
            content
        } else {
            connectrpc_codegen::docs::document_buffa_output(&content)
        };
        let target = strict.join(name);
        if std::fs::read_to_string(&target).ok().as_deref() != Some(content.as_str()) {
            std::fs::write(&target, content)?;
        }
        if let Some(package) = name.strip_suffix(".mod.rs") {
            packages.push(if package == "__buffa" {
                String::new()
            } else {
                package.to_string()
            });
        }
    }
    packages.sort();

    // buffa's own allow-list (as in its include files), without
    // `missing_docs`; `elided_lifetimes_in_paths` for nested views
    // (`<outer::InnerView as MessageView>`, buffa 0.9).
    const ALLOW: &str = "#[allow(non_camel_case_types, dead_code, unused_imports, unused_qualifications, elided_lifetimes_in_paths, clippy::derivable_impls, clippy::match_single_binding, clippy::uninlined_format_args, clippy::doc_lazy_continuation, clippy::module_inception)]";
    #[derive(Default)]
    struct Node {
        file: Option<String>,
        children: std::collections::BTreeMap<String, Node>,
    }
    let mut root = Node::default();
    for package in &packages {
        let mut node = &mut root;
        if !package.is_empty() {
            for segment in package.split('.') {
                node = node.children.entry(segment.to_string()).or_default();
            }
        }
        let file = if package.is_empty() {
            "__buffa.mod.rs".to_string()
        } else {
            format!("{package}.mod.rs")
        };
        node.file = Some(file);
    }
    fn render(node: &Node, path: &str, tree: &mut String) {
        if let Some(file) = &node.file {
            let _ = writeln!(
                tree,
                "include!(concat!(env!(\"OUT_DIR\"), \"/strict/{file}\"));"
            );
        }
        for (segment, child) in &node.children {
            let package = if path.is_empty() {
                segment.clone()
            } else {
                format!("{path}.{segment}")
            };
            let ident = buffa_codegen::idents::escape_mod_ident(segment);
            let _ = writeln!(
                tree,
                "/// Proto package `{package}`.\n{ALLOW}\npub mod {ident} {{"
            );
            render(child, &package, tree);
            let _ = writeln!(tree, "}}");
        }
    }
    let mut tree = String::from("// @generated by codegen-tests/build.rs.\n");
    render(&root, "", &mut tree);
    let target = strict.join("_strict.rs");
    if std::fs::read_to_string(&target).ok().as_deref() != Some(tree.as_str()) {
        std::fs::write(&target, tree)?;
    }
    Ok(())
}

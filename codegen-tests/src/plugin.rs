//! The corpus and the editions file as `protoc-gen-connect-rust` writes
//! them (`mod.rs` trees with relative includes, see `build.rs`), with the
//! same service implementations ([`impls`]) and calls ([`calls`]) as
//! [`build_rs`](crate::build_rs).

/// The corpus, from the plugin.
// buffa 0.9 writes `<outer::InnerView as MessageView>` in nested views;
// the items of `nopkg.proto` (no package) sit at the tree's root.
#[allow(elided_lifetimes_in_paths)]
pub mod proto {
    include!(concat!(env!("OUT_DIR"), "/plugin/corpus/mod.rs"));
}

/// The editions file, from the plugin.
pub mod editions {
    include!(concat!(env!("OUT_DIR"), "/plugin/editions/mod.rs"));
}

// The same source compiled a second time, against this tree: that it
// compiles and serves the same calls is the point.
#[allow(clippy::duplicate_mod)]
#[path = "calls.rs"]
pub mod calls;
#[allow(clippy::duplicate_mod)]
#[path = "impls.rs"]
pub mod impls;

//! The original `connectrpc` README's build script, as a user would copy
//! it (Option B: generated at build time).

fn main() {
    connectrpc_build::Config::new()
        .files(&["proto/greet.proto"])
        .includes(&["proto/"])
        .include_file("_connectrpc.rs")
        .compile()
        .unwrap();
}

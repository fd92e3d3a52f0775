//! Generates `grpc.reflection.v1` and `grpc.reflection.v1alpha` from the
//! `.proto` files under `proto/`.

fn main() -> Result<(), Box<dyn std::error::Error>> {
    connectrpc_build::Config::new()
        .files(&[
            "grpc/reflection/v1/reflection.proto",
            "grpc/reflection/v1alpha/reflection.proto",
        ])
        .includes(&["proto"])
        .runtime_crate("crate")
        .include_file("_connectrpc.rs")
        .compile()?;
    Ok(())
}

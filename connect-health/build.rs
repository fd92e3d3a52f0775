//! Generates `grpc.health.v1` from `proto/grpc/health/v1/health.proto`.

fn main() -> Result<(), Box<dyn std::error::Error>> {
    connectrpc_build::Config::new()
        .files(&["grpc/health/v1/health.proto"])
        .includes(&["proto"])
        .runtime_crate("crate")
        .include_file("_connectrpc.rs")
        .compile()?;
    Ok(())
}

//! Generates the conformance service from the suite's own `.proto` files.
//!
//! They are not copied into this repository: they come from the Go module
//! `connectrpc.com/conformance@v1.0.5`, which `go mod download` places in the
//! module cache. Set `CONFORMANCE_PROTO_DIR` to a directory holding
//! `connectrpc/conformance/v1/*.proto` to skip the Go toolchain.

use std::path::PathBuf;
use std::process::Command;

const MODULE: &str = "connectrpc.com/conformance@v1.0.5";
const FILES: &[&str] = &[
    "connectrpc/conformance/v1/config.proto",
    "connectrpc/conformance/v1/service.proto",
    "connectrpc/conformance/v1/server_compat.proto",
    "connectrpc/conformance/v1/client_compat.proto",
];

fn proto_dir() -> Result<PathBuf, Box<dyn std::error::Error>> {
    println!("cargo:rerun-if-env-changed=CONFORMANCE_PROTO_DIR");
    if let Some(dir) = std::env::var_os("CONFORMANCE_PROTO_DIR") {
        return Ok(PathBuf::from(dir));
    }
    let go = std::env::var("GO").unwrap_or_else(|_| "go".to_owned());
    println!("cargo:rerun-if-env-changed=GO");
    let output = Command::new(&go)
        .args(["mod", "download", "-json", MODULE])
        .output()
        .map_err(|e| {
            format!(
                "running `{go} mod download -json {MODULE}` failed ({e}); install Go or set \
                 CONFORMANCE_PROTO_DIR to the suite's proto/ directory"
            )
        })?;
    let info: serde_json::Value = serde_json::from_slice(&output.stdout).map_err(|e| {
        format!(
            "`go mod download -json {MODULE}` printed no JSON ({e}): {}",
            String::from_utf8_lossy(&output.stderr)
        )
    })?;
    if let Some(err) = info.get("Error").and_then(|e| e.as_str()) {
        return Err(format!("`go mod download -json {MODULE}`: {err}").into());
    }
    let dir = info
        .get("Dir")
        .and_then(|d| d.as_str())
        .ok_or_else(|| format!("`go mod download -json {MODULE}` gave no Dir"))?;
    Ok(PathBuf::from(dir).join("proto"))
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let dir = proto_dir()?;
    for file in FILES {
        let path = dir.join(file);
        if !path.is_file() {
            return Err(format!("{} not found", path.display()).into());
        }
        println!("cargo:rerun-if-changed={}", path.display());
    }
    connectrpc_build::Config::new()
        .files(FILES)
        .includes(&[&dir])
        .include_file("_connectrpc.rs")
        .compile()?;
    Ok(())
}

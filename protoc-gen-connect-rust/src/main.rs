//! The `protoc-gen-connect-rust` binary: reads a `CodeGeneratorRequest`
//! on stdin, writes the `CodeGeneratorResponse` on stdout.

use std::io::{Read, Write};
use std::process::ExitCode;

use protoc_gen_connect_rust::options::KNOWN;

const NAME: &str = env!("CARGO_PKG_NAME");
const VERSION: &str = env!("CARGO_PKG_VERSION");

fn help() -> String {
    let mut text = format!(
        "{NAME} {VERSION}: protoc / buf plugin for ConnectRPC in Rust.\n\n\
         Generates buffa's message types, ConnectRPC service traits, servers and\n\
         clients, and a mod.rs nesting the packages, from a CodeGeneratorRequest\n\
         on stdin. Run it through protoc or buf:\n\n\
         \x20 protoc -I proto --connect-rust_out=src/proto greet/v1/greet.proto\n\n\
         \x20 # buf.gen.yaml (version: v2)\n\
         \x20 plugins:\n\
         \x20   - local: {NAME}\n\
         \x20     out: src/proto\n\
         \x20     strategy: all\n\n\
         Options (--connect-rust_opt=k=v,k=v or `opt:` in buf.gen.yaml):\n"
    );
    for (key, what) in KNOWN {
        text.push_str(&format!("  {key:<22}{what}\n"));
    }
    text
}

fn main() -> ExitCode {
    if let Some(arg) = std::env::args().nth(1) {
        return match arg.as_str() {
            "--version" | "-V" => {
                println!("{NAME} {VERSION}");
                ExitCode::SUCCESS
            }
            "--help" | "-h" => {
                print!("{}", help());
                ExitCode::SUCCESS
            }
            other => {
                eprintln!(
                    "{NAME}: unexpected argument {other:?}; this is a protoc plugin (see --help)"
                );
                ExitCode::from(2)
            }
        };
    }
    let mut input = Vec::new();
    if let Err(e) = std::io::stdin().read_to_end(&mut input) {
        eprintln!("{NAME}: reading the request from stdin: {e}");
        return ExitCode::FAILURE;
    }
    let output = protoc_gen_connect_rust::run(&input);
    let mut stdout = std::io::stdout().lock();
    if let Err(e) = stdout.write_all(&output).and_then(|()| stdout.flush()) {
        eprintln!("{NAME}: writing the response to stdout: {e}");
        return ExitCode::FAILURE;
    }
    ExitCode::SUCCESS
}

//! The client-under-test for the official ConnectRPC conformance suite.
//!
//! Reads size-delimited `ClientCompatRequest`s from stdin (a 4-byte
//! big-endian length, then the message), runs each concurrently with the
//! generated client over the project's transports, and writes each
//! `ClientCompatResponse` to stdout the same way, one whole message at a
//! time. At end of input it finishes the calls in flight and exits.

use std::sync::Arc;

use buffa::Message;
use conformance::client::{Channels, run};
use conformance::proto::connectrpc::conformance::v1::ClientCompatRequest;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::sync::mpsc;

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let (out_tx, mut out_rx) = mpsc::unbounded_channel::<Vec<u8>>();
    let writer = tokio::spawn(async move {
        let mut stdout = tokio::io::stdout();
        while let Some(buf) = out_rx.recv().await {
            let len = u32::try_from(buf.len()).expect("response under 4 GiB");
            stdout.write_all(&len.to_be_bytes()).await?;
            stdout.write_all(&buf).await?;
            stdout.flush().await?;
        }
        Ok::<_, std::io::Error>(())
    });
    conformance::install_type_registry();
    let channels = Arc::new(Channels::default());
    let mut stdin = tokio::io::stdin();
    let mut tasks = Vec::new();
    loop {
        let mut len = [0u8; 4];
        match stdin.read_exact(&mut len).await {
            Ok(_) => {}
            Err(e) if e.kind() == std::io::ErrorKind::UnexpectedEof => break,
            Err(e) => return Err(e.into()),
        }
        let mut buf = vec![0u8; u32::from_be_bytes(len) as usize];
        stdin.read_exact(&mut buf).await?;
        let req = ClientCompatRequest::decode_from_slice(&buf)?;
        let channels = Arc::clone(&channels);
        let out_tx = out_tx.clone();
        tasks.push(tokio::spawn(async move {
            let resp = run(channels, req).await;
            let _ = out_tx.send(resp.encode_to_vec());
        }));
    }
    for t in tasks {
        t.await?;
    }
    drop(out_tx);
    writer.await??;
    Ok(())
}

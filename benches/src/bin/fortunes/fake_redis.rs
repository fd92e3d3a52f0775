//! `fortunes self-check`: the Rust servers against a stand-in for Redis,
//! so the benchmark can be smoke-tested (in CI, say) without a Redis
//! server. The stand-in speaks just enough RESP2: `HGETALL` answers the 12
//! [`FORTUNES`], `PING` answers `PONG`, every other
//! command an error (which the client ignores for its own set-up
//! commands). Never used for measurements.

use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
use tokio::net::TcpListener;

use crate::store::FORTUNES;

/// Starts the stand-in on a free port of 127.0.0.1 (on its own thread) and
/// returns its `host:port`.
pub(crate) fn start() -> std::io::Result<String> {
    let listener = std::net::TcpListener::bind("127.0.0.1:0")?;
    listener.set_nonblocking(true)?;
    let addr = listener.local_addr()?.to_string();
    std::thread::spawn(move || {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("runtime");
        rt.block_on(async move {
            let listener = TcpListener::from_std(listener).expect("listener");
            while let Ok((mut stream, _)) = listener.accept().await {
                let _ = stream.set_nodelay(true);
                tokio::spawn(async move {
                    let mut buf = Vec::new();
                    let mut chunk = [0u8; 4096];
                    loop {
                        while let Some((command, used)) = parse(&buf) {
                            buf.drain(..used);
                            if stream.write_all(&reply(&command)).await.is_err() {
                                return;
                            }
                        }
                        match stream.read(&mut chunk).await {
                            Ok(0) | Err(_) => return,
                            Ok(n) => buf.extend_from_slice(&chunk[..n]),
                        }
                    }
                });
            }
        });
    });
    Ok(addr)
}

fn reply(command: &[Vec<u8>]) -> Vec<u8> {
    let name = command.first().map(|c| c.to_ascii_uppercase());
    match name.as_deref() {
        Some(b"HGETALL") => {
            let mut out = format!("*{}\r\n", FORTUNES.len() * 2).into_bytes();
            for (id, message) in FORTUNES {
                for field in [id.to_string().as_str(), message] {
                    out.extend_from_slice(format!("${}\r\n{field}\r\n", field.len()).as_bytes());
                }
            }
            out
        }
        Some(b"PING") => b"+PONG\r\n".to_vec(),
        _ => b"-ERR not supported by the stand-in\r\n".to_vec(),
    }
}

/// One complete command (`*N` then `N` bulk strings) at the start of `buf`,
/// and the bytes it took; `None` until it has all arrived.
fn parse(buf: &[u8]) -> Option<(Vec<Vec<u8>>, usize)> {
    fn line(buf: &[u8], at: usize) -> Option<(&[u8], usize)> {
        let end = buf.get(at..)?.windows(2).position(|w| w == b"\r\n")? + at;
        Some((&buf[at..end], end + 2))
    }
    let (head, mut at) = line(buf, 0)?;
    let n: usize = std::str::from_utf8(head.strip_prefix(b"*")?)
        .ok()?
        .parse()
        .ok()?;
    let mut parts = Vec::with_capacity(n);
    for _ in 0..n {
        let (len, next) = line(buf, at)?;
        let len: usize = std::str::from_utf8(len.strip_prefix(b"$")?)
            .ok()?
            .parse()
            .ok()?;
        let data = buf.get(next..next + len)?;
        parts.push(data.to_vec());
        at = next + len + 2;
        if buf.len() < at {
            return None;
        }
    }
    Some((parts, at))
}

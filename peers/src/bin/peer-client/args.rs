//! The command line.

use connectrpc::{Codec, Protocol};

/// What one run tests.
#[derive(Debug)]
pub(crate) struct Args {
    /// The server's base URL (`--url`).
    pub(crate) url: http::Uri,
    /// `--protocol`.
    pub(crate) protocol: Protocol,
    /// `--codec`.
    pub(crate) codec: Codec,
    /// `--http 2` (h2c with prior knowledge) rather than `--http 1`.
    pub(crate) http2: bool,
    /// `--peer`: the server's name, in front of every case name.
    pub(crate) peer: Option<String>,
    /// `--extras`: run the cases for the peer servers' extras.
    pub(crate) extras: bool,
    /// `--h1-bidi-refused`: the server refuses bidi over HTTP/1.1.
    pub(crate) h1_bidi_refused: bool,
    /// `--filter`: run only the cases whose name contains this.
    pub(crate) filter: Option<String>,
}

/// The command line, for errors and `--help`.
pub(crate) const USAGE: &str = "usage: peer-client --url URL --protocol connect|grpc|grpc-web \
    --codec proto|json --http 1|2 [--peer NAME] [--extras] [--h1-bidi-refused] [--filter TEXT]";

/// Reads the command line.
pub(crate) fn parse_args() -> Result<Args, String> {
    let mut url = None;
    let mut protocol = None;
    let mut codec = None;
    let mut http2 = None;
    let mut peer = None;
    let mut extras = false;
    let mut h1_bidi_refused = false;
    let mut filter = None;
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        let mut value = || args.next().ok_or_else(|| format!("{arg} needs a value"));
        match arg.as_str() {
            "--url" => url = Some(value()?.parse().map_err(|e| format!("--url: {e}"))?),
            "--protocol" => {
                protocol = Some(match value()?.as_str() {
                    "connect" => Protocol::Connect,
                    "grpc" => Protocol::Grpc,
                    "grpc-web" => Protocol::GrpcWeb,
                    other => return Err(format!("unknown protocol {other:?}")),
                })
            }
            "--codec" => {
                codec = Some(match value()?.as_str() {
                    "proto" => Codec::Proto,
                    "json" => Codec::Json,
                    other => return Err(format!("unknown codec {other:?}")),
                })
            }
            "--http" => {
                http2 = Some(match value()?.as_str() {
                    "1" | "1.1" => false,
                    "2" => true,
                    other => return Err(format!("unknown HTTP version {other:?}")),
                })
            }
            "--peer" => peer = Some(value()?),
            "--filter" => filter = Some(value()?),
            "--extras" => extras = true,
            "--h1-bidi-refused" => h1_bidi_refused = true,
            "-h" | "--help" => return Err(USAGE.to_owned()),
            other => return Err(format!("unknown argument {other:?}\n{USAGE}")),
        }
    }
    let missing = |what: &str| format!("{what} is required\n{USAGE}");
    Ok(Args {
        url: url.ok_or_else(|| missing("--url"))?,
        protocol: protocol.ok_or_else(|| missing("--protocol"))?,
        codec: codec.ok_or_else(|| missing("--codec"))?,
        http2: http2.ok_or_else(|| missing("--http"))?,
        peer,
        extras,
        h1_bidi_refused,
        filter,
    })
}

//! The calls the soak makes, each with the one outcome it expects: `ok`, a
//! provoked error code (`not_found`, `deadline_exceeded`, `canceled`), or
//! `dropped` for a stream abandoned on purpose.

use std::time::Duration;

use connectrpc::{CallOptions, Channel, ConnectError};
use integration_tests::proto::test::v1::{ServerStreamRequest, TestServiceClient, UnaryRequest};

/// A small xorshift generator: the soak needs variety, not quality.
#[derive(Debug, Clone)]
pub(crate) struct Rng(u64);

impl Rng {
    pub(crate) fn new(seed: u64) -> Self {
        Self(seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1)
    }

    pub(crate) fn next(&mut self) -> u64 {
        let mut x = self.0;
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        self.0 = x;
        x
    }

    /// A number in `lo..hi` (`hi > lo`).
    pub(crate) fn range(&mut self, lo: u64, hi: u64) -> u64 {
        lo + self.next() % (hi - lo)
    }

    /// True once in `n`.
    pub(crate) fn one_in(&mut self, n: u64) -> bool {
        self.next().is_multiple_of(n)
    }
}

/// One kind of call.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub(crate) enum Scenario {
    Unary,
    UnaryError,
    UnaryDeadline,
    ServerStream,
    ServerStreamDeadline,
    ServerStreamCancel,
    ServerStreamDrop,
    ClientStream,
    ClientStreamDeadline,
    Bidi,
    BidiDeadline,
    BidiCancel,
    BidiDrop,
}

/// Every scenario with its weight in the mix.
const MIX: [(Scenario, u64); 13] = [
    (Scenario::Unary, 30),
    (Scenario::UnaryError, 4),
    (Scenario::UnaryDeadline, 4),
    (Scenario::ServerStream, 12),
    (Scenario::ServerStreamDeadline, 4),
    (Scenario::ServerStreamCancel, 3),
    (Scenario::ServerStreamDrop, 3),
    (Scenario::ClientStream, 10),
    (Scenario::ClientStreamDeadline, 3),
    (Scenario::Bidi, 10),
    (Scenario::BidiDeadline, 3),
    (Scenario::BidiCancel, 3),
    (Scenario::BidiDrop, 3),
];

impl Scenario {
    /// A scenario drawn according to the mix.
    pub(crate) fn pick(rng: &mut Rng) -> Self {
        let total: u64 = MIX.iter().map(|(_, w)| w).sum();
        let mut n = rng.range(0, total);
        for (s, w) in MIX {
            if n < w {
                return s;
            }
            n -= w;
        }
        Scenario::Unary
    }

    /// Its name in the report.
    pub(crate) fn name(self) -> &'static str {
        match self {
            Scenario::Unary => "unary",
            Scenario::UnaryError => "unary_error",
            Scenario::UnaryDeadline => "unary_deadline",
            Scenario::ServerStream => "server_stream",
            Scenario::ServerStreamDeadline => "server_stream_deadline",
            Scenario::ServerStreamCancel => "server_stream_cancel",
            Scenario::ServerStreamDrop => "server_stream_drop",
            Scenario::ClientStream => "client_stream",
            Scenario::ClientStreamDeadline => "client_stream_deadline",
            Scenario::Bidi => "bidi",
            Scenario::BidiDeadline => "bidi_deadline",
            Scenario::BidiCancel => "bidi_cancel",
            Scenario::BidiDrop => "bidi_drop",
        }
    }

    /// The one outcome that is not an error.
    pub(crate) fn expected(self) -> &'static str {
        match self {
            Scenario::Unary | Scenario::ServerStream | Scenario::ClientStream | Scenario::Bidi => {
                "ok"
            }
            Scenario::UnaryError => "not_found",
            Scenario::UnaryDeadline
            | Scenario::ServerStreamDeadline
            | Scenario::ClientStreamDeadline
            | Scenario::BidiDeadline => "deadline_exceeded",
            Scenario::ServerStreamCancel | Scenario::BidiCancel => "canceled",
            Scenario::ServerStreamDrop | Scenario::BidiDrop => "dropped",
        }
    }
}

/// How a call ended: a label (`ok`, a code, `dropped`, or what went wrong)
/// and, for anything but `ok`/`dropped`, a description.
#[derive(Debug)]
pub(crate) struct Outcome {
    pub(crate) label: String,
    pub(crate) detail: String,
}

impl Outcome {
    fn ok() -> Self {
        Self::new("ok", "")
    }

    fn new(label: &str, detail: impl Into<String>) -> Self {
        Self {
            label: label.to_owned(),
            detail: detail.into(),
        }
    }

    fn error(e: &ConnectError) -> Self {
        Self::new(&e.code().to_string(), e.to_string())
    }
}

impl From<ConnectError> for Outcome {
    fn from(e: ConnectError) -> Self {
        Outcome::error(&e)
    }
}

fn req(text: &str) -> UnaryRequest {
    UnaryRequest {
        text: text.to_owned(),
        ..Default::default()
    }
}

fn timeout(rng: &mut Rng, lo_ms: u64, hi_ms: u64) -> CallOptions {
    CallOptions::new().timeout(Duration::from_millis(rng.range(lo_ms, hi_ms)))
}

/// Runs one call of `scenario`; `http2` says whether the channel can
/// interleave a bidi stream's messages (HTTP/1.1 is half duplex).
pub(crate) async fn run<T: Channel>(
    scenario: Scenario,
    client: &TestServiceClient<T>,
    http2: bool,
    rng: &mut Rng,
) -> Outcome {
    let result = match scenario {
        Scenario::Unary => unary(client, rng).await,
        Scenario::UnaryError => {
            let r = UnaryRequest {
                fail_code: 5,
                ..req("e")
            };
            client.unary(&r).await.map(|_| Outcome::ok())
        }
        Scenario::UnaryDeadline => {
            let r = UnaryRequest {
                delay_ms: 400,
                ..req("d")
            };
            let options = timeout(rng, 30, 150);
            client
                .unary_with_options(&r, options)
                .await
                .map(|_| Outcome::ok())
        }
        Scenario::ServerStream => server_stream(client, rng).await,
        Scenario::ServerStreamDeadline
        | Scenario::ServerStreamCancel
        | Scenario::ServerStreamDrop => server_stream_cut(scenario, client, rng).await,
        Scenario::ClientStream => client_stream(client, rng).await,
        Scenario::ClientStreamDeadline => {
            let slow = futures_util::stream::unfold(0, |i| async move {
                if i == 20 {
                    return None;
                }
                tokio::time::sleep(Duration::from_millis(30)).await;
                Some((req("s"), i + 1))
            });
            let options = timeout(rng, 50, 150);
            client
                .client_stream_with_options(slow, options)
                .await
                .map(|_| Outcome::ok())
        }
        Scenario::Bidi => bidi(client, http2, rng).await,
        Scenario::BidiDeadline | Scenario::BidiCancel | Scenario::BidiDrop => {
            bidi_cut(scenario, client, http2, rng).await
        }
    };
    result.unwrap_or_else(Outcome::from)
}

async fn unary<T: Channel>(
    client: &TestServiceClient<T>,
    rng: &mut Rng,
) -> Result<Outcome, ConnectError> {
    let text = format!("u{}", rng.next() % 1000);
    let payload: Vec<u8> = (0..rng.range(0, 4096)).map(|i| i as u8).collect();
    let r = UnaryRequest {
        payload: payload.clone(),
        ..req(&text)
    };
    let reply = client.unary(&r).await?;
    let m = reply.message();
    if m.text != text || m.payload != payload {
        return Ok(Outcome::new(
            "wrong_answer",
            format!("unary echoed {:?}", m.text),
        ));
    }
    Ok(Outcome::ok())
}

async fn server_stream<T: Channel>(
    client: &TestServiceClient<T>,
    rng: &mut Rng,
) -> Result<Outcome, ConnectError> {
    let count = rng.range(0, 17) as i32;
    let r = ServerStreamRequest {
        text: "s".into(),
        count,
        ..Default::default()
    };
    let mut stream = client.server_stream(&r).await?;
    let mut seen = 0;
    while let Some(m) = stream.message().await {
        let m = m?;
        if m.count != i64::from(seen) {
            return Ok(Outcome::new(
                "wrong_answer",
                format!("message {seen}: {m:?}"),
            ));
        }
        seen += 1;
    }
    if seen != count {
        return Ok(Outcome::new("wrong_answer", format!("{seen} of {count}")));
    }
    Ok(Outcome::ok())
}

/// A long server stream that the deadline, `cancel`, or a drop cuts short.
async fn server_stream_cut<T: Channel>(
    scenario: Scenario,
    client: &TestServiceClient<T>,
    rng: &mut Rng,
) -> Result<Outcome, ConnectError> {
    let r = ServerStreamRequest {
        text: "c".into(),
        count: 1000,
        delay_ms: 5,
        ..Default::default()
    };
    let options = match scenario {
        Scenario::ServerStreamDeadline => timeout(rng, 30, 200),
        _ => CallOptions::new(),
    };
    let mut stream = client.server_stream_with_options(&r, options).await?;
    if scenario == Scenario::ServerStreamDeadline {
        while let Some(m) = stream.message().await {
            m?;
        }
        return Ok(Outcome::new("ended_ok", "a stream outlived its deadline"));
    }
    for _ in 0..rng.range(1, 4) {
        match stream.message().await {
            Some(m) => drop(m?),
            None => return Ok(Outcome::new("ended_ok", "a 1000-message stream ended")),
        }
    }
    if scenario == Scenario::ServerStreamDrop {
        drop(stream);
        return Ok(Outcome::new("dropped", ""));
    }
    stream.cancel();
    match stream.message().await {
        Some(Err(e)) => Ok(Outcome::error(&e)),
        Some(Ok(_)) => Ok(Outcome::new("message_after_cancel", "")),
        None => Ok(Outcome::new("ended_ok", "a canceled stream ended cleanly")),
    }
}

async fn client_stream<T: Channel>(
    client: &TestServiceClient<T>,
    rng: &mut Rng,
) -> Result<Outcome, ConnectError> {
    let n = rng.range(0, 9) as usize;
    let texts: Vec<String> = (0..n).map(|i| format!("{i}")).collect();
    let expected: String = texts.concat();
    let requests = futures_util::stream::iter(texts.into_iter().map(|t| req(&t)));
    let reply = client.client_stream(requests).await?;
    let m = reply.message();
    if m.count != n as i64 || m.text != expected {
        return Ok(Outcome::new("wrong_answer", format!("{m:?} for {n}")));
    }
    Ok(Outcome::ok())
}

async fn bidi<T: Channel>(
    client: &TestServiceClient<T>,
    http2: bool,
    rng: &mut Rng,
) -> Result<Outcome, ConnectError> {
    let texts: Vec<String> = (0..rng.range(1, 6)).map(|i| format!("b{i}")).collect();
    let mut stream = client.bidi().await?;
    let mut replies = Vec::new();
    if http2 {
        for t in &texts {
            stream.send(&req(t)).await?;
            match stream.message().await {
                Some(m) => replies.push(m?.text),
                None => return Ok(Outcome::new("wrong_answer", "bidi ended early")),
            }
        }
        stream.close_send();
    } else {
        for t in &texts {
            stream.send(&req(t)).await?;
        }
        stream.close_send();
    }
    while let Some(m) = stream.message().await {
        replies.push(m?.text);
    }
    let expected: Vec<String> = texts.iter().map(|t| t.to_uppercase()).collect();
    if replies != expected {
        return Ok(Outcome::new("wrong_answer", format!("bidi {replies:?}")));
    }
    Ok(Outcome::ok())
}

/// A bidi stream left open that the deadline, `cancel`, or a drop ends.
async fn bidi_cut<T: Channel>(
    scenario: Scenario,
    client: &TestServiceClient<T>,
    http2: bool,
    rng: &mut Rng,
) -> Result<Outcome, ConnectError> {
    let options = match scenario {
        Scenario::BidiDeadline => timeout(rng, 30, 200),
        _ => CallOptions::new(),
    };
    let mut stream = client.bidi_with_options(options).await?;
    stream.send(&req("x")).await?;
    if http2 {
        match stream.message().await {
            Some(m) => drop(m?),
            None => return Ok(Outcome::new("ended_ok", "an open bidi stream ended")),
        }
    }
    match scenario {
        Scenario::BidiDrop => {
            drop(stream);
            Ok(Outcome::new("dropped", ""))
        }
        Scenario::BidiCancel => {
            stream.cancel();
            loop {
                match stream.message().await {
                    Some(Err(e)) => return Ok(Outcome::error(&e)),
                    Some(Ok(_)) => continue,
                    None => return Ok(Outcome::new("ended_ok", "a canceled bidi ended")),
                }
            }
        }
        _ => loop {
            match stream.message().await {
                Some(Err(e)) => return Ok(Outcome::error(&e)),
                Some(Ok(_)) => continue,
                None => return Ok(Outcome::new("ended_ok", "a bidi outlived its deadline")),
            }
        },
    }
}

//! The one content-type table of the three protocols: what each side
//! writes, how a value is parsed, and which protocol a request speaks.
//!
//! Every other place that looks at a content type — the server's and the
//! client's negotiation, the client's reading of an answer, the router's
//! protocol detection — asks this module.
//!
//! | family | written | codec |
//! | --- | --- | --- |
//! | Connect unary | `application/<codec>` | `proto`, `json` (`; charset=utf-8`) |
//! | Connect streaming | `application/connect+<codec>` | `proto`, `json` |
//! | gRPC | `application/grpc[+<codec>]` | bare means `proto` |
//! | gRPC-Web | `application/grpc-web[+<codec>]` | bare means `proto` |
//! | gRPC-Web text | `application/grpc-web-text[+<codec>]` | bare means `proto` |
//!
//! ```
//! use connect_core::{Codec, Protocol, StreamType};
//! use connect_layers::protocol::content_type::{self, Family};
//!
//! let ct = content_type::parse(b"application/grpc-web-text+json; x=y").unwrap();
//! assert_eq!(ct.family, Family::GrpcWebText);
//! assert_eq!(ct.codec(), Some(Codec::Json));
//! assert_eq!(content_type::detect(Some(b"application/grpc")), Protocol::Grpc);
//! assert_eq!(
//!     content_type::request(Protocol::Connect, Codec::Json, StreamType::Unary, false),
//!     "application/json",
//! );
//! ```

use connect_core::{Codec, Protocol, StreamType};

/// The shape of a content type: which protocol and framing it names.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Family {
    /// `application/<codec>`: a Connect unary body.
    ConnectUnary,
    /// `application/connect+<codec>`: Connect streaming envelopes.
    ConnectStream,
    /// `application/grpc[+<codec>]`.
    Grpc,
    /// `application/grpc-web[+<codec>]`.
    GrpcWeb,
    /// `application/grpc-web-text[+<codec>]`: gRPC-Web in base64.
    GrpcWebText,
}

impl Family {
    /// The protocol this family belongs to.
    pub fn protocol(self) -> Protocol {
        match self {
            Family::ConnectUnary | Family::ConnectStream => Protocol::Connect,
            Family::Grpc => Protocol::Grpc,
            Family::GrpcWeb | Family::GrpcWebText => Protocol::GrpcWeb,
        }
    }

    /// Whether messages travel in envelopes (all but Connect unary).
    pub fn enveloped(self) -> bool {
        self != Family::ConnectUnary
    }

    /// The family a call of `protocol` and `stream_type` writes.
    pub fn of(protocol: Protocol, stream_type: StreamType, web_text: bool) -> Family {
        match protocol {
            Protocol::Connect if stream_type == StreamType::Unary => Family::ConnectUnary,
            Protocol::Connect => Family::ConnectStream,
            Protocol::Grpc => Family::Grpc,
            _ if web_text => Family::GrpcWebText,
            _ => Family::GrpcWeb,
        }
    }
}

/// A parsed content type.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ContentType<'a> {
    /// Protocol and framing.
    pub family: Family,
    /// The codec as written (`""` when a gRPC family leaves it implicit).
    /// For the Connect families it is whatever follows the prefix.
    pub codec_name: &'a str,
    /// The parameters after the first `;`, untrimmed (`""` if none).
    pub params: &'a str,
    /// Whether the value is well formed for its family: a gRPC family's
    /// codec is absent or follows a `+` (`application/grpc-webby` is not).
    pub well_formed: bool,
    /// Whether a gRPC family left the codec implicit (`application/grpc`,
    /// `application/grpc-web`: proto): the answer echoes that spelling.
    pub implicit_codec: bool,
}

impl ContentType<'_> {
    /// The codec, if it is one we speak: a gRPC family's implicit codec is
    /// proto.
    pub fn codec(&self) -> Option<Codec> {
        if !self.well_formed {
            return None;
        }
        if self.implicit_codec {
            return Some(Codec::Proto);
        }
        Codec::from_name_ignore_case(self.codec_name)
    }
}

fn strip_prefix_ignore_case<'a>(s: &'a str, prefix: &str) -> Option<&'a str> {
    // `get`, not indexing: `prefix.len()` may fall inside a multi-byte char.
    let head = s.get(..prefix.len())?;
    if head.eq_ignore_ascii_case(prefix) {
        s.get(prefix.len()..)
    } else {
        None
    }
}

/// Parses a content type; `None` if it is not `application/…` or not
/// UTF-8.
///
/// `application/grpc` followed by anything but `+`, `;`, a space or the
/// end (`application/grpcx`) is the Connect unary codec `grpcx`, as
/// [`detect`] sees it.
pub fn parse(value: &[u8]) -> Option<ContentType<'_>> {
    let value = std::str::from_utf8(value).ok()?;
    let (media, params) = match value.split_once(';') {
        Some((m, p)) => (m.trim(), p),
        None => (value.trim(), ""),
    };
    let rest = strip_prefix_ignore_case(media, "application/")?;
    fn grpc(rest: &str) -> Option<(Family, &str)> {
        let after = strip_prefix_ignore_case(rest, "grpc")?;
        let (family, after) = if let Some(a) = strip_prefix_ignore_case(after, "-web-text") {
            (Family::GrpcWebText, a)
        } else if let Some(a) = strip_prefix_ignore_case(after, "-web") {
            (Family::GrpcWeb, a)
        } else if after.is_empty() || after.starts_with('+') {
            (Family::Grpc, after)
        } else {
            return None;
        };
        Some((family, after))
    }
    if let Some((family, after)) = grpc(rest) {
        let (codec_name, well_formed) = match after {
            "" => ("", true),
            a => match a.strip_prefix('+') {
                Some(c) => (c, true),
                None => (a, false),
            },
        };
        return Some(ContentType {
            family,
            codec_name,
            params,
            well_formed,
            implicit_codec: after.is_empty(),
        });
    }
    let (family, codec_name) = match strip_prefix_ignore_case(rest, "connect+") {
        Some(c) => (Family::ConnectStream, c),
        None => (Family::ConnectUnary, rest),
    };
    Some(ContentType {
        family,
        codec_name,
        params,
        well_formed: true,
        implicit_codec: false,
    })
}

/// Which protocol a request speaks, from its content type alone: gRPC-Web
/// for `application/grpc-web…`, gRPC for `application/grpc[+…|;…]`,
/// Connect otherwise (a missing content type included: the Connect stack
/// answers it).
pub fn detect(content_type: Option<&[u8]>) -> Protocol {
    let Some(ct) = content_type else {
        return Protocol::Connect;
    };
    let starts =
        |prefix: &[u8]| ct.len() >= prefix.len() && ct[..prefix.len()].eq_ignore_ascii_case(prefix);
    if starts(b"application/grpc-web") {
        Protocol::GrpcWeb
    } else if starts(b"application/grpc")
        && matches!(
            ct.get(b"application/grpc".len()),
            None | Some(b'+' | b';' | b' ')
        )
    {
        Protocol::Grpc
    } else {
        Protocol::Connect
    }
}

/// The content type a client writes for a call.
///
/// ```
/// use connect_core::{Codec, Protocol, StreamType};
/// use connect_layers::protocol::content_type::request;
///
/// assert_eq!(request(Protocol::Grpc, Codec::Proto, StreamType::Unary, false), "application/grpc");
/// assert_eq!(
///     request(Protocol::GrpcWeb, Codec::Proto, StreamType::BidiStream, true),
///     "application/grpc-web-text+proto",
/// );
/// ```
pub fn request(
    protocol: Protocol,
    codec: Codec,
    stream_type: StreamType,
    web_text: bool,
) -> &'static str {
    let json = codec == Codec::Json;
    match Family::of(protocol, stream_type, web_text) {
        Family::ConnectUnary if json => "application/json",
        Family::ConnectUnary => "application/proto",
        Family::ConnectStream if json => "application/connect+json",
        Family::ConnectStream => "application/connect+proto",
        Family::Grpc if json => "application/grpc+json",
        Family::Grpc => "application/grpc",
        Family::GrpcWebText if json => "application/grpc-web-text+json",
        Family::GrpcWebText => "application/grpc-web-text+proto",
        Family::GrpcWeb if json => "application/grpc-web+json",
        Family::GrpcWeb => "application/grpc-web+proto",
    }
}

/// The content types a server answers with, indexed by [`response_index`].
pub(crate) const RESPONSE: [&str; 10] = [
    "application/json",
    "application/proto",
    "application/connect+json",
    "application/connect+proto",
    "application/grpc",
    "application/grpc-web",
    "application/grpc+json",
    "application/grpc+proto",
    "application/grpc-web+json",
    "application/grpc-web+proto",
];

/// Which of [`RESPONSE`] a server answers a call with: the request's
/// family and codec, echoing an implicit gRPC codec's spelling (gRPC-Web
/// text is answered in binary spelling; the text layer rewrites it).
pub(crate) fn response_index(
    protocol: Protocol,
    enveloped: bool,
    codec: Codec,
    implicit_codec: bool,
) -> usize {
    match (protocol, enveloped, codec) {
        (Protocol::Connect, false, Codec::Json) => 0,
        (Protocol::Connect, false, _) => 1,
        (Protocol::Connect, true, Codec::Json) => 2,
        (Protocol::Connect, true, _) => 3,
        (Protocol::Grpc, _, Codec::Proto) if implicit_codec => 4,
        (Protocol::GrpcWeb, _, Codec::Proto) if implicit_codec => 5,
        (Protocol::Grpc, _, Codec::Json) => 6,
        (Protocol::Grpc, _, _) => 7,
        (_, _, Codec::Json) => 8,
        (_, _, _) => 9,
    }
}

/// What `Accept-Post` lists when a request's content type is refused.
pub fn accepted(protocol: Protocol, stream_type: StreamType) -> &'static str {
    match Family::of(protocol, stream_type, false) {
        Family::ConnectUnary => {
            "application/json, application/json; charset=utf-8, application/proto"
        }
        Family::ConnectStream => "application/connect+json, application/connect+proto",
        Family::Grpc => "application/grpc, application/grpc+json, application/grpc+proto",
        Family::GrpcWeb | Family::GrpcWebText => {
            "application/grpc-web, application/grpc-web+json, application/grpc-web+proto, \
             application/grpc-web-text, application/grpc-web-text+proto"
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn what_a_client_writes_parses_back_to_its_family_and_codec() {
        for protocol in [Protocol::Connect, Protocol::Grpc, Protocol::GrpcWeb] {
            for codec in [Codec::Proto, Codec::Json] {
                for st in [StreamType::Unary, StreamType::BidiStream] {
                    for web_text in [false, true] {
                        let written = request(protocol, codec, st, web_text);
                        let ct = parse(written.as_bytes()).unwrap();
                        assert_eq!(ct.family, Family::of(protocol, st, web_text), "{written}");
                        assert_eq!(ct.codec(), Some(codec), "{written}");
                        assert_eq!(detect(Some(written.as_bytes())), protocol, "{written}");
                    }
                }
            }
        }
    }

    #[test]
    fn what_a_server_answers_parses_back() {
        for (i, written) in RESPONSE.iter().enumerate() {
            let ct = parse(written.as_bytes()).unwrap();
            let codec = ct.codec().unwrap();
            let idx = response_index(
                ct.family.protocol(),
                ct.family.enveloped(),
                codec,
                ct.implicit_codec,
            );
            assert_eq!(idx, i, "{written}");
        }
    }

    #[test]
    fn odd_spellings() {
        let ct = parse(b"APPLICATION/GRPC-WEB-TEXT").unwrap();
        assert_eq!(ct.family, Family::GrpcWebText);
        assert!(ct.implicit_codec);
        assert_eq!(parse(b"application/grpc+").unwrap().codec(), None);
        let ct = parse(b"application/grpcx").unwrap();
        assert_eq!((ct.family, ct.codec_name), (Family::ConnectUnary, "grpcx"));
        assert_eq!(detect(Some(b"application/grpcx")), Protocol::Connect);
        let ct = parse(b"application/grpc-webby").unwrap();
        assert_eq!(ct.family, Family::GrpcWeb);
        assert!(!ct.well_formed);
        assert_eq!(ct.codec(), None);
        let ct = parse(b"application/json; charset=utf-8").unwrap();
        assert_eq!(ct.params.trim(), "charset=utf-8");
        assert_eq!(parse(b"text/html"), None);
        assert_eq!(parse(b"application/\xff"), None);
        // A multi-byte character at a prefix boundary is not a panic.
        assert!(parse("application/grpc\u{e9}".as_bytes()).is_some());
        assert_eq!(detect(None), Protocol::Connect);
    }
}

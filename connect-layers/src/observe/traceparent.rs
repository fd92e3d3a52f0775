//! The W3C Trace Context `traceparent` header
//! (<https://www.w3.org/TR/trace-context/#traceparent-header>), parsed
//! strictly: anything malformed is ignored, as the recommendation asks.

use std::fmt;

use http::HeaderMap;

/// The `traceparent` request header.
pub const TRACEPARENT: &str = "traceparent";
/// The `tracestate` request header, passed on only with a valid
/// `traceparent`.
pub const TRACESTATE: &str = "tracestate";

/// The longest `tracestate` passed on (32 members of at most 256 bytes
/// would be more, but the recommendation lets a vendor cut at 512).
const TRACESTATE_MAX: usize = 512;

/// A parsed W3C `traceparent`: the caller's trace, its span (our parent)
/// and its flags.
///
/// ```
/// use connect_layers::observe::TraceParent;
///
/// let tp = TraceParent::parse("00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01").unwrap();
/// assert_eq!(tp.trace_id(), 0x4bf92f3577b34da6a3ce929d0e0e4736);
/// assert_eq!(tp.parent_id(), 0x00f067aa0ba902b7);
/// assert!(tp.sampled());
/// assert_eq!(tp.to_string(), "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01");
///
/// // Malformed values are refused, never guessed at.
/// assert!(TraceParent::parse("00-4BF92F3577B34DA6A3CE929D0E0E4736-00f067aa0ba902b7-01").is_none());
/// assert!(TraceParent::parse("00-00000000000000000000000000000000-00f067aa0ba902b7-01").is_none());
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct TraceParent {
    trace_id: u128,
    parent_id: u64,
    flags: u8,
}

/// Parses exactly `N` lowercase hex digits.
fn hex<const N: usize>(s: &[u8]) -> Option<u128> {
    if s.len() != N {
        return None;
    }
    s.iter().try_fold(0u128, |acc, &b| {
        let d = match b {
            b'0'..=b'9' => b - b'0',
            b'a'..=b'f' => b - b'a' + 10,
            _ => return None,
        };
        Some(acc << 4 | u128::from(d))
    })
}

impl TraceParent {
    /// A traceparent for `trace_id` and `parent_id` (both non-zero) with
    /// `flags` (bit 0: sampled).
    pub fn new(trace_id: u128, parent_id: u64, flags: u8) -> Option<Self> {
        (trace_id != 0 && parent_id != 0).then_some(TraceParent {
            trace_id,
            parent_id,
            flags,
        })
    }

    /// Parses a header value. Version `00` must be exactly 55 characters;
    /// a later version may append fields after a `-`; version `ff`, upper
    /// case hex and all-zero ids are invalid.
    pub fn parse(value: &str) -> Option<Self> {
        let b = value.as_bytes();
        if b.len() < 55 || b[2] != b'-' || b[35] != b'-' || b[52] != b'-' {
            return None;
        }
        let version = hex::<2>(&b[..2])?;
        match version {
            0xff => return None,
            0 if b.len() != 55 => return None,
            _ if b.len() > 55 && b[55] != b'-' => return None,
            _ => {}
        }
        let trace_id = hex::<32>(&b[3..35])?;
        let parent_id = u64::try_from(hex::<16>(&b[36..52])?).ok()?;
        let flags = u8::try_from(hex::<2>(&b[53..55])?).ok()?;
        TraceParent::new(trace_id, parent_id, flags)
    }

    /// The request's traceparent, if it has exactly one well-formed
    /// `traceparent` header (several are invalid).
    pub fn from_headers(headers: &HeaderMap) -> Option<Self> {
        let mut values = headers.get_all(TRACEPARENT).iter();
        let value = values.next()?;
        if values.next().is_some() {
            return None;
        }
        Self::parse(value.to_str().ok()?)
    }

    /// The trace id (128 bits, never zero).
    pub fn trace_id(&self) -> u128 {
        self.trace_id
    }

    /// The caller's span id, the parent of ours (never zero).
    pub fn parent_id(&self) -> u64 {
        self.parent_id
    }

    /// The trace flags.
    pub fn flags(&self) -> u8 {
        self.flags
    }

    /// Whether the caller sampled the trace (flag bit 0).
    pub fn sampled(&self) -> bool {
        self.flags & 1 == 1
    }
}

/// Writes the version `00` header value.
impl fmt::Display for TraceParent {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "00-{:032x}-{:016x}-{:02x}",
            self.trace_id, self.parent_id, self.flags
        )
    }
}

/// The request's `tracestate`, if it has exactly one, of printable ASCII
/// and at most 512 bytes; otherwise nothing is passed on.
pub fn tracestate(headers: &HeaderMap) -> Option<&str> {
    let mut values = headers.get_all(TRACESTATE).iter();
    let value = values.next()?;
    if values.next().is_some() || value.len() > TRACESTATE_MAX {
        return None;
    }
    let s = value.to_str().ok()?;
    s.bytes().all(|b| (0x20..0x7f).contains(&b)).then_some(s)
}

#[cfg(test)]
mod tests {
    use super::*;

    const GOOD: &str = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";

    #[test]
    fn parses_and_formats_version_00() {
        let tp = TraceParent::parse(GOOD).unwrap();
        assert_eq!(tp.to_string(), GOOD);
        assert_eq!(tp.flags(), 1);
    }

    #[test]
    fn later_versions_may_append_fields() {
        let v = "01-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-00-extra";
        let tp = TraceParent::parse(v).unwrap();
        assert!(!tp.sampled());
        assert!(TraceParent::parse(&v.replace("-extra", "xextra")).is_none());
    }

    #[test]
    fn malformed_values_are_refused() {
        let bad = [
            "",
            "00",
            "garbage",
            &GOOD[..54],
            &format!("{GOOD}-"),
            &GOOD.replace("00-4b", "ff-4b"),
            &GOOD.replace("00-4b", "0g-4b"),
            &GOOD.replace('-', "_"),
            "00-00000000000000000000000000000000-00f067aa0ba902b7-01",
            "00-4bf92f3577b34da6a3ce929d0e0e4736-0000000000000000-01",
            "00-4bf92f3577b34da6a3ce929d0e0e473g-00f067aa0ba902b7-01",
            "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-1x",
            "00-+bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
            "00-4bf92f3577b34da6a3ce929d0e0e4736-00F067AA0BA902B7-01",
        ];
        for v in bad {
            assert_eq!(TraceParent::parse(v), None, "{v:?}");
        }
    }

    #[test]
    fn headers_need_exactly_one_value() {
        let mut h = HeaderMap::new();
        assert_eq!(TraceParent::from_headers(&h), None);
        h.append(TRACEPARENT, GOOD.parse().unwrap());
        assert!(TraceParent::from_headers(&h).is_some());
        h.append(TRACEPARENT, GOOD.parse().unwrap());
        assert_eq!(TraceParent::from_headers(&h), None);
        let mut h = HeaderMap::new();
        h.insert(
            TRACEPARENT,
            http::HeaderValue::from_bytes(b"\xff\xfe").unwrap(),
        );
        assert_eq!(TraceParent::from_headers(&h), None);
    }

    proptest::proptest! {
        #[test]
        fn any_input_parses_or_is_refused(s in "\\PC{0,80}", b in proptest::collection::vec(proptest::num::u8::ANY, 0..80)) {
            let _ = TraceParent::parse(&s);
            let _ = TraceParent::parse(&String::from_utf8_lossy(&b));
        }

        #[test]
        fn near_misses_are_refused(i in 0usize..55, c in proptest::char::range(' ', '~')) {
            let mut v: Vec<char> = GOOD.chars().collect();
            let was = v[i];
            v[i] = c;
            let s: String = v.into_iter().collect();
            let hex_for_hex = was.is_ascii_hexdigit() && (c.is_ascii_digit() || ('a'..='f').contains(&c));
            if !hex_for_hex && c != was {
                proptest::prop_assert_eq!(TraceParent::parse(&s), None, "{}", s);
            }
        }

        #[test]
        fn formatting_round_trips(t in 1u128.., p in 1u64.., f: u8) {
            let tp = TraceParent::new(t, p, f).unwrap();
            proptest::prop_assert_eq!(TraceParent::parse(&tp.to_string()), Some(tp));
        }
    }

    #[test]
    fn tracestate_is_bounded_and_printable() {
        let mut h = HeaderMap::new();
        h.insert(TRACESTATE, "congo=t61rcWkgMzE".parse().unwrap());
        assert_eq!(tracestate(&h), Some("congo=t61rcWkgMzE"));
        h.insert(TRACESTATE, "a=".repeat(300).parse().unwrap());
        assert_eq!(tracestate(&h), None);
        h.insert(TRACESTATE, http::HeaderValue::from_bytes(b"a=\tb").unwrap());
        assert_eq!(tracestate(&h), None);
    }
}

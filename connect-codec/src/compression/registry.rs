//! The set of encodings a server or client accepts.

use std::io::Read;
use std::sync::Arc;

use bytes::{Bytes, BytesMut};
use connect_core::{Code, ConnectError};

use super::{CompressionProvider, IDENTITY};

/// The compression algorithms on offer, in order of preference.
///
/// [`new()`](Self::new) (also the `Default`) holds gzip and zstd when their
/// (default) features are on; [`all()`](Self::all) adds the opt-in br,
/// deflate and snappy whose features are on. Add your own with
/// [`with`](Self::with). Cheap to clone. See the module docs for an example.
///
/// Why two constructors: cargo unifies features across a build, so a
/// dependency turning on `br` must not change what an unrelated server or
/// client advertises. The opt-in encodings are compiled by their feature
/// and offered only where a registry asks for them.
#[derive(Clone, Debug)]
pub struct CompressionRegistry {
    providers: Arc<[Arc<dyn CompressionProvider>]>,
    accept: Arc<str>,
}

impl Default for CompressionRegistry {
    fn default() -> Self {
        Self::new()
    }
}

impl CompressionRegistry {
    /// The default encodings: gzip and zstd, when their features are on
    /// (they are by default).
    pub fn new() -> Self {
        let providers: Vec<Arc<dyn CompressionProvider>> = vec![
            #[cfg(feature = "gzip")]
            Arc::new(super::Gzip::new()),
            #[cfg(feature = "zstd")]
            Arc::new(super::Zstd::new()),
        ];
        Self::from_providers(providers)
    }

    /// Every built-in encoding compiled in, in order of preference: gzip
    /// and zstd, then br, deflate and snappy (opt-in features of the same
    /// names).
    ///
    /// ```
    /// use connect_codec::compression::CompressionRegistry;
    ///
    /// let all = CompressionRegistry::all();
    /// assert!(all.accept_encoding().starts_with(CompressionRegistry::new().accept_encoding()));
    /// # #[cfg(all(feature = "gzip", feature = "zstd", feature = "br", feature = "deflate", feature = "snappy"))]
    /// assert_eq!(all.accept_encoding(), "gzip,zstd,br,deflate,snappy");
    /// ```
    pub fn all() -> Self {
        #[allow(unused_mut)]
        let mut registry = Self::new();
        #[cfg(feature = "br")]
        {
            registry = registry.with(super::Brotli::new());
        }
        #[cfg(feature = "deflate")]
        {
            registry = registry.with(super::Deflate::new());
        }
        #[cfg(feature = "snappy")]
        {
            registry = registry.with(super::Snappy::new());
        }
        registry
    }

    /// A registry with no compression at all (identity only).
    pub fn empty() -> Self {
        Self::from_providers(Vec::new())
    }

    fn from_providers(providers: Vec<Arc<dyn CompressionProvider>>) -> Self {
        let accept = providers
            .iter()
            .map(|p| p.name())
            .collect::<Vec<_>>()
            .join(",");
        CompressionRegistry {
            providers: providers.into(),
            accept: accept.into(),
        }
    }

    /// Adds (or replaces, by name) a provider.
    pub fn with(self, provider: impl CompressionProvider) -> Self {
        let name = provider.name();
        let mut providers: Vec<_> = self
            .providers
            .iter()
            .filter(|p| p.name() != name)
            .cloned()
            .collect();
        providers.push(Arc::new(provider));
        Self::from_providers(providers)
    }

    /// Removes a provider by name.
    pub fn without(self, name: &str) -> Self {
        let providers = self
            .providers
            .iter()
            .filter(|p| p.name() != name)
            .cloned()
            .collect();
        Self::from_providers(providers)
    }

    /// The provider for `name`; `None` for unknown names and for identity.
    pub fn get(&self, name: &str) -> Option<&Arc<dyn CompressionProvider>> {
        self.providers.iter().find(|p| p.name() == name)
    }

    /// Whether `name` can be decoded (identity always can).
    pub fn supports(&self, name: &str) -> bool {
        name == IDENTITY || self.get(name).is_some()
    }

    /// The names on offer, comma-separated, for `accept-encoding`-style
    /// headers.
    pub fn accept_encoding(&self) -> &str {
        &self.accept
    }

    /// The first encoding in a peer's comma-separated `accept` list that we
    /// support (identity is never chosen: it needs no header).
    pub fn negotiate<'a>(&self, accept: impl Iterator<Item = &'a [u8]>) -> Option<&'static str> {
        for value in accept {
            let Ok(value) = std::str::from_utf8(value) else {
                continue;
            };
            for token in value.split(',') {
                let name = token.split(';').next().unwrap_or("").trim();
                if let Some(p) = self.get(name) {
                    return Some(p.name());
                }
            }
        }
        None
    }

    /// Compresses `input` with the named encoding.
    pub fn compress(&self, name: &str, input: &[u8]) -> Result<Bytes, ConnectError> {
        let provider = self.get(name).ok_or_else(|| self.unsupported(name))?;
        let mut out = BytesMut::with_capacity(input.len() / 2 + 64);
        provider
            .compress(input, &mut out)
            .map_err(|e| ConnectError::internal(format!("{name} compression failed: {e}")))?;
        Ok(out.freeze())
    }

    /// Decompresses `input`, failing with `resource_exhausted` as soon as
    /// the output would exceed `limit` bytes and with `invalid_argument` if
    /// the input is not valid for the encoding.
    pub fn decompress(
        &self,
        name: &str,
        input: &[u8],
        limit: usize,
    ) -> Result<Bytes, ConnectError> {
        let provider = self.get(name).ok_or_else(|| self.unsupported(name))?;
        let mut out = Vec::with_capacity(input.len().saturating_mul(2).min(limit).min(64 * 1024));
        let mut reader = provider
            .decompressor(input)
            .take((limit as u64).saturating_add(1));
        reader.read_to_end(&mut out).map_err(|e| {
            ConnectError::invalid_argument(format!("failed to decompress {name} data: {e}"))
        })?;
        if out.len() > limit {
            return Err(ConnectError::resource_exhausted(format!(
                "decompressed message is larger than configured max {limit}"
            )));
        }
        Ok(Bytes::from(out))
    }

    /// The error for a request in an encoding we do not support.
    pub fn unsupported(&self, name: &str) -> ConnectError {
        let supported = if self.accept.is_empty() {
            IDENTITY.to_owned()
        } else {
            format!("{},{IDENTITY}", self.accept)
        };
        ConnectError::new(
            Code::Unimplemented,
            format!("unknown compression {name:?}: supported encodings are {supported}"),
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    #[cfg(all(feature = "gzip", feature = "zstd"))]
    fn round_trips_each_builtin() {
        let reg = CompressionRegistry::new();
        let data = b"hello hello hello hello".repeat(100);
        for name in ["gzip", "zstd"] {
            let packed = reg.compress(name, &data).unwrap();
            assert!(packed.len() < data.len());
            assert_eq!(
                reg.decompress(name, &packed, data.len()).unwrap(),
                &data[..]
            );
        }
    }

    #[test]
    #[cfg(all(feature = "gzip", feature = "zstd"))]
    fn bombs_stop_at_the_limit() {
        let reg = CompressionRegistry::new();
        let zeros = vec![0u8; 64 * 1024 * 1024];
        for name in ["gzip", "zstd"] {
            let bomb = reg.compress(name, &zeros).unwrap();
            assert!(
                bomb.len() < 200 * 1024,
                "{name} bomb is {} bytes",
                bomb.len()
            );
            let err = reg.decompress(name, &bomb, 1024 * 1024).unwrap_err();
            assert_eq!(err.code(), Code::ResourceExhausted);
        }
    }

    #[test]
    #[cfg(feature = "gzip")]
    fn garbage_is_invalid_argument() {
        let reg = CompressionRegistry::new();
        let err = reg.decompress("gzip", b"not gzip at all", 100).unwrap_err();
        assert_eq!(err.code(), Code::InvalidArgument);
    }

    #[test]
    fn negotiation_and_unsupported() {
        let reg = CompressionRegistry::new();
        let accept = [&b"lz4, zstd;q=0.5"[..], b"gzip"];
        let chosen = reg.negotiate(accept.iter().copied());
        #[cfg(feature = "zstd")]
        assert_eq!(chosen, Some("zstd"));
        let _ = chosen;
        assert!(reg.supports("identity"));
        assert!(!reg.supports("lz4"));
        let err = reg.unsupported("lz4");
        assert_eq!(err.code(), Code::Unimplemented);
        assert!(err.message().contains("identity"));
        assert_eq!(CompressionRegistry::empty().accept_encoding(), "");
    }
}

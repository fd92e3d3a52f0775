//! The set of encodings a server or client accepts.

use std::fmt;
use std::sync::Arc;

use bytes::{Bytes, BytesMut};
use connect_core::{Code, ConnectError};

use super::{CompressionProvider, IDENTITY};

/// The compression algorithms on offer, in order of preference.
///
/// [`new()`](Self::new) (also the `Default`) holds gzip and zstd when their
/// (default) features are on; [`all()`](Self::all) adds the opt-in br,
/// deflate and snappy whose features are on. Add your own with
/// [`with`](Self::with) (or [`register`](Self::register), its name in the
/// original `connectrpc` crate). Cheap to clone. See the module docs for an
/// example.
///
/// Why two constructors: cargo unifies features across a build, so a
/// dependency turning on `br` must not change what an unrelated server or
/// client advertises. The opt-in encodings are compiled by their feature
/// and offered only where a registry asks for them.
#[derive(Clone)]
pub struct CompressionRegistry {
    providers: Arc<[Arc<dyn CompressionProvider>]>,
    accept: Arc<str>,
}

impl fmt::Debug for CompressionRegistry {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CompressionRegistry")
            .field("encodings", &&*self.accept)
            .finish()
    }
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

    /// Adds (or replaces, by name) a provider: [`with`](Self::with) under
    /// the name the original `connectrpc` crate uses.
    ///
    /// ```
    /// use connect_codec::compression::CompressionRegistry;
    /// # #[cfg(feature = "gzip")]
    /// let registry = CompressionRegistry::empty().register(connect_codec::compression::Gzip::new());
    /// # #[cfg(feature = "gzip")]
    /// assert_eq!(registry.accept_encoding(), "gzip");
    /// ```
    pub fn register(self, provider: impl CompressionProvider) -> Self {
        self.with(provider)
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
        provider.compress_into(input, &mut out)?;
        Ok(out.freeze())
    }

    /// Decompresses `input`, failing with `resource_exhausted` as soon as
    /// the output would exceed `limit` bytes and with `invalid_argument` if
    /// the input is not valid for the encoding. The registry reads the
    /// provider's [`decompressor`](CompressionProvider::decompressor)
    /// itself, so the bound holds for every provider, yours included.
    pub fn decompress(
        &self,
        name: &str,
        input: &[u8],
        limit: usize,
    ) -> Result<Bytes, ConnectError> {
        let provider = self.get(name).ok_or_else(|| self.unsupported(name))?;
        // Read here, not through the provider's `decompress_with_limit`: the
        // bound holds whatever a provider overrides.
        super::read_bounded(name, provider.decompressor(input)?, input.len(), limit)
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

    /// A provider written in the original crate's form: `compress` answers
    /// `Bytes`, `decompressor` a fallible reader; this one expands each
    /// input byte into 1,000 copies.
    struct Inflate;

    impl CompressionProvider for Inflate {
        fn name(&self) -> &'static str {
            "x-inflate"
        }
        fn compress(&self, data: &[u8]) -> Result<Bytes, ConnectError> {
            Ok(Bytes::copy_from_slice(data))
        }
        fn decompressor<'a>(
            &self,
            data: &'a [u8],
        ) -> Result<Box<dyn std::io::Read + 'a>, ConnectError> {
            if data.first() == Some(&0xff) {
                return Err(ConnectError::new(Code::DataLoss, "bad header"));
            }
            let expanded = data.iter().flat_map(|&b| std::iter::repeat_n(b, 1000));
            Ok(Box::new(std::io::Cursor::new(
                expanded.collect::<Vec<u8>>(),
            )))
        }
        // An override that ignores the limit: the registry must not use it.
        fn decompress_with_limit(&self, data: &[u8], _: usize) -> Result<Bytes, ConnectError> {
            Ok(Bytes::from(vec![0; data.len() * 1000]))
        }
    }

    #[test]
    fn user_providers_in_the_documented_form_are_bounded() {
        let reg = CompressionRegistry::empty().register(Inflate);
        assert_eq!(reg.accept_encoding(), "x-inflate");
        assert_eq!(&reg.compress("x-inflate", b"ab").unwrap()[..], b"ab");
        let out = reg.decompress("x-inflate", b"ab", 2000).unwrap();
        assert_eq!(out.len(), 2000);
        // 3 bytes expand to 3,000: past the limit, refused while reading.
        let err = reg.decompress("x-inflate", b"abc", 2999).unwrap_err();
        assert_eq!(err.code(), Code::ResourceExhausted);
        // The provider's own errors come through as it made them.
        let err = reg.decompress("x-inflate", &[0xff], 10).unwrap_err();
        assert_eq!(err.code(), Code::DataLoss);
        // The trait's default compress_into copies compress's output.
        let mut out = BytesMut::from(&b"prefix:"[..]);
        Inflate.compress_into(b"xy", &mut out).unwrap();
        assert_eq!(&out[..], b"prefix:xy");
        assert!(format!("{reg:?}").contains("x-inflate"));
    }

    #[test]
    #[cfg(feature = "gzip")]
    fn builtins_default_limit_method_is_bounded() {
        let gzip = super::super::Gzip::new();
        let bomb = gzip.compress(&vec![0u8; 1 << 20]).unwrap();
        let err = gzip.decompress_with_limit(&bomb, 1024).unwrap_err();
        assert_eq!(err.code(), Code::ResourceExhausted);
        assert_eq!(
            gzip.decompress_with_limit(&bomb, 1 << 20).unwrap().len(),
            1 << 20
        );
    }
}

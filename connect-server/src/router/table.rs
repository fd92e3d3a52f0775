//! The router's route table: paths to methods and their services, hashed
//! a word at a time.

use std::collections::HashMap;
use std::sync::Arc;

use connect_core::MethodDescriptor;
use connect_layers::protocol::MethodTable;

use super::dispatch::ErasedService;

pub(super) type Routes =
    HashMap<&'static str, (&'static MethodDescriptor, Arc<dyn ErasedService>), BuildPathHasher>;

/// A multiply-rotate hash over 8 bytes at a time (FxHash's mixing): paths
/// are short and the table is fixed once built (a lookup only ever
/// compares against our own registered paths, so there is nothing to flood),
/// and a word at a time costs a quarter of a byte-wise FNV on a typical
/// `/package.Service/Method`.
#[derive(Clone, Copy, Default)]
pub(super) struct BuildPathHasher;

pub(super) struct PathHasher(u64);

const PATH_HASH_K: u64 = 0xf135_7aea_2e62_a9c5;

impl PathHasher {
    #[inline]
    fn add(&mut self, word: u64) {
        self.0 = (self.0.rotate_left(26) ^ word).wrapping_mul(PATH_HASH_K);
    }
}

impl std::hash::BuildHasher for BuildPathHasher {
    type Hasher = PathHasher;

    fn build_hasher(&self) -> PathHasher {
        PathHasher(0)
    }
}

impl std::hash::Hasher for PathHasher {
    #[inline]
    fn finish(&self) -> u64 {
        // hashbrown takes its 7 tag bits from the top and the bucket from
        // the bottom: fold the well-mixed high half down.
        self.0 ^ (self.0 >> 29)
    }

    #[inline]
    fn write(&mut self, bytes: &[u8]) {
        let mut chunks = bytes.chunks_exact(8);
        for c in &mut chunks {
            self.add(u64::from_le_bytes(c.try_into().expect("8 bytes")));
        }
        let rest = chunks.remainder();
        let mut last = [0u8; 8];
        last[..rest.len()].copy_from_slice(rest);
        // The length keeps "ab" and "ab\0" apart.
        self.add(u64::from_le_bytes(last) ^ ((bytes.len() as u64) << 56));
    }

    #[inline]
    fn write_u8(&mut self, i: u8) {
        self.add(u64::from(i));
    }
}

/// The router's table, as negotiation sees it.
pub(super) struct RouteTable(pub(super) Arc<Routes>);

impl MethodTable for RouteTable {
    fn lookup(&self, path: &str) -> Option<&'static MethodDescriptor> {
        self.0.get(path).map(|(method, _)| *method)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn path_hash_separates_similar_paths() {
        use std::hash::BuildHasher as _;
        let h = |p: &str| BuildPathHasher.hash_one(p);
        let paths = [
            "/bench.v1.EchoService/Echo",
            "/bench.v1.EchoService/Echa",
            "/bench.v1.EchoService/EchoClientStream",
            "/bench.v1.EchoService/EchoServerStream",
            "/a",
            "/a\0",
            "",
        ];
        let hashes: std::collections::HashSet<u64> = paths.iter().map(|p| h(p)).collect();
        assert_eq!(hashes.len(), paths.len());
        assert_eq!(h("/x.S/M"), h(&String::from("/x.S/M")));
    }
}

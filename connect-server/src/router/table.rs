//! The router's route table: paths to methods and their services, hashed
//! a word at a time, and looked up once per request.
//!
//! Three places need a request's route: the router (to refuse unknown
//! paths before any stack runs, and to pick the body's stall limit),
//! negotiation (the method's stream type and idempotency) and [`Dispatch`]
//! (the service). Only the router hashes the path. It hands the method it
//! found to negotiation, which the router calls at once on the same thread,
//! through a one-slot thread-local ([`handoff`]); negotiation checks the
//! slot is for this table and this path (a pointer and a string compare)
//! before trusting it, and hashes the path only if it is not (a stack
//! wrapped in a layer that defers the call, say). Dispatch finds the
//! service by the method descriptor's address, which negotiation took from
//! this same table.
//!
//! [`Dispatch`]: super::Dispatch

use std::cell::Cell;
use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use connect_core::MethodDescriptor;
use connect_layers::protocol::MethodTable;

use super::dispatch::ErasedService;

/// A registered method: its descriptor and the service that serves it.
pub(super) type Route = (&'static MethodDescriptor, Arc<dyn ErasedService>);

/// The routes of one router.
#[derive(Clone)]
pub(super) struct Routes {
    /// Names these contents: new whenever a route is added, so a method
    /// handed off by one table is never taken for another's.
    id: u64,
    by_path: HashMap<&'static str, Route, BuildPathHasher>,
    /// The same services, by the address of the descriptor in `by_path`.
    by_method: HashMap<usize, Arc<dyn ErasedService>, BuildPathHasher>,
}

/// A descriptor's identity: its address (descriptors are statics, and the
/// table hands out the very references it was given).
fn key(method: &'static MethodDescriptor) -> usize {
    std::ptr::from_ref(method) as usize
}

/// A fresh [`Routes::id`].
fn next_id() -> u64 {
    static NEXT: AtomicU64 = AtomicU64::new(1);
    NEXT.fetch_add(1, Ordering::Relaxed)
}

impl Default for Routes {
    fn default() -> Self {
        Routes {
            id: next_id(),
            by_path: HashMap::default(),
            by_method: HashMap::default(),
        }
    }
}

impl Routes {
    /// Adds (or replaces) the route for `method`'s path.
    pub(super) fn insert(
        &mut self,
        method: &'static MethodDescriptor,
        service: Arc<dyn ErasedService>,
    ) {
        self.id = next_id();
        if let Some((old, _)) = self
            .by_path
            .insert(method.path(), (method, service.clone()))
        {
            self.by_method.remove(&key(old));
        }
        self.by_method.insert(key(method), service);
    }

    /// The route at `path`.
    #[inline]
    pub(super) fn get(&self, path: &str) -> Option<&Route> {
        self.by_path.get(path)
    }

    /// The service for a method this table returned; for any other
    /// descriptor (a layer between negotiation and dispatch swapped it),
    /// the service registered at its path.
    #[inline]
    pub(super) fn service(
        &self,
        method: &'static MethodDescriptor,
    ) -> Option<&Arc<dyn ErasedService>> {
        match self.by_method.get(&key(method)) {
            Some(service) => Some(service),
            None => self.by_path.get(method.path()).map(|(_, service)| service),
        }
    }

    /// The paths served.
    pub(super) fn paths(&self) -> impl Iterator<Item = &'static str> + '_ {
        self.by_path.keys().copied()
    }

    /// How many methods are served.
    pub(super) fn len(&self) -> usize {
        self.by_path.len()
    }
}

thread_local! {
    /// The route the router just found, for negotiation: the table's id
    /// and the method.
    static HANDOFF: Cell<Option<(u64, &'static MethodDescriptor)>> = const { Cell::new(None) };
}

/// Leaves `method`, just found in `routes`, for this thread's next
/// [`RouteTable::lookup`].
#[inline]
pub(super) fn handoff(routes: &Routes, method: &'static MethodDescriptor) {
    HANDOFF.set(Some((routes.id, method)));
}

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

    #[inline]
    fn write_usize(&mut self, i: usize) {
        self.add(i as u64);
    }
}

/// The router's table, as negotiation sees it: the method the router
/// handed off if it is for this table and path, else a lookup.
pub(super) struct RouteTable(pub(super) Arc<Routes>);

impl MethodTable for RouteTable {
    #[inline]
    fn lookup(&self, path: &str) -> Option<&'static MethodDescriptor> {
        if let Some((table, method)) = HANDOFF.take()
            && table == self.0.id
            && method.path() == path
        {
            return Some(method);
        }
        self.0.get(path).map(|(method, _)| *method)
    }
}

#[cfg(test)]
mod tests {
    use connect_core::{ConnectError, Idempotency, StreamType};
    use connect_layers::BoxFuture;
    use connect_layers::rpc::{RpcRequest, RpcResponse};

    use super::*;

    static METHODS: [MethodDescriptor; 2] = [
        MethodDescriptor::new(
            "a.S",
            "M",
            "/a.S/M",
            StreamType::Unary,
            Idempotency::Unknown,
        ),
        MethodDescriptor::new(
            "a.S",
            "N",
            "/a.S/N",
            StreamType::Unary,
            Idempotency::Unknown,
        ),
    ];
    /// The same path as `METHODS[0]`, another descriptor.
    static FOREIGN: MethodDescriptor = MethodDescriptor::new(
        "a.S",
        "M",
        "/a.S/M",
        StreamType::ClientStream,
        Idempotency::Unknown,
    );

    struct Nothing;
    impl ErasedService for Nothing {
        fn call(&self, _: RpcRequest) -> BoxFuture<Result<RpcResponse, ConnectError>> {
            Box::pin(async { Ok(RpcResponse::default()) })
        }
    }

    fn table_of_two() -> (Arc<Routes>, Vec<Arc<dyn ErasedService>>) {
        let services: Vec<Arc<dyn ErasedService>> = vec![Arc::new(Nothing), Arc::new(Nothing)];
        let mut routes = Routes::default();
        for (method, service) in METHODS.iter().zip(&services) {
            routes.insert(method, service.clone());
        }
        (Arc::new(routes), services)
    }

    #[test]
    fn a_handed_off_method_is_taken_once_for_its_table_and_path_only() {
        let (routes, _) = table_of_two();
        let table = RouteTable(routes.clone());
        // A lie planted for this table and path is believed: proof that
        // the handoff, not the hash table, answered.
        handoff(&routes, &FOREIGN);
        assert!(std::ptr::eq(table.lookup("/a.S/M").unwrap(), &FOREIGN));
        // Taken: the next lookup hashes.
        assert!(std::ptr::eq(table.lookup("/a.S/M").unwrap(), &METHODS[0]));
        // Another path, or another table, ignores it.
        handoff(&routes, &FOREIGN);
        assert!(std::ptr::eq(table.lookup("/a.S/N").unwrap(), &METHODS[1]));
        let (other, _) = table_of_two();
        handoff(&other, &METHODS[1]);
        assert!(std::ptr::eq(table.lookup("/a.S/N").unwrap(), &METHODS[1]));
        assert!(
            table
                .lookup("/a.S/M")
                .is_some_and(|m| std::ptr::eq(m, &METHODS[0]))
        );
        assert!(table.lookup("/a.S/X").is_none());
    }

    #[test]
    fn adding_a_route_renames_the_table() {
        let (routes, services) = table_of_two();
        let mut grown = (*routes).clone();
        grown.insert(&METHODS[0], services[1].clone());
        assert_ne!(grown.id, routes.id);
    }

    #[test]
    fn services_are_found_by_descriptor_and_by_path_for_foreign_ones() {
        let (routes, services) = table_of_two();
        let same = |a: &Arc<dyn ErasedService>, b: &Arc<dyn ErasedService>| Arc::ptr_eq(a, b);
        assert!(same(routes.service(&METHODS[0]).unwrap(), &services[0]));
        assert!(same(routes.service(&METHODS[1]).unwrap(), &services[1]));
        assert!(same(routes.service(&FOREIGN).unwrap(), &services[0]));
        // Replacing a path's descriptor forgets the old one's address.
        let mut replaced = (*routes).clone();
        replaced.insert(&FOREIGN, services[1].clone());
        assert!(same(replaced.service(&FOREIGN).unwrap(), &services[1]));
        assert!(same(replaced.service(&METHODS[0]).unwrap(), &services[1]));
        assert_eq!(replaced.len(), 2);
    }

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

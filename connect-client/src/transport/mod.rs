//! Transports: tower HTTP services that carry client calls.

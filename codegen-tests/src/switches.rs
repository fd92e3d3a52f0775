//! buffa's code-generation switches, each exercised on a file of its own,
//! generated with the switch and without it (see `build.rs`):
//!
//! | switch | file | off | on |
//! | --- | --- | --- | --- |
//! | `strict_utf8_mapping` | `raw_strings.proto` (editions) | [`raw_lenient`] | [`raw_strict`], [`plugin_raw_strict`] |
//! | `preserve_unknown_fields` | `unknown.proto` | [`unknown_dropped`], [`plugin_unknown_dropped`] | [`unknown_kept`] |
//! | `generate_views` | `owned.proto` | [`owned_client`], [`plugin_owned_client`] (client only) | [`owned_views`] |
//!
//! The `plugin_` trees come from `protoc-gen-connect-rust` with the switch
//! as a parameter, the others from `connectrpc-build`.
//! `tests/switches.rs` checks what each switch changes.

/// `raw_strings.proto` with the default mapping: every `string` field is a
/// `String`, validated on decode.
pub mod raw_lenient {
    include!(concat!(
        env!("OUT_DIR"),
        "/switches/raw_lenient/_include.rs"
    ));
}

/// `raw_strings.proto` with `strict_utf8_mapping(true)`: the fields with
/// `utf8_validation = NONE` are `Vec<u8>`.
pub mod raw_strict {
    include!(concat!(env!("OUT_DIR"), "/switches/raw_strict/_include.rs"));
}

/// `raw_strings.proto` from the plugin with `strict_utf8_mapping=true`.
pub mod plugin_raw_strict {
    include!(concat!(
        env!("OUT_DIR"),
        "/switches/plugin_raw_strict/mod.rs"
    ));
}

/// `unknown.proto` with unknown fields kept (the default).
pub mod unknown_kept {
    include!(concat!(
        env!("OUT_DIR"),
        "/switches/unknown_kept/_include.rs"
    ));
}

/// `unknown.proto` with `preserve_unknown_fields(false)`.
pub mod unknown_dropped {
    include!(concat!(
        env!("OUT_DIR"),
        "/switches/unknown_dropped/_include.rs"
    ));
}

/// `unknown.proto` from the plugin with `preserve_unknown_fields=false`.
pub mod plugin_unknown_dropped {
    include!(concat!(
        env!("OUT_DIR"),
        "/switches/plugin_unknown_dropped/mod.rs"
    ));
}

/// `owned.proto` with views (the default): the server the view-less
/// clients call.
pub mod owned_views {
    include!(concat!(
        env!("OUT_DIR"),
        "/switches/owned_views/_include.rs"
    ));
}

/// `owned.proto` with `generate_views(false)` and `server(false)`: owned
/// messages and clients, no view types.
pub mod owned_client {
    include!(concat!(
        env!("OUT_DIR"),
        "/switches/owned_client/_include.rs"
    ));
}

/// `owned.proto` from the plugin with `views=false,server=false`.
pub mod plugin_owned_client {
    include!(concat!(
        env!("OUT_DIR"),
        "/switches/plugin_owned_client/mod.rs"
    ));
}

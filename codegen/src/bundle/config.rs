//! What to generate: [`Config`] and [`Messages`].

use std::collections::BTreeSet;

use buffa_codegen::CodeGenConfig;
use buffa_codegen::generated::descriptor::FileDescriptorProto;

use crate::Options;

/// Where the message types named by the service code come from.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub enum Messages {
    /// Generate them with `buffa-codegen`, in the same modules as the
    /// services (the default).
    #[default]
    Generate,
    /// They are generated elsewhere (by `protoc-gen-buffa`, another crate):
    /// generate the services only, naming every message through
    /// [`Config::buffa_module`] or [`Config::extern_path`].
    Extern,
}

/// What to generate: messages or not, the service options, buffa's
/// switches (JSON, views, UTF-8 mapping, unknown fields) and the extern
/// paths.
///
/// `connectrpc-build` and `protoc-gen-connect-rust` both hold one of these,
/// so every option means the same in `build.rs` and in `buf generate`.
///
/// ```
/// use connectrpc_codegen::Options;
/// use connectrpc_codegen::bundle::{Config, Messages};
///
/// let config = Config::new()
///     .messages(Messages::Extern)
///     .buffa_module("crate::proto")
///     .extern_path(".my.common", "::common_protos::my::common")
///     .services(Options::new().client(false));
/// assert_eq!(config.messages_mode(), Messages::Extern);
///
/// // buffa's switches, passed through to `buffa-codegen`.
/// let raw = Config::new()
///     .strict_utf8_mapping(true)
///     .preserve_unknown_fields(false)
///     .generate_views(false)
///     .services(Options::new().server(false));
/// let buffa = raw.codegen_config(&[]);
/// assert!(buffa.strict_utf8_mapping);
/// assert!(!buffa.preserve_unknown_fields);
/// assert!(!buffa.generate_views);
/// ```
#[derive(Clone, Debug)]
pub struct Config {
    pub(super) services: Options,
    pub(super) messages: Messages,
    generate_json: bool,
    generate_views: bool,
    strict_utf8_mapping: bool,
    preserve_unknown_fields: bool,
    pub(super) extern_paths: Vec<(String, String)>,
    pub(super) buffa_module: Option<String>,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            services: Options::default(),
            messages: Messages::Generate,
            generate_json: true,
            generate_views: true,
            strict_utf8_mapping: false,
            preserve_unknown_fields: true,
            extern_paths: Vec::new(),
            buffa_module: None,
        }
    }
}

impl Config {
    /// The defaults: messages generated with JSON support and views,
    /// `String` for every `string` field, unknown fields kept; clients and
    /// servers, runtime `::connectrpc`, no extern paths.
    pub fn new() -> Self {
        Self::default()
    }

    /// The service code options (clients, servers, runtime crate). Their
    /// [`Options::views`] is replaced by
    /// [`generate_views`](Self::generate_views) when generating.
    pub fn services(mut self, options: Options) -> Self {
        self.services = options;
        self
    }

    /// Whether messages are generated here or elsewhere (default
    /// [`Messages::Generate`]).
    pub fn messages(mut self, messages: Messages) -> Self {
        self.messages = messages;
        self
    }

    /// Whether generated messages get serde JSON support (default `true`;
    /// the runtime's JSON codec and streaming need it).
    pub fn generate_json(mut self, enabled: bool) -> Self {
        self.generate_json = enabled;
        self
    }

    /// Whether buffa generates zero-copy view types (`GreetRequestView<'a>`)
    /// beside the owned messages (default `true`; buffa's
    /// `generate_views`).
    ///
    /// The generated server decodes every request as a view, so a file
    /// that declares a service needs views unless only its clients are
    /// generated ([`Options::server`]`(false)`): generating fails with an
    /// error naming the service otherwise. With views off, clients have no
    /// `_view` methods and service modules re-export no views; the other
    /// names do not change. With [`Messages::Extern`] this says whether
    /// the messages generated elsewhere have views.
    ///
    /// ```
    /// use connectrpc_codegen::Options;
    /// use connectrpc_codegen::bundle::Config;
    ///
    /// let owned_only = Config::new()
    ///     .generate_views(false)
    ///     .services(Options::new().server(false));
    /// assert!(!owned_only.codegen_config(&[]).generate_views);
    /// ```
    pub fn generate_views(mut self, enabled: bool) -> Self {
        self.generate_views = enabled;
        self
    }

    /// Whether `string` fields whose `features.utf8_validation` is `NONE`
    /// become raw bytes (default `false`; buffa's `strict_utf8_mapping`).
    ///
    /// Off, every `string` field is a `String` (`&str` in views) and decode
    /// rejects invalid UTF-8 in any of them, whatever the `.proto` says.
    /// On, the fields that do not ask for validation — editions fields
    /// with `features.utf8_validation = NONE` and *every proto2 `string`*
    /// (proto2's default is `NONE`) — are `Vec<u8>` (`&[u8]` in views,
    /// map keys and values included), decode does not validate them, and
    /// the JSON mapping writes them as base64, like `bytes` (not as other
    /// implementations do: JSON interoperates on these fields only with
    /// peers generated the same way). The wire
    /// format does not change. Proto3 strings and editions fields that
    /// keep the default `VERIFY` stay `String`.
    ///
    /// ```
    /// use connectrpc_codegen::bundle::Config;
    ///
    /// let raw = Config::new().strict_utf8_mapping(true);
    /// assert!(raw.codegen_config(&[]).strict_utf8_mapping);
    /// ```
    pub fn strict_utf8_mapping(mut self, enabled: bool) -> Self {
        self.strict_utf8_mapping = enabled;
        self
    }

    /// Whether decoded messages keep the fields they do not know and
    /// encode them again (default `true`; buffa's
    /// `preserve_unknown_fields`).
    ///
    /// On, every message has a `__buffa_unknown_fields` field, so a proxy
    /// or an older peer passes newer fields through. Off, messages have
    /// no such field, decode skips unknown fields, and re-encoding drops
    /// them (a proto2 closed enum's unknown value is dropped too).
    ///
    /// ```
    /// use connectrpc_codegen::bundle::Config;
    ///
    /// let lean = Config::new().preserve_unknown_fields(false);
    /// assert!(!lean.codegen_config(&[]).preserve_unknown_fields);
    /// ```
    pub fn preserve_unknown_fields(mut self, enabled: bool) -> Self {
        self.preserve_unknown_fields = enabled;
        self
    }

    /// Maps a proto package (`.my.common`) or a single message or enum
    /// (`.my.common.Shared`) to Rust code generated elsewhere
    /// (`::common_protos::my::common`, `::common_protos::Shared`). An exact
    /// type entry wins over a package prefix; among prefixes the longest
    /// wins. The leading dot is optional. The Rust path must be absolute
    /// (`::krate::..` or `crate::..`).
    pub fn extern_path(mut self, proto: impl Into<String>, rust: impl Into<String>) -> Self {
        let proto = proto.into();
        let proto = if proto.starts_with('.') {
            proto
        } else {
            format!(".{proto}")
        };
        self.extern_paths.push((proto, rust.into()));
        self
    }

    /// With [`Messages::Extern`]: the module where `protoc-gen-buffa`'s
    /// module tree is mounted (`crate::proto`), so `.greet.v1.GreetRequest`
    /// is `crate::proto::greet::v1::GreetRequest`. Packages covered by an
    /// [`extern_path`](Self::extern_path) and the well-known types
    /// (`::buffa_types`) are not affected.
    pub fn buffa_module(mut self, path: impl Into<String>) -> Self {
        self.buffa_module = Some(path.into());
        self
    }

    /// The service code options, as given to [`services`](Self::services).
    pub fn service_options(&self) -> &Options {
        &self.services
    }

    /// The service code options generation uses: those given, with
    /// [`Options::views`] set from [`generate_views`](Self::generate_views).
    pub fn effective_service_options(&self) -> Options {
        self.services.clone().views(self.generate_views)
    }

    /// Whether messages are generated here.
    pub fn messages_mode(&self) -> Messages {
        self.messages
    }

    /// The extern paths as given, leading dots added.
    pub fn extern_paths(&self) -> &[(String, String)] {
        &self.extern_paths
    }

    /// The `buffa-codegen` configuration for `files`: JSON, views, UTF-8
    /// mapping and unknown fields as configured, the extern paths, and with
    /// [`Messages::Extern`] one extern path per package under
    /// [`buffa_module`](Self::buffa_module).
    pub fn codegen_config(&self, files: &[FileDescriptorProto]) -> CodeGenConfig {
        let mut config = CodeGenConfig::default();
        config.generate_views = self.generate_views;
        config.generate_json = self.generate_json;
        config.strict_utf8_mapping = self.strict_utf8_mapping;
        config.preserve_unknown_fields = self.preserve_unknown_fields;
        config.extern_paths = self.extern_paths.clone();
        if let (Messages::Extern, Some(root)) = (self.messages, &self.buffa_module) {
            let packages: BTreeSet<&str> =
                files.iter().filter_map(|f| f.package.as_deref()).collect();
            for package in packages {
                let dotted = format!(".{package}");
                let wkt = package == "google.protobuf" || package.starts_with("google.protobuf.");
                let covered = self
                    .extern_paths
                    .iter()
                    .any(|(proto, _)| covers(proto, &dotted));
                if wkt || covered || package.is_empty() {
                    continue;
                }
                let mut path = root.trim_end_matches("::").to_string();
                for segment in package.split('.') {
                    // The module tree escapes keywords (`r#type`, `self_`);
                    // buffa renders `type` as `r#type` itself, so only the
                    // suffixed forms are spelled out here.
                    let escaped = buffa_codegen::idents::escape_mod_ident(segment);
                    path.push_str("::");
                    path.push_str(escaped.strip_prefix("r#").unwrap_or(&escaped));
                }
                config.extern_paths.push((dotted, path));
            }
        }
        config
    }
}

/// Whether the extern-path key `prefix` (`.my`, `.`) covers the dotted
/// name `name` (`.my.common`): equal, the catch-all, or a prefix ending at
/// a `.`.
pub(super) fn covers(prefix: &str, name: &str) -> bool {
    prefix == "."
        || prefix == name
        || name
            .strip_prefix(prefix)
            .is_some_and(|rest| rest.starts_with('.'))
}

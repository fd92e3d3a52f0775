//! Rust identifiers and wire names derived from proto names.
//!
//! Every name the generator emits is computed here, so the trait, the
//! server and the descriptors always agree.

use proc_macro2::{Ident, Span, TokenStream, TokenTree};

/// Converts a proto name (`GreetStream`, `HTTPGet`, `get_v2`) to
/// `snake_case` (`greet_stream`, `http_get`, `get_v2`).
///
/// ```
/// use connectrpc_codegen::names::snake_case;
/// assert_eq!(snake_case("GreetStream"), "greet_stream");
/// assert_eq!(snake_case("HTTPGet"), "http_get");
/// assert_eq!(snake_case("GetV2"), "get_v2");
/// ```
pub fn snake_case(name: &str) -> String {
    let chars: Vec<char> = name.chars().collect();
    let mut out = String::with_capacity(name.len() + 4);
    for (i, &c) in chars.iter().enumerate() {
        if c.is_ascii_uppercase() {
            let prev = i.checked_sub(1).map(|p| chars[p]);
            let next = chars.get(i + 1).copied();
            let boundary = match prev {
                None | Some('_') => false,
                Some(p) if p.is_ascii_lowercase() || p.is_ascii_digit() => true,
                Some(p) if p.is_ascii_uppercase() => next.is_some_and(|n| n.is_ascii_lowercase()),
                Some(_) => false,
            };
            if boundary {
                out.push('_');
            }
            out.push(c.to_ascii_lowercase());
        } else {
            out.push(c);
        }
    }
    out
}

/// Converts a proto name to `SHOUTY_SNAKE_CASE` (`GreetService` →
/// `GREET_SERVICE`).
///
/// ```
/// use connectrpc_codegen::names::shouty_snake_case;
/// assert_eq!(shouty_snake_case("GreetService"), "GREET_SERVICE");
/// ```
pub fn shouty_snake_case(name: &str) -> String {
    snake_case(name).to_ascii_uppercase()
}

/// An identifier, escaped as a raw identifier when it is a Rust keyword
/// (`type` → `r#type`; `self`, `super`, `crate` and `Self` get a trailing
/// `_` since they cannot be raw).
pub fn ident(name: &str) -> Ident {
    buffa_codegen::idents::make_field_ident(name)
}

/// The trait method for a proto method (`GreetStream` → `greet_stream`).
pub fn method_fn(method: &str) -> Ident {
    ident(&snake_case(method))
}

/// Whether clippy's `wrong_self_convention` objects to a method named
/// `fn_name` taking `&self` (`new`, `from_*`, `into_*`), as a generated
/// trait or client method named after an `rpc` does.
///
/// ```
/// use connectrpc_codegen::names::breaks_self_convention;
/// assert!(breaks_self_convention("new"));
/// assert!(breaks_self_convention("from_client_"));
/// assert!(breaks_self_convention("into_parts"));
/// assert!(!breaks_self_convention("greet"));
/// assert!(!breaks_self_convention("to_string"));
/// ```
pub fn breaks_self_convention(fn_name: &str) -> bool {
    let name = fn_name.strip_prefix("r#").unwrap_or(fn_name);
    name == "new" || name.starts_with("from_") || name.starts_with("into_")
}

/// The inherent methods every generated client has besides its `rpc`
/// methods; an `rpc` never takes one of these names (`clone` included, so
/// `client.clone()` keeps cloning the client).
pub const CLIENT_RESERVED: &[&str] = &["new", "from_client", "client", "clone"];

/// The client methods of one `rpc`: the plain form, the form taking call
/// options, and the two forms answering with zero-copy views.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ClientMethodNames {
    /// `greet`, escaped like [`method_fn`] (`r#type`).
    pub plain: Ident,
    /// `greet_with_options`.
    pub with_options: Ident,
    /// `greet_view`.
    pub view: Ident,
    /// `greet_view_with_options`.
    pub view_with_options: Ident,
}

/// The client method names for `methods` (proto names, in declaration
/// order): [`method_fn`], `<that>_with_options`, `<that>_view` and
/// `<that>_view_with_options`, except that a name
/// taken by [`CLIENT_RESERVED`] or an earlier method gets `_` appended
/// until it is free (`New` → `new_` and `new_with_options`; `Greet` then
/// `GreetWithOptions` → `greet_with_options_` and
/// `greet_with_options_with_options`). The names stay `snake_case` (no
/// `__` inside).
///
/// ```
/// use connectrpc_codegen::names::client_methods;
/// let names = client_methods(&["Greet", "Type", "New"]);
/// let shown: Vec<_> = names
///     .iter()
///     .map(|n| (n.plain.to_string(), n.with_options.to_string()))
///     .collect();
/// assert_eq!(shown[0], ("greet".into(), "greet_with_options".into()));
/// assert_eq!(shown[1], ("r#type".into(), "type_with_options".into()));
/// assert_eq!(shown[2], ("new_".into(), "new_with_options".into()));
/// assert_eq!(names[0].view.to_string(), "greet_view");
/// assert_eq!(names[0].view_with_options.to_string(), "greet_view_with_options");
/// assert_eq!(names[1].view.to_string(), "type_view");
/// ```
pub fn client_methods(methods: &[&str]) -> Vec<ClientMethodNames> {
    let mut taken: Vec<String> = CLIENT_RESERVED.iter().map(|s| s.to_string()).collect();
    let mut free = |mut name: String| loop {
        let candidate = ident(&name);
        let bare = unraw(&candidate);
        if !taken.contains(&bare) {
            taken.push(bare);
            break candidate;
        }
        name.push('_');
    };
    methods
        .iter()
        .map(|&m| {
            let base = snake_case(m);
            let stem = base.trim_end_matches('_');
            let plain = free(base.clone());
            let with_options = free(format!("{stem}_with_options"));
            let view = free(format!("{stem}_view"));
            let view_with_options = free(format!("{stem}_view_with_options"));
            ClientMethodNames {
                plain,
                with_options,
                view,
                view_with_options,
            }
        })
        .collect()
}

/// An identifier as written in a doc link or compared for clashes:
/// without its `r#` prefix.
pub fn unraw(ident: &Ident) -> String {
    let s = ident.to_string();
    match s.strip_prefix("r#") {
        Some(rest) => rest.to_string(),
        None => s,
    }
}

/// The Rust names of one service's items.
///
/// The trait keeps the proto name (`GreetService`, `r#type`); the server,
/// registration trait and client add a suffix to it with its first letter
/// upper-cased (`GreetServiceServer`, `TypeExt`, `SelfClient`); the module
/// of method descriptors and view re-exports is its `snake_case`
/// (`greet_service`). A name already taken in the package module (see
/// [`ServiceDef::taken_names`](crate::ServiceDef::taken_names)) or by an
/// item before it in that order gets `_` appended until it is free, so
/// `service type` has the trait `r#type` and the module `type_`.
///
/// ```
/// use connectrpc_codegen::names::ServiceNames;
/// let greet = ServiceNames::new("GreetService", &[]);
/// assert_eq!(greet.service_trait.to_string(), "GreetService");
/// assert_eq!(greet.server.to_string(), "GreetServiceServer");
/// assert_eq!(greet.ext.to_string(), "GreetServiceExt");
/// assert_eq!(greet.client.to_string(), "GreetServiceClient");
/// assert_eq!(greet.module.to_string(), "greet_service");
/// assert_eq!(greet.name_const.to_string(), "GREET_SERVICE_NAME");
///
/// let keyword = ServiceNames::new("type", &[]);
/// assert_eq!(keyword.service_trait.to_string(), "r#type");
/// assert_eq!(keyword.server.to_string(), "TypeServer");
/// assert_eq!(keyword.module.to_string(), "type_");
///
/// // A message `GreetServiceClient` keeps its name; the client yields.
/// let clash = ServiceNames::new("GreetService", &["GreetServiceClient".into()]);
/// assert_eq!(clash.client.to_string(), "GreetServiceClient_");
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ServiceNames {
    /// The service trait (`GreetService`).
    pub service_trait: Ident,
    /// The typed server (`GreetServiceServer`).
    pub server: Ident,
    /// The registration extension trait (`GreetServiceExt`).
    pub ext: Ident,
    /// The typed client (`GreetServiceClient`).
    pub client: Ident,
    /// The module of method descriptors and view re-exports
    /// (`greet_service`).
    pub module: Ident,
    /// The constant holding the service's full name (`GREET_SERVICE_NAME`).
    pub name_const: Ident,
}

impl ServiceNames {
    /// The names for service `service` in a package module where `taken`
    /// are already declared.
    pub fn new(service: &str, taken: &[String]) -> Self {
        let mut used: Vec<String> = taken.to_vec();
        let mut free = |mut name: String| loop {
            let candidate = ident(&name);
            let bare = unraw(&candidate);
            if !used.contains(&bare) {
                used.push(bare);
                break candidate;
            }
            name.push('_');
        };
        let upper = upper_first(service);
        ServiceNames {
            service_trait: free(service.to_string()),
            server: free(format!("{upper}Server")),
            ext: free(format!("{upper}Ext")),
            client: free(format!("{upper}Client")),
            module: free(snake_case(service)),
            name_const: Ident::new(
                &format!("{}_NAME", shouty_snake_case(service)),
                Span::call_site(),
            ),
        }
    }
}

/// `name` with its first character upper-cased (`type` → `Type`).
fn upper_first(name: &str) -> String {
    let mut chars = name.chars();
    match chars.next() {
        Some(first) => first.to_uppercase().chain(chars).collect(),
        None => String::new(),
    }
}

/// Whether rustc's `non_camel_case_types` lint accepts `name` (an `r#`
/// prefix ignored): after trimming `_`s it does not start lowercase and
/// has no `__` and no `_` next to a letter.
///
/// ```
/// use connectrpc_codegen::names::is_camel_case;
/// assert!(is_camel_case("GreetService"));
/// assert!(is_camel_case("GreetServiceClient_"));
/// assert!(is_camel_case("Http2Service"));
/// assert!(!is_camel_case("r#type"));
/// assert!(!is_camel_case("Greet_Service"));
/// ```
pub fn is_camel_case(name: &str) -> bool {
    let name = name.strip_prefix("r#").unwrap_or(name).trim_matches('_');
    let chars: Vec<char> = name.chars().collect();
    let cased = |c: char| c.is_lowercase() || c.is_uppercase();
    chars.first().is_none_or(|c| !c.is_lowercase())
        && !name.contains("__")
        && !chars
            .windows(2)
            .any(|w| (cased(w[0]) && w[1] == '_') || (w[0] == '_' && cased(w[1])))
}

/// The names a service's module re-exports its request and response view
/// types under: each distinct view (a path as
/// [`MethodDef::input_view`](crate::MethodDef::input_view) holds it, such
/// as `__buffa::view::GreetRequestView`) under its own name, except that
/// views sharing a name are each named after their whole path instead
/// (`__buffa::view::OneView` from the package itself and
/// `super::split::v1::__buffa::view::OneView` become `OneView` and
/// `SplitV1OneView`); a name still taken gets `_` appended.
///
/// ```
/// use connectrpc_codegen::names::view_reexports;
/// use quote::quote;
/// let views = [
///     quote!(__buffa::view::OneView),
///     quote!(super::split::v1::__buffa::view::OneView),
///     quote!(__buffa::view::outer::InnerView),
///     quote!(__buffa::view::OneView),
/// ];
/// let names: Vec<String> = view_reexports(&views)
///     .iter()
///     .map(|(_, name)| name.to_string())
///     .collect();
/// assert_eq!(names, ["OneView", "SplitV1OneView", "InnerView"]);
/// ```
pub fn view_reexports(views: &[TokenStream]) -> Vec<(TokenStream, Ident)> {
    let mut distinct: Vec<(TokenStream, Vec<String>)> = Vec::new();
    for view in views {
        let segments: Vec<String> = view
            .clone()
            .into_iter()
            .filter_map(|t| match t {
                TokenTree::Ident(i) => Some(unraw(&i)),
                _ => None,
            })
            .collect();
        if segments.is_empty() || distinct.iter().any(|(_, s)| *s == segments) {
            continue;
        }
        distinct.push((view.clone(), segments));
    }
    let leaf = |segments: &[String]| segments.last().cloned().unwrap_or_default();
    let mut used: Vec<String> = Vec::new();
    let mut out = Vec::with_capacity(distinct.len());
    for (path, segments) in &distinct {
        let shared = distinct
            .iter()
            .filter(|(_, other)| leaf(other) == leaf(segments))
            .count()
            > 1;
        let mut name = if shared {
            segments
                .iter()
                .filter(|s| !matches!(s.as_str(), "super" | "self" | "crate" | "__buffa" | "view"))
                .map(|s| buffa_codegen::idents::to_upper_camel_case(s))
                .collect::<String>()
        } else {
            leaf(segments)
        };
        while used.contains(&name) {
            name.push('_');
        }
        used.push(name.clone());
        out.push((path.clone(), Ident::new(&name, Span::call_site())));
    }
    out
}

/// The name of the slice of all method descriptors inside
/// [`ServiceNames::module`].
pub const METHODS_CONST: &str = "METHODS";

/// The name of the serialized `FileDescriptorSet` inside
/// [`ServiceNames::module`] (see
/// [`ServiceDef::file_descriptor_set`](crate::ServiceDef::file_descriptor_set)).
pub const FILE_DESCRIPTOR_SET_CONST: &str = "FILE_DESCRIPTOR_SET";

/// The method descriptor constant (`GreetStream` → `GREET_STREAM`), never
/// equal to [`METHODS_CONST`] or [`FILE_DESCRIPTOR_SET_CONST`].
pub fn method_const(method: &str) -> Ident {
    let mut name = shouty_snake_case(method);
    if name == METHODS_CONST || name == FILE_DESCRIPTOR_SET_CONST {
        name.push('_');
    }
    Ident::new(&name, Span::call_site())
}

/// The fully-qualified service name (`greet.v1.GreetService`).
pub fn full_service_name(package: &str, service: &str) -> String {
    if package.is_empty() {
        service.to_string()
    } else {
        format!("{package}.{service}")
    }
}

/// The HTTP path of a method (`/greet.v1.GreetService/Greet`).
pub fn method_path(package: &str, service: &str, method: &str) -> String {
    format!("/{}/{method}", full_service_name(package, service))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn snake_cases() {
        assert_eq!(snake_case("Greet"), "greet");
        assert_eq!(snake_case("GreetMany"), "greet_many");
        assert_eq!(snake_case("HTTPRequest"), "http_request");
        assert_eq!(snake_case("getV2Thing"), "get_v2_thing");
        assert_eq!(snake_case("already_snake"), "already_snake");
        assert_eq!(snake_case("Ping"), "ping");
    }

    #[test]
    fn keywords_are_escaped() {
        assert_eq!(method_fn("Type").to_string(), "r#type");
        assert_eq!(method_fn("Self").to_string(), "self_");
    }

    #[test]
    fn client_method_names_never_clash() {
        let names = client_methods(&[
            "Greet",
            "GreetWithOptions",
            "Client",
            "FromClient",
            "Clone",
            "Self",
            "Type",
            "New",
            "New_",
            "GreetView",
        ]);
        let shown: Vec<(String, String)> = names
            .iter()
            .map(|n| (n.plain.to_string(), n.with_options.to_string()))
            .collect();
        let expected = [
            ("greet", "greet_with_options"),
            ("greet_with_options_", "greet_with_options_with_options"),
            ("client_", "client_with_options"),
            ("from_client_", "from_client_with_options"),
            ("clone_", "clone_with_options"),
            ("self_", "self_with_options"),
            ("r#type", "type_with_options"),
            ("new_", "new_with_options"),
            ("new__", "new_with_options_"),
            // Greet's view pair came first.
            ("greet_view_", "greet_view_with_options_"),
        ];
        for ((plain, with), (p, w)) in shown.iter().zip(expected) {
            assert_eq!((plain.as_str(), with.as_str()), (p, w));
        }
        assert_eq!(shown.len(), expected.len());
        let mut all: Vec<String> = names
            .iter()
            .flat_map(|n| [&n.plain, &n.with_options, &n.view, &n.view_with_options].map(unraw))
            .collect();
        all.sort();
        all.dedup();
        assert_eq!(all.len(), 4 * names.len());
        // No `__` inside a name, which `non_snake_case` rejects.
        assert!(
            all.iter().all(|n| !n.trim_matches('_').contains("__")),
            "{all:?}"
        );
    }

    #[test]
    fn derived_names() {
        let names = ServiceNames::new("GreetService", &[]);
        assert_eq!(names.server.to_string(), "GreetServiceServer");
        assert_eq!(names.ext.to_string(), "GreetServiceExt");
        assert_eq!(names.client.to_string(), "GreetServiceClient");
        assert_eq!(names.name_const.to_string(), "GREET_SERVICE_NAME");
        assert_eq!(names.module.to_string(), "greet_service");
        assert_eq!(method_const("GreetStream").to_string(), "GREET_STREAM");
        assert_eq!(method_const("Methods").to_string(), "METHODS_");
        assert_eq!(
            method_path("greet.v1", "GreetService", "Greet"),
            "/greet.v1.GreetService/Greet"
        );
        assert_eq!(method_path("", "Svc", "M"), "/Svc/M");
    }

    #[test]
    fn service_names_avoid_taken_and_each_other() {
        let shown = |n: &ServiceNames| {
            [
                &n.service_trait,
                &n.server,
                &n.ext,
                &n.client,
                &n.module,
                &n.name_const,
            ]
            .map(|i| i.to_string())
        };
        assert_eq!(
            shown(&ServiceNames::new("self", &[])),
            [
                "self_",
                "SelfServer",
                "SelfExt",
                "SelfClient",
                "self__",
                "SELF_NAME"
            ]
        );
        assert_eq!(
            shown(&ServiceNames::new("Service", &[])),
            [
                "Service",
                "ServiceServer",
                "ServiceExt",
                "ServiceClient",
                "service",
                "SERVICE_NAME"
            ]
        );
        // Another service `FooServer`, a message `FooClient` with nested
        // types (module `foo_client`) and a sub-package `foo`.
        let taken = ["FooServer", "FooClient", "foo_client", "foo"].map(String::from);
        assert_eq!(
            shown(&ServiceNames::new("Foo", &taken)),
            [
                "Foo",
                "FooServer_",
                "FooExt",
                "FooClient_",
                "foo_",
                "FOO_NAME"
            ]
        );
        // A view re-export `FooView` of a message `Foo` takes the name of a
        // service `FooView`.
        let taken = ["FooView".to_string()];
        assert_eq!(
            ServiceNames::new("FooView", &taken)
                .service_trait
                .to_string(),
            "FooView_"
        );
    }

    #[test]
    fn camel_case_as_rustc_sees_it() {
        for ok in ["A", "Http2", "FooBar_", "_Foo", "R2D2", "Foo__", "Foo2"] {
            assert!(is_camel_case(ok), "{ok}");
        }
        for bad in ["a", "fooBar", "Foo_Bar", "Foo__Bar", "r#match", "Foo_2"] {
            assert!(!is_camel_case(bad), "{bad}");
        }
    }

    #[test]
    fn view_reexport_names() {
        use quote::quote;
        let names = |views: &[TokenStream]| -> Vec<String> {
            view_reexports(views)
                .iter()
                .map(|(_, n)| n.to_string())
                .collect()
        };
        assert_eq!(
            names(&[quote!(__buffa::view::AView), quote!(__buffa::view::BView)]),
            ["AView", "BView"]
        );
        assert_eq!(
            names(&[
                quote!(::buffa_types::google::protobuf::__buffa::view::EmptyView),
                quote!(super::other::__buffa::view::EmptyView),
                quote!(__buffa::view::BuffaTypesGoogleProtobufEmptyView),
            ]),
            [
                "BuffaTypesGoogleProtobufEmptyView",
                "OtherEmptyView",
                "BuffaTypesGoogleProtobufEmptyView_"
            ]
        );
    }
}

//! Rust identifiers and wire names derived from proto names.
//!
//! Every name the generator emits is computed here, so the trait, the
//! server and the descriptors always agree.

use proc_macro2::{Ident, Span};

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

/// The service trait (`GreetService`).
pub fn service_trait(service: &str) -> Ident {
    ident(service)
}

/// The typed server (`GreetServiceServer`).
pub fn server_struct(service: &str) -> Ident {
    Ident::new(&format!("{service}Server"), Span::call_site())
}

/// The typed client (`GreetServiceClient`).
pub fn client_struct(service: &str) -> Ident {
    Ident::new(&format!("{service}Client"), Span::call_site())
}

/// The inherent methods every generated client has besides its `rpc`
/// methods; an `rpc` never takes one of these names (`clone` included, so
/// `client.clone()` keeps cloning the client).
pub const CLIENT_RESERVED: &[&str] = &["new", "from_client", "client", "clone"];

/// The client methods of one `rpc`: the plain form, the form taking call
/// options and, for unary methods, the form answering with a zero-copy
/// view.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ClientMethodNames {
    /// `greet`, escaped like [`method_fn`] (`r#type`).
    pub plain: Ident,
    /// `greet_with_options`.
    pub with_options: Ident,
    /// `greet_view`, for unary methods only.
    pub view: Option<Ident>,
}

/// The client method names for `methods` (proto names, in declaration
/// order, each with whether it is unary): [`method_fn`],
/// `<that>_with_options` and, for unary methods, `<that>_view`, except that a name
/// taken by [`CLIENT_RESERVED`] or an earlier method gets `_` appended
/// until it is free (`New` → `new_` and `new_with_options`; `Greet` then
/// `GreetWithOptions` → `greet_with_options_` and
/// `greet_with_options_with_options`). The names stay `snake_case` (no
/// `__` inside).
///
/// ```
/// use connectrpc_codegen::names::client_methods;
/// let names = client_methods(&[("Greet", true), ("Type", false), ("New", false)]);
/// let shown: Vec<_> = names
///     .iter()
///     .map(|n| (n.plain.to_string(), n.with_options.to_string()))
///     .collect();
/// assert_eq!(shown[0], ("greet".into(), "greet_with_options".into()));
/// assert_eq!(shown[1], ("r#type".into(), "type_with_options".into()));
/// assert_eq!(shown[2], ("new_".into(), "new_with_options".into()));
/// assert_eq!(names[0].view.as_ref().unwrap().to_string(), "greet_view");
/// assert!(names[1].view.is_none());
/// ```
pub fn client_methods(methods: &[(&str, bool)]) -> Vec<ClientMethodNames> {
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
        .map(|&(m, unary)| {
            let base = snake_case(m);
            let plain = free(base.clone());
            let with_options = free(format!("{}_with_options", base.trim_end_matches('_')));
            let view = unary.then(|| free(format!("{}_view", base.trim_end_matches('_'))));
            ClientMethodNames {
                plain,
                with_options,
                view,
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

/// The registration extension trait (`GreetServiceExt`).
pub fn ext_trait(service: &str) -> Ident {
    Ident::new(&format!("{service}Ext"), Span::call_site())
}

/// The constant holding the service's full name (`GREET_SERVICE_NAME`).
pub fn service_name_const(service: &str) -> Ident {
    Ident::new(
        &format!("{}_NAME", shouty_snake_case(service)),
        Span::call_site(),
    )
}

/// The module holding the service's method descriptors (`greet_service`).
pub fn descriptor_module(service: &str) -> Ident {
    ident(&snake_case(service))
}

/// The name of the slice of all method descriptors inside
/// [`descriptor_module`].
pub const METHODS_CONST: &str = "METHODS";

/// The method descriptor constant (`GreetStream` → `GREET_STREAM`), never
/// equal to [`METHODS_CONST`].
pub fn method_const(method: &str) -> Ident {
    let mut name = shouty_snake_case(method);
    if name == METHODS_CONST {
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
            ("Greet", false),
            ("GreetWithOptions", false),
            ("Client", false),
            ("FromClient", false),
            ("Clone", false),
            ("Self", false),
            ("Type", false),
            ("New", false),
            ("New_", false),
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
        ];
        for ((plain, with), (p, w)) in shown.iter().zip(expected) {
            assert_eq!((plain.as_str(), with.as_str()), (p, w));
        }
        assert_eq!(shown.len(), expected.len());
        let mut all: Vec<String> = names
            .iter()
            .flat_map(|n| [unraw(&n.plain), unraw(&n.with_options)])
            .collect();
        all.sort();
        all.dedup();
        assert_eq!(all.len(), 2 * names.len());
        // No `__` inside a name, which `non_snake_case` rejects.
        assert!(
            all.iter().all(|n| !n.trim_matches('_').contains("__")),
            "{all:?}"
        );
    }

    #[test]
    fn derived_names() {
        assert_eq!(
            server_struct("GreetService").to_string(),
            "GreetServiceServer"
        );
        assert_eq!(ext_trait("GreetService").to_string(), "GreetServiceExt");
        assert_eq!(
            client_struct("GreetService").to_string(),
            "GreetServiceClient"
        );
        assert_eq!(
            service_name_const("GreetService").to_string(),
            "GREET_SERVICE_NAME"
        );
        assert_eq!(
            descriptor_module("GreetService").to_string(),
            "greet_service"
        );
        assert_eq!(method_const("GreetStream").to_string(), "GREET_STREAM");
        assert_eq!(method_const("Methods").to_string(), "METHODS_");
        assert_eq!(
            method_path("greet.v1", "GreetService", "Greet"),
            "/greet.v1.GreetService/Greet"
        );
        assert_eq!(method_path("", "Svc", "M"), "/Svc/M");
    }
}

//! Proto comments → `#[doc]` attributes.

use proc_macro2::TokenStream;
use quote::quote;

/// Splits a raw proto comment (as found in `SourceCodeInfo`) into lines,
/// dropping the single leading space protoc keeps after `//` and trailing
/// blank lines.
///
/// ```
/// use connectrpc_codegen::docs::comment_lines;
/// assert_eq!(comment_lines(" Greet says hello.\n"), vec!["Greet says hello."]);
/// ```
pub fn comment_lines(raw: &str) -> Vec<String> {
    let mut lines: Vec<String> = raw
        .lines()
        .map(|l| l.strip_prefix(' ').unwrap_or(l).trim_end().to_string())
        .collect();
    while lines.last().is_some_and(|l| l.is_empty()) {
        lines.pop();
    }
    while lines.first().is_some_and(|l| l.is_empty()) {
        lines.remove(0);
    }
    lines
}

/// `#[doc = "..."]` attributes for `lines`.
///
/// Code fences without a language are marked `text`, so that comments
/// copied from proto files never become doctests.
pub fn doc_attrs(lines: &[String]) -> TokenStream {
    let mut in_fence = false;
    let attrs = lines.iter().map(|line| {
        let trimmed = line.trim_start();
        let text = if let Some(rest) = trimmed.strip_prefix("```") {
            let opening = !in_fence;
            in_fence = !in_fence;
            if opening && rest.trim().is_empty() {
                format!(" {line}text")
            } else {
                format!(" {line}")
            }
        } else if line.is_empty() {
            String::new()
        } else {
            format!(" {line}")
        };
        quote! { #[doc = #text] }
    });
    quote! { #(#attrs)* }
}

/// Doc attributes for `comments` followed by a paragraph of `extra`
/// (generator-written) text.
pub(crate) fn doc_with(comments: &[String], extra: &[&str]) -> TokenStream {
    let mut lines: Vec<String> = comments.to_vec();
    if !extra.is_empty() {
        if !lines.is_empty() {
            lines.push(String::new());
        }
        lines.extend(extra.iter().map(|s| s.to_string()));
    }
    doc_attrs(&lines)
}

/// `#[deprecated]` when `deprecated`, else nothing.
pub(crate) fn deprecated_attr(deprecated: bool) -> TokenStream {
    if deprecated {
        quote! { #[deprecated] }
    } else {
        TokenStream::new()
    }
}

/// `#[allow(deprecated)]` when `deprecated` items are named, else nothing.
pub(crate) fn allow_deprecated(deprecated: bool) -> TokenStream {
    if deprecated {
        quote! { #[allow(deprecated)] }
    } else {
        TokenStream::new()
    }
}

/// `#[allow(non_camel_case_types)]` when `ident` (a type or trait name
/// kept from the proto, such as `r#type`) is not `UpperCamelCase`.
pub(crate) fn allow_non_camel(ident: &proc_macro2::Ident) -> TokenStream {
    if crate::names::is_camel_case(&ident.to_string()) {
        TokenStream::new()
    } else {
        quote! { #[allow(non_camel_case_types)] }
    }
}

/// `#[allow(clippy::wrong_self_convention)]` when a generated method named
/// `ident` after an `rpc` trips it (see
/// [`breaks_self_convention`](crate::names::breaks_self_convention)).
pub(crate) fn allow_self_convention(ident: &proc_macro2::Ident) -> TokenStream {
    if crate::names::breaks_self_convention(&ident.to_string()) {
        quote! { #[allow(clippy::wrong_self_convention)] }
    } else {
        TokenStream::new()
    }
}

/// A doc link to `ident` (`[`GreetService`]`, or
/// `[`greet`](Self::greet)` with `target_prefix` `Self::`); a keyword
/// escaped as a raw identifier (`r#type`), which intra-doc links cannot
/// name, is plain code (`` `type` ``).
pub(crate) fn link(ident: &proc_macro2::Ident, target_prefix: &str) -> String {
    let name = ident.to_string();
    match name.strip_prefix("r#") {
        Some(bare) => format!("`{bare}`"),
        None if target_prefix.is_empty() => format!("[`{name}`]"),
        None => format!("[`{name}`]({target_prefix}{name})"),
    }
}

/// Documents the items buffa 0.9's generated Rust leaves undocumented, so
/// that a crate denying `missing_docs` builds with buffa's message code in
/// it, with no `#[allow(missing_docs)]` over the package modules (which
/// would hide missing docs in the service code too).
///
/// buffa documents messages, enums and fields from the proto comments (and
/// fields always with their number), but not:
///
/// - the package's `__buffa` module and its `view`, `oneof`, `ext` and
///   `lazy_view` submodules (the real homes of views and oneof enums,
///   which the package re-exports at natural paths);
/// - the modules holding a message's nested types (`pub mod outer` for
///   `message Outer { message Inner {} }`), on the owned and view side;
/// - the `__buffa_unknown_fields` field of view structs (hidden on owned
///   structs);
/// - enum values without a proto comment, oneof fields, and oneofs' owned
///   and view enums and their variants (buffa documents a oneof's owned
///   enum only from the oneof's comment).
///
/// This gives each such module, field, enum and variant a doc line
/// (`` `RED` (1).``, ``The `text` field is set.``) and the view field
/// `#[doc(hidden)]`. Apply it to the content of every buffa-generated file
/// (owned, view, oneof and package files; it leaves other text alone).
///
/// ```
/// use connectrpc_codegen::docs::document_buffa_output;
/// let buffa = "\
/// pub mod __buffa {
///     pub struct AView<'a> {
///         pub __buffa_unknown_fields: ::buffa::UnknownFieldsView<'a>,
///     }
/// }
/// /// Documented.
/// #[allow(unused)]
/// pub mod outer {
/// }
/// ";
/// assert_eq!(
///     document_buffa_output(buffa),
///     "\
/// /// buffa's support code for this package: views, oneof enums, extensions and type registration, re-exported at their natural paths.
/// pub mod __buffa {
///     pub struct AView<'a> {
///         #[doc(hidden)]
///         pub __buffa_unknown_fields: ::buffa::UnknownFieldsView<'a>,
///     }
/// }
/// /// Documented.
/// #[allow(unused)]
/// pub mod outer {
/// }
/// "
/// );
/// ```
pub fn document_buffa_output(content: &str) -> String {
    let mut out = String::with_capacity(content.len() + 256);
    let mut documented = false;
    // The enum whose body the lines are in: its indent and kind.
    let mut in_enum: Option<(usize, EnumKind)> = None;
    let lines: Vec<&str> = content.lines().collect();
    for (i, line) in lines.iter().enumerate() {
        let line = *line;
        let trimmed = line.trim_start();
        let indent = &line[..line.len() - trimmed.len()];
        if let Some((enum_indent, kind)) = in_enum {
            if indent.len() == enum_indent && trimmed.starts_with('}') {
                in_enum = None;
            } else if indent.len() == enum_indent + 4
                && !documented
                && let Some(doc) = kind.variant_doc(trimmed)
            {
                out.push_str(&format!("{indent}/// {doc}\n"));
            }
        }
        if let Some((name, kind)) = enum_start(trimmed, &lines[i + 1..]) {
            if !documented {
                out.push_str(&format!("{indent}/// {}\n", kind.enum_doc(name)));
            }
            in_enum = Some((indent.len(), kind));
        } else if let Some(field) = oneof_field(trimmed, lines.get(i + 1).copied()) {
            if !documented {
                out.push_str(&format!(
                    "{indent}/// The `{field}` oneof: which of its fields is set, if any.\n"
                ));
            }
        } else if let Some(name) = trimmed
            .strip_prefix("pub mod ")
            .and_then(|rest| rest.strip_suffix(" {"))
        {
            if !documented {
                let doc = match name {
                    "__buffa" => {
                        "buffa's support code for this package: views, oneof enums, extensions and type registration, re-exported at their natural paths."
                    }
                    "view" => "Zero-copy view types of this package's messages.",
                    "oneof" => "Enums of the messages' oneofs.",
                    "ext" => "Extensions declared in this package.",
                    "lazy_view" => "Lazily decoded view types of this package's messages.",
                    _ => "The types nested in the message this module is named after.",
                };
                out.push_str(&format!("{indent}/// {doc}\n"));
            }
        } else if trimmed.starts_with("pub __buffa_unknown_fields:") && !documented {
            out.push_str(&format!("{indent}#[doc(hidden)]\n"));
        }
        out.push_str(line);
        out.push('\n');
        // Attributes between a doc comment and its item keep it documented.
        if trimmed.starts_with("///") || trimmed.starts_with("#[doc") {
            documented = true;
        } else if !trimmed.starts_with("#[") && !trimmed.is_empty() {
            documented = false;
        }
    }
    out
}

/// What an enum in buffa's output stands for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum EnumKind {
    /// A proto `enum`: variants `NAME = 1i32,`.
    Proto,
    /// A oneof's enum: variants `Field(Type),`.
    Oneof,
    /// A oneof's view enum (`pub enum Choice<'a>`).
    OneofView,
}

impl EnumKind {
    fn enum_doc(self, name: &str) -> String {
        match self {
            EnumKind::Proto => format!("The `{name}` enum."),
            EnumKind::Oneof => format!("The `{name}` oneof: which of its fields is set."),
            EnumKind::OneofView => format!(
                "The `{name}` oneof, borrowed from the decoded buffer: which of its fields is set."
            ),
        }
    }

    /// The doc of the variant declared by `line` (`NAME = 1i32,` or
    /// `FieldName(`), if the line declares one.
    fn variant_doc(self, line: &str) -> Option<String> {
        let end = line
            .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
            .unwrap_or(line.len());
        let ident = &line[..end];
        if !ident.starts_with(|c: char| c.is_ascii_alphabetic()) {
            return None;
        }
        let rest = &line[end..];
        match self {
            EnumKind::Proto => {
                let value = rest.strip_prefix(" = ")?;
                let value = value.trim_end_matches(',').trim_end_matches("i32");
                Some(format!("`{ident}` ({value})."))
            }
            EnumKind::Oneof | EnumKind::OneofView => {
                rest.starts_with('(').then_some(())?;
                let field = crate::names::snake_case(ident);
                Some(format!("The `{field}` field is set."))
            }
        }
    }
}

/// The name and kind of the enum `line` opens (`pub enum Name {`), the
/// kind told by its first variant among `rest`.
fn enum_start<'a>(line: &'a str, rest: &[&str]) -> Option<(&'a str, EnumKind)> {
    let head = line.strip_prefix("pub enum ")?.strip_suffix(" {")?;
    let (name, view) = match head.strip_suffix("<'a>") {
        Some(name) => (name, true),
        None => (head, false),
    };
    let first = rest
        .iter()
        .map(|l| l.trim_start())
        .find(|l| !l.is_empty() && !l.starts_with("///") && !l.starts_with("#["))?;
    let kind = if view {
        EnumKind::OneofView
    } else if first.contains(" = ") {
        EnumKind::Proto
    } else {
        EnumKind::Oneof
    };
    Some((name, kind))
}

/// The name of the oneof whose field `line` declares
/// (`pub kind: ::core::option::Option<` with the oneof enum's path, which
/// goes through a `oneof` module, on this line or the next), if it is one.
fn oneof_field<'a>(line: &'a str, next: Option<&str>) -> Option<&'a str> {
    let (name, ty) = line.strip_prefix("pub ")?.split_once(": ")?;
    if !ty.starts_with("::core::option::Option<") || name.contains(' ') {
        return None;
    }
    let in_type = |text: &str| text.contains("oneof::");
    (in_type(ty) || next.is_some_and(in_type)).then(|| name.trim_start_matches("r#"))
}

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

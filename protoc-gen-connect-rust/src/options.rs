//! The plugin's options: the comma-separated `key=value` parameter string
//! (`--connect-rust_opt=..` for `protoc`, `opt:` in `buf.gen.yaml`).

use std::fmt;

use connectrpc_codegen::Options;
use connectrpc_codegen::bundle::{Config, Messages};

/// Every option the plugin knows, with its values, for `--help` and for
/// the error about an unknown one.
pub const KNOWN: &[(&str, &str)] = &[
    (
        "messages",
        "generate (default: buffa's message types too) | extern (services only)",
    ),
    (
        "buffa_module",
        "with messages=extern: where protoc-gen-buffa's output is mounted, e.g. crate::proto",
    ),
    (
        "extern_path",
        "<proto package or type>=<absolute Rust path>, repeatable, e.g. .my.common=::common_protos::my::common",
    ),
    ("client", "true (default) | false: typed clients"),
    (
        "server",
        "true (default) | false: service traits, servers, registration",
    ),
    (
        "runtime_crate",
        "the connectrpc runtime as generated code names it (default ::connectrpc)",
    ),
    (
        "json",
        "true (default) | false: serde JSON support on messages",
    ),
    (
        "views",
        "true (default) | false: buffa's zero-copy view types; false needs server=false in files with services (alias: generate_views)",
    ),
    (
        "strict_utf8_mapping",
        "false (default) | true: string fields with utf8_validation = NONE (every proto2 string) become Vec<u8> (alias: strict_utf8)",
    ),
    (
        "preserve_unknown_fields",
        "true (default) | false: keep unknown fields and re-encode them (alias: unknown_fields)",
    ),
    (
        "element_memory_limit",
        "bytes | unlimited: the bound for decoding the request (buffa's)",
    ),
];

/// A parameter string the plugin cannot use.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct OptionError {
    option: String,
    reason: String,
}

impl OptionError {
    fn new(option: &str, reason: impl Into<String>) -> Self {
        OptionError {
            option: option.to_string(),
            reason: reason.into(),
        }
    }

    /// The offending `key=value` entry, as given.
    pub fn option(&self) -> &str {
        &self.option
    }
}

impl fmt::Display for OptionError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "invalid option `{}`: {}", self.option, self.reason)
    }
}

impl std::error::Error for OptionError {}

/// Parses the parameter string into the generation config.
///
/// ```
/// use connectrpc_codegen::bundle::Messages;
/// use protoc_gen_connect_rust::options::parse;
///
/// let config = parse("messages=extern,buffa_module=crate::proto,client=false")?;
/// assert_eq!(config.messages_mode(), Messages::Extern);
/// assert!(!config.service_options().generates_client());
///
/// // buffa's switches, as protoc-gen-buffa spells them or in full.
/// let raw = parse("strict_utf8_mapping=true,preserve_unknown_fields=false,views=false,server=false")?;
/// let buffa = raw.codegen_config(&[]);
/// assert!(buffa.strict_utf8_mapping && !buffa.preserve_unknown_fields && !buffa.generate_views);
///
/// let err = parse("client=maybe").unwrap_err();
/// assert_eq!(
///     err.to_string(),
///     "invalid option `client=maybe`: expected `true` or `false`"
/// );
/// # Ok::<(), protoc_gen_connect_rust::options::OptionError>(())
/// ```
///
/// # Errors
///
/// An unknown key, an entry without `=`, or a value the key does not take.
pub fn parse(parameter: &str) -> Result<Config, OptionError> {
    let mut messages = Messages::Generate;
    let mut buffa_module = None;
    let mut extern_paths = Vec::new();
    let mut services = Options::new();
    let mut json = true;
    let mut views = true;
    let mut strict_utf8_mapping = false;
    let mut preserve_unknown_fields = true;

    for entry in parameter.split(',').map(str::trim) {
        if entry.is_empty() {
            continue;
        }
        let Some((key, value)) = entry.split_once('=') else {
            return Err(OptionError::new(
                entry,
                "expected `key=value` (options are separated by commas)",
            ));
        };
        let value = value.trim();
        match key.trim() {
            "messages" => {
                messages = match value {
                    "generate" => Messages::Generate,
                    "extern" => Messages::Extern,
                    _ => {
                        return Err(OptionError::new(
                            entry,
                            "expected `generate` (messages and services) or `extern` (services only)",
                        ));
                    }
                }
            }
            "buffa_module" => {
                if value.is_empty() {
                    return Err(OptionError::new(
                        entry,
                        "expected a module path such as `crate::proto`",
                    ));
                }
                buffa_module = Some(value.to_string());
            }
            "extern_path" => {
                let Some((proto, rust)) = value.split_once('=') else {
                    return Err(OptionError::new(
                        entry,
                        "expected `extern_path=<proto package or type>=<Rust path>`, e.g. `extern_path=.my.common=::common_protos::my::common`",
                    ));
                };
                let (proto, rust) = (proto.trim(), rust.trim());
                if proto.is_empty() || rust.is_empty() {
                    return Err(OptionError::new(
                        entry,
                        "both sides of an extern_path must be given",
                    ));
                }
                extern_paths.push((proto.to_string(), rust.to_string()));
            }
            "client" => services = services.client(boolean(entry, value)?),
            "server" => services = services.server(boolean(entry, value)?),
            "runtime_crate" => {
                let bare = value.strip_prefix("::").unwrap_or(value);
                if bare.is_empty() || !bare.split("::").all(is_ident) {
                    return Err(OptionError::new(
                        entry,
                        "expected a crate name or path such as `connectrpc` or `::my_crate::rpc`",
                    ));
                }
                services = services.runtime_crate(value);
            }
            "json" => json = boolean(entry, value)?,
            // The aliases are protoc-gen-buffa's spellings, so its options
            // carry over.
            "views" | "generate_views" => views = boolean(entry, value)?,
            "strict_utf8_mapping" | "strict_utf8" => strict_utf8_mapping = boolean(entry, value)?,
            "preserve_unknown_fields" | "unknown_fields" => {
                preserve_unknown_fields = boolean(entry, value)?
            }
            // Read by buffa_codegen::decode_request before the request is
            // decoded; only its syntax is checked again here.
            "element_memory_limit" => {
                buffa_codegen::element_memory_limit_opt(entry)
                    .map_err(|reason| OptionError::new(entry, reason))?;
            }
            other => {
                let known: Vec<&str> = KNOWN.iter().map(|(k, _)| *k).collect();
                return Err(OptionError::new(
                    entry,
                    format!("unknown option `{other}` (known: {})", known.join(", ")),
                ));
            }
        }
    }

    let mut config = Config::new()
        .messages(messages)
        .generate_json(json)
        .generate_views(views)
        .strict_utf8_mapping(strict_utf8_mapping)
        .preserve_unknown_fields(preserve_unknown_fields)
        .services(services);
    if let Some(module) = buffa_module {
        config = config.buffa_module(module);
    }
    for (proto, rust) in extern_paths {
        config = config.extern_path(proto, rust);
    }
    Ok(config)
}

fn boolean(entry: &str, value: &str) -> Result<bool, OptionError> {
    match value {
        "true" => Ok(true),
        "false" => Ok(false),
        _ => Err(OptionError::new(entry, "expected `true` or `false`")),
    }
}

fn is_ident(s: &str) -> bool {
    let mut chars = s.chars();
    chars
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
        && s != "_"
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults() {
        let config = parse("").unwrap();
        assert_eq!(config.messages_mode(), Messages::Generate);
        assert!(config.service_options().generates_client());
        assert!(config.service_options().generates_server());
        assert_eq!(
            config.service_options().runtime_path().to_string(),
            ":: connectrpc :: __codegen"
        );
        assert!(config.extern_paths().is_empty());
        let buffa = config.codegen_config(&[]);
        assert!(buffa.generate_json);
        assert!(buffa.generate_views);
        assert!(!buffa.strict_utf8_mapping);
        assert!(buffa.preserve_unknown_fields);
    }

    #[test]
    fn buffa_switches_pass_through() {
        for (param, views, strict, unknown) in [
            ("views=false", false, false, true),
            ("generate_views=false", false, false, true),
            ("views=true", true, false, true),
            ("strict_utf8_mapping=true", true, true, true),
            ("strict_utf8=true", true, true, true),
            ("strict_utf8_mapping=false", true, false, true),
            ("preserve_unknown_fields=false", true, false, false),
            ("unknown_fields=false", true, false, false),
            (
                "strict_utf8_mapping=true,preserve_unknown_fields=false,views=false",
                false,
                true,
                false,
            ),
        ] {
            let buffa = parse(param).unwrap().codegen_config(&[]);
            assert_eq!(buffa.generate_views, views, "{param}");
            assert_eq!(buffa.strict_utf8_mapping, strict, "{param}");
            assert_eq!(buffa.preserve_unknown_fields, unknown, "{param}");
        }
        let config = parse("views=false,server=false").unwrap();
        assert!(!config.effective_service_options().generates_views());
    }

    #[test]
    fn every_option() {
        let config = parse(
            " messages = extern , buffa_module=crate::proto, extern_path=my.common=::common,\
             extern_path=.my.common.Shared=::shared::Shared,client=false,server=true,\
             runtime_crate=my_rt,json=false,element_memory_limit=unlimited,",
        )
        .unwrap();
        assert_eq!(config.messages_mode(), Messages::Extern);
        assert_eq!(
            config.extern_paths(),
            [
                (".my.common".to_string(), "::common".to_string()),
                (
                    ".my.common.Shared".to_string(),
                    "::shared::Shared".to_string()
                ),
            ]
        );
        assert!(!config.service_options().generates_client());
        assert!(config.service_options().generates_server());
        assert_eq!(
            config.service_options().runtime_path().to_string(),
            ":: my_rt :: __codegen"
        );
        assert!(!config.codegen_config(&[]).generate_json);
    }

    #[test]
    fn bad_options_name_the_entry() {
        for (param, needle) in [
            ("clent=false", "unknown option `clent` (known: messages,"),
            ("client", "expected `key=value`"),
            ("server=yes", "expected `true` or `false`"),
            ("messages=all", "expected `generate`"),
            ("extern_path=.my.common", "expected `extern_path=<proto"),
            ("extern_path==::x", "both sides"),
            ("runtime_crate=my rt", "expected a crate name"),
            ("runtime_crate=", "expected a crate name"),
            ("buffa_module=", "expected a module path"),
            ("element_memory_limit=lots", "expected a byte count"),
            ("views=no", "expected `true` or `false`"),
            ("views=", "expected `true` or `false`"),
            ("strict_utf8_mapping=1", "expected `true` or `false`"),
            (
                "preserve_unknown_fields=False",
                "expected `true` or `false`",
            ),
            (
                "strict_utf8_maping=true",
                "unknown option `strict_utf8_maping`",
            ),
        ] {
            let err = parse(&format!("json=true,{param}")).unwrap_err();
            assert_eq!(err.option(), param);
            let text = err.to_string();
            assert!(
                text.starts_with(&format!("invalid option `{param}`: ")),
                "{text}"
            );
            assert!(text.contains(needle), "{param}: {text}");
        }
    }
}

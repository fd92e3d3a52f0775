use buffa_codegen::generated::descriptor::{
    DescriptorProto, EnumDescriptorProto, EnumValueDescriptorProto, FieldDescriptorProto,
    MethodDescriptorProto, ServiceDescriptorProto,
};

use buffa_codegen::IncludeMode;
use buffa_codegen::generated::descriptor::FileDescriptorProto;

use super::generate::document_modules;
use super::*;

fn message(name: &str) -> DescriptorProto {
    DescriptorProto {
        name: Some(name.into()),
        ..Default::default()
    }
}

fn method(name: &str, input: &str, output: &str) -> MethodDescriptorProto {
    MethodDescriptorProto {
        name: Some(name.into()),
        input_type: Some(input.into()),
        output_type: Some(output.into()),
        ..Default::default()
    }
}

/// `common/v1/common.proto` (package `common.v1`: `Shared` with a nested
/// `Inner` and an enum `Kind`) and `greet/v1/greet.proto` (package
/// `greet.v1`: `GreetRequest`, and `GreetService` taking a `GreetRequest`
/// and answering a `common.v1.Shared`).
fn corpus() -> Vec<FileDescriptorProto> {
    let common = FileDescriptorProto {
        name: Some("common/v1/common.proto".into()),
        package: Some("common.v1".into()),
        syntax: Some("proto3".into()),
        message_type: vec![DescriptorProto {
            name: Some("Shared".into()),
            nested_type: vec![message("Inner")],
            ..Default::default()
        }],
        enum_type: vec![EnumDescriptorProto {
            name: Some("Kind".into()),
            value: vec![EnumValueDescriptorProto {
                name: Some("KIND_UNSPECIFIED".into()),
                number: Some(0),
                ..Default::default()
            }],
            ..Default::default()
        }],
        ..Default::default()
    };
    let greet = FileDescriptorProto {
        name: Some("greet/v1/greet.proto".into()),
        package: Some("greet.v1".into()),
        syntax: Some("proto3".into()),
        dependency: vec!["common/v1/common.proto".into()],
        message_type: vec![message("GreetRequest")],
        service: vec![ServiceDescriptorProto {
            name: Some("GreetService".into()),
            method: vec![method(
                "Greet",
                ".greet.v1.GreetRequest",
                ".common.v1.Shared",
            )],
            ..Default::default()
        }],
        ..Default::default()
    };
    vec![common, greet]
}

fn greet_only() -> Vec<String> {
    vec!["greet/v1/greet.proto".into()]
}

fn both() -> Vec<String> {
    vec![
        "common/v1/common.proto".into(),
        "greet/v1/greet.proto".into(),
    ]
}

fn file<'a>(output: &'a Output, name: &str) -> &'a str {
    &output
        .files
        .iter()
        .find(|f| f.name == name)
        .unwrap_or_else(|| panic!("no {name}"))
        .content
}

#[test]
fn generate_mode_writes_messages_services_and_stitchers() {
    let output = generate(&corpus(), &both(), &Config::new()).unwrap();
    let names: Vec<_> = output.files.iter().map(|f| f.name.as_str()).collect();
    assert!(names.contains(&"greet.v1.greet.rs"), "{names:?}");
    assert!(names.contains(&"common.v1.common.rs"), "{names:?}");
    assert!(names.contains(&"greet.v1.greet.__connect.rs"), "{names:?}");
    let stitcher = file(&output, "greet.v1.mod.rs");
    assert!(stitcher.contains("include!(\"greet.v1.greet.__connect.rs\");"));
    let tree = output.module_tree(IncludeMode::Relative(""));
    assert!(tree.contains("#[allow(elided_lifetimes_in_paths, "));
    assert!(!tree.contains("missing_docs"), "{tree}");
    assert!(tree.contains("/// Protobuf package `greet.v1`."), "{tree}");
    assert!(tree.contains("include!(\"greet.v1.mod.rs\");"));
    assert!(!tree.contains("#!["), "usable through include!: {tree}");
}

#[test]
fn extern_mode_generates_services_only_against_buffa_module() {
    let config = Config::new()
        .messages(Messages::Extern)
        .buffa_module("crate::proto");
    let output = generate(&corpus(), &greet_only(), &config).unwrap();
    let names: Vec<_> = output.files.iter().map(|f| f.name.as_str()).collect();
    assert_eq!(names, ["greet.v1.mod.rs", "greet.v1.greet.__connect.rs"]);
    let code = file(&output, "greet.v1.greet.__connect.rs");
    assert!(
        code.contains("crate::proto::greet::v1::GreetRequest"),
        "{code}"
    );
    assert!(code.contains("crate::proto::common::v1::Shared"), "{code}");
    assert!(!code.contains("super::super::"), "{code}");
}

#[test]
fn extern_path_longest_and_exact_matches_win() {
    let config = Config::new()
        .messages(Messages::Extern)
        .buffa_module("crate::proto")
        .extern_path("common", "::common_crate")
        .extern_path(".common.v1", "::common_v1")
        .extern_path(".greet.v1.GreetRequest", "::special::Request");
    let codegen = config.codegen_config(&corpus());
    // The buffa module covers only what no extern_path covers.
    assert!(
        codegen
            .extern_paths
            .contains(&(".greet.v1".into(), "crate::proto::greet::v1".into()))
    );
    assert!(
        !codegen
            .extern_paths
            .contains(&(".common.v1".into(), "crate::proto::common::v1".into()))
    );
    let output = generate(&corpus(), &greet_only(), &config).unwrap();
    let code = file(&output, "greet.v1.greet.__connect.rs");
    // `.common.v1` beats `.common`; the exact type beats `.greet.v1`.
    assert!(code.contains("::common_v1::Shared"), "{code}");
    assert!(!code.contains("::common_crate"), "{code}");
    assert!(code.contains("::special::Request"), "{code}");
}

#[test]
fn extern_mode_without_a_path_names_the_file_and_method() {
    let config = Config::new().messages(Messages::Extern);
    let err = generate(&corpus(), &greet_only(), &config).unwrap_err();
    let text = err.to_string();
    assert!(
        text.starts_with("greet/v1/greet.proto: rpc GreetService.Greet:"),
        "{text}"
    );
    assert!(text.contains("buffa_module"), "{text}");
}

#[test]
fn unknown_extern_path_targets_are_errors() {
    let err = generate(
        &corpus(),
        &greet_only(),
        &Config::new().extern_path(".nope.v1", "::nope"),
    )
    .unwrap_err();
    assert!(matches!(err, Error::UnknownExternPath { .. }), "{err}");
    assert!(err.to_string().contains("`.nope.v1`"), "{err}");
    // A prefix of a package, a nested type and an enum are all known.
    for proto in [".common", ".common.v1.Shared.Inner", ".common.v1.Kind"] {
        generate(&corpus(), &both(), &Config::new().extern_path(proto, "::x"))
            .unwrap_or_else(|e| panic!("{proto}: {e}"));
    }
    // `.comm` is not a prefix on a segment boundary.
    assert!(
        generate(
            &corpus(),
            &greet_only(),
            &Config::new().extern_path(".comm", "::x")
        )
        .is_err()
    );
}

#[test]
fn malformed_extern_paths_and_modules_are_errors() {
    for (proto, rust) in [
        (".common.v1", "common_v1"),
        (".common.v1", "::"),
        (".common.v1", "::a::r#type"),
        (".common.v1", "::a b"),
        (".common..v1", "::a"),
        (".common.v1-x", "::a"),
    ] {
        let err = generate(
            &corpus(),
            &greet_only(),
            &Config::new().extern_path(proto, rust),
        )
        .unwrap_err();
        assert!(
            matches!(err, Error::InvalidExternPath { .. }),
            "{proto}={rust}: {err}"
        );
    }
    let err = generate(
        &corpus(),
        &greet_only(),
        &Config::new()
            .messages(Messages::Extern)
            .buffa_module("proto"),
    )
    .unwrap_err();
    assert!(err.to_string().contains("must be absolute"), "{err}");
    let err = generate(
        &corpus(),
        &greet_only(),
        &Config::new().buffa_module("crate::proto"),
    )
    .unwrap_err();
    assert!(err.to_string().contains("messages=extern"), "{err}");
}

#[test]
fn unknown_method_type_names_the_file() {
    let mut files = corpus();
    files[1].service[0].method[0].input_type = Some(".greet.v1.Missing".into());
    let err = generate(&files, &greet_only(), &Config::new()).unwrap_err();
    assert_eq!(
        err.to_string(),
        "greet/v1/greet.proto: rpc GreetService.Greet: message `.greet.v1.Missing` is not defined in this file or its imports"
    );
}

#[test]
fn buffa_failures_name_the_file() {
    let mut files = corpus();
    files[1].message_type[0].field.push(FieldDescriptorProto {
        name: Some("__buffa_oops".into()),
        number: Some(1),
        ..Default::default()
    });
    let err = generate(&files, &both(), &Config::new()).unwrap_err();
    let text = err.to_string();
    assert!(
        text.starts_with("greet/v1/greet.proto: generating messages:"),
        "{text}"
    );
    assert!(text.contains("__buffa_oops"), "{text}");
}

#[test]
fn missing_files_are_errors() {
    let err = generate(&corpus(), &["nope.proto".into()], &Config::new()).unwrap_err();
    assert_eq!(err.to_string(), "nope.proto: not in the descriptor set");
}

#[test]
fn keyword_packages_map_to_escaped_modules() {
    let mut files = corpus();
    files[0].package = Some("self.type".into());
    files[1].service[0].method[0].output_type = Some(".self.type.Shared".into());
    let config = Config::new()
        .messages(Messages::Extern)
        .buffa_module("crate::proto");
    let output = generate(&files, &greet_only(), &config).unwrap();
    let code = file(&output, "greet.v1.greet.__connect.rs");
    assert!(
        code.contains("crate::proto::self_::r#type::Shared"),
        "{code}"
    );
}

#[test]
fn imported_but_not_generated_types_are_errors() {
    // The rpc answers with common.v1.Shared, but only greet.proto is
    // generated and nothing maps common.v1 elsewhere.
    let err = generate(&corpus(), &greet_only(), &Config::new()).unwrap_err();
    assert_eq!(
        err.to_string(),
        "greet/v1/greet.proto: rpc GreetService.Greet: message `.common.v1.Shared` is defined in \
         common/v1/common.proto, which is neither generated nor mapped by an extern_path: \
         generate it too (buf: `strategy: all`; protoc: list it; connectrpc-build: add it to \
         `files`) or map `.common.v1.Shared` or its package with an extern_path"
    );
    // Mapped, it is fine.
    generate(
        &corpus(),
        &greet_only(),
        &Config::new().extern_path(".common.v1", "::common"),
    )
    .unwrap();

    // The same for a message field (buffa's dangling-reference warning).
    let mut files = corpus();
    files[1].service.clear();
    files[1].message_type[0].field.push(FieldDescriptorProto {
        name: Some("kind".into()),
        number: Some(1),
        r#type: Some(buffa_codegen::generated::descriptor::field_descriptor_proto::Type::TYPE_ENUM),
        type_name: Some(".common.v1.Kind".into()),
        ..Default::default()
    });
    let err = generate(&files, &greet_only(), &Config::new()).unwrap_err();
    assert!(
        err.to_string().starts_with(
            "greet/v1/greet.proto: field GreetRequest.kind: type `.common.v1.Kind` is defined in \
             common/v1/common.proto, which is neither generated"
        ),
        "{err}"
    );
}

#[test]
fn every_package_module_is_documented() {
    let tree = "#[allow(x)]\npub mod greet {\n    use super::*;\n    #[allow(x)]\n    pub mod v1 {\n    }\n    #[allow(x)]\n    pub mod r#type {\n    }\n}\npub mod other {\n}\n";
    let doc = document_modules(tree);
    assert!(
        doc.starts_with("/// Protobuf package `greet`.\n#[allow(x)]\npub mod greet {"),
        "{doc}"
    );
    assert!(
        doc.contains("    /// Protobuf package `greet.v1`.\n    #[allow(x)]\n    pub mod v1 {"),
        "{doc}"
    );
    assert!(
        doc.contains(
            "    /// Protobuf package `greet.type`.\n    #[allow(x)]\n    pub mod r#type {"
        ),
        "{doc}"
    );
    assert!(
        doc.contains("/// Protobuf package `other`.\npub mod other {"),
        "{doc}"
    );
    assert_eq!(doc.matches("///").count(), 4, "{doc}");
}

#[test]
fn each_service_module_embeds_its_file_and_imports() {
    use buffa::Message as _;
    use buffa_codegen::generated::descriptor::{FileDescriptorSet, SourceCodeInfo};

    let mut files = corpus();
    files[1].source_code_info = SourceCodeInfo::default().into();
    let output = generate(&files, &both(), &Config::new()).unwrap();
    let services = file(&output, "greet.v1.greet.__connect.rs");
    assert!(
        services.contains("pub const FILE_DESCRIPTOR_SET: &[u8] = b\""),
        "{services}"
    );

    // What the constant holds: the import first, then the service's file,
    // without source info.
    let set = crate::descriptor::file_descriptor_set(&files[1], &files);
    let set = FileDescriptorSet::decode_from_slice(&set).unwrap();
    let names: Vec<_> = set
        .file
        .iter()
        .map(|f| f.name.as_deref().unwrap())
        .collect();
    assert_eq!(names, ["common/v1/common.proto", "greet/v1/greet.proto"]);
    assert!(
        set.file
            .iter()
            .all(|f| f.source_code_info.as_option().is_none())
    );
    assert_eq!(set.file[1].service[0].name.as_deref(), Some("GreetService"));

    // A file without services gets no constant (it has no service module).
    assert!(!file(&output, "common.v1.common.rs").contains("FILE_DESCRIPTOR_SET"));
}

#[test]
fn a_method_named_file_descriptor_set_keeps_its_descriptor_apart() {
    let mut files = corpus();
    files[1].service[0].method[0].name = Some("FileDescriptorSet".into());
    let output = generate(&files, &both(), &Config::new()).unwrap();
    let services = file(&output, "greet.v1.greet.__connect.rs");
    assert!(
        services.contains("pub const FILE_DESCRIPTOR_SET_: "),
        "{services}"
    );
    assert!(services.contains("pub const FILE_DESCRIPTOR_SET: &[u8]"));
}

#[test]
fn oneof_fields_are_documented() {
    use buffa_codegen::generated::descriptor::OneofDescriptorProto;
    use buffa_codegen::generated::descriptor::field_descriptor_proto::{Label, Type};

    let mut files = corpus();
    files[1].message_type[0].field = vec![FieldDescriptorProto {
        name: Some("text".into()),
        number: Some(1),
        label: Some(Label::LABEL_OPTIONAL),
        r#type: Some(Type::TYPE_STRING),
        oneof_index: Some(0),
        ..Default::default()
    }];
    files[1].message_type[0].oneof_decl = vec![OneofDescriptorProto {
        name: Some("choice".into()),
        ..Default::default()
    }];
    let output = generate(&files, &both(), &Config::new()).unwrap();
    for name in ["greet.v1.greet.rs", "greet.v1.greet.__view.rs"] {
        let code = file(&output, name);
        let lines: Vec<&str> = code.lines().map(str::trim).collect();
        let at = lines
            .iter()
            .position(|l| l.starts_with("pub choice:"))
            .unwrap_or_else(|| panic!("{name}: {code}"));
        let doc = lines[..at]
            .iter()
            .rev()
            .find(|l| !l.starts_with("#["))
            .unwrap();
        assert_eq!(
            *doc, "/// The `choice` oneof: which of its fields is set, if any.",
            "{name}"
        );
    }
    // The oneof's enums and their variants, and a proto enum's values.
    let squashed = |name: &str| -> String {
        file(&output, name)
            .lines()
            .map(str::trim)
            .collect::<Vec<_>>()
            .join("\n")
    };
    let owned = squashed("greet.v1.greet.__oneof.rs");
    assert!(
        owned.contains("/// The `Choice` oneof: which of its fields is set.\npub enum Choice {"),
        "{owned}"
    );
    assert!(
        owned.contains("/// The `text` field is set.\nText("),
        "{owned}"
    );
    let view = squashed("greet.v1.greet.__view_oneof.rs");
    assert!(view.contains("/// The `Choice` oneof, borrowed"), "{view}");
    assert!(
        view.contains("/// The `text` field is set.\nText("),
        "{view}"
    );
    let common = squashed("common.v1.common.rs");
    assert!(
        common.contains("/// `KIND_UNSPECIFIED` (0).\nKIND_UNSPECIFIED = 0i32,"),
        "{common}"
    );
}

/// `corpus()` with `GreetRequest.name`, a `string`, in a proto2 file (whose
/// strings do not ask for UTF-8 validation), and `common.v1.Shared.s`, a
/// proto3 `string` (which does).
fn with_strings() -> Vec<FileDescriptorProto> {
    use buffa_codegen::generated::descriptor::field_descriptor_proto::{Label, Type};
    let mut files = corpus();
    files[0].message_type[0].field = vec![FieldDescriptorProto {
        name: Some("s".into()),
        number: Some(1),
        label: Some(Label::LABEL_OPTIONAL),
        r#type: Some(Type::TYPE_STRING),
        ..Default::default()
    }];
    files[1].syntax = Some("proto2".into());
    files[1].message_type[0].field = vec![FieldDescriptorProto {
        name: Some("name".into()),
        number: Some(1),
        label: Some(Label::LABEL_OPTIONAL),
        r#type: Some(Type::TYPE_STRING),
        ..Default::default()
    }];
    files
}

#[test]
fn strict_utf8_mapping_makes_unvalidated_strings_bytes() {
    let squash = |s: &str| s.split_whitespace().collect::<String>();
    let lenient = generate(&with_strings(), &both(), &Config::new()).unwrap();
    let owned = squash(file(&lenient, "greet.v1.greet.rs"));
    assert!(
        owned.contains("pubname:::core::option::Option<::buffa::alloc::string::String>"),
        "{owned}"
    );
    let strict = generate(
        &with_strings(),
        &both(),
        &Config::new().strict_utf8_mapping(true),
    )
    .unwrap();
    let owned = squash(file(&strict, "greet.v1.greet.rs"));
    assert!(
        owned.contains("pubname:::core::option::Option<::buffa::alloc::vec::Vec<u8>>"),
        "{owned}"
    );
    let view = squash(file(&strict, "greet.v1.greet.__view.rs"));
    assert!(
        view.contains("pubname:::core::option::Option<&'a[u8]>"),
        "{view}"
    );
    // A proto3 string asks for validation: a `String` either way.
    let common = squash(file(&strict, "common.v1.common.rs"));
    assert!(!common.contains("u8>"), "{common}");
}

#[test]
fn unknown_fields_are_kept_unless_turned_off() {
    let kept = generate(&corpus(), &both(), &Config::new()).unwrap();
    assert!(file(&kept, "greet.v1.greet.rs").contains("__buffa_unknown_fields"));
    let dropped = generate(
        &corpus(),
        &both(),
        &Config::new().preserve_unknown_fields(false),
    )
    .unwrap();
    for f in &dropped.files {
        assert!(
            !f.content.contains("__buffa_unknown_fields"),
            "{}: {}",
            f.name,
            f.content
        );
    }
}

#[test]
fn views_off_generates_owned_clients_only() {
    let config = Config::new()
        .generate_views(false)
        .services(crate::Options::new().server(false));
    let output = generate(&corpus(), &both(), &config).unwrap();
    let names: Vec<_> = output.files.iter().map(|f| f.name.as_str()).collect();
    assert!(names.contains(&"greet.v1.greet.__connect.rs"), "{names:?}");
    for f in &output.files {
        assert!(!f.name.contains("view"), "{names:?}");
        assert!(!f.content.contains("View"), "{}: {}", f.name, f.content);
    }
    let code = file(&output, "greet.v1.greet.__connect.rs");
    assert!(code.contains("pub struct GreetServiceClient<T>"), "{code}");
    assert!(code.contains("pub fn greet_with_options("), "{code}");
    assert!(!code.contains("fn greet_view"), "{code}");
    assert!(!code.contains("pub trait GreetService"), "{code}");
}

#[test]
fn views_off_refuses_servers_naming_the_file_service_and_way_out() {
    let err = generate(&corpus(), &both(), &Config::new().generate_views(false)).unwrap_err();
    let text = err.to_string();
    for needle in [
        "greet/v1/greet.proto: ",
        "service `greet.v1.GreetService`",
        "views=false",
        "server(false)",
        "server=false",
    ] {
        assert!(text.contains(needle), "`{needle}` in {text}");
    }
    // Messages alone need no views.
    let messages_only = vec!["common/v1/common.proto".to_string()];
    let output = generate(
        &corpus(),
        &messages_only,
        &Config::new().generate_views(false),
    )
    .unwrap();
    assert!(output.files.iter().all(|f| !f.content.contains("View")));
}

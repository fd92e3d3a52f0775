//! Every generated service embeds a `FILE_DESCRIPTOR_SET` that stands on
//! its own: it decodes, links (every imported type is in it: other
//! packages, well-known types, editions features) and, registered with
//! server reflection, lists the service and resolves its methods.

use codegen_tests::corpus as proto;
use codegen_tests::editions::editions::v1 as editions;
use connectrpc::reflection::Reflection;

#[test]
#[allow(deprecated)]
fn each_service_descriptor_set_links_on_its_own() {
    let sets: &[(&str, &[u8])] = &[
        (
            proto::clash::v1::CLASH_SERVICE_NAME,
            proto::clash::v1::clash_service_::FILE_DESCRIPTOR_SET,
        ),
        (
            proto::deprecated::v1::OLD_SERVICE_NAME,
            proto::deprecated::v1::old_service::FILE_DESCRIPTOR_SET,
        ),
        (
            proto::deprecated::v1::MIXED_SERVICE_NAME,
            proto::deprecated::v1::mixed_service::FILE_DESCRIPTOR_SET,
        ),
        (
            editions::EDITION_SERVICE_NAME,
            editions::edition_service::FILE_DESCRIPTOR_SET,
        ),
        (
            proto::importer::v1::IMPORT_SERVICE_NAME,
            proto::importer::v1::import_service::FILE_DESCRIPTOR_SET,
        ),
        (
            proto::r#type::self_::crate_::TYPE_NAME,
            proto::r#type::self_::crate_::type_::FILE_DESCRIPTOR_SET,
        ),
        (
            proto::r#type::self_::crate_::SELF_NAME,
            proto::r#type::self_::crate_::self__::FILE_DESCRIPTOR_SET,
        ),
        (
            proto::methods::v1::SERVICE_NAME,
            proto::methods::v1::service::FILE_DESCRIPTOR_SET,
        ),
        (
            proto::multi::v1::ALPHA_SERVICE_NAME,
            proto::multi::v1::alpha_service::FILE_DESCRIPTOR_SET,
        ),
        (
            proto::multi::v1::BETA_SERVICE_NAME,
            proto::multi::v1::beta_service::FILE_DESCRIPTOR_SET,
        ),
        (
            proto::my_pkg2::v1_beta3::HTTP2_SERVICE_NAME,
            proto::my_pkg2::v1_beta3::http2_service::FILE_DESCRIPTOR_SET,
        ),
        (
            proto::nested::v1::NESTED_SERVICE_NAME,
            proto::nested::v1::nested_service::FILE_DESCRIPTOR_SET,
        ),
        (
            proto::BARE_SERVICE_NAME,
            proto::bare_service::FILE_DESCRIPTOR_SET,
        ),
        (
            proto::optional::v1::MAYBE_SERVICE_NAME,
            proto::optional::v1::maybe_service::FILE_DESCRIPTOR_SET,
        ),
        (
            proto::split::v1::ONE_SERVICE_NAME,
            proto::split::v1::one_service::FILE_DESCRIPTOR_SET,
        ),
        (
            proto::split::v1::TWO_SERVICE_NAME,
            proto::split::v1::two_service::FILE_DESCRIPTOR_SET,
        ),
        (
            proto::streaming::v1::TICK_SERVICE_NAME,
            proto::streaming::v1::tick_service::FILE_DESCRIPTOR_SET,
        ),
        (
            proto::wkt::v1::WELL_KNOWN_SERVICE_NAME,
            proto::wkt::v1::well_known_service::FILE_DESCRIPTOR_SET,
        ),
    ];
    let mut all = Reflection::new();
    for (service, set) in sets {
        let alone = Reflection::new()
            .register_file_descriptor_set(set)
            .unwrap_or_else(|e| panic!("{service}: {e}"));
        assert!(alone.services().any(|s| s == *service), "{service}");
        all = all
            .register_file_descriptor_set(set)
            .unwrap_or_else(|e| panic!("{service} next to the others: {e}"));
    }
    for (service, _) in sets {
        assert!(all.services().any(|s| s == *service), "{service}");
    }
}

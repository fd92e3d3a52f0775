//! What each of buffa's switches changes in generated code, by behaviour:
//! every file is generated with the switch and without it (see
//! `codegen_tests::switches`), and each test shows the difference, so it
//! fails if a switch stops reaching buffa.

use std::path::Path;

use buffa::Message as _;
use buffa::view::MessageView as _;
use codegen_tests::switches::*;
use connectrpc::{ClientConfig, ConnectError, Context, HttpClient, OwnedView, ResponseStream};

/// Latin-1 `café` and a stray `0xff`: not UTF-8.
const NOT_UTF8: &[u8] = b"caf\xe9 \xff";

/// A server on 127.0.0.1 for `router`, stopping when dropped, and its base
/// URI.
struct TestServer {
    base: String,
    _stop: tokio::sync::oneshot::Sender<()>,
}

async fn start(router: connectrpc::Router) -> TestServer {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let (tx, rx) = tokio::sync::oneshot::channel::<()>();
    tokio::spawn(
        connectrpc::Server::new(router)
            .with_graceful_shutdown(async move {
                let _ = rx.await;
            })
            .serve_with_listener(listener),
    );
    TestServer { base, _stop: tx }
}

fn config(base: &str, json: bool) -> ClientConfig {
    let config = ClientConfig::new(base.parse().unwrap());
    if json { config.json() } else { config }
}

/// The generated files in `OUT_DIR/switches/<tree>/`, by name.
fn generated(tree: &str) -> Vec<(String, String)> {
    let dir = Path::new(env!("OUT_DIR")).join("switches").join(tree);
    let mut files: Vec<(String, String)> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|entry| {
            let path = entry.unwrap().path();
            let name = path.file_name().unwrap().to_string_lossy().into_owned();
            (name, std::fs::read_to_string(&path).unwrap())
        })
        .collect();
    files.sort();
    files
}

// ---- strict_utf8_mapping -------------------------------------------------

/// The wire form of a `Raw` whose `name` (field 1) is [`NOT_UTF8`].
fn raw_name_not_utf8() -> Vec<u8> {
    let mut wire = vec![0x0a, NOT_UTF8.len() as u8];
    wire.extend_from_slice(NOT_UTF8);
    wire
}

#[test]
fn without_strict_utf8_mapping_every_string_is_a_validated_string() {
    use raw_lenient::raw::v1::{Raw, RawView};
    let msg = Raw {
        name: Some("name".to_string()),
        tags: vec!["tag".to_string()],
        ..Default::default()
    };
    let back = Raw::decode_from_slice(&msg.encode_to_vec()).unwrap();
    let name: Option<String> = back.name;
    assert_eq!(name.as_deref(), Some("name"));
    // `utf8_validation = NONE` is not honoured: decode still validates.
    assert!(Raw::decode_from_slice(&raw_name_not_utf8()).is_err());
    assert!(RawView::decode_view(&raw_name_not_utf8()).is_err());
}

macro_rules! strict_utf8_tests {
    ($($tree:ident),*) => {$(
        mod $tree {
            use super::*;
            use codegen_tests::switches::$tree::raw::v1::{
                Raw, RawService, RawServiceClient, RawServiceExt, raw_service::RawView,
            };

            #[test]
            fn unvalidated_strings_are_bytes_and_round_trip() {
                let msg = Raw {
                    name: Some(NOT_UTF8.to_vec()),
                    checked: Some("checked".to_string()),
                    tags: vec![NOT_UTF8.to_vec(), b"plain".to_vec()],
                    ..Default::default()
                };
                let wire = msg.encode_to_vec();
                // The wire format is unchanged: the same bytes as a
                // `string` field holding them.
                assert_eq!(&wire[..raw_name_not_utf8().len()], &raw_name_not_utf8()[..]);
                let back = Raw::decode_from_slice(&wire).unwrap();
                assert!(back == msg);
                let name: Option<Vec<u8>> = back.name;
                let checked: Option<String> = back.checked;
                assert_eq!(name.as_deref(), Some(NOT_UTF8));
                assert_eq!(checked.as_deref(), Some("checked"));
                // Views borrow the raw bytes.
                let view = RawView::decode_view(&wire).unwrap();
                let name: Option<&[u8]> = view.name;
                assert_eq!(name, Some(NOT_UTF8));
                let tags: Vec<&[u8]> = view.tags.iter().copied().collect();
                assert_eq!(tags, [NOT_UTF8, b"plain"]);
                // A field left at `VERIFY` is still validated.
                let mut bad_checked = vec![0x12, NOT_UTF8.len() as u8];
                bad_checked.extend_from_slice(NOT_UTF8);
                assert!(Raw::decode_from_slice(&bad_checked).is_err());
                // JSON writes the raw field as base64, like `bytes`.
                let json = serde_json::to_value(&msg).unwrap();
                assert_eq!(json["name"], "Y2Fm6SD/");
                assert_eq!(json["checked"], "checked");
            }

            struct Echo;

            impl RawService for Echo {
                async fn echo(
                    &self,
                    ctx: Context,
                    request: OwnedView<RawView<'static>>,
                ) -> Result<(Raw, Context), ConnectError> {
                    let name: Option<&[u8]> = request.reborrow().name;
                    if name != Some(NOT_UTF8) {
                        return Err(ConnectError::invalid_argument("name is not NOT_UTF8"));
                    }
                    Ok((request.to_owned_message(), ctx))
                }
            }

            /// A served request and its answer carry non-UTF-8 bytes
            /// through, over both codecs.
            #[tokio::test]
            async fn non_utf8_bytes_cross_a_call() {
                let router = std::sync::Arc::new(Echo).register(connectrpc::Router::new());
                let server = start(router).await;
                let msg = Raw {
                    name: Some(NOT_UTF8.to_vec()),
                    tags: vec![NOT_UTF8.to_vec()],
                    ..Default::default()
                };
                for json in [false, true] {
                    let client = RawServiceClient::new(HttpClient::plaintext(), config(&server.base, json));
                    let answer = client
                        .echo(&msg)
                        .await
                        .unwrap_or_else(|e| panic!("json {json}: {e:?}"))
                        .into_message();
                    assert!(answer == msg, "json {json}");
                }
            }
        }
    )*};
}

mod strict_utf8 {
    use super::*;
    strict_utf8_tests!(raw_strict, plugin_raw_strict);
}

/// The lenient server refuses what the strict client sends: the switch
/// changes what is accepted, not just the Rust types.
#[tokio::test]
async fn a_lenient_server_rejects_non_utf8_strings() {
    use raw_lenient::raw::v1::{Raw, RawService, RawServiceExt, raw_service::RawView};
    struct Echo;
    impl RawService for Echo {
        async fn echo(
            &self,
            ctx: Context,
            request: OwnedView<RawView<'static>>,
        ) -> Result<(Raw, Context), ConnectError> {
            Ok((request.to_owned_message(), ctx))
        }
    }
    let server = start(std::sync::Arc::new(Echo).register(connectrpc::Router::new())).await;
    let client = raw_strict::raw::v1::RawServiceClient::new(
        HttpClient::plaintext(),
        config(&server.base, false),
    );
    let valid = raw_strict::raw::v1::Raw {
        name: Some(b"fine".to_vec()),
        ..Default::default()
    };
    assert_eq!(
        client
            .echo(&valid)
            .await
            .unwrap()
            .into_message()
            .name
            .as_deref(),
        Some(&b"fine"[..])
    );
    let invalid = raw_strict::raw::v1::Raw {
        name: Some(NOT_UTF8.to_vec()),
        ..Default::default()
    };
    let err = client.echo(&invalid).await.unwrap_err();
    assert_eq!(err.code(), connectrpc::Code::InvalidArgument, "{err:?}");
}

// ---- preserve_unknown_fields ---------------------------------------------

/// A `Wide` as a newer peer sends it: `extra` and `note` are unknown to
/// `Narrow`.
fn wide() -> unknown_kept::unknown::v1::Wide {
    unknown_kept::unknown::v1::Wide {
        name: "n".into(),
        extra: 7,
        note: "new".into(),
        ..Default::default()
    }
}

#[test]
fn kept_unknown_fields_survive_a_re_encode() {
    use unknown_kept::unknown::v1::{Narrow, Wide};
    let wire = wide().encode_to_vec();
    let narrow = Narrow::decode_from_slice(&wire).unwrap();
    assert_eq!(narrow.name, "n");
    let again = narrow.encode_to_vec();
    assert_eq!(again, wire);
    let back = Wide::decode_from_slice(&again).unwrap();
    assert_eq!((back.extra, back.note.as_str()), (7, "new"));
}

macro_rules! dropped_unknown_tests {
    ($($tree:ident),*) => {$(
        #[test]
        fn $tree() {
            use codegen_tests::switches::$tree::unknown::v1::Narrow;
            use unknown_kept::unknown::v1::Wide;
            let wire = wide().encode_to_vec();
            let narrow = Narrow::decode_from_slice(&wire).unwrap();
            assert_eq!(narrow.name, "n");
            let again = narrow.encode_to_vec();
            // `name` is the whole struct: no field stores unknown ones (a
            // struct literal without `..` would not compile otherwise).
            let name_only = Narrow { name: "n".into() }.encode_to_vec();
            assert_eq!(again, name_only);
            let back = Wide::decode_from_slice(&again).unwrap();
            assert_eq!((back.name.as_str(), back.extra, back.note.as_str()), ("n", 0, ""));
            // Nor anywhere else in the generated code.
            for (file, code) in generated(stringify!($tree)) {
                assert!(!code.contains("__buffa_unknown_fields"), "{file}");
            }
        }
    )*};
}

mod dropped_unknown_fields {
    use super::*;
    dropped_unknown_tests!(unknown_dropped, plugin_unknown_dropped);
}

// ---- generate_views ------------------------------------------------------

#[test]
fn views_off_generates_no_view_types() {
    let with_views = generated("owned_views");
    assert!(
        with_views.iter().any(|(_, code)| code.contains("NoteView")),
        "the views-on tree has views (or this test checks nothing)"
    );
    assert!(with_views.iter().any(|(name, _)| name.contains("__view")));
    for tree in ["owned_client", "plugin_owned_client"] {
        let files = generated(tree);
        assert!(
            files.iter().any(|(name, _)| name.ends_with("__connect.rs")),
            "{tree}: no service code"
        );
        for (name, code) in files {
            assert!(!name.contains("view"), "{tree}/{name}");
            assert!(!code.contains("View"), "{tree}/{name} names a view");
            assert!(!code.contains("_view"), "{tree}/{name} has a _view method");
            assert!(
                !code.contains("pub trait NoteService"),
                "{tree}/{name} has a server"
            );
        }
    }
}

/// The server, generated with views.
mod note_server {
    use super::*;
    use futures_util::StreamExt as _;
    use owned_views::owned::v1::{Note, NoteService, NoteServiceExt, note_service::NoteView};

    pub(super) struct Notes;

    impl NoteService for Notes {
        async fn put(
            &self,
            ctx: Context,
            request: OwnedView<NoteView<'static>>,
        ) -> Result<(Note, Context), ConnectError> {
            let mut note = request.to_owned_message();
            note.text = note.text.to_uppercase();
            Ok((note, ctx))
        }

        async fn split(
            &self,
            ctx: Context,
            request: OwnedView<NoteView<'static>>,
        ) -> Result<(ResponseStream<Note>, Context), ConnectError> {
            let notes: Vec<Result<Note, ConnectError>> = request
                .reborrow()
                .tags
                .iter()
                .map(|tag| {
                    Ok(Note {
                        text: tag.to_string(),
                        ..Default::default()
                    })
                })
                .collect();
            Ok((Box::pin(futures_util::stream::iter(notes)), ctx))
        }

        async fn join(
            &self,
            ctx: Context,
            mut requests: connectrpc::Streaming<NoteView<'static>>,
        ) -> Result<(Note, Context), ConnectError> {
            let mut texts = Vec::new();
            while let Some(note) = requests.next().await {
                texts.push(note?.reborrow().text.to_string());
            }
            Ok((
                Note {
                    text: texts.join(","),
                    ..Default::default()
                },
                ctx,
            ))
        }
    }

    pub(super) fn router() -> connectrpc::Router {
        std::sync::Arc::new(Notes).register(connectrpc::Router::new())
    }
}

macro_rules! view_less_client_tests {
    ($($tree:ident),*) => {$(
        /// The view-less client, owned messages in and out, calls every
        /// method of a server generated with views, over both codecs.
        #[tokio::test]
        async fn $tree() {
            use codegen_tests::switches::$tree::owned::v1::{Note, NoteServiceClient};
            let server = start(note_server::router()).await;
            for json in [false, true] {
                let client = NoteServiceClient::new(HttpClient::plaintext(), config(&server.base, json));
                let note = Note {
                    text: "hello".into(),
                    tags: vec!["a".into(), "b".into()],
                    ..Default::default()
                };
                let put: Note = client.put(&note).await.unwrap().into_message();
                assert_eq!(put.text, "HELLO", "json {json}");
                assert_eq!(put.tags, ["a", "b"], "json {json}");
                let mut split = client.split(&note).await.unwrap();
                let mut texts = Vec::new();
                while let Some(n) = split.message().await {
                    texts.push(n.unwrap().text);
                }
                assert_eq!(texts, ["a", "b"], "json {json}");
                let joined = client
                    .join(futures_util::stream::iter(vec![note.clone(), put]))
                    .await
                    .unwrap()
                    .into_message();
                assert_eq!(joined.text, "hello,HELLO", "json {json}");
            }
        }
    )*};
}

mod view_less_clients {
    use super::*;
    view_less_client_tests!(owned_client, plugin_owned_client);
}

//! One call through every method of every corpus service, with the
//! generated clients over `connectrpc::HttpClient`.
//!
//! Written against `super::proto` and `super::editions` like
//! [`impls`](super::impls); each function panics with the method's name
//! when an answer is wrong.

use connectrpc::client::ClientBody;
use connectrpc::{ClientConfig, ConnectError, HttpClient};
use futures_util::stream;

use super::editions::editions::v1 as editions;
use super::proto::clash::v1 as clash;
use super::proto::deprecated::v1 as deprecated;
use super::proto::importer::v1 as importer;
use super::proto::methods::v1 as methods;
use super::proto::multi::v1 as multi;
use super::proto::my_pkg2::v1_beta3 as digits;
use super::proto::nested::v1 as nested;
use super::proto::optional::v1 as optional;
use super::proto::split::v1 as split;
use super::proto::streaming::v1 as streaming;
use super::proto::r#type::self_::crate_ as keywords;
use super::proto::wkt::v1 as wkt;

/// The channel every call goes over.
pub type Channel = HttpClient<ClientBody>;

/// The plaintext HTTP/1.1 and h2c channel, and a config for `base`
/// (`http://127.0.0.1:PORT`) speaking Connect with the binary codec, or
/// JSON when `json` is set.
pub fn channel(base: &str, json: bool) -> (Channel, ClientConfig) {
    let config = ClientConfig::new(base.parse().expect("base URI"));
    let config = if json { config.json() } else { config };
    (HttpClient::plaintext(), config)
}

/// Every message of a server stream.
async fn drain<M>(mut s: connectrpc::ServerStreaming<M>) -> Result<Vec<M>, ConnectError>
where
    M: buffa::Message + serde::de::DeserializeOwned + Send + 'static,
{
    let mut out = Vec::new();
    while let Some(m) = s.message().await {
        out.push(m?);
    }
    Ok(out)
}

/// Sends `requests` on a bidi stream, closes it, and reads every answer.
async fn bidi<Req, Resp>(
    mut s: connectrpc::BidiStream<Req, Resp>,
    requests: &[Req],
) -> Result<Vec<Resp>, ConnectError>
where
    Req: buffa::Message + serde::Serialize + Send + 'static,
    Resp: buffa::Message + serde::de::DeserializeOwned + Send + 'static,
{
    for r in requests {
        s.send(r).await?;
    }
    s.close_send();
    let mut out = Vec::new();
    while let Some(m) = s.message().await {
        out.push(m?);
    }
    Ok(out)
}

/// `type.self.crate.type` and `type.self.crate.self`: keyword package,
/// services, methods and fields.
pub async fn keywords(base: &str, json: bool) -> Result<(), ConnectError> {
    let (ch, config) = channel(base, json);
    let client = keywords::TypeClient::new(ch.clone(), config.clone());
    let k = keywords::Keywords {
        r#type: "t".into(),
        self_: "s".into(),
        crate_: "c".into(),
        r#async: 2,
        r#match: true,
        ..Default::default()
    };
    let out = client.r#async(&k).await?.into_message();
    assert_eq!(
        (out.r#type.as_str(), out.self_.as_str(), out.r#async),
        ("t+async", "s", 2),
        "async"
    );
    let out = client.r#match(&k).await?.into_message();
    assert!(!out.r#match, "match");
    let out = drain(client.self_(&k).await?).await?;
    assert_eq!(out.len(), 2, "self");
    assert_eq!(out[0].r#type, "t+self", "self");
    let out = client
        .crate_(stream::iter(vec![k.clone(), k.clone()]))
        .await?
        .into_message();
    assert_eq!(out.crate_, "c,c", "crate");
    let out = bidi(client.r#type().await?, std::slice::from_ref(&k)).await?;
    assert_eq!(out[0].r#type, "t+type", "type");
    let view = client
        .async_view_with_options(&k, Default::default())
        .await?
        .into_message();
    assert_eq!(view.reborrow().r#type, "t+async", "async_view");

    let client = keywords::SelfClient::new(ch, config);
    let out = client.self_(&k).await?.into_message();
    assert_eq!(out.self_, "s+Self", "Self");
    Ok(())
}

/// `methods.v1.Service`: rpcs named like the generated code's own items.
pub async fn methods(base: &str, json: bool) -> Result<(), ConnectError> {
    let (ch, config) = channel(base, json);
    let client = methods::ServiceClient::new(ch, config);
    // `clone` still clones the client.
    let client = client.clone();
    let n = methods::Num {
        value: 100,
        ..Default::default()
    };
    let value = |r: connectrpc::Response<methods::Num>| r.into_message().value;
    assert_eq!(value(client.new_(&n).await?), 101, "New");
    assert_eq!(value(client.clone_(&n).await?), 102, "Clone");
    assert_eq!(value(client.call(&n).await?), 103, "Call");
    assert_eq!(value(client.connect(&n).await?), 104, "Connect");
    assert_eq!(value(client.client_(&n).await?), 105, "Client");
    assert_eq!(value(client.from_client_(&n).await?), 106, "FromClient");
    assert_eq!(value(client.register(&n).await?), 107, "Register");
    assert_eq!(value(client.methods(&n).await?), 108, "Methods");
    assert_eq!(value(client.poll_ready(&n).await?), 109, "PollReady");
    assert_eq!(value(client.call_rpc(&n).await?), 110, "CallRpc");
    assert_eq!(value(client.get_ref(&n).await?), 111, "GetRef");
    assert_eq!(
        value(client.new_with_options_(&n).await?),
        112,
        "NewWithOptions"
    );
    assert_eq!(
        value(client.new_with_options(&n, Default::default()).await?),
        101,
        "New with options"
    );
    assert_eq!(methods::service::METHODS_.method(), "Methods");
    assert_eq!(methods::service::METHODS.len(), 12);
    Ok(())
}

/// `multi.v1`: two services in one file.
pub async fn multi(base: &str, json: bool) -> Result<(), ConnectError> {
    let (ch, config) = channel(base, json);
    let ping = multi::Ping {
        text: "hi".into(),
        ..Default::default()
    };
    let alpha = multi::AlphaServiceClient::new(ch.clone(), config.clone());
    assert_eq!(alpha.ping(&ping).await?.into_message().text, "alpha:hi");
    let beta = multi::BetaServiceClient::new(ch, config);
    assert_eq!(beta.ping(&ping).await?.into_message().text, "beta:hi");
    let many = drain(beta.ping_many(&ping).await?).await?;
    assert_eq!(many.len(), 2, "PingMany");
    Ok(())
}

/// `split.v1`: one package over two files.
pub async fn split(base: &str, json: bool) -> Result<(), ConnectError> {
    let (ch, config) = channel(base, json);
    let one = split::OneServiceClient::new(ch.clone(), config.clone());
    let two = one
        .convert(&split::One {
            n: 7,
            ..Default::default()
        })
        .await?
        .into_message();
    assert_eq!(two.name, "7");
    let back = split::TwoServiceClient::new(ch, config)
        .convert(&two)
        .await?
        .into_message();
    assert_eq!(back.n, 7);
    Ok(())
}

/// `nested.v1`: nested messages and enums in and out.
pub async fn nested(base: &str, json: bool) -> Result<(), ConnectError> {
    let (ch, config) = channel(base, json);
    let client = nested::NestedServiceClient::new(ch, config);
    let inner = nested::outer::Inner {
        kind: nested::outer::inner::Kind::KIND_FIRST.into(),
        deeper: buffa::MessageField::some(nested::outer::inner::Deeper {
            label: "deep".into(),
            ..Default::default()
        }),
        ..Default::default()
    };
    let outer = client.wrap(&inner).await?.into_message();
    assert_eq!(outer.level, nested::Level::LEVEL_HIGH, "Wrap");
    assert_eq!(outer.inner.kind, nested::outer::inner::Kind::KIND_FIRST);
    let deeper = client.deepest(&outer).await?.into_message();
    assert_eq!(deeper.label, "deep", "Deepest");
    Ok(())
}

/// `my_pkg2.v1_beta3`: underscores and digits.
pub async fn digits(base: &str, json: bool) -> Result<(), ConnectError> {
    let (ch, config) = channel(base, json);
    let client = digits::Http2ServiceClient::new(ch, config);
    let frame = digits::Http2Frame {
        stream_id: 3,
        ..Default::default()
    };
    assert_eq!(client.echo2(&frame).await?.into_message().stream_id, 3);
    assert_eq!(client.get_v2(&frame).await?.into_message().stream_id, 5);
    Ok(())
}

/// `BareService`, in no package.
pub async fn no_package(base: &str, json: bool) -> Result<(), ConnectError> {
    let (ch, config) = channel(base, json);
    let client = super::proto::BareServiceClient::new(ch, config);
    let m = super::proto::BareMessage {
        text: "bare".into(),
        ..Default::default()
    };
    assert_eq!(client.echo(&m).await?.into_message().text, "bare");
    assert_eq!(super::proto::bare_service::ECHO.path(), "/BareService/Echo");
    Ok(())
}

/// `wkt.v1`: `Empty`, `Timestamp`, `Any` and `Struct` in and out.
pub async fn well_known(base: &str, json: bool) -> Result<(), ConnectError> {
    use buffa_types::google::protobuf::{Any, Empty, Struct, Timestamp, Value};
    let (ch, config) = channel(base, json);
    let client = wkt::WellKnownServiceClient::new(ch, config);
    client.nothing(&Empty::default()).await?;
    let t = Timestamp {
        seconds: 10,
        nanos: 5,
        ..Default::default()
    };
    let out = client.now(&t).await?.into_message();
    assert_eq!((out.seconds, out.nanos), (11, 5), "Now");
    if !json {
        // `Any` JSON needs a type registry; the binary codec carries it as is.
        let any = Any {
            type_url: "type.googleapis.com/x.Y".into(),
            value: vec![1, 2, 3].into(),
            ..Default::default()
        };
        let out = client.pack(&any).await?.into_message();
        assert_eq!(out.value, any.value, "Pack");
    }
    let mut s = Struct::default();
    s.fields.insert("k".into(), Value::from("v"));
    let out = client.shape(&s).await?.into_message();
    assert_eq!(out, s, "Shape");
    let ticks = drain(client.ticks(&Empty::default()).await?).await?;
    assert_eq!(
        ticks.iter().map(|t| t.seconds).collect::<Vec<_>>(),
        [1, 2, 3],
        "Ticks"
    );
    Ok(())
}

/// `importer.v1`: messages of other packages, and views sharing a name.
pub async fn imports(base: &str, json: bool) -> Result<(), ConnectError> {
    let (ch, config) = channel(base, json);
    let client = importer::ImportServiceClient::new(ch, config);
    let inner = client
        .cross(&split::One {
            n: 4,
            ..Default::default()
        })
        .await?
        .into_message();
    assert_eq!(inner.deeper.label, "4", "Cross");
    let one = client
        .same(&importer::One {
            label: "abc".into(),
            ..Default::default()
        })
        .await?
        .into_message();
    assert_eq!(one.n, 3, "Same");
    let out = client
        .shadow(&importer::OneView {
            flag: true,
            ..Default::default()
        })
        .await?
        .into_message();
    assert_eq!(out.label, "true", "Shadow");
    Ok(())
}

/// `streaming.v1`: every stream type over the same messages.
pub async fn streaming(base: &str, json: bool) -> Result<(), ConnectError> {
    let (ch, config) = channel(base, json);
    let client = streaming::TickServiceClient::new(ch, config);
    let tick = |n| streaming::Tick {
        n,
        ..Default::default()
    };
    assert_eq!(client.one(&tick(1)).await?.into_message().n, 2, "One");
    let down = drain(client.down(&tick(3)).await?).await?;
    assert_eq!(
        down.iter().map(|t| t.n).collect::<Vec<_>>(),
        [2, 1, 0],
        "Down"
    );
    let up = client
        .up(stream::iter(vec![tick(1), tick(2), tick(3)]))
        .await?
        .into_message();
    assert_eq!(up.n, 6, "Up");
    let both = bidi(client.both().await?, &[tick(1), tick(5)]).await?;
    assert_eq!(
        both.iter().map(|t| t.n).collect::<Vec<_>>(),
        [2, 10],
        "Both"
    );
    Ok(())
}

/// `deprecated.v1`: deprecated services and methods still work.
#[allow(deprecated)]
pub async fn deprecated(base: &str, json: bool) -> Result<(), ConnectError> {
    let (ch, config) = channel(base, json);
    let mixed = deprecated::MixedServiceClient::new(ch.clone(), config.clone());
    let c = deprecated::Current {
        text: "x".into(),
        ..Default::default()
    };
    assert_eq!(mixed.now(&c).await?.into_message().text, "x+now");
    assert_eq!(mixed.before(&c).await?.into_message().text, "x+before");
    let many = bidi(mixed.before_many().await?, std::slice::from_ref(&c)).await?;
    assert_eq!(many[0].text, "x+many");
    let old = deprecated::OldServiceClient::new(ch, config);
    let o = deprecated::Old {
        text: "old".into(),
        ..Default::default()
    };
    assert_eq!(old.call(&o).await?.into_message().text, "old");
    assert_eq!(
        deprecated::old_service::CALL.path(),
        "/deprecated.v1.OldService/Call"
    );
    Ok(())
}

/// `optional.v1`: proto3 `optional` presence survives the round trip.
pub async fn optional(base: &str, json: bool) -> Result<(), ConnectError> {
    let (ch, config) = channel(base, json);
    let client = optional::MaybeServiceClient::new(ch, config);
    let set = optional::Maybe {
        number: Some(0),
        text: None,
        ..Default::default()
    };
    let out = client.echo(&set).await?.into_message();
    assert_eq!((out.number, out.text.as_deref()), (Some(0), None));
    assert_eq!(out.plain, "number=true text=false");
    Ok(())
}

/// `clash.v1`: messages named `T`, `S`, `Result`, `Context` and
/// `ClashServiceClient`, and a sub-package named like the service's module.
pub async fn clash(base: &str, json: bool) -> Result<(), ConnectError> {
    let (ch, config) = channel(base, json);
    // The message keeps `ClashServiceClient`; the client yields.
    let client = clash::ClashServiceClient_::new(ch, config);
    let out = client
        .tee(&clash::T {
            v: 9,
            ..Default::default()
        })
        .await?
        .into_message();
    assert_eq!(out.v, 9, "Tee");
    let s = |v| clash::S {
        v,
        ..Default::default()
    };
    let out = client
        .ess(stream::iter(vec![s(1), s(2)]))
        .await?
        .into_message();
    assert_eq!(out.v, 3, "Ess");
    let out = bidi(
        client.both().await?,
        &[clash::T {
            v: 4,
            ..Default::default()
        }],
    )
    .await?;
    assert_eq!(out[0].v, 4, "Both");
    let sub = super::proto::clash::v1::clash_service::Sub {
        v: 6,
        ..Default::default()
    };
    assert_eq!(client.sub(&sub).await?.into_message().v, 6, "Sub");
    assert_eq!(clash::clash_service_::SUB.method(), "Sub");
    Ok(())
}

/// `editions.v1`: an editions 2023 file.
pub async fn editions(base: &str, json: bool) -> Result<(), ConnectError> {
    let (ch, config) = channel(base, json);
    let client = editions::EditionServiceClient::new(ch, config);
    let e = editions::Edition {
        name: "ed".into(),
        count: None,
        ..Default::default()
    };
    let out = client.echo(&e).await?.into_message();
    assert_eq!((out.name.as_str(), out.count), ("ed", Some(1)));
    Ok(())
}

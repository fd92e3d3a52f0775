//! Trivial implementations of every corpus service.
//!
//! Written against `super::proto` (the corpus) and `super::editions` (the
//! editions file), so that any generated tree of the corpus can include it
//! with `#[path = "impls.rs"] mod impls;` beside those two modules. Request
//! types are named only through public paths: messages and their views
//! from the package module or the service's module, `OwnedView`,
//! `Streaming` and `ResponseStream` from `connectrpc`.

use connectrpc::{ConnectError, Context, OwnedView, ResponseStream, Router, Streaming};
use futures_util::StreamExt as _;

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

/// Implements every corpus service: unary methods echo (or convert) their
/// request, streams answer each message in turn.
#[derive(Clone, Copy, Debug, Default)]
pub struct Impl;

type Answer<M> = Result<(M, Context), ConnectError>;

/// Every corpus service, registered on one router.
pub fn router() -> Router {
    let imp = std::sync::Arc::new(Impl);
    let mut router = Router::new();
    router = keywords::TypeExt::register(imp.clone(), router);
    router = keywords::SelfExt::register(imp.clone(), router);
    router = methods::ServiceExt::register(imp.clone(), router);
    router = multi::AlphaServiceExt::register(imp.clone(), router);
    router = multi::BetaServiceExt::register(imp.clone(), router);
    router = split::OneServiceExt::register(imp.clone(), router);
    router = split::TwoServiceExt::register(imp.clone(), router);
    router = nested::NestedServiceExt::register(imp.clone(), router);
    router = digits::Http2ServiceExt::register(imp.clone(), router);
    router = super::proto::BareServiceExt::register(imp.clone(), router);
    router = wkt::WellKnownServiceExt::register(imp.clone(), router);
    router = importer::ImportServiceExt::register(imp.clone(), router);
    router = streaming::TickServiceExt::register(imp.clone(), router);
    router = deprecated::MixedServiceExt::register(imp.clone(), router);
    #[allow(deprecated)]
    {
        router = deprecated::OldServiceExt::register(imp.clone(), router);
    }
    router = optional::MaybeServiceExt::register(imp.clone(), router);
    router = clash::ClashServiceExt::register(imp.clone(), router);
    editions::EditionServiceExt::register(imp, router)
}

/// Each request of `requests` converted by `f`, as a response stream.
fn each<V, M>(
    requests: Streaming<V>,
    f: impl Fn(&OwnedView<V>) -> M + Send + 'static,
) -> ResponseStream<M>
where
    V: buffa::MessageView<'static> + Send + 'static,
    V::Owned: serde::de::DeserializeOwned,
    M: Send + 'static,
{
    Box::pin(requests.map(move |r| r.map(|r| f(&r))))
}

/// The requests of `requests`, converted by `f`.
async fn collect<V, M>(
    mut requests: Streaming<V>,
    f: impl Fn(&OwnedView<V>) -> M,
) -> Result<Vec<M>, ConnectError>
where
    V: buffa::MessageView<'static> + Send + 'static,
    V::Owned: serde::de::DeserializeOwned,
{
    let mut out = Vec::new();
    while let Some(r) = requests.message().await? {
        out.push(f(&r));
    }
    Ok(out)
}

/// `count` copies of `m`, as a response stream.
fn repeat<M: Clone + Send + 'static>(m: M, count: usize) -> ResponseStream<M> {
    Box::pin(futures_util::stream::iter(std::iter::repeat_n(
        Ok(m),
        count,
    )))
}

// ===== keywords: package `type.self.crate`, services `type` and `self` =====

use keywords::type_::KeywordsView;

fn keywords_echo(r: &OwnedView<KeywordsView<'static>>, tag: &str) -> keywords::Keywords {
    let mut k = r.to_owned_message();
    k.r#type = format!("{}{tag}", k.r#type);
    k
}

impl keywords::r#type for Impl {
    async fn r#async(
        &self,
        ctx: Context,
        request: OwnedView<KeywordsView<'static>>,
    ) -> Answer<keywords::Keywords> {
        Ok((keywords_echo(&request, "+async"), ctx))
    }
    async fn r#match(
        &self,
        ctx: Context,
        request: OwnedView<KeywordsView<'static>>,
    ) -> Answer<keywords::Keywords> {
        let mut k = keywords_echo(&request, "+match");
        k.r#match = !k.r#match;
        Ok((k, ctx))
    }
    async fn self_(
        &self,
        ctx: Context,
        request: OwnedView<KeywordsView<'static>>,
    ) -> Answer<ResponseStream<keywords::Keywords>> {
        let count = request.reborrow().r#async.max(0) as usize;
        Ok((repeat(keywords_echo(&request, "+self"), count), ctx))
    }
    async fn crate_(
        &self,
        ctx: Context,
        requests: Streaming<KeywordsView<'static>>,
    ) -> Answer<keywords::Keywords> {
        let all = collect(requests, |r| r.reborrow().crate_.to_owned()).await?;
        Ok((
            keywords::Keywords {
                crate_: all.join(","),
                ..Default::default()
            },
            ctx,
        ))
    }
    async fn r#type(
        &self,
        ctx: Context,
        requests: Streaming<KeywordsView<'static>>,
    ) -> Answer<ResponseStream<keywords::Keywords>> {
        Ok((each(requests, |r| keywords_echo(r, "+type")), ctx))
    }
}

impl keywords::self_ for Impl {
    async fn self_(
        &self,
        ctx: Context,
        request: OwnedView<keywords::self__::KeywordsView<'static>>,
    ) -> Answer<keywords::Keywords> {
        let mut k = request.to_owned_message();
        k.self_ = format!("{}+Self", k.self_);
        Ok((k, ctx))
    }
}

// ===== methods: a service named `Service`, methods named like generated items =====

use methods::service::NumView;

fn plus(r: &OwnedView<NumView<'static>>, n: i64) -> methods::Num {
    methods::Num {
        value: r.reborrow().value + n,
        ..Default::default()
    }
}

impl methods::Service for Impl {
    async fn new(
        &self,
        ctx: Context,
        request: OwnedView<NumView<'static>>,
    ) -> Answer<methods::Num> {
        Ok((plus(&request, 1), ctx))
    }
    async fn clone(
        &self,
        ctx: Context,
        request: OwnedView<NumView<'static>>,
    ) -> Answer<methods::Num> {
        Ok((plus(&request, 2), ctx))
    }
    async fn call(
        &self,
        ctx: Context,
        request: OwnedView<NumView<'static>>,
    ) -> Answer<methods::Num> {
        Ok((plus(&request, 3), ctx))
    }
    async fn connect(
        &self,
        ctx: Context,
        request: OwnedView<NumView<'static>>,
    ) -> Answer<methods::Num> {
        Ok((plus(&request, 4), ctx))
    }
    async fn client(
        &self,
        ctx: Context,
        request: OwnedView<NumView<'static>>,
    ) -> Answer<methods::Num> {
        Ok((plus(&request, 5), ctx))
    }
    async fn from_client(
        &self,
        ctx: Context,
        request: OwnedView<NumView<'static>>,
    ) -> Answer<methods::Num> {
        Ok((plus(&request, 6), ctx))
    }
    async fn register(
        &self,
        ctx: Context,
        request: OwnedView<NumView<'static>>,
    ) -> Answer<methods::Num> {
        Ok((plus(&request, 7), ctx))
    }
    async fn methods(
        &self,
        ctx: Context,
        request: OwnedView<NumView<'static>>,
    ) -> Answer<methods::Num> {
        Ok((plus(&request, 8), ctx))
    }
    async fn poll_ready(
        &self,
        ctx: Context,
        request: OwnedView<NumView<'static>>,
    ) -> Answer<methods::Num> {
        Ok((plus(&request, 9), ctx))
    }
    async fn call_rpc(
        &self,
        ctx: Context,
        request: OwnedView<NumView<'static>>,
    ) -> Answer<methods::Num> {
        Ok((plus(&request, 10), ctx))
    }
    async fn get_ref(
        &self,
        ctx: Context,
        request: OwnedView<NumView<'static>>,
    ) -> Answer<methods::Num> {
        Ok((plus(&request, 11), ctx))
    }
    async fn new_with_options(
        &self,
        ctx: Context,
        request: OwnedView<NumView<'static>>,
    ) -> Answer<methods::Num> {
        Ok((plus(&request, 12), ctx))
    }
}

// ===== multi: two services in one file =====

fn pong(r: &OwnedView<multi::PingView<'static>>, who: &str) -> multi::Pong {
    multi::Pong {
        text: format!("{who}:{}", r.reborrow().text),
        ..Default::default()
    }
}

impl multi::AlphaService for Impl {
    async fn ping(
        &self,
        ctx: Context,
        request: OwnedView<multi::alpha_service::PingView<'static>>,
    ) -> Answer<multi::Pong> {
        Ok((pong(&request, "alpha"), ctx))
    }
}

impl multi::BetaService for Impl {
    async fn ping(
        &self,
        ctx: Context,
        request: OwnedView<multi::beta_service::PingView<'static>>,
    ) -> Answer<multi::Pong> {
        Ok((pong(&request, "beta"), ctx))
    }
    async fn ping_many(
        &self,
        ctx: Context,
        request: OwnedView<multi::PingView<'static>>,
    ) -> Answer<ResponseStream<multi::Pong>> {
        Ok((repeat(pong(&request, "beta"), 2), ctx))
    }
}

// ===== split: one package over two files =====

impl split::OneService for Impl {
    async fn convert(
        &self,
        ctx: Context,
        request: OwnedView<split::one_service::OneView<'static>>,
    ) -> Answer<split::Two> {
        Ok((
            split::Two {
                name: request.reborrow().n.to_string(),
                ..Default::default()
            },
            ctx,
        ))
    }
}

impl split::TwoService for Impl {
    async fn convert(
        &self,
        ctx: Context,
        request: OwnedView<split::two_service::TwoView<'static>>,
    ) -> Answer<split::One> {
        let n = request
            .reborrow()
            .name
            .parse()
            .map_err(|_| ConnectError::invalid_argument("not a number"))?;
        Ok((
            split::One {
                n,
                ..Default::default()
            },
            ctx,
        ))
    }
}

// ===== nested messages and enums =====

impl nested::NestedService for Impl {
    async fn wrap(
        &self,
        ctx: Context,
        request: OwnedView<nested::outer::InnerView<'static>>,
    ) -> Answer<nested::Outer> {
        Ok((
            nested::Outer {
                inner: buffa::MessageField::some(request.to_owned_message()),
                level: nested::Level::LEVEL_HIGH.into(),
                ..Default::default()
            },
            ctx,
        ))
    }
    async fn deepest(
        &self,
        ctx: Context,
        request: OwnedView<nested::nested_service::OuterView<'static>>,
    ) -> Answer<nested::outer::inner::Deeper> {
        let outer = request.to_owned_message();
        Ok(((*outer.inner.deeper).clone(), ctx))
    }
}

// ===== a package with underscores and digits =====

impl digits::Http2Service for Impl {
    async fn echo2(
        &self,
        ctx: Context,
        request: OwnedView<digits::Http2FrameView<'static>>,
    ) -> Answer<digits::Http2Frame> {
        Ok((request.to_owned_message(), ctx))
    }
    async fn get_v2(
        &self,
        ctx: Context,
        request: OwnedView<digits::http2_service::Http2FrameView<'static>>,
    ) -> Answer<digits::Http2Frame> {
        let mut frame = request.to_owned_message();
        frame.stream_id += 2;
        Ok((frame, ctx))
    }
}

// ===== no package =====

impl super::proto::BareService for Impl {
    async fn echo(
        &self,
        ctx: Context,
        request: OwnedView<super::proto::bare_service::BareMessageView<'static>>,
    ) -> Answer<super::proto::BareMessage> {
        Ok((request.to_owned_message(), ctx))
    }
}

// ===== well-known types =====

use buffa_types::google::protobuf::{Any, Empty, Struct, Timestamp};
use wkt::well_known_service::{AnyView, EmptyView, StructView, TimestampView};

impl wkt::WellKnownService for Impl {
    async fn nothing(
        &self,
        ctx: Context,
        _request: OwnedView<EmptyView<'static>>,
    ) -> Answer<Empty> {
        Ok((Empty::default(), ctx))
    }
    async fn now(
        &self,
        ctx: Context,
        request: OwnedView<TimestampView<'static>>,
    ) -> Answer<Timestamp> {
        let mut t = request.to_owned_message();
        t.seconds += 1;
        Ok((t, ctx))
    }
    async fn pack(&self, ctx: Context, request: OwnedView<AnyView<'static>>) -> Answer<Any> {
        Ok((request.to_owned_message(), ctx))
    }
    async fn shape(&self, ctx: Context, request: OwnedView<StructView<'static>>) -> Answer<Struct> {
        Ok((request.to_owned_message(), ctx))
    }
    async fn ticks(
        &self,
        ctx: Context,
        _request: OwnedView<EmptyView<'static>>,
    ) -> Answer<ResponseStream<Timestamp>> {
        let ticks = (1..=3).map(|seconds| {
            Ok(Timestamp {
                seconds,
                ..Default::default()
            })
        });
        Ok((Box::pin(futures_util::stream::iter(ticks)), ctx))
    }
}

// ===== imports across packages, and clashing view names =====

impl importer::ImportService for Impl {
    async fn cross(
        &self,
        ctx: Context,
        request: OwnedView<importer::import_service::SplitV1OneView<'static>>,
    ) -> Answer<nested::outer::Inner> {
        let deeper = nested::outer::inner::Deeper {
            label: request.reborrow().n.to_string(),
            ..Default::default()
        };
        Ok((
            nested::outer::Inner {
                deeper: buffa::MessageField::some(deeper),
                ..Default::default()
            },
            ctx,
        ))
    }
    async fn same(
        &self,
        ctx: Context,
        request: OwnedView<importer::import_service::OneView<'static>>,
    ) -> Answer<split::One> {
        Ok((
            split::One {
                n: request.reborrow().label.len() as i32,
                ..Default::default()
            },
            ctx,
        ))
    }
    async fn shadow(
        &self,
        ctx: Context,
        request: OwnedView<importer::import_service::OneViewView<'static>>,
    ) -> Answer<importer::One> {
        Ok((
            importer::One {
                label: request.reborrow().flag.to_string(),
                ..Default::default()
            },
            ctx,
        ))
    }
}

// ===== streaming methods sharing their types =====

use streaming::TickView;

fn tick(n: i32) -> streaming::Tick {
    streaming::Tick {
        n,
        ..Default::default()
    }
}

impl streaming::TickService for Impl {
    async fn one(
        &self,
        ctx: Context,
        request: OwnedView<TickView<'static>>,
    ) -> Answer<streaming::Tick> {
        Ok((tick(request.reborrow().n + 1), ctx))
    }
    async fn down(
        &self,
        ctx: Context,
        request: OwnedView<TickView<'static>>,
    ) -> Answer<ResponseStream<streaming::Tick>> {
        let n = request.reborrow().n;
        Ok((
            Box::pin(futures_util::stream::iter(
                (0..n).rev().map(|i| Ok(tick(i))),
            )),
            ctx,
        ))
    }
    async fn up(
        &self,
        ctx: Context,
        requests: Streaming<TickView<'static>>,
    ) -> Answer<streaming::Tick> {
        let all = collect(requests, |r| r.reborrow().n).await?;
        Ok((tick(all.iter().sum()), ctx))
    }
    async fn both(
        &self,
        ctx: Context,
        requests: Streaming<TickView<'static>>,
    ) -> Answer<ResponseStream<streaming::Tick>> {
        Ok((each(requests, |r| tick(r.reborrow().n * 2)), ctx))
    }
}

// ===== deprecated services and methods =====

use deprecated::mixed_service::CurrentView;

fn current(r: &OwnedView<CurrentView<'static>>, tag: &str) -> deprecated::Current {
    deprecated::Current {
        text: format!("{}{tag}", r.reborrow().text),
        ..Default::default()
    }
}

impl deprecated::MixedService for Impl {
    async fn now(
        &self,
        ctx: Context,
        request: OwnedView<CurrentView<'static>>,
    ) -> Answer<deprecated::Current> {
        Ok((current(&request, "+now"), ctx))
    }
    async fn before(
        &self,
        ctx: Context,
        request: OwnedView<CurrentView<'static>>,
    ) -> Answer<deprecated::Current> {
        Ok((current(&request, "+before"), ctx))
    }
    async fn before_many(
        &self,
        ctx: Context,
        requests: Streaming<CurrentView<'static>>,
    ) -> Answer<ResponseStream<deprecated::Current>> {
        Ok((each(requests, |r| current(r, "+many")), ctx))
    }
}

#[allow(deprecated)]
impl deprecated::OldService for Impl {
    async fn call(
        &self,
        ctx: Context,
        request: OwnedView<deprecated::old_service::OldView<'static>>,
    ) -> Answer<deprecated::Old> {
        Ok((request.to_owned_message(), ctx))
    }
}

// ===== proto3 optional =====

impl optional::MaybeService for Impl {
    async fn echo(
        &self,
        ctx: Context,
        request: OwnedView<optional::MaybeView<'static>>,
    ) -> Answer<optional::Maybe> {
        let r = request.reborrow();
        let plain = format!("number={} text={}", r.number.is_some(), r.text.is_some());
        Ok((
            optional::Maybe {
                number: r.number,
                text: r.text.map(str::to_owned),
                plain,
                ..Default::default()
            },
            ctx,
        ))
    }
}

// ===== messages named `T`, `S`, `Result`, `Context` =====

impl clash::ClashService for Impl {
    async fn tee(
        &self,
        ctx: Context,
        request: OwnedView<clash::TView<'static>>,
    ) -> Answer<clash::Result> {
        Ok((
            clash::Result {
                v: request.reborrow().v,
                ..Default::default()
            },
            ctx,
        ))
    }
    async fn ess(
        &self,
        ctx: Context,
        requests: Streaming<clash::SView<'static>>,
    ) -> Answer<clash::Context> {
        let all = collect(requests, |r| r.reborrow().v).await?;
        Ok((
            clash::Context {
                v: all.iter().sum(),
                ..Default::default()
            },
            ctx,
        ))
    }
    async fn both(
        &self,
        ctx: Context,
        requests: Streaming<clash::TView<'static>>,
    ) -> Answer<ResponseStream<clash::T>> {
        Ok((each(requests, |r| r.to_owned_message()), ctx))
    }
    async fn sub(
        &self,
        ctx: Context,
        request: OwnedView<clash::clash_service_::SubView<'static>>,
    ) -> Answer<clash::ClashServiceClient> {
        let v = request.reborrow().v;
        Ok((
            clash::ClashServiceClient {
                v,
                ..Default::default()
            },
            ctx,
        ))
    }
}

// ===== editions 2023 =====

impl editions::EditionService for Impl {
    async fn echo(
        &self,
        ctx: Context,
        request: OwnedView<editions::EditionView<'static>>,
    ) -> Answer<editions::Edition> {
        let mut e = request.to_owned_message();
        e.count = Some(e.count.unwrap_or(0) + 1);
        Ok((e, ctx))
    }
}

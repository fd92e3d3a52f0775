//! `Greeter`: the example implementation of `greet.v1.GreetService`.

use std::time::Duration;

use connectrpc::{ConnectError, Context, OwnedView, ResponseStream, Streaming};
use futures_util::StreamExt as _;

use crate::proto::greet::v1::greet_service::{GreetRequestView, GreetStreamRequestView};
use crate::proto::greet::v1::{GreetResponse, GreetService};

/// The most greetings `GreetStream` sends for one request.
pub const MAX_GREETINGS: i32 = 100;

/// Greets people: the example service.
#[derive(Clone, Copy, Debug, Default)]
pub struct Greeter;

fn greeting(name: &str) -> GreetResponse {
    let name = if name.is_empty() { "World" } else { name };
    GreetResponse {
        greeting: format!("Hello, {name}!"),
        ..Default::default()
    }
}

impl GreetService for Greeter {
    async fn greet(
        &self,
        ctx: Context,
        request: OwnedView<GreetRequestView<'static>>,
    ) -> Result<(GreetResponse, Context), ConnectError> {
        Ok((greeting(request.reborrow().name), ctx))
    }

    async fn greet_stream(
        &self,
        ctx: Context,
        request: OwnedView<GreetStreamRequestView<'static>>,
    ) -> Result<(ResponseStream<GreetResponse>, Context), ConnectError> {
        let req = request.reborrow();
        if !(0..=MAX_GREETINGS).contains(&req.count) {
            return Err(ConnectError::invalid_argument(format!(
                "count must be between 0 and {MAX_GREETINGS}"
            )));
        }
        let name = req.name.to_owned();
        let stream = futures_util::stream::iter(0..req.count).then(move |i| {
            let mut msg = greeting(&name);
            async move {
                if i > 0 {
                    tokio::time::sleep(Duration::from_millis(50)).await;
                }
                msg.greeting = format!("{} ({})", msg.greeting, i + 1);
                Ok(msg)
            }
        });
        Ok((Box::pin(stream), ctx))
    }

    async fn greet_many(
        &self,
        ctx: Context,
        mut requests: Streaming<GreetRequestView<'static>>,
    ) -> Result<(GreetResponse, Context), ConnectError> {
        let mut names = Vec::new();
        while let Some(req) = requests.message().await? {
            names.push(req.reborrow().name.to_owned());
        }
        Ok((greeting(&names.join(", ")), ctx))
    }

    async fn chat(
        &self,
        ctx: Context,
        requests: Streaming<GreetRequestView<'static>>,
    ) -> Result<(ResponseStream<GreetResponse>, Context), ConnectError> {
        let replies = requests.map(|req| req.map(|r| greeting(r.reborrow().name)));
        Ok((Box::pin(replies), ctx))
    }
}

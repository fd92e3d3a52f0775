//! `fortunes serve <ours|tonic|connectrpc09> <port> <redis host:port>`:
//! `fortunes.v1.FortuneService` on 127.0.0.1, each framework served the way
//! its docs show (as `bench-server` does), every one over the same store
//! code ([`crate::store`]).

use std::net::SocketAddr;
use std::sync::Arc;

use crate::store::Pool;

use crate::store;

/// Serves until the process is killed or its stdin reaches its end (`fortunes
/// run` holds the other end of a pipe, so a server never outlives it).
pub(crate) fn serve(
    framework: &str,
    port: u16,
    redis: &str,
) -> Result<(), Box<dyn std::error::Error>> {
    let addr = SocketAddr::from(([127, 0, 0, 1], port));
    std::thread::spawn(|| {
        let _ = std::io::copy(&mut std::io::stdin().lock(), &mut std::io::sink());
        std::process::exit(0);
    });
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    rt.block_on(async move {
        let pool = store::pool(redis).await?;
        match framework {
            "ours" => {
                use crate::ours::fortunes::v1::FortuneServiceExt as _;
                let router = Arc::new(Ours(pool)).register(connectrpc::Router::new());
                connectrpc::Server::new(router).serve(addr).await?;
            }
            "connectrpc09" => {
                let router =
                    connectrpc_published::Router::new().add_service(Arc::new(Published(pool)));
                connectrpc_published::Server::new(router)
                    .serve(addr)
                    .await
                    .map_err(|e| e.to_string())?;
            }
            "tonic" => {
                use crate::tonic::fortune_service_server::FortuneServiceServer;
                tonic::transport::Server::builder()
                    .add_service(FortuneServiceServer::new(Tonic(pool)))
                    .serve(addr)
                    .await?;
            }
            other => return Err(format!("unknown framework {other}").into()),
        }
        Ok(())
    })
}

// ===== ours =====

struct Ours(Pool);

impl crate::ours::fortunes::v1::FortuneService for Ours {
    async fn get_fortunes(
        &self,
        ctx: connectrpc::Context,
        _request: connectrpc::OwnedView<
            crate::ours::fortunes::v1::fortune_service::FortunesRequestView<'static>,
        >,
    ) -> Result<
        (
            crate::ours::fortunes::v1::FortunesResponse,
            connectrpc::Context,
        ),
        connectrpc::ConnectError,
    > {
        use crate::ours::fortunes::v1::{Fortune, FortunesResponse};
        let fortunes = store::fortunes(&self.0)
            .await
            .map_err(|e| connectrpc::ConnectError::new(connectrpc::Code::Unavailable, e))?;
        let fortunes = fortunes
            .into_iter()
            .map(|(id, message)| Fortune {
                id,
                message,
                ..Default::default()
            })
            .collect();
        Ok((
            FortunesResponse {
                fortunes,
                ..Default::default()
            },
            ctx,
        ))
    }
}

// ===== connectrpc 0.9 =====

struct Published(Pool);

#[allow(refining_impl_trait)]
impl crate::published::fortunes::v1::FortuneService for Published {
    async fn get_fortunes(
        &self,
        _ctx: connectrpc_published::RequestContext,
        _request: connectrpc_published::ServiceRequest<
            '_,
            crate::published::fortunes::v1::FortunesRequest,
        >,
    ) -> connectrpc_published::ServiceResult<crate::published::fortunes::v1::FortunesResponse> {
        use crate::published::fortunes::v1::{Fortune, FortunesResponse};
        let fortunes = store::fortunes(&self.0).await.map_err(|e| {
            connectrpc_published::ConnectError::new(connectrpc_published::ErrorCode::Unavailable, e)
        })?;
        connectrpc_published::Response::ok(FortunesResponse {
            fortunes: fortunes
                .into_iter()
                .map(|(id, message)| Fortune {
                    id,
                    message,
                    ..Default::default()
                })
                .collect(),
            ..Default::default()
        })
    }
}

// ===== tonic =====

struct Tonic(Pool);

#[tonic::async_trait]
impl crate::tonic::fortune_service_server::FortuneService for Tonic {
    async fn get_fortunes(
        &self,
        _request: tonic::Request<crate::tonic::FortunesRequest>,
    ) -> Result<tonic::Response<crate::tonic::FortunesResponse>, tonic::Status> {
        use crate::tonic::{Fortune, FortunesResponse};
        let fortunes = store::fortunes(&self.0)
            .await
            .map_err(tonic::Status::unavailable)?;
        Ok(tonic::Response::new(FortunesResponse {
            fortunes: fortunes
                .into_iter()
                .map(|(id, message)| Fortune { id, message })
                .collect(),
        }))
    }
}

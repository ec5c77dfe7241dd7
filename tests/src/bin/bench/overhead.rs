//! The gateway's own cost, on a no-op RPC: ComputeStatistics of one proportion (no storage, a
//! few microseconds of arithmetic), so what is measured is the path, not the work.
//! - Gateway hop: p50 through the gateway of a split deployment (API key, quota, deadline,
//!   metrics and trace layers, then a gRPC hop to the benchmarking service) ÷ p50 calling that
//!   service's own port directly with a signed forwarded identity.
//! - Middleware: throughput through the gateway's full stack in one process ÷ the same service
//!   behind a bare tonic server (only the principal inserted), with the same concurrent clients.

use std::sync::Arc;
use std::time::{Duration, Instant};

use sharedmetrics_access::{Principal, PrincipalCodec, PrincipalKind, Role};
use sharedmetrics_benchmarking::{BenchmarkingGrpc, BenchmarkingService};
use sharedmetrics_config::Target;
use sharedmetrics_definitions::RemoteDefinitions;
use sharedmetrics_e2e::{Backend, Sandbox, Topology};
use sharedmetrics_proto::sharedmetrics::benchmarking::v1::benchmarking_service_client::BenchmarkingServiceClient;
use sharedmetrics_proto::sharedmetrics::benchmarking::v1::benchmarking_service_server::BenchmarkingServiceServer;
use sharedmetrics_proto::sharedmetrics::benchmarking::v1::{
    ComputeStatisticsRequest, CountInput, compute_statistics_request,
};
use sharedmetrics_proto::sharedmetrics::common::v1::ValueType;
use sharedmetrics_submissions::RemoteSubmissions;
use tonic::transport::Channel;

/// Sequential calls per latency figure, over all rounds (after a round's worth to warm up).
const LATENCY_CALLS: usize = 3_000;
/// Rounds each figure is measured in, the two paths alternating, so that a slow spell of this
/// shared machine falls on both rather than on one.
const ROUNDS: usize = 10;
/// Concurrent clients in the throughput figures.
const CLIENTS: usize = 16;
/// Calls per client in the throughput figures.
const CALLS_PER_CLIENT: usize = 500;

fn no_op() -> ComputeStatisticsRequest {
    ComputeStatisticsRequest {
        value_type: ValueType::Proportion as i32,
        input: Some(compute_statistics_request::Input::Counts(CountInput { numerator: 40.0, denominator: Some(90.0) })),
        ..Default::default()
    }
}

fn principal() -> Principal {
    Principal {
        id: "key:bench".into(),
        kind: PrincipalKind::ApiKey,
        organisation: "X24".into(),
        roles: vec![Role::National],
        key_id: Some("bench".into()),
        display_name: "bench".into(),
    }
}

/// Times `calls` sequential no-op calls, appending each call's latency to `samples`.
async fn time_calls<T>(
    client: &mut BenchmarkingServiceClient<T>,
    calls: usize,
    samples: &mut Vec<Duration>,
) -> anyhow::Result<()>
where
    T: tonic::client::GrpcService<tonic::body::Body>,
    T::Error: Into<tonic::codegen::StdError>,
    T::ResponseBody: tonic::codegen::Body<Data = tonic::codegen::Bytes> + Send + 'static,
    <T::ResponseBody as tonic::codegen::Body>::Error: Into<tonic::codegen::StdError> + Send,
{
    for _ in 0..calls {
        let started = Instant::now();
        client.compute_statistics(no_op()).await?;
        samples.push(started.elapsed());
    }
    Ok(())
}

fn median<T: PartialOrd + Copy>(mut values: Vec<T>) -> T {
    values.sort_by(|a, b| a.partial_cmp(b).expect("comparable"));
    values[values.len() / 2]
}

/// Calls per second from `CLIENTS` concurrent clients, each made by `client`.
async fn throughput<T, F>(client: F) -> anyhow::Result<f64>
where
    F: Fn() -> BenchmarkingServiceClient<T>,
    T: tonic::client::GrpcService<tonic::body::Body> + Send + 'static,
    T::Future: Send,
    T::Error: Into<tonic::codegen::StdError>,
    T::ResponseBody: tonic::codegen::Body<Data = tonic::codegen::Bytes> + Send + 'static,
    <T::ResponseBody as tonic::codegen::Body>::Error: Into<tonic::codegen::StdError> + Send,
{
    // Warm up every connection first.
    let mut warm = client();
    for _ in 0..200 {
        warm.compute_statistics(no_op()).await?;
    }
    let started = Instant::now();
    let mut tasks = tokio::task::JoinSet::new();
    for _ in 0..CLIENTS {
        let mut client = client();
        tasks.spawn(async move {
            for _ in 0..CALLS_PER_CLIENT {
                client.compute_statistics(no_op()).await?;
            }
            anyhow::Ok(())
        });
    }
    while let Some(done) = tasks.join_next().await {
        done??;
    }
    Ok((CLIENTS * CALLS_PER_CLIENT) as f64 / started.elapsed().as_secs_f64())
}

/// Keeps the quota layer counting every call (its cost is part of the stack) with a limit the
/// benchmark cannot reach, on a quiet platform.
fn counting_only(config: &mut sharedmetrics_config::Config) {
    config.quotas.requests_per_minute = u32::MAX;
    // The no-op reads no reference data; building the area hierarchy in the background would
    // take the machine's cores from the first rounds.
    config.reference_data.preload = false;
}

/// Measures both figures and returns them as a Markdown table.
pub async fn gateway_overhead() -> anyhow::Result<String> {
    // The hop: a split deployment, through the gateway and straight to the service.
    let split = Sandbox::start_with(Backend::Postgres, Topology::Split, counting_only).await?;
    let mut gateway_client = BenchmarkingServiceClient::new(split.admin());
    let service = split.service_url(Target::Benchmarking).expect("split runs the benchmarking service");
    let channel = Channel::from_shared(service)?.connect().await?;
    let codec = PrincipalCodec::new(&split.internal_token);
    let signed = principal();
    let mut direct_client =
        BenchmarkingServiceClient::with_interceptor(channel, move |mut request: tonic::Request<()>| {
            codec.insert(&signed, request.metadata_mut());
            Ok(request)
        });
    let per_round = LATENCY_CALLS / ROUNDS;
    let (mut through, mut straight, mut warm) = (Vec::new(), Vec::new(), Vec::new());
    time_calls(&mut gateway_client, per_round, &mut warm).await?;
    time_calls(&mut direct_client, per_round, &mut warm).await?;
    for _ in 0..ROUNDS {
        time_calls(&mut gateway_client, per_round, &mut through).await?;
        time_calls(&mut direct_client, per_round, &mut straight).await?;
    }
    let (via_gateway, direct) = (median(through), median(straight));
    split.stop().await?;

    // The stack: the gateway of one process against a bare server of the same service.
    let single = Sandbox::start_with(Backend::Postgres, Topology::SingleBinary, counting_only).await?;
    let lazy = Channel::from_static("http://127.0.0.1:9").connect_lazy();
    let codec = PrincipalCodec::new("");
    let cache = sharedmetrics_cache::Cache::in_process("bench:");
    let bare_service = BenchmarkingService::new(
        Arc::new(RemoteDefinitions::new(lazy.clone(), codec.clone())),
        Arc::new(RemoteSubmissions::new(lazy, codec)),
        cache.clone(),
        sharedmetrics_cache::DataVersions::new(&cache),
    );
    let fixed = principal();
    let server = BenchmarkingServiceServer::with_interceptor(
        BenchmarkingGrpc(Arc::new(bare_service)),
        move |mut request: tonic::Request<()>| {
            request.extensions_mut().insert(fixed.clone());
            Ok(request)
        },
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let bare_addr = listener.local_addr()?;
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let bare = tokio::spawn(tonic::transport::Server::builder().add_service(server).serve_with_incoming_shutdown(
        // As the platform's servers do (the gateway and every service set TCP_NODELAY).
        tonic::transport::server::TcpIncoming::from(listener).with_nodelay(Some(true)),
        async {
            let _ = stopped.await;
        },
    ));
    let bare_channel = Channel::from_shared(format!("http://{bare_addr}"))?.connect().await?;
    let (mut full_rates, mut bare_rates) = (Vec::new(), Vec::new());
    for _ in 0..ROUNDS {
        full_rates.push(throughput(|| BenchmarkingServiceClient::new(single.admin())).await?);
        bare_rates.push(throughput(|| BenchmarkingServiceClient::new(bare_channel.clone())).await?);
    }
    let (full, bare_rate) = (median(full_rates), median(bare_rates));
    let _ = stop.send(());
    bare.await??;
    single.stop().await?;

    let micros = |d: Duration| d.as_secs_f64() * 1e6;
    Ok(format!(
        "| what | figure | limit | ratio | aim |\n| --- | ---: | ---: | ---: | ---: |\n\
         | gateway hop, p50 of {LATENCY_CALLS} sequential no-op calls each way, in {ROUNDS} alternating rounds | {:.0} µs through the gateway | {:.0} µs to the service directly | {:.2} | ≤ 1.8 |\n\
         | middleware, {CLIENTS} clients × {CALLS_PER_CLIENT} no-op calls, median of {ROUNDS} alternating rounds | {:.0} calls/s through the full stack | {:.0} calls/s on a bare server | {:.2} | ≥ 0.9 |\n",
        micros(via_gateway),
        micros(direct),
        via_gateway.as_secs_f64() / direct.as_secs_f64(),
        full,
        bare_rate,
        full / bare_rate,
    ))
}

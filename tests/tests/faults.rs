//! Faults of the platform's dependencies, on a PostgreSQL and a Redis this test owns (each on
//! its own port, killed or stopped and started again by the test), in both topologies:
//! - Redis killed: comparisons (the cached path) and 10-row submissions keep their pace and
//!   their answers, a publication made meanwhile is seen at once, and when Redis is back the
//!   shared cache resumes without a restart;
//! - PostgreSQL stopped: requests fail UNAVAILABLE (with `Retry-After` and the cause) within
//!   the acquire timeout, readiness answers 503 within a second, and the first request after
//!   it is back succeeds without a restart.
//!
//! The figures it prints are the ones docs/operations.md quotes.

use std::time::{Duration, Instant};

use sharedmetrics_e2e::servers::{OwnPostgres, OwnRedis};
use sharedmetrics_e2e::{Backend, Sandbox, Topology, proportion};
use sharedmetrics_error::ServiceError;
use sharedmetrics_proto::sharedmetrics::benchmarking::v1::benchmarking_service_client::BenchmarkingServiceClient;
use sharedmetrics_proto::sharedmetrics::benchmarking::v1::{
    AreaComparison, Benchmark, CompareAreasRequest, CompareAreasResponse, benchmark,
};
use sharedmetrics_proto::sharedmetrics::common::v1::AreaType;
use sharedmetrics_proto::sharedmetrics::definitions::v1::MetricVersionSpec;
use sharedmetrics_proto::sharedmetrics::submissions::v1::submissions_service_client::SubmissionsServiceClient;
use sharedmetrics_proto::sharedmetrics::submissions::v1::*;
use tonic::Code;

const METRIC: &str = "e2e-faults";
/// The North East region and its twelve districts.
const NORTH_EAST: &str = "E12000001";
const PERIOD: &str = "2024/25";
/// Timed calls per sample.
const SAMPLES: usize = 41;
const ACQUIRE_TIMEOUT_MS: u64 = 2_000;

fn p50(mut samples: Vec<Duration>) -> Duration {
    samples.sort();
    samples[samples.len() / 2]
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1_000.0
}

async fn districts(sandbox: &Sandbox) -> Vec<String> {
    sandbox.areas(AreaType::LocalAuthorityDistrict, NORTH_EAST).await.into_iter().map(|a| a.code).collect()
}

fn rows(districts: &[String], period: &str, shift: f64) -> Vec<ObservationRow> {
    districts
        .iter()
        .enumerate()
        .map(|(i, code)| ObservationRow {
            area_code: code.clone(),
            period_code: period.into(),
            numerator: Some(400.0 + 10.0 * i as f64 + shift),
            denominator: Some(1_000.0),
            ..Default::default()
        })
        .collect()
}

async fn submit(sandbox: &Sandbox, rows: Vec<ObservationRow>) -> Result<SubmissionReceipt, tonic::Status> {
    let header =
        SubmissionHeader { metric_code: METRIC.into(), mode: SubmissionMode::Merge as i32, ..Default::default() };
    let response = SubmissionsServiceClient::new(sandbox.admin())
        .submit_observations(SubmitObservationsRequest { header: Some(header), rows })
        .await?;
    Ok(response.into_inner().receipt.expect("a receipt"))
}

async fn compare(sandbox: &Sandbox, period: &str) -> Result<CompareAreasResponse, tonic::Status> {
    let response = BenchmarkingServiceClient::new(sandbox.admin())
        .compare_areas(CompareAreasRequest {
            metric_code: METRIC.into(),
            period_code: period.into(),
            area_type: AreaType::LocalAuthorityDistrict as i32,
            parent_area_code: NORTH_EAST.into(),
            benchmark: Some(Benchmark { kind: Some(benchmark::Kind::England(true)) }),
            ..Default::default()
        })
        .await?;
    Ok(response.into_inner())
}

/// Times `SAMPLES` comparisons; returns their p50 and the last answer's areas.
async fn time_comparisons(sandbox: &Sandbox) -> (Duration, Vec<AreaComparison>, usize) {
    let mut samples = Vec::with_capacity(SAMPLES);
    let mut last = Vec::new();
    let mut hits = 0;
    for _ in 0..SAMPLES {
        let started = Instant::now();
        let answer = compare(sandbox, PERIOD).await.expect("districts are compared");
        samples.push(started.elapsed());
        hits += usize::from(answer.cache_hit);
        last = answer.areas;
    }
    (p50(samples), last, hits)
}

/// Times `SAMPLES` 10-row submissions, each of a new year so each writes rows.
async fn time_submissions(sandbox: &Sandbox, districts: &[String], first_year: i32) -> Duration {
    let mut samples = Vec::with_capacity(SAMPLES);
    for i in 0..SAMPLES as i32 {
        let year = first_year + i;
        let period = format!("{year}/{:02}", (year + 1) % 100);
        let started = Instant::now();
        let receipt = submit(sandbox, rows(&districts[..10], &period, 0.0)).await.expect("10 rows are submitted");
        samples.push(started.elapsed());
        assert_eq!(receipt.counts.expect("counts").created, 10);
    }
    p50(samples)
}

/// Returns readiness's HTTP status and how long it took to answer.
fn readyz(sandbox: &Sandbox) -> (u16, Duration) {
    let started = Instant::now();
    let output = std::process::Command::new("curl")
        .args(["-s", "-o", "/dev/null", "-w", "%{http_code}", "-m", "10"])
        .arg(format!("http://{}/health/readyz", sandbox.http_addr))
        .output()
        .expect("curl runs");
    (String::from_utf8_lossy(&output.stdout).parse().unwrap_or(0), started.elapsed())
}

/// Polls readiness until it answers `status`; returns the slowest answer seen meanwhile.
async fn readyz_until(sandbox: &Sandbox, status: u16) -> Duration {
    let mut slowest = Duration::ZERO;
    for _ in 0..100 {
        let (got, took) = readyz(sandbox);
        slowest = slowest.max(took);
        if got == status {
            return slowest;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("readiness never answered {status}");
}

fn assert_unavailable(status: &tonic::Status, took: Duration, what: &str) {
    assert_eq!(status.code(), Code::Unavailable, "{what}: {}", status.message());
    let limit = Duration::from_millis(ACQUIRE_TIMEOUT_MS + 1_500);
    assert!(took <= limit, "{what} failed after {took:?}, past the acquire timeout of {ACQUIRE_TIMEOUT_MS} ms");
    let retry: u64 = status.metadata().get("retry-after").expect("a retry-after").to_str().unwrap().parse().unwrap();
    assert!(retry >= 1, "{what}: retry after {retry}");
    let error = ServiceError::from(status.clone());
    assert!(error.metadata.get("cause").is_some_and(|c| c.starts_with("DATABASE_")), "{what}: {:?}", error.metadata);
}

/// The two topologies take turns: each compares timings within its own run, which the other's
/// start-up on the same two cores would blur.
static ONE_AT_A_TIME: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

async fn dependency_faults_are_survived_without_a_restart(topology: Topology) {
    let _turn = ONE_AT_A_TIME.lock().await;
    let mut postgres = OwnPostgres::start().expect("a PostgreSQL of the test's own");
    let mut redis = OwnRedis::start().expect("a Redis of the test's own");
    let redis_url = redis.url();
    let sandbox = Sandbox::start_on(Backend::Postgres, topology, &postgres.url(), |config| {
        config.redis.url = Some(sharedmetrics_config::Secret::new(redis_url));
        config.database.acquire_timeout_ms = ACQUIRE_TIMEOUT_MS;
    })
    .await
    .expect("the platform starts");
    let spec = MetricVersionSpec {
        title: "Faults test indicator".into(),
        area_types: vec![AreaType::LocalAuthorityDistrict as i32],
        dimensions: vec![],
        valid_from: "1900-04-01".into(),
        ..proportion(METRIC)
    };
    sandbox.define(spec, true).await;
    let districts = districts(&sandbox).await;
    assert_eq!(districts.len(), 12, "the North East's districts");
    sandbox.publish_rows(METRIC, rows(&districts, PERIOD, 0.0)).await;

    // Redis up: the first comparison is computed, the rest are cache hits.
    // The first comparison builds the area hierarchy; after a publication the next one is
    // computed afresh on it, which is what the cache saves.
    compare(&sandbox, PERIOD).await.expect("compared");
    sandbox.publish_rows(METRIC, rows(&districts, PERIOD, 0.0)).await;
    let started = Instant::now();
    let computed = compare(&sandbox, PERIOD).await.expect("compared");
    let afresh = started.elapsed();
    assert!(!computed.cache_hit, "a publication invalidated the cached answer");
    let (compare_up, areas_up, hits) = time_comparisons(&sandbox).await;
    assert_eq!(hits, SAMPLES, "with Redis up every repeat is a cache hit");
    assert_eq!(areas_up, computed.areas);

    // Redis killed: the same answers, at about the same pace.
    redis.kill();
    let first = compare(&sandbox, PERIOD).await.expect("compared with Redis down");
    assert_eq!(first.areas, computed.areas, "the answer is unchanged");
    let (compare_down, areas_down, _) = time_comparisons(&sandbox).await;
    assert_eq!(areas_down, computed.areas, "every answer is correct with Redis down");
    let submit_down = time_submissions(&sandbox, &districts, 1901 + SAMPLES as i32).await;
    let compare_ratio = ms(compare_down) / ms(compare_up);

    // A publication made while Redis is down is seen at once.
    let revised_rows = rows(&districts, PERIOD, 100.0);
    sandbox.publish_rows(METRIC, revised_rows.clone()).await;
    let revised = compare(&sandbox, PERIOD).await.expect("compared after the publication");
    assert_eq!(revised.areas[0].denominator, Some(1_000.0));
    let numerators = |r: &CompareAreasResponse| {
        let mut n: Vec<(String, Option<f64>)> = r.areas.iter().map(|a| (a.area_code.clone(), a.numerator)).collect();
        n.sort_by(|a, b| a.0.cmp(&b.0));
        n
    };
    let mut expected: Vec<(String, Option<f64>)> =
        revised_rows.iter().map(|r| (r.area_code.clone(), r.numerator)).collect();
    expected.sort_by(|a, b| a.0.cmp(&b.0));
    assert_eq!(numerators(&revised), expected, "the revision is in the answer");

    // Redis back: no restart, the revision still shows, and the shared cache serves again.
    redis.restart().expect("redis starts again");
    let mut hit_again = false;
    for _ in 0..100 {
        let answer = compare(&sandbox, PERIOD).await.expect("compared after Redis is back");
        assert_eq!(numerators(&answer), expected, "no answer from before the revision returns");
        if answer.cache_hit {
            hit_again = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(hit_again, "once Redis answers, answers are cached again");
    // Submissions with Redis up, timed after the outage so that the comparisons above were not
    // timed beside the database's work on their rows.
    let submit_up = time_submissions(&sandbox, &districts, 1901).await;
    let submit_ratio = ms(submit_down) / ms(submit_up);
    println!(
        "faults ({topology:?}), Redis killed: CompareAreas p50 {:.1} ms up (cached), {:.1} ms down ({compare_ratio:.2}x; \
         computed afresh {:.0} ms); 10-row submission p50 {:.1} ms up, {:.1} ms down ({submit_ratio:.2}x)",
        ms(compare_up),
        ms(compare_down),
        ms(afresh),
        ms(submit_up),
        ms(submit_down)
    );
    // The aim is 2x (issue 22), measured 1.25-2.13x (docs/operations.md): the cost of reading
    // the answer's observations again to prove them unchanged, on a p50 of a few milliseconds.
    // The bound here catches what the breaker and the fallback exist to prevent (a reconnect
    // per call was 9 s; computing afresh is about 50x) without failing on noise.
    assert!(compare_ratio <= 3.0, "CompareAreas with Redis down took {compare_ratio:.2}x its cached p50");
    assert!(submit_ratio <= 2.0, "a submission with Redis down took {submit_ratio:.2}x its p50");

    // PostgreSQL stopped: UNAVAILABLE within the acquire timeout, readiness 503 within a second.
    postgres.stop().expect("postgres stops");
    let started = Instant::now();
    let refused = submit(&sandbox, rows(&districts[..10], "2019/20", 0.0)).await.expect_err("no database");
    let submit_refused = started.elapsed();
    assert_unavailable(&refused, submit_refused, "a submission");
    let started = Instant::now();
    let refused = compare(&sandbox, "2020/21").await.expect_err("no database");
    let compare_refused = started.elapsed();
    assert_unavailable(&refused, compare_refused, "an uncached comparison");
    let slowest_readyz = readyz_until(&sandbox, 503).await;
    assert!(slowest_readyz < Duration::from_secs(1), "readiness took {slowest_readyz:?}");
    println!(
        "faults ({topology:?}), PostgreSQL stopped: submission UNAVAILABLE after {:.0} ms, comparison after {:.0} ms \
         (acquire timeout {ACQUIRE_TIMEOUT_MS} ms); readyz 503, slowest answer {:.0} ms",
        ms(submit_refused),
        ms(compare_refused),
        ms(slowest_readyz)
    );

    // PostgreSQL back: the next request succeeds, and readiness follows.
    postgres.restart().expect("postgres starts again");
    let receipt = submit(&sandbox, rows(&districts[..10], "2019/20", 0.0)).await.expect("the next request succeeds");
    assert_eq!(receipt.counts.expect("counts").created, 10);
    compare(&sandbox, "2020/21").await.expect("comparisons too");
    let slowest_readyz = readyz_until(&sandbox, 200).await;
    assert!(slowest_readyz < Duration::from_secs(1), "readiness took {slowest_readyz:?}");
    sandbox.stop().await.expect("the platform stops");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dependency_faults_single_binary() {
    dependency_faults_are_survived_without_a_restart(Topology::SingleBinary).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dependency_faults_split_services() {
    dependency_faults_are_survived_without_a_restart(Topology::Split).await;
}

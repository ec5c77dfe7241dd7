//! `make bench`: ingest through the gateway against the physical limit measured in the same
//! run on the same PostgreSQL — a raw binary COPY of the same rows into a table of the same
//! shape — and against sea-orm's `insert_many`, the ORM path the store avoids. Writes the
//! figures, each as a ratio to COPY, to BENCHMARKS.md.
//!
//! Usage: `cargo run --release -p sharedmetrics-e2e --bin bench [ROWS]` (default 1,000,000).

#[path = "bench/csv_export.rs"]
mod csv_export;
#[path = "bench/overhead.rs"]
mod overhead;

use std::fmt::Write as _;
use std::time::{Duration, Instant};

use sea_orm::sqlx::{self, Connection};
use sea_orm::{ConnectionTrait, Database};
use sharedmetrics_e2e::{Backend, Sandbox, Topology};
use sharedmetrics_proto::sharedmetrics::common::v1::{AreaType, CiMethod, PeriodType, Polarity, ValueType};
use sharedmetrics_proto::sharedmetrics::definitions::v1::definitions_service_client::DefinitionsServiceClient;
use sharedmetrics_proto::sharedmetrics::definitions::v1::{
    CreateMetricRequest, ListAreasRequest, MetricVersionSpec, Visibility,
};
use sharedmetrics_proto::sharedmetrics::submissions::v1::submissions_service_client::SubmissionsServiceClient;
use sharedmetrics_proto::sharedmetrics::submissions::v1::*;

const COLUMNS: &str = "metric_code, metric_version, area_code, period_code, period_start, breakdown_key, numerator, \
    denominator, value, lower_ci_95, upper_ci_95, observation_status, confidentiality_status, note, submission_id, \
    organisation_code, deleted, valid_from_us, valid_to_us";

/// One benchmark row, as both the gateway and COPY receive it.
#[derive(Clone)]
struct Row {
    area: String,
    period: String,
    period_start: String,
    numerator: f64,
    denominator: f64,
}

fn rows(lsoas: &[String], count: usize, first_year: i32) -> Vec<Row> {
    (0..count)
        .map(|i| {
            let month = i / lsoas.len();
            let (year, month) = (first_year + (month / 12) as i32, month % 12 + 1);
            Row {
                area: lsoas[i % lsoas.len()].clone(),
                period: format!("{year}-{month:02}"),
                period_start: format!("{year}-{month:02}-01"),
                numerator: (i % 97) as f64,
                denominator: 100.0,
            }
        })
        .collect()
}

fn observation_row(r: &Row) -> ObservationRow {
    ObservationRow {
        area_code: r.area.clone(),
        period_code: r.period.clone(),
        numerator: Some(r.numerator),
        denominator: Some(r.denominator),
        ..Default::default()
    }
}

/// Encodes rows in PostgreSQL's binary COPY format for the observations columns.
fn copy_binary(metric: &str, rows: &[Row]) -> Vec<u8> {
    let mut out = Vec::with_capacity(rows.len() * 200);
    out.extend_from_slice(b"PGCOPY\n\xff\r\n\0");
    out.extend_from_slice(&0i32.to_be_bytes());
    out.extend_from_slice(&0i32.to_be_bytes());
    let text = |out: &mut Vec<u8>, s: &str| {
        out.extend_from_slice(&(s.len() as i32).to_be_bytes());
        out.extend_from_slice(s.as_bytes());
    };
    let float = |out: &mut Vec<u8>, v: Option<f64>| match v {
        Some(v) => {
            out.extend_from_slice(&8i32.to_be_bytes());
            out.extend_from_slice(&v.to_be_bytes());
        }
        None => out.extend_from_slice(&(-1i32).to_be_bytes()),
    };
    for r in rows {
        out.extend_from_slice(&19i16.to_be_bytes());
        text(&mut out, metric);
        out.extend_from_slice(&4i32.to_be_bytes());
        out.extend_from_slice(&1i32.to_be_bytes());
        text(&mut out, &r.area);
        text(&mut out, &r.period);
        text(&mut out, &r.period_start);
        text(&mut out, "");
        float(&mut out, Some(r.numerator));
        float(&mut out, Some(r.denominator));
        float(&mut out, Some(r.numerator / r.denominator * 100.0));
        float(&mut out, None);
        float(&mut out, None);
        text(&mut out, "normal");
        text(&mut out, "free");
        text(&mut out, "");
        text(&mut out, "00000000-0000-0000-0000-000000000000");
        text(&mut out, "X24");
        out.extend_from_slice(&1i32.to_be_bytes());
        out.push(0);
        out.extend_from_slice(&8i32.to_be_bytes());
        out.extend_from_slice(&0i64.to_be_bytes());
        out.extend_from_slice(&(-1i32).to_be_bytes());
    }
    out.extend_from_slice(&(-1i16).to_be_bytes());
    out
}

async fn create_metric(sandbox: &Sandbox, code: &str) {
    DefinitionsServiceClient::new(sandbox.admin())
        .create_metric(CreateMetricRequest {
            spec: Some(MetricVersionSpec {
                code: code.into(),
                title: format!("Benchmark {code}"),
                value_type: ValueType::Proportion as i32,
                multiplier: 100,
                polarity: Polarity::HighIsGood as i32,
                ci_method: CiMethod::Wilson as i32,
                period_type: PeriodType::Month as i32,
                area_types: vec![AreaType::Lsoa as i32, AreaType::LocalAuthorityDistrict as i32],
                owners: vec!["X24".into()],
                visibility: Visibility::Public as i32,
                valid_from: "2000-01-01".into(),
                ..Default::default()
            }),
            new_version: false,
            publish: true,
        })
        .await
        .expect("the benchmark metric is created");
}

fn header(metric: &str) -> SubmissionHeader {
    SubmissionHeader { metric_code: metric.into(), mode: SubmissionMode::Merge as i32, ..Default::default() }
}

struct Figure {
    name: String,
    rows: usize,
    elapsed: Duration,
}

impl Figure {
    fn rate(&self) -> f64 {
        self.rows as f64 / self.elapsed.as_secs_f64()
    }
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    if std::env::args().nth(1).as_deref() == Some("overhead") {
        // Only the gateway's own cost, printed (BENCHMARKS.md is written by a full run).
        println!("{}", overhead::gateway_overhead().await?);
        return Ok(());
    }
    if std::env::args().nth(1).as_deref() == Some("csv") {
        // Only the CSV export over REST, printed.
        println!("{}", csv_export::standalone().await?);
        return Ok(());
    }
    let count: usize = std::env::args().nth(1).map(|a| a.parse()).transpose()?.unwrap_or(1_000_000);
    let sandbox = Sandbox::start(Backend::Postgres, Topology::SingleBinary).await?;
    let database_url = sandbox.database_url().expect("a PostgreSQL sandbox").to_owned();
    let mut lsoas = Vec::new();
    let mut token = String::new();
    let mut definitions = DefinitionsServiceClient::new(sandbox.admin());
    loop {
        let page = definitions
            .list_areas(ListAreasRequest {
                r#type: AreaType::Lsoa as i32,
                page_size: 1000,
                page_token: token,
                ..Default::default()
            })
            .await?
            .into_inner();
        lsoas.extend(page.areas.into_iter().map(|a| a.code));
        if page.next_page_token.is_empty() {
            break;
        }
        token = page.next_page_token;
    }
    let mut figures = Vec::new();

    // The limit: binary COPY of the same rows into a table shaped like observations, with the
    // same indexes, on the same server.
    let db = Database::connect(&database_url).await?;
    db.execute_unprepared("CREATE TABLE bench_copy (LIKE observations INCLUDING ALL)").await?;
    let copy_rows = rows(&lsoas, count, 2000);
    let payload = copy_binary("bench-copy", &copy_rows);
    let mut conn = sqlx::PgConnection::connect(&database_url).await?;
    let started = Instant::now();
    let mut copy = conn.copy_in_raw(&format!("COPY bench_copy ({COLUMNS}) FROM STDIN (FORMAT binary)")).await?;
    for chunk in payload.chunks(1 << 20) {
        copy.send(chunk).await?;
    }
    copy.finish().await?;
    figures.push(Figure {
        name: format!("binary COPY, {count} rows (the limit)"),
        rows: count,
        elapsed: started.elapsed(),
    });

    // The ORM path the store does not take: sea-orm insert_many, 1,000 rows per statement.
    let orm_count = count.min(100_000);
    figures.push(orm_insert_many(&db, &rows(&lsoas, orm_count, 2000)).await?);

    let mut client = SubmissionsServiceClient::new(sandbox.admin());
    // Warm up: the first submission loads the reference data snapshot (areas, organisations,
    // code lists) into the submissions service; that one-off cost is not ingest.
    create_metric(&sandbox, "bench-warm-up").await;
    let warm = rows(&lsoas, 10, 1990);
    client
        .submit_observations(SubmitObservationsRequest {
            header: Some(header("bench-warm-up")),
            rows: warm.iter().map(observation_row).collect(),
        })
        .await?;
    // A stream of `count` rows in chunks of 5,000.
    create_metric(&sandbox, "bench-stream").await;
    let stream_rows = rows(&lsoas, count, 2000);
    let mut frames = vec![StreamObservationsRequest {
        frame: Some(stream_observations_request::Frame::Header(header("bench-stream"))),
    }];
    frames.extend(stream_rows.chunks(5_000).map(|chunk| StreamObservationsRequest {
        frame: Some(stream_observations_request::Frame::Chunk(ObservationChunk {
            rows: chunk.iter().map(observation_row).collect(),
        })),
    }));
    frames.push(StreamObservationsRequest {
        frame: Some(stream_observations_request::Frame::End(StreamEnd { row_count: count as u64 })),
    });
    let started = Instant::now();
    let receipt =
        client.stream_observations(tokio_stream::iter(frames)).await?.into_inner().receipt.expect("a receipt");
    let elapsed = started.elapsed();
    anyhow::ensure!(receipt.counts.map(|c| c.created) == Some(count as u64), "the stream created every row");
    figures.push(Figure { name: format!("gateway, one stream of {count} rows"), rows: count, elapsed });

    // Unary batches of 1,000 and of 10 rows, one after another.
    for (batch, batches) in [(1_000usize, (count / 1_000).min(200)), (10, 1_000)] {
        let metric = format!("bench-batch-{batch}");
        create_metric(&sandbox, &metric).await;
        let all = rows(&lsoas, batch * batches, 2000);
        let started = Instant::now();
        for chunk in all.chunks(batch) {
            client
                .submit_observations(SubmitObservationsRequest {
                    header: Some(header(&metric)),
                    rows: chunk.iter().map(observation_row).collect(),
                })
                .await?;
        }
        figures.push(Figure {
            name: format!("gateway, {batches} unary batches of {batch} rows"),
            rows: batch * batches,
            elapsed: started.elapsed(),
        });
    }
    let limit = figures[0].rate();
    for f in &figures {
        eprintln!("{}: {:.0} rows/s, {:.3} of COPY", f.name, f.rate(), f.rate() / limit);
    }
    let comparisons = compare_areas_latency(&sandbox, &database_url).await?;
    let csv = csv_export::csv_export(&sandbox, &lsoas).await?;
    sandbox.stop().await?;
    let overhead = overhead::gateway_overhead().await?;

    let mut table = String::new();
    writeln!(table, "| what | rows | seconds | rows/s | ÷ COPY |")?;
    writeln!(table, "| --- | ---: | ---: | ---: | ---: |")?;
    for f in &figures {
        writeln!(
            table,
            "| {} | {} | {:.2} | {:.0} | {:.3} |",
            f.name,
            f.rows,
            f.elapsed.as_secs_f64(),
            f.rate(),
            f.rate() / limit
        )?;
    }
    println!("{table}");
    println!("{comparisons}");
    println!("{overhead}");
    println!("{csv}");
    write_report(&table, &comparisons, &overhead, &csv, count)?;
    Ok(())
}

/// Calls per latency figure.
const SAMPLES: usize = 15;

fn p50(mut samples: Vec<Duration>) -> Duration {
    samples.sort();
    samples[samples.len() / 2]
}

/// Measures CompareAreas over every district, uncached and cached, against their limits.
async fn compare_areas_latency(sandbox: &Sandbox, database_url: &str) -> anyhow::Result<String> {
    use sharedmetrics_proto::sharedmetrics::access::v1::WhoAmIRequest;
    use sharedmetrics_proto::sharedmetrics::access::v1::access_service_client::AccessServiceClient;
    use sharedmetrics_proto::sharedmetrics::benchmarking::v1::benchmarking_service_client::BenchmarkingServiceClient;
    use sharedmetrics_proto::sharedmetrics::benchmarking::v1::{Benchmark, CompareAreasRequest, benchmark};

    let mut submissions = SubmissionsServiceClient::new(sandbox.admin());
    let listed = submissions
        .list_submissions(ListSubmissionsRequest { metric_code: "bench-stream".into(), ..Default::default() })
        .await?
        .into_inner();
    for submission in listed.submissions {
        submissions
            .publish_submission(PublishSubmissionRequest {
                submission_id: submission.submission_id,
                embargo_until: None,
            })
            .await?;
    }
    let mut benchmarking = BenchmarkingServiceClient::new(sandbox.admin());
    // Results are cached per request; a distinct `as_of` (a millisecond apart, after the data)
    // makes each uncached call a distinct request over the same data.
    let base = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH)?;
    let request = |offset_ms: u32| CompareAreasRequest {
        metric_code: "bench-stream".into(),
        period_code: "2000-01".into(),
        area_type: AreaType::LocalAuthorityDistrict as i32,
        benchmark: Some(Benchmark { kind: Some(benchmark::Kind::England(true)) }),
        page_size: 1_000,
        as_of: Some(prost_types::Timestamp {
            seconds: (base + Duration::from_millis(u64::from(offset_ms))).as_secs() as i64,
            nanos: (base + Duration::from_millis(u64::from(offset_ms))).subsec_nanos() as i32,
        }),
        ..Default::default()
    };
    // Warm up the area hierarchy (loaded once per process) before timing.
    let first = benchmarking.compare_areas(request(2_000)).await?.into_inner();
    anyhow::ensure!(first.areas.len() == 317, "every district is compared, got {}", first.areas.len());
    let mut uncached = Vec::new();
    for i in 0..SAMPLES {
        let started = Instant::now();
        let response = benchmarking.compare_areas(request(1_000 + i as u32)).await?.into_inner();
        uncached.push(started.elapsed());
        anyhow::ensure!(!response.cache_hit, "a distinct request is computed");
    }
    let mut cached = Vec::new();
    for _ in 0..SAMPLES {
        let started = Instant::now();
        let response = benchmarking.compare_areas(request(1_000)).await?.into_inner();
        cached.push(started.elapsed());
        anyhow::ensure!(response.cache_hit, "a repeated request is a cache hit");
    }
    let db = Database::connect(database_url).await?;
    let sql = "SELECT a.ancestor_code, SUM(o.numerator), SUM(o.denominator) FROM observations o \
        JOIN area_ancestors a ON a.area_code = o.area_code JOIN areas d ON d.code = a.ancestor_code \
        WHERE d.area_type = 'local_authority_district' AND o.metric_code = 'bench-stream' AND o.metric_version = 1 \
        AND o.period_start = '2000-01-01' AND o.valid_to_us IS NULL AND NOT o.deleted GROUP BY a.ancestor_code";
    let mut by_hand = Vec::new();
    for _ in 0..SAMPLES {
        let started = Instant::now();
        let rows = db.query_all_raw(sea_orm::Statement::from_string(sea_orm::DbBackend::Postgres, sql)).await?;
        by_hand.push(started.elapsed());
        anyhow::ensure!(rows.len() == 317, "the SQL aggregates every district");
    }
    let mut access = AccessServiceClient::new(sandbox.admin());
    let mut noop = Vec::new();
    for _ in 0..SAMPLES {
        let started = Instant::now();
        access.who_am_i(WhoAmIRequest {}).await?;
        noop.push(started.elapsed());
    }
    let (uncached, cached, by_hand, noop) = (p50(uncached), p50(cached), p50(by_hand), p50(noop));
    let ms = |d: Duration| d.as_secs_f64() * 1_000.0;
    let mut out = String::new();
    writeln!(out, "| what | p50 ms | limit | limit p50 ms | ratio | aim |")?;
    writeln!(out, "| --- | ---: | --- | ---: | ---: | ---: |")?;
    writeln!(
        out,
        "| CompareAreas, every district, uncached | {:.1} | hand-written SQL aggregation | {:.1} | {:.2} | ≤ 1.25 |",
        ms(uncached),
        ms(by_hand),
        ms(uncached) / ms(by_hand)
    )?;
    writeln!(
        out,
        "| CompareAreas, every district, cached | {:.2} | no-op RPC through the gateway | {:.2} | {:.2} | ≤ 1.5 |",
        ms(cached),
        ms(noop),
        ms(cached) / ms(noop)
    )?;
    Ok(out)
}

async fn orm_insert_many(db: &sea_orm::DatabaseConnection, rows: &[Row]) -> anyhow::Result<Figure> {
    use sea_orm::{ActiveValue::Set, EntityTrait};
    db.execute_unprepared("CREATE TABLE bench_orm (LIKE observations INCLUDING ALL)").await?;
    let started = Instant::now();
    for chunk in rows.chunks(1_000) {
        let models = chunk.iter().map(|r| bench_orm::ActiveModel {
            metric_code: Set("bench-orm".into()),
            metric_version: Set(1),
            area_code: Set(r.area.clone()),
            period_code: Set(r.period.clone()),
            period_start: Set(r.period_start.clone()),
            breakdown_key: Set(String::new()),
            numerator: Set(Some(r.numerator)),
            denominator: Set(Some(r.denominator)),
            value: Set(Some(r.numerator / r.denominator * 100.0)),
            lower_ci_95: Set(None),
            upper_ci_95: Set(None),
            observation_status: Set("normal".into()),
            confidentiality_status: Set("free".into()),
            note: Set(String::new()),
            submission_id: Set("00000000-0000-0000-0000-000000000000".into()),
            organisation_code: Set("X24".into()),
            deleted: Set(false),
            valid_from_us: Set(0),
            valid_to_us: Set(None),
            ..Default::default()
        });
        bench_orm::Entity::insert_many(models).exec_without_returning(db).await?;
    }
    Ok(Figure {
        name: format!("sea-orm insert_many, {} rows", rows.len()),
        rows: rows.len(),
        elapsed: started.elapsed(),
    })
}

fn write_report(table: &str, comparisons: &str, overhead: &str, csv: &str, count: usize) -> anyhow::Result<()> {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../BENCHMARKS.md");
    let machine = std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|c| {
            c.lines().find(|l| l.starts_with("model name")).map(|l| l.split(':').nth(1).unwrap_or("").trim().to_owned())
        })
        .unwrap_or_default();
    let cores = std::thread::available_parallelism().map(|n| n.get()).unwrap_or(1);
    let text = format!(
        "# Benchmarks\n\nProduced by `make bench` (`cargo run --release -p sharedmetrics-e2e --bin bench -- {count}`), on {machine}, \
         {cores} cores, PostgreSQL on 127.0.0.1, the platform in one process (`--target all`) with a release build. \
         Every figure is a ratio to the limit measured in the same run: a raw binary COPY of the same rows into a table \
         of the same shape and indexes as `observations`, on the same server.\n\n\
         ## Ingest\n\n{table}\n\
         What each gateway figure includes: authentication, validation of every row against the metric, the area \
         directory and the dimension code lists, the lookup of each key's current version (for created / updated / \
         unchanged), the write (`INSERT … SELECT FROM UNNEST` on PostgreSQL), the receipt, and the gRPC round trips. \
         The sea-orm `insert_many` row is the ORM path the store replaced, measured on the same rows.\n\n\
         ## CompareAreas\n\n{comparisons}\n\
         CompareAreas over every district of England for one month of the streamed metric (32,844 LSOA rows \
         aggregated to 317 districts, England as the benchmark). Uncached: each call is a distinct request, so \
         nothing is served from the cache; its limit is the same aggregation written by hand in SQL against the \
         same tables (observations joined to the area closure). Cached: the same request repeated; its limit is a \
         no-op RPC through the gateway (WhoAmI, authentication and routing only). p50 of {SAMPLES} calls each.\n\n\
         ## Gateway overhead\n\n{overhead}\n\
         The no-op RPC is ComputeStatistics of one proportion: no storage, a few microseconds of arithmetic. The hop \
         is measured on a split deployment: through the gateway (API key, quota, deadline, metrics and trace layers, \
         then gRPC to the benchmarking service) against the benchmarking service's own port called directly with a \
         signed forwarded identity. The middleware figure runs the gateway of one process (`--target all`) against \
         the same service behind a bare tonic server that only inserts the caller's identity. Both figures alternate \
         the two paths in rounds, so that a slow spell of the shared machine falls on both.\n\n\
         ## CSV export over REST\n\n{csv}\n\
         A query of {csv_rows} rows exported as `text/csv` through the HTTP port (`GET /v1/observations?format=csv`, \
         the REST transcoder calling the gateway's gRPC stack in process), read by `curl` in another process. The \
         submissions service reads the rows as the database yields them and applies disclosure control per (area, \
         period) group; the transcoder writes each batch into the HTTP body as it arrives. Nothing is collected, so \
         the RSS growth is bounded by a group and a few batches, not by the query.\n",
        csv_rows = csv_export::CSV_ROWS
    );
    std::fs::write(path, text)?;
    Ok(())
}

mod bench_orm {
    //! A table shaped like observations, for the sea-orm comparison.
    #![allow(missing_docs)]
    use sea_orm::entity::prelude::*;

    #[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
    #[sea_orm(table_name = "bench_orm")]
    pub struct Model {
        #[sea_orm(primary_key)]
        pub id: i64,
        pub metric_code: String,
        pub metric_version: i32,
        pub area_code: String,
        pub period_code: String,
        pub period_start: String,
        pub breakdown_key: String,
        pub numerator: Option<f64>,
        pub denominator: Option<f64>,
        pub value: Option<f64>,
        pub lower_ci_95: Option<f64>,
        pub upper_ci_95: Option<f64>,
        pub observation_status: String,
        pub confidentiality_status: String,
        pub note: String,
        pub submission_id: String,
        pub organisation_code: String,
        pub deleted: bool,
        pub valid_from_us: i64,
        pub valid_to_us: Option<i64>,
    }

    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}

//! A 100,000-row query exported as CSV through the gateway's HTTP port (the REST transcoder),
//! with the process's resident memory measured while it streams: the platform runs in this
//! process and `curl` reads the body in another, so the growth is the server's alone.

use std::io::Read;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use sharedmetrics_e2e::Sandbox;
use sharedmetrics_proto::sharedmetrics::submissions::v1::submissions_service_client::SubmissionsServiceClient;
use sharedmetrics_proto::sharedmetrics::submissions::v1::*;

/// Rows in the exported query.
pub const CSV_ROWS: usize = 100_000;
const METRIC: &str = "bench-csv";

/// Returns a `/proc/self/status` field in KiB (`VmRSS`, `VmHWM`).
fn status_kib(field: &str) -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with(field))?;
    line.split_whitespace().nth(1)?.parse().ok()
}

/// Resets the process's peak RSS (`VmHWM`) to its current RSS; false where the kernel refuses.
fn reset_peak() -> bool {
    std::fs::write("/proc/self/clear_refs", "5").is_ok()
}

/// Streams `CSV_ROWS` rows in, publishes them, exports them as CSV over HTTP and returns the
/// report section: rows/s, bytes, and the RSS growth against the size of the CSV.
pub async fn csv_export(sandbox: &Sandbox, lsoas: &[String]) -> anyhow::Result<String> {
    super::create_metric(sandbox, METRIC).await;
    let rows = super::rows(lsoas, CSV_ROWS, 1990);
    let mut frames = vec![StreamObservationsRequest {
        frame: Some(stream_observations_request::Frame::Header(super::header(METRIC))),
    }];
    frames.extend(rows.chunks(5_000).map(|chunk| StreamObservationsRequest {
        frame: Some(stream_observations_request::Frame::Chunk(ObservationChunk {
            rows: chunk.iter().map(super::observation_row).collect(),
        })),
    }));
    frames.push(StreamObservationsRequest {
        frame: Some(stream_observations_request::Frame::End(StreamEnd { row_count: CSV_ROWS as u64 })),
    });
    drop(rows);
    let mut client = SubmissionsServiceClient::new(sandbox.admin());
    let receipt = client.stream_observations(tokio_stream::iter(frames)).await?.into_inner().receipt;
    let id = receipt.map(|r| r.submission_id).unwrap_or_default();
    client.publish_submission(PublishSubmissionRequest { submission_id: id, embargo_until: None }).await?;

    // The same query over gRPC first, each batch dropped on arrival: what the service itself
    // holds while it answers, and the time the REST export is compared with.
    let grpc = measure(async {
        let mut client = SubmissionsServiceClient::new(sandbox.admin());
        let request = QueryObservationsRequest { metric_code: METRIC.into(), ..Default::default() };
        let mut stream = client.query_observations(request).await?.into_inner();
        let mut rows = 0u64;
        while let Some(batch) = stream.message().await? {
            rows += batch.observations.len() as u64;
        }
        Ok((0, rows))
    })
    .await?;
    anyhow::ensure!(grpc.rows == CSV_ROWS as u64, "the gRPC query returns every row, not {}", grpc.rows);

    let url = format!("http://{}/v1/observations?metric_code={METRIC}&format=csv", sandbox.http_addr);
    let key = format!("Authorization: Bearer {}", sandbox.admin_key);
    let csv = measure(async move {
        // curl writes the body to a pipe read 64 KiB at a time, so this process holds no copy of it.
        tokio::task::spawn_blocking(move || -> anyhow::Result<(u64, u64)> {
            let mut child = Command::new("curl").args(["-sSf", "-H", &key, &url]).stdout(Stdio::piped()).spawn()?;
            let mut stdout = child.stdout.take().expect("piped");
            let mut buffer = vec![0u8; 64 * 1024];
            let (mut bytes, mut lines) = (0u64, 0u64);
            loop {
                let n = stdout.read(&mut buffer)?;
                if n == 0 {
                    break;
                }
                bytes += n as u64;
                lines += buffer[..n].iter().filter(|b| **b == b'\n').count() as u64;
            }
            anyhow::ensure!(child.wait()?.success(), "curl failed");
            // The header line is not a row.
            Ok((bytes, lines.saturating_sub(1)))
        })
        .await?
    })
    .await?;
    anyhow::ensure!(csv.rows == CSV_ROWS as u64, "the CSV has a header and {CSV_ROWS} rows, not {}", csv.rows);
    eprintln!(
        "csv export: {} rows, {} KiB in {:.2} s ({:.0} rows/s); RSS growth {} KiB (gRPC query: {:.2} s, {} KiB)",
        csv.rows,
        csv.bytes / 1024,
        csv.elapsed.as_secs_f64(),
        csv.rate(),
        csv.growth_kib,
        grpc.elapsed.as_secs_f64(),
        grpc.growth_kib,
    );
    let mib = |kib: u64| kib as f64 / 1024.0;
    let extra = csv.growth_kib.saturating_sub(grpc.growth_kib);
    Ok(format!(
        "| what | rows | seconds | rows/s | ÷ gRPC | RSS growth | ÷ CSV size |\n\
         | --- | ---: | ---: | ---: | ---: | ---: | ---: |\n\
         | gRPC QueryObservations (the limit; batches dropped on arrival) | {} | {:.2} | {:.0} | 1.000 | {:.1} MiB | |\n\
         | REST `text/csv` export, {:.1} MiB of CSV | {} | {:.2} | {:.0} | {:.3} | {:.1} MiB | {:.3} |\n\
         | the export's growth beyond the gRPC query's (the transcoder's own) | | | | | {:.1} MiB | {:.3} |\n\
         \n(RSS peak from {})\n",
        grpc.rows,
        grpc.elapsed.as_secs_f64(),
        grpc.rate(),
        grpc.growth_kib as f64 / 1024.0,
        csv.bytes as f64 / 1_048_576.0,
        csv.rows,
        csv.elapsed.as_secs_f64(),
        csv.rate(),
        csv.rate() / grpc.rate(),
        mib(csv.growth_kib),
        csv.growth_kib as f64 / (csv.bytes as f64 / 1024.0).max(1.0),
        mib(extra),
        extra as f64 / (csv.bytes as f64 / 1024.0).max(1.0),
        if csv.peak_reset { "VmHWM, reset before each measurement" } else { "VmRSS sampled every 5 ms" },
    ))
}

/// What one measured read took: time, rows, bytes, and the process's RSS growth meanwhile.
struct Measured {
    elapsed: Duration,
    rows: u64,
    bytes: u64,
    growth_kib: u64,
    peak_reset: bool,
}

impl Measured {
    fn rate(&self) -> f64 {
        self.rows as f64 / self.elapsed.as_secs_f64()
    }
}

/// Runs `read` (which returns bytes and rows read) and measures the RSS peak above the RSS before.
async fn measure(read: impl std::future::Future<Output = anyhow::Result<(u64, u64)>>) -> anyhow::Result<Measured> {
    // Settle, then measure from here: the peak is reset so VmHWM is this read's peak alone.
    tokio::time::sleep(Duration::from_millis(500)).await;
    let before = status_kib("VmRSS").unwrap_or(0);
    let peak_reset = reset_peak();
    let sampled_peak = std::sync::Arc::new(std::sync::atomic::AtomicU64::new(before));
    let sampler = {
        let peak = sampled_peak.clone();
        tokio::spawn(async move {
            loop {
                if let Some(rss) = status_kib("VmRSS") {
                    peak.fetch_max(rss, std::sync::atomic::Ordering::Relaxed);
                }
                tokio::time::sleep(Duration::from_millis(5)).await;
            }
        })
    };
    let started = Instant::now();
    let result = read.await;
    let elapsed = started.elapsed();
    sampler.abort();
    let (bytes, rows) = result?;
    let sampled = sampled_peak.load(std::sync::atomic::Ordering::Relaxed);
    let peak = if peak_reset { status_kib("VmHWM").unwrap_or(sampled).max(sampled) } else { sampled };
    Ok(Measured { elapsed, rows, bytes, growth_kib: peak.saturating_sub(before), peak_reset })
}

/// Runs only the CSV export on a fresh sandbox (`bench csv`), for a quick measurement.
pub async fn standalone() -> anyhow::Result<String> {
    use sharedmetrics_e2e::{Backend, Topology};
    use sharedmetrics_proto::sharedmetrics::common::v1::AreaType;
    use sharedmetrics_proto::sharedmetrics::definitions::v1::ListAreasRequest;
    use sharedmetrics_proto::sharedmetrics::definitions::v1::definitions_service_client::DefinitionsServiceClient;

    let sandbox = Sandbox::start(Backend::Postgres, Topology::SingleBinary).await?;
    let mut definitions = DefinitionsServiceClient::new(sandbox.admin());
    let mut lsoas = Vec::new();
    let mut token = String::new();
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
    let report = csv_export(&sandbox, &lsoas).await;
    sandbox.stop().await?;
    report
}

//! `sharedmetrics submit` against a running platform, on SQLite and on PostgreSQL: a CSV streamed
//! through the gateway's StreamObservations, rows rejected locally and by the server mapped back
//! to their CSV lines in the rejects file, dry run, idempotent replay, REPLACE, atomic, exit
//! statuses, and a refused key.

use std::path::{Path, PathBuf};

use sharedmetrics::submit::{self, SubmitArgs, SubmitOutcome};
use sharedmetrics_e2e::{Backend, Sandbox, Topology, proportion};
use sharedmetrics_proto::sharedmetrics::common::v1::AreaType;
use sharedmetrics_proto::sharedmetrics::definitions::v1::definitions_service_client::DefinitionsServiceClient;
use sharedmetrics_proto::sharedmetrics::definitions::v1::{CreateMetricRequest, MetricVersionSpec};
use sharedmetrics_proto::sharedmetrics::submissions::v1::QueryObservationsRequest;
use sharedmetrics_proto::sharedmetrics::submissions::v1::submissions_service_client::SubmissionsServiceClient;

const METRIC: &str = "e2e-cli-proportion";

/// Line 1 is the header; the row on lines 7–8 has a note over two lines, so the CSV lines after it
/// are one more than the row index plus two.
const OBSERVATIONS: &str = "\
area_code,period_code,breakdown:sex,numerator,denominator,observation_status,note
E01007124,2024/25,,30,100,,total
E01007124,2024/25,F,14,50,provisional,
E01007125,2024/25,,40,100,,
E01999999,2024/25,,1,2,,unknown area
E01007125,2024/25,M,abc,100,,not a number
E01007125,2024/25,F,12,50,,\"a note
over two lines\"
E01007124,2024/25,M,-1,10,,
E01007125,2024/25,M,5,50,final,
E01007124,2023/24,,20,100,,
";

async fn create_metric(sandbox: &Sandbox) {
    let spec = MetricVersionSpec {
        title: "CLI test proportion".into(),
        area_types: vec![AreaType::Lsoa as i32],
        dimensions: vec!["sex".into()],
        ..proportion(METRIC)
    };
    DefinitionsServiceClient::new(sandbox.admin())
        .create_metric(CreateMetricRequest { spec: Some(spec), new_version: false, publish: true })
        .await
        .expect("the admin defines the metric");
}

fn args(sandbox: &Sandbox, file: &Path, extra: &[&str]) -> SubmitArgs {
    let mut argv: Vec<String> = vec![
        file.display().to_string(),
        "--server".into(),
        sandbox.grpc_url(),
        "--api-key".into(),
        sandbox.admin_key.clone(),
        "--metric".into(),
        METRIC.into(),
        // Small chunks, so the file goes as several chunk frames.
        "--chunk-rows".into(),
        "3".into(),
    ];
    argv.extend(extra.iter().map(|s| (*s).to_owned()));
    SubmitArgs::try_parse_from(argv).expect("the arguments parse")
}

fn counts(outcome: &SubmitOutcome) -> (u64, u64, u64, u64, u64) {
    let c = outcome.receipt.counts.unwrap_or_default();
    (c.created, c.updated, c.unchanged, c.retracted, c.rejected)
}

async fn stored(sandbox: &Sandbox) -> usize {
    let mut client = SubmissionsServiceClient::new(sandbox.admin());
    let mut stream = client
        .query_observations(QueryObservationsRequest { metric_code: METRIC.into(), ..Default::default() })
        .await
        .expect("the query is answered")
        .into_inner();
    let mut n = 0;
    while let Some(batch) = stream.message().await.expect("the stream completes") {
        n += batch.observations.len();
    }
    n
}

/// The rejects file as (line, row_index, code, field, the row's original cells).
fn rejects(path: &Path) -> Vec<(String, String, String, String, String)> {
    let text = std::fs::read_to_string(path).expect("the rejects file is written");
    let mut lines = text.lines();
    assert_eq!(
        lines.next(),
        Some(
            "line,row_index,code,field,message,area_code,period_code,breakdown:sex,numerator,denominator,observation_status,note"
        )
    );
    lines
        .map(|line| {
            let mut parts = line.splitn(5, ',');
            let mut next = || parts.next().unwrap_or_default().to_owned();
            let (l, i, c, f, rest) = (next(), next(), next(), next(), next());
            (l, i, c, f, rest)
        })
        .collect()
}

async fn scenario(backend: Backend) {
    let sandbox = Sandbox::start(backend, Topology::SingleBinary).await.expect("the platform starts");
    create_metric(&sandbox).await;
    let dir: PathBuf = std::env::temp_dir().join(format!("sharedmetrics-cli-{}", uuid::Uuid::new_v4().simple()));
    std::fs::create_dir_all(&dir).unwrap();
    let input = dir.join("observations.csv");
    std::fs::write(&input, OBSERVATIONS).unwrap();
    let rejects_file = dir.join("observations.rejects.csv");

    // A dry run validates every row and writes nothing, but reports the rejected rows.
    let dry = submit::submit(&args(&sandbox, &input, &["--dry-run"])).await.expect("the dry run is answered");
    assert!(dry.receipt.dry_run && !dry.receipt.committed);
    assert_eq!(counts(&dry), (5, 0, 0, 0, 2));
    assert_eq!((dry.rows_read, dry.rows_sent, dry.local_rejections), (9, 7, 2));
    assert_eq!(dry.exit_code(), 2, "a dry run with rejected rows exits 2");
    assert!(rejects_file.exists());
    assert_eq!(stored(&sandbox).await, 0, "a dry run writes nothing");

    // The real submission: 7 rows sent in 3 chunks, 5 created, 2 rejected by the server, 2 locally.
    let first = submit::submit(&args(&sandbox, &input, &["--key", "cli-batch-1"])).await.expect("the stream commits");
    assert!(first.receipt.committed && !first.receipt.dry_run && !first.receipt.idempotent_replay);
    assert!(!first.receipt.submission_id.is_empty() && first.receipt.data_version.is_some());
    assert_eq!(counts(&first), (5, 0, 0, 0, 2));
    assert_eq!(first.exit_code(), 2, "committed with rejected rows exits 2");
    assert_eq!(first.rejects_file.as_deref(), Some(rejects_file.as_path()));
    assert_eq!(stored(&sandbox).await, 5);
    let rendered = submit::render(&first);
    for needle in ["created 5", "rejected 2 (+2 locally)", "committed          true", &first.receipt.submission_id] {
        assert!(rendered.contains(needle), "{needle} in\n{rendered}");
    }
    let written = rejects(&rejects_file);
    let summary: Vec<(&str, &str, &str, &str)> =
        written.iter().map(|(l, i, c, f, _)| (l.as_str(), i.as_str(), c.as_str(), f.as_str())).collect();
    assert_eq!(
        summary,
        vec![
            ("5", "3", "UNKNOWN_AREA", "area_code"),
            ("6", "4", "INVALID_NUMBER", "numerator"),
            ("9", "6", "NEGATIVE_COUNT", "numerator"),
            ("10", "7", "UNKNOWN_OBSERVATION_STATUS", "observation_status"),
        ],
        "server row indexes 3 and 5 are mapped back past the unsent row and the two-line note"
    );
    assert!(written[0].4.ends_with(",E01999999,2024/25,,1,2,,unknown area"), "{}", written[0].4);
    assert!(written[1].4.ends_with(",E01007125,2024/25,M,abc,100,,not a number"), "{}", written[1].4);
    assert!(written[2].4.ends_with(",E01007124,2024/25,M,-1,10,,"), "{}", written[2].4);

    // The same key and rows: the first receipt again, nothing written; still exit 2.
    let replay = submit::submit(&args(&sandbox, &input, &["--key", "cli-batch-1"])).await.expect("the replay");
    assert!(replay.receipt.idempotent_replay);
    assert_eq!(replay.receipt.submission_id, first.receipt.submission_id);
    assert_eq!(counts(&replay), counts(&first));
    assert_eq!(submit::run(args(&sandbox, &input, &["--key", "cli-batch-1"])).await.unwrap(), 2);

    // --atomic with a row rejected locally: only validated, nothing written, exit 1.
    let atomic = submit::submit(&args(&sandbox, &input, &["--atomic"])).await.expect("the atomic run is answered");
    assert!(atomic.atomic_refused_locally && !atomic.receipt.committed);
    assert_eq!(atomic.exit_code(), 1);
    assert_eq!(stored(&sandbox).await, 5, "the atomic submission wrote nothing");

    // A clean REPLACE of 2024/25: one row unchanged, the three others of the period retracted,
    // exit 0, and the stale rejects file of that input removed.
    let clean = dir.join("clean.csv");
    std::fs::write(&clean, "area_code,period_code,numerator,denominator,note\nE01007124,2024/25,30,100,total\n")
        .unwrap();
    let stale = dir.join("clean.rejects.csv");
    std::fs::write(&stale, "stale\n").unwrap();
    let replace = ["--mode", "replace", "--replace-periods", "2024/25"];
    assert_eq!(submit::run(args(&sandbox, &clean, &[&replace[..], &["--dry-run"][..]].concat())).await.unwrap(), 0);
    let replaced = submit::submit(&args(&sandbox, &clean, &replace)).await.expect("the replace commits");
    assert_eq!(counts(&replaced), (0, 0, 1, 3, 0));
    assert_eq!(replaced.exit_code(), 0);
    assert!(!stale.exists(), "no rejected row, no rejects file");
    assert_eq!(stored(&sandbox).await, 2, "E01007124 2024/25 and 2023/24 remain");

    // A refused key: an error naming the stable reason (exit 1 in main), nothing written.
    let mut refused = args(&sandbox, &clean, &[]);
    refused.api_key = Some("not-a-key".into());
    let error = submit::run(refused).await.expect_err("the key is refused");
    let described = submit::describe_error(&error);
    assert!(described.contains("UNAUTHENTICATED"), "{described}");
    assert!(!described.contains("not-a-key"), "the key is never shown: {described}");

    let _ = std::fs::remove_dir_all(&dir);
    sandbox.stop().await.expect("the platform stops");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn submit_csv_on_sqlite() {
    scenario(Backend::Sqlite).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn submit_csv_on_postgres() {
    scenario(Backend::Postgres).await;
}

//! `sharedmetrics submit`: streams a CSV of observations to the gateway's
//! `SubmissionsService/StreamObservations` as one submission (a header frame, chunk frames, one
//! end frame), prints the receipt, and writes every rejected row, with its reason, to
//! `<input stem>.rejects.csv` next to the input.
//!
//! The file is read twice at most, row by row, never held in memory: once to stream it (a
//! blocking reader feeds a bounded channel that is the request stream), and, only when rows were
//! rejected, once more to copy the rejected rows' cells into the rejects file. Rows that cannot
//! be read locally (a non-number in a numeric column, an unknown status) are not sent; the
//! server's row indexes, which count only the rows it received, are mapped back to CSV lines.

use std::collections::HashMap;
use std::ffi::OsString;
use std::fs::File;
use std::io::{BufReader, IsTerminal};
use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::{Context, bail};
use clap::{Args, Parser, ValueEnum};
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use prost::Message;
use sharedmetrics_error::ServiceError;
use sharedmetrics_proto::sharedmetrics::common::v1::{Breakdown, BreakdownCode};
use sharedmetrics_proto::sharedmetrics::submissions::v1::submissions_service_client::SubmissionsServiceClient;
use sharedmetrics_proto::sharedmetrics::submissions::v1::{
    ConfidentialityStatus, ObservationChunk, ObservationRow, ObservationStatus, ReplaceScope, RowRejection, StreamEnd,
    StreamObservationsRequest, SubmissionHeader, SubmissionMode, SubmissionReceipt, stream_observations_request::Frame,
};
use tokio::sync::{mpsc, watch};
use tonic::metadata::{Ascii, MetadataValue};

/// The CSV columns, as shown by `sharedmetrics submit --help` (and in docs/submissions-cli.md).
pub const CSV_HELP: &str = "\
CSV columns (a header row is required; column order is free; names are exact):
  area_code               required  GSS code of an area (E01…, E06…) or ODS code of an organisation
  period_code             required  canonical period code of the metric's period type (2024/25, 2024/25-Q1, 2024-03)
  numerator               optional  number; empty = unset
  denominator             optional  number; empty = unset
  value                   optional  number; empty = derived by the platform where it can be
  lower_ci_95             optional  number; the source's lower 95% limit, kept as supplied
  upper_ci_95             optional  number; the source's upper 95% limit, kept as supplied
  observation_status      optional  normal|provisional|estimated|break_in_series|missing|suppressed (empty = normal)
  confidentiality_status  optional  free|confidential|not_for_publication (empty = free)
  note                    optional  free-text footnote
  breakdown:<dimension>   optional  one column per dimension, e.g. breakdown:sex, breakdown:imd_decile;
                                    the cell is the category code, empty = not in this row's breakdown
                                    (a row with every breakdown cell empty is the total)

Rows that cannot be read locally (a non-number in a numeric column, an unknown status, a wrong
number of cells) are not sent. Every rejected row, local or from the server, is written to
<input stem>.rejects.csv next to the input: line (1-based CSV line, header = line 1), row_index
(0-based data row of the file), code, field, message, then the row's original cells.

Exit status: 0 committed (or dry run) with no rejected row; 2 committed, or dry run, with rejected
rows; 1 on error, or when an atomic submission wrote nothing because a row was rejected.";

/// How the rows are applied.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Mode {
    /// Upsert the rows given; other rows are left alone.
    Merge,
    /// Upsert the rows given and retract the current rows of --replace-periods not given.
    Replace,
    /// Retract the rows given (only their keys are read).
    Delete,
}

impl Mode {
    fn proto(self) -> SubmissionMode {
        match self {
            Mode::Merge => SubmissionMode::Merge,
            Mode::Replace => SubmissionMode::Replace,
            Mode::Delete => SubmissionMode::Delete,
        }
    }
}

/// The arguments of `sharedmetrics submit`. Not `Debug`: it carries the API key.
#[derive(Args, Clone)]
pub struct SubmitArgs {
    /// The CSV file of observations (see the column list below).
    #[arg(value_name = "FILE.csv")]
    pub file: PathBuf,
    /// The gateway's gRPC URL.
    #[arg(long, env = "SHAREDMETRICS_SERVER", default_value = "http://127.0.0.1:50051")]
    pub server: String,
    /// API key, sent as `authorization: Bearer KEY` (default: the contents of data/admin-api-key, if present).
    #[arg(long, env = "SHAREDMETRICS_API_KEY", hide_env_values = true)]
    pub api_key: Option<String>,
    /// Code of the metric the rows are observations of.
    #[arg(long, value_name = "CODE")]
    pub metric: String,
    /// A published version of the metric; 0 means its current version.
    #[arg(long, value_name = "N", default_value_t = 0)]
    pub metric_version: u32,
    /// How the rows are applied to what is stored.
    #[arg(long, value_enum, default_value_t = Mode::Merge)]
    pub mode: Mode,
    /// The periods a REPLACE replaces, comma-separated (required with --mode replace; every breakdown).
    #[arg(long, value_name = "P1,P2", value_delimiter = ',', required_if_eq("mode", "replace"))]
    pub replace_periods: Vec<String>,
    /// One rejected row rejects the whole submission and nothing is written.
    #[arg(long)]
    pub atomic: bool,
    /// Validate and count as if applying, but write nothing.
    #[arg(long)]
    pub dry_run: bool,
    /// Idempotency key: a replay with the same rows returns the first receipt and writes nothing.
    #[arg(long = "key", value_name = "IDEMPOTENCY_KEY")]
    pub idempotency_key: Option<String>,
    /// The source system recorded as the rows' provenance.
    #[arg(long, value_name = "NAME", default_value = "sharedmetrics-cli")]
    pub source_system: String,
    /// Rows per chunk frame (a chunk is also cut at 2 MiB).
    #[arg(long, value_name = "N", default_value_t = 5000, value_parser = clap::value_parser!(u64).range(1..))]
    pub chunk_rows: u64,
}

impl SubmitArgs {
    /// Parses the arguments of `sharedmetrics submit` (without the program and subcommand names),
    /// as the command line would; for callers that drive the command from code.
    pub fn try_parse_from<I, T>(args: I) -> Result<Self, clap::Error>
    where
        I: IntoIterator<Item = T>,
        T: Into<OsString>,
    {
        #[derive(Parser)]
        #[command(name = "submit")]
        struct Wrapper {
            #[command(flatten)]
            args: SubmitArgs,
        }
        let argv = std::iter::once(OsString::from("submit")).chain(args.into_iter().map(Into::into));
        Wrapper::try_parse_from(argv).map(|w| w.args)
    }
}

/// What one `submit` did.
#[derive(Debug, Clone)]
pub struct SubmitOutcome {
    /// The server's receipt.
    pub receipt: SubmissionReceipt,
    /// Data rows read from the file.
    pub rows_read: u64,
    /// Rows sent to the server (those read without a local rejection).
    pub rows_sent: u64,
    /// Rows rejected locally and not sent.
    pub local_rejections: u64,
    /// True when `--atomic` met a row rejected locally, so the rows were only validated (as a
    /// dry run) and nothing was written.
    pub atomic_refused_locally: bool,
    /// The rejects file, when any row was rejected.
    pub rejects_file: Option<PathBuf>,
    /// Lines written to the rejects file (one per rejection).
    pub rejects_written: u64,
}

impl SubmitOutcome {
    /// Rows rejected, by the server or locally.
    pub fn rejected(&self) -> u64 {
        self.receipt.counts.unwrap_or_default().rejected + self.local_rejections
    }

    /// The process exit status: 0 committed (or a dry run) with no rejection, 2 committed (or a
    /// dry run) with rejections, 1 when an atomic submission wrote nothing.
    pub fn exit_code(&self) -> i32 {
        let clean = self.rejected() == 0;
        let dry_run = self.receipt.dry_run && !self.atomic_refused_locally;
        if self.receipt.committed || dry_run { if clean { 0 } else { 2 } } else { 1 }
    }
}

/// Runs `sharedmetrics submit`: submits, prints the receipt on stdout, and returns the exit status.
/// Errors (bad arguments or file, an unreachable server, a refused submission) are returned; show
/// them with [`describe_error`] and exit with status 1.
pub async fn run(args: SubmitArgs) -> anyhow::Result<i32> {
    let outcome = submit(&args).await?;
    print!("{}", render(&outcome));
    Ok(outcome.exit_code())
}

/// Describes an error for a person: for a refused call, the service's stable reason and message.
pub fn describe_error(error: &anyhow::Error) -> String {
    match error.downcast_ref::<ServiceError>() {
        Some(service) => {
            let contexts: Vec<String> = error
                .chain()
                .take_while(|e| e.downcast_ref::<ServiceError>().is_none())
                .map(|e| e.to_string())
                .collect();
            let reason = sharedmetrics_error::reason(service.code);
            let mut text = contexts.join(": ");
            if !text.is_empty() {
                text.push_str(": ");
            }
            text.push_str(&format!("{} (reason {reason})", service.message));
            for v in &service.violations {
                text.push_str(&format!("\n  {}: {} ({})", v.field, v.description, v.reason));
            }
            text
        }
        None => format!("{error:#}"),
    }
}

/// Submits the file and writes the rejects file; prints nothing on stdout.
pub async fn submit(args: &SubmitArgs) -> anyhow::Result<SubmitOutcome> {
    let header = submission_header(args)?;
    let authorization = authorization(args)?;
    let (columns, mut reader) = open_csv(&args.file)?;

    // With --atomic a row that cannot be read locally must stop the whole submission, but the
    // header goes first: look for such rows before sending, and if there are any, ask the server
    // for a dry run so that the report still lists every rejected row.
    let mut header = header;
    let mut atomic_refused_locally = false;
    if args.atomic && !args.dry_run {
        let local = count_local_rejections(&args.file, &columns)?;
        if local > 0 {
            atomic_refused_locally = true;
            header.dry_run = true;
        }
    }

    let endpoint = tonic::transport::Endpoint::from_shared(args.server.clone())
        .with_context(|| format!("--server {} is not a URL", args.server))?
        .connect_timeout(Duration::from_secs(10));
    let channel = endpoint.connect().await.with_context(|| format!("connecting to {}", args.server))?;
    let mut client = SubmissionsServiceClient::new(channel).max_decoding_message_size(1 << 30);

    let progress = progress_bar(std::fs::metadata(&args.file).map(|m| m.len()).unwrap_or(0));
    let (tx, rx) = mpsc::channel::<StreamObservationsRequest>(4);
    let (stop_tx, stop_rx) = watch::channel(false);
    let handle = tokio::runtime::Handle::current();
    let chunk_rows = args.chunk_rows as usize;
    let reader_progress = progress.clone();
    let reader_task = tokio::task::spawn_blocking(move || {
        let sender = FrameSender { tx, stop: stop_rx, handle };
        stream_file(&mut reader, &columns, header, chunk_rows, &sender, &reader_progress).map(|s| (s, columns))
    });

    let mut request = tonic::Request::new(tokio_stream::wrappers::ReceiverStream::new(rx));
    request.metadata_mut().insert("authorization", authorization);
    let response = client.stream_observations(request).await;
    // Whatever the answer, the reader must not wait on a stream nobody reads any more.
    let _ = stop_tx.send(true);
    let read = reader_task.await.context("the CSV reader stopped")?;
    progress.finish_and_clear();
    let (summary, columns) = read.with_context(|| format!("reading {}", args.file.display()))?;
    let receipt = match response {
        Ok(response) => response.into_inner().receipt.context("the server answered without a receipt")?,
        Err(status) => {
            return Err(anyhow::Error::new(ServiceError::from(status)).context("the submission was refused"));
        }
    };
    if !summary.completed {
        bail!("the server answered before the whole file was sent");
    }

    let rejects_path = rejects_path(&args.file);
    let mut outcome = SubmitOutcome {
        receipt,
        rows_read: summary.rows_read,
        rows_sent: summary.rows_sent,
        local_rejections: summary.local_rejections,
        atomic_refused_locally,
        rejects_file: None,
        rejects_written: 0,
    };
    if outcome.rejected() > 0 {
        let written = write_rejects(&args.file, &rejects_path, &columns, &outcome.receipt.rejections)?;
        outcome.rejects_file = Some(rejects_path);
        outcome.rejects_written = written;
    } else if rejects_path.exists() {
        // A rejects file from an earlier run would describe rows that are no longer rejected.
        std::fs::remove_file(&rejects_path)
            .with_context(|| format!("removing the stale {}", rejects_path.display()))?;
    }
    Ok(outcome)
}

/// Renders the receipt for a person.
pub fn render(outcome: &SubmitOutcome) -> String {
    let r = &outcome.receipt;
    let counts = r.counts.unwrap_or_default();
    let data_version = r
        .data_version
        .and_then(|t| chrono::DateTime::from_timestamp(t.seconds, t.nanos.max(0) as u32))
        .map(|t| t.to_rfc3339_opts(chrono::SecondsFormat::Micros, true))
        .unwrap_or_else(|| "-".into());
    let mode =
        SubmissionMode::try_from(r.mode).map(|m| m.as_str_name().trim_start_matches("SUBMISSION_MODE_")).unwrap_or("?");
    let mut out = String::new();
    out.push_str("receipt\n");
    out.push_str(&format!(
        "  submission_id      {}\n",
        if r.submission_id.is_empty() { "- (nothing committed)" } else { &r.submission_id }
    ));
    out.push_str(&format!("  metric             {} version {}, mode {mode}\n", r.metric_code, r.metric_version));
    out.push_str(&format!("  committed          {}\n", r.committed));
    out.push_str(&format!("  dry_run            {}\n", r.dry_run));
    out.push_str(&format!("  idempotent_replay  {}\n", r.idempotent_replay));
    out.push_str(&format!("  data_version       {data_version}\n"));
    out.push_str(&format!(
        "  rows               {} read, {} sent, {} not sent (rejected locally)\n",
        outcome.rows_read, outcome.rows_sent, outcome.local_rejections
    ));
    out.push_str(&format!(
        "  created {}  updated {}  unchanged {}  retracted {}  rejected {}",
        counts.created, counts.updated, counts.unchanged, counts.retracted, counts.rejected
    ));
    if outcome.local_rejections > 0 {
        out.push_str(&format!(" (+{} locally)", outcome.local_rejections));
    }
    out.push('\n');
    if outcome.atomic_refused_locally {
        out.push_str("atomic: rows were rejected locally, so the rows were only validated; nothing was written\n");
    } else if !r.committed && !r.dry_run {
        out.push_str("atomic: a row was rejected, so nothing was written\n");
    }
    if let Some(path) = &outcome.rejects_file {
        out.push_str(&format!("{} rejected rows written to {}\n", outcome.rejected(), path.display()));
    }
    out
}

/// The file rejected rows are written to: `<input stem>.rejects.csv` next to the input.
pub fn rejects_path(input: &Path) -> PathBuf {
    let stem = input.file_stem().map(|s| s.to_string_lossy().into_owned()).unwrap_or_else(|| "submission".into());
    input.with_file_name(format!("{stem}.rejects.csv"))
}

fn submission_header(args: &SubmitArgs) -> anyhow::Result<SubmissionHeader> {
    if args.metric.trim().is_empty() {
        bail!("--metric is empty");
    }
    let periods: Vec<String> =
        args.replace_periods.iter().map(|p| p.trim().to_owned()).filter(|p| !p.is_empty()).collect();
    let replace_scope = match args.mode {
        Mode::Replace if periods.is_empty() => bail!("--mode replace needs --replace-periods P1,P2"),
        Mode::Replace => Some(ReplaceScope { period_codes: periods, all_breakdowns: true, ..Default::default() }),
        _ if !periods.is_empty() => bail!("--replace-periods is only for --mode replace"),
        _ => None,
    };
    Ok(SubmissionHeader {
        metric_code: args.metric.trim().to_owned(),
        metric_version: args.metric_version,
        mode: args.mode.proto() as i32,
        atomic: args.atomic,
        dry_run: args.dry_run,
        idempotency_key: args.idempotency_key.clone().unwrap_or_default(),
        replace_scope,
        source_system: args.source_system.clone(),
    })
}

/// The `authorization` metadata: from --api-key / SHAREDMETRICS_API_KEY, else data/admin-api-key.
/// The key is never printed.
fn authorization(args: &SubmitArgs) -> anyhow::Result<MetadataValue<Ascii>> {
    let key = match &args.api_key {
        Some(key) => key.trim().to_owned(),
        None => match std::fs::read_to_string("data/admin-api-key") {
            Ok(text) => text.trim().to_owned(),
            Err(_) => bail!("no API key: pass --api-key or set SHAREDMETRICS_API_KEY (data/admin-api-key is absent)"),
        },
    };
    if key.is_empty() {
        bail!("the API key is empty");
    }
    let mut value: MetadataValue<Ascii> = format!("Bearer {key}")
        .parse()
        .map_err(|_| anyhow::anyhow!("the API key has characters a header cannot carry"))?;
    value.set_sensitive(true);
    Ok(value)
}

/// Where each known column is.
struct Columns {
    headers: csv::ByteRecord,
    area_code: usize,
    period_code: usize,
    numerator: Option<usize>,
    denominator: Option<usize>,
    value: Option<usize>,
    lower_ci_95: Option<usize>,
    upper_ci_95: Option<usize>,
    observation_status: Option<usize>,
    confidentiality_status: Option<usize>,
    note: Option<usize>,
    breakdowns: Vec<(String, usize)>,
}

impl Columns {
    fn parse(headers: &csv::ByteRecord) -> anyhow::Result<Self> {
        let mut seen: HashMap<String, usize> = HashMap::new();
        let mut breakdowns = Vec::new();
        for (i, raw) in headers.iter().enumerate() {
            let name = std::str::from_utf8(raw).context("the header row is not UTF-8")?;
            let name = name.trim_start_matches('\u{feff}').trim().to_owned();
            match name.as_str() {
                "area_code"
                | "period_code"
                | "numerator"
                | "denominator"
                | "value"
                | "lower_ci_95"
                | "upper_ci_95"
                | "observation_status"
                | "confidentiality_status"
                | "note" => {}
                _ => match name.strip_prefix("breakdown:") {
                    Some(dimension) if !dimension.trim().is_empty() => {
                        breakdowns.push((dimension.trim().to_owned(), i));
                    }
                    Some(_) => bail!("column {} is `breakdown:` without a dimension", i + 1),
                    None => bail!(
                        "unknown column `{name}` (column {}); the columns are area_code, period_code, numerator, \
                         denominator, value, lower_ci_95, upper_ci_95, observation_status, confidentiality_status, \
                         note and breakdown:<dimension>",
                        i + 1
                    ),
                },
            }
            if seen.insert(name.clone(), i).is_some() {
                bail!("column `{name}` appears twice in the header row");
            }
        }
        let required =
            |name: &str| seen.get(name).copied().with_context(|| format!("the header row has no `{name}` column"));
        Ok(Self {
            headers: headers.clone(),
            area_code: required("area_code")?,
            period_code: required("period_code")?,
            numerator: seen.get("numerator").copied(),
            denominator: seen.get("denominator").copied(),
            value: seen.get("value").copied(),
            lower_ci_95: seen.get("lower_ci_95").copied(),
            upper_ci_95: seen.get("upper_ci_95").copied(),
            observation_status: seen.get("observation_status").copied(),
            confidentiality_status: seen.get("confidentiality_status").copied(),
            note: seen.get("note").copied(),
            breakdowns,
        })
    }
}

/// A row that could not be read locally.
#[derive(Debug, Clone, PartialEq, Eq)]
struct LocalRejection {
    code: &'static str,
    field: String,
    message: String,
}

impl LocalRejection {
    fn new(code: &'static str, field: impl Into<String>, message: impl Into<String>) -> Self {
        Self { code, field: field.into(), message: message.into() }
    }
}

fn parse_row(columns: &Columns, record: &csv::ByteRecord) -> Result<ObservationRow, LocalRejection> {
    if record.len() != columns.headers.len() {
        return Err(LocalRejection::new(
            "WRONG_FIELD_COUNT",
            "",
            format!("the row has {} cells but the header row has {}", record.len(), columns.headers.len()),
        ));
    }
    let cell = |i: usize, name: &str| -> Result<&str, LocalRejection> {
        std::str::from_utf8(&record[i])
            .map_err(|_| LocalRejection::new("INVALID_UTF8", name, format!("`{name}` is not UTF-8 text")))
    };
    let number = |index: Option<usize>, name: &str| -> Result<Option<f64>, LocalRejection> {
        let Some(i) = index else { return Ok(None) };
        let text = cell(i, name)?.trim();
        if text.is_empty() {
            return Ok(None);
        }
        match text.parse::<f64>() {
            Ok(v) if v.is_finite() => Ok(Some(v)),
            _ => Err(LocalRejection::new("INVALID_NUMBER", name, format!("`{name}` is `{text}`, not a number"))),
        }
    };
    let text = |index: Option<usize>, name: &str| -> Result<String, LocalRejection> {
        index.map(|i| cell(i, name).map(|s| s.trim().to_owned())).unwrap_or(Ok(String::new()))
    };
    let observation_status = match text(columns.observation_status, "observation_status")?.to_ascii_lowercase().as_str()
    {
        "" => ObservationStatus::Unspecified,
        "normal" => ObservationStatus::Normal,
        "provisional" => ObservationStatus::Provisional,
        "estimated" => ObservationStatus::Estimated,
        "break_in_series" => ObservationStatus::BreakInSeries,
        "missing" => ObservationStatus::Missing,
        "suppressed" => ObservationStatus::Suppressed,
        other => {
            return Err(LocalRejection::new(
                "UNKNOWN_OBSERVATION_STATUS",
                "observation_status",
                format!(
                    "observation_status `{other}` is not one of normal, provisional, estimated, break_in_series, \
                     missing, suppressed"
                ),
            ));
        }
    };
    let confidentiality_status =
        match text(columns.confidentiality_status, "confidentiality_status")?.to_ascii_lowercase().as_str() {
            "" => ConfidentialityStatus::Unspecified,
            "free" => ConfidentialityStatus::Free,
            "confidential" => ConfidentialityStatus::Confidential,
            "not_for_publication" => ConfidentialityStatus::NotForPublication,
            other => {
                return Err(LocalRejection::new(
                    "UNKNOWN_CONFIDENTIALITY_STATUS",
                    "confidentiality_status",
                    format!("confidentiality_status `{other}` is not one of free, confidential, not_for_publication"),
                ));
            }
        };
    let mut codes = Vec::new();
    for (dimension, i) in &columns.breakdowns {
        let code = cell(*i, &format!("breakdown:{dimension}"))?.trim();
        if !code.is_empty() {
            codes.push(BreakdownCode { dimension: dimension.clone(), code: code.to_owned() });
        }
    }
    Ok(ObservationRow {
        area_code: text(Some(columns.area_code), "area_code")?,
        period_code: text(Some(columns.period_code), "period_code")?,
        breakdown: (!codes.is_empty()).then_some(Breakdown { codes }),
        numerator: number(columns.numerator, "numerator")?,
        denominator: number(columns.denominator, "denominator")?,
        value: number(columns.value, "value")?,
        lower_ci_95: number(columns.lower_ci_95, "lower_ci_95")?,
        upper_ci_95: number(columns.upper_ci_95, "upper_ci_95")?,
        observation_status: observation_status as i32,
        confidentiality_status: confidentiality_status as i32,
        // The note is kept as written, spaces included.
        note: columns.note.map(|i| cell(i, "note").map(str::to_owned)).transpose()?.unwrap_or_default(),
    })
}

type CsvReader = csv::Reader<BufReader<File>>;

fn open_csv(path: &Path) -> anyhow::Result<(Columns, CsvReader)> {
    let file = File::open(path).with_context(|| format!("opening {}", path.display()))?;
    let mut reader = csv::ReaderBuilder::new().has_headers(true).flexible(true).from_reader(BufReader::new(file));
    let headers = reader.byte_headers().with_context(|| format!("reading the header row of {}", path.display()))?;
    if headers.is_empty() {
        bail!("{} is empty: a header row is required", path.display());
    }
    let columns = Columns::parse(headers).with_context(|| format!("reading the header row of {}", path.display()))?;
    Ok((columns, reader))
}

fn count_local_rejections(path: &Path, columns: &Columns) -> anyhow::Result<u64> {
    let (_, mut reader) = open_csv(path)?;
    let mut record = csv::ByteRecord::new();
    let mut count = 0;
    while reader.read_byte_record(&mut record).with_context(|| format!("reading {}", path.display()))? {
        if parse_row(columns, &record).is_err() {
            count += 1;
        }
    }
    Ok(count)
}

/// Sends frames into the request stream from the blocking reader; gives up when told to stop.
struct FrameSender {
    tx: mpsc::Sender<StreamObservationsRequest>,
    stop: watch::Receiver<bool>,
    handle: tokio::runtime::Handle,
}

impl FrameSender {
    /// Returns false when the stream is no longer read.
    fn send(&self, frame: Frame) -> bool {
        let mut stop = self.stop.clone();
        self.handle.block_on(async {
            tokio::select! {
                sent = self.tx.send(StreamObservationsRequest { frame: Some(frame) }) => sent.is_ok(),
                _ = stop.wait_for(|stop| *stop) => false,
            }
        })
    }
}

struct StreamSummary {
    rows_read: u64,
    rows_sent: u64,
    local_rejections: u64,
    /// True when the end frame was sent.
    completed: bool,
}

/// A chunk is cut at this many encoded bytes, well under the server's 4 MiB message limit.
const CHUNK_BYTES: usize = 2 << 20;

/// Streams the header, the rows in chunks, and the end frame. On a read error it returns before
/// sending the end frame, so the server refuses the stream and nothing is written.
fn stream_file(
    reader: &mut CsvReader,
    columns: &Columns,
    header: SubmissionHeader,
    chunk_rows: usize,
    sender: &FrameSender,
    progress: &ProgressBar,
) -> anyhow::Result<StreamSummary> {
    let mut summary = StreamSummary { rows_read: 0, rows_sent: 0, local_rejections: 0, completed: false };
    if !sender.send(Frame::Header(header)) {
        return Ok(summary);
    }
    let mut record = csv::ByteRecord::new();
    let mut chunk: Vec<ObservationRow> = Vec::with_capacity(chunk_rows.min(10_000));
    let mut chunk_bytes = 0;
    loop {
        let more = reader
            .read_byte_record(&mut record)
            .with_context(|| format!("at line {}", record.position().map(|p| p.line() + 1).unwrap_or(0)))?;
        if more {
            summary.rows_read += 1;
            match parse_row(columns, &record) {
                Ok(row) => {
                    chunk_bytes += row.encoded_len() + 4;
                    chunk.push(row);
                    summary.rows_sent += 1;
                }
                Err(_) => summary.local_rejections += 1,
            }
        }
        if !chunk.is_empty() && (!more || chunk.len() >= chunk_rows || chunk_bytes >= CHUNK_BYTES) {
            let rows = std::mem::replace(&mut chunk, Vec::with_capacity(chunk_rows.min(10_000)));
            chunk_bytes = 0;
            if !sender.send(Frame::Chunk(ObservationChunk { rows })) {
                return Ok(summary);
            }
        }
        if summary.rows_read.is_multiple_of(1024) || !more {
            progress.set_position(reader.position().byte());
            progress.set_message(format!("{} rows read", summary.rows_read));
        }
        if !more {
            break;
        }
    }
    if !sender.send(Frame::End(StreamEnd { row_count: summary.rows_sent })) {
        return Ok(summary);
    }
    progress.set_message(format!("{} rows sent, awaiting the receipt", summary.rows_sent));
    summary.completed = true;
    Ok(summary)
}

fn progress_bar(total_bytes: u64) -> ProgressBar {
    let bar = ProgressBar::with_draw_target(
        Some(total_bytes),
        if std::io::stderr().is_terminal() { ProgressDrawTarget::stderr() } else { ProgressDrawTarget::hidden() },
    );
    if let Ok(style) = ProgressStyle::with_template("{spinner} [{bar:24}] {percent:>3}% {msg} {elapsed}") {
        bar.set_style(style.progress_chars("=> "));
    }
    bar.enable_steady_tick(Duration::from_millis(200));
    bar
}

/// Writes every rejected row: re-reads the file, mapping the server's row indexes (which count
/// only the rows sent) back to CSV rows, and copies each rejected row's cells.
fn write_rejects(input: &Path, output: &Path, columns: &Columns, server: &[RowRejection]) -> anyhow::Result<u64> {
    let mut by_index: HashMap<u64, Vec<&RowRejection>> = HashMap::new();
    for rejection in server {
        by_index.entry(rejection.row_index).or_default().push(rejection);
    }
    let (_, mut reader) = open_csv(input)?;
    let mut writer = csv::WriterBuilder::new()
        .flexible(true)
        .from_path(output)
        .with_context(|| format!("creating {}", output.display()))?;
    let mut head = csv::ByteRecord::from(vec!["line", "row_index", "code", "field", "message"]);
    head.extend(columns.headers.iter());
    writer.write_byte_record(&head)?;
    let mut record = csv::ByteRecord::new();
    let (mut row_index, mut sent_index, mut written) = (0u64, 0u64, 0u64);
    let mut write = |record: &csv::ByteRecord, row_index: u64, code: &str, field: &str, message: &str| {
        let line = record.position().map(|p| p.line()).unwrap_or(0).to_string();
        let index = row_index.to_string();
        let mut out = csv::ByteRecord::from(vec![line.as_str(), index.as_str(), code, field, message]);
        out.extend(record.iter());
        written += 1;
        writer.write_byte_record(&out)
    };
    while reader.read_byte_record(&mut record).with_context(|| format!("re-reading {}", input.display()))? {
        match parse_row(columns, &record) {
            Err(local) => write(&record, row_index, local.code, &local.field, &local.message)?,
            Ok(_) => {
                for rejection in by_index.remove(&sent_index).unwrap_or_default() {
                    write(&record, row_index, &rejection.code, &rejection.field, &rejection.message)?;
                }
                sent_index += 1;
            }
        }
        row_index += 1;
    }
    writer.flush().with_context(|| format!("writing {}", output.display()))?;
    if !by_index.is_empty() {
        eprintln!(
            "warning: {} rejections name rows past the end of {}; was it changed during the submission?",
            by_index.len(),
            input.display()
        );
    }
    Ok(written)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn columns(header: &str) -> Columns {
        Columns::parse(&csv::ByteRecord::from(header.split(',').collect::<Vec<_>>())).unwrap()
    }

    fn row(columns: &Columns, cells: &str) -> Result<ObservationRow, LocalRejection> {
        parse_row(columns, &csv::ByteRecord::from(cells.split(',').collect::<Vec<_>>()))
    }

    #[test]
    fn rows_parse_with_breakdowns_statuses_and_unset_numbers() {
        let c = columns(
            "area_code,period_code,breakdown:sex,breakdown:imd_decile,numerator,denominator,value,observation_status,confidentiality_status,note",
        );
        let r = row(&c, "E01007124, 2024/25 ,F,,3,,,Provisional,confidential, a note").unwrap();
        assert_eq!((r.area_code.as_str(), r.period_code.as_str()), ("E01007124", "2024/25"));
        let codes = r.breakdown.unwrap().codes;
        assert_eq!(codes.len(), 1);
        assert_eq!((codes[0].dimension.as_str(), codes[0].code.as_str()), ("sex", "F"));
        assert_eq!((r.numerator, r.denominator, r.value), (Some(3.0), None, None));
        assert_eq!(r.observation_status, ObservationStatus::Provisional as i32);
        assert_eq!(r.confidentiality_status, ConfidentialityStatus::Confidential as i32);
        assert_eq!(r.note, " a note");
        let total = row(&c, "E01007124,2024/25,,,3,10,,,,").unwrap();
        assert!(total.breakdown.is_none());
    }

    #[test]
    fn unreadable_rows_are_named_by_field() {
        let c = columns("area_code,period_code,numerator,observation_status");
        assert_eq!(row(&c, "E01007124,2024/25,abc,").unwrap_err().code, "INVALID_NUMBER");
        assert_eq!(row(&c, "E01007124,2024/25,NaN,").unwrap_err().field, "numerator");
        assert_eq!(row(&c, "E01007124,2024/25,1,final").unwrap_err().code, "UNKNOWN_OBSERVATION_STATUS");
        assert_eq!(row(&c, "E01007124,2024/25,1").unwrap_err().code, "WRONG_FIELD_COUNT");
    }

    #[test]
    fn headers_are_checked() {
        let parse = |h: &str| Columns::parse(&csv::ByteRecord::from(h.split(',').collect::<Vec<_>>()));
        assert!(parse("area_code,numerator").is_err(), "period_code is required");
        assert!(parse("area_code,period_code,numerater").is_err(), "typos are caught");
        assert!(parse("area_code,period_code,note,note").is_err());
        assert!(parse("area_code,period_code,breakdown:").is_err());
        assert!(parse("\u{feff}area_code,period_code").is_ok());
    }

    #[test]
    fn the_rejects_file_sits_next_to_the_input() {
        assert_eq!(rejects_path(Path::new("/tmp/in/obs.csv")), PathBuf::from("/tmp/in/obs.rejects.csv"));
    }

    #[test]
    fn replace_needs_periods_and_the_others_refuse_them() {
        let parse = |extra: &[&str]| {
            let mut argv = vec!["x.csv", "--metric", "m", "--api-key", "k"];
            argv.extend_from_slice(extra);
            SubmitArgs::try_parse_from(argv)
        };
        assert!(parse(&["--mode", "replace"]).is_err());
        let args = parse(&["--mode", "replace", "--replace-periods", "2023/24,2024/25"]).unwrap();
        let header = submission_header(&args).unwrap();
        let scope = header.replace_scope.unwrap();
        assert_eq!(scope.period_codes, vec!["2023/24", "2024/25"]);
        assert!(scope.all_breakdowns);
        assert!(submission_header(&parse(&["--replace-periods", "2024/25"]).unwrap()).is_err());
        let merge = parse(&[]).unwrap();
        assert_eq!((merge.chunk_rows, merge.source_system.as_str()), (5000, "sharedmetrics-cli"));
    }
}

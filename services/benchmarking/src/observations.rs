//! Observations as benchmarking reads them: through the submissions API with the caller's
//! principal (so disclosure control has already been applied), indexed by period and breakdown,
//! with each cell's state reduced to available, missing or suppressed. The published counts of
//! an LSOA cell hidden from the caller by a small count are read too, as a platform service,
//! for sums only: docs/benchmarking.md says when an aggregate over them is published.

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex};

use futures::StreamExt;
use sharedmetrics_access::Principal;
use sharedmetrics_error::{ServiceError, ServiceResult};
use sharedmetrics_periods::Period;
use sharedmetrics_proto::sharedmetrics::common::v1::{AreaType, Breakdown};
use sharedmetrics_proto::sharedmetrics::submissions::v1::{
    Observation, ObservationStatus, PublicationState, QueryObservationsRequest, SuppressionReason,
};
use sharedmetrics_submissions::SubmissionsApi;

/// A breakdown as sorted `(dimension, code)` pairs; empty for the total.
pub(crate) type Pairs = Vec<(String, String)>;

/// Whether a cell has figures the caller may use.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum CellState {
    /// Figures present and visible.
    Available,
    /// No figures: status missing, or suppressed by its submitter before submission.
    Missing,
    /// Disclosure control hid the figures from this caller.
    Suppressed,
}

/// One observation's figures as the caller sees them.
#[derive(Clone, Debug, PartialEq)]
pub(crate) struct Cell {
    pub numerator: Option<f64>,
    pub denominator: Option<f64>,
    pub value: Option<f64>,
    pub lower95: Option<f64>,
    pub upper95: Option<f64>,
    pub state: CellState,
    /// For a suppressed LSOA cell, its published counts: added into aggregates that disclosure
    /// control publishes (crate::disclosure), never shown as the cell's own figures.
    pub hidden: Option<HiddenCounts>,
}

/// The counts of a cell the caller may not see, for sums only.
#[derive(Clone, Copy, Debug, PartialEq)]
pub(crate) struct HiddenCounts {
    pub numerator: f64,
    pub denominator: Option<f64>,
}

impl Cell {
    /// Returns the cell an observation message gives the caller.
    pub fn from_observation(o: &Observation) -> Self {
        let status = ObservationStatus::try_from(o.observation_status).unwrap_or(ObservationStatus::Normal);
        let state = if o.suppressed {
            CellState::Suppressed
        } else if matches!(status, ObservationStatus::Missing | ObservationStatus::Suppressed)
            || (o.numerator.is_none() && o.value.is_none())
        {
            CellState::Missing
        } else {
            CellState::Available
        };
        // Nothing of a suppressed cell is kept, not even the denominator the submissions service
        // leaves visible, so no later step can use it by mistake.
        let keep = state == CellState::Available;
        Self {
            numerator: o.numerator.filter(|_| keep),
            denominator: o.denominator.filter(|_| keep),
            value: o.value.filter(|_| keep),
            lower95: o.lower_ci_95.filter(|_| keep),
            upper95: o.upper_ci_95.filter(|_| keep),
            state,
            hidden: None,
        }
    }
}

/// The aggregates disclosure control withholds from the caller for one period and breakdown.
pub(crate) type Withheld = Arc<HashSet<String>>;

/// The cells of one (period, breakdown), by area code.
pub(crate) type AreaCells = HashMap<String, Cell>;

/// Every observation read for one metric, by period and breakdown.
#[derive(Debug, Default)]
pub(crate) struct Observations {
    cells: HashMap<(String, String), AreaCells>,
    /// The aggregates withheld from the caller, by period and breakdown, once computed.
    withheld: Mutex<HashMap<(String, String), Option<Withheld>>>,
    /// The snapshot the submissions service read at.
    pub snapshot: Option<prost_types::Timestamp>,
}

impl Observations {
    /// Adds one cell.
    pub fn insert(&mut self, period: &str, pairs: &Pairs, area: &str, cell: Cell) {
        self.cells.entry((period.to_owned(), breakdown_key(pairs))).or_default().insert(area.to_owned(), cell);
    }

    /// Returns one cell to change.
    fn cell_mut(&mut self, period: &str, pairs: &Pairs, area: &str) -> Option<&mut Cell> {
        self.cells.get_mut(&(period.to_owned(), breakdown_key(pairs)))?.get_mut(area)
    }

    /// Returns the aggregates withheld from the caller for one period and breakdown, computing
    /// them with `plan` the first time they are asked for.
    pub fn withheld(
        &self,
        period: &str,
        pairs: &Pairs,
        plan: impl FnOnce() -> Option<HashSet<String>>,
    ) -> Option<Withheld> {
        let key = (period.to_owned(), breakdown_key(pairs));
        let mut plans = self.withheld.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        plans.entry(key).or_insert_with(|| plan().map(Arc::new)).clone()
    }

    /// Returns the cells of one period and breakdown.
    pub fn cells(&self, period: &str, pairs: &Pairs) -> Option<&AreaCells> {
        self.cells.get(&(period.to_owned(), breakdown_key(pairs)))
    }

    /// Returns the periods with any cell whose breakdown key `accept`s, oldest first.
    pub fn periods_where(&self, accept: impl Fn(&str) -> bool) -> Vec<Period> {
        let mut periods: Vec<Period> = self
            .cells
            .keys()
            .filter(|(_, key)| accept(key))
            .filter_map(|(period, _)| Period::parse(period).ok())
            .collect();
        periods.sort();
        periods.dedup();
        periods
    }

    /// Returns the codes of every value seen for `dimension` in the period, as they sort.
    pub fn codes_of(&self, period: &str, dimension: &str) -> Vec<String> {
        let prefix = format!("{dimension}:");
        let mut codes: Vec<String> = self
            .cells
            .keys()
            .filter(|(p, _)| p == period)
            .flat_map(|(_, key)| key.split(',').filter_map(|pair| pair.strip_prefix(&prefix)).map(str::to_owned))
            .collect();
        codes.sort();
        codes.dedup();
        codes
    }
}

/// Returns the canonical key of a breakdown: `dimension:code` pairs sorted and comma-joined.
pub(crate) fn breakdown_key(pairs: &Pairs) -> String {
    let mut sorted: Vec<String> = pairs.iter().map(|(d, c)| format!("{d}:{c}")).collect();
    sorted.sort();
    sorted.join(",")
}

/// Returns a breakdown key without its pair of `dimension`, if it has one.
pub(crate) fn key_without(key: &str, dimension: &str) -> Option<String> {
    let prefix = format!("{dimension}:");
    let parts: Vec<&str> = key.split(',').filter(|p| !p.is_empty()).collect();
    let kept: Vec<&str> = parts.iter().copied().filter(|p| !p.starts_with(&prefix)).collect();
    (kept.len() < parts.len()).then(|| kept.join(","))
}

/// Returns the pairs of a breakdown message, sorted.
pub(crate) fn pairs_of(breakdown: Option<&Breakdown>) -> Pairs {
    let mut pairs: Pairs =
        breakdown.map(|b| b.codes.iter().map(|c| (c.dimension.clone(), c.code.clone())).collect()).unwrap_or_default();
    pairs.sort();
    pairs
}

/// Returns `pairs` with one more pair, sorted.
pub(crate) fn with_pair(pairs: &Pairs, dimension: &str, code: &str) -> Pairs {
    let mut out = pairs.clone();
    out.push((dimension.to_owned(), code.to_owned()));
    out.sort();
    out
}

/// Parses `dimension:code` strings of a request, naming the field of any that is malformed or
/// repeats a dimension.
pub(crate) fn parse_pairs(codes: &[String], field: &str) -> ServiceResult<Pairs> {
    let mut pairs = Pairs::new();
    for (i, text) in codes.iter().enumerate() {
        let Some((dimension, code)) = text.split_once(':').filter(|(d, c)| !d.is_empty() && !c.is_empty()) else {
            return Err(ServiceError::invalid_field(
                format!("{field}[{i}]"),
                "INVALID_BREAKDOWN",
                format!("{text:?} is not dimension:code"),
            ));
        };
        if pairs.iter().any(|(d, _)| d == dimension) {
            return Err(ServiceError::invalid_field(
                format!("{field}[{i}]"),
                "DUPLICATE_DIMENSION",
                format!("dimension {dimension:?} is given twice"),
            ));
        }
        pairs.push((dimension.to_owned(), code.to_owned()));
    }
    pairs.sort();
    Ok(pairs)
}

/// Reads every observation matching `request` as `principal` sees it.
pub(crate) async fn read(
    submissions: &Arc<dyn SubmissionsApi>,
    principal: &Principal,
    request: QueryObservationsRequest,
) -> ServiceResult<Observations> {
    let recorded = request.clone();
    let mut stream = submissions.query_observations(principal, request.clone()).await?;
    let mut out = Observations::default();
    let mut digest = Digest::default();
    // The published cells hidden by a small count (or to protect one), by key: their submission.
    let mut hidden: HashMap<(String, String, String), String> = HashMap::new();
    while let Some(batch) = stream.next().await {
        let batch = batch?;
        digest.add(&batch.observations);
        out.snapshot = batch.data_version.or(out.snapshot);
        for o in &batch.observations {
            if o.publication_state == PublicationState::Retracted as i32 {
                continue;
            }
            let pairs = pairs_of(o.breakdown.as_ref());
            let counted = [SuppressionReason::SmallCount as i32, SuppressionReason::Secondary as i32];
            if o.suppressed
                && counted.contains(&o.suppression_reason)
                && o.publication_state == PublicationState::Published as i32
            {
                let key = (o.period_code.clone(), breakdown_key(&pairs), o.area_code.clone());
                hidden.insert(key, o.submission_id.clone());
            }
            out.insert(&o.period_code, &pairs, &o.area_code, Cell::from_observation(o));
        }
    }
    crate::cache::record_read(crate::cache::RecordedRead { request: Some(recorded), digest: digest.finish() });
    if !hidden.is_empty() {
        read_hidden_counts(submissions, request, &mut out, &hidden).await?;
    }
    Ok(out)
}

/// Reads, as the platform's aggregating service, the published LSOA counts of the cells the
/// caller saw suppressed, at the caller's snapshot, and keeps each on its cell when it is the
/// same submission's row the caller saw.
async fn read_hidden_counts(
    submissions: &Arc<dyn SubmissionsApi>,
    request: QueryObservationsRequest,
    out: &mut Observations,
    hidden: &HashMap<(String, String, String), String>,
) -> ServiceResult<()> {
    let mut codes: Vec<String> = hidden.keys().map(|(_, _, area)| area.clone()).collect();
    codes.sort();
    codes.dedup();
    let request = QueryObservationsRequest {
        area_codes: codes,
        area_type: AreaType::Lsoa as i32,
        as_of: out.snapshot,
        published_only: true,
        page_size: 0,
        page_token: String::new(),
        changed_since: None,
        ..request
    };
    let mut stream = submissions.query_observations(&Principal::aggregating_service(), request).await?;
    while let Some(batch) = stream.next().await {
        for o in batch?.observations {
            let pairs = pairs_of(o.breakdown.as_ref());
            let key = (o.period_code.clone(), breakdown_key(&pairs), o.area_code.clone());
            if hidden.get(&key) != Some(&o.submission_id) || o.suppressed {
                continue;
            }
            let Some(numerator) = o.numerator else { continue };
            if let Some(cell) = out.cell_mut(&o.period_code, &pairs, &o.area_code) {
                cell.hidden = Some(HiddenCounts { numerator, denominator: o.denominator });
            }
        }
    }
    Ok(())
}

/// Returns the digest of what `request` reads now, to tell whether an answer computed from it
/// still stands.
pub(crate) async fn digest(
    submissions: &Arc<dyn SubmissionsApi>,
    principal: &Principal,
    request: QueryObservationsRequest,
) -> ServiceResult<Vec<u8>> {
    let mut stream = submissions.query_observations(principal, request).await?;
    let mut digest = Digest::default();
    while let Some(batch) = stream.next().await {
        digest.add(&batch?.observations);
    }
    Ok(digest.finish())
}

/// A SHA-256 over the observations a read returned, each length-prefixed (the snapshot time,
/// which moves on every read, is left out).
#[derive(Default)]
struct Digest(sha2::Sha256);

impl Digest {
    fn add(&mut self, observations: &[Observation]) {
        use prost::Message;
        use sha2::Digest as _;
        for o in observations {
            let bytes = o.encode_to_vec();
            self.0.update((bytes.len() as u64).to_le_bytes());
            self.0.update(&bytes);
        }
    }

    fn finish(self) -> Vec<u8> {
        use sha2::Digest as _;
        self.0.finalize().to_vec()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_suppressed_observation_keeps_no_figures() {
        let o = Observation {
            numerator: None,
            denominator: Some(120.0),
            suppressed: true,
            observation_status: ObservationStatus::Suppressed as i32,
            ..Default::default()
        };
        let cell = Cell::from_observation(&o);
        assert_eq!((cell.state, cell.denominator), (CellState::Suppressed, None));
        let missing = Cell::from_observation(&Observation {
            observation_status: ObservationStatus::Missing as i32,
            ..Default::default()
        });
        assert_eq!(missing.state, CellState::Missing);
    }

    #[test]
    fn breakdowns_parse_and_key_in_one_canonical_order() {
        let pairs = parse_pairs(&["sex:F".into(), "imd_decile:1".into()], "breakdown_codes").unwrap();
        assert_eq!(breakdown_key(&pairs), "imd_decile:1,sex:F");
        assert_eq!(breakdown_key(&with_pair(&Pairs::new(), "age_band", "0-4")), "age_band:0-4");
        let bad = parse_pairs(&["sex".into()], "breakdown_codes").unwrap_err();
        assert_eq!(bad.violations[0].field, "breakdown_codes[0]");
        let twice = parse_pairs(&["sex:F".into(), "sex:M".into()], "breakdown_codes").unwrap_err();
        assert_eq!(twice.violations[0].reason, "DUPLICATE_DIMENSION");
    }
}

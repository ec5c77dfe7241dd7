//! Row validation against a metric version: pure functions returning either the row ready to
//! store or the rejection naming the field and a stable code (see `RowRejection` in the proto).

use sharedmetrics_periods::Period;
use sharedmetrics_proto::Label;
use sharedmetrics_proto::sharedmetrics::common::v1::{AreaType, Breakdown, PeriodType, ValueType};
use sharedmetrics_proto::sharedmetrics::definitions::v1::MetricVersionSpec;
use sharedmetrics_proto::sharedmetrics::submissions::v1::{ObservationRow, ObservationStatus, RowRejection};

use crate::reference::Reference;

/// The longest note a row may carry, in characters: a note explains a value, and a cap keeps
/// a row (and every export of it) small.
pub const MAX_NOTE_CHARS: usize = 1_000;

/// What rows are checked against: the metric version and the reference data.
pub struct RowContext<'a> {
    /// The metric version's spec.
    pub spec: &'a MetricVersionSpec,
    /// The reference data.
    pub reference: &'a Reference,
    /// The submitting organisation, or none for a national principal (who may submit for any area).
    pub organisation: Option<&'a str>,
}

/// A row that passed validation, with its canonical key parts and derived value.
#[derive(Debug, Clone, PartialEq)]
pub struct ValidRow {
    /// Area or organisation code.
    pub area_code: String,
    /// Canonical period code.
    pub period_code: String,
    /// First day of the period, ISO date (sorts as text).
    pub period_start: String,
    /// Canonical breakdown key: `dimension=code` pairs sorted by dimension, joined by `;`.
    pub breakdown_key: String,
    /// Numerator.
    pub numerator: Option<f64>,
    /// Denominator.
    pub denominator: Option<f64>,
    /// Value as supplied, or derived from numerator and denominator.
    pub value: Option<f64>,
    /// Supplied lower 95% limit.
    pub lower_ci_95: Option<f64>,
    /// Supplied upper 95% limit.
    pub upper_ci_95: Option<f64>,
    /// Observation status label.
    pub observation_status: String,
    /// Confidentiality status label.
    pub confidentiality_status: String,
    /// Note.
    pub note: String,
}

impl ValidRow {
    /// Returns the row's key within its metric version.
    pub fn key(&self) -> (String, String, String) {
        (self.area_code.clone(), self.period_code.clone(), self.breakdown_key.clone())
    }
}

/// Returns the canonical key of a breakdown, or the rejection of a malformed one.
pub fn breakdown_key(breakdown: Option<&Breakdown>) -> Result<String, (String, String, String)> {
    let mut pairs: Vec<(&str, &str)> = Vec::new();
    for (i, c) in breakdown.map(|b| b.codes.as_slice()).unwrap_or_default().iter().enumerate() {
        if pairs.iter().any(|(d, _)| *d == c.dimension) {
            return Err((
                format!("breakdown.codes[{i}].dimension"),
                "DUPLICATE_DIMENSION".into(),
                format!("dimension {:?} appears twice in one breakdown", c.dimension),
            ));
        }
        pairs.push((&c.dimension, &c.code));
    }
    pairs.sort();
    Ok(pairs.iter().map(|(d, c)| format!("{d}={c}")).collect::<Vec<_>>().join(";"))
}

/// Splits a breakdown key back into `(dimension, code)` pairs.
pub fn breakdown_pairs(key: &str) -> Vec<(String, String)> {
    if key.is_empty() {
        return Vec::new();
    }
    key.split(';').filter_map(|pair| pair.split_once('=').map(|(d, c)| (d.to_owned(), c.to_owned()))).collect()
}

fn reject(index: u64, field: &str, code: &str, message: String) -> RowRejection {
    RowRejection { row_index: index, code: code.to_owned(), message, field: field.to_owned() }
}

/// Value types whose numerator and denominator are counts (so never negative).
fn counts_are_people(value_type: ValueType) -> bool {
    matches!(
        value_type,
        ValueType::Count
            | ValueType::Proportion
            | ValueType::CrudeRate
            | ValueType::DirectlyStandardisedRate
            | ValueType::IndirectlyStandardisedRatio
    )
}

/// Validates one row; `index` is its position in the submission. With `keys_only` (DELETE),
/// only the key (area, period, breakdown) and the right to submit for it are checked.
pub fn row(
    index: u64,
    row: &ObservationRow,
    context: &RowContext<'_>,
    keys_only: bool,
) -> Result<ValidRow, RowRejection> {
    let spec = context.spec;
    let area_types: Vec<AreaType> = spec.area_types.iter().filter_map(|t| AreaType::try_from(*t).ok()).collect();
    let area = context.reference.areas.get(&row.area_code).ok_or_else(|| {
        reject(index, "area_code", "UNKNOWN_AREA", format!("area or organisation {:?} does not exist", row.area_code))
    })?;
    if !area_types.contains(&area.area_type) {
        return Err(reject(
            index,
            "area_code",
            "WRONG_AREA_TYPE",
            format!(
                "{} is a {} but metric {} is published at {}",
                row.area_code,
                area.area_type.label(),
                spec.code,
                area_types.iter().map(|t| t.label()).collect::<Vec<_>>().join(", ")
            ),
        ));
    }
    if let Some(organisation) = context.organisation {
        let decision = context.reference.submit_scope(organisation, &row.area_code);
        if !decision.allowed {
            // The message is the policy's explanation, naming its rule, so a rejected row says
            // what ExplainAccess says for the same organisation and area.
            let message = format!("{} (rule {})", decision.explanation, decision.rule);
            return Err(reject(index, "area_code", "AREA_NOT_PERMITTED", message));
        }
    }
    let period_type = PeriodType::try_from(spec.period_type).unwrap_or(PeriodType::Unspecified);
    let period =
        Period::parse(&row.period_code).map_err(|e| reject(index, "period_code", "INVALID_PERIOD", e.to_string()))?;
    if period.period_type() != period_type {
        return Err(reject(
            index,
            "period_code",
            "WRONG_PERIOD_TYPE",
            format!(
                "{} is a {} period but metric {} takes {} periods",
                row.period_code,
                period.period_type().label(),
                spec.code,
                period_type.label()
            ),
        ));
    }
    let key = breakdown_key(row.breakdown.as_ref())
        .map_err(|(field, code, message)| reject(index, &field, &code, message))?;
    for (i, c) in row.breakdown.as_ref().map(|b| b.codes.as_slice()).unwrap_or_default().iter().enumerate() {
        if !spec.dimensions.contains(&c.dimension) {
            return Err(reject(
                index,
                &format!("breakdown.codes[{i}].dimension"),
                "UNKNOWN_DIMENSION",
                format!("metric {} is not broken down by {:?}", spec.code, c.dimension),
            ));
        }
        let known = context.reference.dimensions.get(&c.dimension).is_some_and(|codes| codes.contains(&c.code));
        if !known {
            return Err(reject(
                index,
                &format!("breakdown.codes[{i}].code"),
                "UNKNOWN_BREAKDOWN_CODE",
                format!("{:?} is not a code of dimension {}", c.code, c.dimension),
            ));
        }
    }

    if keys_only {
        return Ok(ValidRow {
            area_code: row.area_code.clone(),
            period_code: period.to_string(),
            period_start: period.start_date().to_string(),
            breakdown_key: key,
            numerator: None,
            denominator: None,
            value: None,
            lower_ci_95: None,
            upper_ci_95: None,
            observation_status: ObservationStatus::Missing.label(),
            confidentiality_status: "free".to_owned(),
            note: String::new(),
        });
    }
    let value_type = ValueType::try_from(spec.value_type).unwrap_or(ValueType::Unspecified);
    let status = ObservationStatus::try_from(row.observation_status).unwrap_or(ObservationStatus::Unspecified);
    for (field, v) in [
        ("numerator", row.numerator),
        ("denominator", row.denominator),
        ("value", row.value),
        ("lower_ci_95", row.lower_ci_95),
        ("upper_ci_95", row.upper_ci_95),
    ] {
        if v.is_some_and(|v| !v.is_finite()) {
            return Err(reject(index, field, "VALUE_OUT_OF_RANGE", format!("{field} is not a finite number")));
        }
    }
    if counts_are_people(value_type) {
        for (field, v) in [("numerator", row.numerator), ("denominator", row.denominator)] {
            if let Some(v) = v
                && v < 0.0
            {
                return Err(reject(
                    index,
                    field,
                    "NEGATIVE_COUNT",
                    format!("{field} {v} is negative; counts cannot be"),
                ));
            }
        }
    }
    let multiplier = f64::from(spec.multiplier.max(1));
    if matches!(value_type, ValueType::Proportion | ValueType::CrudeRate)
        && let Some(d) = row.denominator
        && d <= 0.0
        && row.numerator.is_some()
    {
        return Err(reject(index, "denominator", "VALUE_OUT_OF_RANGE", format!("denominator {d} must be above zero")));
    }
    if value_type == ValueType::Proportion
        && let (Some(n), Some(d)) = (row.numerator, row.denominator)
        && n > d
    {
        return Err(reject(
            index,
            "numerator",
            "NUMERATOR_ABOVE_DENOMINATOR",
            format!("numerator {n} is above denominator {d}; a proportion cannot exceed 1"),
        ));
    }
    let derived = match (value_type, row.numerator, row.denominator) {
        (ValueType::Proportion | ValueType::CrudeRate, Some(n), Some(d)) if d > 0.0 => Some(n / d * multiplier),
        (ValueType::Count, Some(n), _) => Some(n),
        _ => None,
    };
    if let (Some(supplied), Some(expected)) = (row.value, derived)
        && (supplied - expected).abs() > 1e-6 * expected.abs().max(1.0)
    {
        return Err(reject(
            index,
            "value",
            "VALUE_INCONSISTENT",
            format!("value {supplied} does not match numerator and denominator, which give {expected}"),
        ));
    }
    let value = row.value.or(derived);
    if value_type == ValueType::Proportion && value.is_some_and(|v| v > multiplier || v < 0.0) {
        return Err(reject(
            index,
            "value",
            "VALUE_OUT_OF_RANGE",
            format!("a proportion lies between 0 and {multiplier}"),
        ));
    }
    if let Some(v) = value
        && (row.lower_ci_95.is_some_and(|l| l > v) || row.upper_ci_95.is_some_and(|u| u < v))
    {
        return Err(reject(
            index,
            "lower_ci_95",
            "VALUE_OUT_OF_RANGE",
            format!("the supplied interval does not contain the value {v}"),
        ));
    }
    if value.is_none() && row.numerator.is_none() && status != ObservationStatus::Missing {
        return Err(reject(
            index,
            "value",
            "MISSING_VALUE",
            "a row needs a numerator or a value, or the status MISSING".to_owned(),
        ));
    }
    let note_length = row.note.chars().count();
    if note_length > MAX_NOTE_CHARS {
        return Err(reject(
            index,
            "note",
            "NOTE_TOO_LONG",
            format!("the note has {note_length} characters; at most {MAX_NOTE_CHARS} are kept"),
        ));
    }
    let observation_status = if status == ObservationStatus::Unspecified { ObservationStatus::Normal } else { status };
    let confidentiality = sharedmetrics_proto::sharedmetrics::submissions::v1::ConfidentialityStatus::try_from(
        row.confidentiality_status,
    )
    .ok()
    .filter(|c| *c as i32 != 0)
    .unwrap_or(sharedmetrics_proto::sharedmetrics::submissions::v1::ConfidentialityStatus::Free);
    Ok(ValidRow {
        area_code: row.area_code.clone(),
        period_code: period.to_string(),
        period_start: period.start_date().to_string(),
        breakdown_key: key,
        numerator: row.numerator,
        denominator: row.denominator,
        value,
        lower_ci_95: row.lower_ci_95,
        upper_ci_95: row.upper_ci_95,
        observation_status: observation_status.label(),
        confidentiality_status: confidentiality.label(),
        note: row.note.clone(),
    })
}

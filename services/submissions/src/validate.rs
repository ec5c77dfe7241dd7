//! Row validation against a metric version: pure functions returning either the row ready to
//! store or the rejection naming the field and a stable code (see `RowRejection` in the proto).

use sharedmetrics_periods::Period;
use sharedmetrics_proto::Label;
use sharedmetrics_proto::sharedmetrics::common::v1::{AreaType, Breakdown, PeriodType, ValueType};
use sharedmetrics_proto::sharedmetrics::definitions::v1::MetricVersionSpec;
use sharedmetrics_proto::sharedmetrics::submissions::v1::{
    ObservationRow, ObservationStatus, RowRejection, RowRejectionCode,
};

use crate::reference::{Known, Reference};

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
pub fn breakdown_key(breakdown: Option<&Breakdown>) -> Result<String, (String, RowRejectionCode, String)> {
    let mut pairs: Vec<(&str, &str)> = Vec::new();
    for (i, c) in breakdown.map(|b| b.codes.as_slice()).unwrap_or_default().iter().enumerate() {
        if pairs.iter().any(|(d, _)| *d == c.dimension) {
            return Err((
                format!("breakdown.codes[{i}].dimension"),
                RowRejectionCode::DuplicateDimension,
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

/// Returns the stable name a rejection carries: the code's name without its prefix.
pub fn code_name(code: RowRejectionCode) -> &'static str {
    let name = code.as_str_name();
    name.strip_prefix("ROW_REJECTION_CODE_").unwrap_or(name)
}

/// Returns the rejection of row `index` at `field`.
pub fn reject(index: u64, field: &str, code: RowRejectionCode, message: String) -> RowRejection {
    RowRejection { row_index: index, code: code_name(code).to_owned(), message, field: field.to_owned() }
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
            | ValueType::LifeExpectancy
    )
}

/// Validates one row; `index` is its position in the submission. With `keys_only` (DELETE),
/// only the key (area, period, breakdown) and the right to submit for it are checked. The
/// checks run in a fixed order (area, period, breakdown, numbers, note), so a row with several
/// faults is rejected for the first.
pub fn row(
    index: u64,
    row: &ObservationRow,
    context: &RowContext<'_>,
    keys_only: bool,
) -> Result<ValidRow, RowRejection> {
    check_area(index, row, context)?;
    let period = check_period(index, row, context.spec)?;
    if let Some(Known::Area(area)) = context.reference.area(&row.area_code)
        && let Some(why) = area.invalid_for(&period)
    {
        return Err(reject(index, "area_code", RowRejectionCode::AreaNotInPeriod, why));
    }
    let key = check_breakdown(index, row, context)?;
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
    let (value, status) = check_numbers(index, row, context.spec)?;
    check_note(index, row)?;
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

/// Checks the area exists, is of a type the metric is published at, and the submitter may
/// submit for it.
fn check_area(index: u64, row: &ObservationRow, context: &RowContext<'_>) -> Result<(), RowRejection> {
    let spec = context.spec;
    let area_types: Vec<AreaType> = spec.area_types.iter().filter_map(|t| AreaType::try_from(*t).ok()).collect();
    let found = context.reference.area(&row.area_code).ok_or_else(|| {
        reject(
            index,
            "area_code",
            RowRejectionCode::UnknownArea,
            format!("area or organisation {:?} does not exist", row.area_code),
        )
    })?;
    if !area_types.iter().any(|t| found.is(*t)) {
        return Err(reject(
            index,
            "area_code",
            RowRejectionCode::WrongAreaType,
            format!(
                "{} is a {} but metric {} is published at {}",
                row.area_code,
                found.types().iter().map(|t| t.label()).collect::<Vec<_>>().join(" and "),
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
            return Err(reject(index, "area_code", RowRejectionCode::AreaNotPermitted, message));
        }
    }
    Ok(())
}

/// Parses the period and checks it is of the metric's period type.
fn check_period(index: u64, row: &ObservationRow, spec: &MetricVersionSpec) -> Result<Period, RowRejection> {
    let period_type = PeriodType::try_from(spec.period_type).unwrap_or(PeriodType::Unspecified);
    let period = Period::parse(&row.period_code)
        .map_err(|e| reject(index, "period_code", RowRejectionCode::InvalidPeriod, e.to_string()))?;
    if period.period_type() != period_type {
        return Err(reject(
            index,
            "period_code",
            RowRejectionCode::WrongPeriodType,
            format!(
                "{} is a {} period but metric {} takes {} periods",
                row.period_code,
                period.period_type().label(),
                spec.code,
                period_type.label()
            ),
        ));
    }
    Ok(period)
}

/// Returns the row's canonical breakdown key, checking each dimension and code.
fn check_breakdown(index: u64, row: &ObservationRow, context: &RowContext<'_>) -> Result<String, RowRejection> {
    let spec = context.spec;
    let key =
        breakdown_key(row.breakdown.as_ref()).map_err(|(field, code, message)| reject(index, &field, code, message))?;
    for (i, c) in row.breakdown.as_ref().map(|b| b.codes.as_slice()).unwrap_or_default().iter().enumerate() {
        if !spec.dimensions.contains(&c.dimension) {
            return Err(reject(
                index,
                &format!("breakdown.codes[{i}].dimension"),
                RowRejectionCode::UnknownDimension,
                format!("metric {} is not broken down by {:?}", spec.code, c.dimension),
            ));
        }
        let known = context.reference.dimensions.get(&c.dimension).is_some_and(|codes| codes.contains(&c.code));
        if !known {
            return Err(reject(
                index,
                &format!("breakdown.codes[{i}].code"),
                RowRejectionCode::UnknownBreakdownCode,
                format!("{:?} is not a code of dimension {}", c.code, c.dimension),
            ));
        }
    }

    Ok(key)
}

/// Checks the numbers against the value type (finite, no negative counts, a proportion within
/// its denominator, a value matching its numerator and denominator, limits around the value,
/// something to store); returns the value to store (supplied or derived) and the status.
fn check_numbers(
    index: u64,
    row: &ObservationRow,
    spec: &MetricVersionSpec,
) -> Result<(Option<f64>, ObservationStatus), RowRejection> {
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
            return Err(reject(
                index,
                field,
                RowRejectionCode::ValueOutOfRange,
                format!("{field} is not a finite number"),
            ));
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
                    RowRejectionCode::NegativeCount,
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
        return Err(reject(
            index,
            "denominator",
            RowRejectionCode::ValueOutOfRange,
            format!("denominator {d} must be above zero"),
        ));
    }
    if value_type == ValueType::Proportion
        && let (Some(n), Some(d)) = (row.numerator, row.denominator)
        && n > d
    {
        return Err(reject(
            index,
            "numerator",
            RowRejectionCode::NumeratorAboveDenominator,
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
            RowRejectionCode::ValueInconsistent,
            format!("value {supplied} does not match numerator and denominator, which give {expected}"),
        ));
    }
    let value = row.value.or(derived);
    if value_type == ValueType::Proportion && value.is_some_and(|v| v > multiplier || v < 0.0) {
        return Err(reject(
            index,
            "value",
            RowRejectionCode::ValueOutOfRange,
            format!("a proportion lies between 0 and {multiplier}"),
        ));
    }
    if let Some(v) = value
        && (row.lower_ci_95.is_some_and(|l| l > v) || row.upper_ci_95.is_some_and(|u| u < v))
    {
        return Err(reject(
            index,
            "lower_ci_95",
            RowRejectionCode::ValueOutOfRange,
            format!("the supplied interval does not contain the value {v}"),
        ));
    }
    if value.is_none() && row.numerator.is_none() && status != ObservationStatus::Missing {
        return Err(reject(
            index,
            "value",
            RowRejectionCode::MissingValue,
            "a row needs a numerator or a value, or the status MISSING".to_owned(),
        ));
    }
    Ok((value, status))
}

/// Checks the note's length.
fn check_note(index: u64, row: &ObservationRow) -> Result<(), RowRejection> {
    let note_length = row.note.chars().count();
    if note_length > MAX_NOTE_CHARS {
        return Err(reject(
            index,
            "note",
            RowRejectionCode::NoteTooLong,
            format!("the note has {note_length} characters; at most {MAX_NOTE_CHARS} are kept"),
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use sharedmetrics_access::policy::SubmitScope;
    use sharedmetrics_definitions::directory::{AreaIndex, AreaInfo};
    use sharedmetrics_proto::sharedmetrics::common::v1::{BreakdownCode, PeriodType};

    const LSOA: &str = "E01007124";
    const DISTRICT: &str = "E08000015";

    fn reference() -> Reference {
        let area = |code: &str, area_type, ancestors: &[&str]| AreaInfo {
            code: code.into(),
            name: code.into(),
            area_type,
            also_types: Vec::new(),
            ancestors: ancestors.iter().map(|a| (*a).to_owned()).collect(),
            imd_decile: None,
            population: 0,
            introduced_in: None,
            replaced_in: None,
        };
        Reference {
            areas: std::sync::Arc::new(AreaIndex::new(vec![
                area(LSOA, AreaType::Lsoa, &[DISTRICT]),
                area(DISTRICT, AreaType::LocalAuthorityDistrict, &[]),
                area("E12000002", AreaType::Region, &[]),
            ])),
            organisations: std::sync::Arc::new(
                [("00X".into(), SubmitScope { own_areas: vec![DISTRICT.into()], ..SubmitScope::default() })].into(),
            ),
            dimensions: [("sex".into(), ["F".to_owned(), "M".to_owned()].into())].into(),
        }
    }

    fn spec() -> MetricVersionSpec {
        MetricVersionSpec {
            code: "m".into(),
            value_type: ValueType::Proportion as i32,
            multiplier: 100,
            period_type: PeriodType::FinancialYear as i32,
            area_types: vec![AreaType::Lsoa as i32, AreaType::LocalAuthorityDistrict as i32],
            dimensions: vec!["sex".into()],
            ..Default::default()
        }
    }

    fn good() -> ObservationRow {
        ObservationRow {
            area_code: LSOA.into(),
            period_code: "2024/25".into(),
            numerator: Some(30.0),
            denominator: Some(120.0),
            ..Default::default()
        }
    }

    fn check(row: &ObservationRow, organisation: Option<&str>) -> Result<ValidRow, (String, String)> {
        let (spec, reference) = (spec(), reference());
        let context = RowContext { spec: &spec, reference: &reference, organisation };
        super::row(7, row, &context, false).map_err(|r| {
            assert_eq!(r.row_index, 7, "a rejection names the row's index");
            assert!(!r.message.is_empty(), "a rejection explains itself");
            (r.code, r.field)
        })
    }

    fn rejected(row: ObservationRow) -> (String, String) {
        check(&row, None).expect_err("the row is rejected")
    }

    #[test]
    fn a_good_row_is_stored_with_its_derived_value_and_canonical_key() {
        let row = ObservationRow {
            breakdown: Some(Breakdown { codes: vec![BreakdownCode { dimension: "sex".into(), code: "F".into() }] }),
            ..good()
        };
        let valid = check(&row, Some("00X")).expect("valid");
        assert_eq!(valid.value, Some(25.0));
        assert_eq!((valid.period_code.as_str(), valid.period_start.as_str()), ("2024/25", "2024-04-01"));
        assert_eq!(valid.breakdown_key, "sex=F");
        assert_eq!((valid.observation_status.as_str(), valid.confidentiality_status.as_str()), ("normal", "free"));
    }

    #[test]
    fn each_fault_is_named_by_its_code_and_field() {
        let cases = [
            (ObservationRow { area_code: "E01999999".into(), ..good() }, "UNKNOWN_AREA", "area_code"),
            (ObservationRow { area_code: "E12000002".into(), ..good() }, "WRONG_AREA_TYPE", "area_code"),
            (ObservationRow { period_code: "2024-Q1".into(), ..good() }, "WRONG_PERIOD_TYPE", "period_code"),
            (ObservationRow { period_code: "2024/26".into(), ..good() }, "INVALID_PERIOD", "period_code"),
            (ObservationRow { numerator: Some(f64::NAN), ..good() }, "VALUE_OUT_OF_RANGE", "numerator"),
            (ObservationRow { numerator: Some(-1.0), ..good() }, "NEGATIVE_COUNT", "numerator"),
            (ObservationRow { denominator: Some(0.0), ..good() }, "VALUE_OUT_OF_RANGE", "denominator"),
            (ObservationRow { numerator: Some(130.0), ..good() }, "NUMERATOR_ABOVE_DENOMINATOR", "numerator"),
            (ObservationRow { value: Some(26.0), ..good() }, "VALUE_INCONSISTENT", "value"),
            (ObservationRow { lower_ci_95: Some(26.0), ..good() }, "VALUE_OUT_OF_RANGE", "lower_ci_95"),
            (ObservationRow { numerator: None, denominator: None, ..good() }, "MISSING_VALUE", "value"),
            (ObservationRow { note: "x".repeat(MAX_NOTE_CHARS + 1), ..good() }, "NOTE_TOO_LONG", "note"),
        ];
        for (row, code, field) in cases {
            assert_eq!(rejected(row), (code.to_owned(), field.to_owned()), "{code}");
        }
        let breakdown = |dimension: &str, code: &str| {
            Some(Breakdown { codes: vec![BreakdownCode { dimension: dimension.into(), code: code.into() }] })
        };
        assert_eq!(
            rejected(ObservationRow { breakdown: breakdown("ethnic_group", "A"), ..good() }),
            ("UNKNOWN_DIMENSION".to_owned(), "breakdown.codes[0].dimension".to_owned())
        );
        assert_eq!(
            rejected(ObservationRow { breakdown: breakdown("sex", "X"), ..good() }),
            ("UNKNOWN_BREAKDOWN_CODE".to_owned(), "breakdown.codes[0].code".to_owned())
        );
    }

    #[test]
    fn the_first_fault_in_check_order_is_reported() {
        // An unknown area and a bad period: the area is checked first.
        let row = ObservationRow { area_code: "E01999999".into(), period_code: "nonsense".into(), ..good() };
        assert_eq!(rejected(row).0, "UNKNOWN_AREA");
        // A bad period and a long note: the period comes first.
        let row = ObservationRow { period_code: "nonsense".into(), note: "x".repeat(2_000), ..good() };
        assert_eq!(rejected(row).0, "INVALID_PERIOD");
    }

    #[test]
    fn an_organisation_submits_only_within_its_scope() {
        assert!(check(&good(), Some("00X")).is_ok(), "a council submits for an LSOA of its district");
        let (code, field) = check(&good(), Some("RBL")).expect_err("no scope");
        assert_eq!((code.as_str(), field.as_str()), ("AREA_NOT_PERMITTED", "area_code"));
        assert!(check(&good(), None).is_ok(), "national submits anywhere");
    }

    #[test]
    fn a_note_of_exactly_the_limit_is_kept_counting_characters_not_bytes() {
        let note = "é".repeat(MAX_NOTE_CHARS);
        assert_eq!(check(&ObservationRow { note: note.clone(), ..good() }, None).expect("kept").note, note);
    }

    #[test]
    fn a_delete_checks_only_the_key() {
        let (spec, reference) = (spec(), reference());
        let context = RowContext { spec: &spec, reference: &reference, organisation: None };
        let row = ObservationRow { numerator: Some(-5.0), note: "x".repeat(5_000), ..good() };
        let valid = super::row(0, &row, &context, true).expect("numbers are not checked for a delete");
        assert_eq!((valid.numerator, valid.observation_status.as_str()), (None, "missing"));
        let unknown = ObservationRow { area_code: "E01999999".into(), ..row };
        assert_eq!(super::row(0, &unknown, &context, true).expect_err("the key is").code, "UNKNOWN_AREA");
    }
}

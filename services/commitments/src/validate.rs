//! Validation of charters, commitments and progress reports: pure functions that list every
//! field at fault (with its path and a stable reason), so a caller fixes a request in one round
//! trip. Checks that need another service (does this metric, area or organisation exist?) are
//! made by the service, which adds their violations to these.

mod local;
mod progress;

use std::collections::HashSet;

use chrono::NaiveDate;
use sharedmetrics_error::FieldViolation;
use sharedmetrics_periods::Period;
use sharedmetrics_proto::Label;
use sharedmetrics_proto::sharedmetrics::commitments::v1::{
    Baseline, Charter, CharterVisibility, Commitment, CommitmentType, LocalDefinition, Measure, Target, Trajectory,
    TrajectoryShape,
};
use sharedmetrics_proto::sharedmetrics::common::v1::{PeriodType, Polarity, ValueType};

use crate::convert::StoredEvidence;
use crate::rule::Plan;

use local::normalised;
pub use local::{local_area_codes, local_definition};
pub use progress::{figures, progress_period};

/// What the service learnt about a commitment's metric from the definitions service.
#[derive(Debug, Clone, PartialEq)]
pub struct MetricFacts {
    /// Value type of the current version.
    pub value_type: ValueType,
    /// Polarity of the current version.
    pub polarity: Polarity,
    /// Period type of the current version.
    pub period_type: PeriodType,
    /// Whether the metric is deprecated.
    pub deprecated: bool,
}

/// A commitment's fields once validated and defaulted.
#[derive(Debug, Clone, PartialEq)]
pub struct Resolved {
    /// The type.
    pub commitment_type: CommitmentType,
    /// Percentage or total.
    pub measure: Measure,
    /// High is good or low is good.
    pub polarity: Polarity,
    /// Display unit.
    pub unit: String,
    /// Type of the periods progress is reported for.
    pub reporting_period_type: PeriodType,
    /// Baseline, target and trajectory, as the status rule reads them.
    pub plan: Plan,
    /// The definition of local, with postcodes normalised.
    pub local: Option<LocalDefinition>,
    /// Evidence as stored.
    pub evidence: Vec<StoredEvidence>,
}

/// Returns whether `code` is a stable code: lowercase letters, digits and hyphens, 2–64 long,
/// starting with a letter or digit.
pub fn is_code(code: &str) -> bool {
    (2..=64).contains(&code.len())
        && code.bytes().next().is_some_and(|b| b.is_ascii_lowercase() || b.is_ascii_digit())
        && code.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
}

/// Parses an ISO 8601 date.
pub fn date(text: &str) -> Option<NaiveDate> {
    NaiveDate::parse_from_str(text, "%Y-%m-%d").ok()
}

/// Returns the measure a type's figures take when neither the request nor a metric says.
pub fn default_measure(commitment_type: CommitmentType) -> Option<Measure> {
    match commitment_type {
        CommitmentType::ApprenticeshipStarts
        | CommitmentType::CarbonAgainstBaseline
        | CommitmentType::EstateOpenedToCommunity => Some(Measure::Total),
        CommitmentType::Custom | CommitmentType::Unspecified => None,
        _ => Some(Measure::Percentage),
    }
}

/// Returns the measure of a metric's value type; none for types whose figures cannot be added up
/// across organisations (rates, ratios, means, scores).
pub fn metric_measure(value_type: ValueType) -> Option<Measure> {
    match value_type {
        ValueType::Proportion => Some(Measure::Percentage),
        ValueType::Count | ValueType::CurrencyAmount => Some(Measure::Total),
        _ => None,
    }
}

fn default_unit(commitment_type: CommitmentType, measure: Measure) -> &'static str {
    match (measure, commitment_type) {
        (Measure::Percentage, _) => "%",
        (_, CommitmentType::ApprenticeshipStarts) => "starts",
        (_, CommitmentType::CarbonAgainstBaseline) => "tCO2e",
        (_, CommitmentType::EstateOpenedToCommunity) => "sites",
        (_, CommitmentType::LocalSpend | CommitmentType::SmeSpend | CommitmentType::VcseSpend) => "GBP",
        _ => "",
    }
}

/// Checks a value against its measure: a percentage lies in 0–100, a total is not negative.
fn check_value(out: &mut Vec<FieldViolation>, field: &str, value: f64, measure: Option<Measure>) {
    if !value.is_finite() {
        out.push(FieldViolation::new(field, "INVALID_NUMBER", format!("{field} must be a finite number")));
    } else if value < 0.0 {
        out.push(FieldViolation::new(field, "NEGATIVE", format!("{field} {value} is negative")));
    } else if measure == Some(Measure::Percentage) && value > 100.0 {
        out.push(FieldViolation::new(
            field,
            "PERCENTAGE_ABOVE_100",
            format!("{field} {value} is a percentage above 100"),
        ));
    }
}

/// Returns every problem with a new charter (area existence aside).
pub fn charter(c: &Charter) -> Vec<FieldViolation> {
    let mut out = Vec::new();
    if !is_code(&c.code) {
        out.push(FieldViolation::new(
            "charter.code",
            "INVALID_CODE",
            format!("charter code {:?} must be 2–64 lowercase letters, digits or hyphens", c.code),
        ));
    }
    if c.name.trim().is_empty() {
        out.push(FieldViolation::new("charter.name", "REQUIRED", "a charter needs a name"));
    }
    if c.place_area_code.trim().is_empty() {
        out.push(FieldViolation::new("charter.place_area_code", "REQUIRED", "a charter covers a place (a GSS code)"));
    }
    if CharterVisibility::try_from(c.visibility).unwrap_or(CharterVisibility::Unspecified)
        == CharterVisibility::Unspecified
    {
        out.push(FieldViolation::new("charter.visibility", "REQUIRED", "visibility must be public or members_only"));
    }
    let mut seen = HashSet::new();
    for (i, t) in c.templates.iter().enumerate() {
        let field = |name: &str| format!("charter.templates[{i}].{name}");
        if !is_code(&t.code) {
            out.push(FieldViolation::new(
                field("code"),
                "INVALID_CODE",
                format!("template code {:?} must be 2–64 lowercase letters, digits or hyphens", t.code),
            ));
        } else if !seen.insert(t.code.as_str()) {
            out.push(FieldViolation::new(field("code"), "DUPLICATE", format!("template {:?} is listed twice", t.code)));
        }
        if CommitmentType::try_from(t.r#type).unwrap_or(CommitmentType::Unspecified) == CommitmentType::Unspecified {
            out.push(FieldViolation::new(field("type"), "REQUIRED", "a template has a commitment type"));
        }
        if t.title.trim().is_empty() {
            out.push(FieldViolation::new(field("title"), "REQUIRED", "a template needs a title"));
        }
        if let Some(value) = t.target_value {
            let measure = CommitmentType::try_from(t.r#type).ok().and_then(default_measure);
            // A metric may make the measure a total; only a metric-less template is held to its type's.
            check_value(&mut out, &field("target_value"), value, measure.filter(|_| t.metric_code.is_empty()));
        }
        if !t.target_date.is_empty() && date(&t.target_date).is_none() {
            out.push(FieldViolation::new(
                field("target_date"),
                "INVALID_DATE",
                format!("target date {:?} must be an ISO date (YYYY-MM-DD)", t.target_date),
            ));
        }
        if let Some(local) = &t.local_definition {
            out.extend(local_definition(local, &field("local_definition")));
        }
    }
    out
}

/// Validates a commitment (with template defaults already applied) against its metric, and
/// returns its resolved fields or every field at fault.
pub fn commitment(c: &Commitment, metric: Option<&MetricFacts>) -> Result<Resolved, Vec<FieldViolation>> {
    let mut out = Vec::new();
    let commitment_type = CommitmentType::try_from(c.r#type).unwrap_or(CommitmentType::Unspecified);
    if commitment_type == CommitmentType::Unspecified {
        out.push(FieldViolation::new(
            "commitment.type",
            "REQUIRED",
            format!("type {} is not a commitment type", c.r#type),
        ));
    }
    if c.title.trim().is_empty() {
        out.push(FieldViolation::new("commitment.title", "REQUIRED", "a commitment needs a title"));
    }
    // Each step reads what the steps before it resolved, and adds its violations after theirs.
    let measure = resolved_measure(&mut out, c, metric, commitment_type);
    let polarity = resolved_polarity(&mut out, c, metric, commitment_type);
    let unit = resolved_unit(&mut out, c, commitment_type, measure);
    let (baseline, baseline_period) = checked_baseline(&mut out, c, measure);
    let reporting_period_type = resolved_reporting_period_type(&mut out, c, baseline_period);
    let (target, target_date) = checked_target(&mut out, c, measure, baseline_period);
    if c.baseline.is_some() && c.target.is_some() {
        check_direction(&mut out, &baseline, &target, polarity);
    }
    let trajectory = c.trajectory.clone().unwrap_or_default();
    let shape = resolved_shape(&mut out, &trajectory);
    let points = checked_points(&mut out, &trajectory, shape, measure, baseline_period, target_date);
    if let Some(tolerance) = trajectory.tolerance {
        check_value(&mut out, "commitment.trajectory.tolerance", tolerance, measure);
    }
    let local = checked_local(&mut out, c, commitment_type);
    let evidence = checked_evidence(&mut out, c);

    match (out.is_empty(), measure, baseline_period, target_date, reporting_period_type) {
        (true, Some(measure), Some(baseline_period), Some(target_date), Some(reporting_period_type)) => Ok(Resolved {
            commitment_type,
            measure,
            polarity,
            unit,
            reporting_period_type,
            plan: Plan {
                baseline_value: baseline.value,
                baseline_period,
                target_value: target.value,
                target_date,
                shape,
                points,
                tolerance: trajectory.tolerance,
                high_is_good: polarity != Polarity::LowIsGood,
            },
            local,
            evidence,
        }),
        _ => Err(out),
    }
}

/// Returns a commitment's measure: the request's, else the metric's, else the type's; a metric
/// whose figures cannot be added up across members, or a deprecated one, is refused.
fn resolved_measure(
    out: &mut Vec<FieldViolation>,
    c: &Commitment,
    metric: Option<&MetricFacts>,
    commitment_type: CommitmentType,
) -> Option<Measure> {
    let from_metric = metric.map(|m| (m, metric_measure(m.value_type)));
    if let Some((m, None)) = from_metric {
        out.push(FieldViolation::new(
            "commitment.metric_code",
            "UNSUMMABLE_METRIC",
            format!(
                "a {} metric cannot measure a commitment: members' figures must add up (use a proportion, count or currency amount)",
                m.value_type.label()
            ),
        ));
    }
    if metric.is_some_and(|m| m.deprecated) {
        out.push(FieldViolation::new("commitment.metric_code", "METRIC_DEPRECATED", "the metric is deprecated"));
    }
    let metric_measure = from_metric.and_then(|(_, measure)| measure);
    match Measure::try_from(c.measure).unwrap_or(Measure::Unspecified) {
        Measure::Unspecified if c.measure != 0 => {
            out.push(FieldViolation::new(
                "commitment.measure",
                "INVALID",
                format!("measure {} is not known", c.measure),
            ));
            None
        }
        Measure::Unspecified => metric_measure.or_else(|| default_measure(commitment_type)).or_else(|| {
            if commitment_type != CommitmentType::Unspecified {
                out.push(FieldViolation::new(
                    "commitment.measure",
                    "REQUIRED",
                    "a custom commitment without a metric says whether it is a percentage or a total",
                ));
            }
            None
        }),
        given => {
            if metric_measure.is_some_and(|m| m != given) {
                out.push(FieldViolation::new(
                    "commitment.measure",
                    "MEASURE_MISMATCH",
                    format!(
                        "the metric's figures are a {}, not a {}",
                        metric_measure.map(|m| m.as_str_name()).unwrap_or_default(),
                        given.as_str_name()
                    ),
                ));
            }
            Some(given)
        }
    }
}

/// Returns a commitment's polarity: the request's, else the metric's, else the type's, since
/// its status needs a direction to judge progress by.
fn resolved_polarity(
    out: &mut Vec<FieldViolation>,
    c: &Commitment,
    metric: Option<&MetricFacts>,
    commitment_type: CommitmentType,
) -> Polarity {
    match Polarity::try_from(c.polarity).unwrap_or(Polarity::Unspecified) {
        Polarity::HighIsGood => Polarity::HighIsGood,
        Polarity::LowIsGood => Polarity::LowIsGood,
        Polarity::NoJudgement => {
            out.push(FieldViolation::new(
                "commitment.polarity",
                "NO_DIRECTION",
                "a commitment has a direction: high_is_good or low_is_good",
            ));
            Polarity::HighIsGood
        }
        Polarity::Unspecified => match metric.map(|m| m.polarity) {
            Some(p @ (Polarity::HighIsGood | Polarity::LowIsGood)) => p,
            _ if commitment_type == CommitmentType::CarbonAgainstBaseline => Polarity::LowIsGood,
            _ => Polarity::HighIsGood,
        },
    }
}

/// Returns a commitment's display unit, the type's default when none is given; a total with
/// no default needs one, or its figures would read as bare numbers.
fn resolved_unit(
    out: &mut Vec<FieldViolation>,
    c: &Commitment,
    commitment_type: CommitmentType,
    measure: Option<Measure>,
) -> String {
    if c.unit.trim().is_empty() {
        let unit = measure.map(|m| default_unit(commitment_type, m)).unwrap_or_default();
        if unit.is_empty() && measure == Some(Measure::Total) {
            out.push(FieldViolation::new("commitment.unit", "REQUIRED", "a total needs a unit, for example `sites`"));
        }
        unit.to_owned()
    } else {
        c.unit.trim().to_owned()
    }
}

/// Returns the baseline (empty when missing, so later checks can still run) and its period.
fn checked_baseline(
    out: &mut Vec<FieldViolation>,
    c: &Commitment,
    measure: Option<Measure>,
) -> (Baseline, Option<Period>) {
    let baseline = c.baseline.clone().unwrap_or_default();
    if c.baseline.is_none() {
        out.push(FieldViolation::new("commitment.baseline", "REQUIRED", "a commitment starts from a baseline"));
    } else {
        check_value(out, "commitment.baseline.value", baseline.value, measure);
    }
    let baseline_period = match Period::parse(&baseline.period_code) {
        Ok(period) => Some(period),
        Err(error) => {
            if c.baseline.is_some() {
                out.push(FieldViolation::new("commitment.baseline.period_code", "INVALID_PERIOD", error.to_string()));
            }
            None
        }
    };
    (baseline, baseline_period)
}

/// Returns the type of the periods progress is reported for: the request's, else the baseline
/// period's; never a pooled range, since each report covers one period.
fn resolved_reporting_period_type(
    out: &mut Vec<FieldViolation>,
    c: &Commitment,
    baseline_period: Option<Period>,
) -> Option<PeriodType> {
    let reporting_period_type = match PeriodType::try_from(c.reporting_period_type).unwrap_or(PeriodType::Unspecified) {
        PeriodType::Unspecified if c.reporting_period_type != 0 => {
            out.push(FieldViolation::new(
                "commitment.reporting_period_type",
                "UNKNOWN_PERIOD_TYPE",
                format!("period type {} is not known", c.reporting_period_type),
            ));
            None
        }
        PeriodType::Unspecified => baseline_period.map(|p| p.period_type()),
        given => Some(given),
    };
    if let Some(t @ (PeriodType::CalendarYearRange | PeriodType::FinancialYearRange)) = reporting_period_type {
        out.push(FieldViolation::new(
            "commitment.reporting_period_type",
            "RANGE_NOT_ALLOWED",
            format!("progress is reported per period, not for pooled ranges ({})", t.label()),
        ));
    }
    reporting_period_type
}

/// Returns the target (empty when missing, so later checks can still run) and its date, which
/// must fall after the baseline period.
fn checked_target(
    out: &mut Vec<FieldViolation>,
    c: &Commitment,
    measure: Option<Measure>,
    baseline_period: Option<Period>,
) -> (Target, Option<NaiveDate>) {
    let target = c.target.clone().unwrap_or_default();
    let target_date = if c.target.is_none() {
        out.push(FieldViolation::new("commitment.target", "REQUIRED", "a commitment has a target value and date"));
        None
    } else {
        check_value(out, "commitment.target.value", target.value, measure);
        match date(&target.date) {
            None => {
                out.push(FieldViolation::new(
                    "commitment.target.date",
                    "INVALID_DATE",
                    format!("target date {:?} must be an ISO date (YYYY-MM-DD)", target.date),
                ));
                None
            }
            Some(day) => {
                if let Some(period) = baseline_period
                    && day <= period.end_date()
                {
                    out.push(FieldViolation::new(
                        "commitment.target.date",
                        "TARGET_BEFORE_BASELINE",
                        format!(
                            "target date {day} is not after the baseline period {period}, which ends on {}",
                            period.end_date()
                        ),
                    ));
                }
                Some(day)
            }
        }
    };
    (target, target_date)
}

/// Refuses a target worse than the baseline, which would count doing worse as progress.
fn check_direction(out: &mut Vec<FieldViolation>, baseline: &Baseline, target: &Target, polarity: Polarity) {
    let direction = if polarity == Polarity::LowIsGood { -1.0 } else { 1.0 };
    if (target.value - baseline.value) * direction < 0.0 {
        out.push(FieldViolation::new(
            "commitment.target.value",
            "TARGET_AGAINST_POLARITY",
            format!(
                "target {} is worse than baseline {} for a {} commitment",
                target.value,
                baseline.value,
                polarity.label()
            ),
        ));
    }
}

/// Returns the trajectory's shape, linear when unset; a stepped one must list its steps.
fn resolved_shape(out: &mut Vec<FieldViolation>, trajectory: &Trajectory) -> TrajectoryShape {
    let shape = match TrajectoryShape::try_from(trajectory.shape).unwrap_or(TrajectoryShape::Unspecified) {
        TrajectoryShape::Unspecified if trajectory.shape != 0 => {
            out.push(FieldViolation::new(
                "commitment.trajectory.shape",
                "INVALID",
                format!("shape {} is not linear or stepped", trajectory.shape),
            ));
            TrajectoryShape::Linear
        }
        TrajectoryShape::Unspecified => TrajectoryShape::Linear,
        given => given,
    };
    if shape == TrajectoryShape::Stepped && trajectory.points.is_empty() {
        out.push(FieldViolation::new(
            "commitment.trajectory.points",
            "REQUIRED",
            "a stepped trajectory lists its steps",
        ));
    }
    shape
}

/// Returns the trajectory's points as the status rule reads them, each checked to lie within
/// the commitment and after the point before it.
fn checked_points(
    out: &mut Vec<FieldViolation>,
    trajectory: &Trajectory,
    shape: TrajectoryShape,
    measure: Option<Measure>,
    baseline_period: Option<Period>,
    target_date: Option<NaiveDate>,
) -> Vec<(Period, f64)> {
    // A linear knot is reached at the end of its period, a step begins at its start (rule.rs);
    // either way the knot lies after the baseline period and before the target date, in order.
    let stepped = shape == TrajectoryShape::Stepped;
    let mut points = Vec::new();
    let mut previous: Option<NaiveDate> = None;
    for (i, point) in trajectory.points.iter().enumerate() {
        let field = |name: &str| format!("commitment.trajectory.points[{i}].{name}");
        check_value(out, &field("value"), point.value, measure);
        match Period::parse(&point.period_code) {
            Err(error) => out.push(FieldViolation::new(field("period_code"), "INVALID_PERIOD", error.to_string())),
            Ok(period) => {
                let anchor = if stepped { period.start_date() } else { period.end_date() };
                let after_baseline = baseline_period.is_none_or(|b| period.start_date() > b.end_date());
                let by_target = target_date.is_none_or(|t| anchor < t);
                if !(after_baseline && by_target) {
                    out.push(FieldViolation::new(
                        field("period_code"),
                        "POINT_OUTSIDE_COMMITMENT",
                        format!(
                            "point {period} must start after the baseline period and {} before the target date",
                            if stepped { "start" } else { "end" }
                        ),
                    ));
                } else if previous.is_some_and(|p| anchor <= p) {
                    out.push(FieldViolation::new(
                        field("period_code"),
                        "NOT_IN_ORDER",
                        format!("point {period} must come after the point before it"),
                    ));
                }
                previous = Some(anchor);
                points.push((period, point.value));
            }
        }
    }
    points
}

/// Returns the definition of local, normalised; required for local spend, whose numerator is
/// defined by it.
fn checked_local(
    out: &mut Vec<FieldViolation>,
    c: &Commitment,
    commitment_type: CommitmentType,
) -> Option<LocalDefinition> {
    let local = c.local_definition.as_ref().map(normalised);
    match &local {
        Some(local) => out.extend(local_definition(local, "commitment.local_definition")),
        None if commitment_type == CommitmentType::LocalSpend => out.push(FieldViolation::new(
            "commitment.local_definition",
            "REQUIRED",
            "a local spend commitment says what local means (areas, a boundary or a radius)",
        )),
        None => {}
    }
    local
}

/// Returns the evidence as stored, each item needing a reference and a date to be checked against.
fn checked_evidence(out: &mut Vec<FieldViolation>, c: &Commitment) -> Vec<StoredEvidence> {
    let mut evidence = Vec::new();
    for (i, e) in c.evidence.iter().enumerate() {
        if e.reference.trim().is_empty() {
            out.push(FieldViolation::new(
                format!("commitment.evidence[{i}].reference"),
                "REQUIRED",
                "evidence has a reference, for example an accreditation number or URL",
            ));
        }
        if date(&e.date).is_none() {
            out.push(FieldViolation::new(
                format!("commitment.evidence[{i}].date"),
                "INVALID_DATE",
                format!("evidence date {:?} must be an ISO date (YYYY-MM-DD)", e.date),
            ));
        }
        evidence.push(StoredEvidence {
            reference: e.reference.trim().to_owned(),
            date: e.date.clone(),
            description: e.description.clone(),
        });
    }
    evidence
}

#[cfg(test)]
mod tests {
    use super::*;
    use sharedmetrics_proto::sharedmetrics::commitments::v1::{
        Baseline, Evidence, Target, Trajectory, TrajectoryPoint,
    };
    use sharedmetrics_proto::sharedmetrics::commitments::v1::{Radius, local_definition};

    fn valid() -> Commitment {
        Commitment {
            r#type: CommitmentType::LocalSpend as i32,
            title: "Local spend".into(),
            local_definition: Some(LocalDefinition {
                kind: Some(local_definition::Kind::BoundaryCode("E54000008".into())),
            }),
            baseline: Some(Baseline { value: 30.0, period_code: "2023/24".into() }),
            target: Some(Target { value: 40.0, date: "2026-03-31".into() }),
            reporting_period_type: PeriodType::FinancialQuarter as i32,
            ..Default::default()
        }
    }

    fn fields(violations: &[FieldViolation]) -> Vec<(&str, &str)> {
        violations.iter().map(|v| (v.field.as_str(), v.reason.as_str())).collect()
    }

    fn refused(c: &Commitment) -> Vec<(String, String)> {
        let violations = commitment(c, None).expect_err("refused");
        violations.into_iter().map(|v| (v.field, v.reason)).collect()
    }

    fn pair(field: &str, reason: &str) -> Vec<(String, String)> {
        vec![(field.to_owned(), reason.to_owned())]
    }

    #[test]
    fn a_complete_commitment_resolves_with_its_defaults() {
        let resolved = commitment(&valid(), None).expect("valid");
        assert_eq!(resolved.measure, Measure::Percentage);
        assert_eq!(resolved.polarity, Polarity::HighIsGood);
        assert_eq!(resolved.unit, "%");
        assert_eq!(resolved.reporting_period_type, PeriodType::FinancialQuarter);
        assert_eq!(resolved.plan.shape, TrajectoryShape::Linear);
    }

    #[test]
    fn carbon_is_a_low_is_good_total_by_default() {
        let c = Commitment {
            r#type: CommitmentType::CarbonAgainstBaseline as i32,
            local_definition: None,
            baseline: Some(Baseline { value: 10_000.0, period_code: "2023/24-Q4".into() }),
            target: Some(Target { value: 8_000.0, date: "2026-03-31".into() }),
            reporting_period_type: 0,
            ..valid()
        };
        let resolved = commitment(&c, None).expect("valid");
        assert_eq!((resolved.measure, resolved.polarity), (Measure::Total, Polarity::LowIsGood));
        assert_eq!(resolved.unit, "tCO2e");
        assert_eq!(resolved.reporting_period_type, PeriodType::FinancialQuarter, "the baseline period's type");
    }

    #[test]
    fn a_target_date_before_the_baseline_is_refused() {
        let c = Commitment { target: Some(Target { value: 40.0, date: "2024-03-31".into() }), ..valid() };
        assert_eq!(refused(&c), pair("commitment.target.date", "TARGET_BEFORE_BASELINE"));
    }

    #[test]
    fn a_percentage_above_100_is_refused_wherever_it_is_given() {
        let c = Commitment {
            target: Some(Target { value: 120.0, date: "2026-03-31".into() }),
            trajectory: Some(Trajectory {
                points: vec![TrajectoryPoint { period_code: "2024/25".into(), value: 101.0 }],
                ..Default::default()
            }),
            ..valid()
        };
        assert_eq!(
            refused(&c),
            vec![
                ("commitment.target.value".to_owned(), "PERCENTAGE_ABOVE_100".to_owned()),
                ("commitment.trajectory.points[0].value".to_owned(), "PERCENTAGE_ABOVE_100".to_owned()),
            ]
        );
    }

    #[test]
    fn a_target_worse_than_the_baseline_contradicts_the_polarity() {
        let c = Commitment { target: Some(Target { value: 20.0, date: "2026-03-31".into() }), ..valid() };
        assert_eq!(refused(&c), pair("commitment.target.value", "TARGET_AGAINST_POLARITY"));
    }

    #[test]
    fn a_metric_sets_measure_and_polarity_and_must_be_summable() {
        let proportion = MetricFacts {
            value_type: ValueType::Proportion,
            polarity: Polarity::HighIsGood,
            period_type: PeriodType::FinancialYear,
            deprecated: false,
        };
        assert_eq!(commitment(&valid(), Some(&proportion)).expect("valid").measure, Measure::Percentage);
        let c = Commitment { measure: Measure::Total as i32, ..valid() };
        let violations = commitment(&c, Some(&proportion)).expect_err("refused");
        assert_eq!(fields(&violations), vec![("commitment.measure", "MEASURE_MISMATCH")]);
        let rate = MetricFacts { value_type: ValueType::CrudeRate, ..proportion };
        let violations = commitment(&valid(), Some(&rate)).expect_err("refused");
        assert_eq!(fields(&violations), vec![("commitment.metric_code", "UNSUMMABLE_METRIC")]);
    }

    #[test]
    fn local_spend_needs_a_definition_of_local_and_a_radius_a_real_postcode() {
        let c = Commitment { local_definition: None, ..valid() };
        assert_eq!(refused(&c), pair("commitment.local_definition", "REQUIRED"));
        let radius = |postcode: &str, km: f64| LocalDefinition {
            kind: Some(local_definition::Kind::Radius(Radius {
                postcode: postcode.into(),
                radius_km: km,
                area_code: "E08000012".into(),
            })),
        };
        let c = Commitment { local_definition: Some(radius("not a postcode", 0.0)), ..valid() };
        assert_eq!(
            refused(&c),
            vec![
                ("commitment.local_definition.radius.postcode".to_owned(), "INVALID_POSTCODE".to_owned()),
                ("commitment.local_definition.radius.radius_km".to_owned(), "OUT_OF_RANGE".to_owned()),
            ]
        );
        let resolved =
            commitment(&Commitment { local_definition: Some(radius("l38en", 10.0)), ..valid() }, None).expect("valid");
        assert_eq!(resolved.local, Some(radius("L3 8EN", 10.0)), "postcodes are stored in canonical form");
    }

    #[test]
    fn trajectory_points_lie_within_the_commitment_in_order() {
        let c = Commitment {
            trajectory: Some(Trajectory {
                shape: TrajectoryShape::Stepped as i32,
                points: vec![
                    TrajectoryPoint { period_code: "2025/26".into(), value: 36.0 },
                    TrajectoryPoint { period_code: "2024/25".into(), value: 33.0 },
                    TrajectoryPoint { period_code: "2026/27".into(), value: 40.0 },
                ],
                tolerance: Some(-1.0),
            }),
            ..valid()
        };
        assert_eq!(
            refused(&c),
            vec![
                ("commitment.trajectory.points[1].period_code".to_owned(), "NOT_IN_ORDER".to_owned()),
                ("commitment.trajectory.points[2].period_code".to_owned(), "POINT_OUTSIDE_COMMITMENT".to_owned()),
                ("commitment.trajectory.tolerance".to_owned(), "NEGATIVE".to_owned()),
            ]
        );
    }

    #[test]
    fn a_linear_knot_ends_before_the_target_date_but_a_step_may_begin_in_its_year() {
        let trajectory = |shape: TrajectoryShape| Trajectory {
            shape: shape as i32,
            points: vec![TrajectoryPoint { period_code: "2025/26".into(), value: 38.0 }],
            tolerance: None,
        };
        let linear = Commitment { trajectory: Some(trajectory(TrajectoryShape::Linear)), ..valid() };
        assert_eq!(refused(&linear), pair("commitment.trajectory.points[0].period_code", "POINT_OUTSIDE_COMMITMENT"));
        let stepped = Commitment { trajectory: Some(trajectory(TrajectoryShape::Stepped)), ..valid() };
        assert!(commitment(&stepped, None).is_ok());
    }

    #[test]
    fn evidence_has_a_reference_and_a_date() {
        let c = Commitment {
            evidence: vec![Evidence { reference: " ".into(), date: "last year".into(), description: String::new() }],
            ..valid()
        };
        assert_eq!(
            refused(&c),
            vec![
                ("commitment.evidence[0].reference".to_owned(), "REQUIRED".to_owned()),
                ("commitment.evidence[0].date".to_owned(), "INVALID_DATE".to_owned()),
            ]
        );
    }

    #[test]
    fn charters_name_every_bad_field() {
        let c = Charter {
            code: "Liverpool Charter".into(),
            visibility: 0,
            templates: vec![
                sharedmetrics_proto::sharedmetrics::commitments::v1::CommitmentTemplate {
                    code: "local-spend".into(),
                    r#type: CommitmentType::LocalSpend as i32,
                    title: "Local spend".into(),
                    target_value: Some(140.0),
                    ..Default::default()
                },
                sharedmetrics_proto::sharedmetrics::commitments::v1::CommitmentTemplate {
                    code: "local-spend".into(),
                    r#type: 0,
                    title: "Again".into(),
                    ..Default::default()
                },
            ],
            ..Default::default()
        };
        assert_eq!(
            fields(&charter(&c)),
            vec![
                ("charter.code", "INVALID_CODE"),
                ("charter.name", "REQUIRED"),
                ("charter.place_area_code", "REQUIRED"),
                ("charter.visibility", "REQUIRED"),
                ("charter.templates[0].target_value", "PERCENTAGE_ABOVE_100"),
                ("charter.templates[1].code", "DUPLICATE"),
                ("charter.templates[1].type", "REQUIRED"),
            ]
        );
    }
}

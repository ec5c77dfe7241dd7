//! Progress reports: the period a figure is for, and the figures themselves.

use sharedmetrics_error::FieldViolation;
use sharedmetrics_periods::Period;
use sharedmetrics_proto::Label;
use sharedmetrics_proto::sharedmetrics::commitments::v1::Measure;
use sharedmetrics_proto::sharedmetrics::common::v1::PeriodType;

use crate::rule::Plan;

/// Checks that a progress period is a period of the commitment's reporting type that starts
/// after the baseline period ends and no later than the target date.
pub fn progress_period(code: &str, plan: &Plan, reporting: PeriodType) -> Result<Period, FieldViolation> {
    let period =
        Period::parse(code).map_err(|error| FieldViolation::new("period_code", "INVALID_PERIOD", error.to_string()))?;
    if period.period_type() != reporting {
        return Err(FieldViolation::new(
            "period_code",
            "WRONG_PERIOD_TYPE",
            format!(
                "{period} is a {} period; this commitment reports by {}",
                period.period_type().label(),
                reporting.label()
            ),
        ));
    }
    let baseline_end = plan.baseline_period.end_date();
    if period.start_date() <= baseline_end || period.start_date() > plan.target_date {
        return Err(FieldViolation::new(
            "period_code",
            "PERIOD_OUTSIDE_COMMITMENT",
            format!(
                "{period} ({} to {}) is outside the commitment, which runs from the end of its baseline period {} ({baseline_end}) to its target date {}",
                period.start_date(),
                period.end_date(),
                plan.baseline_period,
                plan.target_date
            ),
        ));
    }
    Ok(period)
}

/// Checks one period's figures against the measure and returns the value they give: 100 ×
/// numerator ÷ denominator for a percentage, the numerator for a total.
pub fn figures(
    measure: Measure,
    numerator: Option<f64>,
    denominator: Option<f64>,
    value: Option<f64>,
) -> Result<f64, Vec<FieldViolation>> {
    let mut out = Vec::new();
    let mut number = |field: &str, given: Option<f64>, required: bool| -> Option<f64> {
        match given {
            None if required => {
                out.push(FieldViolation::new(
                    field,
                    "REQUIRED",
                    format!("{field} is required, so that a network can add the figures up"),
                ));
                None
            }
            None => None,
            Some(v) if !v.is_finite() => {
                out.push(FieldViolation::new(field, "INVALID_NUMBER", format!("{field} must be a finite number")));
                None
            }
            Some(v) if v < 0.0 => {
                out.push(FieldViolation::new(field, "NEGATIVE", format!("{field} {v} is negative")));
                None
            }
            Some(v) => Some(v),
        }
    };
    let numerator = number("numerator", numerator, true);
    let percentage = measure == Measure::Percentage;
    let denominator = number("denominator", denominator, percentage);
    let given = number("value", value, false);
    let derived = if percentage {
        match (numerator, denominator) {
            (_, Some(0.0)) => {
                out.push(FieldViolation::new("denominator", "NOT_POSITIVE", "the denominator of a share is above 0"));
                None
            }
            (Some(n), Some(d)) if n > d => {
                out.push(FieldViolation::new(
                    "numerator",
                    "PERCENTAGE_ABOVE_100",
                    format!("numerator {n} is above denominator {d}: a share cannot exceed 100%"),
                ));
                None
            }
            (Some(n), Some(d)) => Some(100.0 * n / d),
            _ => None,
        }
    } else {
        if denominator.is_some() {
            out.push(FieldViolation::new(
                "denominator",
                "NOT_ALLOWED",
                "a total has no denominator: its figures are added up as they are",
            ));
        }
        numerator
    };
    if let Some(v) = given {
        if percentage && v > 100.0 {
            out.push(FieldViolation::new(
                "value",
                "PERCENTAGE_ABOVE_100",
                format!("value {v} is a percentage above 100"),
            ));
        } else if let Some(d) = derived
            && (v - d).abs() > 1e-6 * d.abs().max(1.0)
        {
            out.push(FieldViolation::new(
                "value",
                "VALUE_INCONSISTENT",
                format!("value {v} does not match the {d} its numerator and denominator give"),
            ));
        }
    }
    match derived {
        Some(d) if out.is_empty() => Ok(d),
        _ => Err(out),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use sharedmetrics_proto::sharedmetrics::commitments::v1::TrajectoryShape;

    fn fields(violations: &[FieldViolation]) -> Vec<(&str, &str)> {
        violations.iter().map(|v| (v.field.as_str(), v.reason.as_str())).collect()
    }

    /// 2023/24 to 31 March 2026.
    fn plan() -> Plan {
        Plan {
            baseline_value: 30.0,
            baseline_period: Period::parse("2023/24").expect("a period"),
            target_value: 40.0,
            target_date: chrono::NaiveDate::from_ymd_opt(2026, 3, 31).expect("a date"),
            shape: TrajectoryShape::Linear,
            points: vec![],
            tolerance: None,
            high_is_good: true,
        }
    }

    #[test]
    fn a_progress_period_must_be_of_the_reporting_type_and_inside_the_commitment() {
        let plan = plan();
        let check = |code: &str| progress_period(code, &plan, PeriodType::FinancialQuarter);
        assert!(check("2024/25-Q1").is_ok());
        assert!(check("2025/26-Q4").is_ok());
        assert_eq!(check("2023/24-Q4").unwrap_err().reason, "PERIOD_OUTSIDE_COMMITMENT");
        assert_eq!(check("2026/27-Q1").unwrap_err().reason, "PERIOD_OUTSIDE_COMMITMENT");
        assert_eq!(check("2024/25").unwrap_err().reason, "WRONG_PERIOD_TYPE");
        assert_eq!(check("2024/25-Q5").unwrap_err().reason, "INVALID_PERIOD");
    }

    #[test]
    fn a_percentage_is_a_numerator_within_its_denominator() {
        assert_eq!(figures(Measure::Percentage, Some(30.0), Some(120.0), None), Ok(25.0));
        assert_eq!(figures(Measure::Percentage, Some(30.0), Some(120.0), Some(25.0)), Ok(25.0));
        let err = |n, d, v| figures(Measure::Percentage, n, d, v).unwrap_err();
        assert_eq!(fields(&err(Some(130.0), Some(120.0), None)), vec![("numerator", "PERCENTAGE_ABOVE_100")]);
        assert_eq!(fields(&err(Some(30.0), Some(120.0), Some(101.0))), vec![("value", "PERCENTAGE_ABOVE_100")]);
        assert_eq!(fields(&err(Some(30.0), Some(120.0), Some(20.0))), vec![("value", "VALUE_INCONSISTENT")]);
        assert_eq!(fields(&err(Some(30.0), None, None)), vec![("denominator", "REQUIRED")]);
        assert_eq!(
            fields(&err(Some(-1.0), Some(0.0), None)),
            vec![("numerator", "NEGATIVE"), ("denominator", "NOT_POSITIVE")]
        );
    }

    #[test]
    fn a_total_is_its_numerator_without_a_denominator() {
        assert_eq!(figures(Measure::Total, Some(12.0), None, None), Ok(12.0));
        let err = figures(Measure::Total, Some(12.0), Some(20.0), None).unwrap_err();
        assert_eq!(fields(&err), vec![("denominator", "NOT_ALLOWED")]);
    }
}

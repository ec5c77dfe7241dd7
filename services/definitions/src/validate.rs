//! Validation of metric specs, dimensions and peer groups: pure functions that list every
//! field at fault, so a steward fixes a definition in one round trip.

use std::collections::HashSet;

use sharedmetrics_error::FieldViolation;
use sharedmetrics_proto::sharedmetrics::common::v1::{AreaType, CiMethod, PeriodType, Polarity, ValueType};
use sharedmetrics_proto::sharedmetrics::definitions::v1::{Dimension, MetricVersionSpec, Visibility};

/// What a spec may refer to.
pub struct Known<'a> {
    /// Dimension codes.
    pub dimensions: &'a HashSet<String>,
    /// Organisation codes.
    pub organisations: &'a HashSet<String>,
    /// Peer group codes.
    pub peer_groups: &'a HashSet<String>,
}

/// Multipliers a metric may use.
const MULTIPLIERS: [u32; 4] = [1, 100, 1_000, 100_000];

/// Returns whether `code` is a stable code: lowercase letters, digits, `-` and `_`, 2–64 long,
/// starting with a letter or digit.
pub fn is_code(code: &str) -> bool {
    (2..=64).contains(&code.len())
        && code.bytes().next().is_some_and(|b| b.is_ascii_lowercase() || b.is_ascii_digit())
        && code.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-' || b == b'_')
}

/// Returns the CI methods that suit a value type (METHODS.md).
fn ci_methods_for(value_type: ValueType) -> &'static [CiMethod] {
    match value_type {
        ValueType::Proportion => &[CiMethod::Wilson],
        ValueType::CrudeRate | ValueType::IndirectlyStandardisedRatio => &[CiMethod::Byar],
        ValueType::DirectlyStandardisedRate => &[CiMethod::Dobson],
        ValueType::Mean => &[CiMethod::StudentT, CiMethod::None],
        ValueType::LifeExpectancy => &[CiMethod::ChiangSilcocks],
        ValueType::HealthyLifeExpectancy => &[CiMethod::Sullivan],
        ValueType::Count | ValueType::CurrencyAmount | ValueType::Score => &[CiMethod::None],
        ValueType::Unspecified => &[],
    }
}

fn date(text: &str) -> Option<chrono::NaiveDate> {
    chrono::NaiveDate::parse_from_str(text, "%Y-%m-%d").ok()
}

/// Returns every problem with a metric version spec, prefixing field paths with `prefix`.
pub fn metric_spec(spec: &MetricVersionSpec, known: &Known<'_>, prefix: &str) -> Vec<FieldViolation> {
    let mut out = Vec::new();
    let mut bad = |field: &str, reason: &str, description: String| {
        out.push(FieldViolation::new(format!("{prefix}{field}"), reason, description));
    };
    if !is_code(&spec.code) {
        bad(
            "code",
            "INVALID_CODE",
            format!("metric code {:?} must be 2–64 lowercase letters, digits, '-' or '_'", spec.code),
        );
    }
    if spec.title.trim().is_empty() {
        bad("title", "REQUIRED", "a metric needs a title".into());
    }
    let value_type = ValueType::try_from(spec.value_type).unwrap_or(ValueType::Unspecified);
    if value_type == ValueType::Unspecified {
        bad("value_type", "REQUIRED", format!("value type {} is not one of the known value types", spec.value_type));
    }
    if !MULTIPLIERS.contains(&spec.multiplier) {
        bad(
            "multiplier",
            "INVALID_MULTIPLIER",
            format!("multiplier {} must be 1, 100, 1000 or 100000", spec.multiplier),
        );
    }
    if Polarity::try_from(spec.polarity).unwrap_or(Polarity::Unspecified) == Polarity::Unspecified {
        bad("polarity", "REQUIRED", "polarity must be high_is_good, low_is_good or no_judgement".into());
    }
    let ci_method = CiMethod::try_from(spec.ci_method).unwrap_or(CiMethod::Unspecified);
    if ci_method == CiMethod::Unspecified {
        bad(
            "ci_method",
            "REQUIRED",
            format!(
                "a {} metric needs a CI method ({})",
                sharedmetrics_proto::Label::label(value_type),
                ci_methods_for(value_type)
                    .iter()
                    .map(|m| sharedmetrics_proto::Label::label(*m))
                    .collect::<Vec<_>>()
                    .join(" or ")
            ),
        );
    } else if value_type != ValueType::Unspecified && !ci_methods_for(value_type).contains(&ci_method) {
        bad(
            "ci_method",
            "CI_METHOD_MISMATCH",
            format!(
                "CI method {} does not suit a {} metric (use {})",
                sharedmetrics_proto::Label::label(ci_method),
                sharedmetrics_proto::Label::label(value_type),
                ci_methods_for(value_type)
                    .iter()
                    .map(|m| sharedmetrics_proto::Label::label(*m))
                    .collect::<Vec<_>>()
                    .join(" or ")
            ),
        );
    }
    if value_type == ValueType::Proportion && ![1, 100].contains(&spec.multiplier) {
        bad("multiplier", "INVALID_MULTIPLIER", "a proportion's multiplier is 1 or 100".into());
    }
    if PeriodType::try_from(spec.period_type).unwrap_or(PeriodType::Unspecified) == PeriodType::Unspecified {
        bad(
            "period_type",
            "UNKNOWN_PERIOD_TYPE",
            format!("period type {} is not a known period type", spec.period_type),
        );
    }
    if spec.area_types.is_empty() {
        bad("area_types", "REQUIRED", "a metric is published at one or more area types".into());
    }
    for (i, t) in spec.area_types.iter().enumerate() {
        if AreaType::try_from(*t).unwrap_or(AreaType::Unspecified) == AreaType::Unspecified {
            bad(&format!("area_types[{i}]"), "UNKNOWN_AREA_TYPE", format!("area type {t} is not a known area type"));
        }
    }
    let mut seen = HashSet::new();
    for (i, d) in spec.dimensions.iter().enumerate() {
        if !known.dimensions.contains(d) {
            bad(
                &format!("dimensions[{i}]"),
                "UNKNOWN_DIMENSION",
                format!("dimension {d:?} does not exist; create it with CreateDimension first"),
            );
        } else if !seen.insert(d) {
            bad(&format!("dimensions[{i}]"), "DUPLICATE", format!("dimension {d:?} is listed twice"));
        }
    }
    if let Some(threshold) = spec.disclosure_threshold
        && threshold > 100
    {
        bad("disclosure_threshold", "OUT_OF_RANGE", format!("disclosure threshold {threshold} is above 100"));
    }
    if spec.owners.is_empty() {
        bad("owners", "REQUIRED", "a metric needs at least one owning organisation".into());
    }
    for (i, o) in spec.owners.iter().enumerate() {
        if !known.organisations.contains(o) {
            bad(&format!("owners[{i}]"), "UNKNOWN_ORGANISATION", format!("organisation {o:?} does not exist"));
        }
    }
    let visibility = Visibility::try_from(spec.visibility).unwrap_or(Visibility::Unspecified);
    if visibility == Visibility::Unspecified {
        bad("visibility", "REQUIRED", "visibility must be public, partners or owners_only".into());
    }
    if visibility == Visibility::Partners && spec.partner_groups.is_empty() {
        bad("partner_groups", "REQUIRED", "a partners-only metric names at least one partner peer group".into());
    }
    for (i, g) in spec.partner_groups.iter().enumerate() {
        if !known.peer_groups.contains(g) {
            bad(&format!("partner_groups[{i}]"), "UNKNOWN_PEER_GROUP", format!("peer group {g:?} does not exist"));
        }
    }
    for (i, tag) in spec.tags.iter().enumerate() {
        if !is_code(tag) {
            bad(
                &format!("tags[{i}]"),
                "INVALID_CODE",
                format!("tag {tag:?} must be lowercase letters, digits, '-' or '_'"),
            );
        }
    }
    match date(&spec.valid_from) {
        None => bad(
            "valid_from",
            "INVALID_DATE",
            format!("valid_from {:?} must be an ISO date (YYYY-MM-DD)", spec.valid_from),
        ),
        Some(from) if !spec.valid_to.is_empty() => match date(&spec.valid_to) {
            None => bad(
                "valid_to",
                "INVALID_DATE",
                format!("valid_to {:?} must be an ISO date (YYYY-MM-DD)", spec.valid_to),
            ),
            Some(to) if to < from => {
                bad("valid_to", "OUT_OF_RANGE", format!("valid_to {to} is before valid_from {from}"))
            }
            Some(_) => {}
        },
        Some(_) => {}
    }
    out
}

/// Returns every problem with a new custom dimension.
pub fn dimension(d: &Dimension) -> Vec<FieldViolation> {
    let mut out = Vec::new();
    if !is_code(&d.code) {
        out.push(FieldViolation::new(
            "dimension.code",
            "INVALID_CODE",
            format!("dimension code {:?} must be 2–64 lowercase letters, digits, '-' or '_'", d.code),
        ));
    }
    if d.title.trim().is_empty() {
        out.push(FieldViolation::new("dimension.title", "REQUIRED", "a dimension needs a title"));
    }
    if d.codes.is_empty() {
        out.push(FieldViolation::new("dimension.codes", "REQUIRED", "a dimension needs at least one code"));
    }
    let mut seen = HashSet::new();
    for (i, c) in d.codes.iter().enumerate() {
        if c.code.is_empty() || c.code.len() > 64 || c.code.contains(char::is_whitespace) {
            out.push(FieldViolation::new(
                format!("dimension.codes[{i}].code"),
                "INVALID_CODE",
                format!("code {:?} must be 1–64 characters without spaces", c.code),
            ));
        } else if !seen.insert(c.code.as_str()) {
            out.push(FieldViolation::new(
                format!("dimension.codes[{i}].code"),
                "DUPLICATE",
                format!("code {:?} is listed twice", c.code),
            ));
        }
        if c.label.trim().is_empty() {
            out.push(FieldViolation::new(format!("dimension.codes[{i}].label"), "REQUIRED", "each code needs a label"));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use sharedmetrics_proto::sharedmetrics::definitions::v1::Quantity;

    fn valid() -> MetricVersionSpec {
        MetricVersionSpec {
            code: "test-metric".into(),
            title: "Test".into(),
            numerator: Some(Quantity::default()),
            denominator: Some(Quantity::default()),
            value_type: ValueType::Proportion as i32,
            multiplier: 100,
            polarity: Polarity::HighIsGood as i32,
            ci_method: CiMethod::Wilson as i32,
            period_type: PeriodType::FinancialYear as i32,
            area_types: vec![AreaType::LocalAuthorityDistrict as i32],
            dimensions: vec!["sex".into()],
            owners: vec!["X24".into()],
            visibility: Visibility::Public as i32,
            valid_from: "2024-04-01".into(),
            ..Default::default()
        }
    }

    fn check(spec: &MetricVersionSpec) -> Vec<FieldViolation> {
        let dims = HashSet::from(["sex".to_owned()]);
        let orgs = HashSet::from(["X24".to_owned()]);
        let groups = HashSet::new();
        metric_spec(spec, &Known { dimensions: &dims, organisations: &orgs, peer_groups: &groups }, "spec.")
    }

    fn fields(violations: &[FieldViolation]) -> Vec<(&str, &str)> {
        violations.iter().map(|v| (v.field.as_str(), v.reason.as_str())).collect()
    }

    #[test]
    fn a_complete_spec_is_valid() {
        assert_eq!(check(&valid()), vec![]);
    }

    #[test]
    fn a_proportion_without_a_ci_method_is_refused() {
        let spec = MetricVersionSpec { ci_method: 0, ..valid() };
        assert_eq!(fields(&check(&spec)), vec![("spec.ci_method", "REQUIRED")]);
    }

    #[test]
    fn unknown_dimensions_owners_and_period_types_are_named() {
        let spec = MetricVersionSpec {
            dimensions: vec!["sex".into(), "shoe_size".into()],
            owners: vec![],
            period_type: 42,
            ..valid()
        };
        assert_eq!(
            fields(&check(&spec)),
            vec![
                ("spec.period_type", "UNKNOWN_PERIOD_TYPE"),
                ("spec.dimensions[1]", "UNKNOWN_DIMENSION"),
                ("spec.owners", "REQUIRED"),
            ]
        );
    }

    #[test]
    fn a_ci_method_must_suit_the_value_type() {
        let spec = MetricVersionSpec { ci_method: CiMethod::Byar as i32, ..valid() };
        assert_eq!(fields(&check(&spec)), vec![("spec.ci_method", "CI_METHOD_MISMATCH")]);
    }

    #[test]
    fn validity_must_not_end_before_it_starts() {
        let spec = MetricVersionSpec { valid_to: "2020-01-01".into(), ..valid() };
        assert_eq!(fields(&check(&spec)), vec![("spec.valid_to", "OUT_OF_RANGE")]);
    }
}

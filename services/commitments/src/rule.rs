//! The status rule of `docs/commitments.md`, exactly: the value a commitment's trajectory expects
//! for a period, and the status a figure gives against it. Pure functions, no I/O, so the rule
//! the documentation states is the rule the unit tests below check.

use chrono::NaiveDate;
use sharedmetrics_periods::Period;
use sharedmetrics_proto::sharedmetrics::commitments::v1::{CommitmentStatus, TrajectoryShape};

/// Share of the distance from baseline to target that counts as at risk when a commitment sets
/// no tolerance of its own.
pub const DEFAULT_TOLERANCE_SHARE: f64 = 0.1;

/// Decimal places values are rounded to before they are compared, so that a figure computed as
/// 34.99999999999 is not judged behind an expected 35.
pub const COMPARISON_DECIMALS: i32 = 6;

/// Everything the rule needs to know about a commitment.
#[derive(Debug, Clone, PartialEq)]
pub struct Plan {
    /// Value in the baseline period.
    pub baseline_value: f64,
    /// Period the baseline was measured in.
    pub baseline_period: Period,
    /// Value to reach.
    pub target_value: f64,
    /// Day by which to reach it; after the baseline period's last day.
    pub target_date: NaiveDate,
    /// Linear or stepped.
    pub shape: TrajectoryShape,
    /// Knots between baseline and target, each ending after the one before.
    pub points: Vec<(Period, f64)>,
    /// How far behind the expected value is still at risk; none means the default share.
    pub tolerance: Option<f64>,
    /// True when higher values are progress; false for low-is-good commitments such as carbon.
    pub high_is_good: bool,
}

/// A figure judged against the trajectory.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Assessment {
    /// On track, at risk, off track or achieved.
    pub status: CommitmentStatus,
    /// Value the trajectory expects for the period.
    pub expected: f64,
    /// Tolerance applied.
    pub tolerance: f64,
}

/// Returns `value` rounded to [`COMPARISON_DECIMALS`] places.
fn rounded(value: f64) -> f64 {
    let scale = 10f64.powi(COMPARISON_DECIMALS);
    (value * scale).round() / scale
}

impl Plan {
    /// Returns the tolerance: the commitment's own, or 10% of the distance from baseline to target.
    pub fn tolerance(&self) -> f64 {
        self.tolerance.unwrap_or_else(|| DEFAULT_TOLERANCE_SHARE * (self.target_value - self.baseline_value).abs())
    }

    /// Returns the value the trajectory expects for `period`, judged at the period's last day.
    pub fn expected(&self, period: &Period) -> f64 {
        let day = period.end_date();
        match self.shape {
            TrajectoryShape::Stepped => self.stepped_at(day),
            _ => self.linear_at(day),
        }
    }

    /// Linear: straight lines between the knots (baseline at the end of its period, each point at
    /// the end of its period, the target at its date), by days; flat before the first knot and
    /// after the last.
    fn linear_at(&self, day: NaiveDate) -> f64 {
        let mut knots = vec![(self.baseline_period.end_date(), self.baseline_value)];
        knots.extend(self.points.iter().map(|(period, value)| (period.end_date(), *value)));
        knots.push((self.target_date, self.target_value));
        if day <= knots[0].0 {
            return knots[0].1;
        }
        for pair in knots.windows(2) {
            let ((from, start), (to, end)) = (pair[0], pair[1]);
            // Validation keeps knots strictly in order; the guard only keeps the division safe.
            if from < to && day <= to {
                let share = (day - from).num_days() as f64 / (to - from).num_days() as f64;
                return start + (end - start) * share;
            }
        }
        self.target_value
    }

    /// Stepped: the value of the last step that has begun by `day`: the baseline from the first
    /// day of its period, each point from the first day of its period, the target from its date.
    fn stepped_at(&self, day: NaiveDate) -> f64 {
        let mut steps = vec![(self.baseline_period.start_date(), self.baseline_value)];
        steps.extend(self.points.iter().map(|(period, value)| (period.start_date(), *value)));
        steps.push((self.target_date, self.target_value));
        steps.iter().rev().find(|(from, _)| *from <= day).map_or(self.baseline_value, |(_, value)| *value)
    }

    /// Judges a figure `actual` for `period`: achieved when it meets the target; otherwise on
    /// track when it is at or beyond the expected value; at risk when it is behind by no more
    /// than the tolerance; off track otherwise. "Beyond" and "behind" follow the polarity.
    pub fn assess(&self, period: &Period, actual: f64) -> Assessment {
        let expected = self.expected(period);
        let tolerance = self.tolerance();
        // Multiplying by the direction turns "better" into "greater" for both polarities.
        let direction = if self.high_is_good { 1.0 } else { -1.0 };
        let actual_d = rounded(actual) * direction;
        let expected_d = rounded(expected) * direction;
        let target_d = rounded(self.target_value) * direction;
        let status = if actual_d >= target_d {
            CommitmentStatus::Achieved
        } else if actual_d >= expected_d {
            CommitmentStatus::OnTrack
        } else if rounded(expected_d - actual_d) <= rounded(tolerance) {
            CommitmentStatus::AtRisk
        } else {
            CommitmentStatus::OffTrack
        };
        Assessment { status, expected, tolerance }
    }
}

/// Returns a number for people: at most two decimals, without trailing zeros.
pub fn number(value: f64) -> String {
    let text = format!("{value:.2}");
    let text = text.trim_end_matches('0').trim_end_matches('.');
    if text == "-0" { "0".to_owned() } else { text.to_owned() }
}

/// Returns `value` with its unit: `42.5%`, `12 starts`.
pub fn with_unit(value: f64, unit: &str) -> String {
    match unit {
        "" => number(value),
        "%" => format!("{}%", number(value)),
        unit => format!("{} {unit}", number(value)),
    }
}

/// Returns the sentence explaining an assessment, for example
/// `42% against 45% expected for 2025/26-Q2 (target 50% by 2026-03-31, tolerance 3%): at risk`.
pub fn explain(plan: &Plan, period: &Period, actual: f64, assessment: &Assessment, unit: &str) -> String {
    let status = match assessment.status {
        CommitmentStatus::Achieved => "achieved",
        CommitmentStatus::OnTrack => "on track",
        CommitmentStatus::AtRisk => "at risk",
        CommitmentStatus::OffTrack => "off track",
        _ => "no data",
    };
    format!(
        "{} against {} expected for {period} (target {} by {}, tolerance {}): {status}",
        with_unit(actual, unit),
        with_unit(assessment.expected, unit),
        with_unit(plan.target_value, unit),
        plan.target_date,
        with_unit(assessment.tolerance, unit),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(code: &str) -> Period {
        Period::parse(code).expect("a period")
    }

    fn day(text: &str) -> NaiveDate {
        NaiveDate::parse_from_str(text, "%Y-%m-%d").expect("a date")
    }

    /// 30% in 2023/24 to 40% by 31 March 2026: 730 days, so 365 days in is exactly half way.
    fn plan() -> Plan {
        Plan {
            baseline_value: 30.0,
            baseline_period: p("2023/24"),
            target_value: 40.0,
            target_date: day("2026-03-31"),
            shape: TrajectoryShape::Linear,
            points: vec![],
            tolerance: None,
            high_is_good: true,
        }
    }

    fn assert_close(actual: f64, expected: f64) {
        assert!((actual - expected).abs() < 1e-9, "{actual} != {expected}");
    }

    #[test]
    fn linear_expects_the_straight_line_at_the_end_of_each_period() {
        let plan = plan();
        assert_close(plan.expected(&p("2024/25-Q4")), 35.0);
        assert_close(plan.expected(&p("2024/25-Q2")), 30.0 + 10.0 * 183.0 / 730.0);
        assert_close(plan.expected(&p("2025/26-Q4")), 40.0);
        assert_close(plan.expected(&p("2024/25")), 35.0);
    }

    #[test]
    fn linear_passes_through_its_points() {
        let plan = Plan { points: vec![(p("2024/25"), 38.0)], ..plan() };
        assert_close(plan.expected(&p("2024/25-Q4")), 38.0);
        assert_close(plan.expected(&p("2024/25-Q2")), 30.0 + 8.0 * 183.0 / 365.0);
        assert_close(plan.expected(&p("2025/26-Q2")), 38.0 + 2.0 * 183.0 / 365.0);
    }

    #[test]
    fn stepped_holds_each_value_from_the_start_of_its_period() {
        let plan = Plan {
            shape: TrajectoryShape::Stepped,
            points: vec![(p("2024/25"), 33.0), (p("2025/26"), 36.0)],
            ..plan()
        };
        assert_close(plan.expected(&p("2024/25-Q1")), 33.0);
        assert_close(plan.expected(&p("2024/25-Q4")), 33.0);
        assert_close(plan.expected(&p("2025/26-Q3")), 36.0);
        // The period in which the target date falls expects the target.
        assert_close(plan.expected(&p("2025/26-Q4")), 40.0);
    }

    #[test]
    fn the_default_tolerance_is_a_tenth_of_the_distance_to_the_target() {
        assert_close(plan().tolerance(), 1.0);
        assert_close(Plan { tolerance: Some(2.5), ..plan() }.tolerance(), 2.5);
    }

    #[test]
    fn high_is_good_figures_are_achieved_on_track_at_risk_or_off_track() {
        let plan = plan();
        let q4 = p("2024/25-Q4"); // expects 35, tolerance 1
        let status = |actual: f64| plan.assess(&q4, actual).status;
        assert_eq!(status(40.0), CommitmentStatus::Achieved);
        assert_eq!(status(41.0), CommitmentStatus::Achieved);
        assert_eq!(status(35.0), CommitmentStatus::OnTrack);
        assert_eq!(status(36.0), CommitmentStatus::OnTrack);
        assert_eq!(status(34.5), CommitmentStatus::AtRisk);
        assert_eq!(status(34.0), CommitmentStatus::AtRisk, "exactly the tolerance behind is at risk");
        assert_eq!(status(33.9), CommitmentStatus::OffTrack);
    }

    #[test]
    fn low_is_good_figures_are_judged_the_other_way() {
        // Carbon: 10,000 tCO2e a quarter in 2023/24-Q4 down to 8,000 by 31 March 2026.
        let plan = Plan {
            baseline_value: 10_000.0,
            baseline_period: p("2023/24-Q4"),
            target_value: 8_000.0,
            high_is_good: false,
            ..plan()
        };
        let q4 = p("2024/25-Q4"); // expects 9,000, tolerance 200
        let status = |actual: f64| plan.assess(&q4, actual).status;
        assert_close(plan.assess(&q4, 0.0).expected, 9_000.0);
        assert_eq!(status(7_900.0), CommitmentStatus::Achieved);
        assert_eq!(status(8_900.0), CommitmentStatus::OnTrack);
        assert_eq!(status(9_150.0), CommitmentStatus::AtRisk);
        assert_eq!(status(9_300.0), CommitmentStatus::OffTrack);
    }

    #[test]
    fn floating_point_noise_does_not_change_a_status() {
        let plan = plan();
        let q4 = p("2024/25-Q4");
        assert_eq!(plan.assess(&q4, 34.999_999_999_9).status, CommitmentStatus::OnTrack);
        assert_eq!(plan.assess(&q4, 33.999_999_999_9).status, CommitmentStatus::AtRisk);
    }

    #[test]
    fn a_commitment_to_maintain_has_no_tolerance_by_default() {
        // 100% of direct staff on the real Living Wage, kept at 100%.
        let plan = Plan { baseline_value: 100.0, target_value: 100.0, ..plan() };
        let q1 = p("2024/25-Q1");
        assert_eq!(plan.assess(&q1, 100.0).status, CommitmentStatus::Achieved);
        assert_eq!(plan.assess(&q1, 99.5).status, CommitmentStatus::OffTrack);
    }

    #[test]
    fn explanations_name_the_figures_and_the_status() {
        let plan = Plan { tolerance: Some(3.0), ..plan() };
        let period = p("2024/25-Q4");
        let assessment = plan.assess(&period, 33.0);
        assert_eq!(
            explain(&plan, &period, 33.0, &assessment, "%"),
            "33% against 35% expected for 2024/25-Q4 (target 40% by 2026-03-31, tolerance 3%): at risk"
        );
        assert_eq!(with_unit(12.0, "starts"), "12 starts");
        assert_eq!(number(32.506_849), "32.51");
    }
}

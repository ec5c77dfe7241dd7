//! The recent-trend test over the last five points, at 99.8%, with Fingertips' robustness check:
//! a significant trend stands only if its slope keeps its sign when any one of the five points
//! is left out, so one outlying year does not make a trend.

use crate::comparison::Polarity;
use crate::error::{Field, Result, StatisticsError, finite};
use crate::estimate::Count;
use crate::method;
use crate::proportion::validate;

/// The number of most recent points the test uses.
pub const TREND_POINTS: usize = 5;

/// The chi-square (1 df) value the statistic must exceed: the 99.8% point, as published.
pub const TREND_CRITICAL_VALUE: f64 = 9.5495;

/// The width of a 95% interval in standard errors, as the trend method defines it.
const INTERVAL_WIDTH_IN_STANDARD_ERRORS: f64 = 3.92;

/// Which way a significant trend goes, before any judgement.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TrendDirection {
    /// Returns the direction for a significant rise.
    Increasing,
    /// Returns the direction for a significant fall.
    Decreasing,
    /// Returns the direction when the statistic does not exceed the critical value.
    NoSignificantChange,
}

/// A trend direction translated by polarity.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TrendJudgement {
    /// Returns the judgement for a significant move in the good direction.
    GettingBetter,
    /// Returns the judgement for a significant move in the bad direction.
    GettingWorse,
    /// Returns the no-judgement wording for a significant rise.
    Increasing,
    /// Returns the no-judgement wording for a significant fall.
    Decreasing,
    /// Returns the judgement when there is no significant change.
    NoSignificantChange,
}

/// Which check decided a trend's outcome.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TrendCheck {
    /// The test statistic: significant (and robust) or not significant.
    Significance,
    /// The statistic was significant, but leaving one point out turned the slope's sign, so the
    /// outcome is no significant change.
    LeaveOneOut,
}

/// The result of a trend test that had enough points to run.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct TrendAssessment {
    /// Returns the test statistic, or `None` when undefined (a proportion at 0% or 100% always).
    pub statistic: Option<f64>,
    /// Returns the direction of the trend.
    pub direction: TrendDirection,
    /// Returns the direction in words, after polarity.
    pub judgement: TrendJudgement,
    /// Returns the version string of the test used.
    pub method: &'static str,
    /// Returns which check decided the outcome.
    pub decided_by: TrendCheck,
}

/// The outcome of a trend test.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Trend {
    /// Returns the outcome when the last five periods do not all have a value.
    InsufficientPoints {
        /// The number of consecutive most recent periods that have a value.
        available: usize,
    },
    /// Returns the outcome of a test that ran.
    Assessed(TrendAssessment),
}

/// A value with its 95% limits, one period's input to the weighted-regression trend.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct TrendPoint {
    /// Returns the period's value.
    pub value: f64,
    /// Returns the period's lower 95% limit.
    pub lower95: f64,
    /// Returns the period's upper 95% limit.
    pub upper95: f64,
}

/// Returns the chi-square test for trend over the last five periods of a proportion.
///
/// `points` are in period order, oldest first, with `None` for a period with no data; the
/// last five must all be present, so a gap in the recent series gives
/// [`Trend::InsufficientPoints`] rather than a test over non-adjacent periods.
pub fn proportion_trend(points: &[Option<Count>], polarity: Polarity) -> Result<Trend> {
    let recent = match last_five(points) {
        Ok(recent) => recent,
        Err(available) => return Ok(Trend::InsufficientPoints { available }),
    };
    let offset = points.len() - TREND_POINTS;
    let (mut n, mut x, mut sum_xt, mut sum_nt, mut sum_nt2) = (0.0, 0.0, 0.0, 0.0, 0.0);
    for (i, (count, t)) in recent.iter().zip(1..).enumerate() {
        validate(*count, Some(offset + i))?;
        let t = f64::from(t);
        n += count.denominator;
        x += count.numerator;
        sum_xt += count.numerator * t;
        sum_nt += count.denominator * t;
        sum_nt2 += count.denominator * t * t;
    }
    let difference = n * sum_xt - x * sum_nt;
    let denominator = x * (n - x) * (n * sum_nt2 - sum_nt * sum_nt);
    // With X = 0 or X = N every period is 0% or 100%: the statistic is 0/0, and there is no
    // change to detect.
    let statistic = (denominator > 0.0).then(|| n * difference * difference / denominator);
    let left_out = (0..TREND_POINTS).map(|skip| {
        let (mut n, mut x, mut sum_xt, mut sum_nt) = (0.0, 0.0, 0.0, 0.0);
        for (i, count) in recent.iter().enumerate().filter(|(i, _)| *i != skip) {
            let t = (i + 1) as f64;
            n += count.denominator;
            x += count.numerator;
            sum_xt += count.numerator * t;
            sum_nt += count.denominator * t;
        }
        n * sum_xt - x * sum_nt
    });
    Ok(assessed(statistic, difference, left_out, polarity, method::TREND_CHI_SQUARE))
}

/// Returns the weighted least-squares trend test over the last five periods.
///
/// Weights are 1/SE² with SE = (upper95 − lower95)/3.92; the statistic is (slope/SE_slope)²
/// with SE_slope = 1/√Σwᵢ(tᵢ − t̄)², the slope's standard error when the weights are known
/// inverse variances (as they are here) rather than estimated from the residuals.
/// `points` are oldest first, with `None` for a period with no data, as for [`proportion_trend`].
pub fn value_trend(points: &[Option<TrendPoint>], polarity: Polarity) -> Result<Trend> {
    let recent = match last_five(points) {
        Ok(recent) => recent,
        Err(available) => return Ok(Trend::InsufficientPoints { available }),
    };
    let offset = points.len() - TREND_POINTS;
    let mut weights = [0.0; TREND_POINTS];
    for (i, (point, weight)) in recent.iter().zip(weights.iter_mut()).enumerate() {
        let field = |name| Field::item(name, offset + i);
        finite(field("value"), point.value)?;
        finite(field("lower95"), point.lower95)?;
        finite(field("upper95"), point.upper95)?;
        if point.upper95 <= point.lower95 {
            // A zero-width interval would be an infinite weight.
            return Err(StatisticsError::NotPositive {
                field: field("interval width"),
                value: point.upper95 - point.lower95,
            });
        }
        let se = (point.upper95 - point.lower95) / INTERVAL_WIDTH_IN_STANDARD_ERRORS;
        *weight = 1.0 / (se * se);
    }
    let (slope, sxx) = weighted_slope(&weights, &recent, None);
    let left_out = (0..TREND_POINTS).map(|skip| weighted_slope(&weights, &recent, Some(skip)).0);
    Ok(assessed(Some(slope * slope * sxx), slope, left_out, polarity, method::TREND_WEIGHTED_REGRESSION))
}

/// Returns the weighted least-squares slope of value on time (t = 1…5) and Σwᵢ(tᵢ − t̄)², over
/// every point but `skip`.
fn weighted_slope(
    weights: &[f64; TREND_POINTS],
    points: &[TrendPoint; TREND_POINTS],
    skip: Option<usize>,
) -> (f64, f64) {
    let kept = || (0..TREND_POINTS).filter(move |i| Some(*i) != skip);
    let t = |i: usize| (i + 1) as f64;
    let total_weight: f64 = kept().map(|i| weights[i]).sum();
    let mean_t = kept().map(|i| weights[i] * t(i)).sum::<f64>() / total_weight;
    let mean_y = kept().map(|i| weights[i] * points[i].value).sum::<f64>() / total_weight;
    let (mut sxx, mut sxy) = (0.0, 0.0);
    for i in kept() {
        sxx += weights[i] * (t(i) - mean_t).powi(2);
        sxy += weights[i] * (t(i) - mean_t) * (points[i].value - mean_y);
    }
    (sxy / sxx, sxx)
}

/// Returns the last five points, or the number of consecutive recent points present.
fn last_five<T: Copy>(points: &[Option<T>]) -> std::result::Result<[T; TREND_POINTS], usize> {
    let available = points.iter().rev().take_while(|p| p.is_some()).count();
    if available < TREND_POINTS {
        return Err(available);
    }
    let tail = &points[points.len() - TREND_POINTS..];
    Ok(std::array::from_fn(|i| tail[i].expect("counted as present")))
}

/// Returns the outcome: significant when the statistic exceeds the critical value and every
/// leave-one-out slope (`left_out`) has the sign of the whole series' change.
fn assessed(
    statistic: Option<f64>,
    signed_change: f64,
    mut left_out: impl Iterator<Item = f64>,
    polarity: Polarity,
    method: &'static str,
) -> Trend {
    let test = statistic.is_some_and(|s| s > TREND_CRITICAL_VALUE);
    let robust = left_out.all(|change| change.signum() == signed_change.signum() && change != 0.0);
    let significant = test && robust;
    let decided_by = if test && !robust { TrendCheck::LeaveOneOut } else { TrendCheck::Significance };
    let direction = match (significant, signed_change > 0.0) {
        (false, _) => TrendDirection::NoSignificantChange,
        (true, true) => TrendDirection::Increasing,
        (true, false) => TrendDirection::Decreasing,
    };
    let judgement = match (polarity, direction) {
        (_, TrendDirection::NoSignificantChange) => TrendJudgement::NoSignificantChange,
        (Polarity::HighIsGood, TrendDirection::Increasing) | (Polarity::LowIsGood, TrendDirection::Decreasing) => {
            TrendJudgement::GettingBetter
        }
        (Polarity::HighIsGood, TrendDirection::Decreasing) | (Polarity::LowIsGood, TrendDirection::Increasing) => {
            TrendJudgement::GettingWorse
        }
        (Polarity::NoJudgement, TrendDirection::Increasing) => TrendJudgement::Increasing,
        (Polarity::NoJudgement, TrendDirection::Decreasing) => TrendJudgement::Decreasing,
    };
    Trend::Assessed(TrendAssessment { statistic, direction, judgement, method, decided_by })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::test_support::assert_close;

    fn counts(x: [f64; 5], n: [f64; 5]) -> Vec<Option<Count>> {
        x.iter().zip(n).map(|(&x, n)| Some(Count::new(x, n))).collect()
    }

    fn assessment(trend: Trend) -> TrendAssessment {
        match trend {
            Trend::Assessed(a) => a,
            Trend::InsufficientPoints { .. } => panic!("expected an assessment"),
        }
    }

    // Chi-square worked values: METHODS.md's formula in exact rational arithmetic (Python
    // fractions), script reference/trend.py.
    #[test]
    fn chi_square_trend_matches_worked_values() {
        let rising = counts([120.0, 130.0, 150.0, 160.0, 175.0], [1000.0, 1000.0, 1010.0, 1005.0, 990.0]);
        let a = assessment(proportion_trend(&rising, Polarity::HighIsGood).unwrap());
        assert_close(a.statistic.unwrap(), 16.196973971102036, 1e-12);
        assert_eq!(a.direction, TrendDirection::Increasing);
        assert_eq!(a.judgement, TrendJudgement::GettingBetter);
        assert_eq!(a.method, method::TREND_CHI_SQUARE);

        let flat = counts([50.0, 52.0, 49.0, 51.0, 50.0], [500.0, 510.0, 495.0, 505.0, 500.0]);
        let a = assessment(proportion_trend(&flat, Polarity::HighIsGood).unwrap());
        assert_close(a.statistic.unwrap(), 0.00054755213013449, 1e-12);
        assert_eq!(a.judgement, TrendJudgement::NoSignificantChange);

        let falling = counts([200.0, 180.0, 170.0, 150.0, 140.0], [1000.0; 5]);
        let a = assessment(proportion_trend(&falling, Polarity::HighIsGood).unwrap());
        assert_close(a.statistic.unwrap(), 16.097184065934066, 1e-12);
        assert_eq!(a.judgement, TrendJudgement::GettingWorse);
        let a = assessment(proportion_trend(&falling, Polarity::NoJudgement).unwrap());
        assert_eq!(a.judgement, TrendJudgement::Decreasing);
    }

    #[test]
    fn one_outlying_point_does_not_make_a_trend() {
        // Four years at 50% and a fifth at 80%: chi-square 14.6 (significant), but without the
        // last year the slope is flat, so the robustness check decides: no significant change.
        let a = assessment(
            proportion_trend(&counts([50.0, 50.0, 50.0, 50.0, 80.0], [100.0; 5]), Polarity::HighIsGood).unwrap(),
        );
        assert!(a.statistic.unwrap() > TREND_CRITICAL_VALUE, "{:?}", a.statistic);
        assert_eq!((a.direction, a.decided_by), (TrendDirection::NoSignificantChange, TrendCheck::LeaveOneOut));
        // A steady rise survives leaving any one year out.
        let a = assessment(
            proportion_trend(&counts([50.0, 56.0, 62.0, 68.0, 74.0], [100.0; 5]), Polarity::HighIsGood).unwrap(),
        );
        assert_eq!((a.direction, a.decided_by), (TrendDirection::Increasing, TrendCheck::Significance));
        // The same for the weighted regression: a jump in the last year only.
        let point = |value: f64| Some(TrendPoint { value, lower95: value - 1.0, upper95: value + 1.0 });
        let jump: Vec<_> = [10.0, 10.0, 10.0, 10.0, 14.0].into_iter().map(point).collect();
        let a = assessment(value_trend(&jump, Polarity::LowIsGood).unwrap());
        assert!(a.statistic.unwrap() > TREND_CRITICAL_VALUE);
        assert_eq!((a.judgement, a.decided_by), (TrendJudgement::NoSignificantChange, TrendCheck::LeaveOneOut));
    }

    #[test]
    fn only_the_last_five_points_count_and_gaps_are_insufficient() {
        let mut points = vec![Some(Count::new(999.0, 1000.0))];
        points.extend(counts([200.0, 180.0, 170.0, 150.0, 140.0], [1000.0; 5]));
        let a = assessment(proportion_trend(&points, Polarity::LowIsGood).unwrap());
        assert_close(a.statistic.unwrap(), 16.097184065934066, 1e-12);
        assert_eq!(a.judgement, TrendJudgement::GettingBetter);

        let four = &points[2..];
        assert_eq!(proportion_trend(four, Polarity::LowIsGood).unwrap(), Trend::InsufficientPoints { available: 4 });
        points[3] = None;
        assert_eq!(proportion_trend(&points, Polarity::LowIsGood).unwrap(), Trend::InsufficientPoints { available: 2 });
        assert_eq!(value_trend(&[], Polarity::LowIsGood).unwrap(), Trend::InsufficientPoints { available: 0 });
    }

    #[test]
    fn all_zero_or_all_complete_proportions_show_no_change() {
        let zero = counts([0.0; 5], [10.0, 20.0, 30.0, 40.0, 50.0]);
        let a = assessment(proportion_trend(&zero, Polarity::HighIsGood).unwrap());
        assert_eq!((a.statistic, a.direction), (None, TrendDirection::NoSignificantChange));
        let all = counts([10.0, 20.0, 30.0, 40.0, 50.0], [10.0, 20.0, 30.0, 40.0, 50.0]);
        let a = assessment(proportion_trend(&all, Polarity::HighIsGood).unwrap());
        assert_eq!(a.statistic, None);
    }

    #[test]
    fn bad_points_are_errors_naming_the_period() {
        let bad = counts([1.0, 2.0, 30.0, 4.0, 5.0], [10.0; 5]);
        assert_eq!(
            proportion_trend(&bad, Polarity::HighIsGood).unwrap_err().to_string(),
            "numerator[2] 30 exceeds denominator 10"
        );
        let point = |v: f64, w: f64| Some(TrendPoint { value: v, lower95: v - w, upper95: v + w });
        let zero_width = [point(1.0, 1.0), point(1.0, 1.0), point(1.0, 0.0), point(1.0, 1.0), point(1.0, 1.0)];
        assert_eq!(
            value_trend(&zero_width, Polarity::HighIsGood).unwrap_err().to_string(),
            "interval width[2] 0 is not positive"
        );
    }

    #[test]
    fn weighted_regression_trend_matches_worked_values() {
        // mpmath at 40 digits (reference/trend.py): weights 1/((U − L)/3.92)², known-variance WLS.
        let series = |v: [f64; 5], l: [f64; 5], u: [f64; 5]| -> Vec<Option<TrendPoint>> {
            (0..5).map(|i| Some(TrendPoint { value: v[i], lower95: l[i], upper95: u[i] })).collect()
        };
        let falling = series(
            [600.0, 580.0, 570.0, 540.0, 520.0],
            [560.0, 545.0, 535.0, 505.0, 485.0],
            [640.0, 615.0, 605.0, 575.0, 555.0],
        );
        let a = assessment(value_trend(&falling, Polarity::LowIsGood).unwrap());
        assert_close(a.statistic.unwrap(), 11.433884041728763, 1e-12);
        assert_eq!(a.direction, TrendDirection::Decreasing);
        assert_eq!(a.judgement, TrendJudgement::GettingBetter);
        assert_eq!(a.method, method::TREND_WEIGHTED_REGRESSION);

        let steady =
            series([78.1, 78.3, 78.0, 78.4, 78.2], [77.5, 77.7, 77.4, 77.8, 77.6], [78.7, 78.9, 78.6, 79.0, 78.8]);
        let a = assessment(value_trend(&steady, Polarity::HighIsGood).unwrap());
        assert_close(a.statistic.unwrap(), 0.09604, 1e-9);
        assert_eq!(a.judgement, TrendJudgement::NoSignificantChange);
    }
}

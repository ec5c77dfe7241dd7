//! Comparison of an area's value with a benchmark (England, a region, a peer group or a
//! target), at one confidence level or two, and the funnel-plot forms of the same test.

use crate::confidence::{ConfidenceLevel, Interval};
use crate::counts::rule_interval;
use crate::error::{ConfidenceDisplay, Field, Result, StatisticsError, finite};
use crate::estimate::{Count, Scale};
use crate::method;
use crate::proportion::validate;
use crate::rate::validate_observed_expected;

/// Which direction of an indicator counts as good.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Polarity {
    /// Returns the polarity of indicators where a higher value is better (e.g. screening coverage).
    HighIsGood,
    /// Returns the polarity of indicators where a lower value is better (e.g. mortality).
    LowIsGood,
    /// Returns the polarity of indicators that are reported without a judgement (e.g. population).
    NoJudgement,
}

/// Where a benchmark falls relative to an area's value, before any judgement.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Significance {
    /// Returns the outcome where the benchmark lies inside the (95%) interval.
    Similar,
    /// Returns the outcome where the area is significantly higher than the benchmark.
    Higher,
    /// Returns the outcome where the area is significantly lower than the benchmark.
    Lower,
    /// Returns the outcome where the area is higher even at the wider (99.8%) level.
    MuchHigher,
    /// Returns the outcome where the area is lower even at the wider (99.8%) level.
    MuchLower,
}

/// A significance translated by polarity into the words a reader sees.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Judgement {
    /// Returns the judgement for no significant difference.
    Similar,
    /// Returns the judgement for significantly better.
    Better,
    /// Returns the judgement for significantly worse.
    Worse,
    /// Returns the judgement for better even at the wider level.
    MuchBetter,
    /// Returns the judgement for worse even at the wider level.
    MuchWorse,
    /// Returns the no-judgement wording for significantly higher.
    Higher,
    /// Returns the no-judgement wording for significantly lower.
    Lower,
    /// Returns the no-judgement wording for higher even at the wider level.
    MuchHigher,
    /// Returns the no-judgement wording for lower even at the wider level.
    MuchLower,
}

impl Polarity {
    /// Returns the judgement this polarity gives a significance.
    pub fn judge(self, significance: Significance) -> Judgement {
        use Significance as S;
        match (self, significance) {
            (_, S::Similar) => Judgement::Similar,
            (Self::HighIsGood, S::Higher) | (Self::LowIsGood, S::Lower) => Judgement::Better,
            (Self::HighIsGood, S::Lower) | (Self::LowIsGood, S::Higher) => Judgement::Worse,
            (Self::HighIsGood, S::MuchHigher) | (Self::LowIsGood, S::MuchLower) => Judgement::MuchBetter,
            (Self::HighIsGood, S::MuchLower) | (Self::LowIsGood, S::MuchHigher) => Judgement::MuchWorse,
            (Self::NoJudgement, S::Higher) => Judgement::Higher,
            (Self::NoJudgement, S::Lower) => Judgement::Lower,
            (Self::NoJudgement, S::MuchHigher) => Judgement::MuchHigher,
            (Self::NoJudgement, S::MuchLower) => Judgement::MuchLower,
        }
    }
}

/// The outcome of a comparison with a benchmark.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Comparison {
    /// Returns the statistical outcome, before polarity.
    pub significance: Significance,
    /// Returns the outcome in words, after polarity.
    pub judgement: Judgement,
    /// Returns the version string of the comparison method.
    pub method: &'static str,
}

impl Comparison {
    fn new(significance: Significance, polarity: Polarity, method: &'static str) -> Self {
        Self { significance, judgement: polarity.judge(significance), method }
    }
}

/// Returns similar when `benchmark` lies inside `interval` (limits included), else higher or lower.
pub fn compare_with_benchmark(interval: &Interval, benchmark: f64, polarity: Polarity) -> Result<Comparison> {
    check_interval(Field::named("interval"), interval)?;
    let benchmark = finite(Field::named("benchmark"), benchmark)?;
    Ok(Comparison::new(one_level(interval, benchmark), polarity, method::BENCHMARK_ONE_LEVEL))
}

/// Returns the two-level comparison: similar inside `narrower` (95%), higher/lower outside it
/// but inside `wider` (99.8%), much higher/lower outside both.
pub fn compare_with_benchmark_two_levels(
    narrower: &Interval,
    wider: &Interval,
    benchmark: f64,
    polarity: Polarity,
) -> Result<Comparison> {
    check_interval(Field::named("narrower"), narrower)?;
    check_interval(Field::named("wider"), wider)?;
    // A pair that is not nested would let the two levels disagree on direction.
    if wider.confidence <= narrower.confidence || wider.lower > narrower.lower || wider.upper < narrower.upper {
        return Err(StatisticsError::IntervalsNotNested {
            wider: ConfidenceDisplay(wider.confidence.value()),
            narrower: ConfidenceDisplay(narrower.confidence.value()),
        });
    }
    let benchmark = finite(Field::named("benchmark"), benchmark)?;
    Ok(Comparison::new(two_levels(narrower, wider, benchmark), polarity, method::BENCHMARK_TWO_LEVELS))
}

/// Returns the funnel limits for a proportion with denominator N around the pooled proportion p̄.
///
/// The limits are the values an area of size N would need to fall outside for significance
/// at `confidence` (p = 1 − α/2: 0.975 at 95%, 0.999 at 99.8%), by the Wilson-score funnel:
/// z = Φ⁻¹(p), c = 1/z² + 1/N, F = p̄(N/z² + 1),
/// D = (8p̄(N/z² + 1))² − 64·c·p̄·[N(p̄(N/z² + 2) − 1) + z²(p̄ − 1)],
/// limits (F ∓ √D/8)/c/N, times the scale.
pub fn proportion_funnel_limits(
    pooled_proportion: f64,
    denominator: f64,
    scale: Scale,
    confidence: ConfidenceLevel,
) -> Result<Interval> {
    let p = finite(Field::named("pooled_proportion"), pooled_proportion)?;
    if !(0.0..=1.0).contains(&p) {
        return Err(StatisticsError::OutOfRange {
            field: Field::named("pooled_proportion"),
            value: p,
            minimum: 0.0,
            maximum: 1.0,
        });
    }
    let n = crate::error::positive(Field::named("denominator"), denominator)?;
    let z = confidence.z();
    let z2 = z * z;
    let c = 1.0 / z2 + 1.0 / n;
    let f = p * (n / z2 + 1.0);
    let d = (8.0 * p * (n / z2 + 1.0)).powi(2) - 64.0 * c * p * (n * (p * (n / z2 + 2.0) - 1.0) + z2 * (p - 1.0));
    // D is exactly 0 at p̄ = 0 and p̄ = 1 and positive between; rounding can leave a tiny
    // negative there, which would otherwise turn the limits into NaN.
    let root = d.max(0.0).sqrt();
    // The limits are of a proportion: with a small denominator the formula leaves 0 to 1 (an
    // upper limit of 158% at n = 3), so they are clamped to the scale.
    Ok(Interval {
        lower: ((f - root / 8.0) / c / n).clamp(0.0, 1.0),
        upper: ((f + root / 8.0) / c / n).clamp(0.0, 1.0),
        confidence,
        method: method::FUNNEL_PROPORTION,
    }
    .scaled(scale.multiplier()))
}

/// Returns the pooled proportion p̄ = Σx ÷ Σn of a comparison set, the centre of its funnel.
pub fn pooled_funnel_proportion(counts: &[Count]) -> Result<f64> {
    for (i, &count) in counts.iter().enumerate() {
        validate(count, Some(i))?;
    }
    let total = crate::grouped::pool(counts)?;
    Ok(total.numerator / total.denominator)
}

/// Returns where an area's proportion x ÷ n falls against the funnel at 95% and 99.8%.
///
/// Inside the 95% funnel (limits included) is similar; outside it but inside the 99.8%
/// funnel is higher/lower; outside both is much higher/lower.
pub fn compare_proportion_with_funnel(count: Count, pooled_proportion: f64, polarity: Polarity) -> Result<Comparison> {
    validate(count, None)?;
    let value = count.numerator / count.denominator;
    let limits = |level| proportion_funnel_limits(pooled_proportion, count.denominator, Scale::Unit, level);
    let narrower = limits(ConfidenceLevel::NINETY_FIVE)?;
    let wider = limits(ConfidenceLevel::NINETY_NINE_POINT_EIGHT)?;
    // The funnel is centred on the benchmark, so the area's value is the point tested, and
    // "above the funnel" means the area is higher.
    let significance = if value > wider.upper {
        Significance::MuchHigher
    } else if value < wider.lower {
        Significance::MuchLower
    } else if value > narrower.upper {
        Significance::Higher
    } else if value < narrower.lower {
        Significance::Lower
    } else {
        Significance::Similar
    };
    Ok(Comparison::new(significance, polarity, method::FUNNEL_PROPORTION))
}

/// Returns how an observed count compares with its expected count, testing 1 against the
/// count limits of O (exact below 10, Byar's from 10) divided by E, at 95% and 99.8%.
///
/// This is the funnel test for indirectly standardised ratios and rates: comparing an ISR
/// with its reference rate is the same test, as both sides scale by the reference rate.
pub fn compare_observed_with_expected(observed: f64, expected: f64, polarity: Polarity) -> Result<Comparison> {
    let (o, e) = validate_observed_expected(observed, expected)?;
    let narrower = rule_interval(o, ConfidenceLevel::NINETY_FIVE).scaled(1.0 / e);
    let wider = rule_interval(o, ConfidenceLevel::NINETY_NINE_POINT_EIGHT).scaled(1.0 / e);
    Ok(Comparison::new(two_levels(&narrower, &wider, 1.0), polarity, method::FUNNEL_RATIO))
}

fn one_level(interval: &Interval, benchmark: f64) -> Significance {
    if benchmark < interval.lower {
        Significance::Higher
    } else if benchmark > interval.upper {
        Significance::Lower
    } else {
        Significance::Similar
    }
}

fn two_levels(narrower: &Interval, wider: &Interval, benchmark: f64) -> Significance {
    match (one_level(narrower, benchmark), one_level(wider, benchmark)) {
        (_, Significance::Higher) => Significance::MuchHigher,
        (_, Significance::Lower) => Significance::MuchLower,
        (narrow, _) => narrow,
    }
}

fn check_interval(field: Field, interval: &Interval) -> Result<()> {
    finite(field, interval.lower)?;
    finite(field, interval.upper)?;
    if interval.lower > interval.upper {
        return Err(StatisticsError::LimitsReversed { field, lower: interval.lower, upper: interval.upper });
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::test_support::assert_close;

    const C95: ConfidenceLevel = ConfidenceLevel::NINETY_FIVE;
    const C998: ConfidenceLevel = ConfidenceLevel::NINETY_NINE_POINT_EIGHT;

    fn interval(lower: f64, upper: f64, confidence: ConfidenceLevel) -> Interval {
        Interval { lower, upper, confidence, method: method::WILSON }
    }

    #[test]
    fn one_level_comparison_is_translated_by_polarity() {
        let i = interval(10.0, 20.0, C95);
        let judge = |b, p| compare_with_benchmark(&i, b, p).unwrap().judgement;
        assert_eq!(judge(15.0, Polarity::HighIsGood), Judgement::Similar);
        assert_eq!(judge(10.0, Polarity::HighIsGood), Judgement::Similar, "limit is inside");
        assert_eq!(judge(9.0, Polarity::HighIsGood), Judgement::Better);
        assert_eq!(judge(9.0, Polarity::LowIsGood), Judgement::Worse);
        assert_eq!(judge(9.0, Polarity::NoJudgement), Judgement::Higher);
        assert_eq!(judge(21.0, Polarity::HighIsGood), Judgement::Worse);
        assert_eq!(judge(21.0, Polarity::LowIsGood), Judgement::Better);
        assert_eq!(judge(21.0, Polarity::NoJudgement), Judgement::Lower);
        let c = compare_with_benchmark(&i, 21.0, Polarity::LowIsGood).unwrap();
        assert_eq!((c.significance, c.method), (Significance::Lower, method::BENCHMARK_ONE_LEVEL));
    }

    #[test]
    fn two_level_comparison_separates_much_better_and_worse() {
        let narrow = interval(10.0, 20.0, C95);
        let wide = interval(8.0, 23.0, C998);
        let run = |b, p| compare_with_benchmark_two_levels(&narrow, &wide, b, p).unwrap().judgement;
        assert_eq!(run(15.0, Polarity::HighIsGood), Judgement::Similar);
        assert_eq!(run(9.0, Polarity::HighIsGood), Judgement::Better);
        assert_eq!(run(7.0, Polarity::HighIsGood), Judgement::MuchBetter);
        assert_eq!(run(7.0, Polarity::LowIsGood), Judgement::MuchWorse);
        assert_eq!(run(22.0, Polarity::LowIsGood), Judgement::Better);
        assert_eq!(run(24.0, Polarity::LowIsGood), Judgement::MuchBetter);
        assert_eq!(run(24.0, Polarity::NoJudgement), Judgement::MuchLower);
        assert_eq!(run(7.0, Polarity::NoJudgement), Judgement::MuchHigher);
        assert_eq!(run(23.0, Polarity::HighIsGood), Judgement::Worse, "99.8% limit is inside");
    }

    #[test]
    fn malformed_comparisons_are_errors() {
        let narrow = interval(10.0, 20.0, C95);
        let wide = interval(8.0, 23.0, C998);
        assert_eq!(
            compare_with_benchmark_two_levels(&wide, &narrow, 1.0, Polarity::HighIsGood).unwrap_err().to_string(),
            "the 95% interval does not contain the 99.8% interval"
        );
        let not_containing = interval(11.0, 23.0, C998);
        assert!(compare_with_benchmark_two_levels(&narrow, &not_containing, 1.0, Polarity::LowIsGood).is_err());
        assert_eq!(
            compare_with_benchmark(&interval(3.0, 2.0, C95), 1.0, Polarity::LowIsGood).unwrap_err().to_string(),
            "interval lower limit 3 exceeds upper limit 2"
        );
        assert_eq!(
            compare_with_benchmark(&narrow, f64::NAN, Polarity::LowIsGood).unwrap_err().to_string(),
            "benchmark is not a finite number"
        );
    }

    #[test]
    fn proportion_funnel_limits_match_worked_values_to_1e_9() {
        // METHODS.md's funnel formula in mpmath at 50 digits, z = Φ⁻¹(0.975) and Φ⁻¹(0.999)
        // (script reference/funnel.py). (p̄, N, low 0.975, high 0.975, low 0.999, high 0.999)
        let cases = [
            (0.2, 50.0, 0.089127694052025764, 0.31087230594797424, 0.025190062469359659, 0.37480993753064034),
            (0.2, 1000.0, 0.17520819870781753, 0.22479180129218247, 0.16091130965389965, 0.23908869034610035),
            (0.65, 100.0, 0.55651567608909429, 0.74348432391090571, 0.50260531308307148, 0.79739468691692852),
            (0.03, 20000.0, 0.027635825179029699, 0.032364174820970301, 0.026272457317165755, 0.033727542682834245),
        ];
        for (p, n, lo95, hi95, lo998, hi998) in cases {
            for scale in [Scale::Unit, Scale::Hundred] {
                let m = scale.multiplier();
                let f95 = proportion_funnel_limits(p, n, scale, C95).unwrap();
                let f998 = proportion_funnel_limits(p, n, scale, C998).unwrap();
                assert_close(f95.lower, lo95 * m, 1e-9);
                assert_close(f95.upper, hi95 * m, 1e-9);
                assert_close(f998.lower, lo998 * m, 1e-9);
                assert_close(f998.upper, hi998 * m, 1e-9);
            }
        }
    }

    #[test]
    fn funnel_is_degenerate_at_zero_and_one() {
        let zero = proportion_funnel_limits(0.0, 40.0, Scale::Unit, C95).unwrap();
        assert_eq!((zero.lower, zero.upper), (0.0, 0.0));
        let one = proportion_funnel_limits(1.0, 40.0, Scale::Unit, C998).unwrap();
        assert_close(one.lower, 1.0, 1e-12);
        assert_close(one.upper, 1.0, 1e-12);
        assert!(proportion_funnel_limits(1.2, 40.0, Scale::Unit, C95).is_err());
        assert!(proportion_funnel_limits(0.5, 0.0, Scale::Unit, C95).is_err());
    }

    #[test]
    fn funnel_limits_stay_within_the_scale_at_small_denominators() {
        // Unclamped, p̄ = 0.5 at n = 3 gives an upper 95% limit of about 158% and a lower of -41%.
        let small = proportion_funnel_limits(0.5, 3.0, Scale::Hundred, C95).unwrap();
        assert_eq!((small.lower, small.upper), (0.0, 100.0));
        assert_eq!(small.method, "funnel-proportion/2");
        let wide = proportion_funnel_limits(0.5, 3.0, Scale::Unit, C998).unwrap();
        assert_eq!((wide.lower, wide.upper), (0.0, 1.0));
    }

    #[test]
    fn proportion_is_placed_against_the_funnel() {
        // p̄ = 0.2 and N = 50: 95% funnel 0.0891–0.3109, 99.8% funnel 0.0252–0.3748.
        let set = [Count::new(40.0, 200.0), Count::new(160.0, 800.0)];
        let p = pooled_funnel_proportion(&set).unwrap();
        assert_close(p, 0.2, 1e-15);
        let place = |x| compare_proportion_with_funnel(Count::new(x, 50.0), p, Polarity::LowIsGood).unwrap().judgement;
        assert_eq!(place(10.0), Judgement::Similar);
        assert_eq!(place(16.0), Judgement::Worse); // 0.32
        assert_eq!(place(19.0), Judgement::MuchWorse); // 0.38
        assert_eq!(place(4.0), Judgement::Better); // 0.08
        assert_eq!(place(1.0), Judgement::MuchBetter); // 0.02
        assert!(pooled_funnel_proportion(&[Count::new(5.0, 4.0)]).is_err());
    }

    #[test]
    fn observed_is_compared_with_expected_through_count_limits() {
        // Worked count limits (counts.rs): O = 25 at 95% is 16.17–36.91 and at 99.8% 12.30–44.67.
        let run = |e| compare_observed_with_expected(25.0, e, Polarity::LowIsGood).unwrap();
        assert_eq!(run(25.0).judgement, Judgement::Similar);
        assert_eq!(run(14.0).judgement, Judgement::Worse); // 1 < 16.17/14 but 1 > 12.30/14
        assert_eq!(run(12.0).judgement, Judgement::MuchWorse);
        assert_eq!(run(40.0).judgement, Judgement::Better); // 36.91/40 < 1 < 44.67/40
        assert_eq!(run(45.0).judgement, Judgement::MuchBetter);
        // Below 10 the exact limits apply: O = 0 has lower 0, so it is never significantly high.
        let zero = compare_observed_with_expected(0.0, 0.5, Polarity::HighIsGood).unwrap();
        assert_eq!(zero.judgement, Judgement::Similar);
        assert_eq!(run(25.0).method, method::FUNNEL_RATIO);
        assert!(compare_observed_with_expected(3.0, 0.0, Polarity::LowIsGood).is_err());
    }
}

//! Confidence limits for an observed count O: Byar's approximation, exact Poisson limits, and
//! the rule that picks between them for crude rates and indirectly standardised ratios.

use statrs::distribution::{Continuous, ContinuousCDF, Gamma};
use statrs::function::gamma::{gamma_lr, gamma_ur};

use crate::confidence::{ConfidenceLevel, Interval};
use crate::error::{Field, Result, non_negative};
use crate::method;

/// Counts below this use exact Poisson limits; counts at or above it use Byar's.
pub const EXACT_BELOW: f64 = 10.0;

/// Limits for a count as a method reports them, before any division into a rate or ratio.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct CountLimits {
    /// Returns the observed count the limits are for.
    pub observed: f64,
    /// Returns the lower limit, or `None` where Byar's formula goes negative (or O = 0).
    pub lower: Option<f64>,
    /// Returns the upper limit.
    pub upper: f64,
    /// Returns the confidence level of the limits.
    pub confidence: ConfidenceLevel,
    /// Returns the version string of the method used, `byar/1` or `exact-poisson/1`.
    pub method: &'static str,
}

/// Returns Byar's limits for `observed` (no continuity correction).
///
/// The lower limit is `None` when the formula gives a negative number, which happens for
/// small counts at high confidence; at O = 0 the formula is 0·(−∞)³, whose limit from above
/// is −∞, so it is `None` there too. Callers wanting a number for small counts should use
/// [`exact_poisson_limits`] or [`count_limits`], which never reach this case.
pub fn byar_limits(observed: f64, confidence: ConfidenceLevel) -> Result<CountLimits> {
    non_negative(Field::named("observed"), observed)?;
    let lower = byar_lower(observed, confidence.z());
    Ok(CountLimits {
        observed,
        lower: (observed > 0.0 && lower >= 0.0).then_some(lower),
        upper: byar_upper(observed, confidence.z()),
        confidence,
        method: method::BYAR,
    })
}

/// Returns exact Poisson limits for `observed` from chi-square quantiles (lower 0 when O = 0).
pub fn exact_poisson_limits(observed: f64, confidence: ConfidenceLevel) -> Result<CountLimits> {
    non_negative(Field::named("observed"), observed)?;
    let (lower, upper) = exact_poisson(observed, confidence);
    Ok(CountLimits { observed, lower: Some(lower), upper, confidence, method: method::EXACT_POISSON })
}

/// Returns limits for `observed` by the crude-rate rule: exact Poisson if O < 10, else Byar's.
pub fn count_limits(observed: f64, confidence: ConfidenceLevel) -> Result<CountLimits> {
    non_negative(Field::named("observed"), observed)?;
    let interval = rule_interval(observed, confidence);
    Ok(CountLimits {
        observed,
        lower: Some(interval.lower),
        upper: interval.upper,
        confidence,
        method: interval.method,
    })
}

/// Returns the rule's limits as an interval; `observed` must already be validated.
pub(crate) fn rule_interval(observed: f64, confidence: ConfidenceLevel) -> Interval {
    if observed < EXACT_BELOW {
        let (lower, upper) = exact_poisson(observed, confidence);
        Interval { lower, upper, confidence, method: method::EXACT_POISSON }
    } else {
        byar_interval(observed, confidence)
    }
}

/// Returns Byar's limits as an interval for a count of 10 or more; `observed` must be validated.
pub(crate) fn byar_interval(observed: f64, confidence: ConfidenceLevel) -> Interval {
    let z = confidence.z();
    let lower = byar_lower(observed, z);
    // ConfidenceLevel stops at 99.99% (z ≈ 3.89), far below the z ≈ 9.4 at which Byar's
    // lower limit for O = 10 would turn negative, so every caller here gets a real limit.
    debug_assert!(observed >= EXACT_BELOW && lower > 0.0);
    Interval { lower, upper: byar_upper(observed, z), confidence, method: method::BYAR }
}

fn byar_lower(o: f64, z: f64) -> f64 {
    o * (1.0 - 1.0 / (9.0 * o) - z / (3.0 * o.sqrt())).powi(3)
}

fn byar_upper(o: f64, z: f64) -> f64 {
    let o1 = o + 1.0;
    o1 * (1.0 - 1.0 / (9.0 * o1) + z / (3.0 * o1.sqrt())).powi(3)
}

fn exact_poisson(o: f64, confidence: ConfidenceLevel) -> (f64, f64) {
    // ½·χ²(p, 2k) is the Gamma(k, 1) quantile at p, so the limits are gamma quantiles with
    // shapes O and O + 1. The upper limit is solved in the upper tail, Q(O + 1, x) = α/2,
    // so that α/2 is never recovered from 1 − α/2 with the loss of digits that implies.
    let half_alpha = confidence.alpha() / 2.0;
    let lower = if o == 0.0 { 0.0 } else { gamma_quantile(o, half_alpha, Tail::Lower) };
    let upper = gamma_quantile(o + 1.0, half_alpha, Tail::Upper);
    (lower, upper)
}

#[derive(Clone, Copy)]
enum Tail {
    /// Solve P(a, x) = p, the probability below x.
    Lower,
    /// Solve Q(a, x) = p, the probability above x.
    Upper,
}

/// Returns x with P(shape, x) = p (lower tail) or Q(shape, x) = p (upper tail).
fn gamma_quantile(shape: f64, p: f64, tail: Tail) -> f64 {
    let gamma = Gamma::new(shape, 1.0).expect("shape is positive: every caller passes O > 0 or O + 1");
    // statrs's safeguarded Newton gets close, but its stopping rule can leave ~1e-10 relative
    // error (seen at ½·χ²(0.975, 2)); a few Newton steps on the regularised incomplete gamma
    // of the tail being solved take it to the ~1e-14 that function itself is good for.
    let mut x = match tail {
        Tail::Lower => gamma.inverse_cdf(p),
        Tail::Upper => gamma.inverse_cdf(1.0 - p),
    };
    for _ in 0..8 {
        let density = gamma.pdf(x);
        // A zero or NaN density (far in a tail) gives no usable step; keep what we have.
        if density.is_nan() || density <= 0.0 {
            break;
        }
        let step = match tail {
            Tail::Lower => (gamma_lr(shape, x) - p) / density,
            Tail::Upper => (p - gamma_ur(shape, x)) / density,
        };
        let next = x - step;
        if next.is_nan() || next <= 0.0 {
            break;
        }
        x = next;
        if step.abs() <= 4.0 * f64::EPSILON * x {
            break;
        }
    }
    x
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::test_support::assert_close;

    const C95: ConfidenceLevel = ConfidenceLevel::NINETY_FIVE;
    const C998: ConfidenceLevel = ConfidenceLevel::NINETY_NINE_POINT_EIGHT;

    // Worked values (reference/counts_wilson_mean.py) from mpmath at 50 digits: Byar's
    // formulas evaluated directly with z = √2·erfinv(c), and exact limits as the roots of the
    // regularised lower incomplete gamma P(O, x) = α/2 and P(O + 1, x) = 1 − α/2
    // (½χ²(p, 2k) is the Gamma(k) quantile), agreeing with scipy.stats.chi2.ppf(p, df)/2 to
    // about 1e-15.
    // (O, confidence, byar lower, byar upper, exact lower, exact upper)
    type WorkedCount = (f64, f64, Option<f64>, f64, f64, f64);
    #[rustfmt::skip]
    const WORKED: &[WorkedCount] = &[
        (0.0, 0.95, None, 3.6680118321737528, 0.0, 3.6888794541139363),
        (1.0, 0.95, Some(0.013072132901504324), 5.5637555824752627, 0.025317807984289875, 5.5716433909388986),
        (5.0, 0.95, Some(1.6113477157471935), 11.668164123398596, 1.6234863901184205, 11.66833207932267),
        (9.0, 0.95, Some(4.1068850240131336), 17.085780688536686, 4.1153730973783324, 17.08480345141917),
        (10.0, 0.95, Some(4.7874499139675618), 18.391458605756476, 4.7953886961324336, 18.390356042017779),
        (25.0, 0.95, Some(16.174265921657206), 36.906450692185356, 16.178681847829327, 36.904931697530372),
        (100.0, 0.95, Some(81.362105490527862), 121.62793757920648, 81.36399125092314, 121.62679379242639),
        (1234.0, 0.95, Some(1166.1012539623117), 1304.8207747690429, 1166.1017185175491, 1304.8203705289225),
        (0.0, 0.998, None, 7.0664625268290283, 0.0, 6.9077552789821371),
        (1.0, 0.998, None, 9.3621802179083668, 0.0010005003335835335, 9.2334134764515857),
        (5.0, 0.998, Some(0.69139579750129792), 16.534973387770673, 0.73937173191783252, 16.454745203680107),
        (9.0, 0.998, Some(2.4071167127010384), 22.720014767065092, 2.4524244043637749, 22.657373309062931),
        (10.0, 0.998, Some(2.9163183746956851), 24.193724927880539, 2.9605203727437596, 24.133971145417588),
        (25.0, 0.998, Some(12.304459286405249), 44.674780177578089, 12.336952635938631, 44.636075417152238),
        (100.0, 0.998, Some(71.903691872598376), 134.94362176226318, 71.921397495000407, 134.92431906126448),
        (1234.0, 0.998, Some(1128.2833036615476), 1346.4598451096734, 1128.2885661419059, 1346.4544487731122),
    ];

    #[test]
    fn byar_and_exact_match_worked_values_to_1e_9() {
        for &(o, c, byar_lo, byar_up, exact_lo, exact_up) in WORKED {
            let level = ConfidenceLevel::new(c).unwrap();
            let byar = byar_limits(o, level).unwrap();
            match (byar.lower, byar_lo) {
                (Some(got), Some(want)) => assert_close(got, want, 1e-9),
                (got, want) => assert_eq!(got, want, "byar lower O={o} c={c}"),
            }
            assert_close(byar.upper, byar_up, 1e-9);
            let exact = exact_poisson_limits(o, level).unwrap();
            assert_close(exact.lower.unwrap(), exact_lo, 1e-9);
            assert_close(exact.upper, exact_up, 1e-9);
        }
    }

    // Exact limits over a grid of counts and levels: mpmath (40 digits) roots of the
    // regularised incomplete gamma, P(O, x) = α/2 and Q(O + 1, x) = α/2, each also checked
    // against scipy.stats.chi2.ppf/isf ÷ 2 to 1e-12 when generated (reference/exact_table.py).
    #[rustfmt::skip]
    const EXACT_GRID: &[(f64, f64, f64, f64)] = &[
        (0.0, 0.9, 0.0, 2.995732273553991),
        (1.0, 0.9, 0.051293294387550533, 4.7438645183905784),
        (2.0, 0.9, 0.35536151069866205, 6.2957936218719897),
        (3.0, 0.9, 0.81769144716395333, 7.7536565279327269),
        (4.0, 0.9, 1.3663183967498309, 9.1535190266375734),
        (5.0, 0.9, 1.97014956805953, 10.513034908741533),
        (6.0, 0.9, 2.6130147441963202, 11.84239565242029),
        (7.0, 0.9, 3.2853156918946718, 13.14811380243212),
        (8.0, 0.9, 3.9808227861892752, 14.434649715196317),
        (9.0, 0.9, 4.6952275403444912, 15.705216422115463),
        (10.0, 0.9, 5.4254056970912926, 16.962219235721901),
        (11.0, 0.9, 6.1690072893953222, 18.207514250903657),
        (12.0, 0.9, 6.9242125135851068, 19.44256932991502),
        (13.0, 0.9, 7.6895782916308673, 20.668569075713699),
        (14.0, 0.9, 8.4639375222112474, 21.886485912871094),
        (15.0, 0.9, 9.2463304909767339, 23.097129760139235),
        (16.0, 0.9, 10.035956732274143, 24.301183683647095),
        (17.0, 0.9, 10.832140356275988, 25.499230082855323),
        (18.0, 0.9, 11.634304509446885, 26.691770311484651),
        (19.0, 0.9, 12.44195219166781, 27.879239639443516),
        (20.0, 0.9, 13.254651598346555, 29.062018840434015),
        (0.5, 0.9, 0.0019660700000097614, 3.90736395162559),
        (2.5, 0.9, 0.57273811303088462, 7.0335702246700844),
        (50.0, 0.9, 38.96473258250863, 63.287074095747167),
        (100.0, 0.9, 84.139277218314197, 118.07927278209706),
        (500.0, 0.9, 463.79718151048952, 538.37649495638674),
        (1000.0, 0.9, 948.55984938365113, 1053.6031221333008),
        (10000.0, 0.9, 9836.0851108551917, 10166.06013612707),
        (0.0, 0.95, 0.0, 3.6888794541139363),
        (1.0, 0.95, 0.025317807984289875, 5.5716433909388986),
        (2.0, 0.95, 0.2422092785439649, 7.2246876677239608),
        (3.0, 0.95, 0.61867212289560129, 8.767273069742326),
        (4.0, 0.95, 1.0898653736263249, 10.241588675403698),
        (5.0, 0.95, 1.6234863901184205, 11.66833207932267),
        (6.0, 0.95, 2.2018942534908508, 13.059474022518685),
        (7.0, 0.95, 2.8143630515198661, 14.422675361702379),
        (8.0, 0.95, 3.4538321767485013, 15.763189220193315),
        (9.0, 0.95, 4.1153730973783324, 17.08480345141917),
        (10.0, 0.95, 4.7953886961324336, 18.390356042017779),
        (11.0, 0.95, 5.4911603672368383, 19.682038513301956),
        (12.0, 0.95, 6.2005751087222165, 20.961585048176956),
        (13.0, 0.95, 6.9219524910038021, 22.230395918158878),
        (14.0, 0.95, 7.6539302763005979, 23.489621121835578),
        (15.0, 0.95, 8.3953861327833125, 24.740218871485844),
        (16.0, 0.95, 9.1453824536415235, 25.982997597560954),
        (17.0, 0.95, 9.9031264696072876, 27.218646815906611),
        (18.0, 0.95, 10.667940780399527, 28.447760267527988),
        (19.0, 0.95, 11.439241164366732, 29.670853571585601),
        (20.0, 0.95, 12.216519585403944, 30.888377902674599),
        (0.5, 0.95, 0.00049103455858762796, 4.6742018022480739),
        (2.5, 0.95, 0.41560580674333121, 8.0063821373146621),
        (50.0, 0.95, 37.110963737461863, 65.918766664336817),
        (100.0, 0.95, 81.36399125092314, 121.62679379242639),
        (500.0, 0.95, 457.12857689962947, 545.80926856517133),
        (1000.0, 0.95, 938.97301840769522, 1063.952136016302),
        (10000.0, 0.95, 9804.9524672601831, 10197.951624661473),
        (0.0, 0.99, 0.0, 5.2983173665480367),
        (1.0, 0.99, 0.005012541823544282, 7.4301295002801224),
        (2.0, 0.99, 0.10349454674809104, 9.2737920892555447),
        (3.0, 0.99, 0.3378633887277333, 10.977477495329766),
        (4.0, 0.99, 0.67220654350740515, 12.594089785985586),
        (5.0, 0.99, 1.0779282406523195, 14.149759411023015),
        (6.0, 0.99, 1.5369118190446666, 15.659674811297645),
        (7.0, 0.99, 2.037337478699671, 17.133593268913349),
        (8.0, 0.99, 2.5711027215218464, 18.578225728303374),
        (9.0, 0.99, 3.1324023422532308, 19.998423156469323),
        (10.0, 0.99, 3.7169221314671175, 21.39782749965427),
        (11.0, 0.99, 4.3213582003332067, 22.779255968265292),
        (12.0, 0.99, 4.9431167511207337, 24.144941166228419),
        (13.0, 0.99, 5.5801187030820742, 25.496688134249727),
        (14.0, 0.99, 6.2306679740012864, 26.835980965120296),
        (15.0, 0.99, 6.8933599297513566, 28.16405747985545),
        (16.0, 0.99, 7.5670160527078595, 29.481962937759697),
        (17.0, 0.99, 8.2506362377721914, 30.79058955737863),
        (18.0, 0.99, 8.943363251650102, 32.090706178703105),
        (19.0, 0.99, 9.6444557794454798, 33.38298091640196),
        (20.0, 0.99, 10.353267658485042, 34.667998728450197),
        (0.5, 0.99, 1.9635211110257951e-5, 6.4190782332993259),
        (2.5, 0.99, 0.20587095191624942, 10.138869937481312),
        (50.0, 0.99, 33.66378165273959, 71.266088475451087),
        (100.0, 0.99, 76.120495843689184, 128.76058012010245),
        (500.0, 0.99, 444.28176159073416, 560.5316036248093),
        (1000.0, 0.99, 920.42404616335915, 1084.3728680643892),
        (10000.0, 0.99, 9744.2956095729555, 10260.473826873619),
        (0.0, 0.998, 0.0, 6.9077552789821371),
        (1.0, 0.998, 0.0010005003335835335, 9.2334134764515857),
        (2.0, 0.998, 0.045402017769489557, 11.228872242412663),
        (3.0, 0.998, 0.19053337756840319, 13.062240779188071),
        (4.0, 0.998, 0.42855241362842297, 14.794149222537209),
        (5.0, 0.998, 0.73937173191783252, 16.454745203680107),
        (6.0, 0.998, 1.1071046602556393, 18.06163684019907),
        (7.0, 0.998, 1.5203362603988091, 19.626177395384238),
        (8.0, 0.998, 1.9708139217403658, 21.156198165839983),
        (9.0, 0.998, 2.4524244043637749, 22.657373309062931),
        (10.0, 0.998, 2.9605203727437596, 24.133971145417588),
        (11.0, 0.998, 3.4914842206152773, 25.589298888688696),
        (12.0, 0.998, 4.0424407904245854, 27.02598119428832),
        (13.0, 0.998, 4.611063412081664, 28.446142696676803),
        (14.0, 0.998, 5.1954395579129169, 29.851532152214965),
        (15.0, 0.998, 5.793975522822528, 31.243609528544248),
        (16.0, 0.998, 6.4053272914018145, 32.62360873047122),
        (17.0, 0.998, 7.0283493946741414, 33.992583813012115),
        (18.0, 0.998, 7.6620563958078133, 35.351443705752504),
        (19.0, 0.998, 8.3055934185150096, 36.700978759495521),
        (20.0, 0.998, 8.958213267626013, 38.041881353850021),
        (0.5, 0.998, 7.8539857463124494e-7, 8.1331180981190655),
        (2.5, 0.998, 0.10510630131460958, 12.160943173928428),
        (50.0, 0.998, 30.958969603468312, 75.941891992100363),
        (100.0, 0.998, 71.921397495000407, 134.92431906126448),
        (500.0, 0.998, 433.73954130363844, 573.02760325699701),
        (1000.0, 0.998, 905.12079093497662, 1101.6269438790305),
        (10000.0, 0.998, 9693.8243858237259, 10312.890675209363),
    ];

    #[test]
    fn exact_limits_match_the_grid_to_1e_12() {
        for &(o, c, lower, upper) in EXACT_GRID {
            let limits = exact_poisson_limits(o, ConfidenceLevel::new(c).unwrap()).unwrap();
            assert_close(limits.lower.unwrap(), lower, 1e-12);
            assert_close(limits.upper, upper, 1e-12);
        }
    }

    #[test]
    fn zero_count_has_exact_lower_zero_and_upper_minus_log_half_alpha() {
        // ½χ²(1 − α/2, 2) = −ln(α/2): the Gamma(1) (exponential) quantile in closed form.
        let limits = count_limits(0.0, C95).unwrap();
        assert_eq!(limits.lower, Some(0.0));
        assert_close(limits.upper, -(0.025f64).ln(), 1e-12);
        assert_eq!(limits.method, method::EXACT_POISSON);
    }

    #[test]
    fn rule_switches_from_exact_to_byar_at_ten() {
        assert_eq!(count_limits(9.0, C95).unwrap().method, method::EXACT_POISSON);
        assert_eq!(count_limits(9.999, C95).unwrap().method, method::EXACT_POISSON);
        let ten = count_limits(10.0, C95).unwrap();
        assert_eq!(ten.method, method::BYAR);
        assert_close(ten.lower.unwrap(), 4.7874499139675618, 1e-9);
    }

    #[test]
    fn negative_or_non_finite_counts_are_rejected_by_name() {
        assert_eq!(count_limits(-1.0, C95).unwrap_err().to_string(), "observed -1 is negative");
        assert!(byar_limits(f64::NAN, C95).is_err());
        assert!(exact_poisson_limits(f64::INFINITY, C95).is_err());
    }

    #[test]
    fn limits_bracket_the_count_and_the_wider_level_contains_the_narrower() {
        let mut o = 0.0;
        while o < 2_000.0 {
            for f in [count_limits, exact_poisson_limits] {
                let narrow = f(o, C95).unwrap();
                let wide = f(o, C998).unwrap();
                let (nl, wl) = (narrow.lower.unwrap(), wide.lower.unwrap());
                assert!(wl <= nl && nl <= o && o < narrow.upper && narrow.upper < wide.upper, "O={o}");
            }
            if o >= 1.0 {
                let narrow = byar_limits(o, C95).unwrap();
                let wide = byar_limits(o, C998).unwrap();
                assert!(narrow.lower.unwrap() < o && o < narrow.upper && narrow.upper < wide.upper);
                if let Some(wl) = wide.lower {
                    assert!(wl < narrow.lower.unwrap());
                }
            }
            o += if o < 30.0 { 1.0 } else { 37.0 };
        }
    }
}

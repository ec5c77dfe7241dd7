//! Life expectancy from an abridged life table (Chiang II) with Silcocks et al.'s (2001) variance,
//! as English public health computes it (PHE's life expectancy calculator, ONS local authority
//! figures), and healthy life expectancy from it by Sullivan's method.
//!
//! The table has 20 bands: <1, 1–4, 5–9, …, 85–89 and 90+. For each band i with deaths Dᵢ and
//! population Pᵢ: Mᵢ = Dᵢ/Pᵢ; aᵢ = 0.1 for the first band and 0.5 otherwise; nᵢ the band's width;
//! qᵢ = nᵢMᵢ / (1 + nᵢ(1 − aᵢ)Mᵢ), or 1 when Dᵢ exceeds Pᵢ/(nᵢaᵢ) (more deaths than the band can
//! hold) and for the open last band; lᵢ survivors of 100,000 births; Lᵢ = nᵢ(lᵢ₊₁ + aᵢdᵢ), and for
//! the last band l/M (its width from its mortality rate); eᵢ = Σⱼ≥ᵢ Lⱼ / lᵢ. The variance of eᵢ
//! is Σⱼ≥ᵢ lⱼ²((1 − aⱼ)nⱼ + eⱼ₊₁)² qⱼ²(1 − qⱼ)/Dⱼ over lᵢ², with the last band's term (l/2)²·4/(DM²).
//! Limits are e ± z·SE.

use crate::confidence::{ConfidenceLevel, Interval};
use crate::error::{Expected, Field, Result, StatisticsError, positive};
use crate::method;

/// The start age of each of the 20 bands of the life table.
pub const LIFE_TABLE_START_AGES: [u32; 20] =
    [0, 1, 5, 10, 15, 20, 25, 30, 35, 40, 45, 50, 55, 60, 65, 70, 75, 80, 85, 90];

/// A life table's total population must be above this for life expectancy to be computed.
pub const LIFE_EXPECTANCY_MINIMUM_POPULATION: f64 = 5000.0;

/// A life expectancy whose 95% interval is wider than this many years is not published (its
/// limits are).
pub const LIFE_EXPECTANCY_MAXIMUM_INTERVAL_WIDTH: f64 = 20.0;

/// Why a whole life table could not be computed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LifeTableSuppression {
    /// The total population is 5,000 or under.
    SmallPopulation,
    /// A band's deaths are negative.
    NegativeDeaths,
    /// A band's population is zero or less.
    NoPopulation,
    /// A band has more deaths than people.
    DeathsExceedPopulation,
    /// The 90+ band has no deaths, so its mean survival (1/M) is unbounded.
    NoDeathsInLastBand,
}

/// Life expectancy at one band's start age.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct LifeExpectancyAt {
    /// The age it is the expectation of further life at.
    pub start_age: u32,
    /// The expectation in years; None when its 95% interval is wider than 20 years.
    pub value: Option<f64>,
    /// The standard error in years.
    pub standard_error: f64,
    /// The 95% limits.
    pub limits95: Interval,
    /// The 99.8% limits.
    pub limits998: Interval,
}

/// A life table's outcome: life expectancy at every band's start age, or why there is none.
#[derive(Clone, Debug, PartialEq)]
pub enum LifeTable {
    /// Life expectancy at each start age, youngest first.
    Calculated(Vec<LifeExpectancyAt>),
    /// The whole table is suppressed.
    Suppressed(LifeTableSuppression),
}

/// The person-years and survivors of a computed table, which healthy life expectancy weights.
struct Table {
    expectancy: Vec<f64>,
    variance: Vec<f64>,
    person_years: Vec<f64>,
    survivors: Vec<f64>,
}

/// Returns life expectancy at every start age from deaths and populations in the 20 bands.
pub fn life_expectancy(deaths: &[f64], populations: &[f64]) -> Result<LifeTable> {
    Ok(match table(deaths, populations)? {
        Err(reason) => LifeTable::Suppressed(reason),
        Ok(t) => LifeTable::Calculated(
            (0..t.expectancy.len())
                .map(|i| at(LIFE_TABLE_START_AGES[i], t.expectancy[i], t.variance[i], method::LIFE_EXPECTANCY))
                .collect(),
        ),
    })
}

/// Returns healthy life expectancy at every start age by Sullivan's method: the life table's
/// person-years in each band times the proportion of the band in good health (from a survey of
/// `sample_sizes` people), summed from the age up and divided by the survivors to it. Its
/// variance is the prevalence's sampling variance, Σ Lⱼ²πⱼ(1 − πⱼ)/Nⱼ over lᵢ² (Jagger et al.).
pub fn healthy_life_expectancy(
    deaths: &[f64],
    populations: &[f64],
    healthy: &[f64],
    sample_sizes: &[f64],
) -> Result<LifeTable> {
    bands("healthy", healthy)?;
    bands("sample_sizes", sample_sizes)?;
    for (i, &p) in healthy.iter().enumerate() {
        if !(0.0..=1.0).contains(&p) {
            let field = Field::item("healthy", i);
            return Err(StatisticsError::OutOfRange { field, value: p, minimum: 0.0, maximum: 1.0 });
        }
    }
    for (i, &n) in sample_sizes.iter().enumerate() {
        positive(Field::item("sample_sizes", i), n)?;
    }
    let t = match table(deaths, populations)? {
        Err(reason) => return Ok(LifeTable::Suppressed(reason)),
        Ok(t) => t,
    };
    let k = t.person_years.len();
    let mut out = Vec::with_capacity(k);
    let (mut years, mut variance) = (0.0, 0.0);
    for i in (0..k).rev() {
        years += t.person_years[i] * healthy[i];
        variance += t.person_years[i].powi(2) * healthy[i] * (1.0 - healthy[i]) / sample_sizes[i];
        let l = t.survivors[i];
        let (value, var) = if l > 0.0 { (years / l, variance / (l * l)) } else { (0.0, 0.0) };
        out.push(at(LIFE_TABLE_START_AGES[i], value, var, method::HEALTHY_LIFE_EXPECTANCY));
    }
    out.reverse();
    Ok(LifeTable::Calculated(out))
}

/// Checks that a per-band input has the 20 bands and finite values.
fn bands(name: &'static str, values: &[f64]) -> Result<()> {
    if values.len() != LIFE_TABLE_START_AGES.len() {
        return Err(StatisticsError::WrongLength {
            field: Field::named(name),
            expected: Expected::Exactly(LIFE_TABLE_START_AGES.len()),
            actual: values.len(),
        });
    }
    for (i, v) in values.iter().enumerate() {
        if !v.is_finite() {
            return Err(StatisticsError::NotFinite { field: Field::item(name, i) });
        }
    }
    Ok(())
}

/// Returns the value and limits at one age from its expectation and variance.
fn at(start_age: u32, value: f64, variance: f64, method: &'static str) -> LifeExpectancyAt {
    let se = variance.sqrt();
    let interval = |level: ConfidenceLevel| {
        let half = level.z() * se;
        Interval { lower: value - half, upper: value + half, confidence: level, method }
    };
    let limits95 = interval(ConfidenceLevel::NINETY_FIVE);
    LifeExpectancyAt {
        start_age,
        value: (limits95.upper - limits95.lower <= LIFE_EXPECTANCY_MAXIMUM_INTERVAL_WIDTH).then_some(value),
        standard_error: se,
        limits95,
        limits998: interval(ConfidenceLevel::NINETY_NINE_POINT_EIGHT),
    }
}

/// Builds the life table, or says why the data cannot make one.
fn table(deaths: &[f64], populations: &[f64]) -> Result<std::result::Result<Table, LifeTableSuppression>> {
    bands("deaths", deaths)?;
    bands("populations", populations)?;
    let k = deaths.len();
    if deaths.iter().any(|d| *d < 0.0) {
        return Ok(Err(LifeTableSuppression::NegativeDeaths));
    }
    if populations.iter().any(|p| *p <= 0.0) {
        return Ok(Err(LifeTableSuppression::NoPopulation));
    }
    if deaths.iter().zip(populations).any(|(d, p)| d > p) {
        return Ok(Err(LifeTableSuppression::DeathsExceedPopulation));
    }
    if populations.iter().sum::<f64>() <= LIFE_EXPECTANCY_MINIMUM_POPULATION {
        return Ok(Err(LifeTableSuppression::SmallPopulation));
    }
    if deaths[k - 1] == 0.0 {
        return Ok(Err(LifeTableSuppression::NoDeathsInLastBand));
    }
    let width = |i: usize| f64::from(LIFE_TABLE_START_AGES[i + 1] - LIFE_TABLE_START_AGES[i]);
    let share = |i: usize| if i == 0 { 0.1 } else { 0.5 };
    let rate: Vec<f64> = deaths.iter().zip(populations).map(|(d, p)| d / p).collect();
    let dying: Vec<f64> = (0..k)
        .map(|i| {
            if i == k - 1 || deaths[i] > populations[i] / width(i) / share(i) {
                return 1.0;
            }
            let (n, a, m) = (width(i), share(i), rate[i]);
            n * m / (1.0 + n * (1.0 - a) * m)
        })
        .collect();
    let mut survivors = vec![100_000.0; k];
    for i in 1..k {
        survivors[i] = survivors[i - 1] * (1.0 - dying[i - 1]);
    }
    let next = |i: usize| if i + 1 < k { survivors[i + 1] } else { 0.0 };
    let person_years: Vec<f64> = (0..k)
        .map(|i| {
            if i == k - 1 { survivors[i] / rate[i] } else { width(i) * (next(i) + share(i) * (survivors[i] - next(i))) }
        })
        .collect();
    let (mut expectancy, mut variance) = (vec![0.0; k], vec![0.0; k]);
    let (mut total, mut weighted) = (0.0, 0.0);
    for i in (0..k).rev() {
        total += person_years[i];
        let l = survivors[i];
        expectancy[i] = if l > 0.0 { total / l } else { 0.0 };
        weighted += if i == k - 1 {
            (l / 2.0).powi(2) * 4.0 / (deaths[i] * rate[i] * rate[i])
        } else if l - next(i) == 0.0 {
            0.0
        } else {
            let q = dying[i];
            let spread = (1.0 - share(i)) * width(i) + expectancy[i + 1];
            l * l * spread * spread * q * q * (1.0 - q) / deaths[i]
        };
        variance[i] = if l > 0.0 { weighted / (l * l) } else { 0.0 };
    }
    Ok(Ok(Table { expectancy, variance, person_years, survivors }))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The example population of PHEindicatormethods' phe_life_expectancy documentation.
    const A_POPULATIONS: [f64; 20] = [
        7060.0, 35059.0, 46974.0, 48489.0, 43219.0, 38561.0, 46009.0, 57208.0, 61435.0, 55601.0, 50209.0, 56416.0,
        46411.0, 39820.0, 37978.0, 37039.0, 33288.0, 23306.0, 11936.0, 11936.0,
    ];
    const A_DEATHS: [f64; 20] = [
        17.0, 9.0, 4.0, 8.0, 20.0, 15.0, 24.0, 33.0, 50.0, 71.0, 100.0, 163.0, 263.0, 304.0, 536.0, 872.0, 1390.0,
        1605.0, 1936.0, 1937.0,
    ];
    /// A small district of 7,000 people with no deaths in several young bands.
    const B_POPULATIONS: [f64; 20] = [
        70.0, 290.0, 380.0, 400.0, 390.0, 350.0, 380.0, 420.0, 450.0, 470.0, 480.0, 500.0, 480.0, 450.0, 420.0, 370.0,
        300.0, 200.0, 120.0, 80.0,
    ];
    const B_DEATHS: [f64; 20] =
        [0.0, 0.0, 0.0, 0.0, 1.0, 0.0, 1.0, 1.0, 1.0, 2.0, 2.0, 4.0, 5.0, 7.0, 10.0, 14.0, 20.0, 25.0, 28.0, 30.0];

    fn calculated(table: LifeTable) -> Vec<LifeExpectancyAt> {
        match table {
            LifeTable::Calculated(rows) => rows,
            other => panic!("expected a table, got {other:?}"),
        }
    }

    /// Checks one age against the reference script's (value, SE, lower95, upper95, lower998, upper998).
    fn check(row: &LifeExpectancyAt, expected: [f64; 6]) {
        let close = |a: f64, b: f64| (a - b).abs() <= 1e-9 * b.abs().max(1.0);
        let got = [
            row.value.expect("published"),
            row.standard_error,
            row.limits95.lower,
            row.limits95.upper,
            row.limits998.lower,
            row.limits998.upper,
        ];
        for (g, e) in got.iter().zip(expected) {
            assert!(close(*g, e), "at {}: {got:?} vs {expected:?}", row.start_age);
        }
    }

    #[test]
    fn life_expectancy_matches_the_worked_values_at_birth_one_sixty_and_ninety() {
        // crates/statistics/reference/life_expectancy.py, case A.
        let rows = calculated(life_expectancy(&A_DEATHS, &A_POPULATIONS).unwrap());
        assert_eq!(rows.len(), 20);
        check(
            &rows[0],
            [
                80.169608131948394,
                0.14638910729202583,
                79.882690753927054,
                80.456525509969735,
                79.71723178332351,
                80.621984480573279,
            ],
        );
        check(
            &rows[1],
            [
                79.362456741138018,
                0.13906894755592728,
                79.089886612560511,
                79.635026869715525,
                78.932701386615935,
                79.792212095660102,
            ],
        );
        check(
            &rows[13],
            [
                22.971914398304057,
                0.10478727394144486,
                22.766535115340693,
                23.177293681267421,
                22.648097379094947,
                23.295731417513167,
            ],
        );
        check(
            &rows[19],
            [
                6.1621063500258131,
                0.1400117162090444,
                5.8876884288424431,
                6.4365242712091831,
                5.7294376213546244,
                6.5947750786970018,
            ],
        );
        assert_eq!(rows[0].limits95.method, method::LIFE_EXPECTANCY);
    }

    #[test]
    fn a_small_district_with_bands_without_deaths_has_wider_limits() {
        // Case B.
        let rows = calculated(life_expectancy(&B_DEATHS, &B_POPULATIONS).unwrap());
        check(
            &rows[0],
            [
                73.056418807289679,
                1.5784778944528989,
                69.96265898376938,
                76.150178630809978,
                68.178555423279583,
                77.934282191299775,
            ],
        );
        check(
            &rows[19],
            [
                2.6666666666666667,
                0.48686449556014766,
                1.7124297900175161,
                3.6209035433158172,
                1.1621422737606024,
                4.171191059572731,
            ],
        );
    }

    #[test]
    fn healthy_life_expectancy_matches_the_worked_values() {
        let good = [
            0.98, 0.97, 0.96, 0.95, 0.93, 0.92, 0.9, 0.88, 0.86, 0.84, 0.81, 0.78, 0.74, 0.7, 0.65, 0.6, 0.54, 0.47,
            0.4, 0.33,
        ];
        let rows = calculated(healthy_life_expectancy(&A_DEATHS, &A_POPULATIONS, &good, &[300.0; 20]).unwrap());
        check(
            &rows[0],
            [
                64.118085801421833,
                0.39230701662656529,
                63.349178177951409,
                64.886993424892258,
                62.905765984706108,
                65.330405618137559,
            ],
        );
        check(
            &rows[13],
            [
                13.28496488344954,
                0.26047110819539966,
                12.774450892373321,
                13.795478874525759,
                12.480048650080784,
                14.089881116818296,
            ],
        );
        assert_eq!(rows[0].limits95.method, method::HEALTHY_LIFE_EXPECTANCY);
    }

    #[test]
    fn a_whole_table_is_suppressed_with_its_reason() {
        let suppressed = |deaths: &[f64], populations: &[f64]| match life_expectancy(deaths, populations).unwrap() {
            LifeTable::Suppressed(reason) => reason,
            other => panic!("expected suppression, got {other:?}"),
        };
        let small: Vec<f64> = A_POPULATIONS.iter().map(|p| (p / 200.0).round()).collect();
        let few: Vec<f64> = A_DEATHS.iter().map(|d| (d / 200.0).floor()).collect();
        assert_eq!(suppressed(&few, &small), LifeTableSuppression::SmallPopulation);
        let mut negative = A_DEATHS;
        negative[3] = -1.0;
        assert_eq!(suppressed(&negative, &A_POPULATIONS), LifeTableSuppression::NegativeDeaths);
        let mut empty = A_POPULATIONS;
        empty[5] = 0.0;
        assert_eq!(suppressed(&A_DEATHS, &empty), LifeTableSuppression::NoPopulation);
        let mut over = A_DEATHS;
        over[19] = 20_000.0;
        assert_eq!(suppressed(&over, &A_POPULATIONS), LifeTableSuppression::DeathsExceedPopulation);
        let mut none = A_DEATHS;
        none[19] = 0.0;
        assert_eq!(suppressed(&none, &A_POPULATIONS), LifeTableSuppression::NoDeathsInLastBand);
    }

    #[test]
    fn a_value_whose_interval_is_wider_than_twenty_years_is_withheld_but_its_limits_are_not() {
        // 5,085 people, with very few deaths in the oldest bands: the life expectancy at 85
        // rests on two deaths.
        let mut populations = [280.0; 20];
        populations[18] = 30.0;
        populations[19] = 15.0;
        let mut deaths = [1.0; 20];
        deaths[18] = 1.0;
        deaths[19] = 1.0;
        let rows = calculated(life_expectancy(&deaths, &populations).unwrap());
        let wide = rows.iter().find(|r| r.limits95.upper - r.limits95.lower > 20.0).expect("a wide interval");
        assert_eq!(wide.value, None);
        assert!(wide.limits95.lower.is_finite() && wide.limits95.upper.is_finite());
    }

    #[test]
    fn a_table_needs_exactly_twenty_bands() {
        let error = life_expectancy(&A_DEATHS[..19], &A_POPULATIONS[..19]).unwrap_err();
        assert!(matches!(error, StatisticsError::WrongLength { actual: 19, .. }), "{error:?}");
        let error = healthy_life_expectancy(&A_DEATHS, &A_POPULATIONS, &[1.5; 20], &[10.0; 20]).unwrap_err();
        assert!(matches!(error, StatisticsError::OutOfRange { .. }), "{error:?}");
    }
}

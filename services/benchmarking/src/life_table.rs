//! Life expectancy and healthy life expectancy as answers report them: the statistics crate's
//! life table at every band's start age, with the headline value and limits at birth, and each
//! whole-table suppression named.

use sharedmetrics_proto::sharedmetrics::benchmarking::v1::{LifeExpectancyAtAge, StatisticSuppressionReason};
use sharedmetrics_statistics::{self as stats, LifeTable, LifeTableSuppression, StatisticsError};

use crate::statistic::{Levels, Statistic, limits};

/// The dimension whose codes are the life table's age bands.
pub(crate) const LIFE_TABLE_DIMENSION: &str = "life_table_age_band";

/// The labels of the life table's 20 age bands, as the `life_table_age_band` dimension codes them.
pub(crate) const LIFE_TABLE_BANDS: [&str; 20] = [
    "0", "1-4", "5-9", "10-14", "15-19", "20-24", "25-29", "30-34", "35-39", "40-44", "45-49", "50-54", "55-59",
    "60-64", "65-69", "70-74", "75-79", "80-84", "85-89", "90+",
];

/// Deaths and populations in the 20 bands, with the proportion in good health and its survey
/// sample size per band for healthy life expectancy.
#[derive(Clone, Debug, PartialEq)]
pub(crate) struct LifeTableCounts {
    pub deaths: Vec<f64>,
    pub populations: Vec<f64>,
    pub health: Option<(Vec<f64>, Vec<f64>)>,
}

/// Returns the statistic reason a whole-table suppression gives.
fn reason(suppression: LifeTableSuppression) -> StatisticSuppressionReason {
    match suppression {
        LifeTableSuppression::SmallPopulation => StatisticSuppressionReason::SmallPopulation,
        LifeTableSuppression::NegativeDeaths => StatisticSuppressionReason::NegativeCount,
        LifeTableSuppression::NoPopulation => StatisticSuppressionReason::NoPopulation,
        LifeTableSuppression::DeathsExceedPopulation => StatisticSuppressionReason::DeathsExceedPopulation,
        LifeTableSuppression::NoDeathsInLastBand => StatisticSuppressionReason::NoDeathsInLastBand,
    }
}

/// Returns the statistic at birth (total deaths and population as numerator and denominator)
/// and the expectation at every start age. A value whose 95% interval is wider than 20 years is
/// withheld (`WIDE_INTERVAL`) with its limits kept.
pub(crate) fn statistic(
    input: &LifeTableCounts,
    levels: Levels,
) -> Result<(Statistic, Vec<LifeExpectancyAtAge>), StatisticsError> {
    let (table, method) = match &input.health {
        None => (stats::life_expectancy(&input.deaths, &input.populations)?, stats::method::LIFE_EXPECTANCY),
        Some((healthy, samples)) => (
            stats::healthy_life_expectancy(&input.deaths, &input.populations, healthy, samples)?,
            stats::method::HEALTHY_LIFE_EXPECTANCY,
        ),
    };
    let numerator = Some(input.deaths.iter().sum());
    let denominator = Some(input.populations.iter().sum());
    let rows = match table {
        LifeTable::Suppressed(why) => {
            let statistic = Statistic { numerator, denominator, method, ..Statistic::suppressed(reason(why)) };
            return Ok((statistic, Vec::new()));
        }
        LifeTable::Calculated(rows) => rows,
    };
    let pick = |row: &stats::LifeExpectancyAt| {
        (levels.ninety_five.then_some(row.limits95), levels.ninety_nine_point_eight.then_some(row.limits998))
    };
    let by_age = rows
        .iter()
        .map(|row| {
            let (i95, i998) = pick(row);
            LifeExpectancyAtAge {
                start_age: row.start_age,
                value: row.value,
                standard_error: row.standard_error,
                limits: Some(limits(i95.as_ref(), i998.as_ref())),
            }
        })
        .collect();
    let birth = &rows[0];
    let (interval95, interval998) = pick(birth);
    let statistic = Statistic {
        value: birth.value,
        interval95,
        interval998,
        numerator,
        denominator,
        method,
        suppression: birth.value.is_none().then_some(StatisticSuppressionReason::WideInterval),
    };
    Ok((statistic, by_age))
}

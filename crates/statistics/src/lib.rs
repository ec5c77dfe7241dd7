//! The indicator statistics of sharedmetrics: values and confidence limits for proportions,
//! crude rates, means, directly and indirectly standardised rates and ratios; comparison with
//! a benchmark at one or two levels and by funnel; quantiles of a comparison set; the
//! five-point trend test; inequality across ordered groups (SII, RII, gaps, Core20); and life
//! expectancy and healthy life expectancy from a life table.
//! It owns the platform's statistical methods exactly as METHODS.md defines them, as pure
//! functions over plain types with no I/O, and every result names the versioned method that
//! produced it (see [`method`]) so a published figure can always be traced and reproduced.
//!
//! ```
//! use sharedmetrics_statistics::{
//!     ConfidenceLevel, Judgement, Polarity, Scale, compare_with_benchmark_two_levels, proportion,
//! };
//!
//! // 65 of 100 eligible people screened, against an England value of 75%.
//! let p95 = proportion(65.0, 100.0, Scale::Hundred, ConfidenceLevel::NINETY_FIVE)?;
//! let p998 = proportion(65.0, 100.0, Scale::Hundred, ConfidenceLevel::NINETY_NINE_POINT_EIGHT)?;
//! let (i95, i998) = (p95.interval.unwrap(), p998.interval.unwrap());
//! assert_eq!(i95.method, "wilson/1");
//! let comparison = compare_with_benchmark_two_levels(&i95, &i998, 75.0, Polarity::HighIsGood)?;
//! assert_eq!(comparison.judgement, Judgement::Worse);
//! # Ok::<(), sharedmetrics_statistics::StatisticsError>(())
//! ```

#![forbid(unsafe_code)]
#![warn(missing_docs)]
// Worked values in the tests are quoted with every digit the reference calculation printed,
// so they can be compared with its output by eye.
#![cfg_attr(test, allow(clippy::excessive_precision))]

pub mod comparison;
pub mod confidence;
pub mod counts;
pub mod dsr;
pub mod error;
pub mod estimate;
pub mod grouped;
pub mod inequality;
pub mod life_expectancy;
pub mod mean;
pub mod method;
pub mod proportion;
pub mod quantiles;
pub mod rate;
pub mod trend;

pub use comparison::{
    Comparison, Judgement, Polarity, Significance, compare_observed_with_expected, compare_proportion_with_funnel,
    compare_with_benchmark, compare_with_benchmark_two_levels, pooled_funnel_proportion, proportion_funnel_limits,
};
pub use confidence::{ConfidenceLevel, Interval};
pub use counts::{CountLimits, byar_limits, count_limits, exact_poisson_limits};
pub use dsr::{
    DSR_MINIMUM_COUNT, Dsr, EUROPEAN_STANDARD_POPULATION_2013, StandardPopulation, directly_standardised_rate,
};
pub use error::{ConfidenceDisplay, Expected, Field, Result, StatisticsError};
pub use estimate::{Count, Estimate, Scale};
pub use grouped::{pool, pool_bands, pooled_crude_rate, pooled_directly_standardised_rate, pooled_proportion};
pub use inequality::{
    Core20Comparison, Inequality, InequalityGroup, InequalityInterval, InequalityScale, PooledMeasure, SiiOptions,
    Spread, core20_comparison, slope_index_of_inequality,
};
pub use life_expectancy::{
    LIFE_EXPECTANCY_MAXIMUM_INTERVAL_WIDTH, LIFE_EXPECTANCY_MINIMUM_POPULATION, LIFE_TABLE_START_AGES,
    LifeExpectancyAt, LifeTable, LifeTableSuppression, healthy_life_expectancy, life_expectancy,
};
pub use mean::mean;
pub use proportion::proportion;
pub use quantiles::{QuantilePlace, Quantiles, assign_quantiles};
pub use rate::{
    DEFAULT_RATE_MULTIPLIER, crude_rate, expected_count, indirectly_standardised_rate, indirectly_standardised_ratio,
};
pub use trend::{
    Trend, TrendAssessment, TrendCheck, TrendDirection, TrendJudgement, TrendPoint, proportion_trend, value_trend,
};

#[cfg(test)]
mod test_support {
    /// Asserts |got − want| ≤ tolerance·|want| (or ≤ tolerance when want is 0).
    #[track_caller]
    pub(crate) fn assert_close(got: f64, want: f64, tolerance: f64) {
        let scale = if want == 0.0 { 1.0 } else { want.abs() };
        let error = (got - want).abs() / scale;
        assert!(error <= tolerance, "got {got:e}, want {want:e}: relative error {error:e} > {tolerance:e}");
    }
}

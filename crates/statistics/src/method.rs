//! Version strings for every method, reported in results so a published figure can be traced
//! to the exact calculation that produced it. Bump the suffix whenever a method's output can
//! change for the same input.

/// Byar's approximation to Poisson limits for a count, without continuity correction.
pub const BYAR: &str = "byar/1";
/// Exact Poisson limits for a count from chi-square quantiles.
pub const EXACT_POISSON: &str = "exact-poisson/1";
/// A proportion x ÷ n.
pub const PROPORTION: &str = "proportion/1";
/// Wilson score limits for a proportion, without continuity correction.
pub const WILSON: &str = "wilson/1";
/// A crude rate x ÷ n × multiplier.
pub const CRUDE_RATE: &str = "crude-rate/1";
/// The arithmetic mean of a set of values.
pub const MEAN: &str = "mean/1";
/// Student's t limits for a mean.
pub const STUDENT_T: &str = "student-t/1";
/// A directly standardised rate with Dobson's limits.
pub const DSR_DOBSON: &str = "dsr-dobson/1";
/// An indirectly standardised ratio O ÷ E.
pub const ISR_RATIO: &str = "isr-ratio/1";
/// An indirectly standardised rate O ÷ E × reference rate.
pub const ISR_RATE: &str = "isr-rate/1";
/// Comparison of an interval with a benchmark at one level.
pub const BENCHMARK_ONE_LEVEL: &str = "benchmark-one-level/1";
/// Comparison of two intervals (95% and 99.8%) with a benchmark.
pub const BENCHMARK_TWO_LEVELS: &str = "benchmark-two-levels/1";
/// Funnel-plot limits for a proportion around a pooled proportion.
pub const FUNNEL_PROPORTION: &str = "funnel-proportion/2";
/// Comparison of an observed count with its expected count through count limits of O ÷ E.
pub const FUNNEL_RATIO: &str = "funnel-ratio/1";
/// Quantile assignment within a comparison set.
pub const QUANTILES: &str = "quantiles/1";
/// Chi-square test for trend in a proportion over five points.
pub const TREND_CHI_SQUARE: &str = "trend-chi-square/2";
/// Weighted least-squares test for trend over five points.
pub const TREND_WEIGHTED_REGRESSION: &str = "trend-weighted-regression/2";
/// Life expectancy from a Chiang II abridged life table with Silcocks et al.'s variance.
pub const LIFE_EXPECTANCY: &str = "life-expectancy-chiang-silcocks/1";
/// Healthy life expectancy by Sullivan's method over that life table.
pub const HEALTHY_LIFE_EXPECTANCY: &str = "healthy-life-expectancy-sullivan/1";
/// Slope and relative indices of inequality with simulated limits.
pub const SII: &str = "sii-simulated/1";
/// Core20 (deciles 1 and 2 pooled) against the other deciles.
pub const CORE20: &str = "core20/1";

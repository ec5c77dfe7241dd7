//! GetTrend: one area's series for a metric, each point compared with the benchmark of its
//! period, and the recent-trend test over the last five consecutive periods (chi-square for
//! trend for proportions, weighted regression otherwise, at 99.8%).

use sharedmetrics_access::Principal;
use sharedmetrics_error::{ServiceError, ServiceResult};
use sharedmetrics_periods::Period;
use sharedmetrics_proto::sharedmetrics::benchmarking::v1::{self as pb, *};
use sharedmetrics_proto::sharedmetrics::common::v1::{AreaType, ValueType};
use sharedmetrics_proto::sharedmetrics::submissions::v1::QueryObservationsRequest;
use sharedmetrics_statistics::{self as stats, Count, Trend};

use crate::compare::{benchmark_figures, compare_interval, organisations_with_data};
use crate::context::{self, Computed, Figures, Level, MetricContext};
use crate::observations;
use crate::service::BenchmarkingService;
use crate::statistic::{Methods, Statistic};

/// Returns the recent-trend test of a series (oldest first, one entry per consecutive period,
/// `None` where the area has no usable value), with the method it used.
pub(crate) fn trend_result(
    metric: &MetricContext,
    series: &[(Period, Option<&Statistic>)],
) -> (TrendResult, Option<&'static str>) {
    let polarity = metric.stats_polarity();
    let outcome = if metric.value_type == ValueType::Proportion {
        let points: Vec<Option<Count>> = series
            .iter()
            .map(|(_, s)| {
                s.filter(|s| s.value.is_some())
                    .and_then(|s| s.numerator.zip(s.denominator))
                    .map(|(x, n)| Count::new(x, n))
            })
            .collect();
        stats::proportion_trend(&points, polarity)
    } else {
        let points: Vec<Option<stats::TrendPoint>> = series
            .iter()
            .map(|(_, s)| {
                let s = (*s)?;
                let i = s.interval95?;
                Some(stats::TrendPoint { value: s.value?, lower95: i.lower, upper95: i.upper })
            })
            .collect();
        stats::value_trend(&points, polarity)
    };
    let window = |count: usize| {
        let used = &series[series.len().saturating_sub(count)..];
        (
            used.first().map(|(p, _)| p.to_string()).unwrap_or_default(),
            used.last().map(|(p, _)| p.to_string()).unwrap_or_default(),
        )
    };
    match outcome {
        Ok(Trend::Assessed(a)) => {
            let (first, last) = window(5);
            let direction = match a.direction {
                stats::TrendDirection::Increasing => TrendDirection::Increasing,
                stats::TrendDirection::Decreasing => TrendDirection::Decreasing,
                stats::TrendDirection::NoSignificantChange => TrendDirection::NoSignificantChange,
            };
            let judgement = match a.judgement {
                stats::TrendJudgement::GettingBetter => TrendJudgement::GettingBetter,
                stats::TrendJudgement::GettingWorse => TrendJudgement::GettingWorse,
                stats::TrendJudgement::NoSignificantChange if polarity != stats::Polarity::NoJudgement => {
                    TrendJudgement::NoChange
                }
                _ => TrendJudgement::NotJudged,
            };
            let result = TrendResult {
                direction: direction as i32,
                judgement: judgement as i32,
                statistic: a.statistic,
                point_count: 5,
                first_period_code: first,
                last_period_code: last,
                method: crate::statistic::method_version(a.method),
                decided_by: match a.decided_by {
                    stats::TrendCheck::Significance => TrendCheck::Significance,
                    stats::TrendCheck::LeaveOneOut => TrendCheck::LeaveOneOut,
                } as i32,
            };
            (result, Some(a.method))
        }
        // A test the inputs cannot support (a zero-width interval) is reported as not run.
        Ok(Trend::InsufficientPoints { .. }) | Err(_) => {
            let available = match outcome {
                Ok(Trend::InsufficientPoints { available }) => available,
                _ => 0,
            };
            let (first, last) = if available == 0 { Default::default() } else { window(available) };
            let result = TrendResult {
                direction: TrendDirection::InsufficientPoints as i32,
                judgement: TrendJudgement::NotJudged as i32,
                statistic: None,
                point_count: available as u32,
                first_period_code: first,
                last_period_code: last,
                method: None,
                decided_by: TrendCheck::Unspecified as i32,
            };
            (result, None)
        }
    }
}

/// Returns every period from `first` to `last` inclusive.
pub(crate) fn consecutive(first: Period, last: Period) -> Vec<Period> {
    let mut out = vec![first];
    let mut current = first;
    // Bounded so that a malformed pair of periods can never loop for long.
    while current < last && out.len() < 10_000 {
        current = current.next();
        out.push(current);
    }
    out
}

impl BenchmarkingService {
    /// Answers GetTrend, from the cache when it holds the answer.
    pub(crate) async fn trend(
        &self,
        principal: &Principal,
        request: GetTrendRequest,
    ) -> ServiceResult<GetTrendResponse> {
        let metric = context::metric(&self.directory, principal, &request.metric_code, request.metric_version).await?;
        let pairs = observations::parse_pairs(&request.breakdown_codes, "breakdown_codes")?;
        metric.check_breakdown(&pairs, "breakdown_codes")?;
        let benchmark =
            context::benchmark_spec(&self.definitions, principal, request.benchmark.as_ref(), "benchmark").await?;
        let level = Level::parse(request.comparison_level, "comparison_level")?;
        let (area_name, area_type) = self.area_named(principal, &request.area_code).await?;
        let metrics = [(metric.code.clone(), metric.version, metric.insider)];
        let extra = match &benchmark {
            context::BenchmarkSpec::PeerGroup(g) => format!("{}@{}", g.code, g.version).into_bytes(),
            _ => Vec::new(),
        };
        let (mut answer, generations, hit) = self
            .cached("get_trend", principal, &request, &extra, &metrics, |_| async {
                let areas = self.areas(principal).await?;
                let observations = observations::read(
                    &self.submissions,
                    principal,
                    QueryObservationsRequest {
                        metric_code: metric.code.clone(),
                        metric_version: metric.version,
                        as_of: request.as_of,
                        ..Default::default()
                    },
                )
                .await?;
                let figures = Figures { metric: &metric, observations: &observations, areas: &areas };
                let area = request.area_code.as_str();
                let mut methods = Methods::default();
                let mut points = Vec::new();
                let mut statistics: Vec<(Period, Computed)> = Vec::new();
                for period in figures.periods(&pairs) {
                    let code = period.to_string();
                    let computed = figures.statistic(area, &code, &pairs);
                    if computed.statistic.suppression == Some(StatisticSuppressionReason::NoData) {
                        continue;
                    }
                    // An organisation's England is every organisation with data that period.
                    let members = if area_type == AreaType::Organisation {
                        organisations_with_data(&observations, &areas, &code, &pairs)
                    } else {
                        vec![area.to_owned()]
                    };
                    let bench = benchmark_figures(&figures, &benchmark, &members, &code, &pairs, area_type)
                        .for_area(&areas, area);
                    let benchmark_value = bench.as_ref().and_then(|b| b.value);
                    let s = &computed.statistic;
                    let (comparison, method) = compare_interval(s, benchmark_value, level, metric.stats_polarity());
                    methods.add(s.method);
                    if let Some(m) = method {
                        methods.add(m);
                    }
                    let aggregation = methods.aggregation(computed.aggregation);
                    points.push(pb::TrendPoint {
                        period_code: code,
                        numerator: s.numerator,
                        denominator: s.denominator,
                        value: s.value,
                        limits: Some(s.limits()),
                        benchmark_value,
                        comparison: comparison as i32,
                        suppressed: s.suppression.is_some()
                            && s.suppression != Some(StatisticSuppressionReason::NotComputable),
                        suppression_reason: s.suppression.map_or(0, |r| r as i32),
                        aggregation,
                    });
                    statistics.push((period, computed));
                }
                let (trend, method) = series_trend(&metric, &statistics);
                if let Some(m) = method {
                    methods.add(m);
                }
                Ok(GetTrendResponse {
                    metric_code: metric.code.clone(),
                    metric_version: metric.version,
                    area_code: request.area_code.clone(),
                    area_name: area_name.clone(),
                    polarity: metric.proto_polarity(),
                    points,
                    trend: Some(trend),
                    data_version: observations.snapshot,
                    method_versions: methods.into_versions(),
                    data_generation: 0,
                    cache_hit: false,
                })
            })
            .await?;
        answer.cache_hit = hit;
        answer.data_generation = generations.first().map_or(answer.data_generation, |g| g.generation);
        Ok(answer)
    }

    /// Returns the name and type of an area or organisation code, or a violation of `area_code`.
    pub(crate) async fn area_named(&self, principal: &Principal, code: &str) -> ServiceResult<(String, AreaType)> {
        if code.is_empty() {
            return Err(ServiceError::invalid_field("area_code", "REQUIRED", "area_code is required"));
        }
        if let Some(area) = self.areas(principal).await?.get(code) {
            return Ok((area.name.clone(), area.area_type));
        }
        if let Some(name) = self.organisation_names(principal).await?.get(code) {
            return Ok((name.clone(), AreaType::Organisation));
        }
        Err(ServiceError::invalid_field("area_code", "UNKNOWN_AREA", format!("area {code:?} does not exist")))
    }
}

/// Returns the trend of an area's computed points (periods with data, oldest first), over the
/// consecutive periods from the first to the last so that a gap is a gap.
pub(crate) fn series_trend(
    metric: &MetricContext,
    statistics: &[(Period, Computed)],
) -> (TrendResult, Option<&'static str>) {
    let (Some((first, _)), Some((last, _))) = (statistics.first(), statistics.last()) else {
        return trend_result(metric, &[]);
    };
    let series: Vec<(Period, Option<&Statistic>)> = consecutive(*first, *last)
        .into_iter()
        .map(|p| (p, statistics.iter().find(|(q, _)| *q == p).map(|(_, c)| &c.statistic)))
        .collect();
    trend_result(metric, &series)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::statistic::{Input, Levels, compute};
    use crate::test_support::national;
    use sharedmetrics_proto::sharedmetrics::common::v1::Polarity;
    use sharedmetrics_proto::sharedmetrics::definitions::v1::MetricVersionSpec;

    fn metric(value_type: ValueType, polarity: Polarity) -> MetricContext {
        let spec = MetricVersionSpec {
            code: "m".into(),
            value_type: value_type as i32,
            polarity: polarity as i32,
            ci_method: 1,
            ..Default::default()
        };
        MetricContext::new(spec, 1, &national())
    }

    fn years(from: i32, xs: &[f64], n: f64, value_type: ValueType) -> Vec<(Period, Computed)> {
        xs.iter()
            .enumerate()
            .map(|(i, &x)| {
                let s = compute(
                    value_type,
                    100.0,
                    &Input::Counts { numerator: x, denominator: Some(n) },
                    Levels::BOTH,
                    true,
                )
                .unwrap();
                (Period::CalendarYear(from + i as i32), Computed { statistic: s, aggregation: None })
            })
            .collect()
    }

    #[test]
    fn a_rising_proportion_is_getting_better_when_high_is_good() {
        let m = metric(ValueType::Proportion, Polarity::HighIsGood);
        let (t, _) =
            series_trend(&m, &years(2018, &[400.0, 450.0, 500.0, 550.0, 600.0, 650.0], 1_000.0, ValueType::Proportion));
        let counts: Vec<Option<Count>> =
            [450.0, 500.0, 550.0, 600.0, 650.0].iter().map(|&x| Some(Count::new(x, 1_000.0))).collect();
        let Trend::Assessed(expected) = stats::proportion_trend(&counts, stats::Polarity::HighIsGood).unwrap() else {
            panic!()
        };
        assert_eq!(t.statistic, expected.statistic);
        assert_eq!(
            (t.direction, t.judgement),
            (TrendDirection::Increasing as i32, TrendJudgement::GettingBetter as i32)
        );
        assert_eq!((t.first_period_code.as_str(), t.last_period_code.as_str(), t.point_count), ("2019", "2023", 5));
        assert_eq!(t.method.unwrap().method, StatisticalMethod::ChiSquareTrend as i32);
    }

    #[test]
    fn a_gap_in_the_last_five_periods_leaves_too_few_points() {
        let m = metric(ValueType::CrudeRate, Polarity::LowIsGood);
        let mut points = years(2015, &[10.0, 20.0, 30.0, 40.0, 50.0, 60.0, 70.0], 1_000.0, ValueType::CrudeRate);
        points.remove(4); // 2019 missing
        let (t, _) = series_trend(&m, &points);
        assert_eq!(t.direction, TrendDirection::InsufficientPoints as i32);
        assert_eq!((t.point_count, t.last_period_code.as_str()), (2, "2021"));
        let (full, method) =
            series_trend(&m, &years(2015, &[10.0, 20.0, 30.0, 40.0, 50.0], 1_000.0, ValueType::CrudeRate));
        assert_eq!(full.judgement, TrendJudgement::GettingWorse as i32);
        assert_eq!(full.method.unwrap().method, StatisticalMethod::WeightedRegressionTrend as i32);
        assert_eq!(method, Some(stats::method::TREND_WEIGHTED_REGRESSION));
        assert_eq!(series_trend(&m, &[]).0.point_count, 0);
    }
}

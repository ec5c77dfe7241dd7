//! GetAreaProfile: every metric published at an area's type (or the ones named), each with the
//! area's value, its comparison with the benchmark, its quintile and the spread across every
//! area of the same type in England, and its recent trend — the data behind a spine chart. It is
//! assembled from CompareAreas and GetTrend answers (themselves cached), so a profile and the
//! comparisons it summarises can never disagree.

use sharedmetrics_access::Principal;
use sharedmetrics_error::{ServiceError, ServiceResult};
use sharedmetrics_proto::sharedmetrics::benchmarking::v1::*;
use sharedmetrics_proto::sharedmetrics::common::v1::AreaType;
use sharedmetrics_proto::sharedmetrics::definitions::v1::ListMetricsRequest;

use crate::areas::ENGLAND;
use crate::context::{self, BenchmarkSpec, Level, MetricContext};
use crate::service::{BenchmarkingService, next_page_token, page_window};

/// Returns the quantile at fraction `p` of sorted values, interpolating linearly between order
/// statistics (the usual "type 7" definition, as spreadsheets and R compute it by default).
pub(crate) fn quantile(sorted: &[f64], p: f64) -> Option<f64> {
    let last = sorted.len().checked_sub(1)?;
    let h = last as f64 * p;
    let below = h.floor() as usize;
    let above = (below + 1).min(last);
    Some(sorted[below] + (h - below as f64) * (sorted[above] - sorted[below]))
}

/// Returns the spread of the values of a comparison set.
pub(crate) fn spine_range(areas: &[AreaComparison]) -> SpineRange {
    let mut values: Vec<f64> = areas.iter().filter_map(|a| a.value).collect();
    values.sort_by(f64::total_cmp);
    SpineRange {
        lowest: values.first().copied(),
        percentile_25: quantile(&values, 0.25),
        percentile_75: quantile(&values, 0.75),
        highest: values.last().copied(),
    }
}

/// Returns whether a profile row is worse than its benchmark and getting worse.
pub(crate) fn worse_and_worsening(row: &ProfileMetric) -> bool {
    let worse =
        matches!(ComparisonResult::try_from(row.comparison), Ok(ComparisonResult::Worse | ComparisonResult::MuchWorse));
    let worsening = row.trend.as_ref().is_some_and(|t| t.judgement == TrendJudgement::GettingWorse as i32);
    worse && worsening
}

impl BenchmarkingService {
    /// Answers GetAreaProfile, from the cache when it holds the answer.
    pub(crate) async fn profile(
        &self,
        principal: &Principal,
        request: GetAreaProfileRequest,
    ) -> ServiceResult<GetAreaProfileResponse> {
        let (offset, size) = page_window(request.page_size, &request.page_token)?;
        let (area_name, area_type) = self.area_named(principal, &request.area_code).await?;
        // Its own type first, then those it also counts as (a unitary is an upper tier too).
        let area_types =
            self.areas(principal).await?.get(&request.area_code).map_or_else(|| vec![area_type], |a| a.types());
        let benchmark =
            context::benchmark_spec(&self.definitions, principal, request.benchmark.as_ref(), "benchmark").await?;
        Level::parse(request.comparison_level, "comparison_level")?;
        let (benchmark_code, benchmark_name) = match &benchmark {
            BenchmarkSpec::England => (ENGLAND.to_owned(), "England".to_owned()),
            BenchmarkSpec::Parent(t) => {
                let areas = self.areas(principal).await?;
                areas
                    .ancestor_of_type(&request.area_code, *t)
                    .map(|a| (a.code.clone(), a.name.clone()))
                    .unwrap_or_default()
            }
            BenchmarkSpec::PeerGroup(g) => (g.code.clone(), g.name.clone()),
            BenchmarkSpec::Target(_) => (String::new(), "Target".to_owned()),
        };
        let metrics = self.profile_metrics(principal, &request, &area_types).await?;
        let keys: Vec<(String, u32, bool)> = metrics.iter().map(|m| (m.code.clone(), m.version, m.insider)).collect();
        let mut keyed = request.clone();
        keyed.page_size = 0;
        keyed.page_token.clear();
        let extra = match &benchmark {
            BenchmarkSpec::PeerGroup(g) => format!("{}@{}", g.code, g.version).into_bytes(),
            _ => Vec::new(),
        };
        let (mut answer, _, hit) = self
            .cached("get_area_profile", principal, &keyed, &extra, &keys, |_| async {
                let mut rows = Vec::new();
                let mut methods: Vec<MethodVersion> = Vec::new();
                let mut data_version: Option<prost_types::Timestamp> = None;
                for metric in &metrics {
                    let compared_as = metric.type_among(&area_types).unwrap_or(area_type);
                    let (row, used, version) = self.profile_row(principal, &request, metric, compared_as).await?;
                    methods.extend(used);
                    if version.as_ref().map(|v| (v.seconds, v.nanos))
                        > data_version.as_ref().map(|v| (v.seconds, v.nanos))
                    {
                        data_version = version;
                    }
                    rows.push(row);
                }
                if request.worse_and_worsening_only {
                    rows.retain(worse_and_worsening);
                }
                methods.sort_by_key(|m| m.method);
                methods.dedup();
                Ok(GetAreaProfileResponse {
                    area_code: request.area_code.clone(),
                    area_name: area_name.clone(),
                    area_type: area_type as i32,
                    benchmark_code: benchmark_code.clone(),
                    benchmark_name: benchmark_name.clone(),
                    metrics: rows,
                    data_version,
                    method_versions: methods,
                    next_page_token: String::new(),
                    total_size: 0,
                    cache_hit: false,
                })
            })
            .await?;
        let total = answer.metrics.len();
        answer.metrics = answer.metrics.into_iter().skip(offset).take(size).collect();
        answer.next_page_token = next_page_token(offset, size, total);
        answer.total_size = total as u32;
        answer.cache_hit = hit;
        Ok(answer)
    }

    /// Returns the metrics a profile covers, by code: those named, or every metric published at
    /// one of the area's types that the caller may read, narrowed by tag.
    async fn profile_metrics(
        &self,
        principal: &Principal,
        request: &GetAreaProfileRequest,
        area_types: &[AreaType],
    ) -> ServiceResult<Vec<MetricContext>> {
        let mut metrics = Vec::new();
        if request.metric_codes.is_empty() {
            let mut page_token = String::new();
            loop {
                let page = self
                    .definitions
                    .list_metrics(
                        principal,
                        ListMetricsRequest {
                            tag: request.tag.clone(),
                            // Every type: kept below when published at one of the area's.
                            page_size: 1_000,
                            page_token,
                            ..Default::default()
                        },
                    )
                    .await?;
                for metric in page.metrics {
                    if let Some(current) = metric.current
                        && let Some(spec) = current.spec
                    {
                        metrics.push(MetricContext::new(spec, current.version, principal));
                    }
                }
                if page.next_page_token.is_empty() {
                    break;
                }
                page_token = page.next_page_token;
            }
        } else {
            for (i, code) in request.metric_codes.iter().enumerate() {
                let metric = context::metric(&self.directory, principal, code, 0).await.map_err(|e| {
                    ServiceError::invalid_field(format!("metric_codes[{i}]"), "UNKNOWN_METRIC", e.message)
                })?;
                if metric.type_among(area_types).is_none() {
                    return Err(ServiceError::invalid_field(
                        format!("metric_codes[{i}]"),
                        "WRONG_AREA_TYPE",
                        format!("metric {code} is not published at the area's type"),
                    ));
                }
                if request.tag.is_empty() || metric.spec.tags.contains(&request.tag) {
                    metrics.push(metric);
                }
            }
        }
        metrics.retain(|m| m.type_among(area_types).is_some());
        metrics.sort_by(|a, b| a.code.cmp(&b.code));
        metrics.dedup_by(|a, b| a.code == b.code);
        Ok(metrics)
    }

    /// Returns one metric's row of a profile, the methods behind it and its data version.
    async fn profile_row(
        &self,
        principal: &Principal,
        request: &GetAreaProfileRequest,
        metric: &MetricContext,
        area_type: AreaType,
    ) -> ServiceResult<(ProfileMetric, Vec<MethodVersion>, Option<prost_types::Timestamp>)> {
        let mut row = ProfileMetric {
            metric_code: metric.code.clone(),
            metric_version: metric.version,
            title: metric.spec.title.clone(),
            unit: metric.spec.unit.clone(),
            polarity: metric.proto_polarity(),
            period_code: request.period_code.clone(),
            comparison: ComparisonResult::NotCompared as i32,
            suppression_reason: StatisticSuppressionReason::NoData as i32,
            ..Default::default()
        };
        // A period of another type than the metric's has no data for it, rather than failing
        // the whole profile.
        if metric.period(&request.period_code, "period_code").is_err() {
            return Ok((row, Vec::new(), None));
        }
        let compared = self
            .compare_all(
                principal,
                CompareAreasRequest {
                    metric_code: metric.code.clone(),
                    metric_version: metric.version,
                    period_code: request.period_code.clone(),
                    area_type: area_type as i32,
                    benchmark: request.benchmark.clone(),
                    comparison_level: request.comparison_level,
                    as_of: request.as_of,
                    quantiles: request.quantiles,
                    quantiles_within_parent: request.quantiles_within_parent,
                    ..Default::default()
                },
            )
            .await?;
        let trend = self
            .trend(
                principal,
                GetTrendRequest {
                    metric_code: metric.code.clone(),
                    metric_version: metric.version,
                    area_code: request.area_code.clone(),
                    benchmark: request.benchmark.clone(),
                    comparison_level: request.comparison_level,
                    as_of: request.as_of,
                    ..Default::default()
                },
            )
            .await?;
        row.period_code = compared.period_code.clone();
        row.range = Some(spine_range(&compared.areas));
        row.trend = trend.trend;
        row.data_generation = compared.data_generation;
        if let Some(area) = compared.areas.iter().find(|a| a.area_code == request.area_code) {
            row.numerator = area.numerator;
            row.denominator = area.denominator;
            row.value = area.value;
            row.limits = area.limits;
            row.benchmark_value = area.benchmark_value;
            row.comparison = area.comparison;
            row.quintile = area.quintile;
            row.quantile = area.quantile;
            row.suppressed = area.suppressed;
            row.suppression_reason = area.suppression_reason;
            row.aggregation = area.aggregation.clone();
        }
        let mut methods = compared.method_versions;
        methods.extend(trend.method_versions);
        let version = match (compared.data_version, trend.data_version) {
            (Some(a), Some(b)) => Some(if (a.seconds, a.nanos) >= (b.seconds, b.nanos) { a } else { b }),
            (a, b) => a.or(b),
        };
        Ok((row, methods, version))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quartiles_interpolate_between_order_statistics() {
        assert_eq!(quantile(&[], 0.25), None);
        assert_eq!(quantile(&[7.0], 0.75), Some(7.0));
        // R: quantile(c(1, 2, 3, 4), c(.25, .75)) gives 1.75 and 3.25.
        assert_eq!(quantile(&[1.0, 2.0, 3.0, 4.0], 0.25), Some(1.75));
        assert_eq!(quantile(&[1.0, 2.0, 3.0, 4.0], 0.75), Some(3.25));
        let areas: Vec<AreaComparison> = [Some(4.0), None, Some(1.0), Some(3.0), Some(2.0)]
            .into_iter()
            .map(|value| AreaComparison { value, ..Default::default() })
            .collect();
        let range = spine_range(&areas);
        assert_eq!((range.lowest, range.highest, range.percentile_25), (Some(1.0), Some(4.0), Some(1.75)));
    }

    #[test]
    fn the_filter_keeps_only_worse_and_getting_worse() {
        let row = |comparison: ComparisonResult, judgement: TrendJudgement| ProfileMetric {
            comparison: comparison as i32,
            trend: Some(TrendResult { judgement: judgement as i32, ..Default::default() }),
            ..Default::default()
        };
        assert!(worse_and_worsening(&row(ComparisonResult::Worse, TrendJudgement::GettingWorse)));
        assert!(worse_and_worsening(&row(ComparisonResult::MuchWorse, TrendJudgement::GettingWorse)));
        assert!(!worse_and_worsening(&row(ComparisonResult::Worse, TrendJudgement::NoChange)));
        assert!(!worse_and_worsening(&row(ComparisonResult::Similar, TrendJudgement::GettingWorse)));
        assert!(!worse_and_worsening(&row(ComparisonResult::Higher, TrendJudgement::NotJudged)));
    }
}

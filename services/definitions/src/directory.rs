//! The definitions service as the other services read it: the area hierarchies, the
//! organisations and the metric look-up, fetched through [`DefinitionsApi`] (in process or over
//! gRPC, never from its tables). Areas and organisations change only with an import, which
//! happens at start, so they are loaded once per process, on first use or at warm-up, and one
//! [`Directory`] serves every role of the process.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use sharedmetrics_access::Principal;
use sharedmetrics_access::policy::{self, Decision, SubmitScope};
use sharedmetrics_cache::DataVersions;
use sharedmetrics_error::{ServiceError, ServiceResult};
use sharedmetrics_proto::sharedmetrics::common::v1::{AreaType, OrganisationType};
use sharedmetrics_proto::sharedmetrics::definitions::v1::{
    Area, GetAreaRequest, GetMetricRequest, ListAreasRequest, ListOrganisationsRequest, Metric, MetricStatus,
    MetricVersion, Organisation, Visibility,
};
use tokio::sync::OnceCell;

use crate::DefinitionsApi;

/// England's GSS code.
pub const ENGLAND: &str = "E92000001";

/// Area types from the smallest to the largest, the order aggregation looks for source data in.
pub const FINEST_FIRST: [AreaType; 9] = [
    AreaType::Lsoa,
    AreaType::Ward,
    AreaType::LocalAuthorityDistrict,
    AreaType::UpperTierLocalAuthority,
    AreaType::SubIcbLocation,
    AreaType::Icb,
    AreaType::Region,
    AreaType::NhsRegion,
    AreaType::England,
];

/// One area: its type, its ancestors on every hierarchy, its IMD decile and population.
#[derive(Clone, Debug, PartialEq)]
pub struct AreaInfo {
    /// GSS code.
    pub code: String,
    /// Name.
    pub name: String,
    /// Area type.
    pub area_type: AreaType,
    /// Other area types the area also counts as (a unitary authority is a district and an
    /// upper-tier authority).
    pub also_types: Vec<AreaType>,
    /// Every ancestor's code, in both hierarchies.
    pub ancestors: Vec<String>,
    /// IMD 2019 decile (LSOAs only), 1 the most deprived.
    pub imd_decile: Option<u32>,
    /// Resident population.
    pub population: u64,
    /// The boundary vintage a new authority was introduced in, if it did not exist before.
    pub introduced_in: Option<i32>,
    /// The first boundary vintage the area is no longer part of, if it has been replaced.
    pub replaced_in: Option<i32>,
}

/// Returns the day a boundary vintage's changes take effect: local government reorganisations
/// (and the boundary sets named for them) take effect on 1 April.
fn boundary_day(vintage: i32) -> Option<chrono::NaiveDate> {
    chrono::NaiveDate::from_ymd_opt(vintage, 4, 1)
}

impl AreaInfo {
    /// Returns why the area holds no figures for `period`, if it does not: the period ends
    /// before the area was introduced, or starts once it was replaced.
    pub fn invalid_for(&self, period: &sharedmetrics_periods::Period) -> Option<String> {
        if let Some(day) = self.introduced_in.and_then(boundary_day)
            && period.end_date() < day
        {
            return Some(format!(
                "{} ({}) is an area of the {} boundaries, from {day}; period {period} ends before it",
                self.code,
                self.name,
                self.introduced_in.unwrap_or_default()
            ));
        }
        if let Some(day) = self.replaced_in.and_then(boundary_day)
            && period.start_date() >= day
        {
            return Some(format!(
                "{} ({}) is not in the {} boundaries, which replaced it on {day}; period {period} starts after",
                self.code,
                self.name,
                self.replaced_in.unwrap_or_default()
            ));
        }
        None
    }

    /// Returns whether the area is of `area_type`, as its own type or one it also counts as.
    pub fn is(&self, area_type: AreaType) -> bool {
        self.area_type == area_type || self.also_types.contains(&area_type)
    }

    /// Returns the area's types: its own first, then those it also counts as.
    pub fn types(&self) -> Vec<AreaType> {
        std::iter::once(self.area_type).chain(self.also_types.iter().copied()).collect()
    }

    /// Returns the area as the definitions service describes it.
    pub fn from_area(area: &Area) -> Self {
        Self {
            code: area.code.clone(),
            name: area.name.clone(),
            area_type: AreaType::try_from(area.r#type).unwrap_or(AreaType::Unspecified),
            also_types: area.also_types.iter().filter_map(|t| AreaType::try_from(*t).ok()).collect(),
            ancestors: area.parents.iter().map(|p| p.code.clone()).collect(),
            imd_decile: area.deprivation.as_ref().map(|d| d.imd_decile).filter(|d| (1..=10).contains(d)),
            population: area.population,
            introduced_in: area.introduced_in.parse().ok(),
            replaced_in: area.replaced_in.parse().ok(),
        }
    }
}

/// Every area, with descendants indexed by ancestor, and the organisations' weighted catchments.
#[derive(Debug, Default)]
pub struct AreaIndex {
    areas: HashMap<String, AreaInfo>,
    descendants: HashMap<String, Vec<String>>,
    /// Each acute trust's catchment: (authority or ICB, share of its admissions); the shares
    /// of each of the two kinds sum to 1.
    catchments: HashMap<String, Vec<(String, f64)>>,
}

impl AreaIndex {
    /// Returns the index of `areas`.
    pub fn new(areas: Vec<AreaInfo>) -> Self {
        let mut descendants: HashMap<String, Vec<String>> = HashMap::new();
        for area in &areas {
            for ancestor in &area.ancestors {
                descendants.entry(ancestor.clone()).or_default().push(area.code.clone());
            }
        }
        for codes in descendants.values_mut() {
            codes.sort();
        }
        Self {
            areas: areas.into_iter().map(|a| (a.code.clone(), a)).collect(),
            descendants,
            catchments: HashMap::new(),
        }
    }

    /// Returns the index with the organisations' weighted catchments (organisation → (area,
    /// share of its admissions)).
    pub fn with_catchments(mut self, catchments: HashMap<String, Vec<(String, f64)>>) -> Self {
        self.catchments = catchments;
        self
    }

    /// Returns every organisation's weighted catchment.
    pub fn catchments(&self) -> impl Iterator<Item = (&String, &Vec<(String, f64)>)> {
        self.catchments.iter()
    }

    /// Returns an organisation's weighted catchment, if it has one.
    pub fn catchment(&self, organisation: &str) -> Option<&[(String, f64)]> {
        self.catchments.get(organisation).map(Vec::as_slice)
    }

    /// Returns how many areas there are.
    pub fn len(&self) -> usize {
        self.areas.len()
    }

    /// Returns whether there are no areas.
    pub fn is_empty(&self) -> bool {
        self.areas.is_empty()
    }

    /// Returns one area.
    pub fn get(&self, code: &str) -> Option<&AreaInfo> {
        self.areas.get(code)
    }

    /// Returns every area of a type, by code.
    pub fn of_type(&self, area_type: AreaType) -> Vec<&AreaInfo> {
        let mut areas: Vec<&AreaInfo> = self.areas.values().filter(|a| a.is(area_type)).collect();
        areas.sort_by(|a, b| a.code.cmp(&b.code));
        areas
    }

    /// Returns the descendants of `code` of one type, by code.
    pub fn descendants_of_type(&self, code: &str, area_type: AreaType) -> Vec<&AreaInfo> {
        self.descendants
            .get(code)
            .map(|codes| codes.iter().filter_map(|c| self.areas.get(c)).filter(|a| a.is(area_type)).collect())
            .unwrap_or_default()
    }

    /// Returns whether `code` lies within `ancestor` (or is it).
    pub fn within(&self, code: &str, ancestor: &str) -> bool {
        code == ancestor || self.areas.get(code).is_some_and(|a| a.ancestors.iter().any(|c| c == ancestor))
    }

    /// Returns the ancestor of `code` of one type.
    pub fn ancestor_of_type(&self, code: &str, area_type: AreaType) -> Option<&AreaInfo> {
        let area = self.areas.get(code)?;
        area.ancestors.iter().filter_map(|c| self.areas.get(c)).find(|a| a.is(area_type))
    }

    /// Returns the types of the areas below `code`, smallest first: where aggregation may look.
    pub fn finer_types(&self, code: &str) -> Vec<AreaType> {
        let Some(codes) = self.descendants.get(code) else { return Vec::new() };
        FINEST_FIRST.into_iter().filter(|t| codes.iter().any(|c| self.areas.get(c).is_some_and(|a| a.is(*t)))).collect()
    }
}

/// How long a published version read for a kind of caller is kept (see
/// [`Directory::readable_version`]).
const READABLE_VERSION_TTL: Duration = Duration::from_secs(60);

/// Kept versions past which the oldest are dropped.
const READABLE_VERSIONS_KEPT: usize = 10_000;

/// The reference data a service reads from the definitions service, loaded once and shared.
pub struct Directory {
    definitions: Arc<dyn DefinitionsApi>,
    areas: OnceCell<Arc<AreaIndex>>,
    organisations: OnceCell<Arc<Vec<Organisation>>>,
    submit_scopes: OnceCell<Arc<HashMap<String, SubmitScope>>>,
    readable: Mutex<HashMap<String, (Instant, MetricVersion)>>,
    /// Where the definitions service moves a metric's generation on every change to it.
    generations: Option<DataVersions>,
    /// Current versions (version 0) per metric and kind of caller, with the generation they
    /// were read at.
    current: Mutex<HashMap<String, (u64, MetricVersion)>>,
    /// The share of a trust's admissions that puts an authority in its catchment.
    catchment_min_share: f64,
}

/// The name, among the data generations, of the generation of metric `code`'s definition:
/// the definitions service moves it on every change to the metric.
pub fn definition_generation(code: &str) -> String {
    format!("definition:{code}")
}

/// The key a version is kept under for a kind of caller: who may read a metric follows from
/// the caller's organisation, national standing and roles.
fn caller_key(principal: &Principal, code: &str, version: u32) -> String {
    format!(
        "{code}@{version}:{}:{}:{}",
        principal.organisation,
        principal.is_national(),
        principal.roles.iter().map(|r| r.name()).collect::<Vec<_>>().join(",")
    )
}

/// Drops everything kept once a map holds this many entries (a bound, not an eviction policy:
/// the entries are cheap to read again).
fn bounded<V>(kept: &mut HashMap<String, V>, stale: impl Fn(&V) -> bool) {
    if kept.len() >= READABLE_VERSIONS_KEPT {
        kept.retain(|_, v| !stale(v));
        if kept.len() >= READABLE_VERSIONS_KEPT {
            kept.clear();
        }
    }
}

impl Directory {
    /// Returns a directory reading from `definitions`.
    pub fn new(definitions: Arc<dyn DefinitionsApi>) -> Self {
        Self {
            definitions,
            areas: OnceCell::new(),
            organisations: OnceCell::new(),
            submit_scopes: OnceCell::new(),
            readable: Mutex::default(),
            generations: None,
            current: Mutex::default(),
            catchment_min_share: sharedmetrics_access::policy::DEFAULT_CATCHMENT_MIN_SHARE,
        }
    }

    /// Returns the directory with `share` of a trust's admissions as the least that puts an
    /// authority in its catchment for submitting.
    pub fn with_catchment_min_share(mut self, share: f64) -> Self {
        self.catchment_min_share = share;
        self
    }

    /// Returns the directory keeping current versions while their metric's generation in
    /// `generations` stays put. Only where every change reaches `generations`: shared through
    /// Redis, or the definitions service in this process.
    pub fn with_generations(mut self, generations: DataVersions) -> Self {
        self.generations = Some(generations);
        self
    }

    /// Returns the definitions API the directory reads.
    pub fn definitions(&self) -> &Arc<dyn DefinitionsApi> {
        &self.definitions
    }

    /// Returns the area hierarchies, loading them on first use (seconds: every area of England).
    pub async fn areas(&self, principal: &Principal) -> ServiceResult<Arc<AreaIndex>> {
        self.areas
            .get_or_try_init(|| async {
                let started = std::time::Instant::now();
                let areas = every_page(|page_token| async {
                    let page = self
                        .definitions
                        .list_areas(principal, ListAreasRequest { page_size: 1_000, page_token, ..Default::default() })
                        .await?;
                    Ok((page.areas.iter().map(AreaInfo::from_area).collect(), page.next_page_token))
                })
                .await?;
                let catchments = self
                    .organisations(principal)
                    .await?
                    .iter()
                    .filter(|o| !o.catchment.is_empty())
                    .map(|o| (o.code.clone(), o.catchment.iter().map(|c| (c.area_code.clone(), c.weight)).collect()))
                    .collect();
                tracing::info!(
                    areas = areas.len(),
                    elapsed_ms = started.elapsed().as_millis() as u64,
                    "area hierarchies loaded"
                );
                Ok(Arc::new(AreaIndex::new(areas).with_catchments(catchments)))
            })
            .await
            .cloned()
    }

    /// Returns every organisation, loading them on first use.
    pub async fn organisations(&self, principal: &Principal) -> ServiceResult<Arc<Vec<Organisation>>> {
        self.organisations
            .get_or_try_init(|| async {
                let organisations = every_page(|page_token| async {
                    let request = ListOrganisationsRequest { page_size: 1_000, page_token, ..Default::default() };
                    let page = self.definitions.list_organisations(principal, request).await?;
                    Ok((page.organisations, page.next_page_token))
                })
                .await?;
                Ok(Arc::new(organisations))
            })
            .await
            .cloned()
    }

    /// Returns what each organisation may submit for, by code: the area it governs and, for a
    /// trust, the authorities of its weighted catchment holding at least the minimum share of
    /// its admissions, or without one the areas of the organisations it is listed under (built
    /// once from the organisations).
    pub async fn submit_scopes(&self, principal: &Principal) -> ServiceResult<Arc<HashMap<String, SubmitScope>>> {
        self.submit_scopes
            .get_or_try_init(|| async {
                let organisations = self.organisations(principal).await?;
                let governed: HashMap<&str, &str> = organisations
                    .iter()
                    .filter(|o| !o.area_code.is_empty())
                    .map(|o| (o.code.as_str(), o.area_code.as_str()))
                    .collect();
                let scopes = organisations
                    .iter()
                    .map(|o| {
                        let is_trust = o.r#type == OrganisationType::NhsTrust as i32;
                        let parent_areas =
                            o.parent_codes.iter().filter_map(|p| governed.get(p.as_str())).map(|a| (*a).to_owned());
                        // Submitting follows the authorities; the ICB shares only apportion figures.
                        let shares = o
                            .catchment
                            .iter()
                            .filter(|c| c.area_type != AreaType::Icb as i32)
                            .map(|c| (c.area_code.clone(), c.weight))
                            .collect();
                        let scope = SubmitScope::of(&o.area_code, is_trust, parent_areas)
                            .with_catchment(shares, self.catchment_min_share);
                        (o.code.clone(), scope)
                    })
                    .collect();
                Ok(Arc::new(scopes))
            })
            .await
            .cloned()
    }

    /// Returns the policy's decision on `organisation` submitting for area (or organisation)
    /// `code`. The area's ancestors come from the hierarchies when this process has loaded
    /// them, else from one look-up: explaining a decision does not load every area of England.
    pub async fn submit_decision(
        &self,
        principal: &Principal,
        organisation: &str,
        code: &str,
    ) -> ServiceResult<Decision> {
        let scopes = self.submit_scopes(principal).await?;
        let empty = SubmitScope::default();
        let scope = scopes.get(organisation).unwrap_or(&empty);
        let ancestors: Vec<String> = match self.areas.get() {
            Some(index) => index.get(code).map(|a| a.ancestors.clone()).unwrap_or_default(),
            None => match self.definitions.get_area(principal, GetAreaRequest { code: code.to_owned() }).await {
                Ok(found) => found.area.map(|a| a.parents.into_iter().map(|p| p.code).collect()).unwrap_or_default(),
                Err(error) if error.code == sharedmetrics_error::ErrorCode::NotFound => Vec::new(),
                Err(error) => return Err(error),
            },
        };
        Ok(policy::submit_scope(organisation, scope, code, &ancestors))
    }

    /// Returns the metric version a request names (see [`metric_version`]). The current
    /// version (0) is kept per kind of caller until the metric's definition generation moves
    /// (a new, published or deprecated version); it is read afresh while the generation cannot
    /// be known (no shared generations, Redis down) and for metrics shared with partners
    /// (whose audience moves with peer groups).
    pub async fn metric_version(
        &self,
        principal: &Principal,
        code: &str,
        version: u32,
    ) -> ServiceResult<MetricVersion> {
        let generation = match &self.generations {
            Some(generations) if version == 0 && !code.is_empty() => {
                generations.current(&definition_generation(code)).await
            }
            _ => None,
        };
        let Some(generation) = generation else {
            return metric_version(self.definitions.as_ref(), principal, code, version).await;
        };
        let key = caller_key(principal, code, 0);
        if let Some((kept_at, kept)) = lock(&self.current).get(&key)
            && *kept_at == generation
        {
            return Ok(kept.clone());
        }
        // Read after the generation: a change committed meanwhile moves it past what is kept.
        let found = metric_version(self.definitions.as_ref(), principal, code, 0).await?;
        if found.spec.as_ref().is_none_or(|s| s.visibility() != Visibility::Partners) {
            let mut kept = lock(&self.current);
            bounded(&mut kept, |_| true);
            kept.insert(key, (generation, found.clone()));
        }
        Ok(found)
    }

    /// Returns a metric version for reading its data, as [`Directory::metric_version`] does, but
    /// kept for a minute per kind of caller (organisation, national, roles) when nothing about
    /// it can change meanwhile: a version named by number (not 0, the current one, which moves
    /// with publication), published or deprecated (its spec is immutable, so who may read it
    /// follows from it), and not visible to partners (peer groups change). Its status may still
    /// turn from published to deprecated; readers of data do not look at it.
    pub async fn readable_version(
        &self,
        principal: &Principal,
        code: &str,
        version: u32,
    ) -> ServiceResult<MetricVersion> {
        let key = caller_key(principal, code, version);
        if version != 0
            && let Some((at, kept)) = lock(&self.readable).get(&key)
            && at.elapsed() < READABLE_VERSION_TTL
        {
            return Ok(kept.clone());
        }
        let found = self.metric_version(principal, code, version).await?;
        let status = MetricStatus::try_from(found.status).unwrap_or(MetricStatus::Unspecified);
        let partners = found.spec.as_ref().is_some_and(|s| s.visibility() == Visibility::Partners);
        if version != 0 && matches!(status, MetricStatus::Published | MetricStatus::Deprecated) && !partners {
            let mut kept = lock(&self.readable);
            bounded(&mut kept, |(at, _)| at.elapsed() >= READABLE_VERSION_TTL);
            kept.insert(key, (Instant::now(), found.clone()));
        }
        Ok(found)
    }
}

fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// Returns the metric a request names, with `current` the version it names (version 0: the
/// current one), as `principal` may read it: INVALID_ARGUMENT when the code is empty (field
/// `metric_code`), NOT_FOUND when there is no such metric or version (or the principal may not
/// see it). The one metric look-up of the services.
pub async fn metric(
    definitions: &dyn DefinitionsApi,
    principal: &Principal,
    code: &str,
    version: u32,
) -> ServiceResult<Metric> {
    if code.is_empty() {
        return Err(ServiceError::invalid_field("metric_code", "REQUIRED", "metric_code is required"));
    }
    let response = definitions.get_metric(principal, GetMetricRequest { code: code.to_owned(), version }).await?;
    response.metric.filter(|m| m.current.is_some()).ok_or_else(|| ServiceError::not_found("metric", code))
}

/// Returns the metric version a request names (see [`metric`]).
pub async fn metric_version(
    definitions: &dyn DefinitionsApi,
    principal: &Principal,
    code: &str,
    version: u32,
) -> ServiceResult<MetricVersion> {
    let metric = metric(definitions, principal, code, version).await?;
    metric.current.ok_or_else(|| ServiceError::not_found("metric", code))
}

/// Collects every page of a paged listing: `page` maps a page token to one page's items and the
/// next token (empty after the last page).
async fn every_page<T, F, Fut>(mut page: F) -> ServiceResult<Vec<T>>
where
    F: FnMut(String) -> Fut,
    Fut: Future<Output = ServiceResult<(Vec<T>, String)>>,
{
    let mut out = Vec::new();
    let mut token = String::new();
    loop {
        let (items, next) = page(token).await?;
        out.extend(items);
        if next.is_empty() {
            return Ok(out);
        }
        token = next;
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    fn area(code: &str, area_type: AreaType, ancestors: &[&str]) -> AreaInfo {
        AreaInfo {
            code: code.to_owned(),
            name: format!("{code} name"),
            area_type,
            also_types: Vec::new(),
            ancestors: ancestors.iter().map(|a| (*a).to_owned()).collect(),
            imd_decile: None,
            population: 1000,
            introduced_in: None,
            replaced_in: None,
        }
    }

    #[test]
    fn an_area_is_valid_for_the_periods_its_boundaries_cover() {
        let period = |code: &str| sharedmetrics_periods::Period::parse(code).unwrap();
        let cumbria = AreaInfo { replaced_in: Some(2023), ..area("E10000006", AreaType::UpperTierLocalAuthority, &[]) };
        let cumberland =
            AreaInfo { introduced_in: Some(2023), ..area("E06000063", AreaType::UpperTierLocalAuthority, &[]) };
        assert_eq!(cumbria.invalid_for(&period("2022/23")), None);
        let why = cumbria.invalid_for(&period("2023/24")).expect("replaced on 1 April 2023");
        assert!(why.contains("2023 boundaries") && why.contains("2023-04-01"), "{why}");
        assert!(cumbria.invalid_for(&period("2023")).is_none(), "calendar 2023 overlaps its last quarter");
        assert!(cumberland.invalid_for(&period("2022/23")).is_some());
        assert_eq!(cumberland.invalid_for(&period("2023/24")), None);
    }

    #[test]
    fn descendants_and_ancestors_follow_the_hierarchy() {
        let index = AreaIndex::new(vec![
            area(ENGLAND, AreaType::England, &[]),
            area("R1", AreaType::Region, &[ENGLAND]),
            area("D1", AreaType::LocalAuthorityDistrict, &["R1", ENGLAND]),
            area("D2", AreaType::LocalAuthorityDistrict, &["R1", ENGLAND]),
            area("L1", AreaType::Lsoa, &["D1", "R1", ENGLAND]),
            area("L2", AreaType::Lsoa, &["D1", "R1", ENGLAND]),
            area("L3", AreaType::Lsoa, &["D2", "R1", ENGLAND]),
        ]);
        let codes = |areas: Vec<&AreaInfo>| areas.iter().map(|a| a.code.clone()).collect::<Vec<_>>();
        assert_eq!(codes(index.descendants_of_type("D1", AreaType::Lsoa)), ["L1", "L2"]);
        assert_eq!(codes(index.descendants_of_type(ENGLAND, AreaType::LocalAuthorityDistrict)), ["D1", "D2"]);
        assert_eq!(index.ancestor_of_type("L3", AreaType::Region).map(|a| a.code.as_str()), Some("R1"));
        assert_eq!(index.finer_types("R1"), [AreaType::Lsoa, AreaType::LocalAuthorityDistrict]);
        assert!(index.finer_types("L1").is_empty());
        assert!(index.within("L3", "R1") && index.within("R1", "R1") && !index.within("L3", "D1"));
        assert_eq!(index.len(), 7);
    }

    #[tokio::test]
    async fn pages_are_followed_to_the_last() {
        let pages = every_page(|token| async move {
            Ok(match token.as_str() {
                "" => (vec![1, 2], "b".to_owned()),
                "b" => (vec![3], "c".to_owned()),
                _ => (vec![4], String::new()),
            })
        })
        .await
        .unwrap();
        assert_eq!(pages, [1, 2, 3, 4]);
    }
}

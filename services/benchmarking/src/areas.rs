//! The area hierarchies in memory: every area with its ancestors (both LSOA → ward → district →
//! region → England and LSOA → ICB → NHS region → England), its IMD decile and population, read
//! once from the definitions service and kept for the life of the process (the reference data
//! changes only with a new import, which restarts the platform).

use std::collections::HashMap;
use std::sync::Arc;

use sharedmetrics_access::Principal;
use sharedmetrics_definitions::DefinitionsApi;
use sharedmetrics_error::ServiceResult;
use sharedmetrics_proto::sharedmetrics::common::v1::AreaType;
use sharedmetrics_proto::sharedmetrics::definitions::v1::{Area, ListAreasRequest};

/// England's GSS code.
pub(crate) const ENGLAND: &str = "E92000001";

/// Area types from the smallest to the largest, the order aggregation looks for source data in.
const FINEST_FIRST: [AreaType; 8] = [
    AreaType::Lsoa,
    AreaType::Ward,
    AreaType::LocalAuthorityDistrict,
    AreaType::UpperTierLocalAuthority,
    AreaType::Icb,
    AreaType::Region,
    AreaType::NhsRegion,
    AreaType::England,
];

/// One area as benchmarking needs it.
#[derive(Clone, Debug, PartialEq)]
pub(crate) struct AreaInfo {
    pub code: String,
    pub name: String,
    pub area_type: AreaType,
    /// Every ancestor's code, in both hierarchies.
    pub ancestors: Vec<String>,
    /// IMD 2019 decile (LSOAs only), 1 the most deprived.
    pub imd_decile: Option<u32>,
    pub population: u64,
}

impl AreaInfo {
    /// Returns the area as the definitions service describes it.
    pub fn from_area(area: &Area) -> Self {
        Self {
            code: area.code.clone(),
            name: area.name.clone(),
            area_type: AreaType::try_from(area.r#type).unwrap_or(AreaType::Unspecified),
            ancestors: area.parents.iter().map(|p| p.code.clone()).collect(),
            imd_decile: area.deprivation.as_ref().map(|d| d.imd_decile).filter(|d| (1..=10).contains(d)),
            population: area.population,
        }
    }
}

/// Every area, with descendants indexed by ancestor.
#[derive(Debug, Default)]
pub(crate) struct AreaIndex {
    areas: HashMap<String, AreaInfo>,
    descendants: HashMap<String, Vec<String>>,
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
        Self { areas: areas.into_iter().map(|a| (a.code.clone(), a)).collect(), descendants }
    }

    /// Returns one area.
    pub fn get(&self, code: &str) -> Option<&AreaInfo> {
        self.areas.get(code)
    }

    /// Returns every area of a type, by code.
    pub fn of_type(&self, area_type: AreaType) -> Vec<&AreaInfo> {
        let mut areas: Vec<&AreaInfo> = self.areas.values().filter(|a| a.area_type == area_type).collect();
        areas.sort_by(|a, b| a.code.cmp(&b.code));
        areas
    }

    /// Returns the descendants of `code` of one type, by code.
    pub fn descendants_of_type(&self, code: &str, area_type: AreaType) -> Vec<&AreaInfo> {
        self.descendants
            .get(code)
            .map(|codes| codes.iter().filter_map(|c| self.areas.get(c)).filter(|a| a.area_type == area_type).collect())
            .unwrap_or_default()
    }

    /// Returns whether `code` lies within `ancestor` (or is it).
    pub fn within(&self, code: &str, ancestor: &str) -> bool {
        code == ancestor || self.areas.get(code).is_some_and(|a| a.ancestors.iter().any(|c| c == ancestor))
    }

    /// Returns the ancestor of `code` of one type.
    pub fn ancestor_of_type(&self, code: &str, area_type: AreaType) -> Option<&AreaInfo> {
        let area = self.areas.get(code)?;
        area.ancestors.iter().filter_map(|c| self.areas.get(c)).find(|a| a.area_type == area_type)
    }

    /// Returns the types of the areas below `code`, smallest first: where aggregation may look.
    pub fn finer_types(&self, code: &str) -> Vec<AreaType> {
        let Some(codes) = self.descendants.get(code) else { return Vec::new() };
        FINEST_FIRST
            .into_iter()
            .filter(|t| codes.iter().any(|c| self.areas.get(c).is_some_and(|a| a.area_type == *t)))
            .collect()
    }
}

/// Returns every area from the definitions service, one page of 1,000 at a time.
pub(crate) async fn load(definitions: &Arc<dyn DefinitionsApi>, principal: &Principal) -> ServiceResult<AreaIndex> {
    let mut areas = Vec::new();
    let mut page_token = String::new();
    loop {
        let page = definitions
            .list_areas(principal, ListAreasRequest { page_size: 1_000, page_token, ..Default::default() })
            .await?;
        areas.extend(page.areas.iter().map(AreaInfo::from_area));
        if page.next_page_token.is_empty() {
            break;
        }
        page_token = page.next_page_token;
    }
    tracing::info!(areas = areas.len(), "benchmarking loaded the area hierarchies");
    Ok(AreaIndex::new(areas))
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    pub(crate) fn area(code: &str, area_type: AreaType, ancestors: &[&str], decile: Option<u32>) -> AreaInfo {
        AreaInfo {
            code: code.to_owned(),
            name: format!("{code} name"),
            area_type,
            ancestors: ancestors.iter().map(|a| (*a).to_owned()).collect(),
            imd_decile: decile,
            population: 1000,
        }
    }

    /// England, one region with two districts, each with two LSOAs (deciles 1, 2, 5, 9).
    pub(crate) fn small_country() -> AreaIndex {
        AreaIndex::new(vec![
            area(ENGLAND, AreaType::England, &[], None),
            area("R1", AreaType::Region, &[ENGLAND], None),
            area("D1", AreaType::LocalAuthorityDistrict, &["R1", ENGLAND], None),
            area("D2", AreaType::LocalAuthorityDistrict, &["R1", ENGLAND], None),
            area("L1", AreaType::Lsoa, &["D1", "R1", ENGLAND], Some(1)),
            area("L2", AreaType::Lsoa, &["D1", "R1", ENGLAND], Some(2)),
            area("L3", AreaType::Lsoa, &["D2", "R1", ENGLAND], Some(5)),
            area("L4", AreaType::Lsoa, &["D2", "R1", ENGLAND], Some(9)),
        ])
    }

    #[test]
    fn descendants_and_ancestors_follow_the_hierarchy() {
        let index = small_country();
        let codes = |areas: Vec<&AreaInfo>| areas.iter().map(|a| a.code.clone()).collect::<Vec<_>>();
        assert_eq!(codes(index.descendants_of_type("D1", AreaType::Lsoa)), ["L1", "L2"]);
        assert_eq!(codes(index.descendants_of_type(ENGLAND, AreaType::LocalAuthorityDistrict)), ["D1", "D2"]);
        assert_eq!(index.ancestor_of_type("L3", AreaType::Region).map(|a| a.code.as_str()), Some("R1"));
        assert_eq!(index.finer_types("R1"), [AreaType::Lsoa, AreaType::LocalAuthorityDistrict]);
        assert!(index.finer_types("L1").is_empty());
        assert!(index.within("L4", "R1") && index.within("R1", "R1") && !index.within("L4", "D1"));
    }
}

//! The area hierarchies as benchmarking reads them: the index of the shared
//! [`sharedmetrics_definitions::directory::Directory`], loaded once per process.

pub(crate) use sharedmetrics_definitions::directory::{AreaIndex, ENGLAND};

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use sharedmetrics_definitions::directory::AreaInfo;
    use sharedmetrics_proto::sharedmetrics::common::v1::AreaType;

    pub(crate) fn area(code: &str, area_type: AreaType, ancestors: &[&str], decile: Option<u32>) -> AreaInfo {
        AreaInfo {
            code: code.to_owned(),
            name: format!("{code} name"),
            area_type,
            also_types: Vec::new(),
            ancestors: ancestors.iter().map(|a| (*a).to_owned()).collect(),
            imd_decile: decile,
            population: 1000,
            introduced_in: None,
            replaced_in: None,
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
}

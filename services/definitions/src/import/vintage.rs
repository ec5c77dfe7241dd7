//! Boundary vintages. The files mix 2011 LSOAs, 2019 wards and districts, 2018 regions, 2021
//! upper tiers and 2022 NHS geography; each area records the vintage it belongs to. A 2019
//! district that a later authority replaced (Buckinghamshire, 2020; North and West
//! Northamptonshire, 2021) records its successors, found through its LSOAs' 2022 lower-tier
//! authorities, and each successor its predecessors.

use std::collections::{BTreeMap, BTreeSet};

use sharedmetrics_proto::Label;
use sharedmetrics_proto::sharedmetrics::common::v1::AreaType;

use crate::convert;
use crate::entity::area;

/// The vintage of the boundaries an area type comes from in the reference data.
fn vintage_of(area_type: AreaType) -> Option<&'static str> {
    match area_type {
        AreaType::Lsoa => Some("2011"),
        AreaType::Ward | AreaType::LocalAuthorityDistrict => Some("2019"),
        AreaType::Region => Some("2018"),
        AreaType::UpperTierLocalAuthority => Some("2021"),
        AreaType::SubIcbLocation | AreaType::Icb => Some("2022"),
        _ => None,
    }
}

/// Records each area's vintage, and the successors of the districts replaced since 2019 (and
/// their predecessors), from `districts_of_lsoas`: each LSOA's 2019 district and 2022 lower tier.
pub(super) fn apply<'a>(areas: &mut [area::Model], districts_of_lsoas: impl Iterator<Item = (&'a str, &'a str)>) {
    let mut later: BTreeMap<&str, BTreeSet<&str>> = BTreeMap::new();
    for (district, lower) in districts_of_lsoas {
        later.entry(district).or_default().insert(lower);
    }
    let codes: BTreeSet<String> = areas.iter().map(|a| a.code.clone()).collect();
    // A district none of whose LSOAs lies in it any longer was replaced by the authorities they lie in.
    let mut successors: BTreeMap<String, Vec<String>> = BTreeMap::new();
    let mut predecessors: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for (district, lowers) in &later {
        if lowers.contains(district) || !lowers.iter().all(|l| codes.contains(*l)) {
            continue;
        }
        for lower in lowers {
            successors.entry((*district).to_owned()).or_default().push((*lower).to_owned());
            predecessors.entry((*lower).to_owned()).or_default().push((*district).to_owned());
        }
    }
    for area in areas {
        let area_type = AreaType::from_label(&area.area_type).unwrap_or(AreaType::Unspecified);
        area.vintage = vintage_of(area_type).map(str::to_owned);
        area.successor_codes = successors.get(&area.code).and_then(|c| convert::code_list_column(c));
        area.predecessor_codes = predecessors.get(&area.code).and_then(|c| convert::code_list_column(c));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn area(code: &str, area_type: AreaType) -> area::Model {
        crate::import::blank_area(code, code, area_type, None)
    }

    #[test]
    fn a_replaced_district_names_its_successor_and_the_successor_its_predecessors() {
        let mut areas = vec![
            area("CORBY", AreaType::LocalAuthorityDistrict),
            area("KETTERING", AreaType::LocalAuthorityDistrict),
            area("LEEDS", AreaType::LocalAuthorityDistrict),
            area("NORTH", AreaType::UpperTierLocalAuthority),
        ];
        let lsoas = [("CORBY", "NORTH"), ("KETTERING", "NORTH"), ("LEEDS", "LEEDS"), ("CORBY", "NORTH")];
        apply(&mut areas, lsoas.into_iter());
        assert_eq!(areas[0].successor_codes.as_deref(), Some(",NORTH,"));
        assert_eq!(areas[2].successor_codes, None, "Leeds is unchanged");
        assert_eq!(areas[3].predecessor_codes.as_deref(), Some(",CORBY,KETTERING,"));
        assert_eq!((areas[0].vintage.as_deref(), areas[3].vintage.as_deref()), (Some("2019"), Some("2021")));
    }
}

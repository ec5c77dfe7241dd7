//! Boundary vintages. The files mix 2011 LSOAs, 2019 wards and districts, 2018 regions, 2021
//! upper tiers and 2022 NHS geography; each area records the vintage it belongs to. A 2019
//! district that a later authority replaced (Buckinghamshire, 2020; North and West
//! Northamptonshire, 2021) records its successors, found through its LSOAs' 2022 lower-tier
//! authorities, and each successor its predecessors; the successor is introduced in, and the
//! district replaced in, the successor's vintage. The 2023 upper tiers (after the Cumbria, North
//! Yorkshire and Somerset reorganisations) are held beside the 2021 ones: the 2021 authorities
//! absent from them are replaced in 2023, and the new ones introduced in 2023.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use anyhow::bail;
use serde::Deserialize;
use sharedmetrics_proto::Label;
use sharedmetrics_proto::sharedmetrics::common::v1::AreaType;

use crate::convert;
use crate::entity::area;

/// The lower → upper tier lookup of the April 2023 boundaries.
pub(super) const FILE_2023: &str = "geography/ltla23_utla23.csv";

/// The vintage of the 2023 upper tiers.
const VINTAGE_2023: &str = "2023";

/// One row of the 2023 lower → upper tier lookup.
#[derive(Deserialize)]
pub(super) struct UpperTier2023Row {
    ltla23_code: String,
    utla23_code: String,
    utla23_name: String,
}

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
    let vintage_of_code: HashMap<String, Option<&str>> = areas
        .iter()
        .map(|a| (a.code.clone(), vintage_of(AreaType::from_label(&a.area_type).unwrap_or(AreaType::Unspecified))))
        .collect();
    for area in areas {
        area.vintage = vintage_of_code[&area.code].map(str::to_owned);
        area.successor_codes = successors.get(&area.code).and_then(|c| convert::code_list_column(c));
        area.predecessor_codes = predecessors.get(&area.code).and_then(|c| convert::code_list_column(c));
        if predecessors.contains_key(&area.code) {
            area.introduced_in.clone_from(&area.vintage);
        }
        // Replaced in the earliest vintage among its successors.
        area.replaced_in = successors
            .get(&area.code)
            .and_then(|codes| codes.iter().filter_map(|c| vintage_of_code.get(c).copied().flatten()).min())
            .map(str::to_owned);
    }
}

/// Holds the 2023 upper tiers beside the 2021 ones: a 2021 upper tier absent from the 2023
/// lookup is replaced in 2023; a 2023 upper tier not held yet is added, introduced in 2023,
/// directly under England (the files give no lookup from the 2022 lower tiers to the new
/// authorities, so no LSOA, district or region links them). A lower tier listed twice, or an
/// upper tier whose code is another type's, is refused naming the line.
pub(super) fn upper_tiers_2023(
    areas: &mut Vec<area::Model>,
    rows: &[UpperTier2023Row],
    england: &str,
) -> anyhow::Result<()> {
    let mut names: BTreeMap<&str, &str> = BTreeMap::new();
    let mut lowers = BTreeSet::new();
    // Welsh authorities (W06) are in the lookup too; England's are E.
    for (i, row) in rows.iter().enumerate().filter(|(_, r)| r.ltla23_code.starts_with('E')) {
        if !lowers.insert(row.ltla23_code.as_str()) {
            bail!("{FILE_2023} line {}: lower-tier authority {} is listed twice", i + 2, row.ltla23_code);
        }
        names.insert(&row.utla23_code, &row.utla23_name);
    }
    let (upper, district) = (AreaType::UpperTierLocalAuthority.label(), AreaType::LocalAuthorityDistrict.label());
    let index: HashMap<String, usize> = areas.iter().enumerate().map(|(i, a)| (a.code.clone(), i)).collect();
    for area in areas.iter_mut() {
        let is_upper =
            area.area_type == upper || convert::also_types(area).contains(&(AreaType::UpperTierLocalAuthority as i32));
        // An upper tier, or a district, that the 2023 boundaries no longer hold (Cumbria and its
        // six districts, say), unless an earlier change already replaced it.
        let gone = (is_upper && !names.contains_key(area.code.as_str()))
            || (area.area_type == district && !lowers.contains(area.code.as_str()));
        if gone && area.replaced_in.is_none() {
            area.replaced_in = Some(VINTAGE_2023.to_owned());
        }
    }
    for (&code, &name) in &names {
        match index.get(code) {
            Some(&i) => {
                let a = &areas[i];
                if a.area_type != upper && !convert::also_types(a).contains(&(AreaType::UpperTierLocalAuthority as i32))
                {
                    bail!("{FILE_2023}: upper-tier authority {code} ({name}) has the code of a {}", a.area_type);
                }
            }
            None => {
                let mut area = crate::import::blank_area(code, name, AreaType::UpperTierLocalAuthority, Some(england));
                area.vintage = Some(VINTAGE_2023.to_owned());
                area.introduced_in = Some(VINTAGE_2023.to_owned());
                areas.push(area);
            }
        }
    }
    Ok(())
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
        assert_eq!(
            areas[0].replaced_in.as_deref(),
            Some("2021"),
            "Corby is replaced when North Northamptonshire begins"
        );
        assert_eq!(areas[3].introduced_in.as_deref(), Some("2021"));
        assert_eq!((areas[2].replaced_in.as_ref(), areas[2].introduced_in.as_ref()), (None, None));
    }

    fn row(lower: &str, upper: &str) -> UpperTier2023Row {
        UpperTier2023Row { ltla23_code: lower.into(), utla23_code: upper.into(), utla23_name: format!("{upper} name") }
    }

    #[test]
    fn the_2023_upper_tiers_replace_the_counties_they_no_longer_hold_and_add_the_new_authorities() {
        let mut areas = vec![
            area("E92000001", AreaType::England),
            area("E10000006", AreaType::UpperTierLocalAuthority),
            area("E10000016", AreaType::UpperTierLocalAuthority),
            area("E07000105", AreaType::LocalAuthorityDistrict),
            area("E07000026", AreaType::LocalAuthorityDistrict),
        ];
        let rows = [row("E06000063", "E06000063"), row("E07000105", "E10000016"), row("W06000001", "W06000001")];
        upper_tiers_2023(&mut areas, &rows, "E92000001").unwrap();
        assert_eq!(areas[1].replaced_in.as_deref(), Some("2023"), "Cumbria");
        assert_eq!(areas[2].replaced_in, None, "Kent goes on");
        assert_eq!(areas[3].replaced_in, None, "Ashford goes on");
        assert_eq!(areas[4].replaced_in.as_deref(), Some("2023"), "Allerdale, a district of Cumbria");
        let cumberland = areas.iter().find(|a| a.code == "E06000063").expect("Cumberland is added");
        assert_eq!((cumberland.introduced_in.as_deref(), cumberland.vintage.as_deref()), (Some("2023"), Some("2023")));
        assert_eq!(cumberland.parent_code.as_deref(), Some("E92000001"));
        assert!(!areas.iter().any(|a| a.code.starts_with('W')), "Welsh authorities are left out");
        let twice = [row("E07000105", "E10000016"), row("E07000105", "E10000016")];
        let error = upper_tiers_2023(&mut areas, &twice, "E92000001").unwrap_err().to_string();
        assert!(error.contains("line 3") && error.contains("E07000105"), "{error}");
    }
}

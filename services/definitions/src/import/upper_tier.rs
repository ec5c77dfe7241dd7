//! Upper-tier local authorities (2021): the 24 counties and the unitary, metropolitan and London
//! authorities that are their own upper tier, 152 in all, joined to the LSOAs by code (LSOA →
//! lower-tier authority 2022 → upper tier 2021). A unitary is one area under one code: its
//! district row also counts as an upper tier (`also_types`). A county, or a unitary made after
//! the 2019 districts (Buckinghamshire, North and West Northamptonshire), is an area of its own
//! under its region, and the districts, wards and LSOAs within it take it as an ancestor.

use std::collections::{BTreeMap, HashMap, HashSet};

use anyhow::bail;
use serde::Deserialize;
use sharedmetrics_proto::Label;
use sharedmetrics_proto::sharedmetrics::common::v1::AreaType;

use super::push_area;
use crate::convert;
use crate::entity::{area, area_ancestor};

/// The lower → upper tier lookup (2021).
pub(super) const FILE: &str = "geography/ltla21_utla21.csv";

/// One row of the lower → upper tier lookup.
#[derive(Deserialize)]
pub(super) struct UpperTierRow {
    ltla21_code: String,
    utla21_name: String,
    utla21_code: String,
}

/// Each LSOA's upper-tier authority, and each upper tier's name.
pub(super) struct UpperTiers<'a> {
    /// Upper tier by LSOA code.
    pub of_lsoa: HashMap<&'a str, &'a str>,
    /// Name by upper-tier code.
    pub names: BTreeMap<&'a str, &'a str>,
}

/// Joins each LSOA, given as (LSOA, its 2022 lower-tier authority, where it was read), to its
/// 2021 upper tier; a lower tier the lookup lacks, or lists twice, is refused naming the line.
pub(super) fn join<'a>(
    rows: &'a [UpperTierRow],
    lsoas: impl Iterator<Item = (&'a str, &'a str, String)>,
) -> anyhow::Result<UpperTiers<'a>> {
    let mut upper_of_lower: HashMap<&str, (&str, &str)> = HashMap::new();
    // Welsh authorities (W06) are in the lookup too; England's are E.
    for (i, row) in rows.iter().enumerate().filter(|(_, r)| r.ltla21_code.starts_with('E')) {
        if upper_of_lower.insert(&row.ltla21_code, (&row.utla21_code, &row.utla21_name)).is_some() {
            bail!("{FILE} line {}: lower-tier authority {} is listed twice", i + 2, row.ltla21_code);
        }
    }
    let mut tiers = UpperTiers { of_lsoa: HashMap::new(), names: BTreeMap::new() };
    for (lsoa, lower, at) in lsoas {
        let Some(&(code, name)) = upper_of_lower.get(lower) else {
            bail!("{at}: lower-tier authority {lower} of LSOA {lsoa} is not in {FILE}");
        };
        tiers.of_lsoa.insert(lsoa, code);
        tiers.names.insert(code, name);
    }
    Ok(tiers)
}

/// Adds the upper tiers to `areas`: a code that is already a district counts as an upper tier
/// too; any other becomes an area of its own under the one region its LSOAs lie in.
pub(super) fn push(areas: &mut Vec<area::Model>, tiers: &UpperTiers<'_>) -> anyhow::Result<()> {
    let index: HashMap<String, usize> = areas.iter().enumerate().map(|(i, a)| (a.code.clone(), i)).collect();
    let mut regions: HashMap<&str, HashSet<String>> = HashMap::new();
    for (lsoa, upper) in &tiers.of_lsoa {
        if let Some(region) = region_of(areas, &index, lsoa) {
            regions.entry(upper).or_default().insert(region);
        }
    }
    let district = AreaType::LocalAuthorityDistrict.label();
    let also = convert::also_types_column(&[AreaType::UpperTierLocalAuthority]);
    let mut own = Vec::new();
    for (&code, &name) in &tiers.names {
        match index.get(code) {
            Some(&i) if areas[i].area_type == district => areas[i].also_types.clone_from(&also),
            Some(&i) => bail!("upper-tier authority {code} ({name}) has the code of a {}", areas[i].area_type),
            None => {
                let within: Vec<&String> = regions.get(code).map(|r| r.iter().collect()).unwrap_or_default();
                let [region] = within.as_slice() else {
                    bail!("upper-tier authority {code} ({name}) lies in {} regions: {within:?}", within.len());
                };
                own.push((code, name, (*region).clone()));
            }
        }
    }
    for (code, name, region) in own {
        push_area(areas, code, name, AreaType::UpperTierLocalAuthority, Some(&region));
    }
    Ok(())
}

/// Returns the region an area lies in, walking up its parents.
fn region_of(areas: &[area::Model], index: &HashMap<String, usize>, code: &str) -> Option<String> {
    let region = AreaType::Region.label();
    let mut current = areas.get(*index.get(code)?)?;
    while current.area_type != region {
        current = areas.get(*index.get(current.parent_code.as_deref()?)?)?;
    }
    Some(current.code.clone())
}

/// Adds each LSOA's upper tier to its ancestors, and that of each ward and district whose LSOAs
/// all lie in one (a county's districts), where the hierarchies do not already hold it.
pub(super) fn link(ancestors: &mut Vec<area_ancestor::Model>, areas: &[area::Model], tiers: &UpperTiers<'_>) {
    let type_of: HashMap<&str, &str> = areas.iter().map(|a| (a.code.as_str(), a.area_type.as_str())).collect();
    let (ward, district) = (AreaType::Ward.label(), AreaType::LocalAuthorityDistrict.label());
    let mut held: HashSet<(String, String)> =
        ancestors.iter().map(|l| (l.area_code.clone(), l.ancestor_code.clone())).collect();
    let mut uppers_of: BTreeMap<&str, HashSet<&str>> = BTreeMap::new();
    for l in ancestors.iter() {
        let kind = type_of.get(l.ancestor_code.as_str()).copied().unwrap_or_default();
        if let (Some(upper), true) = (tiers.of_lsoa.get(l.area_code.as_str()), kind == ward || kind == district) {
            uppers_of.entry(l.ancestor_code.as_str()).or_default().insert(upper);
        }
    }
    let mut added = Vec::new();
    let mut add = |code: &str, upper: &str, depth: i32| {
        if code != upper && held.insert((code.to_owned(), upper.to_owned())) {
            added.push(area_ancestor::Model { area_code: code.to_owned(), ancestor_code: upper.to_owned(), depth });
        }
    };
    // Depths as if the upper tier sat just above the district: district 1, ward 2, LSOA 3.
    for (lsoa, upper) in &tiers.of_lsoa {
        add(lsoa, upper, 3);
    }
    for (code, uppers) in &uppers_of {
        if let [upper] = uppers.iter().collect::<Vec<_>>().as_slice() {
            add(code, upper, if type_of.get(code) == Some(&district.as_str()) { 1 } else { 2 });
        }
    }
    ancestors.extend(added);
}

//! Weighted acute-trust catchments: for each NHS acute trust (2022 ODS code), the share of its
//! admissions from each lower-tier authority (2021), from OHID's NHS Acute (Hospital) Trust
//! Catchment Populations (published 18 October 2022). They are stored as data: a trust submits
//! for the authorities that hold at least a configured share of its admissions, and a trust's
//! figures are apportioned to the areas it serves by these shares.

use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};

use anyhow::bail;
use serde::Deserialize;

use crate::entity::{catchment, organisation};

/// The catchments by lower-tier authority.
pub(super) const FILE: &str = "organisations/trust_catchments_ltla21.csv";
/// The catchments by ICB.
pub(super) const ICB_FILE: &str = "organisations/trust_catchments_icb22.csv";

/// How far a trust's shares may sum from 1.
const TOLERANCE: f64 = 1e-6;

/// One row of the catchment file by lower-tier authority.
#[derive(Deserialize)]
pub(super) struct CatchmentRow {
    nhs_trust22_code: String,
    ltla21_code: String,
    proportion_trust_came_from_ltla: f64,
}

/// One row of the catchment file by ICB (2022 GSS codes).
#[derive(Deserialize)]
pub(super) struct IcbCatchmentRow {
    nhs_trust22_code: String,
    icb22_code: String,
    proportion_trust_came_from_icb: f64,
}

/// The catchments to store, and the trusts of the files the organisation list no longer holds.
pub(super) struct Catchments {
    /// One row per (trust, area): authorities and ICBs.
    pub rows: Vec<catchment::Model>,
    /// Trusts of the 2022 files missing from the current organisation list (merged or closed
    /// since): their catchments are not stored, and the import reports them.
    pub retired_trusts: Vec<String>,
}

/// Checks and builds both files' catchments. `icb_of_2022_code` gives the ICB area of a 2022
/// ICB code (two took new codes in 2023); `type_of` each area's type label.
pub(super) fn build(
    by_authority: &[CatchmentRow],
    by_icb: &[IcbCatchmentRow],
    icb_of_2022_code: &HashMap<&str, &str>,
    type_of: &HashMap<&str, &str>,
    organisations: &BTreeMap<String, organisation::Model>,
) -> anyhow::Result<Catchments> {
    let authorities: Vec<(&str, &str, f64)> = by_authority
        .iter()
        .map(|r| (r.nhs_trust22_code.as_str(), r.ltla21_code.as_str(), r.proportion_trust_came_from_ltla))
        .collect();
    let icbs: Vec<(&str, &str, f64)> = by_icb
        .iter()
        .map(|r| {
            let icb = icb_of_2022_code.get(r.icb22_code.as_str()).copied().unwrap_or(r.icb22_code.as_str());
            (r.nhs_trust22_code.as_str(), icb, r.proportion_trust_came_from_icb)
        })
        .collect();
    let mut retired: BTreeSet<String> = BTreeSet::new();
    let mut rows = Vec::new();
    for (file, entries) in [(FILE, &authorities), (ICB_FILE, &icbs)] {
        check(file, entries, type_of)?;
        for (trust, area, share) in entries {
            if !organisations.contains_key(*trust) {
                retired.insert((*trust).to_owned());
                continue;
            }
            rows.push(catchment::Model {
                organisation_code: (*trust).to_owned(),
                area_code: (*area).to_owned(),
                weight: *share,
                area_type: type_of.get(area).map(|t| (*t).to_owned()),
            });
        }
    }
    Ok(Catchments { rows, retired_trusts: retired.into_iter().collect() })
}

/// Refuses an unknown area, a share outside 0–1, a (trust, area) pair listed twice, or a trust
/// whose shares do not sum to 1 within 1e-6, naming the file, the line and the code.
fn check(file: &str, entries: &[(&str, &str, f64)], type_of: &HashMap<&str, &str>) -> anyhow::Result<()> {
    let mut seen: HashSet<(&str, &str)> = HashSet::new();
    let mut sums: BTreeMap<&str, (f64, usize)> = BTreeMap::new();
    for (i, &(trust, area, share)) in entries.iter().enumerate() {
        let line = i + 2;
        if !type_of.contains_key(area) {
            bail!("{file} line {line}: area {area} of trust {trust} is not a known area");
        }
        if !(share.is_finite() && (0.0..=1.0).contains(&share)) {
            bail!("{file} line {line}: share {share} of trust {trust} in {area} is not between 0 and 1");
        }
        if !seen.insert((trust, area)) {
            bail!("{file} line {line}: trust {trust} and area {area} are listed twice");
        }
        sums.entry(trust).or_insert((0.0, line)).0 += share;
    }
    if let Some((trust, (sum, line))) = sums.iter().find(|(_, (sum, _))| (sum - 1.0).abs() > TOLERANCE) {
        bail!("{file} line {line}: the shares of trust {trust} sum to {sum}, not 1");
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(trust: &str, area: &str, share: f64) -> CatchmentRow {
        CatchmentRow {
            nhs_trust22_code: trust.into(),
            ltla21_code: area.into(),
            proportion_trust_came_from_ltla: share,
        }
    }

    fn trust(code: &str) -> (String, organisation::Model) {
        let model = organisation::Model {
            code: code.into(),
            name: code.into(),
            organisation_type: "nhs_trust".into(),
            town: None,
            postcode: None,
            area_code: None,
        };
        (code.into(), model)
    }

    fn areas() -> HashMap<&'static str, &'static str> {
        [("A", "local_authority_district"), ("B", "local_authority_district"), ("I", "icb")].into_iter().collect()
    }

    #[test]
    fn bad_catchments_are_refused_naming_the_line() {
        let orgs: BTreeMap<String, organisation::Model> = [trust("T1"), trust("T2")].into_iter().collect();
        let types = areas();
        let error = |rows: &[CatchmentRow]| {
            build(rows, &[], &HashMap::new(), &types, &orgs).err().expect("refused").to_string()
        };
        assert_eq!(
            error(&[row("T1", "A", 0.5), row("T1", "Z", 0.5)]),
            format!("{FILE} line 3: area Z of trust T1 is not a known area")
        );
        assert_eq!(
            error(&[row("T1", "A", 0.5), row("T1", "A", 0.5)]),
            format!("{FILE} line 3: trust T1 and area A are listed twice")
        );
        assert!(
            error(&[row("T1", "A", 0.5), row("T1", "B", 0.4)]).contains("line 2: the shares of trust T1 sum to 0.9")
        );
        assert!(error(&[row("T1", "A", 1.5)]).contains("line 2: share 1.5"));
    }

    #[test]
    fn icbs_are_joined_across_their_2023_codes_and_retired_trusts_reported_not_stored() {
        let orgs: BTreeMap<String, organisation::Model> = [trust("T1")].into_iter().collect();
        let icb = IcbCatchmentRow {
            nhs_trust22_code: "T1".into(),
            icb22_code: "OLD".into(),
            proportion_trust_came_from_icb: 1.0,
        };
        let renamed: HashMap<&str, &str> = [("OLD", "I")].into_iter().collect();
        let built = build(
            &[row("T1", "A", 0.25), row("T1", "B", 0.75), row("GONE", "A", 1.0)],
            &[icb],
            &renamed,
            &areas(),
            &orgs,
        )
        .unwrap();
        assert_eq!(built.rows.len(), 3);
        let of_icb = built.rows.iter().find(|r| r.area_code == "I").expect("the ICB under its current code");
        assert_eq!(of_icb.area_type.as_deref(), Some("icb"));
        assert_eq!(built.retired_trusts, vec!["GONE".to_owned()]);
    }
}

//! Weighted acute-trust catchments: for each NHS acute trust (2022 ODS code), the share of its
//! admissions from each lower-tier authority (2021), from OHID's NHS Acute (Hospital) Trust
//! Catchment Populations (published 18 October 2022). They are stored as data: a trust submits
//! for the authorities that hold at least a configured share of its admissions, and a trust's
//! figures are apportioned to the areas it serves by these shares.

use std::collections::{BTreeMap, HashMap, HashSet};

use anyhow::bail;
use serde::Deserialize;

use crate::entity::{catchment, organisation};

/// The catchments by lower-tier authority.
pub(super) const FILE: &str = "organisations/trust_catchments_ltla21.csv";

/// How far a trust's shares may sum from 1.
const TOLERANCE: f64 = 1e-6;

/// One row of the catchment file.
#[derive(Deserialize)]
pub(super) struct CatchmentRow {
    nhs_trust22_code: String,
    ltla21_code: String,
    proportion_trust_came_from_ltla: f64,
}

/// The catchments to store, and the trusts of the file the organisation list no longer holds.
pub(super) struct Catchments {
    /// One row per (trust, authority).
    pub rows: Vec<catchment::Model>,
    /// Trusts of the 2022 file missing from the current organisation list (merged or closed
    /// since): their catchments are not stored, and the import reports them.
    pub retired_trusts: Vec<String>,
}

/// Checks and builds the catchments. An unknown area, a share outside 0–1, a (trust, area) pair
/// listed twice, or a trust whose shares do not sum to 1 within 1e-6 is refused, naming the
/// file, the line and the code.
pub(super) fn build(
    rows: &[CatchmentRow],
    areas: &HashSet<&str>,
    organisations: &BTreeMap<String, organisation::Model>,
) -> anyhow::Result<Catchments> {
    let mut seen: HashSet<(&str, &str)> = HashSet::new();
    let mut sums: BTreeMap<&str, (f64, usize)> = BTreeMap::new();
    for (i, row) in rows.iter().enumerate() {
        let line = i + 2;
        let (trust, area, share) =
            (row.nhs_trust22_code.as_str(), row.ltla21_code.as_str(), row.proportion_trust_came_from_ltla);
        if !areas.contains(area) {
            bail!("{FILE} line {line}: area {area} of trust {trust} is not a known area");
        }
        if !(share.is_finite() && (0.0..=1.0).contains(&share)) {
            bail!("{FILE} line {line}: share {share} of trust {trust} in {area} is not between 0 and 1");
        }
        if !seen.insert((trust, area)) {
            bail!("{FILE} line {line}: trust {trust} and area {area} are listed twice");
        }
        sums.entry(trust).or_insert((0.0, line)).0 += share;
    }
    if let Some((trust, (sum, line))) = sums.iter().find(|(_, (sum, _))| (sum - 1.0).abs() > TOLERANCE) {
        bail!("{FILE} line {line}: the shares of trust {trust} sum to {sum}, not 1");
    }
    let known: HashMap<&str, ()> = organisations.keys().map(|c| (c.as_str(), ())).collect();
    let retired_trusts = sums.keys().filter(|t| !known.contains_key(*t)).map(|t| (*t).to_owned()).collect();
    let rows = rows
        .iter()
        .filter(|r| known.contains_key(r.nhs_trust22_code.as_str()))
        .map(|r| catchment::Model {
            organisation_code: r.nhs_trust22_code.clone(),
            area_code: r.ltla21_code.clone(),
            weight: r.proportion_trust_came_from_ltla,
        })
        .collect();
    Ok(Catchments { rows, retired_trusts })
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

    #[test]
    fn bad_catchments_are_refused_naming_the_line() {
        let areas: HashSet<&str> = ["A", "B"].into_iter().collect();
        let orgs: BTreeMap<String, organisation::Model> = [trust("T1"), trust("T2")].into_iter().collect();
        let error = |rows: &[CatchmentRow]| build(rows, &areas, &orgs).err().expect("refused").to_string();
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
    fn trusts_no_longer_listed_are_reported_not_stored() {
        let areas: HashSet<&str> = ["A", "B"].into_iter().collect();
        let orgs: BTreeMap<String, organisation::Model> = [trust("T1")].into_iter().collect();
        let built = build(&[row("T1", "A", 0.25), row("T1", "B", 0.75), row("OLD", "A", 1.0)], &areas, &orgs).unwrap();
        assert_eq!(built.rows.len(), 2);
        assert_eq!(built.retired_trusts, vec!["OLD".to_owned()]);
    }
}

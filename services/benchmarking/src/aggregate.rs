//! Aggregation up the hierarchies: an area's figures are its own observation when one was
//! submitted, and otherwise the sums of the numerators and denominators of the areas below it
//! at the finest level that has data (LSOAs first). For a deprivation breakdown (an IMD decile,
//! quintile or Core20 code) an LSOA's total counts towards the group its own IMD decile falls in.
//!
//! Disclosure control: an aggregate of LSOA cells some of which the caller may not see adds in
//! their hidden counts and is published only where [`crate::disclosure`] says a reader can
//! recover no hidden cell from it; any other aggregate with an input suppressed for the caller
//! is itself suppressed. Inputs that are missing (or were suppressed by their submitter, so
//! nobody holds their figures) are left out. docs/benchmarking.md states the rule.

use std::collections::HashSet;

use sharedmetrics_proto::sharedmetrics::common::v1::AreaType;

use crate::areas::AreaIndex;
use crate::observations::{AreaCells, Cell, CellState, Pairs};

/// The deprivation an LSOA must have for its total to count towards a deprivation breakdown.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub(crate) struct Deprivation {
    decile: Option<u32>,
    quintile: Option<u32>,
    core20: Option<bool>,
}

impl Deprivation {
    /// Splits the deprivation pairs off a breakdown: returns the filter they make (none when
    /// there are none, or a code is not a deprivation code) and the other pairs.
    pub fn split(pairs: &Pairs) -> (Option<Self>, Pairs) {
        let mut filter = Self::default();
        let mut rest = Pairs::new();
        let mut any = false;
        for (dimension, code) in pairs {
            let parsed = match dimension.as_str() {
                "imd_decile" => {
                    filter.decile = code.parse().ok().filter(|d| (1..=10).contains(d));
                    filter.decile.is_some()
                }
                "imd_quintile" => {
                    filter.quintile = code.parse().ok().filter(|q| (1..=5).contains(q));
                    filter.quintile.is_some()
                }
                "core20" => {
                    filter.core20 = match code.as_str() {
                        "core20" => Some(true),
                        "other" => Some(false),
                        _ => None,
                    };
                    filter.core20.is_some()
                }
                _ => {
                    rest.push((dimension.clone(), code.clone()));
                    continue;
                }
            };
            if !parsed {
                return (None, pairs.clone());
            }
            any = true;
        }
        (any.then_some(filter), rest)
    }

    /// Returns whether an LSOA of this IMD decile belongs to the group.
    pub fn matches(&self, decile: Option<u32>) -> bool {
        let Some(decile) = decile else { return false };
        self.decile.is_none_or(|d| d == decile)
            && self.quintile.is_none_or(|q| q == decile.div_ceil(2))
            && self.core20.is_none_or(|c| c == (decile <= 2))
    }
}

/// Where an area's cells come from for one period and breakdown.
#[derive(Clone, Copy, Default)]
pub(crate) struct Source<'a> {
    /// The cells of exactly this breakdown.
    pub exact: Option<&'a AreaCells>,
    /// For a deprivation breakdown, the cells without the deprivation pairs, and the group an
    /// LSOA must be in for its cell to count.
    pub derived: Option<(&'a AreaCells, &'a Deprivation)>,
    /// When some of its LSOA cells are hidden from the caller and their counts were read: the
    /// aggregates disclosure control withholds ([`crate::disclosure::withheld`]).
    pub withheld: Option<&'a HashSet<String>>,
}

/// An area's figures, as submitted or summed.
#[derive(Clone, Debug, PartialEq)]
pub(crate) struct Figure {
    pub numerator: Option<f64>,
    pub denominator: Option<f64>,
    pub value: Option<f64>,
    pub lower95: Option<f64>,
    pub upper95: Option<f64>,
    /// Set when summed: the type and number of the areas that contributed.
    pub aggregation: Option<(AreaType, u32)>,
}

impl Figure {
    fn of(cell: &Cell) -> Self {
        Self {
            numerator: cell.numerator,
            denominator: cell.denominator,
            value: cell.value,
            lower95: cell.lower95,
            upper95: cell.upper95,
            aggregation: None,
        }
    }
}

/// An area's figures, or why it has none.
#[derive(Clone, Debug, PartialEq)]
pub(crate) enum Resolved {
    Figure(Figure),
    /// Disclosure control hid the area's figures, or one of the figures an aggregate needs.
    Suppressed,
    NoData,
}

fn resolved(cell: &Cell) -> Resolved {
    match cell.state {
        CellState::Available => Resolved::Figure(Figure::of(cell)),
        CellState::Missing => Resolved::NoData,
        CellState::Suppressed => Resolved::Suppressed,
    }
}

/// Returns what a cell adds to a published aggregate: its figures, or its hidden counts.
fn counted(cell: &Cell) -> Resolved {
    match (cell.state, cell.hidden) {
        (CellState::Suppressed, Some(hidden)) => Resolved::Figure(Figure {
            numerator: Some(hidden.numerator),
            denominator: hidden.denominator,
            value: None,
            lower95: None,
            upper95: None,
            aggregation: None,
        }),
        _ => resolved(cell),
    }
}

/// Returns the cell an area has of its own in `source`.
fn own<'a>(index: &AreaIndex, source: &Source<'a>, code: &str) -> Option<&'a Cell> {
    if let Some(cell) = source.exact.and_then(|cells| cells.get(code)) {
        return Some(cell);
    }
    let (cells, deprivation) = source.derived?;
    let area = index.get(code)?;
    // Only an LSOA has a single IMD decile, so only its total can stand for a deprivation group.
    (area.area_type == AreaType::Lsoa && deprivation.matches(area.imd_decile)).then(|| cells.get(code)).flatten()
}

/// Returns the figures of `target`: its own observation, or, when `additive`, the sum over the
/// finest level of areas below it that has any data, or failing that its organisations'
/// figures weighted by catchment ([`catchment_weighted`]).
pub(crate) fn resolve(index: &AreaIndex, source: &Source<'_>, target: &str, additive: bool) -> Resolved {
    if let Some(cell) = own(index, source, target) {
        return resolved(cell);
    }
    if let Some((_, deprivation)) = source.derived
        && index.get(target).is_some_and(|a| a.area_type == AreaType::Lsoa)
        && !deprivation.matches(index.get(target).and_then(|a| a.imd_decile))
    {
        // An LSOA outside the group has no people in it.
        return Resolved::NoData;
    }
    if !additive {
        return Resolved::NoData;
    }
    for area_type in index.finer_types(target) {
        let parts: Vec<&Cell> = index
            .descendants_of_type(target, area_type)
            .into_iter()
            .filter_map(|area| own(index, source, &area.code))
            .collect();
        if parts.is_empty() {
            continue;
        }
        // Hidden LSOA counts go into an aggregate only where disclosure control publishes it.
        let with_hidden = area_type == AreaType::Lsoa && source.withheld.is_some_and(|w| !w.contains(target));
        let part = if with_hidden { counted } else { resolved };
        return match sum(parts.iter().map(|cell| part(cell))) {
            Resolved::Figure(figure) => {
                Resolved::Figure(Figure { aggregation: figure.aggregation.map(|(_, n)| (area_type, n)), ..figure })
            }
            other => other,
        };
    }
    source.exact.map_or(Resolved::NoData, |cells| catchment_weighted(index, cells, target))
}

/// Returns `target`'s figures built from organisations' (acute trusts') observations: each
/// trust's numerator and denominator times the share of its admissions from the authorities
/// (for an ICB or NHS region, the ICBs) within `target`, summed over the trusts that serve it.
/// Suppressed when any contributing trust's figures are; aggregated from `Organisation`s (the
/// catchment-weighted method). Catchments are by authority and ICB, so an area smaller than
/// an authority (a ward, an LSOA) gets none.
pub(crate) fn catchment_weighted(index: &AreaIndex, cells: &AreaCells, target: &str) -> Resolved {
    let Some(area) = index.get(target) else { return Resolved::NoData };
    if matches!(area.area_type, AreaType::Lsoa | AreaType::Ward) {
        return Resolved::NoData;
    }
    // The NHS hierarchy (ICBs, NHS regions) takes the shares by ICB; the rest those by authority.
    let nhs = area.is(AreaType::Icb) || area.is(AreaType::NhsRegion);
    let by_icb = |code: &str| index.get(code).is_some_and(|a| a.area_type == AreaType::Icb);
    let mut parts = Vec::new();
    for (organisation, catchment) in index.catchments() {
        let Some(cell) = cells.get(organisation) else { continue };
        let share: f64 = catchment
            .iter()
            .filter(|(code, _)| by_icb(code) == nhs && index.within(code, target))
            .map(|(_, s)| s)
            .sum();
        if share <= 0.0 {
            continue;
        }
        parts.push(match resolved(cell) {
            Resolved::Figure(f) => Resolved::Figure(Figure {
                numerator: f.numerator.map(|x| x * share),
                denominator: f.denominator.map(|n| n * share),
                value: None,
                lower95: None,
                upper95: None,
                aggregation: None,
            }),
            other => other,
        });
    }
    match sum(parts.into_iter()) {
        Resolved::Figure(figure) => Resolved::Figure(Figure {
            aggregation: figure.aggregation.map(|(_, n)| (AreaType::Organisation, n)),
            ..figure
        }),
        other => other,
    }
}

/// Returns the organisations among `cells` with figures but no catchment: left out of every
/// catchment-weighted figure, and named in the answer.
pub(crate) fn not_apportioned(index: &AreaIndex, cells: &AreaCells) -> Vec<String> {
    let mut codes: Vec<String> =
        cells.keys().filter(|code| index.get(code).is_none() && index.catchment(code).is_none()).cloned().collect();
    codes.sort();
    codes
}

/// Returns the sum of several areas' figures (a peer group pooled, or an aggregate's parts):
/// suppressed if any part is, no data if no part has figures, and otherwise the sums of the
/// numerators (and of the denominators when every summed part has one).
pub(crate) fn sum(parts: impl Iterator<Item = Resolved>) -> Resolved {
    let (mut numerator, mut denominator, mut count) = (0.0, Some(0.0), 0u32);
    for part in parts {
        match part {
            Resolved::Suppressed => return Resolved::Suppressed,
            Resolved::NoData => {}
            Resolved::Figure(figure) => {
                // A part without a numerator cannot be added in (a value-only row).
                let Some(x) = figure.numerator else { continue };
                numerator += x;
                denominator = denominator.zip(figure.denominator).map(|(a, b)| a + b);
                count += 1;
            }
        }
    }
    if count == 0 {
        return Resolved::NoData;
    }
    Resolved::Figure(Figure {
        numerator: Some(numerator),
        denominator,
        value: None,
        lower95: None,
        upper95: None,
        aggregation: Some((AreaType::Unspecified, count)),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::areas::ENGLAND;
    use crate::areas::tests::small_country;
    use crate::observations::HiddenCounts;

    fn cell(numerator: f64, denominator: f64) -> Cell {
        Cell {
            numerator: Some(numerator),
            denominator: Some(denominator),
            value: Some(numerator / denominator * 100.0),
            lower95: None,
            upper95: None,
            state: CellState::Available,
            hidden: None,
        }
    }

    fn suppressed() -> Cell {
        Cell {
            numerator: None,
            denominator: None,
            value: None,
            lower95: None,
            upper95: None,
            state: CellState::Suppressed,
            hidden: None,
        }
    }

    fn cells(entries: &[(&str, Cell)]) -> AreaCells {
        entries.iter().map(|(code, cell)| ((*code).to_owned(), cell.clone())).collect()
    }

    fn counts(resolved: &Resolved) -> (Option<f64>, Option<f64>, Option<(AreaType, u32)>) {
        match resolved {
            Resolved::Figure(f) => (f.numerator, f.denominator, f.aggregation),
            other => panic!("no figure: {other:?}"),
        }
    }

    #[test]
    fn trusts_figures_are_apportioned_to_the_areas_they_serve_by_catchment_share() {
        let catchments = [
            ("T1".to_owned(), vec![("D1".to_owned(), 0.6), ("D2".to_owned(), 0.4)]),
            ("T2".to_owned(), vec![("D2".to_owned(), 1.0)]),
        ];
        let index = small_country().with_catchments(catchments.into_iter().collect());
        // T3 has figures but no catchment (a mental health trust, say).
        let trusts = cells(&[("T1", cell(10.0, 100.0)), ("T2", cell(5.0, 50.0)), ("T3", cell(7.0, 70.0))]);
        let source = Source { exact: Some(&trusts), derived: None, withheld: None };
        let close = |(x, n, a): (Option<f64>, Option<f64>, Option<(AreaType, u32)>), want: (f64, f64, u32)| {
            (x.unwrap() - want.0).abs() < 1e-12
                && (n.unwrap() - want.1).abs() < 1e-12
                && a == Some((AreaType::Organisation, want.2))
        };
        // D1 is served by T1 alone: 0.6 × 10 of 0.6 × 100.
        assert!(close(counts(&resolve(&index, &source, "D1", true)), (6.0, 60.0, 1)));
        // D2 by both: 0.4 × 10 + 5 of 0.4 × 100 + 50.
        assert!(close(counts(&resolve(&index, &source, "D2", true)), (9.0, 90.0, 2)));
        // The region holds all of both catchments.
        assert!(close(counts(&resolve(&index, &source, "R1", true)), (15.0, 150.0, 2)));
        // Catchments are by authority: an LSOA gets nothing apportioned.
        assert_eq!(resolve(&index, &source, "L1", true), Resolved::NoData);
        assert_eq!(not_apportioned(&index, &trusts), vec!["T3".to_owned()]);
        // A suppressed trust suppresses every area it serves.
        let hidden = cells(&[("T1", suppressed()), ("T2", cell(5.0, 50.0))]);
        let source = Source { exact: Some(&hidden), derived: None, withheld: None };
        assert_eq!(resolve(&index, &source, "D2", true), Resolved::Suppressed);
    }

    #[test]
    fn districts_and_england_sum_their_lsoas() {
        let index = small_country();
        let lsoas = cells(&[("L1", cell(10.0, 40.0)), ("L2", cell(5.0, 50.0)), ("L3", cell(7.0, 70.0))]);
        let source = Source { exact: Some(&lsoas), derived: None, withheld: None };
        assert_eq!(counts(&resolve(&index, &source, "D1", true)), (Some(15.0), Some(90.0), Some((AreaType::Lsoa, 2))));
        assert_eq!(counts(&resolve(&index, &source, "D2", true)), (Some(7.0), Some(70.0), Some((AreaType::Lsoa, 1))));
        assert_eq!(
            counts(&resolve(&index, &source, ENGLAND, true)),
            (Some(22.0), Some(160.0), Some((AreaType::Lsoa, 3)))
        );
        assert_eq!(resolve(&index, &source, "D1", false), Resolved::NoData, "a mean or DSR value is not summed");
    }

    #[test]
    fn an_areas_own_observation_wins_over_the_sum_below_it() {
        let index = small_country();
        let mixed = cells(&[("L1", cell(10.0, 40.0)), ("D1", cell(99.0, 100.0))]);
        let source = Source { exact: Some(&mixed), derived: None, withheld: None };
        assert_eq!(counts(&resolve(&index, &source, "D1", true)), (Some(99.0), Some(100.0), None));
        // The region takes the finest level with data (LSOAs), never mixing levels.
        assert_eq!(counts(&resolve(&index, &source, "R1", true)).2, Some((AreaType::Lsoa, 1)));
        let districts = cells(&[("D1", cell(3.0, 10.0)), ("D2", cell(4.0, 10.0))]);
        let source = Source { exact: Some(&districts), derived: None, withheld: None };
        assert_eq!(
            counts(&resolve(&index, &source, "R1", true)),
            (Some(7.0), Some(20.0), Some((AreaType::LocalAuthorityDistrict, 2)))
        );
    }

    #[test]
    fn an_aggregate_with_a_suppressed_input_is_suppressed() {
        let index = small_country();
        let lsoas = cells(&[("L1", cell(10.0, 40.0)), ("L2", suppressed()), ("L3", cell(7.0, 70.0))]);
        let source = Source { exact: Some(&lsoas), derived: None, withheld: None };
        assert_eq!(resolve(&index, &source, "D1", true), Resolved::Suppressed);
        assert_eq!(resolve(&index, &source, ENGLAND, true), Resolved::Suppressed);
        assert!(matches!(resolve(&index, &source, "D2", true), Resolved::Figure(_)), "D2's inputs are all visible");
        let missing = Cell { state: CellState::Missing, ..suppressed() };
        let lsoas = cells(&[("L1", cell(10.0, 40.0)), ("L2", missing)]);
        let source = Source { exact: Some(&lsoas), derived: None, withheld: None };
        assert_eq!(counts(&resolve(&index, &source, "D1", true)).0, Some(10.0), "a missing input is left out");
    }

    #[test]
    fn hidden_lsoa_counts_go_into_the_aggregates_disclosure_control_publishes_and_no_other() {
        let index = small_country();
        let hidden =
            |n: f64| Cell { hidden: Some(HiddenCounts { numerator: n, denominator: Some(40.0) }), ..suppressed() };
        let lsoas = cells(&[("L1", hidden(3.0)), ("L2", cell(5.0, 50.0)), ("L3", cell(7.0, 70.0))]);
        let withheld: HashSet<String> = ["D1".to_owned()].into();
        let source = Source { exact: Some(&lsoas), derived: None, withheld: Some(&withheld) };
        assert_eq!(resolve(&index, &source, "D1", true), Resolved::Suppressed, "withheld by the plan");
        assert_eq!(resolve(&index, &source, "L1", true), Resolved::Suppressed, "the hidden cell itself stays hidden");
        assert_eq!(
            counts(&resolve(&index, &source, ENGLAND, true)),
            (Some(15.0), Some(160.0), Some((AreaType::Lsoa, 3))),
            "England adds in the hidden count"
        );
        let without_plan = Source { withheld: None, ..source };
        assert_eq!(resolve(&index, &without_plan, ENGLAND, true), Resolved::Suppressed, "no plan, no hidden counts");
    }

    #[test]
    fn lsoa_totals_make_deprivation_groups_by_their_own_decile() {
        let index = small_country();
        let totals = cells(&[
            ("L1", cell(10.0, 40.0)),
            ("L2", cell(5.0, 50.0)),
            ("L3", cell(7.0, 70.0)),
            ("L4", cell(1.0, 9.0)),
        ]);
        let group = |pairs: &[(&str, &str)]| {
            let pairs: Pairs = pairs.iter().map(|(d, c)| ((*d).to_owned(), (*c).to_owned())).collect();
            Deprivation::split(&pairs)
        };
        let (decile1, rest) = group(&[("imd_decile", "1")]);
        assert!(rest.is_empty());
        let decile1 = decile1.unwrap();
        let source = Source { exact: None, derived: Some((&totals, &decile1)), withheld: None };
        assert_eq!(counts(&resolve(&index, &source, "D1", true)), (Some(10.0), Some(40.0), Some((AreaType::Lsoa, 1))));
        assert_eq!(resolve(&index, &source, "D2", true), Resolved::NoData, "no LSOA of D2 is in decile 1");
        assert_eq!(resolve(&index, &source, "L2", true), Resolved::NoData, "L2 is in decile 2");
        let (core20, _) = group(&[("core20", "core20")]);
        let core20 = core20.unwrap();
        let source = Source { exact: None, derived: Some((&totals, &core20)), withheld: None };
        assert_eq!(counts(&resolve(&index, &source, "R1", true)).0, Some(15.0));
        let (quintile3, _) = group(&[("imd_quintile", "3")]);
        let quintile3 = quintile3.unwrap();
        let source = Source { exact: None, derived: Some((&totals, &quintile3)), withheld: None };
        assert_eq!(counts(&resolve(&index, &source, ENGLAND, true)).0, Some(7.0));
        let (none, kept) = group(&[("sex", "F"), ("imd_decile", "11")]);
        assert!(none.is_none() && kept.len() == 2, "an unknown decile is not a deprivation group");
    }

    #[test]
    fn pooling_members_sums_only_what_is_there() {
        let parts = vec![
            Resolved::Figure(Figure::of(&cell(1.0, 10.0))),
            Resolved::NoData,
            Resolved::Figure(Figure::of(&cell(2.0, 20.0))),
        ];
        assert_eq!(counts(&sum(parts.into_iter())), (Some(3.0), Some(30.0), Some((AreaType::Unspecified, 2))));
        assert_eq!(sum([Resolved::NoData].into_iter()), Resolved::NoData);
        let with_hidden = vec![Resolved::Figure(Figure::of(&cell(1.0, 10.0))), Resolved::Suppressed];
        assert_eq!(sum(with_hidden.into_iter()), Resolved::Suppressed);
    }
}

//! Disclosure control (DESIGN.md §4, METHODS.md): counts from 1 up to the metric's threshold are
//! suppressed for readers outside the submitting organisation, with every value derived from
//! them; then, wherever a total and the other parts of a breakdown would reveal a suppressed
//! cell by subtraction, a second cell is suppressed. Zero is never suppressed as a primary
//! cell. Pure functions over the cells of one (area, period).

use std::collections::HashMap;

use crate::validate::breakdown_pairs;

/// Why a cell is hidden.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Suppression {
    /// Its count is between 1 and the threshold.
    SmallCount,
    /// It would let a suppressed cell be recovered from a total.
    Secondary,
}

/// One cell of one area and period: its breakdown key and count.
#[derive(Debug, Clone)]
pub struct Cell {
    /// Canonical breakdown key (empty for the total).
    pub breakdown_key: String,
    /// The count (numerator), if any.
    pub numerator: Option<f64>,
}

/// Returns, for each cell, whether and why it is suppressed. `threshold` 0 disables control.
pub fn suppress(cells: &[Cell], threshold: u32) -> Vec<Option<Suppression>> {
    let mut result: Vec<Option<Suppression>> = cells
        .iter()
        .map(|c| {
            c.numerator
                .filter(|n| threshold > 0 && *n >= 1.0 && *n <= f64::from(threshold))
                .map(|_| Suppression::SmallCount)
        })
        .collect();
    if threshold == 0 || result.iter().all(Option::is_none) {
        return result;
    }
    let index: HashMap<&str, usize> = cells.iter().enumerate().map(|(i, c)| (c.breakdown_key.as_str(), i)).collect();
    // Groups of parts that add up to a total: for a cell with breakdown P and each dimension d
    // of P, the parts are the cells sharing P without d, and the total is the cell P \ {d}.
    let mut groups: HashMap<(String, String), Vec<usize>> = HashMap::new();
    for (i, cell) in cells.iter().enumerate() {
        let pairs = breakdown_pairs(&cell.breakdown_key);
        for (d, _) in &pairs {
            let rest: Vec<String> =
                pairs.iter().filter(|(pd, _)| pd != d).map(|(pd, pc)| format!("{pd}={pc}")).collect();
            groups.entry((rest.join(";"), d.clone())).or_default().push(i);
        }
    }
    // Iterate to a fixed point: a secondary suppression can expose another group.
    loop {
        let mut changed = false;
        for ((total_key, _), parts) in &groups {
            let Some(&total) = index.get(total_key.as_str()) else { continue };
            if result[total].is_some() {
                continue;
            }
            let hidden = parts.iter().filter(|&&p| result[p].is_some()).count();
            if hidden != 1 {
                continue;
            }
            let candidate =
                parts.iter().copied().filter(|&p| result[p].is_none() && cells[p].numerator.is_some()).min_by(
                    |&a, &b| cells[a].numerator.partial_cmp(&cells[b].numerator).unwrap_or(std::cmp::Ordering::Equal),
                );
            match candidate {
                Some(p) => result[p] = Some(Suppression::Secondary),
                // A lone part equals its total: hide the total.
                None => result[total] = Some(Suppression::Secondary),
            }
            changed = true;
        }
        if !changed {
            return result;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cells(list: &[(&str, Option<f64>)]) -> Vec<Cell> {
        list.iter().map(|(k, n)| Cell { breakdown_key: (*k).to_owned(), numerator: *n }).collect()
    }

    #[test]
    fn counts_one_to_threshold_are_suppressed_and_zero_is_not() {
        let cs = cells(&[("sex=F", Some(0.0)), ("sex=M", Some(7.0)), ("", Some(8.0))]);
        let got = suppress(&cs, 7);
        assert_eq!(got[1], Some(Suppression::SmallCount));
        // 8 − 7 would reveal nothing on its own, but 8 − 0 reveals M: the zero is hidden too.
        assert_eq!(got[0], Some(Suppression::Secondary));
        assert_eq!(got[2], None);
    }

    #[test]
    fn the_smallest_other_part_is_hidden_when_a_total_would_reveal_a_suppressed_cell() {
        let cs = cells(&[
            ("", Some(120.0)),
            ("imd_quintile=1", Some(3.0)),
            ("imd_quintile=2", Some(40.0)),
            ("imd_quintile=3", Some(25.0)),
            ("imd_quintile=4", Some(30.0)),
            ("imd_quintile=5", Some(22.0)),
        ]);
        let got = suppress(&cs, 7);
        assert_eq!(got[1], Some(Suppression::SmallCount));
        assert_eq!(got[5], Some(Suppression::Secondary), "22 is the smallest other part");
        assert_eq!(got.iter().filter(|s| s.is_some()).count(), 2);
    }

    #[test]
    fn without_a_total_no_secondary_cell_is_needed() {
        let cs = cells(&[("sex=F", Some(3.0)), ("sex=M", Some(50.0))]);
        assert_eq!(suppress(&cs, 7), vec![Some(Suppression::SmallCount), None]);
    }

    #[test]
    fn nested_breakdowns_reach_a_fixed_point() {
        // sex × quintile with sex margins: hiding F/q1 forces a second F cell, and the
        // quintile-1 column (F/q1 with M/q1 under the q1 margin) forces M/q1 too.
        let cs = cells(&[
            ("sex=F", Some(60.0)),
            ("imd_quintile=1;sex=F", Some(2.0)),
            ("imd_quintile=2;sex=F", Some(58.0)),
            ("imd_quintile=1", Some(30.0)),
            ("imd_quintile=1;sex=M", Some(28.0)),
        ]);
        let got = suppress(&cs, 7);
        assert_eq!(got[1], Some(Suppression::SmallCount));
        assert_eq!(got[2], Some(Suppression::Secondary));
        assert_eq!(got[4], Some(Suppression::Secondary));
        assert_eq!(got[0], None);
    }

    #[test]
    fn threshold_zero_suppresses_nothing() {
        let cs = cells(&[("", Some(3.0))]);
        assert_eq!(suppress(&cs, 0), vec![None]);
    }
}

//! Disclosure control of aggregates over LSOA cells some of which a reader may not see
//! (docs/benchmarking.md, "Disclosure control of aggregates").
//!
//! A reader who sees an aggregate and the visible cells under it learns the sum of the hidden
//! ones; with aggregates at several levels of one hierarchy, by subtraction, the sum of the
//! hidden cells in each published area that no published area below it holds (its *residue*).
//! Within one hierarchy (a tree over LSOAs) those residues are all a reader can derive: the
//! published areas' sums are sums of whole residues, and residues never overlap. So an
//! aggregate is published when its residue is safe: no hidden cell, or two or more whose sum is
//! above the threshold. When it is not, the published children holding hidden cells are
//! withheld, the smallest first, adding their residues to the parent's, until it is; the parent
//! itself only when that is not enough (its residue then passes to its own parent).

use std::collections::{HashMap, HashSet};

use sharedmetrics_proto::sharedmetrics::common::v1::AreaType;

use crate::areas::AreaIndex;

/// The hierarchies LSOA counts are summed up, finest first: each a tree over LSOAs (an LSOA has
/// one area of each type). England tops both.
const HIERARCHIES: [&[AreaType]; 2] = [
    &[
        AreaType::Ward,
        AreaType::LocalAuthorityDistrict,
        AreaType::UpperTierLocalAuthority,
        AreaType::Region,
        AreaType::England,
    ],
    &[AreaType::SubIcbLocation, AreaType::Icb, AreaType::NhsRegion, AreaType::England],
];

/// One LSOA's count as the plan sees it.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Leaf<'a> {
    pub code: &'a str,
    /// Its numerator (for a hidden cell, the count the reader may not see).
    pub count: f64,
    /// Whether the reader may not see it.
    pub hidden: bool,
}

/// What a reader can derive from one published area: the sum of its hidden cells outside the
/// published areas below it, and how many there are.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
struct Residue {
    sum: f64,
    cells: u32,
}

impl Residue {
    fn add(&mut self, other: Residue) {
        self.sum += other.sum;
        self.cells += other.cells;
    }

    /// Whether learning this sum discloses nothing: no hidden cell, or two or more hidden cells
    /// whose sum is above the threshold (so no one of them is pinned to a small count).
    fn safe(self, threshold: u32) -> bool {
        self.cells == 0 || (self.cells >= 2 && self.sum > f64::from(threshold))
    }
}

/// One area of one hierarchy over the leaves.
struct Node<'a> {
    code: &'a str,
    level: usize,
    /// The sum of every leaf under it: which children go first ("the smallest first").
    total: f64,
    /// The hidden leaves directly under it (those with no finer area of the hierarchy).
    own: Residue,
    residue: Residue,
    children: Vec<usize>,
    published: bool,
}

/// Returns the areas whose aggregate of `leaves` must be withheld from the reader, by the rule
/// above over each hierarchy; empty when no leaf with a count is hidden.
pub(crate) fn withheld(index: &AreaIndex, leaves: &[Leaf<'_>], threshold: u32) -> HashSet<String> {
    let mut out = HashSet::new();
    if !leaves.iter().any(|l| l.hidden && l.count > 0.0) {
        return out;
    }
    for hierarchy in HIERARCHIES {
        let mut nodes = tree(index, leaves, hierarchy);
        decide(&mut nodes, threshold);
        out.extend(nodes.iter().filter(|n| !n.published).map(|n| n.code.to_owned()));
    }
    out
}

/// Builds the areas of one hierarchy over the leaves, with their totals, hidden leaves and
/// children. An area of two types (a unitary authority is its own upper tier) is one node.
fn tree<'a>(index: &'a AreaIndex, leaves: &[Leaf<'_>], hierarchy: &[AreaType]) -> Vec<Node<'a>> {
    let mut ids: HashMap<&'a str, usize> = HashMap::new();
    let mut nodes: Vec<Node<'a>> = Vec::new();
    let mut edges: HashSet<(usize, usize)> = HashSet::new();
    for leaf in leaves {
        let mut path: Vec<(usize, &'a str)> = hierarchy
            .iter()
            .enumerate()
            .filter_map(|(level, t)| index.ancestor_of_type(leaf.code, *t).map(|a| (level, a.code.as_str())))
            .collect();
        path.dedup_by(|later, earlier| later.1 == earlier.1);
        let mut below: Option<usize> = None;
        for (level, code) in path {
            let id = *ids.entry(code).or_insert_with(|| {
                nodes.push(Node {
                    code,
                    level,
                    total: 0.0,
                    own: Residue::default(),
                    residue: Residue::default(),
                    children: Vec::new(),
                    published: true,
                });
                nodes.len() - 1
            });
            nodes[id].total += leaf.count;
            match below {
                None if leaf.hidden && leaf.count > 0.0 => nodes[id].own.add(Residue { sum: leaf.count, cells: 1 }),
                None => {}
                Some(child) if edges.insert((child, id)) => nodes[id].children.push(child),
                Some(_) => {}
            }
            below = Some(id);
        }
    }
    nodes
}

/// Decides, finest areas first, which are published: each area's residue is its own hidden
/// leaves and its withheld children's residues; while it is unsafe, the smallest published child
/// holding hidden cells is withheld; then, if still unsafe, the area itself.
fn decide(nodes: &mut [Node<'_>], threshold: u32) {
    let mut order: Vec<usize> = (0..nodes.len()).collect();
    order.sort_by_key(|&i| nodes[i].level);
    for id in order {
        let mut residue = nodes[id].own;
        let children = std::mem::take(&mut nodes[id].children);
        for &c in &children {
            if !nodes[c].published {
                residue.add(nodes[c].residue);
            }
        }
        if !residue.safe(threshold) {
            let mut candidates: Vec<usize> =
                children.iter().copied().filter(|&c| nodes[c].published && nodes[c].residue.cells > 0).collect();
            candidates
                .sort_by(|&a, &b| nodes[a].total.total_cmp(&nodes[b].total).then(nodes[a].code.cmp(nodes[b].code)));
            for c in candidates {
                nodes[c].published = false;
                residue.add(nodes[c].residue);
                if residue.safe(threshold) {
                    break;
                }
            }
        }
        nodes[id].published = residue.safe(threshold);
        nodes[id].residue = residue;
        nodes[id].children = children;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::areas::ENGLAND;
    use crate::areas::tests::area;

    /// England; regions R1, R2; districts D1, D2 (R1) and D3 (R2); three LSOAs in each district.
    fn country() -> AreaIndex {
        let mut areas = vec![
            area(ENGLAND, AreaType::England, &[], None),
            area("R1", AreaType::Region, &[ENGLAND], None),
            area("R2", AreaType::Region, &[ENGLAND], None),
        ];
        for (district, region) in [("D1", "R1"), ("D2", "R1"), ("D3", "R2")] {
            areas.push(area(district, AreaType::LocalAuthorityDistrict, &[region, ENGLAND], None));
            for i in 1..=3 {
                areas.push(area(&format!("{district}L{i}"), AreaType::Lsoa, &[district, region, ENGLAND], Some(5)));
            }
        }
        AreaIndex::new(areas)
    }

    fn leaves<'a>(cells: &[(&'a str, f64, bool)]) -> Vec<Leaf<'a>> {
        cells.iter().map(|&(code, count, hidden)| Leaf { code, count, hidden }).collect()
    }

    fn sorted(set: HashSet<String>) -> Vec<String> {
        let mut v: Vec<String> = set.into_iter().collect();
        v.sort();
        v
    }

    #[test]
    fn nothing_is_withheld_when_no_cell_is_hidden() {
        let cells = leaves(&[("D1L1", 3.0, false), ("D1L2", 40.0, false)]);
        assert!(withheld(&country(), &cells, 7).is_empty());
    }

    #[test]
    fn a_district_with_two_hidden_cells_summing_above_the_threshold_is_published() {
        let cells = leaves(&[
            ("D1L1", 5.0, true),
            ("D1L2", 6.0, true),
            ("D1L3", 50.0, false),
            ("D2L1", 20.0, false),
            ("D3L1", 30.0, false),
        ]);
        assert!(withheld(&country(), &cells, 7).is_empty());
    }

    #[test]
    fn a_lone_hidden_cell_withholds_its_district_and_the_residue_moves_up_to_where_it_is_safe() {
        // D1 holds one hidden cell (3), D2 one (4): neither district may be published; R1 then
        // holds both (3 + 4 = 7, not above 7), so R1 is withheld too; England adds D3's 5.
        let cells = leaves(&[
            ("D1L1", 3.0, true),
            ("D1L2", 50.0, false),
            ("D2L1", 4.0, true),
            ("D2L2", 60.0, false),
            ("D3L1", 5.0, true),
            ("D3L2", 70.0, false),
        ]);
        assert_eq!(sorted(withheld(&country(), &cells, 7)), ["D1", "D2", "D3", "R1", "R2"]);
    }

    #[test]
    fn the_smallest_published_child_is_withheld_before_the_parent() {
        // D1's residue (5 + 6) is safe, so D1 is published; D2's lone 2 is not, so D2 is
        // withheld and R1's residue is 2: unsafe. Withholding D1 (the only published child with
        // hidden cells) makes R1's residue 13 over three cells, so R1 stays published.
        let cells = leaves(&[
            ("D1L1", 5.0, true),
            ("D1L2", 6.0, true),
            ("D1L3", 90.0, false),
            ("D2L1", 2.0, true),
            ("D2L2", 80.0, false),
            ("D3L1", 40.0, false),
        ]);
        assert_eq!(sorted(withheld(&country(), &cells, 7)), ["D1", "D2"]);
    }
}

//! Quantiles (quintiles, deciles, …) of a comparison set, by the published PHE/OHID method.

use crate::comparison::Polarity;
use crate::error::{Field, Result, StatisticsError, finite};
use crate::method;

/// One value's place in the comparison set.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct QuantilePlace {
    /// Returns the rank (1 = best, or lowest without a judgement), or `None` for a missing value.
    pub rank: Option<usize>,
    /// Returns the quantile (1 = best, or lowest without a judgement), or `None` when the value
    /// is missing or the set has fewer values than quantiles.
    pub quantile: Option<u32>,
}

/// The quantile assignment of a whole comparison set, in the order the values were given.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Quantiles {
    /// Returns each value's rank and quantile, in input order.
    pub places: Vec<QuantilePlace>,
    /// Returns N, the number of non-missing values ranked.
    pub ranked: usize,
    /// Returns q, the number of quantiles asked for.
    pub quantiles: u32,
    /// Returns the version string of the method.
    pub method: &'static str,
}

/// Returns ranks and quantiles of `values` (missing as `None`) split into `quantiles` groups.
///
/// Values are ranked 1…N with ties sharing the lowest rank, best first: descending when high
/// is good, ascending when low is good or there is no judgement. Then
/// quantile = ⌊(q + 1) − ⌈((N + 1) − rank)/(N/q)⌉⌋, with 0 becoming 1, so quantile 1 holds
/// the best values (the lowest without a judgement). With N < q no quantiles are assigned,
/// though ranks still are.
pub fn assign_quantiles(values: &[Option<f64>], quantiles: u32, polarity: Polarity) -> Result<Quantiles> {
    if quantiles == 0 {
        return Err(StatisticsError::NotPositive { field: Field::named("quantiles"), value: 0.0 });
    }
    let present: Vec<f64> = values
        .iter()
        .enumerate()
        .filter_map(|(i, v)| v.map(|v| finite(Field::item("values", i), v)))
        .collect::<Result<_>>()?;
    let n = present.len();
    // Ranking best first: sorting the values best-first and counting, by binary search, the
    // values strictly better than each one gives tied values the lowest rank of their run
    // ("min" ties) in O(N log N), which matters for sets of thousands of small areas.
    let mut best_first = present;
    match polarity {
        Polarity::HighIsGood => best_first.sort_unstable_by(|a, b| b.total_cmp(a)),
        Polarity::LowIsGood | Polarity::NoJudgement => best_first.sort_unstable_by(f64::total_cmp),
    }
    let strictly_better = |v: f64| match polarity {
        Polarity::HighIsGood => best_first.partition_point(|&other| other > v),
        Polarity::LowIsGood | Polarity::NoJudgement => best_first.partition_point(|&other| other < v),
    };
    let places = values
        .iter()
        .map(|value| match *value {
            None => QuantilePlace { rank: None, quantile: None },
            Some(v) => {
                let rank = 1 + strictly_better(v);
                QuantilePlace {
                    rank: Some(rank),
                    quantile: (n >= quantiles as usize).then(|| quantile_of(rank, n, quantiles)),
                }
            }
        })
        .collect();
    Ok(Quantiles { places, ranked: n, quantiles, method: method::QUANTILES })
}

fn quantile_of(rank: usize, n: usize, q: u32) -> u32 {
    let (rank, n, q) = (rank as f64, n as f64, f64::from(q));
    // Evaluated in floating point, operation for operation as the published method (R's
    // `floor((q+1) - ceiling(((N+1) - rank)/(N/q)))`), because N/q is inexact for most N and
    // the rounding at a boundary decides which quantile a value lands in; the "0 becomes 1"
    // rule exists for exactly such a rounding at rank 1.
    let quantile = ((q + 1.0) - (((n + 1.0) - rank) / (n / q)).ceil()).floor();
    quantile.max(1.0) as u32
}

#[cfg(test)]
mod tests {
    use super::*;

    fn quantiles_of(places: &[QuantilePlace]) -> Vec<Option<u32>> {
        places.iter().map(|p| p.quantile).collect()
    }

    #[test]
    fn ten_values_in_quintiles_pair_up_best_first() {
        // By hand: N = 10, q = 5, N/q = 2; rank r gives ⌊6 − ⌈(11 − r)/2⌉⌋ = 1,1,2,2,…,5,5.
        let values: Vec<Option<f64>> = (1..=10).map(|v| Some(f64::from(v))).collect();
        let low = assign_quantiles(&values, 5, Polarity::LowIsGood).unwrap();
        assert_eq!(quantiles_of(&low.places), [1, 1, 2, 2, 3, 3, 4, 4, 5, 5].map(Some).to_vec());
        let high = assign_quantiles(&values, 5, Polarity::HighIsGood).unwrap();
        assert_eq!(quantiles_of(&high.places), [5, 5, 4, 4, 3, 3, 2, 2, 1, 1].map(Some).to_vec());
        assert_eq!(high.places[9].rank, Some(1));
        assert_eq!((high.ranked, high.quantiles, high.method), (10, 5, method::QUANTILES));
    }

    #[test]
    fn quantile_one_is_always_the_best_value() {
        let values = [Some(3.2), Some(9.9), Some(0.4), Some(5.0), Some(7.7)];
        let high = assign_quantiles(&values, 5, Polarity::HighIsGood).unwrap();
        assert_eq!(high.places[1].quantile, Some(1), "9.9 is best when high is good");
        let low = assign_quantiles(&values, 5, Polarity::LowIsGood).unwrap();
        assert_eq!(low.places[2].quantile, Some(1), "0.4 is best when low is good");
        let none = assign_quantiles(&values, 5, Polarity::NoJudgement).unwrap();
        assert_eq!(none.places[2].quantile, Some(1), "0.4 is lowest");
    }

    #[test]
    fn ties_take_the_lowest_rank_and_missing_values_are_skipped() {
        // Ascending ranks of 5, 3, 3, 8, _, 1: 1 → 1, the two 3s → 2, 5 → 4, 8 → 5 (N = 5).
        // Quintiles with N/q = 1: rank r gives 6 − (6 − r) = r.
        let values = [Some(5.0), Some(3.0), Some(3.0), Some(8.0), None, Some(1.0)];
        let q = assign_quantiles(&values, 5, Polarity::LowIsGood).unwrap();
        let ranks: Vec<_> = q.places.iter().map(|p| p.rank).collect();
        assert_eq!(ranks, [Some(4), Some(2), Some(2), Some(5), None, Some(1)]);
        assert_eq!(quantiles_of(&q.places), [Some(4), Some(2), Some(2), Some(5), None, Some(1)]);
        assert_eq!(q.ranked, 5);
    }

    #[test]
    fn uneven_sets_follow_the_floating_point_formula() {
        // N = 12, q = 10 in Python with the same float operations:
        // [max(1, math.floor(11 - math.ceil((13 - r) / (12 / 10)))) for r in range(1, 13)]
        // = [1, 1, 2, 3, 4, 5, 6, 6, 7, 8, 9, 10]
        let values: Vec<Option<f64>> = (1..=12).map(|v| Some(f64::from(v))).collect();
        let q = assign_quantiles(&values, 10, Polarity::NoJudgement).unwrap();
        assert_eq!(quantiles_of(&q.places), [1, 1, 2, 3, 4, 5, 6, 6, 7, 8, 9, 10].map(Some).to_vec());
    }

    #[test]
    fn boundary_rounding_follows_the_published_floating_point_result() {
        // N = 28, q = 20, rank 8: (29 − 8)/(28/20) is 15 exactly but 15.000000000000002 in
        // doubles, so R (and Python) give quantile 5 where rational arithmetic gives 6.
        assert_eq!(quantile_of(8, 28, 20), 5);
    }

    #[test]
    fn fewer_values_than_quantiles_get_ranks_but_no_quantiles() {
        let values = [Some(1.0), None, Some(2.0), Some(3.0), Some(4.0), Some(5.0)];
        let q = assign_quantiles(&values, 10, Polarity::HighIsGood).unwrap();
        assert!(q.places.iter().all(|p| p.quantile.is_none()));
        assert_eq!(q.places[5].rank, Some(1));
        assert!(assign_quantiles(&values, 0, Polarity::HighIsGood).is_err());
        assert_eq!(
            assign_quantiles(&[Some(f64::NAN)], 1, Polarity::HighIsGood).unwrap_err().to_string(),
            "values[0] is not a finite number"
        );
        let empty = assign_quantiles(&[], 5, Polarity::LowIsGood).unwrap();
        assert!(empty.places.is_empty());
    }

    #[test]
    fn ranks_equal_one_plus_the_count_of_strictly_better_values() {
        // The definition, checked by brute force on sets with many ties and gaps.
        for seed in 0..20u64 {
            let values: Vec<Option<f64>> = (0..200u64)
                .map(|i| {
                    let h = (i * 2_654_435_761 + seed * 97) % 1_009;
                    (h % 11 != 0).then_some((h % 37) as f64 - 18.0)
                })
                .collect();
            for polarity in [Polarity::HighIsGood, Polarity::LowIsGood, Polarity::NoJudgement] {
                let q = assign_quantiles(&values, 10, polarity).unwrap();
                for (place, value) in q.places.iter().zip(&values) {
                    let expected = value.map(|v| {
                        1 + values
                            .iter()
                            .flatten()
                            .filter(|&&o| match polarity {
                                Polarity::HighIsGood => o > v,
                                _ => o < v,
                            })
                            .count()
                    });
                    assert_eq!(place.rank, expected);
                }
            }
        }
    }

    #[test]
    fn every_quantile_is_in_range_and_monotone_in_rank() {
        for n in 1..120usize {
            for q in [2u32, 4, 5, 10] {
                if n < q as usize {
                    continue;
                }
                let mut previous = 1;
                for rank in 1..=n {
                    let quantile = quantile_of(rank, n, q);
                    assert!((1..=q).contains(&quantile), "n={n} q={q} rank={rank}");
                    assert!(quantile >= previous, "n={n} q={q} rank={rank}");
                    previous = quantile;
                }
                assert_eq!(quantile_of(n, n, q), q);
            }
        }
    }
}

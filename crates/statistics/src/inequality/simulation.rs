//! Simulated confidence limits of the SII and RII (METHODS.md, "Inequality across K ordered
//! groups"): redraw every group on the fitted scale, refit, and read the limits off the sorted
//! draws.

use rand_chacha::ChaCha8Rng;
use rand_chacha::rand_core::{Rng, SeedableRng};

use super::{Design, InequalityInterval, InequalityScale, SiiOptions};
use crate::confidence::Interval;
use crate::method;

/// Returns the SII and RII limits at each of `options.confidence_levels`, in the order requested.
///
/// `fitted` and `standard_errors` are each group's value and standard error on the fitted
/// scale; every draw takes each group from Normal(fitted, se), refits with `design`, and
/// converts the fit to (SII·multiplier, RII). All levels read the same sorted draws, so their
/// intervals nest.
pub(super) fn intervals(
    design: &Design,
    fitted: &[f64],
    standard_errors: &[f64],
    scale: InequalityScale,
    multiplier: f64,
    options: &SiiOptions,
) -> Vec<InequalityInterval> {
    let mut normal = Normal::new(options.seed);
    let mut redrawn = vec![0.0; fitted.len()];
    let mut siis = Vec::with_capacity(options.draws);
    let mut riis = Vec::with_capacity(options.draws);
    for _ in 0..options.draws {
        for ((y, mean), se) in redrawn.iter_mut().zip(fitted).zip(standard_errors) {
            *y = mean + se * normal.sample();
        }
        let (a, b) = design.fit(&redrawn);
        let (sii, rii) = scale.indices(a, b);
        siis.push(multiplier * sii);
        riis.push(rii);
    }
    // total_cmp gives a total order even if a degenerate draw (A = 0 on the identity scale)
    // makes an RII infinite or NaN, so sorting never panics and such draws go to the ends.
    siis.sort_unstable_by(f64::total_cmp);
    riis.sort_unstable_by(f64::total_cmp);
    options
        .confidence_levels
        .iter()
        .map(|&confidence| {
            let (lower, upper) = order_statistic_positions(options.draws, confidence.alpha());
            let interval = |sorted: &[f64]| Interval {
                lower: sorted[lower - 1],
                upper: sorted[upper - 1],
                confidence,
                method: method::SII,
            };
            InequalityInterval { sii: interval(&siis), rii: interval(&riis) }
        })
        .collect()
}

/// Returns the 1-based positions of the lower and upper limits among `draws` sorted draws.
///
/// They are round(draws·α/2) and round(draws·(1 − α/2)) with halves to even, as R's `round`
/// does, so limits match the reference implementation draw for draw; each is kept within
/// 1..=draws so an extreme level with few draws still names a real draw.
pub(super) fn order_statistic_positions(draws: usize, alpha: f64) -> (usize, usize) {
    let n = draws as f64;
    let position = |p: f64| ((n * p).round_ties_even() as usize).clamp(1, draws);
    (position(alpha / 2.0), position(1.0 - alpha / 2.0))
}

/// Standard normal variates by the Box–Muller transform on a seeded ChaCha8 stream.
///
/// Written here rather than taken from a distributions crate so that the limits for a seed
/// depend only on this code and ChaCha8's documented output, not on another crate's sampler.
struct Normal {
    /// The seeded uniform source.
    rng: ChaCha8Rng,
    /// The second variate of the last Box–Muller pair, not yet handed out.
    spare: Option<f64>,
}

impl Normal {
    /// Returns a sampler whose stream is fixed by `seed`.
    fn new(seed: u64) -> Self {
        Self { rng: ChaCha8Rng::seed_from_u64(seed), spare: None }
    }

    /// Returns a uniform variate on (0, 1], from the top 53 bits of the next word.
    fn uniform(&mut self) -> f64 {
        // Adding one before scaling keeps 0 out, so the logarithm below is always finite.
        ((self.rng.next_u64() >> 11) + 1) as f64 * f64::EPSILON / 2.0
    }

    /// Returns the next standard normal variate.
    fn sample(&mut self) -> f64 {
        if let Some(z) = self.spare.take() {
            return z;
        }
        let radius = (-2.0 * self.uniform().ln()).sqrt();
        let angle = std::f64::consts::TAU * self.uniform();
        let (sin, cos) = angle.sin_cos();
        // Both variates of the pair are independent normals; keeping the second halves the
        // number of logarithms and square roots per draw.
        self.spare = Some(radius * sin);
        radius * cos
    }
}

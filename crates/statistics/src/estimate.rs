//! The value-with-limits type most calculations return, and the multipliers they accept.

use crate::confidence::Interval;

/// A calculated value with its confidence interval and the method that produced it.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Estimate {
    /// Returns the value, already multiplied by any multiplier.
    pub value: f64,
    /// Returns the confidence interval, or `None` where the method gives none (mean of one value).
    pub interval: Option<Interval>,
    /// Returns the version string of the method behind the value, e.g. `crude-rate/1`.
    pub method: &'static str,
}

/// The multiplier for proportions and ratios: as a fraction (1) or per hundred (100).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Scale {
    /// Returns values as fractions or plain ratios (multiplier 1).
    #[default]
    Unit,
    /// Returns values per hundred: percentages, or ratios such as an SMR of 100 (multiplier 100).
    Hundred,
}

impl Scale {
    /// Returns the multiplier, 1 or 100.
    pub fn multiplier(self) -> f64 {
        match self {
            Self::Unit => 1.0,
            Self::Hundred => 100.0,
        }
    }
}

/// A numerator and denominator: a proportion's x and n, or a rate's count and population.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Count {
    /// Returns the numerator (events, or people meeting the condition).
    pub numerator: f64,
    /// Returns the denominator (population, or people eligible).
    pub denominator: f64,
}

impl Count {
    /// Returns a count from its numerator and denominator.
    pub const fn new(numerator: f64, denominator: f64) -> Self {
        Self { numerator, denominator }
    }
}

//! The one error type every calculation in this crate returns.

use std::fmt;

/// Names the input a calculation rejected, with its position when it came from a list.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Field {
    /// Returns the input's name as callers know it, e.g. `numerator`.
    pub name: &'static str,
    /// Returns the zero-based position in the list the input came from, if any.
    pub index: Option<usize>,
}

impl Field {
    /// Returns a field that is a single input.
    pub const fn named(name: &'static str) -> Self {
        Self { name, index: None }
    }

    /// Returns a field that is one item of a list input.
    pub const fn item(name: &'static str, index: usize) -> Self {
        Self { name, index: Some(index) }
    }
}

impl fmt::Display for Field {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.index {
            Some(index) => write!(f, "{}[{index}]", self.name),
            None => f.write_str(self.name),
        }
    }
}

/// Returns why a calculation could not run; every variant names the input at fault.
///
/// The set is closed on purpose: services map each variant onto one error code, so a new
/// variant is a deliberate API change rather than something callers can silently miss.
#[derive(Clone, Debug, PartialEq, thiserror::Error)]
pub enum StatisticsError {
    /// Returns the error for an input that must be zero or more.
    #[error("{field} {value} is negative")]
    Negative {
        /// The input at fault.
        field: Field,
        /// The value given.
        value: f64,
    },
    /// Returns the error for an input that must be strictly positive.
    #[error("{field} {value} is not positive")]
    NotPositive {
        /// The input at fault.
        field: Field,
        /// The value given.
        value: f64,
    },
    /// Returns the error for a NaN or infinite input.
    #[error("{field} is not a finite number")]
    NotFinite {
        /// The input at fault.
        field: Field,
    },
    /// Returns the error for a proportion whose numerator is larger than its denominator.
    #[error("{field} {numerator} exceeds denominator {denominator}")]
    NumeratorExceedsDenominator {
        /// The numerator at fault (with its list position, if any).
        field: Field,
        /// The numerator given.
        numerator: f64,
        /// The denominator given.
        denominator: f64,
    },
    /// Returns the error for an input outside the range a method is defined on.
    #[error("{field} {value} is outside {minimum} to {maximum}")]
    OutOfRange {
        /// The input at fault.
        field: Field,
        /// The value given.
        value: f64,
        /// The smallest value allowed.
        minimum: f64,
        /// The largest value allowed.
        maximum: f64,
    },
    /// Returns the error for a list with the wrong number of items.
    #[error("{field} has {actual} items but {expected} are required")]
    WrongLength {
        /// The list at fault.
        field: Field,
        /// The number of items required (or, for a range, its description).
        expected: Expected,
        /// The number of items given.
        actual: usize,
    },
    /// Returns the error for a lower limit above its upper limit.
    #[error("{field} lower limit {lower} exceeds upper limit {upper}")]
    LimitsReversed {
        /// The interval at fault.
        field: Field,
        /// The lower limit given.
        lower: f64,
        /// The upper limit given.
        upper: f64,
    },
    /// Returns the error for two intervals where the wider level does not contain the narrower.
    #[error("the {wider} interval does not contain the {narrower} interval")]
    IntervalsNotNested {
        /// The confidence of the interval that should be wider.
        wider: ConfidenceDisplay,
        /// The confidence of the interval that should be narrower.
        narrower: ConfidenceDisplay,
    },
    /// Returns the error for an inequality group given only a standard error on a log or logit fit.
    #[error("{field} gives a standard error, but a {scale} fit needs 95% limits to transform")]
    LimitsRequiredForScale {
        /// The group at fault.
        field: Field,
        /// The fitting scale requested.
        scale: &'static str,
    },
}

/// Describes how many items a list must hold.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Expected {
    /// Exactly this many items.
    Exactly(usize),
    /// At least this many items.
    AtLeast(usize),
    /// Between these many items, inclusive.
    Between(usize, usize),
}

impl fmt::Display for Expected {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Exactly(n) => write!(f, "exactly {n}"),
            Self::AtLeast(n) => write!(f, "at least {n}"),
            Self::Between(lo, hi) => write!(f, "between {lo} and {hi}"),
        }
    }
}

/// Displays a confidence level as a percentage in error messages, e.g. `99.8%`.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct ConfidenceDisplay(pub f64);

impl fmt::Display for ConfidenceDisplay {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Rounded so 0.998 prints as 99.8% rather than 99.80000000000001%.
        let percent = (self.0 * 1e6).round() / 1e4;
        write!(f, "{percent}%")
    }
}

/// Returns this crate's result type.
pub type Result<T> = std::result::Result<T, StatisticsError>;

/// Returns the value if it is finite and zero or more, else the error naming `field`.
pub(crate) fn non_negative(field: Field, value: f64) -> Result<f64> {
    finite(field, value)?;
    if value < 0.0 {
        return Err(StatisticsError::Negative { field, value });
    }
    Ok(value)
}

/// Returns the value if it is finite and strictly positive, else the error naming `field`.
pub(crate) fn positive(field: Field, value: f64) -> Result<f64> {
    finite(field, value)?;
    if value <= 0.0 {
        return Err(StatisticsError::NotPositive { field, value });
    }
    Ok(value)
}

/// Returns the value if it is finite, else the error naming `field`.
pub(crate) fn finite(field: Field, value: f64) -> Result<f64> {
    if value.is_finite() { Ok(value) } else { Err(StatisticsError::NotFinite { field }) }
}

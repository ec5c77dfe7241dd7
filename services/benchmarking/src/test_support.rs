//! Builders the unit tests share.

use sharedmetrics_access::{Principal, Role};

use crate::observations::{Cell, CellState};

/// Returns a national principal (reads everything).
pub(crate) fn national() -> Principal {
    Principal::api_key("X24", &[Role::National])
}

/// Returns a visible cell with counts x of n.
pub(crate) fn available(numerator: f64, denominator: f64) -> Cell {
    Cell {
        numerator: Some(numerator),
        denominator: Some(denominator),
        value: None,
        lower95: None,
        upper95: None,
        state: CellState::Available,
        hidden: None,
    }
}

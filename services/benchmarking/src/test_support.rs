//! Builders the unit tests share.

use sharedmetrics_access::{Principal, PrincipalKind, Role};

use crate::observations::{Cell, CellState};

/// Returns a national principal (reads everything).
pub(crate) fn national() -> Principal {
    Principal {
        id: "key:X24-test".into(),
        kind: PrincipalKind::ApiKey,
        organisation: "X24".into(),
        roles: vec![Role::National],
        key_id: None,
        display_name: "national".into(),
    }
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
    }
}

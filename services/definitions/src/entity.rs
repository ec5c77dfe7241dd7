//! The service's tables, one module per table.
#![allow(missing_docs)]

pub mod area;
pub mod area_ancestor;
pub mod catchment;
pub mod dimension;
pub mod dimension_code;
pub mod metric;
pub mod metric_version;
pub mod organisation;
pub mod organisation_parent;
pub mod peer_group;

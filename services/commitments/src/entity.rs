//! The service's tables, one module per table.
#![allow(missing_docs)]

pub mod charter;
pub mod charter_member;
pub mod charter_template;
pub mod commitment;
pub mod progress;
pub mod reference_value;

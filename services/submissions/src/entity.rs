//! The submissions service's tables.
#![allow(missing_docs)]

pub mod submission;

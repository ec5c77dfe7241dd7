//! The access tables, owned by the gateway.
#![allow(missing_docs)]

pub mod api_key;

//! The audit table, owned by the gateway.
#![allow(missing_docs)]

/// One audited write.
pub mod audit_event {
    use sea_orm::entity::prelude::*;

    /// One audited write: who, when, which RPC on which resource, and how it ended.
    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "audit_events")]
    pub struct Model {
        /// Monotonic id; the list order.
        #[sea_orm(primary_key)]
        pub id: i64,
        pub at: DateTimeUtc,
        pub principal_id: String,
        pub key_id: Option<String>,
        pub organisation_code: String,
        /// Full RPC name, `package.Service/Method`.
        pub rpc: String,
        pub resource: String,
        /// `succeeded`, `refused` or `failed`.
        pub outcome: String,
        /// Stable error reason, empty on success.
        pub error_code: String,
    }

    /// No declared relations.
    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}

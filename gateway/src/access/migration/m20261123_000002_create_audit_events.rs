//! Creates the audit log table.

use sea_orm_migration::prelude::*;
use sea_orm_migration::schema::*;
use sharedmetrics_db::schema::{a, index};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(a("audit_events"))
                    .col(big_integer(a("id")).auto_increment().primary_key())
                    .col(timestamp_with_time_zone(a("at")))
                    .col(string(a("principal_id")))
                    .col(string_null(a("key_id")))
                    .col(string(a("organisation_code")))
                    .col(string(a("rpc")))
                    .col(text(a("resource")))
                    .col(string(a("outcome")))
                    .col(string(a("error_code")))
                    .to_owned(),
            )
            .await?;
        // Org admins read their own organisation's events, newest first.
        manager.create_index(index("audit_events", "audit_events_organisation_idx", &["organisation_code", "id"])).await
    }
}

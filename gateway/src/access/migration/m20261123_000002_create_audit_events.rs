//! Creates the audit log table.

use sea_orm_migration::prelude::*;
use sea_orm_migration::schema::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        let a = Alias::new;
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
        manager
            .create_index(
                Index::create()
                    .name("audit_events_organisation_idx")
                    .table(a("audit_events"))
                    .col(a("organisation_code"))
                    .col(a("id"))
                    .to_owned(),
            )
            .await
    }
}

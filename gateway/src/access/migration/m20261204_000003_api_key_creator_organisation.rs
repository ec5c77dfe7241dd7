//! Records the organisation of each key's creator, so a key listed to another organisation
//! names who made it by organisation, never by the creator's own key id.

use sea_orm_migration::prelude::*;
use sea_orm_migration::schema::*;
use sharedmetrics_db::schema::a;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        // Keys made before this migration show an empty creator organisation: outside their
        // creator's organisation they say "another organisation".
        manager
            .alter_table(
                Table::alter()
                    .table(a("api_keys"))
                    .add_column(string(a("created_by_organisation")).default(""))
                    .to_owned(),
            )
            .await
    }
}

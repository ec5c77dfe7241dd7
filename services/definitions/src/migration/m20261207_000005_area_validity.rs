//! Adds the boundary vintage an area was introduced in (a new authority) and the one it was
//! replaced in, so a period is compared, and accepted, only for the areas valid in it.

use sea_orm_migration::prelude::*;
use sea_orm_migration::schema::*;
use sharedmetrics_db::schema::a;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        // One column a statement: SQLite adds one column per ALTER TABLE.
        for column in ["introduced_in", "replaced_in"] {
            manager.alter_table(Table::alter().table(a("areas")).add_column(string_null(a(column))).to_owned()).await?;
        }
        Ok(())
    }
}

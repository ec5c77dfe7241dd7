//! The submissions service's migrations, recorded in its own `submissions_migrations` table.

use sea_orm_migration::prelude::*;

mod m20261123_000001_create_submissions;

/// Runs the submissions service's migrations.
pub struct Migrator;

#[async_trait::async_trait]
impl MigratorTrait for Migrator {
    fn migration_table_name() -> DynIden {
        Alias::new("submissions_migrations").into_iden()
    }

    fn migrations() -> Vec<Box<dyn MigrationTrait>> {
        vec![Box::new(m20261123_000001_create_submissions::Migration)]
    }
}

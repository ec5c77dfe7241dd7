//! The commitments service's migrations, recorded in its own `commitments_migrations` table so
//! that it migrates apart from the other services sharing a database.

use sea_orm_migration::prelude::*;

mod m20261201_000001_create_commitments;

/// Runs the commitments service's migrations.
pub struct Migrator;

#[async_trait::async_trait]
impl MigratorTrait for Migrator {
    fn migration_table_name() -> DynIden {
        Alias::new("commitments_migrations").into_iden()
    }

    fn migrations() -> Vec<Box<dyn MigrationTrait>> {
        vec![Box::new(m20261201_000001_create_commitments::Migration)]
    }
}

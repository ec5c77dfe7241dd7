//! Small helpers the services' migrations share, so each migration reads as its tables.

use sea_orm_migration::prelude::{Alias, Index, IndexCreateStatement};

/// Returns an identifier (a table or column name).
pub fn a(name: &str) -> Alias {
    Alias::new(name)
}

/// Returns an index named `name` on `table`'s `columns`, in order.
pub fn index(table: &str, name: &str, columns: &[&str]) -> IndexCreateStatement {
    let mut index = Index::create();
    index.name(name).table(a(table));
    for column in columns {
        index.col(a(column));
    }
    index.to_owned()
}

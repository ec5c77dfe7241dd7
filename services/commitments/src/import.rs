//! Loads the reference values the service checks figures against (the real Living Wage rates,
//! `data/reference/real_living_wage.json`) as versioned data, not constants. The import is
//! idempotent: a row already loaded with the same value is left alone; a row of an existing data
//! version with a different value is refused (a published version is never edited: a correction
//! is a new data version), and the whole file loads in one transaction or not at all.

use std::collections::HashSet;

use anyhow::{Context, bail};
use sea_orm::{DatabaseConnection, TransactionTrait};
use serde::Deserialize;
use sharedmetrics_periods::{Period, PeriodType};
use sharedmetrics_reference::Folder;

use crate::entity::reference_value;
use crate::store;

/// The file holding the real Living Wage rates, in the reference folder.
pub const REAL_LIVING_WAGE_FILE: &str = "real_living_wage.json";
/// The kind of the real Living Wage rates.
pub const REAL_LIVING_WAGE: &str = "real_living_wage";
/// The scope of the UK rate (everywhere outside London).
pub const SCOPE_UK: &str = "uk";
/// The scope of the London rate.
pub const SCOPE_LONDON: &str = "london";

/// What an import wrote.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct ReferenceImportReport {
    /// Values inserted.
    pub inserted: usize,
    /// Values already loaded with the same figure.
    pub unchanged: usize,
}

#[derive(Deserialize)]
struct RatesFile {
    kind: String,
    unit: String,
    rows: Vec<RateRow>,
}

#[derive(Deserialize)]
struct RateRow {
    valid_period: String,
    uk: f64,
    london: f64,
    source: String,
    data_version: i32,
    published: String,
}

/// Imports the reference values of `folder` (built in: the workspace's `data/reference`).
pub async fn import_reference_values(
    db: &DatabaseConnection,
    folder: &Folder,
) -> anyhow::Result<ReferenceImportReport> {
    let path = folder.name_of(REAL_LIVING_WAGE_FILE);
    let file: RatesFile = folder.read_json(REAL_LIVING_WAGE_FILE)?;
    if file.kind != REAL_LIVING_WAGE {
        bail!("{path}: kind {:?} is not {REAL_LIVING_WAGE:?}", file.kind);
    }
    let now = chrono::Utc::now();
    let mut rows = Vec::new();
    let mut seen = HashSet::new();
    for (i, row) in file.rows.iter().enumerate() {
        let at = || format!("{path} row {}", i + 1);
        Period::parse_as(&row.valid_period, PeriodType::FinancialYear).with_context(at)?;
        if !seen.insert((row.valid_period.clone(), row.data_version)) {
            bail!("{}: {} appears twice in data version {}", at(), row.valid_period, row.data_version);
        }
        if row.data_version < 1 {
            bail!("{}: data versions start at 1", at());
        }
        if chrono::NaiveDate::parse_from_str(&row.published, "%Y-%m-%d").is_err() {
            bail!("{}: published date {:?} is not an ISO date", at(), row.published);
        }
        if row.source.trim().is_empty() {
            bail!("{}: every rate names its source", at());
        }
        for (scope, value) in [(SCOPE_UK, row.uk), (SCOPE_LONDON, row.london)] {
            if !(value.is_finite() && value > 0.0) {
                bail!("{}: the {scope} rate {value} is not a positive amount", at());
            }
            rows.push(reference_value::Model {
                kind: file.kind.clone(),
                scope: scope.to_owned(),
                valid_period: row.valid_period.clone(),
                data_version: row.data_version,
                value,
                unit: file.unit.clone(),
                source: row.source.clone(),
                published: row.published.clone(),
                imported_at: now,
            });
        }
    }

    let mut report = ReferenceImportReport::default();
    let txn = db.begin().await?;
    for row in rows {
        let stored =
            store::get_reference_value(&txn, &row.kind, &row.scope, &row.valid_period, row.data_version).await?;
        match stored {
            Some(stored) if stored.value == row.value && stored.published == row.published => report.unchanged += 1,
            Some(stored) => bail!(
                "{path}: data version {} of {} {} {} is already loaded as {} (published {}); a correction is a new data version",
                row.data_version,
                row.kind,
                row.scope,
                row.valid_period,
                stored.value,
                stored.published
            ),
            None => {
                store::insert_reference_value(&txn, row).await?;
                report.inserted += 1;
            }
        }
    }
    txn.commit().await?;
    tracing::info!(inserted = report.inserted, unchanged = report.unchanged, "reference values imported");
    Ok(report)
}

/// Returns the financial year whose rates apply to a period: the one containing its last day.
pub fn rate_year(period: &Period) -> Period {
    let end = period.end_date();
    let start_year = if chrono::Datelike::month(&end) >= 4 {
        chrono::Datelike::year(&end)
    } else {
        chrono::Datelike::year(&end) - 1
    };
    Period::FinancialYear(start_year)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_period_takes_the_rates_of_the_financial_year_it_ends_in() {
        let year = |code: &str| rate_year(&Period::parse(code).expect("a period")).to_string();
        assert_eq!(year("2024/25-Q1"), "2024/25");
        assert_eq!(year("2024/25-Q4"), "2024/25");
        assert_eq!(year("2025-03"), "2024/25");
        assert_eq!(year("2025-04"), "2025/26");
        assert_eq!(year("2024"), "2024/25");
    }

    #[test]
    fn the_data_file_holds_every_rate_of_the_issue() {
        let file: RatesFile = Folder::values(None).read_json(REAL_LIVING_WAGE_FILE).expect("the built-in file");
        let rates: Vec<(&str, f64, f64)> =
            file.rows.iter().map(|r| (r.valid_period.as_str(), r.uk, r.london)).collect();
        assert_eq!(
            rates,
            vec![
                ("2016/17", 8.45, 9.75),
                ("2017/18", 8.75, 10.20),
                ("2018/19", 9.00, 10.55),
                ("2019/20", 9.30, 10.75),
                ("2020/21", 9.50, 10.85),
                ("2021/22", 9.90, 11.05),
                ("2022/23", 10.90, 11.95),
                ("2023/24", 12.00, 13.15),
                ("2024/25", 12.60, 13.85),
                ("2025/26", 13.45, 14.80),
            ]
        );
        assert!(file.rows.iter().all(|r| r.source == "Living Wage Foundation" && r.data_version == 1));
    }
}

//! Period codes, the one place they are parsed, validated, rendered and ordered.
//!
//! Every period has one canonical, sortable string form (DESIGN.md §4): `2024` (calendar year),
//! `2024-Q3`, `2024-07`, `2024-W05` (ISO week), `2024/25` (financial year, April to March),
//! `2024/25-Q1` (April to June), and pooled ranges `2021-2023` and `2021/22-2023/24`.

use std::cmp::Ordering;
use std::fmt;
use std::str::FromStr;

use chrono::{Datelike, NaiveDate, Weekday};
use sharedmetrics_proto::Label;
pub use sharedmetrics_proto::sharedmetrics::common::v1::PeriodType;

/// Why a period code was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PeriodError {
    /// The code matches none of the period forms.
    #[error(
        "{0:?} is not a period code (expected forms: 2024, 2024-Q3, 2024-07, 2024-W05, 2024/25, 2024/25-Q1, 2021-2023, 2021/22-2023/24)"
    )]
    Malformed(String),
    /// The code has a valid shape but an impossible value.
    #[error("{code:?} is not a valid period: {reason}")]
    OutOfRange {
        /// The code as given.
        code: String,
        /// What is out of range.
        reason: String,
    },
    /// The code is valid but of another type than the one required.
    #[error("{code:?} is a {actual} period but a {expected} period is required")]
    WrongType {
        /// The code as given.
        code: String,
        /// The type required.
        expected: String,
        /// The type of the code.
        actual: String,
    },
}

/// A reporting period.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Period {
    /// A calendar year, January to December.
    CalendarYear(i32),
    /// A calendar quarter, 1 = January to March.
    CalendarQuarter {
        /// Calendar year.
        year: i32,
        /// Quarter, 1 to 4.
        quarter: u32,
    },
    /// A calendar month.
    Month {
        /// Calendar year.
        year: i32,
        /// Month, 1 to 12.
        month: u32,
    },
    /// An ISO 8601 week.
    IsoWeek {
        /// ISO week-numbering year.
        year: i32,
        /// Week, 1 to 52 or 53.
        week: u32,
    },
    /// A financial year from 1 April of the given year to 31 March of the next.
    FinancialYear(i32),
    /// A financial quarter: Q1 is April to June of the financial year starting in `year`.
    FinancialQuarter {
        /// The calendar year in which the financial year starts.
        year: i32,
        /// Quarter, 1 to 4.
        quarter: u32,
    },
    /// Calendar years pooled, first to last inclusive.
    CalendarYearRange {
        /// First year.
        first: i32,
        /// Last year, after the first.
        last: i32,
    },
    /// Financial years pooled, by their starting calendar years, first to last inclusive.
    FinancialYearRange {
        /// Starting year of the first financial year.
        first: i32,
        /// Starting year of the last financial year, after the first.
        last: i32,
    },
}

const MIN_YEAR: i32 = 1900;
const MAX_YEAR: i32 = 2200;

impl Period {
    /// Parses a canonical period code.
    pub fn parse(code: &str) -> Result<Self, PeriodError> {
        code.parse()
    }

    /// Parses a code and checks it is of the required type.
    pub fn parse_as(code: &str, expected: PeriodType) -> Result<Self, PeriodError> {
        let period = Self::parse(code)?;
        if period.period_type() != expected {
            return Err(PeriodError::WrongType {
                code: code.to_owned(),
                expected: type_label(expected),
                actual: type_label(period.period_type()),
            });
        }
        Ok(period)
    }

    /// Returns the type of the period.
    pub fn period_type(&self) -> PeriodType {
        match self {
            Period::CalendarYear(_) => PeriodType::CalendarYear,
            Period::CalendarQuarter { .. } => PeriodType::CalendarQuarter,
            Period::Month { .. } => PeriodType::Month,
            Period::IsoWeek { .. } => PeriodType::IsoWeek,
            Period::FinancialYear(_) => PeriodType::FinancialYear,
            Period::FinancialQuarter { .. } => PeriodType::FinancialQuarter,
            Period::CalendarYearRange { .. } => PeriodType::CalendarYearRange,
            Period::FinancialYearRange { .. } => PeriodType::FinancialYearRange,
        }
    }

    /// Returns the first day the period covers.
    pub fn start_date(&self) -> NaiveDate {
        match *self {
            Period::CalendarYear(y) | Period::CalendarYearRange { first: y, .. } => ymd(y, 1, 1),
            Period::CalendarQuarter { year, quarter } => ymd(year, 3 * quarter - 2, 1),
            Period::Month { year, month } => ymd(year, month, 1),
            Period::IsoWeek { year, week } => {
                NaiveDate::from_isoywd_opt(year, week, Weekday::Mon).expect("validated week")
            }
            Period::FinancialYear(y) | Period::FinancialYearRange { first: y, .. } => ymd(y, 4, 1),
            Period::FinancialQuarter { year, quarter } => {
                let month = 4 + 3 * (quarter - 1);
                if month > 12 { ymd(year + 1, month - 12, 1) } else { ymd(year, month, 1) }
            }
        }
    }

    /// Returns the last day the period covers.
    pub fn end_date(&self) -> NaiveDate {
        match *self {
            Period::CalendarYear(y) | Period::CalendarYearRange { last: y, .. } => ymd(y, 12, 31),
            Period::CalendarQuarter { year, quarter } => last_day_of_month(year, 3 * quarter),
            Period::Month { year, month } => last_day_of_month(year, month),
            Period::IsoWeek { year, week } => {
                NaiveDate::from_isoywd_opt(year, week, Weekday::Sun).expect("validated week")
            }
            Period::FinancialYear(y) | Period::FinancialYearRange { last: y, .. } => ymd(y + 1, 3, 31),
            Period::FinancialQuarter { year, quarter } => {
                let month = 3 + 3 * quarter;
                if month > 12 { last_day_of_month(year + 1, month - 12) } else { last_day_of_month(year, month) }
            }
        }
    }

    /// Returns whether the period covers the given day.
    pub fn contains(&self, day: NaiveDate) -> bool {
        self.start_date() <= day && day <= self.end_date()
    }

    /// Returns the period of the same type that follows this one (ranges move by one year).
    pub fn next(&self) -> Self {
        self.shift(1)
    }

    /// Returns the period of the same type that precedes this one.
    pub fn previous(&self) -> Self {
        self.shift(-1)
    }

    fn shift(&self, by: i32) -> Self {
        let step = |n: u32, count: u32, year: i32| {
            let index = year * count as i32 + (n as i32 - 1) + by;
            (index.div_euclid(count as i32), index.rem_euclid(count as i32) as u32 + 1)
        };
        match *self {
            Period::CalendarYear(y) => Period::CalendarYear(y + by),
            Period::FinancialYear(y) => Period::FinancialYear(y + by),
            Period::CalendarQuarter { year, quarter } => {
                let (year, quarter) = step(quarter, 4, year);
                Period::CalendarQuarter { year, quarter }
            }
            Period::FinancialQuarter { year, quarter } => {
                let (year, quarter) = step(quarter, 4, year);
                Period::FinancialQuarter { year, quarter }
            }
            Period::Month { year, month } => {
                let (year, month) = step(month, 12, year);
                Period::Month { year, month }
            }
            Period::IsoWeek { .. } => {
                let day = self.start_date() + chrono::Duration::weeks(i64::from(by));
                let iso = day.iso_week();
                Period::IsoWeek { year: iso.year(), week: iso.week() }
            }
            Period::CalendarYearRange { first, last } => {
                Period::CalendarYearRange { first: first + by, last: last + by }
            }
            Period::FinancialYearRange { first, last } => {
                Period::FinancialYearRange { first: first + by, last: last + by }
            }
        }
    }
}

impl Ord for Period {
    /// Orders periods by the day they start, then by the day they end (a shorter period first),
    /// so that a series of one type sorts chronologically.
    fn cmp(&self, other: &Self) -> Ordering {
        self.start_date()
            .cmp(&other.start_date())
            .then_with(|| self.end_date().cmp(&other.end_date()))
            .then_with(|| (self.period_type() as i32).cmp(&(other.period_type() as i32)))
    }
}

impl PartialOrd for Period {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl fmt::Display for Period {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match *self {
            Period::CalendarYear(y) => write!(f, "{y}"),
            Period::CalendarQuarter { year, quarter } => write!(f, "{year}-Q{quarter}"),
            Period::Month { year, month } => write!(f, "{year}-{month:02}"),
            Period::IsoWeek { year, week } => write!(f, "{year}-W{week:02}"),
            Period::FinancialYear(y) => write!(f, "{}", financial_year(y)),
            Period::FinancialQuarter { year, quarter } => {
                write!(f, "{}-Q{quarter}", financial_year(year))
            }
            Period::CalendarYearRange { first, last } => write!(f, "{first}-{last}"),
            Period::FinancialYearRange { first, last } => {
                write!(f, "{}-{}", financial_year(first), financial_year(last))
            }
        }
    }
}

impl FromStr for Period {
    type Err = PeriodError;

    fn from_str(code: &str) -> Result<Self, Self::Err> {
        let malformed = || PeriodError::Malformed(code.to_owned());
        let out_of_range = |reason: &str| PeriodError::OutOfRange { code: code.to_owned(), reason: reason.to_owned() };
        let period = if let Some((first, last)) = split_range(code) {
            match (parse_financial_year(first), parse_financial_year(last)) {
                (Some(first), Some(last)) => Period::FinancialYearRange { first, last },
                _ => Period::CalendarYearRange {
                    first: parse_year(first).ok_or_else(malformed)?,
                    last: parse_year(last).ok_or_else(malformed)?,
                },
            }
        } else if let Some((fy, quarter)) = code.split_once("/").and_then(|_| code.split_once('-')) {
            let year = parse_financial_year(fy).ok_or_else(malformed)?;
            let quarter = parse_prefixed(quarter, 'Q', 1).ok_or_else(malformed)?;
            Period::FinancialQuarter { year, quarter }
        } else if code.contains('/') {
            if code.len() != 7 {
                return Err(malformed());
            }
            let (first, second) = code.split_once('/').ok_or_else(malformed)?;
            let year = parse_year(first).ok_or_else(malformed)?;
            if second.len() != 2 || !second.bytes().all(|b| b.is_ascii_digit()) {
                return Err(malformed());
            }
            if second != format!("{:02}", (year + 1).rem_euclid(100)) {
                return Err(out_of_range("a financial year runs into the next year, e.g. 2024/25"));
            }
            Period::FinancialYear(year)
        } else if let Some((year, rest)) = code.split_once('-') {
            let year = parse_year(year).ok_or_else(malformed)?;
            if let Some(quarter) = parse_prefixed(rest, 'Q', 1) {
                Period::CalendarQuarter { year, quarter }
            } else if let Some(week) = parse_prefixed(rest, 'W', 2) {
                Period::IsoWeek { year, week }
            } else if rest.len() == 2 && rest.bytes().all(|b| b.is_ascii_digit()) {
                Period::Month { year, month: rest.parse().map_err(|_| malformed())? }
            } else {
                return Err(malformed());
            }
        } else {
            Period::CalendarYear(parse_year(code).ok_or_else(malformed)?)
        };
        match period {
            Period::CalendarQuarter { quarter, .. } | Period::FinancialQuarter { quarter, .. }
                if !(1..=4).contains(&quarter) =>
            {
                return Err(out_of_range("quarters run from Q1 to Q4"));
            }
            Period::Month { month, .. } if !(1..=12).contains(&month) => {
                return Err(out_of_range("months run from 01 to 12"));
            }
            Period::IsoWeek { year, week }
                if week == 0 || NaiveDate::from_isoywd_opt(year, week, Weekday::Mon).is_none() =>
            {
                return Err(out_of_range("that ISO week does not exist in that year"));
            }
            Period::CalendarYearRange { first, last } | Period::FinancialYearRange { first, last } if last <= first => {
                return Err(out_of_range("a range ends after it starts"));
            }
            _ => {}
        }
        // Only the canonical spelling is accepted, so that one period has exactly one code.
        if period.to_string() != code {
            return Err(malformed());
        }
        Ok(period)
    }
}

/// Returns the label of a period type (`calendar_year`, …), as used in data files and messages.
pub fn type_label(period_type: PeriodType) -> String {
    period_type.label()
}

fn ymd(year: i32, month: u32, day: u32) -> NaiveDate {
    NaiveDate::from_ymd_opt(year, month, day).expect("validated date")
}

fn last_day_of_month(year: i32, month: u32) -> NaiveDate {
    let (next_year, next_month) = if month == 12 { (year + 1, 1) } else { (year, month + 1) };
    ymd(next_year, next_month, 1).pred_opt().expect("a day before the first")
}

fn financial_year(start: i32) -> String {
    format!("{start}/{:02}", (start + 1).rem_euclid(100))
}

fn parse_year(text: &str) -> Option<i32> {
    if text.len() != 4 || !text.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let year: i32 = text.parse().ok()?;
    (MIN_YEAR..=MAX_YEAR).contains(&year).then_some(year)
}

fn parse_financial_year(text: &str) -> Option<i32> {
    let (first, second) = text.split_once('/')?;
    let year = parse_year(first)?;
    (second == format!("{:02}", (year + 1).rem_euclid(100))).then_some(year)
}

/// Parses `Q3` or `W05`: a letter then exactly `digits` digits (or 1–2 for weeks written `W5`,
/// which the canonical check then refuses).
fn parse_prefixed(text: &str, letter: char, digits: usize) -> Option<u32> {
    let rest = text.strip_prefix(letter)?;
    if rest.len() != digits || !rest.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    rest.parse().ok()
}

/// Splits `2021-2023` or `2021/22-2023/24` into its two ends; other codes are not ranges.
fn split_range(code: &str) -> Option<(&str, &str)> {
    let (first, last) = code.split_once('-')?;
    let is_year = |s: &str| s.len() == 4 && s.bytes().all(|b| b.is_ascii_digit());
    let is_fy = |s: &str| s.len() == 7 && s.as_bytes()[4] == b'/';
    ((is_year(first) && is_year(last)) || (is_fy(first) && is_fy(last))).then_some((first, last))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(code: &str) -> Period {
        Period::parse(code).unwrap_or_else(|e| panic!("{code}: {e}"))
    }

    #[test]
    fn every_canonical_form_parses_and_renders_back() {
        for code in [
            "2024",
            "2024-Q3",
            "2024-07",
            "2024-W05",
            "2020-W53",
            "2024/25",
            "2024/25-Q1",
            "1999/00",
            "2021-2023",
            "2021/22-2023/24",
        ] {
            assert_eq!(p(code).to_string(), code);
        }
    }

    #[test]
    fn types_are_recognised() {
        assert_eq!(p("2024").period_type(), PeriodType::CalendarYear);
        assert_eq!(p("2024-Q3").period_type(), PeriodType::CalendarQuarter);
        assert_eq!(p("2024-07").period_type(), PeriodType::Month);
        assert_eq!(p("2024-W05").period_type(), PeriodType::IsoWeek);
        assert_eq!(p("2024/25").period_type(), PeriodType::FinancialYear);
        assert_eq!(p("2024/25-Q1").period_type(), PeriodType::FinancialQuarter);
        assert_eq!(p("2021-2023").period_type(), PeriodType::CalendarYearRange);
        assert_eq!(p("2021/22-2023/24").period_type(), PeriodType::FinancialYearRange);
    }

    #[test]
    fn financial_periods_run_april_to_march() {
        let fy = p("2024/25");
        assert_eq!(fy.start_date(), ymd(2024, 4, 1));
        assert_eq!(fy.end_date(), ymd(2025, 3, 31));
        assert_eq!(p("2024/25-Q1").start_date(), ymd(2024, 4, 1));
        assert_eq!(p("2024/25-Q1").end_date(), ymd(2024, 6, 30));
        assert_eq!(p("2024/25-Q4").start_date(), ymd(2025, 1, 1));
        assert_eq!(p("2024/25-Q4").end_date(), ymd(2025, 3, 31));
        assert_eq!(p("2021/22-2023/24").end_date(), ymd(2024, 3, 31));
    }

    #[test]
    fn calendar_periods_have_their_dates() {
        assert_eq!(p("2024-02").end_date(), ymd(2024, 2, 29));
        assert_eq!(p("2024-Q4").end_date(), ymd(2024, 12, 31));
        assert_eq!(p("2024-W01").start_date(), ymd(2024, 1, 1));
        assert_eq!(p("2021-2023").start_date(), ymd(2021, 1, 1));
    }

    #[test]
    fn malformed_and_impossible_codes_are_refused() {
        for code in [
            "",
            "24",
            "2024-Q5",
            "2024-Q0",
            "2024-13",
            "2024-7",
            "2024-W54",
            "2021-W53",
            "2024/26",
            "2024/25-Q5",
            "2023-2021",
            "2023-2023",
            "2024-q3",
            " 2024",
            "2024/2025",
            "2024/25-2023/24",
            "FY2024",
        ] {
            assert!(Period::parse(code).is_err(), "{code:?} should be refused");
        }
    }

    #[test]
    fn the_wrong_type_names_both_types() {
        let err = Period::parse_as("2024-Q1", PeriodType::FinancialQuarter).unwrap_err();
        assert_eq!(
            err.to_string(),
            "\"2024-Q1\" is a calendar_quarter period but a financial_quarter period is required"
        );
    }

    #[test]
    fn periods_sort_chronologically() {
        let mut periods: Vec<Period> = ["2024/25-Q2", "2023/24-Q4", "2024/25-Q1", "2024/25", "2023/24"].map(p).to_vec();
        periods.sort();
        let codes: Vec<String> = periods.iter().map(Period::to_string).collect();
        assert_eq!(codes, ["2023/24", "2023/24-Q4", "2024/25-Q1", "2024/25", "2024/25-Q2"]);
    }

    #[test]
    fn next_and_previous_step_across_year_ends() {
        assert_eq!(p("2024/25-Q4").next(), p("2025/26-Q1"));
        assert_eq!(p("2024-01").previous(), p("2023-12"));
        assert_eq!(p("2020-W53").next(), p("2021-W01"));
        assert_eq!(p("2021-2023").next(), p("2022-2024"));
        assert_eq!(p("1999/00").next(), p("2000/01"));
    }
}

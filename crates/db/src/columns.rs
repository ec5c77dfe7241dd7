//! How the services store a few values in their columns: times, and lists of strings as JSON
//! text.

use prost_types::Timestamp;

/// Returns a protobuf timestamp for a database time.
pub fn timestamp(at: chrono::DateTime<chrono::Utc>) -> Timestamp {
    Timestamp { seconds: at.timestamp(), nanos: at.timestamp_subsec_nanos() as i32 }
}

/// Encodes a list of strings for a JSON text column.
pub fn json_list(values: &[String]) -> String {
    serde_json::to_string(values).expect("strings serialise")
}

/// Decodes a JSON text column written by [`json_list`].
pub fn parse_list(text: &str) -> Vec<String> {
    serde_json::from_str(text).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_list_round_trips_and_a_bad_column_reads_as_empty() {
        let list = vec!["RBL".to_owned(), "RBN".to_owned()];
        assert_eq!(parse_list(&json_list(&list)), list);
        assert!(parse_list("not json").is_empty());
        let at = chrono::DateTime::from_timestamp(1_700_000_000, 5).unwrap();
        assert_eq!(timestamp(at), Timestamp { seconds: 1_700_000_000, nanos: 5 });
    }
}

//! CSV for list and query RPCs: one row per element of the response's repeated message field,
//! one column per scalar field (nested messages flattened with dotted names), the header
//! first. Columns come from the descriptor, so the header is known before the first row and
//! every chunk of a stream has the same columns. A text cell a spreadsheet would read as a
//! formula is neutralised (OWASP CSV injection); numbers are written as they are.

use prost_reflect::{DynamicMessage, FieldDescriptor, Kind, MessageDescriptor, Value};
use serde::Serialize;
use serde_json::Value as Json;

use crate::request::is_scalar_like;

/// How deep nested messages are flattened before a column holds the message as JSON.
const MAX_DEPTH: usize = 4;

/// One CSV column: its header and the fields leading to its value from an element.
#[derive(Debug, Clone)]
struct Column {
    header: String,
    path: Vec<FieldDescriptor>,
    /// For a list of flat messages: their fields, in declaration order.
    element_fields: Option<Vec<FieldDescriptor>>,
}

/// The CSV shape of a response type.
#[derive(Debug, Clone)]
pub struct CsvLayout {
    list_field: FieldDescriptor,
    columns: Vec<Column>,
}

impl CsvLayout {
    /// Returns the layout of a response type: its first repeated message field is the list
    /// (`observations`, `metrics`, …). A response without one has no CSV form.
    pub fn for_response(output: &MessageDescriptor) -> Option<Self> {
        let list_field = output.fields().find(|field| {
            field.is_list() && matches!(field.kind(), Kind::Message(m) if !is_scalar_like(m.full_name()))
        })?;
        let Kind::Message(element) = list_field.kind() else { return None };
        let mut columns = Vec::new();
        flatten(&element, "", &[], 0, &mut vec![element.full_name().to_owned()], &mut columns);
        Some(Self { list_field, columns })
    }

    /// Returns the name of the list field.
    pub fn list_field(&self) -> &str {
        self.list_field.name()
    }

    /// Returns the column headers.
    pub fn headers(&self) -> impl Iterator<Item = &str> {
        self.columns.iter().map(|c| c.header.as_str())
    }

    /// Returns the header row.
    pub fn header_row(&self) -> Vec<u8> {
        write_records(std::iter::once(self.columns.iter().map(|c| c.header.clone()).collect()))
    }

    /// Returns the rows of one response message (possibly none), ready to send. Values are read
    /// straight from the message (no JSON in between) and written as the JSON mapping writes them.
    pub fn rows(&self, message: &DynamicMessage) -> Vec<u8> {
        let list = message.get_field(&self.list_field);
        let Value::List(items) = list.as_ref() else { return Vec::new() };
        let records = items.iter().filter_map(|item| match item {
            Value::Message(element) => Some(self.columns.iter().map(|column| column.cell(element)).collect()),
            _ => None,
        });
        write_records(records)
    }

    /// Returns the number of elements of the list in one response message.
    pub fn count(&self, message: &DynamicMessage) -> usize {
        match message.get_field_by_name(self.list_field.name()).as_deref() {
            Some(Value::List(items)) => items.len(),
            _ => 0,
        }
    }
}

/// Adds a column per field of `message`, descending into nested messages.
fn flatten(
    message: &MessageDescriptor,
    prefix: &str,
    parents: &[FieldDescriptor],
    depth: usize,
    seen: &mut Vec<String>,
    columns: &mut Vec<Column>,
) {
    for field in message.fields() {
        let header = format!("{prefix}{}", field.name());
        let mut path = parents.to_vec();
        path.push(field.clone());
        let mut element_fields = None;
        if let Kind::Message(inner) = field.kind() {
            if field.is_list() && inner.fields().all(|f| !f.is_list() && !matches!(f.kind(), Kind::Message(_))) {
                element_fields = Some(inner.fields().collect());
            }
            let nested = !field.is_list()
                && !field.is_map()
                && !is_scalar_like(inner.full_name())
                && !inner.full_name().starts_with("google.protobuf.")
                && depth < MAX_DEPTH
                && !seen.iter().any(|name| name == inner.full_name());
            if nested {
                seen.push(inner.full_name().to_owned());
                flatten(&inner, &format!("{header}."), &path, depth + 1, seen, columns);
                seen.pop();
                continue;
            }
        }
        columns.push(Column { header, path, element_fields });
    }
}

impl Column {
    /// Returns the cell of one element: empty when a field on the way (or the value itself) is
    /// unset, scalars as text, lists of scalars joined with `;`, lists of flat messages as
    /// `a:b;c:d` in field order (the form the query filters take, for example `imd_decile:1`),
    /// anything else as compact proto3 JSON. Text is neutralised ([`neutralise`]); numbers,
    /// booleans and enum names are not (`-1.5` stays a number).
    fn cell(&self, element: &DynamicMessage) -> String {
        match self.cell_in(element, 0) {
            (text, Cell::Text) => neutralise(text),
            (text, Cell::Number) => text,
        }
    }

    fn cell_in(&self, message: &DynamicMessage, depth: usize) -> (String, Cell) {
        let field = &self.path[depth];
        if depth + 1 < self.path.len() {
            if !message.has_field(field) {
                return (String::new(), Cell::Number);
            }
            return match message.get_field(field).as_ref() {
                Value::Message(inner) => self.cell_in(inner, depth + 1),
                _ => (String::new(), Cell::Number),
            };
        }
        let last = field;
        if last.supports_presence() && !message.has_field(last) {
            return (String::new(), Cell::Number);
        }
        let value = message.get_field(last);
        let text = match (value.as_ref(), &self.element_fields) {
            (Value::List(items), Some(fields)) => items
                .iter()
                .filter_map(Value::as_message)
                .map(|item| fields.iter().map(|f| scalar(&item.get_field(f), f)).collect::<Vec<_>>().join(":"))
                .collect::<Vec<_>>()
                .join(";"),
            (Value::List(items), None) if !matches!(last.kind(), Kind::Message(_)) => {
                items.iter().map(|item| scalar(item, last)).collect::<Vec<_>>().join(";")
            }
            (Value::List(_) | Value::Map(_) | Value::Message(_) | Value::Bytes(_), _) => return as_json(message, last),
            (value, _) => scalar(value, last),
        };
        let kind = match last.kind() {
            Kind::String | Kind::Bytes | Kind::Message(_) => Cell::Text,
            _ => Cell::Number,
        };
        (text, kind)
    }
}

/// What a cell holds, for [`neutralise`]: text (from a string, bytes or a message), or a
/// number, boolean or enum name, which a spreadsheet cannot take for a formula.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Cell {
    Text,
    Number,
}

/// Returns a text cell a spreadsheet will not evaluate: one beginning with `=`, `+`, `-`, `@`,
/// a tab or a carriage return is prefixed with `'` (OWASP CSV injection), which Excel and
/// LibreOffice show as text and drop from the value. The CSV writer quotes as the cell needs.
fn neutralise(text: String) -> String {
    if text.starts_with(['=', '+', '-', '@', '\t', '\r']) { format!("'{text}") } else { text }
}

/// Renders a scalar as the proto3 JSON mapping writes it, less the quotes; whole doubles print
/// as integers (5, not 5.0), as a spreadsheet would show them.
fn scalar(value: &Value, field: &FieldDescriptor) -> String {
    match value {
        Value::Bool(b) => b.to_string(),
        Value::I32(n) => n.to_string(),
        Value::I64(n) => n.to_string(),
        Value::U32(n) => n.to_string(),
        Value::U64(n) => n.to_string(),
        Value::F32(f) => float(f64::from(*f)),
        Value::F64(f) => float(*f),
        Value::String(s) => s.clone(),
        Value::EnumNumber(number) => match field.kind() {
            Kind::Enum(e) => e.get_value(*number).map_or_else(|| number.to_string(), |v| v.name().to_owned()),
            _ => number.to_string(),
        },
        _ => String::new(),
    }
}

fn float(f: f64) -> String {
    if f.is_nan() {
        "NaN".to_owned()
    } else if f.is_infinite() {
        if f > 0.0 { "Infinity" } else { "-Infinity" }.to_owned()
    } else if f.fract() == 0.0 && f.abs() < 1e15 {
        format!("{f:.0}")
    } else {
        f.to_string()
    }
}

/// Renders one field of `message` (a timestamp, a nested message, a list of them) as compact
/// proto3 JSON, by serialising a copy of the message holding only that field; a wrapper of a
/// number (`DoubleValue`) renders as a number cell, anything else as text.
fn as_json(message: &DynamicMessage, field: &FieldDescriptor) -> (String, Cell) {
    let mut only = DynamicMessage::new(field.parent_message().clone());
    only.set_field(field, message.get_field(field).into_owned());
    let Ok(json) = only.serialize(serde_json::value::Serializer) else { return (String::new(), Cell::Number) };
    match json.get(field.json_name()) {
        None | Some(Json::Null) => (String::new(), Cell::Number),
        Some(Json::String(s)) => (s.clone(), Cell::Text),
        Some(number @ (Json::Number(_) | Json::Bool(_))) => (number.to_string(), Cell::Number),
        Some(other) => (other.to_string(), Cell::Text),
    }
}

fn write_records(records: impl Iterator<Item = Vec<String>>) -> Vec<u8> {
    let mut writer = csv::Writer::from_writer(Vec::new());
    for record in records {
        // Writing to a Vec cannot fail; a record of the wrong length cannot happen (one cell per column).
        let _ = writer.write_record(&record);
    }
    writer.into_inner().unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use prost_reflect::DescriptorPool;

    use super::*;

    fn pool() -> DescriptorPool {
        DescriptorPool::decode(sharedmetrics_proto::FILE_DESCRIPTOR_SET).expect("descriptor set")
    }

    #[test]
    fn observations_flatten_into_dotted_columns_and_breakdowns_into_pairs() {
        let pool = pool();
        let output = pool.get_message_by_name("sharedmetrics.submissions.v1.QueryObservationsResponse").unwrap();
        let layout = CsvLayout::for_response(&output).expect("a list");
        assert_eq!(layout.list_field(), "observations");
        let headers: Vec<&str> = layout.headers().collect();
        assert_eq!(&headers[..4], ["metric_code", "metric_version", "area_code", "period_code"]);
        assert!(headers.contains(&"breakdown.codes"), "{headers:?}");
        assert!(headers.contains(&"valid_from"));

        let json = serde_json::json!({"observations": [
            {"metricCode": "M", "areaCode": "E1", "periodCode": "2024", "numerator": 5,
             "breakdown": {"codes": [{"dimension": "imd_decile", "code": "1"}, {"dimension": "sex", "code": "F"}]},
             "note": "a, \"quoted\" note", "validFrom": "2024-01-01T00:00:00Z"},
            {"metricCode": "M", "areaCode": "E2", "periodCode": "2024"}
        ]});
        let message = crate::request::parse(&output, json).expect("parses");
        let text = String::from_utf8(layout.header_row().into_iter().chain(layout.rows(&message)).collect()).unwrap();
        let mut reader = csv::Reader::from_reader(text.as_bytes());
        let header = reader.headers().unwrap().clone();
        let rows: Vec<csv::StringRecord> = reader.records().map(Result::unwrap).collect();
        assert_eq!(rows.len(), 2);
        let column = |name: &str| header.iter().position(|h| h == name).unwrap();
        assert_eq!(&rows[0][column("area_code")], "E1");
        assert_eq!(&rows[0][column("numerator")], "5");
        assert_eq!(&rows[0][column("breakdown.codes")], "imd_decile:1;sex:F");
        assert_eq!(&rows[0][column("note")], "a, \"quoted\" note");
        assert_eq!(&rows[0][column("valid_from")], "2024-01-01T00:00:00Z");
        // Unset optional values are empty cells, not zeros; defaults of plain fields are written.
        assert_eq!(&rows[1][column("numerator")], "");
        assert_eq!(&rows[1][column("suppressed")], "false");
        assert_eq!(layout.count(&message), 2);
    }

    #[test]
    fn text_cells_that_read_as_formulas_are_neutralised_and_numbers_are_not() {
        let pool = pool();
        let output = pool.get_message_by_name("sharedmetrics.submissions.v1.QueryObservationsResponse").unwrap();
        let layout = CsvLayout::for_response(&output).expect("a list");
        let notes = ["=HYPERLINK(\"http://x\")", "+1", "-2+3", "@SUM(A1)", "\tx", "\rx", "a = b", ""];
        let observations: Vec<Json> = notes
            .iter()
            .map(|note| {
                serde_json::json!({"metricCode": "M", "areaCode": "E1", "periodCode": "2024", "numerator": -1.5,
                                   "denominator": -2, "note": note,
                                   "breakdown": {"codes": [{"dimension": "=cmd", "code": "1"}]}})
            })
            .collect();
        let message = crate::request::parse(&output, serde_json::json!({"observations": observations})).unwrap();
        let text = String::from_utf8(layout.header_row().into_iter().chain(layout.rows(&message)).collect()).unwrap();
        // Quoted where the cell needs it: the formula's quotes doubled inside a quoted cell.
        assert!(text.contains(r#""'=HYPERLINK(""http://x"")""#), "{text}");
        let mut reader = csv::Reader::from_reader(text.as_bytes());
        let header = reader.headers().unwrap().clone();
        let column = |name: &str| header.iter().position(|h| h == name).unwrap();
        let rows: Vec<csv::StringRecord> = reader.records().map(Result::unwrap).collect();
        let written: Vec<&str> = rows.iter().map(|row| &row[column("note")]).collect();
        assert_eq!(written, ["'=HYPERLINK(\"http://x\")", "'+1", "'-2+3", "'@SUM(A1)", "'\tx", "'\rx", "a = b", ""]);
        for row in &rows {
            assert_eq!(&row[column("numerator")], "-1.5", "a negative number stays a number");
            assert_eq!(&row[column("denominator")], "-2");
            assert_eq!(&row[column("breakdown.codes")], "'=cmd:1", "a breakdown is text");
            assert_eq!(&row[column("area_code")], "E1");
        }
    }

    #[test]
    fn a_response_without_a_list_has_no_csv_form() {
        let pool = pool();
        let output = pool.get_message_by_name("sharedmetrics.access.v1.WhoAmIResponse").unwrap();
        assert!(CsvLayout::for_response(&output).is_none());
    }
}

//! Builds an RPC's input message from an HTTP request: path variables, query parameters and
//! the JSON body, all merged into one proto3 JSON object and parsed once by the descriptors,
//! so every field is converted (and refused) by the same rules as a JSON body.

use prost_reflect::{DynamicMessage, FieldDescriptor, Kind, MessageDescriptor};
use serde_json::{Map, Value};
use sharedmetrics_error::ServiceError;

/// Query parameters the transcoder itself reads, unless the request message has a field so named.
pub const RESERVED_PARAMS: &[&str] = &["format"];

/// Where a value came from, for error messages.
#[derive(Debug, Clone, Copy)]
enum Source {
    Path,
    Query,
}

/// Builds the input message of an RPC.
///
/// `body_rule` is the `google.api.http` rule's `body`: `*` puts the JSON body at the root, a field
/// name puts it in that field, and empty means the request has no body.
pub fn build(
    input: &MessageDescriptor,
    path_values: &[(String, String)],
    query: Option<&str>,
    body_rule: &str,
    body: Option<Value>,
) -> Result<DynamicMessage, ServiceError> {
    let mut root = match (body_rule, body) {
        ("*", Some(Value::Object(object))) => object,
        ("*", Some(other)) => {
            return Err(ServiceError::invalid_field(
                "",
                "INVALID_JSON",
                format!("the request body must be a JSON object, not {}", json_kind(&other)),
            ));
        }
        ("", _) | (_, None) => Map::new(),
        (field, Some(value)) => {
            let json_name = input.get_field_by_name(field).map(|f| f.json_name().to_owned());
            let mut object = Map::new();
            object.insert(json_name.unwrap_or_else(|| field.to_owned()), value);
            object
        }
    };
    if let Some(query) = query {
        for (key, value) in form_urlencoded::parse(query.as_bytes()) {
            if RESERVED_PARAMS.contains(&key.as_ref()) && resolve(input, &key).is_err() {
                continue;
            }
            set(&mut root, input, &key, &value, Source::Query)?;
        }
    }
    for (field, value) in path_values {
        set(&mut root, input, field, value, Source::Path)?;
    }
    parse(input, Value::Object(root))
}

/// Parses proto3 JSON as a message of type `input`; an error names the field at fault.
pub fn parse(input: &MessageDescriptor, json: Value) -> Result<DynamicMessage, ServiceError> {
    let mut track = serde_path_to_error::Track::new();
    let deserializer = serde_path_to_error::Deserializer::new(json, &mut track);
    match DynamicMessage::deserialize(input.clone(), deserializer) {
        Ok(message) => Ok(message),
        Err(error) => {
            let path = track.path().to_string();
            let field = if path == "." { String::new() } else { path };
            let description = if field.is_empty() { error.to_string() } else { format!("{field}: {error}") };
            Err(ServiceError::invalid_field(field, "INVALID_JSON", description))
        }
    }
}

/// Parses a JSON body; malformed JSON is the caller's error, with its line and column.
pub fn parse_json(body: &[u8]) -> Result<Option<Value>, ServiceError> {
    if body.iter().all(u8::is_ascii_whitespace) {
        return Ok(None);
    }
    serde_json::from_slice(body).map(Some).map_err(|error| {
        ServiceError::invalid_field("", "INVALID_JSON", format!("the request body is not valid JSON: {error}"))
    })
}

fn json_kind(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

/// Returns the fields along a dotted path (each segment by proto or JSON name).
fn resolve(input: &MessageDescriptor, dotted: &str) -> Result<Vec<FieldDescriptor>, String> {
    let mut message = input.clone();
    let mut fields = Vec::new();
    let parts: Vec<&str> = dotted.split('.').collect();
    for (i, part) in parts.iter().enumerate() {
        let field = message
            .get_field_by_name(part)
            .or_else(|| message.get_field_by_json_name(part))
            .ok_or_else(|| format!("{} has no field {part:?}", message.name()))?;
        if i + 1 < parts.len() {
            match field.kind() {
                Kind::Message(inner) if !field.is_list() && !field.is_map() => message = inner,
                _ => return Err(format!("{part:?} has no sub-fields")),
            }
        }
        fields.push(field);
    }
    Ok(fields)
}

/// Sets one path or query value in the JSON object, converted by the field's kind.
fn set(
    root: &mut Map<String, Value>,
    input: &MessageDescriptor,
    key: &str,
    raw: &str,
    source: Source,
) -> Result<(), ServiceError> {
    let invalid = |description: String| {
        let what = match source {
            Source::Path => "path variable",
            Source::Query => "query parameter",
        };
        ServiceError::invalid_field(key, "INVALID_ARGUMENT", format!("{what} {key:?}: {description}"))
    };
    let fields = resolve(input, key).map_err(invalid)?;
    let (last, parents) = fields.split_last().expect("a path has at least one field");
    let value = scalar(last, raw).map_err(invalid)?;
    let mut object = root;
    for parent in parents {
        let entry = object.entry(parent.json_name().to_owned()).or_insert_with(|| Value::Object(Map::new()));
        object = match entry {
            Value::Object(inner) => inner,
            _ => return Err(invalid(format!("{} is set to a non-object elsewhere in the request", parent.name()))),
        };
    }
    let name = last.json_name().to_owned();
    if last.is_list() {
        match object.entry(name).or_insert_with(|| Value::Array(Vec::new())) {
            Value::Array(items) => items.push(value),
            _ => return Err(invalid("set to a non-list elsewhere in the request".to_owned())),
        }
    } else {
        // The path wins over a body or query value for the same field, as google.api.http says.
        object.insert(name, value);
    }
    Ok(())
}

/// Converts a text value to the JSON the proto3 mapping expects for this field. Numbers stay
/// strings (the mapping accepts them, and 64-bit integers must not lose precision).
fn scalar(field: &FieldDescriptor, raw: &str) -> Result<Value, String> {
    if field.is_map() {
        return Err("a map cannot be set from a query parameter; send a JSON body".to_owned());
    }
    Ok(match field.kind() {
        Kind::Bool => match raw {
            "true" | "1" => Value::Bool(true),
            "false" | "0" => Value::Bool(false),
            other => return Err(format!("expected true or false, got {other:?}")),
        },
        Kind::Enum(_) => match raw.parse::<i64>() {
            Ok(number) => Value::from(number),
            Err(_) => Value::String(raw.to_owned()),
        },
        Kind::Message(message) if !is_scalar_like(message.full_name()) => {
            return Err(format!("{} is a message: set its fields with dotted names", field.name()));
        }
        _ => Value::String(raw.to_owned()),
    })
}

/// Returns whether a well-known message type has a string (or scalar) JSON form.
pub fn is_scalar_like(full_name: &str) -> bool {
    matches!(
        full_name,
        "google.protobuf.Timestamp"
            | "google.protobuf.Duration"
            | "google.protobuf.FieldMask"
            | "google.protobuf.DoubleValue"
            | "google.protobuf.FloatValue"
            | "google.protobuf.Int64Value"
            | "google.protobuf.UInt64Value"
            | "google.protobuf.Int32Value"
            | "google.protobuf.UInt32Value"
            | "google.protobuf.BoolValue"
            | "google.protobuf.StringValue"
            | "google.protobuf.BytesValue"
    )
}

#[cfg(test)]
mod tests {
    use prost_reflect::{DescriptorPool, Value as Field};
    use sharedmetrics_error::ErrorCode;

    use super::*;

    fn message(name: &str) -> MessageDescriptor {
        let pool = DescriptorPool::decode(sharedmetrics_proto::FILE_DESCRIPTOR_SET).expect("descriptor set");
        pool.get_message_by_name(name).expect("message")
    }

    #[test]
    fn query_parameters_fill_repeated_enum_bool_timestamp_and_number_fields() {
        let input = message("sharedmetrics.submissions.v1.QueryObservationsRequest");
        let query = "areaCodes=E1&area_codes=E2&area_type=AREA_TYPE_REGION&includeTotals=true\
                     &as_of=2024-01-02T03:04:05Z&page_size=10&format=csv";
        let built = build(&input, &[("metric_code".into(), "M1".into())], Some(query), "", None).expect("builds");
        let json = serde_json::to_value(&built).expect("serialises");
        assert_eq!(json["metricCode"], "M1");
        assert_eq!(json["areaCodes"], serde_json::json!(["E1", "E2"]));
        assert_eq!(json["areaType"], "AREA_TYPE_REGION");
        assert_eq!(json["includeTotals"], true);
        assert_eq!(json["asOf"], "2024-01-02T03:04:05Z");
        assert_eq!(json["pageSize"], 10);
    }

    #[test]
    fn a_body_star_rule_takes_the_body_and_path_variables_win() {
        let input = message("sharedmetrics.submissions.v1.PublishSubmissionRequest");
        let body = serde_json::json!({"submissionId": "from-body", "embargoUntil": "2030-01-01T00:00:00Z"});
        let built =
            build(&input, &[("submission_id".into(), "from-path".into())], None, "*", Some(body)).expect("builds");
        assert_eq!(built.get_field_by_name("submission_id").as_deref(), Some(&Field::String("from-path".into())));
        assert!(built.has_field_by_name("embargo_until"));
    }

    #[test]
    fn a_bad_value_names_the_field_at_fault() {
        let input = message("sharedmetrics.submissions.v1.SubmitObservationsRequest");
        let body = serde_json::json!({"rows": [{"areaCode": "E1"}, {"numerator": "lots"}]});
        let error = build(&input, &[], None, "*", Some(body)).expect_err("refused");
        assert_eq!(error.code, ErrorCode::InvalidArgument);
        assert_eq!(error.violations[0].field, "rows[1].numerator", "{error}");

        let error = build(&input, &[], None, "*", Some(serde_json::json!({"rowz": []}))).expect_err("refused");
        assert!(error.message.contains("rowz"), "{error}");
    }

    #[test]
    fn a_bad_query_parameter_names_itself() {
        let input = message("sharedmetrics.submissions.v1.QueryObservationsRequest");
        let error = build(&input, &[], Some("include_totals=maybe"), "", None).expect_err("refused");
        assert_eq!(error.violations[0].field, "include_totals");
        let error = build(&input, &[], Some("no_such=1"), "", None).expect_err("refused");
        assert_eq!(error.violations[0].field, "no_such");
        let error = build(&input, &[], Some("page_size=ten"), "", None).expect_err("refused");
        assert_eq!(error.violations[0].field, "pageSize", "{error}");
    }
}

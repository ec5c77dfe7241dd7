//! The OpenAPI 3.0 document of the REST side, generated from the same descriptors and
//! `google.api.http` rules the transcoder routes by, with the protos' comments as descriptions.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use http::Method;
use prost_reflect::{DescriptorPool, FieldDescriptor, Kind, MessageDescriptor};
use serde_json::{Map, Value, json};

use crate::csv::CsvLayout;
use crate::request::is_scalar_like;
use crate::routes::{Route, RouteTable};

/// The name of the error schema in `components.schemas`.
const ERROR_SCHEMA: &str = "Error";

/// Leading comments of every commented element, by file and source path.
struct Comments(HashMap<(String, Vec<i32>), String>);

impl Comments {
    fn new(pool: &DescriptorPool) -> Self {
        let mut comments = HashMap::new();
        for file in pool.files() {
            let proto = file.file_descriptor_proto();
            let Some(info) = &proto.source_code_info else { continue };
            for location in &info.location {
                if let Some(text) = location.leading_comments.as_deref().map(str::trim).filter(|t| !t.is_empty()) {
                    comments.insert((proto.name().to_owned(), location.path.clone()), text.to_owned());
                }
            }
        }
        Self(comments)
    }

    fn get(&self, file: &str, path: &[i32]) -> Option<&str> {
        self.0.get(&(file.to_owned(), path.to_vec())).map(String::as_str)
    }

    fn message(&self, message: &MessageDescriptor) -> Option<&str> {
        self.get(message.parent_file().name(), message.path())
    }

    fn field(&self, field: &FieldDescriptor) -> Option<&str> {
        self.get(field.parent_file().name(), field.path())
    }
}

/// Builds the OpenAPI document for every route of `routes`.
pub fn document(pool: &DescriptorPool, routes: &RouteTable) -> Value {
    let comments = Comments::new(pool);
    let mut schemas = Schemas { comments: &comments, done: BTreeMap::new() };
    let mut paths = Map::new();
    for (path, path_routes) in routes.by_path() {
        let mut item = Map::new();
        for route in path_routes {
            item.insert(route.method.as_str().to_ascii_lowercase(), operation(route, &comments, &mut schemas));
        }
        paths.insert(path, Value::Object(item));
    }
    let tags: Vec<Value> = routes
        .routes()
        .iter()
        .map(|route| route.rpc.parent_service())
        .map(|service| (service.full_name().to_owned(), service))
        .collect::<BTreeMap<_, _>>()
        .into_iter()
        .map(|(name, service)| {
            let description = comments.get(service.parent_file().name(), service.path()).unwrap_or_default();
            json!({"name": name, "description": description})
        })
        .collect();
    let mut components = schemas.done;
    components.insert(ERROR_SCHEMA.to_owned(), error_schema(pool));
    json!({
        "openapi": "3.0.3",
        "info": {
            "title": "sharedmetrics REST API",
            "version": "v1",
            "description": "Every RPC of the sharedmetrics gRPC contract over HTTP/JSON (proto3 JSON mapping), \
                transcoded from the protos' google.api.http annotations. List and query operations also \
                answer text/csv (Accept: text/csv or ?format=csv); the server-streaming query answers \
                newline-delimited JSON, one line per stream message.",
        },
        "tags": tags,
        "security": [{"bearerAuth": []}, {"apiKey": []}],
        "paths": paths,
        "components": {
            "securitySchemes": {
                "bearerAuth": {"type": "http", "scheme": "bearer", "description": "An API key (sm_…) or an OIDC token."},
                "apiKey": {"type": "apiKey", "in": "header", "name": "x-api-key"},
            },
            "schemas": components,
        },
    })
}

/// Returns the operation object of one route.
fn operation(route: &Route, comments: &Comments, schemas: &mut Schemas<'_>) -> Value {
    let rpc = &route.rpc;
    let input = rpc.input();
    let output = rpc.output();
    let path_fields: BTreeSet<&str> = route.template.variables.iter().map(|v| v.field.as_str()).collect();
    let mut parameters = Vec::new();
    for variable in &route.template.variables {
        let schema = field_at(&input, &variable.field)
            .map(|field| schemas.scalar_schema(&field))
            .unwrap_or_else(|| json!({"type": "string"}));
        parameters.push(json!({"name": variable.field, "in": "path", "required": true, "schema": schema}));
    }
    let body_fields: BTreeSet<String> = match route.body.as_str() {
        "*" => input.fields().map(|f| f.name().to_owned()).collect(),
        "" => BTreeSet::new(),
        field => BTreeSet::from([field.to_owned()]),
    };
    if route.body != "*" {
        for field in input.fields() {
            if body_fields.contains(field.name()) || path_fields.contains(field.name()) {
                continue;
            }
            query_parameters(&field, "", 0, &path_fields, comments, schemas, &mut parameters);
        }
    }
    let csv = CsvLayout::for_response(&output).is_some();
    if csv || rpc.is_server_streaming() {
        parameters.push(json!({
            "name": "format", "in": "query", "required": false,
            "description": "csv for text/csv (same as Accept: text/csv)",
            "schema": {"type": "string", "enum": ["json", "csv"]},
        }));
    }
    let mut content = Map::new();
    if rpc.is_server_streaming() {
        content.insert(
            "application/x-ndjson".into(),
            json!({"schema": schemas.reference(&output), "x-stream": "one JSON object per line, one per stream message"}),
        );
    } else {
        content.insert("application/json".into(), json!({"schema": schemas.reference(&output)}));
    }
    if csv {
        content.insert("text/csv".into(), json!({"schema": {"type": "string"}}));
    }
    let mut op = json!({
        "operationId": format!("{}_{}", rpc.parent_service().name(), rpc.name()),
        "summary": rpc.name(),
        "description": comments.get(rpc.parent_file().name(), rpc.path()).unwrap_or_default(),
        "tags": [rpc.parent_service().full_name()],
        "parameters": parameters,
        "responses": {
            "200": {"description": "OK", "content": content},
            "default": {
                "description": "An error, with its stable code and the fields at fault",
                "content": {"application/json": {"schema": {"$ref": format!("#/components/schemas/{ERROR_SCHEMA}")}}},
            },
        },
    });
    let body_schema = match route.body.as_str() {
        "" => None,
        "*" if rpc.is_client_streaming() => Some(json!({
            "type": "array",
            "description": "The stream's messages in order, as a JSON array or newline-delimited JSON",
            "items": schemas.reference(&input),
        })),
        "*" => Some(schemas.reference(&input)),
        field => input.get_field_by_name(field).map(|f| schemas.field_schema(&f)),
    };
    if let Some(schema) = body_schema {
        let mut body_content = json!({"application/json": {"schema": schema.clone()}});
        if rpc.is_client_streaming() {
            body_content["application/x-ndjson"] = json!({"schema": schema});
        }
        op["requestBody"] = json!({"required": true, "content": body_content});
    }
    if route.method == Method::GET && op["parameters"].as_array().is_some_and(Vec::is_empty) {
        op.as_object_mut().expect("an object").remove("parameters");
    }
    op
}

/// Adds the query parameters of one input field (nested messages as dotted names).
fn query_parameters(
    field: &FieldDescriptor,
    prefix: &str,
    depth: usize,
    path_fields: &BTreeSet<&str>,
    comments: &Comments,
    schemas: &mut Schemas<'_>,
    out: &mut Vec<Value>,
) {
    let name = format!("{prefix}{}", field.name());
    if path_fields.contains(name.as_str()) || field.is_map() {
        return;
    }
    if let Kind::Message(inner) = field.kind()
        && !is_scalar_like(inner.full_name())
    {
        if !field.is_list() && depth < 3 {
            for child in inner.fields() {
                query_parameters(&child, &format!("{name}."), depth + 1, path_fields, comments, schemas, out);
            }
        }
        return;
    }
    let mut schema = schemas.scalar_schema(field);
    if field.is_list() {
        schema = json!({"type": "array", "items": schema});
    }
    let mut parameter = json!({"name": name, "in": "query", "required": false, "schema": schema});
    if field.is_list() {
        parameter["style"] = json!("form");
        parameter["explode"] = json!(true);
    }
    if let Some(description) = comments.field(field) {
        parameter["description"] = json!(description);
    }
    out.push(parameter);
}

/// Returns the field along a dotted path.
fn field_at(message: &MessageDescriptor, dotted: &str) -> Option<FieldDescriptor> {
    let mut message = message.clone();
    let mut parts = dotted.split('.').peekable();
    while let Some(part) = parts.next() {
        let field = message.get_field_by_name(part)?;
        if parts.peek().is_none() {
            return Some(field);
        }
        let Kind::Message(inner) = field.kind() else { return None };
        message = inner;
    }
    None
}

/// The message schemas referenced so far, by full name.
struct Schemas<'a> {
    comments: &'a Comments,
    done: BTreeMap<String, Value>,
}

impl Schemas<'_> {
    /// Returns a `$ref` to a message's schema, adding it (and what it references) if new.
    fn reference(&mut self, message: &MessageDescriptor) -> Value {
        let name = message.full_name().to_owned();
        if !self.done.contains_key(&name) {
            // A placeholder first, so recursive messages terminate.
            self.done.insert(name.clone(), Value::Null);
            let mut properties = Map::new();
            for field in message.fields() {
                let mut schema = self.field_schema(&field);
                if let Some(description) = self.comments.field(&field)
                    && schema.get("$ref").is_none()
                {
                    schema["description"] = json!(description);
                }
                properties.insert(field.json_name().to_owned(), schema);
            }
            let mut schema = json!({"type": "object", "properties": properties});
            if let Some(description) = self.comments.message(message) {
                schema["description"] = json!(description);
            }
            self.done.insert(name.clone(), schema);
        }
        json!({"$ref": format!("#/components/schemas/{name}")})
    }

    /// Returns the schema of a field, lists and maps included.
    fn field_schema(&mut self, field: &FieldDescriptor) -> Value {
        if field.is_map() {
            let Kind::Message(entry) = field.kind() else { return json!({"type": "object"}) };
            let value = entry.map_entry_value_field();
            return json!({"type": "object", "additionalProperties": self.kind_schema(&value.kind())});
        }
        let item = self.kind_schema(&field.kind());
        if field.is_list() { json!({"type": "array", "items": item}) } else { item }
    }

    /// Returns the schema of a non-repeated field (a path or query parameter).
    fn scalar_schema(&mut self, field: &FieldDescriptor) -> Value {
        self.kind_schema(&field.kind())
    }

    /// Returns the proto3 JSON schema of one value of a kind.
    fn kind_schema(&mut self, kind: &Kind) -> Value {
        match kind {
            Kind::Double => json!({"type": "number", "format": "double"}),
            Kind::Float => json!({"type": "number", "format": "float"}),
            Kind::Int32 | Kind::Sint32 | Kind::Sfixed32 => json!({"type": "integer", "format": "int32"}),
            Kind::Uint32 | Kind::Fixed32 => json!({"type": "integer", "format": "int64", "minimum": 0}),
            // 64-bit integers are strings in proto3 JSON, so no precision is lost in JavaScript.
            Kind::Int64 | Kind::Sint64 | Kind::Sfixed64 => json!({"type": "string", "format": "int64"}),
            Kind::Uint64 | Kind::Fixed64 => json!({"type": "string", "format": "uint64"}),
            Kind::Bool => json!({"type": "boolean"}),
            Kind::String => json!({"type": "string"}),
            Kind::Bytes => json!({"type": "string", "format": "byte"}),
            Kind::Enum(e) => {
                json!({"type": "string", "enum": e.values().map(|v| v.name().to_owned()).collect::<Vec<_>>()})
            }
            Kind::Message(m) => match m.full_name() {
                "google.protobuf.Timestamp" => json!({"type": "string", "format": "date-time"}),
                "google.protobuf.Duration" => json!({"type": "string", "example": "1.5s"}),
                "google.protobuf.FieldMask" => json!({"type": "string"}),
                "google.protobuf.Struct" | "google.protobuf.Empty" | "google.protobuf.Any" => json!({"type": "object"}),
                "google.protobuf.Value" => json!({}),
                "google.protobuf.ListValue" => json!({"type": "array", "items": {}}),
                name if is_scalar_like(name) => {
                    let inner = m.get_field_by_name("value").map(|f| self.kind_schema(&f.kind()));
                    let mut schema = inner.unwrap_or_else(|| json!({}));
                    schema["nullable"] = json!(true);
                    schema
                }
                _ => self.reference(m),
            },
        }
    }
}

/// The canonical names of the gRPC status codes an error can carry (every code but OK).
const GRPC_STATUS_NAMES: [&str; 16] = [
    "CANCELLED",
    "UNKNOWN",
    "INVALID_ARGUMENT",
    "DEADLINE_EXCEEDED",
    "NOT_FOUND",
    "ALREADY_EXISTS",
    "PERMISSION_DENIED",
    "RESOURCE_EXHAUSTED",
    "FAILED_PRECONDITION",
    "ABORTED",
    "OUT_OF_RANGE",
    "UNIMPLEMENTED",
    "INTERNAL",
    "UNAVAILABLE",
    "DATA_LOSS",
    "UNAUTHENTICATED",
];

/// Returns the error body's schema, its codes read from the `ErrorReason` enum.
fn error_schema(pool: &DescriptorPool) -> Value {
    let reasons: Vec<String> = pool
        .get_enum_by_name("sharedmetrics.common.v1.ErrorReason")
        .map(|e| {
            e.values()
                .filter(|v| v.number() != 0)
                .map(|v| v.name().trim_start_matches("ERROR_REASON_").to_owned())
                .collect()
        })
        .unwrap_or_default();
    json!({
        "type": "object",
        "required": ["error"],
        "properties": {"error": {
            "type": "object",
            "required": ["code", "status", "grpc_code", "http_status", "message"],
            "properties": {
                "code": {"type": "string", "enum": reasons, "description": "The stable reason (google.rpc.ErrorInfo.reason)"},
                "status": {"type": "string", "enum": GRPC_STATUS_NAMES, "description": "The gRPC status code's canonical name, as in the Google JSON error format"},
                "grpc_code": {"type": "integer", "description": "The gRPC status code"},
                "http_status": {"type": "integer", "description": "The HTTP status the error is answered with"},
                "message": {"type": "string"},
                "field_violations": {"type": "array", "items": {
                    "type": "object",
                    "properties": {
                        "field": {"type": "string"},
                        "reason": {"type": "string"},
                        "description": {"type": "string"},
                    },
                }},
                "metadata": {"type": "object", "additionalProperties": {"type": "string"}},
            },
        }},
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_route_is_an_operation_with_its_method_parameters_and_schemas() {
        let pool = DescriptorPool::decode(sharedmetrics_proto::FILE_DESCRIPTOR_SET).expect("descriptor set");
        let routes = RouteTable::from_pool(&pool).expect("routes");
        let doc = document(&pool, &routes);
        assert_eq!(doc["openapi"], "3.0.3");
        for route in routes.routes() {
            let op = &doc["paths"][route.template.openapi_path()][route.method.as_str().to_ascii_lowercase()];
            assert!(op.is_object(), "{} missing", route.rpc.full_name());
            assert_eq!(op["operationId"], format!("{}_{}", route.rpc.parent_service().name(), route.rpc.name()));
        }
        // Every $ref resolves.
        let text = doc.to_string();
        for reference in text.split("\"#/components/schemas/").skip(1) {
            let name = &reference[..reference.find('"').expect("closed")];
            assert!(doc["components"]["schemas"][name].is_object(), "dangling $ref {name}");
        }
        let query = &doc["paths"]["/v1/observations"]["get"];
        let names: Vec<&str> =
            query["parameters"].as_array().unwrap().iter().map(|p| p["name"].as_str().unwrap()).collect();
        assert!(names.contains(&"area_codes") && names.contains(&"as_of") && names.contains(&"format"), "{names:?}");
        assert!(query["responses"]["200"]["content"]["text/csv"].is_object());
        let publish = &doc["paths"]["/v1/submissions/{submission_id}:publish"]["post"];
        assert_eq!(publish["parameters"][0]["in"], "path");
        assert!(publish["requestBody"].is_object());
        let status = &doc["components"]["schemas"]["sharedmetrics.submissions.v1.Observation"]["properties"]["observationStatus"];
        assert!(
            status["enum"]
                .as_array()
                .is_some_and(|values| values.iter().any(|v| v == "OBSERVATION_STATUS_PROVISIONAL"))
        );
        let area_type = query["parameters"].as_array().unwrap().iter().find(|p| p["name"] == "area_type").unwrap();
        assert!(area_type["schema"]["enum"].as_array().is_some_and(|values| values.len() > 3));
        assert!(
            doc["components"]["schemas"]["Error"]["properties"]["error"]["properties"]["code"]["enum"]
                .as_array()
                .is_some_and(|codes| codes.iter().any(|c| c == "PERMISSION_DENIED"))
        );
        assert!(
            doc["components"]["schemas"]["Error"]["properties"]["error"]["properties"]["status"]["enum"]
                .as_array()
                .is_some_and(|names| names.iter().any(|n| n == "UNIMPLEMENTED"))
        );
    }
}

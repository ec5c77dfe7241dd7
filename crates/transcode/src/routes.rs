//! The route table: each RPC's `google.api.http` rule read from the descriptor pool, and the
//! path templates (`/v1/metrics/{code}`, `{name=areas/*}`, `…:publish`) parsed and matched.

use std::collections::BTreeMap;

use http::Method;
use prost_reflect::{DescriptorPool, MethodDescriptor, Value};

/// The full name of the `google.api.http` method option.
const HTTP_EXTENSION: &str = "google.api.http";

/// One segment of a path template.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Segment {
    /// A literal segment that must match exactly.
    Literal(String),
    /// `*`: any one segment (inside a variable it becomes part of the variable's value).
    Any,
    /// `**`: the rest of the path (zero or more segments); only last.
    Rest,
}

/// A variable of a template: the dotted field path it sets and the segments it spans.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Variable {
    /// The dotted field path, for example `submission_id` or `spec.code`.
    pub field: String,
    /// The index of the variable's first segment in [`PathTemplate::segments`].
    pub start: usize,
    /// The number of segments it spans (`Rest` counts as one).
    pub len: usize,
}

/// A parsed `google.api.http` path template.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PathTemplate {
    /// The template as written in the proto.
    pub raw: String,
    /// The segments, variables expanded into their own segments.
    pub segments: Vec<Segment>,
    /// The variables, in order.
    pub variables: Vec<Variable>,
    /// The custom verb after the last `:` (`publish`), if any.
    pub verb: Option<String>,
}

impl PathTemplate {
    /// Parses a template such as `/v1/metrics/{code}/versions/{version}:publish`.
    pub fn parse(raw: &str) -> Result<Self, String> {
        let path = raw.strip_prefix('/').ok_or_else(|| format!("template {raw:?} does not start with '/'"))?;
        // The verb is after the last ':' that is outside any `{…}`.
        let mut depth = 0usize;
        let mut verb_at = None;
        for (i, c) in path.char_indices() {
            match c {
                '{' => depth += 1,
                '}' => depth = depth.saturating_sub(1),
                ':' if depth == 0 => verb_at = Some(i),
                _ => {}
            }
        }
        let (path, verb) = match verb_at {
            Some(i) => (&path[..i], Some(path[i + 1..].to_owned())),
            None => (path, None),
        };
        let mut segments = Vec::new();
        let mut variables = Vec::new();
        let mut rest = path;
        while !rest.is_empty() {
            if let Some(inner) = rest.strip_prefix('{') {
                let close = inner.find('}').ok_or_else(|| format!("template {raw:?}: unclosed '{{'"))?;
                let body = &inner[..close];
                let (field, pattern) = body.split_once('=').unwrap_or((body, "*"));
                let start = segments.len();
                for part in pattern.split('/') {
                    segments.push(parse_segment(part));
                }
                variables.push(Variable { field: field.to_owned(), start, len: segments.len() - start });
                rest = &inner[close + 1..];
            } else {
                let end = rest.find('/').unwrap_or(rest.len());
                segments.push(parse_segment(&rest[..end]));
                rest = &rest[end..];
            }
            rest = rest.strip_prefix('/').unwrap_or(rest);
        }
        if segments.iter().rev().skip(1).any(|s| *s == Segment::Rest) {
            return Err(format!("template {raw:?}: '**' must be last"));
        }
        Ok(Self { raw: raw.to_owned(), segments, variables, verb })
    }

    /// Matches a request path; returns each variable's field and its percent-decoded value.
    pub fn matches(&self, path: &str) -> Option<Vec<(String, String)>> {
        let path = path.strip_prefix('/')?;
        let path = match &self.verb {
            Some(verb) => path.strip_suffix(verb.as_str())?.strip_suffix(':')?,
            None => path,
        };
        let parts: Vec<&str> = if path.is_empty() { Vec::new() } else { path.split('/').collect() };
        // Where each template segment's match starts and ends in `parts`.
        let mut spans = Vec::with_capacity(self.segments.len());
        let mut at = 0;
        for segment in &self.segments {
            match segment {
                Segment::Literal(literal) => {
                    if parts.get(at)? != literal {
                        return None;
                    }
                    spans.push((at, at + 1));
                    at += 1;
                }
                Segment::Any => {
                    let part = parts.get(at)?;
                    // A segment without a verb must not swallow one meant for another route.
                    if part.is_empty() || (self.verb.is_none() && part.contains(':')) {
                        return None;
                    }
                    spans.push((at, at + 1));
                    at += 1;
                }
                Segment::Rest => {
                    spans.push((at, parts.len()));
                    at = parts.len();
                }
            }
        }
        if at != parts.len() {
            return None;
        }
        let values = self
            .variables
            .iter()
            .map(|variable| {
                let from = spans[variable.start].0;
                let to = spans[variable.start + variable.len - 1].1;
                let joined = parts[from..to].join("/");
                let value = percent_encoding::percent_decode_str(&joined).decode_utf8_lossy().into_owned();
                (variable.field.clone(), value)
            })
            .collect();
        Some(values)
    }

    /// Returns the template as an OpenAPI path: `{field=…}` becomes `{field}`.
    pub fn openapi_path(&self) -> String {
        let mut out = String::new();
        let mut i = 0;
        while i < self.segments.len() {
            out.push('/');
            if let Some(variable) = self.variables.iter().find(|v| v.start == i) {
                out.push('{');
                out.push_str(&variable.field);
                out.push('}');
                i += variable.len;
            } else {
                match &self.segments[i] {
                    Segment::Literal(literal) => out.push_str(literal),
                    Segment::Any => out.push('*'),
                    Segment::Rest => out.push_str("**"),
                }
                i += 1;
            }
        }
        if let Some(verb) = &self.verb {
            out.push(':');
            out.push_str(verb);
        }
        out
    }

    /// Returns how specific the template is, so literal routes are tried before variable ones.
    fn specificity(&self) -> (usize, bool) {
        let literals = self.segments.iter().filter(|s| matches!(s, Segment::Literal(_))).count();
        (literals, self.verb.is_some())
    }
}

fn parse_segment(part: &str) -> Segment {
    match part {
        "*" => Segment::Any,
        "**" => Segment::Rest,
        literal => Segment::Literal(literal.to_owned()),
    }
}

/// How an RPC is reached over HTTP.
#[derive(Debug, Clone)]
pub struct Route {
    /// The HTTP method.
    pub method: Method,
    /// The path template.
    pub template: PathTemplate,
    /// The rule's `body`: `*` (the whole request), a field name, or empty (no body).
    pub body: String,
    /// The RPC.
    pub rpc: MethodDescriptor,
}

impl Route {
    /// Returns the gRPC path of the RPC, `/package.Service/Method`.
    pub fn grpc_path(&self) -> String {
        format!("/{}/{}", self.rpc.parent_service().full_name(), self.rpc.name())
    }
}

/// Every annotated RPC of the pool, most specific templates first.
#[derive(Debug, Clone)]
pub struct RouteTable {
    routes: Vec<Route>,
}

/// The outcome of looking a request up.
#[derive(Debug)]
pub enum Lookup<'a> {
    /// A route matched, with its path variables.
    Found(&'a Route, Vec<(String, String)>),
    /// The path exists under other methods.
    MethodNotAllowed(Vec<Method>),
    /// No route has this path.
    NotFound,
}

impl RouteTable {
    /// Reads the `google.api.http` rule (and its `additional_bindings`) of every method of
    /// every service in `pool`.
    pub fn from_pool(pool: &DescriptorPool) -> Result<Self, String> {
        let extension = pool
            .get_extension_by_name(HTTP_EXTENSION)
            .ok_or_else(|| format!("the descriptor pool has no {HTTP_EXTENSION} extension"))?;
        let mut routes = Vec::new();
        for service in pool.services() {
            for rpc in service.methods() {
                let options = rpc.options();
                if !options.has_extension(&extension) {
                    continue;
                }
                let Value::Message(rule) = options.get_extension(&extension).into_owned() else { continue };
                let mut rules = vec![rule.clone()];
                if let Some(Value::List(more)) = rule.get_field_by_name("additional_bindings").map(|v| v.into_owned()) {
                    rules.extend(more.into_iter().filter_map(|v| match v {
                        Value::Message(m) => Some(m),
                        _ => None,
                    }));
                }
                for rule in rules {
                    let (method, path) = rule_pattern(&rule)
                        .ok_or_else(|| format!("{}: a google.api.http rule without a pattern", rpc.full_name()))?;
                    let template =
                        PathTemplate::parse(&path).map_err(|error| format!("{}: {error}", rpc.full_name()))?;
                    let body = string_field(&rule, "body");
                    routes.push(Route { method, template, body, rpc: rpc.clone() });
                }
            }
        }
        // Stable sort: among equally specific templates the proto order holds.
        routes.sort_by_key(|route| std::cmp::Reverse(route.template.specificity()));
        Ok(Self { routes })
    }

    /// Returns every route.
    pub fn routes(&self) -> &[Route] {
        &self.routes
    }

    /// Finds the route for a method and path.
    pub fn lookup(&self, method: &Method, path: &str) -> Lookup<'_> {
        let mut allowed = Vec::new();
        for route in &self.routes {
            if let Some(values) = route.template.matches(path) {
                if route.method == *method {
                    return Lookup::Found(route, values);
                }
                allowed.push(route.method.clone());
            }
        }
        if allowed.is_empty() { Lookup::NotFound } else { Lookup::MethodNotAllowed(allowed) }
    }

    /// Returns the routes grouped by OpenAPI path, in path order.
    pub fn by_path(&self) -> BTreeMap<String, Vec<&Route>> {
        let mut paths: BTreeMap<String, Vec<&Route>> = BTreeMap::new();
        for route in &self.routes {
            paths.entry(route.template.openapi_path()).or_default().push(route);
        }
        paths
    }
}

fn string_field(message: &prost_reflect::DynamicMessage, name: &str) -> String {
    match message.get_field_by_name(name).as_deref() {
        Some(Value::String(s)) => s.clone(),
        _ => String::new(),
    }
}

/// Returns the HTTP method and path template of an `HttpRule`.
fn rule_pattern(rule: &prost_reflect::DynamicMessage) -> Option<(Method, String)> {
    for (field, method) in [
        ("get", Method::GET),
        ("put", Method::PUT),
        ("post", Method::POST),
        ("delete", Method::DELETE),
        ("patch", Method::PATCH),
    ] {
        let path = string_field(rule, field);
        if !path.is_empty() {
            return Some((method, path));
        }
    }
    let custom = rule.get_field_by_name("custom")?;
    let Value::Message(custom) = custom.as_ref() else { return None };
    let kind = string_field(custom, "kind");
    let path = string_field(custom, "path");
    if path.is_empty() {
        return None;
    }
    Some((Method::from_bytes(kind.as_bytes()).ok()?, path))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn table() -> RouteTable {
        let pool = DescriptorPool::decode(sharedmetrics_proto::FILE_DESCRIPTOR_SET).expect("descriptor set");
        RouteTable::from_pool(&pool).expect("route table")
    }

    #[test]
    fn a_custom_verb_matches_only_its_own_route() {
        let table = table();
        let Lookup::Found(route, values) = table.lookup(&Method::POST, "/v1/submissions/abc-123:publish") else {
            panic!("no route for :publish");
        };
        assert_eq!(route.rpc.name(), "PublishSubmission");
        assert_eq!(values, vec![("submission_id".to_owned(), "abc-123".to_owned())]);
        let Lookup::Found(route, _) = table.lookup(&Method::GET, "/v1/observations:history") else {
            panic!("no route for :history");
        };
        assert_eq!(route.rpc.name(), "GetObservationHistory");
        let Lookup::Found(route, _) = table.lookup(&Method::GET, "/v1/observations") else { panic!("no query route") };
        assert_eq!(route.rpc.name(), "QueryObservations");
    }

    #[test]
    fn several_variables_are_decoded() {
        let table = table();
        let Lookup::Found(route, values) = table.lookup(&Method::POST, "/v1/metrics/A%20B/versions/3:publish") else {
            panic!("no route");
        };
        assert_eq!(route.rpc.name(), "PublishMetricVersion");
        assert_eq!(values, vec![("code".into(), "A B".into()), ("version".into(), "3".into())]);
    }

    #[test]
    fn a_known_path_with_the_wrong_method_is_not_allowed() {
        let table = table();
        assert!(matches!(table.lookup(&Method::DELETE, "/v1/metrics"), Lookup::MethodNotAllowed(m) if m.len() == 2));
        assert!(matches!(table.lookup(&Method::GET, "/v1/nothing-here"), Lookup::NotFound));
    }

    #[test]
    fn templates_with_patterns_and_rest_segments_parse() {
        let template = PathTemplate::parse("/v1/{name=areas/*}/files/{path=**}:get").expect("parses");
        assert_eq!(template.verb.as_deref(), Some("get"));
        assert_eq!(template.openapi_path(), "/v1/{name}/files/{path}:get");
        let values = template.matches("/v1/areas/E01/files/a/b/c:get").expect("matches");
        assert_eq!(values, vec![("name".into(), "areas/E01".into()), ("path".into(), "a/b/c".into())]);
        assert!(template.matches("/v1/regions/E01/files/a:get").is_none());
    }

    #[test]
    fn every_rpc_of_every_service_has_a_route() {
        let table = table();
        let pool = DescriptorPool::decode(sharedmetrics_proto::FILE_DESCRIPTOR_SET).expect("descriptor set");
        for name in sharedmetrics_proto::SERVICE_NAMES {
            let service = pool.get_service_by_name(name).expect("service");
            for rpc in service.methods() {
                assert!(
                    table.routes().iter().any(|r| r.rpc.full_name() == rpc.full_name()),
                    "{} has no google.api.http rule",
                    rpc.full_name()
                );
            }
        }
    }
}

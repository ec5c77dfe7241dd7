//! The REST side through the gateway's HTTP port, called with the real `curl` binary, in both
//! topologies on PostgreSQL and SQLite: a metric, a submission (unary and streamed), its
//! publication, a query (NDJSON and CSV), a comparison and the caller's identity each return
//! the same data as the gRPC call; errors are JSON with the stable codes; the OpenAPI document
//! lists every annotated RPC; gRPC-web answers a hand-framed WhoAmI on both ports; CORS grants
//! browser pages of configured origins only. Hardening: a body must be JSON (or NDJSON for the
//! stream), else 415; each error's codes agree with its status; a formula in a text field comes
//! back neutralised in CSV; a client slow to send its headers or its body is cut off.

use std::collections::BTreeSet;
use std::io::{Read, Write};
use std::path::PathBuf;
use std::process::Command;
use std::time::{Duration, Instant};

use prost::Message;
use prost_reflect::{DescriptorPool, DynamicMessage, SerializeOptions};
use serde_json::{Value, json};
use sharedmetrics_e2e::{Sandbox, Scene, Suite};
use sharedmetrics_proto::sharedmetrics::access::v1::WhoAmIRequest;
use sharedmetrics_proto::sharedmetrics::access::v1::access_service_client::AccessServiceClient;
use sharedmetrics_proto::sharedmetrics::benchmarking::v1::benchmarking_service_client::BenchmarkingServiceClient;
use sharedmetrics_proto::sharedmetrics::benchmarking::v1::{Benchmark, CompareAreasRequest, benchmark};
use sharedmetrics_proto::sharedmetrics::common::v1::AreaType;
use sharedmetrics_proto::sharedmetrics::definitions::v1::GetMetricRequest;
use sharedmetrics_proto::sharedmetrics::definitions::v1::ListAreasRequest;
use sharedmetrics_proto::sharedmetrics::definitions::v1::definitions_service_client::DefinitionsServiceClient;
use sharedmetrics_proto::sharedmetrics::submissions::v1::submissions_service_client::SubmissionsServiceClient;
use sharedmetrics_proto::sharedmetrics::submissions::v1::{GetSubmissionRequest, QueryObservationsRequest};

/// Wirral LSOAs (Cheshire and Merseyside ICB, where the trust RBL is listed).
const WIRRAL_LSOAS: [&str; 3] = ["E01007124", "E01007125", "E01007126"];
/// The North East region: 12 districts, 1,657 LSOAs.
const NORTH_EAST: &str = "E12000001";
const PERIOD: &str = "2024/25";

/// One HTTP exchange as curl saw it.
struct Http {
    status: u16,
    content_type: String,
    /// Response headers, names lowercased.
    headers: Vec<(String, String)>,
    body: Vec<u8>,
}

impl Http {
    fn json(&self) -> Value {
        serde_json::from_slice(&self.body)
            .unwrap_or_else(|e| panic!("not JSON ({e}): {}", String::from_utf8_lossy(&self.body)))
    }

    /// Returns the value of response header `name` (lowercase), if sent.
    fn header(&self, name: &str) -> Option<&str> {
        self.headers.iter().find(|(n, _)| n == name).map(|(_, v)| v.as_str())
    }

    fn text(&self) -> String {
        String::from_utf8(self.body.clone()).expect("utf-8")
    }
}

/// Calls the HTTP port with curl; `body` goes through a file (request bodies can be large).
struct Curl {
    base: String,
    scratch: PathBuf,
}

impl Curl {
    fn new(sandbox: &Sandbox) -> Self {
        let scratch = std::env::temp_dir().join(format!("sm-rest-{}", uuid::Uuid::new_v4().simple()));
        std::fs::create_dir_all(&scratch).expect("a scratch folder");
        Self { base: format!("http://{}", sandbox.http_addr), scratch }
    }

    async fn call(&self, method: &str, path: &str, key: Option<&str>, headers: &[&str], body: Option<&[u8]>) -> Http {
        let mut args: Vec<String> = vec!["-sS".into(), "-X".into(), method.into()];
        if let Some(key) = key {
            args.extend(["-H".into(), format!("Authorization: Bearer {key}")]);
        }
        for header in headers {
            args.extend(["-H".into(), (*header).to_owned()]);
        }
        if let Some(body) = body {
            let file = self.scratch.join(format!("{}.body", uuid::Uuid::new_v4().simple()));
            std::fs::write(&file, body).expect("the body is written");
            args.extend(["--data-binary".into(), format!("@{}", file.display())]);
        }
        let header_file = self.scratch.join(format!("{}.headers", uuid::Uuid::new_v4().simple()));
        args.extend(["-D".into(), header_file.display().to_string()]);
        args.extend(["-w".into(), "\n%{http_code}\n%{content_type}".into(), format!("{}{path}", self.base)]);
        // curl blocks; the platform under test runs on the runtime's other threads.
        let output = tokio::task::spawn_blocking(move || Command::new("curl").args(&args).output())
            .await
            .expect("curl ran")
            .expect("curl is installed");
        assert!(output.status.success(), "curl failed: {}", String::from_utf8_lossy(&output.stderr));
        let mut out = output.stdout;
        let content_type_at = out.iter().rposition(|b| *b == b'\n').expect("write-out");
        let content_type = String::from_utf8_lossy(&out[content_type_at + 1..]).into_owned();
        out.truncate(content_type_at);
        let status_at = out.iter().rposition(|b| *b == b'\n').expect("write-out");
        let status = String::from_utf8_lossy(&out[status_at + 1..]).parse().expect("a status");
        out.truncate(status_at);
        let headers = std::fs::read_to_string(&header_file)
            .unwrap_or_default()
            .lines()
            .filter_map(|line| line.split_once(':'))
            .map(|(name, value)| (name.trim().to_ascii_lowercase(), value.trim().to_owned()))
            .collect();
        let _ = std::fs::remove_file(&header_file);
        Http { status, content_type, headers, body: out }
    }

    async fn get(&self, path: &str, key: Option<&str>) -> Http {
        self.call("GET", path, key, &[], None).await
    }

    async fn post(&self, path: &str, key: Option<&str>, body: &Value) -> Http {
        let body = serde_json::to_vec(body).expect("json");
        self.call("POST", path, key, &["Content-Type: application/json"], Some(&body)).await
    }
}

impl Drop for Curl {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.scratch);
    }
}

fn pool() -> DescriptorPool {
    DescriptorPool::decode(sharedmetrics_proto::FILE_DESCRIPTOR_SET).expect("descriptor set")
}

/// Returns a gRPC answer in proto3 JSON (every field, as the REST side writes them), to compare
/// with what the REST side answered for the same call.
fn grpc_json<M: Message>(message: &M, full_name: &str) -> Value {
    let descriptor = pool().get_message_by_name(full_name).expect("a message of the contract");
    let dynamic = DynamicMessage::decode(descriptor, message.encode_to_vec().as_slice()).expect("decodes");
    let mut serializer = serde_json::Serializer::new(Vec::new());
    dynamic
        .serialize_with_options(&mut serializer, &SerializeOptions::new().skip_default_fields(false))
        .expect("serialises");
    // Through text and back, as the REST answer is read: serde_json's float parsing may round
    // the last digit, the same way for the same text.
    serde_json::from_slice(&serializer.into_inner()).expect("JSON")
}

fn expect_status(response: &Http, status: u16, what: &str) {
    assert_eq!(response.status, status, "{what}: {}", String::from_utf8_lossy(&response.body));
}

/// Asserts an error answer: its HTTP status, JSON body and stable code, and a gRPC status
/// (name and number) beside them.
fn expect_error(response: &Http, status: u16, code: &str, what: &str) -> Value {
    expect_status(response, status, what);
    assert!(response.content_type.starts_with("application/json"), "{what}: {}", response.content_type);
    let error = response.json()["error"].clone();
    assert_eq!(error["code"], code, "{what}: {error}");
    assert_eq!(error["http_status"], status, "{what}");
    assert!(error["status"].as_str().is_some_and(|s| !s.is_empty()) && error["grpc_code"].is_u64(), "{what}: {error}");
    assert!(error["message"].as_str().is_some_and(|m| !m.is_empty()), "{what}: a message");
    error
}

async fn create_key(curl: &Curl, admin: &str, organisation: &str, roles: &[&str]) -> String {
    let response = curl
        .post(
            "/v1/api-keys",
            Some(admin),
            &json!({"name": format!("{organisation} REST key"), "organisationCode": organisation, "roles": roles}),
        )
        .await;
    expect_status(&response, 200, "the admin creates a key over REST");
    response.json()["secret"].as_str().expect("the secret, once").to_owned()
}

fn metric_spec(code: &str) -> Value {
    json!({
        "code": code,
        "title": format!("REST indicator {code}"),
        "valueType": "VALUE_TYPE_PROPORTION",
        "multiplier": 100,
        "unit": "%",
        "polarity": "POLARITY_HIGH_IS_GOOD",
        "ciMethod": "CI_METHOD_WILSON",
        "periodType": "PERIOD_TYPE_FINANCIAL_YEAR",
        "areaTypes": ["AREA_TYPE_LSOA", "AREA_TYPE_LOCAL_AUTHORITY_DISTRICT"],
        "dimensions": ["sex", "imd_decile"],
        "owners": ["X24"],
        "visibility": "VISIBILITY_PUBLIC",
        "validFrom": "2020-04-01",
    })
}

async fn identity_and_authentication(sandbox: &Scene) {
    let curl = &Curl::new(sandbox);
    let anonymous = curl.get("/v1/whoami", None).await;
    expect_error(&anonymous, 401, "UNAUTHENTICATED", "no key");
    let wrong = curl.get("/v1/whoami", Some("sm_not_a_real_key")).await;
    expect_error(&wrong, 401, "UNAUTHENTICATED", "an unknown key");

    let rest = curl.get("/v1/whoami", Some(&sandbox.admin_key)).await;
    expect_status(&rest, 200, "whoami");
    let grpc = AccessServiceClient::new(sandbox.admin()).who_am_i(WhoAmIRequest {}).await.unwrap().into_inner();
    assert_eq!(rest.json(), grpc_json(&grpc, "sharedmetrics.access.v1.WhoAmIResponse"));
    assert_eq!(rest.json()["principal"]["organisationCode"], "X24");

    // The same key as `x-api-key` works too.
    let header = format!("x-api-key: {}", sandbox.admin_key);
    let by_header = curl.call("GET", "/v1/whoami", None, &[&header], None).await;
    expect_status(&by_header, 200, "whoami with x-api-key");

    expect_error(&curl.get("/v1/no-such-thing", None).await, 404, "NOT_FOUND", "an unknown route");
    let wrong_method = curl.call("DELETE", "/v1/metrics", Some(&sandbox.admin_key), &[], None).await;
    assert_eq!(wrong_method.status, 405, "a known path with another method");
    assert_eq!(wrong_method.json()["error"]["http_status"], 405, "{}", wrong_method.text());
}

async fn a_metric_defined_over_rest_reads_the_same_over_grpc(sandbox: &Scene) {
    define_over_rest(sandbox, &Curl::new(sandbox), "e2e-rest-metric").await;
}

/// Defines `code` over REST, reads it over both, and has bad bodies refused.
async fn define_over_rest(sandbox: &Sandbox, curl: &Curl, code: &str) {
    let admin = Some(sandbox.admin_key.as_str());
    let created = curl.post("/v1/metrics", admin, &json!({"spec": metric_spec(code), "publish": true})).await;
    expect_status(&created, 200, "the metric is created");

    let rest = curl.get(&format!("/v1/metrics/{code}"), admin).await;
    expect_status(&rest, 200, "the metric is read");
    let grpc = DefinitionsServiceClient::new(sandbox.admin())
        .get_metric(GetMetricRequest { code: code.into(), ..Default::default() })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(rest.json(), grpc_json(&grpc, "sharedmetrics.definitions.v1.GetMetricResponse"));
    assert_eq!(grpc.metric.as_ref().map(|m| m.code.as_str()), Some(code));

    // Bad bodies: a value of the wrong type, an unknown field, malformed JSON, a rule the service checks.
    let bad = curl.post("/v1/metrics", admin, &json!({"spec": {"code": "x", "multiplier": "lots"}})).await;
    let error = expect_error(&bad, 400, "INVALID_ARGUMENT", "a string for a number");
    assert_eq!(error["field_violations"][0]["field"], "spec.multiplier", "{error}");
    let unknown = curl.post("/v1/metrics", admin, &json!({"spec": {"colour": "red"}})).await;
    let error = expect_error(&unknown, 400, "INVALID_ARGUMENT", "an unknown field");
    assert!(error["message"].as_str().unwrap().contains("colour"), "{error}");
    let malformed =
        curl.call("POST", "/v1/metrics", admin, &["Content-Type: application/json"], Some(b"{\"spec\": ")).await;
    expect_error(&malformed, 400, "INVALID_ARGUMENT", "malformed JSON");
    let mut untitled = metric_spec(&format!("{code}-untitled"));
    untitled["title"] = json!("");
    let refused = curl.post("/v1/metrics", admin, &json!({"spec": untitled})).await;
    let error = expect_error(&refused, 400, "INVALID_ARGUMENT", "a metric without a title");
    let fields: Vec<&str> =
        error["field_violations"].as_array().unwrap().iter().filter_map(|v| v["field"].as_str()).collect();
    assert!(fields.iter().any(|f| f.contains("title")), "the service names the field: {error}");
}

async fn a_submission_published_and_queried_over_rest_matches_grpc(sandbox: &Scene) {
    let (curl, code) = (&Curl::new(sandbox), "e2e-rest-a");
    define_over_rest(sandbox, curl, code).await;
    let admin = sandbox.admin_key.as_str();
    let trust = create_key(curl, admin, "RBL", &["ROLE_SUBMITTER", "ROLE_READER"]).await;
    let rows: Vec<Value> = WIRRAL_LSOAS
        .iter()
        .enumerate()
        .flat_map(|(i, area)| {
            [
                json!({"areaCode": area, "periodCode": PERIOD, "numerator": 30 + i, "denominator": 100}),
                json!({"areaCode": area, "periodCode": PERIOD, "numerator": 12 + i, "denominator": 50,
                       "breakdown": {"codes": [{"dimension": "sex", "code": "F"}]}, "note": "a, \"quoted\" note"}),
            ]
        })
        .collect();
    let body = json!({
        "header": {"metricCode": code, "mode": "SUBMISSION_MODE_MERGE", "sourceSystem": "curl"},
        "rows": rows,
    });
    let submitted = curl.post("/v1/submissions", Some(&trust), &body).await;
    expect_status(&submitted, 200, "the trust submits over REST");
    let receipt = submitted.json()["receipt"].clone();
    // uint64 counts are strings in proto3 JSON.
    assert_eq!(receipt["counts"]["created"], "6", "{receipt}");
    assert_eq!(receipt["counts"]["rejected"], "0", "{receipt}");
    let id = receipt["submissionId"].as_str().expect("an id").to_owned();

    // Another organisation may not publish it: refused with the stable code.
    let outsider = create_key(curl, admin, "RVY", &["ROLE_SUBMITTER", "ROLE_READER"]).await;
    let refused = curl.post(&format!("/v1/submissions/{id}:publish"), Some(&outsider), &json!({})).await;
    assert!(matches!(refused.status, 403 | 404), "{}", refused.text());
    let code_seen = if refused.status == 403 { "PERMISSION_DENIED" } else { "NOT_FOUND" };
    expect_error(&refused, refused.status, code_seen, "another organisation publishes");

    let published = curl.post(&format!("/v1/submissions/{id}:publish"), Some(&trust), &json!({})).await;
    expect_status(&published, 200, "the trust publishes");
    assert_eq!(published.json()["submission"]["state"], "PUBLICATION_STATE_PUBLISHED");

    let rest = curl.get(&format!("/v1/submissions/{id}"), Some(&trust)).await;
    expect_status(&rest, 200, "the submission is read");
    let grpc = SubmissionsServiceClient::new(sandbox.admin())
        .get_submission(GetSubmissionRequest { submission_id: id.clone() })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(rest.json(), grpc_json(&grpc, "sharedmetrics.submissions.v1.GetSubmissionResponse"));

    // The query: NDJSON (one line per stream message) and CSV, against the gRPC stream.
    let mut stream = SubmissionsServiceClient::new(sandbox.admin())
        .query_observations(QueryObservationsRequest {
            metric_code: code.into(),
            area_codes: WIRRAL_LSOAS.iter().map(|a| (*a).to_owned()).collect(),
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner();
    let mut expected = Vec::new();
    while let Some(batch) = stream.message().await.unwrap() {
        for observation in batch.observations {
            expected.push(grpc_json(&observation, "sharedmetrics.submissions.v1.Observation"));
        }
    }
    assert_eq!(expected.len(), 6);
    let query = format!("/v1/observations?metric_code={code}&area_codes={}", WIRRAL_LSOAS.join("&areaCodes="));
    let ndjson = curl.get(&query, Some(admin)).await;
    expect_status(&ndjson, 200, "the query as NDJSON");
    assert!(ndjson.content_type.starts_with("application/x-ndjson"));
    let lines: Vec<Value> = ndjson.text().lines().map(|l| serde_json::from_str(l).expect("a JSON line")).collect();
    let observations: Vec<Value> =
        lines.iter().flat_map(|line| line["observations"].as_array().cloned().unwrap_or_default()).collect();
    assert_eq!(observations, expected, "the REST query returns what the gRPC query does");

    let csv = curl.call("GET", &query, Some(admin), &["Accept: text/csv"], None).await;
    expect_status(&csv, 200, "the query as CSV");
    assert!(csv.content_type.starts_with("text/csv"));
    let by_format = curl.get(&format!("{query}&format=csv"), Some(admin)).await;
    assert_eq!(by_format.text(), csv.text(), "?format=csv is Accept: text/csv");
    let mut reader = csv::Reader::from_reader(csv.body.as_slice());
    let header = reader.headers().unwrap().clone();
    let column = |name: &str| header.iter().position(|h| h == name).unwrap_or_else(|| panic!("no column {name}"));
    let records: Vec<csv::StringRecord> = reader.records().map(Result::unwrap).collect();
    assert_eq!(records.len(), expected.len(), "one CSV row per observation");
    for (record, observation) in records.iter().zip(&expected) {
        assert_eq!(record[column("area_code")], observation["areaCode"]);
        assert_eq!(record[column("period_code")], observation["periodCode"]);
        assert_eq!(record[column("numerator")].parse::<f64>().ok(), observation["numerator"].as_f64());
        assert_eq!(record[column("denominator")].parse::<f64>().ok(), observation["denominator"].as_f64());
        assert_eq!(record[column("submission_id")], id);
        assert_eq!(record[column("note")], observation["note"]);
        let pairs: Vec<String> = observation["breakdown"]["codes"]
            .as_array()
            .map(|codes| {
                codes
                    .iter()
                    .map(|c| format!("{}:{}", c["dimension"].as_str().unwrap(), c["code"].as_str().unwrap()))
                    .collect()
            })
            .unwrap_or_default();
        assert_eq!(record[column("breakdown.codes")], pairs.join(";"));
    }

    // An invalid query parameter names itself.
    let bad = curl.get(&format!("/v1/observations?metric_code={code}&include_totals=perhaps"), Some(admin)).await;
    let error = expect_error(&bad, 400, "INVALID_ARGUMENT", "a bad boolean");
    assert_eq!(error["field_violations"][0]["field"], "include_totals");
}

/// North East LSOA codes, read as CSV over REST (every page followed), checked against gRPC.
async fn north_east_lsoas(sandbox: &Sandbox, curl: &Curl) -> Vec<String> {
    let path = format!("/v1/areas?type=AREA_TYPE_LSOA&parent_code={NORTH_EAST}&page_size=500&format=csv");
    let csv = curl.get(&path, Some(&sandbox.admin_key)).await;
    expect_status(&csv, 200, "areas as CSV");
    let mut reader = csv::Reader::from_reader(csv.body.as_slice());
    let at = reader.headers().unwrap().iter().position(|h| h == "code").expect("a code column");
    let codes: Vec<String> = reader.records().map(|r| r.unwrap()[at].to_owned()).collect();

    let mut grpc = Vec::new();
    let mut token = String::new();
    loop {
        let page = DefinitionsServiceClient::new(sandbox.admin())
            .list_areas(ListAreasRequest {
                r#type: AreaType::Lsoa as i32,
                parent_code: NORTH_EAST.into(),
                page_size: 500,
                page_token: token,
                ..Default::default()
            })
            .await
            .unwrap()
            .into_inner();
        grpc.extend(page.areas.into_iter().map(|a| a.code));
        if page.next_page_token.is_empty() {
            break;
        }
        token = page.next_page_token;
    }
    assert_eq!(codes, grpc, "the CSV export follows every page");
    assert_eq!(codes.len(), 1657);
    codes
}

async fn a_streamed_submission_and_a_comparison_over_rest_match_grpc(sandbox: &Scene) {
    let (curl, code) = (&Curl::new(sandbox), "e2e-rest-ne");
    define_over_rest(sandbox, curl, code).await;
    let admin = sandbox.admin_key.as_str();
    let lsoas = north_east_lsoas(sandbox, curl).await;
    // StreamObservations as newline-delimited JSON: header, two chunks, end frame.
    let rows: Vec<Value> = lsoas
        .iter()
        .enumerate()
        .map(|(i, area)| json!({"areaCode": area, "periodCode": PERIOD, "numerator": 40 + i % 37, "denominator": 100 + i % 11}))
        .collect();
    let (first, second) = rows.split_at(800);
    let frames = [
        json!({"header": {"metricCode": code, "mode": "SUBMISSION_MODE_MERGE", "sourceSystem": "curl-stream"}}),
        json!({"chunk": {"rows": first}}),
        json!({"chunk": {"rows": second}}),
        json!({"end": {"rowCount": rows.len().to_string()}}),
    ];
    let body: Vec<u8> = frames.iter().flat_map(|f| serde_json::to_vec(f).unwrap().into_iter().chain([b'\n'])).collect();
    let streamed = curl
        .call("POST", "/v1/submissions:stream", Some(admin), &["Content-Type: application/x-ndjson"], Some(&body))
        .await;
    expect_status(&streamed, 200, "the stream is committed");
    let receipt = streamed.json()["receipt"].clone();
    assert_eq!(receipt["counts"]["created"], "1657", "{receipt}");
    let id = receipt["submissionId"].as_str().unwrap().to_owned();

    // A stream with a bad frame commits nothing and names the frame.
    let bad = [
        json!({"header": {"metricCode": code, "mode": "SUBMISSION_MODE_MERGE"}}),
        json!({"chunk": {"rows": [{"areaCode": lsoas[0], "numerator": "many"}]}}),
        json!({"end": {"rowCount": "1"}}),
    ];
    let bad_body = serde_json::to_vec(&Value::Array(bad.to_vec())).unwrap();
    let json = ["Content-Type: application/json"];
    let refused = curl.call("POST", "/v1/submissions:stream", Some(admin), &json, Some(&bad_body)).await;
    let error = expect_error(&refused, 400, "INVALID_ARGUMENT", "a bad stream frame");
    assert_eq!(error["field_violations"][0]["field"], "[1].chunk.rows[0].numerator", "{error}");

    let published = curl.post(&format!("/v1/submissions/{id}:publish"), Some(admin), &json!({})).await;
    expect_status(&published, 200, "the stream's submission is published");

    let grpc = BenchmarkingServiceClient::new(sandbox.admin())
        .compare_areas(CompareAreasRequest {
            metric_code: code.into(),
            period_code: PERIOD.into(),
            area_type: AreaType::LocalAuthorityDistrict as i32,
            parent_area_code: NORTH_EAST.into(),
            benchmark: Some(Benchmark { kind: Some(benchmark::Kind::England(true)) }),
            ..Default::default()
        })
        .await
        .expect("districts are compared")
        .into_inner();
    assert_eq!(grpc.areas.len(), 12, "every North East district");
    let path = format!(
        "/v1/metrics/{code}/comparisons?period_code={PERIOD}&area_type=AREA_TYPE_LOCAL_AUTHORITY_DISTRICT\
         &parent_area_code={NORTH_EAST}&benchmark.england=true"
    );
    let rest = curl.get(&path, Some(admin)).await;
    expect_status(&rest, 200, "the comparison over REST");
    let mut rest_json = rest.json();
    let mut grpc_json = grpc_json(&grpc, "sharedmetrics.benchmarking.v1.CompareAreasResponse");
    // The second identical question is answered from the cache; everything else is the same data.
    assert_eq!(rest_json["cacheHit"], true);
    rest_json.as_object_mut().unwrap().remove("cacheHit");
    grpc_json.as_object_mut().unwrap().remove("cacheHit");
    assert_eq!(rest_json, grpc_json, "the REST comparison returns what the gRPC one does");

    let csv = curl.get(&format!("{path}&format=csv"), Some(admin)).await;
    expect_status(&csv, 200, "the comparison as CSV");
    let rows = csv::Reader::from_reader(csv.body.as_slice()).records().count();
    assert_eq!(rows, 12, "one CSV row per district");
}

/// Returns the `google.api.http` rules of the contract as (method, OpenAPI path) pairs.
fn annotated_rpcs() -> BTreeSet<(String, String)> {
    let pool = pool();
    let extension = pool.get_extension_by_name("google.api.http").expect("the annotation is in the pool");
    let mut out = BTreeSet::new();
    for name in sharedmetrics_proto::SERVICE_NAMES {
        for rpc in pool.get_service_by_name(name).expect("a service").methods() {
            let options = rpc.options();
            assert!(options.has_extension(&extension), "{} is annotated", rpc.full_name());
            let rule = options.get_extension(&extension);
            let rule = rule.as_message().expect("an HttpRule");
            let (method, path) = ["get", "post", "put", "patch", "delete"]
                .into_iter()
                .find_map(|m| {
                    let path = rule.get_field_by_name(m)?.as_str()?.to_owned();
                    (!path.is_empty()).then(|| (m.to_owned(), path))
                })
                .expect("a method and path");
            out.insert((method, path));
        }
    }
    out
}

async fn the_openapi_document_lists_every_annotated_rpc(sandbox: &Scene) {
    let curl = &Curl::new(sandbox);
    let response = curl.get("/openapi.json", None).await;
    expect_status(&response, 200, "the OpenAPI document");
    let doc = response.json();
    assert!(doc["openapi"].as_str().is_some_and(|v| v.starts_with("3.")));
    let rpcs = annotated_rpcs();
    assert!(rpcs.len() >= 40, "{} annotated RPCs", rpcs.len());
    for (method, path) in &rpcs {
        let operation = &doc["paths"][path][method];
        assert!(operation["operationId"].is_string(), "{method} {path} is in the OpenAPI document");
        assert!(operation["responses"]["200"].is_object() && operation["responses"]["default"].is_object());
    }
    let operations: usize =
        doc["paths"].as_object().unwrap().values().map(|item| item.as_object().unwrap().len()).sum();
    assert_eq!(operations, rpcs.len(), "no operation that is not an RPC");
}

/// Frames one gRPC-web message (uncompressed).
fn grpc_web_frame(message: &[u8]) -> Vec<u8> {
    let mut frame = vec![0u8];
    frame.extend((message.len() as u32).to_be_bytes());
    frame.extend(message);
    frame
}

async fn grpc_web_answers_whoami_on_both_ports(sandbox: &Scene) {
    let curl = &Curl::new(sandbox);
    let grpc = AccessServiceClient::new(sandbox.admin()).who_am_i(WhoAmIRequest {}).await.unwrap().into_inner();
    let body = grpc_web_frame(&WhoAmIRequest {}.encode_to_vec());
    let headers = ["Content-Type: application/grpc-web+proto", "X-Grpc-Web: 1", "Accept: application/grpc-web+proto"];
    let grpc_port = Curl { base: sandbox.grpc_url(), scratch: curl.scratch.join("grpc") };
    std::fs::create_dir_all(&grpc_port.scratch).unwrap();
    for port in [curl, &grpc_port] {
        let path = "/sharedmetrics.access.v1.AccessService/WhoAmI";
        let response = port.call("POST", path, Some(&sandbox.admin_key), &headers, Some(&body)).await;
        expect_status(&response, 200, &format!("gRPC-web on {}", port.base));
        assert!(response.content_type.starts_with("application/grpc-web"), "{}", response.content_type);
        // A data frame, then a trailers frame (flag 0x80) with grpc-status 0.
        let bytes = &response.body;
        assert_eq!(bytes[0], 0, "a data frame first");
        let len = u32::from_be_bytes(bytes[1..5].try_into().unwrap()) as usize;
        let answer = sharedmetrics_proto::sharedmetrics::access::v1::WhoAmIResponse::decode(&bytes[5..5 + len])
            .expect("a WhoAmIResponse");
        assert_eq!(answer, grpc, "gRPC-web answers what gRPC does");
        let trailers = &bytes[5 + len..];
        assert_eq!(trailers[0], 0x80, "a trailers frame");
        assert!(String::from_utf8_lossy(&trailers[5..]).contains("grpc-status:0"));
    }
}

/// The browser origin the REST scenarios allow (CORS).
const ALLOWED_ORIGIN: &str = "https://dashboard.example.nhs.uk";

/// A page on an allowed origin may call the API from a browser (a preflight answered, the
/// answer readable, the gRPC status and retry-after exposed), on the REST side and gRPC-web of
/// both ports; a page on any other origin gets no CORS grant, so its browser withholds the answer.
async fn cross_origin_pages_are_allowed_only_from_configured_origins(sandbox: &Scene) {
    let curl = &Curl::new(sandbox);
    let grpc_port = Curl { base: sandbox.grpc_url(), scratch: curl.scratch.join("cors") };
    std::fs::create_dir_all(&grpc_port.scratch).unwrap();
    let checks = [
        (curl, "/v1/whoami", "GET"),
        (curl, "/sharedmetrics.access.v1.AccessService/WhoAmI", "POST"),
        (&grpc_port, "/sharedmetrics.access.v1.AccessService/WhoAmI", "POST"),
    ];
    for (port, path, method) in checks {
        let at = format!("{method} {}{path}", port.base);
        let request_method = format!("Access-Control-Request-Method: {method}");
        let preflight = |origin: &str| {
            let origin = format!("Origin: {origin}");
            let request_method = request_method.clone();
            async move {
                let headers = [
                    origin.as_str(),
                    request_method.as_str(),
                    "Access-Control-Request-Headers: authorization,x-grpc-web",
                ];
                port.call("OPTIONS", path, None, &headers, None).await
            }
        };
        let allowed = preflight(ALLOWED_ORIGIN).await;
        assert!(allowed.status < 300, "a preflight from an allowed origin is answered: {at} {}", allowed.status);
        assert_eq!(allowed.header("access-control-allow-origin"), Some(ALLOWED_ORIGIN), "{at}");
        let allowed_headers = allowed.header("access-control-allow-headers").unwrap_or_default().to_ascii_lowercase();
        assert!(
            allowed_headers.contains("authorization") && allowed_headers.contains("x-grpc-web"),
            "{at}: {allowed_headers}"
        );
        assert!(allowed.header("access-control-allow-methods").unwrap_or_default().contains(method), "{at}");

        let refused = preflight("https://elsewhere.example").await;
        assert_eq!(refused.header("access-control-allow-origin"), None, "no grant to another origin: {at}");
    }
    let origin = format!("Origin: {ALLOWED_ORIGIN}");
    let answer = curl.call("GET", "/v1/whoami", Some(&sandbox.admin_key), &[&origin], None).await;
    expect_status(&answer, 200, "WhoAmI from an allowed origin");
    assert_eq!(answer.header("access-control-allow-origin"), Some(ALLOWED_ORIGIN));
    let exposed = answer.header("access-control-expose-headers").unwrap_or_default().to_ascii_lowercase();
    assert!(exposed.contains("grpc-status") && exposed.contains("retry-after"), "{exposed}");
    let other =
        curl.call("GET", "/v1/whoami", Some(&sandbox.admin_key), &["Origin: https://elsewhere.example"], None).await;
    assert_eq!(other.header("access-control-allow-origin"), None);
}

/// Asserts an error whose codes agree with its status: the stable code and the gRPC status
/// (by name and number) the transcoder gives that status, and the refusal's reason.
fn expect_refusal(response: &Http, status: u16, grpc: (&str, u64), reason: Option<&str>, what: &str) -> Value {
    let error = expect_error(response, status, grpc.0, what);
    assert_eq!(error["status"], grpc.0, "{what}: {error}");
    assert_eq!(error["grpc_code"], grpc.1, "{what}: {error}");
    if let Some(reason) = reason {
        assert_eq!(error["field_violations"][0]["reason"], reason, "{what}: {error}");
    }
    error
}

/// The JSON body limit of the REST scenarios: 8 × `quotas.max_message_bytes`, set in [`run_all`].
const MAX_JSON_BYTES: usize = 8 * MAX_MESSAGE_BYTES;
const MAX_MESSAGE_BYTES: usize = 256 * 1024;

async fn writes_need_a_json_body_and_errors_agree_with_their_status(sandbox: &Scene) {
    let curl = &Curl::new(sandbox);
    let admin = Some(sandbox.admin_key.as_str());
    let spec = serde_json::to_vec(&json!({"spec": metric_spec("e2e-rest-types"), "publish": true})).unwrap();
    // 415 for a type the route does not read, or none (`Content-Type:` makes curl send none).
    let refused_types =
        ["Content-Type: text/plain", "Content-Type: application/x-www-form-urlencoded", "Content-Type:"];
    for content_type in refused_types {
        let refused = curl.call("POST", "/v1/metrics", admin, &[content_type], Some(&spec)).await;
        let what = format!("a metric sent with {content_type:?}");
        let error = expect_refusal(&refused, 415, ("UNIMPLEMENTED", 12), Some("UNSUPPORTED_MEDIA_TYPE"), &what);
        assert!(error["message"].as_str().unwrap().contains("application/json"), "{error}");
    }
    let csv = b"area_code,period_code,numerator\nE01007124,2024/25,3\n";
    let refused = curl.call("POST", "/v1/submissions:stream", admin, &["Content-Type: text/csv"], Some(csv)).await;
    expect_refusal(&refused, 415, ("UNIMPLEMENTED", 12), Some("UNSUPPORTED_MEDIA_TYPE"), "a CSV upload to the stream");
    // JSON with its charset is accepted.
    let utf8 = ["Content-Type: application/json; charset=utf-8"];
    let created = curl.call("POST", "/v1/metrics", admin, &utf8, Some(&spec)).await;
    expect_status(&created, 200, "a metric sent as application/json; charset=utf-8");

    // Every error the transcoder makes itself says its own status in its codes.
    let no_route = curl.get("/v1/no-such-thing", admin).await;
    expect_refusal(&no_route, 404, ("NOT_FOUND", 5), None, "an unknown route");
    let method = curl.call("DELETE", "/v1/metrics", admin, &[], None).await;
    expect_refusal(&method, 405, ("UNIMPLEMENTED", 12), Some("METHOD_NOT_ALLOWED"), "a known path, another method");
    assert!(method.header("allow").is_some_and(|allow| allow.contains("POST")), "{:?}", method.headers);
    let malformed = curl.call("POST", "/v1/metrics", admin, &["Content-Type: application/json"], Some(b"{")).await;
    expect_refusal(&malformed, 400, ("INVALID_ARGUMENT", 3), Some("INVALID_JSON"), "malformed JSON");
    // Past the limit, refused on its Content-Length before curl sends it (Expect: 100-continue).
    let title = "x".repeat(MAX_JSON_BYTES);
    let large = serde_json::to_vec(&json!({"spec": {"code": "e2e-rest-large", "title": title}})).unwrap();
    let too_large = curl.call("POST", "/v1/metrics", admin, &["Content-Type: application/json"], Some(&large)).await;
    expect_refusal(&too_large, 413, ("RESOURCE_EXHAUSTED", 8), Some("BODY_TOO_LARGE"), "a body past the limit");
}

async fn a_formula_in_a_note_comes_back_neutralised_in_csv(sandbox: &Scene) {
    let (curl, code) = (&Curl::new(sandbox), "e2e-rest-formula");
    let admin = Some(sandbox.admin_key.as_str());
    let created = curl.post("/v1/metrics", admin, &json!({"spec": metric_spec(code), "publish": true})).await;
    expect_status(&created, 200, "the metric is created");
    let formula = r#"=HYPERLINK("http://x")"#;
    let body = json!({
        "header": {"metricCode": code, "mode": "SUBMISSION_MODE_MERGE", "sourceSystem": "curl"},
        "rows": [{"areaCode": WIRRAL_LSOAS[0], "periodCode": PERIOD, "numerator": 30, "denominator": 100, "note": formula}],
    });
    let submitted = curl.post("/v1/submissions", admin, &body).await;
    expect_status(&submitted, 200, "a row with a formula for a note");
    let id = submitted.json()["receipt"]["submissionId"].as_str().expect("an id").to_owned();
    let published = curl.post(&format!("/v1/submissions/{id}:publish"), admin, &json!({})).await;
    expect_status(&published, 200, "published");

    let query = format!("/v1/observations?metric_code={code}&area_codes={}", WIRRAL_LSOAS[0]);
    let ndjson = curl.get(&query, admin).await;
    expect_status(&ndjson, 200, "the query as NDJSON");
    assert!(ndjson.text().contains(r#""note":"=HYPERLINK(\"http://x\")""#), "JSON keeps the note: {}", ndjson.text());
    let csv = curl.call("GET", &query, admin, &["Accept: text/csv"], None).await;
    expect_status(&csv, 200, "the query as CSV");
    // Quoted, its quotes doubled, and prefixed so a spreadsheet shows it rather than runs it.
    assert!(csv.text().contains(r#""'=HYPERLINK(""http://x"")""#), "{}", csv.text());
    let mut reader = csv::Reader::from_reader(csv.body.as_slice());
    let header = reader.headers().unwrap().clone();
    let column = |name: &str| header.iter().position(|h| h == name).unwrap_or_else(|| panic!("no column {name}"));
    let records: Vec<csv::StringRecord> = reader.records().map(Result::unwrap).collect();
    assert_eq!(records.len(), 1, "{}", csv.text());
    assert_eq!(&records[0][column("note")], format!("'{formula}"));
    assert_eq!(&records[0][column("numerator")], "30", "a number is written as it is");
}

/// The HTTP port's header read and body idle limits in the REST scenarios (set in [`run_all`]).
const HTTP_TIMEOUT: Duration = Duration::from_millis(1000);

/// Writes `request` on a raw TCP connection to `addr` and reads until the server closes it or
/// `give_up` passes; returns what was read, how long after the write, and whether it closed.
async fn raw_exchange(addr: std::net::SocketAddr, request: Vec<u8>, give_up: Duration) -> (Vec<u8>, Duration, bool) {
    tokio::task::spawn_blocking(move || {
        let mut stream = std::net::TcpStream::connect(addr).expect("connects");
        stream.set_read_timeout(Some(give_up)).unwrap();
        let started = Instant::now();
        stream.write_all(&request).expect("written");
        let mut received = Vec::new();
        let mut buffer = [0u8; 4096];
        loop {
            match stream.read(&mut buffer) {
                Ok(0) => return (received, started.elapsed(), true),
                Ok(n) => received.extend_from_slice(&buffer[..n]),
                Err(e) if matches!(e.kind(), std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut) => {
                    return (received, started.elapsed(), false);
                }
                // Reset by the server: closed too.
                Err(_) => return (received, started.elapsed(), true),
            }
        }
    })
    .await
    .expect("the exchange ran")
}

async fn slow_clients_are_cut_off(sandbox: &Scene) {
    let give_up = HTTP_TIMEOUT * 10;
    // Headers begun and never finished: the connection is closed at the header read timeout.
    let partial = format!("GET /v1/whoami HTTP/1.1\r\nHost: {}\r\nAuthorization: Bear", sandbox.http_addr);
    let (_, waited, closed) = raw_exchange(sandbox.http_addr, partial.into_bytes(), give_up).await;
    assert!(closed, "a client that never finishes its headers is disconnected (waited {waited:?})");
    assert!(waited >= HTTP_TIMEOUT.mul_f64(0.9) && waited < give_up, "closed at the limit, not before: {waited:?}");

    // Nothing at all, or the start of the HTTP/2 preface: closed at the same limit.
    for silent in [&b""[..], b"PRI * HTTP/2"] {
        let (_, waited, closed) = raw_exchange(sandbox.http_addr, silent.to_vec(), give_up).await;
        let what = String::from_utf8_lossy(silent);
        assert!(closed, "a client that sends {what:?} and stops is disconnected (waited {waited:?})");
        assert!(waited >= HTTP_TIMEOUT.mul_f64(0.9) && waited < give_up, "{what:?}: closed at the limit: {waited:?}");
    }

    // A body announced as 100 bytes, 10 sent, then nothing: 408 at the body idle limit, closed.
    let request = format!(
        "POST /v1/metrics HTTP/1.1\r\nHost: {}\r\nAuthorization: Bearer {}\r\nContent-Type: application/json\r\n\
         Content-Length: 100\r\n\r\n{{\"spec\": {{",
        sandbox.http_addr, sandbox.admin_key
    );
    let (received, waited, closed) = raw_exchange(sandbox.http_addr, request.into_bytes(), give_up).await;
    let answer = String::from_utf8_lossy(&received);
    assert!(answer.starts_with("HTTP/1.1 408"), "a stalled body is answered 408 (after {waited:?}): {answer}");
    assert!(closed, "and its connection closed: {answer}");
    assert!(waited >= HTTP_TIMEOUT.mul_f64(0.9) && waited < give_up, "at the limit: {waited:?}");
    let body = &answer[answer.find("\r\n\r\n").expect("a body") + 4..];
    let error: Value = serde_json::from_str(body).unwrap_or_else(|e| panic!("a JSON body ({e}): {body}"));
    assert_eq!(error["error"]["code"], "DEADLINE_EXCEEDED", "{error}");
    assert_eq!(error["error"]["status"], "DEADLINE_EXCEEDED", "{error}");
    assert_eq!(error["error"]["http_status"], 408, "{error}");
    assert_eq!(error["error"]["field_violations"][0]["reason"], "BODY_TIMEOUT", "{error}");

    // A prompt client on the same port is served as before.
    let prompt = format!("GET /health/livez HTTP/1.1\r\nHost: {}\r\nConnection: close\r\n\r\n", sandbox.http_addr);
    let (received, _, _) = raw_exchange(sandbox.http_addr, prompt.into_bytes(), give_up).await;
    assert!(String::from_utf8_lossy(&received).starts_with("HTTP/1.1 200"), "{}", String::from_utf8_lossy(&received));
}

/// The gateway's HTTP limits are set low so the hardening scenarios run in seconds.
fn configure(config: &mut sharedmetrics_config::Config) {
    config.gateway.cors_allowed_origins = vec![ALLOWED_ORIGIN.to_owned()];
    config.quotas.max_message_bytes = MAX_MESSAGE_BYTES;
    let timeout_ms = HTTP_TIMEOUT.as_millis() as u64;
    config.gateway.http_header_read_timeout_ms = timeout_ms;
    config.gateway.http_body_idle_timeout_ms = timeout_ms;
}

static SUITE: Suite = Suite::configured(configure);

sharedmetrics_e2e::scenarios!(SUITE:
    identity_and_authentication,
    the_openapi_document_lists_every_annotated_rpc,
    a_metric_defined_over_rest_reads_the_same_over_grpc,
    a_submission_published_and_queried_over_rest_matches_grpc,
    a_streamed_submission_and_a_comparison_over_rest_match_grpc,
    grpc_web_answers_whoami_on_both_ports,
    cross_origin_pages_are_allowed_only_from_configured_origins,
    writes_need_a_json_body_and_errors_agree_with_their_status,
    a_formula_in_a_note_comes_back_neutralised_in_csv,
    slow_clients_are_cut_off,
);

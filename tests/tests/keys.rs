//! API key issuance rules through the gateway, in both topologies: a key carries only roles its
//! creator holds; every key expires within the configured maximum lifetime (the bootstrap admin
//! key too, whose only copy is its 0600 file); another organisation's key ids never appear in a
//! key's `created_by`.

use std::time::{SystemTime, UNIX_EPOCH};

use sharedmetrics_e2e::{AuthChannel, Backend, Sandbox, Topology};
use sharedmetrics_error::ServiceError;
use sharedmetrics_proto::sharedmetrics::access::v1 as access;
use sharedmetrics_proto::sharedmetrics::access::v1::access_service_client::AccessServiceClient;
use sharedmetrics_proto::sharedmetrics::submissions::v1::submissions_service_client::SubmissionsServiceClient;
use sharedmetrics_proto::sharedmetrics::submissions::v1::{SubmissionHeader, SubmitObservationsRequest};
use tonic::Code;

/// The maximum key lifetime the sandbox is configured with, in days.
const MAX_DAYS: u32 = 30;
/// The bootstrap admin key's lifetime the sandbox is configured with, in days.
const ADMIN_DAYS: u32 = 7;
const DAY: i64 = 86_400;

fn now() -> i64 {
    SystemTime::now().duration_since(UNIX_EPOCH).expect("after 1970").as_secs() as i64
}

fn at(seconds: i64) -> Option<prost_types::Timestamp> {
    Some(prost_types::Timestamp { seconds, nanos: 0 })
}

fn request(
    name: &str,
    roles: &[access::Role],
    expires_at: Option<prost_types::Timestamp>,
) -> access::CreateApiKeyRequest {
    access::CreateApiKeyRequest {
        name: name.into(),
        roles: roles.iter().map(|r| *r as i32).collect(),
        organisation_code: String::new(),
        expires_at,
    }
}

async fn create(
    channel: &AuthChannel,
    request: access::CreateApiKeyRequest,
) -> Result<access::CreateApiKeyResponse, ServiceError> {
    AccessServiceClient::new(channel.clone())
        .create_api_key(request)
        .await
        .map(|r| r.into_inner())
        .map_err(ServiceError::from)
}

async fn keys_named(channel: &AuthChannel, name: &str) -> Vec<access::ApiKey> {
    let keys = AccessServiceClient::new(channel.clone())
        .list_api_keys(access::ListApiKeysRequest { include_inactive: true, page_size: 1000, ..Default::default() })
        .await
        .expect("listed")
        .into_inner()
        .api_keys;
    keys.into_iter().filter(|k| k.name == name).collect()
}

/// An org admin holding org_admin and reader cannot mint a steward or submitter key: refused
/// with the rule, nothing stored, and no submission made; roles it holds (and reader) it grants.
async fn a_key_carries_only_roles_its_creator_holds(sandbox: &Sandbox) {
    let (admin, _) = sandbox.create_key("RBL", &[access::Role::OrgAdmin, access::Role::Reader]).await.expect("a key");
    let refused = create(&admin, request("escalated", &[access::Role::Steward, access::Role::Submitter], None))
        .await
        .expect_err("an org admin cannot grant roles it lacks");
    assert_eq!(refused.grpc_code(), Code::PermissionDenied, "{refused}");
    assert_eq!(refused.rule(), Some("manage_keys.grant_unheld_role"), "{refused}");
    assert!(refused.message.contains("steward, submitter"), "the refusal names the roles: {refused}");
    assert!(keys_named(&admin, "escalated").await.is_empty(), "no key was stored");

    let granted = create(&admin, request("helper", &[access::Role::OrgAdmin, access::Role::Reader], None))
        .await
        .expect("roles it holds are granted");
    let helper = sandbox.with_key(Some(&granted.secret));
    let submit = SubmissionsServiceClient::new(helper)
        .submit_observations(SubmitObservationsRequest {
            header: Some(SubmissionHeader { metric_code: "smoking-prevalence-adults".into(), ..Default::default() }),
            rows: vec![],
        })
        .await
        .expect_err("a key without submitter cannot submit");
    assert_eq!(submit.code(), Code::PermissionDenied, "{submit:?}");
}

/// Every key expires: one asked for without an expiry gets the maximum lifetime, one past it
/// (2999) is refused naming the field and the limit, one within it is kept as asked.
async fn every_key_expires_within_the_maximum_lifetime(sandbox: &Sandbox) {
    let admin = sandbox.admin();
    let refused = create(&admin, request("forever", &[access::Role::Reader], at(32_503_680_000)))
        .await
        .expect_err("a key for 2999 is refused");
    assert_eq!(refused.grpc_code(), Code::InvalidArgument, "{refused}");
    let violation = refused.violations.first().expect("a field violation");
    assert_eq!((violation.field.as_str(), violation.reason.as_str()), ("expires_at", "OUT_OF_RANGE"));
    assert!(violation.description.contains(&format!("{MAX_DAYS} days")), "{}", violation.description);
    let just_over =
        create(&admin, request("just over", &[access::Role::Reader], at(now() + i64::from(MAX_DAYS) * DAY + 3600)));
    assert!(just_over.await.is_err(), "an hour past the maximum is refused");

    let unset = create(&admin, request("default lifetime", &[access::Role::Reader], None)).await.expect("created");
    let expires = unset.api_key.expect("described").expires_at.expect("it expires").seconds;
    let expected = now() + i64::from(MAX_DAYS) * DAY;
    assert!((expires - expected).abs() < 120, "no expiry asked means the maximum: {expires} vs {expected}");

    let asked = now() + 10 * DAY;
    let within = create(&admin, request("ten days", &[access::Role::Reader], at(asked))).await.expect("created");
    assert_eq!(within.api_key.expect("described").expires_at.map(|t| t.seconds), Some(asked));
}

/// The bootstrap admin key expires after its configured lifetime, and its secret is in its
/// file, readable by its owner only.
async fn the_bootstrap_key_expires_and_lives_in_a_private_file(sandbox: &Sandbox, file: &std::path::Path) {
    let me = AccessServiceClient::new(sandbox.admin())
        .who_am_i(access::WhoAmIRequest {})
        .await
        .expect("the admin key works")
        .into_inner();
    let expires = me.credential_expires_at.expect("the bootstrap key expires").seconds;
    let expected = now() + i64::from(ADMIN_DAYS) * DAY;
    assert!((expires - expected).abs() < 300, "the bootstrap key lives {ADMIN_DAYS} days: {expires} vs {expected}");
    let written = std::fs::read_to_string(file).expect("the key file is written");
    assert_eq!(written.trim(), sandbox.admin_key);
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(file).expect("the file").permissions().mode() & 0o777;
        assert_eq!(mode, 0o600, "the key file is {mode:o}");
    }
}

/// A key the national admin (X24) made for RBL is listed to RBL's org admin as made by
/// organisation X24, never by the admin's key id; national sees the key id.
async fn another_organisations_key_ids_stay_hidden(sandbox: &Sandbox) {
    let me = AccessServiceClient::new(sandbox.admin()).who_am_i(access::WhoAmIRequest {}).await.expect("whoami");
    let national_key_id = me.into_inner().principal.expect("a principal").key_id;
    let (rbl_admin, _) = sandbox.create_key("RBL", &[access::Role::OrgAdmin]).await.expect("a key");
    let listed = keys_named(&rbl_admin, "RBL test key").await;
    assert!(!listed.is_empty(), "RBL's admin lists its keys");
    for key in &listed {
        assert_eq!(key.created_by, "organisation:X24", "{key:?}");
        assert!(!key.created_by.contains(&national_key_id), "{key:?}");
    }
    let seen_by_national = keys_named(&sandbox.admin(), "RBL test key").await;
    assert!(seen_by_national.iter().all(|k| k.created_by == format!("key:{national_key_id}")), "{seen_by_national:?}");
}

async fn scenarios(backend: Backend, topology: Topology) {
    let file = std::env::temp_dir().join(format!("sharedmetrics-admin-key-{}", uuid::Uuid::new_v4().simple()));
    let key_file = file.clone();
    let sandbox = Sandbox::start_with(backend, topology, move |config| {
        config.api_keys.max_lifetime_days = MAX_DAYS;
        config.bootstrap.admin_key_lifetime_days = ADMIN_DAYS;
        config.bootstrap.admin_key_file = key_file;
    })
    .await
    .expect("the platform starts");
    the_bootstrap_key_expires_and_lives_in_a_private_file(&sandbox, &file).await;
    a_key_carries_only_roles_its_creator_holds(&sandbox).await;
    every_key_expires_within_the_maximum_lifetime(&sandbox).await;
    another_organisations_key_ids_stay_hidden(&sandbox).await;
    sandbox.stop().await.expect("the platform stops");
    let _ = std::fs::remove_file(&file);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn key_rules_single_binary_on_sqlite() {
    scenarios(Backend::Sqlite, Topology::SingleBinary).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn key_rules_split_services_on_postgres() {
    scenarios(Backend::Postgres, Topology::Split).await;
}

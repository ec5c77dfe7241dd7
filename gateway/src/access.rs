//! The gateway-owned access service: API keys (created shown once, stored hashed, scoped to
//! roles, revocable, expiring), the authenticator that turns a presented key into a
//! [`Principal`], and WhoAmI.

pub mod entity;
pub mod migration;
mod store;
pub mod throttle;

use sharedmetrics_db::db_error;
use std::sync::{Arc, OnceLock};

use sea_orm::DatabaseConnection;
use sha2::{Digest, Sha256};
use sharedmetrics_access::policy;
use sharedmetrics_access::{Principal, PrincipalKind, Role};
use sharedmetrics_error::{ErrorCode, ServiceError, ServiceResult};
use sharedmetrics_proto::Label;
use sharedmetrics_proto::sharedmetrics::access::v1 as pb;
use sharedmetrics_proto::sharedmetrics::access::v1::access_service_client::AccessServiceClient;
use sharedmetrics_proto::sharedmetrics::access::v1::access_service_server::AccessService as AccessServer;
use sharedmetrics_proto::sharedmetrics::access::v1::*;

use self::entity::api_key;
use crate::explain::Explainer;

/// How long a key read from the database is trusted before it is read again.
const KEY_CACHE_TTL: std::time::Duration = std::time::Duration::from_secs(5);

/// Prefix of every API key, so leaked keys are recognisable by secret scanners.
const KEY_PREFIX: &str = "sm_";

/// The access operations, independent of transport.
#[async_trait::async_trait]
pub trait AccessApi: Send + Sync + 'static {
    /// Returns the calling principal.
    async fn who_am_i(&self, principal: &Principal, request: WhoAmIRequest) -> ServiceResult<WhoAmIResponse>;
    /// Creates an API key and returns its secret, once.
    async fn create_api_key(
        &self,
        principal: &Principal,
        request: CreateApiKeyRequest,
    ) -> ServiceResult<CreateApiKeyResponse>;
    /// Lists API keys (never their secrets).
    async fn list_api_keys(
        &self,
        principal: &Principal,
        request: ListApiKeysRequest,
    ) -> ServiceResult<ListApiKeysResponse>;
    /// Revokes an API key.
    async fn revoke_api_key(
        &self,
        principal: &Principal,
        request: RevokeApiKeyRequest,
    ) -> ServiceResult<RevokeApiKeyResponse>;
    /// Explains why a principal may or may not act on a resource.
    async fn explain_access(
        &self,
        principal: &Principal,
        request: ExplainAccessRequest,
    ) -> ServiceResult<ExplainAccessResponse>;
    /// Lists audited writes the principal may read.
    async fn list_audit_events(
        &self,
        principal: &Principal,
        request: ListAuditEventsRequest,
    ) -> ServiceResult<ListAuditEventsResponse>;
}

sharedmetrics_grpc::service_adapters! {
    api: AccessApi,
    service: "sharedmetrics.access.v1.AccessService",
    server_trait: AccessServer,
    grpc_client: AccessServiceClient,
    adapter: AccessGrpc,
    remote: RemoteAccess,
    audited: AuditedAccess,
    methods: {
        who_am_i(WhoAmIRequest) -> WhoAmIResponse;
        create_api_key(CreateApiKeyRequest) -> CreateApiKeyResponse => |r| match r.organisation_code.as_str() {
            "" => format!("api-key/{}", r.name),
            organisation => format!("api-key/{organisation}/{}", r.name),
        };
        list_api_keys(ListApiKeysRequest) -> ListApiKeysResponse;
        revoke_api_key(RevokeApiKeyRequest) -> RevokeApiKeyResponse => |r| format!("api-key/{}", r.key_id);
        explain_access(ExplainAccessRequest) -> ExplainAccessResponse;
        list_audit_events(ListAuditEventsRequest) -> ListAuditEventsResponse;
    }
}

/// The access service on the gateway's database.
#[derive(Clone)]
pub struct AccessService {
    db: DatabaseConnection,
    /// Recently used keys by id, so a busy client does not cost a database read per request.
    /// Entries live [`KEY_CACHE_TTL`]; a revocation here drops its entry at once (another
    /// gateway replica notices within the TTL).
    keys: moka::future::Cache<String, api_key::Model>,
    /// The quotas every principal is held to, reported by WhoAmI.
    quotas: sharedmetrics_config::QuotaConfig,
    /// The longest lifetime a key may be created with, and the lifetime of a key asked for
    /// without an expiry.
    max_key_lifetime: chrono::Duration,
    /// Set once the services exist (see [`AccessService::set_explainer`]); shared by clones.
    explainer: Arc<OnceLock<Explainer>>,
}

/// A newly created key: its stored row and the secret to show once.
pub struct IssuedKey {
    /// The stored row.
    pub row: api_key::Model,
    /// The whole key, `sm_<key id>_<secret>`.
    pub secret: String,
}

fn hash(key: &str) -> String {
    hex::encode(Sha256::digest(key.as_bytes()))
}

fn random_hex(bytes: usize) -> String {
    use rand::RngCore;
    let mut buf = vec![0u8; bytes];
    rand::rng().fill_bytes(&mut buf);
    hex::encode(buf)
}

fn roles_of(row: &api_key::Model) -> Vec<Role> {
    serde_json::from_str::<Vec<String>>(&row.roles)
        .unwrap_or_default()
        .iter()
        .filter_map(|r| Role::from_name(r))
        .collect()
}

fn proto_role(role: Role) -> pb::Role {
    pb::Role::from_label(role.name()).unwrap_or(pb::Role::Unspecified)
}

fn timestamp(at: chrono::DateTime<chrono::Utc>) -> prost_types::Timestamp {
    prost_types::Timestamp { seconds: at.timestamp(), nanos: at.timestamp_subsec_nanos() as i32 }
}

/// Returns a key as `viewer` may see it: who created it is named by key only inside the
/// creator's organisation (and to national); elsewhere by the creator's organisation, so no
/// organisation learns another's key ids.
fn key_message(row: &api_key::Model, viewer: &Principal) -> ApiKey {
    let created_by = if viewer.is_national() || viewer.belongs_to(&row.created_by_organisation) {
        row.created_by.clone()
    } else if row.created_by_organisation.is_empty() {
        "another organisation".to_owned()
    } else {
        format!("organisation:{}", row.created_by_organisation)
    };
    ApiKey {
        key_id: row.key_id.clone(),
        name: row.name.clone(),
        prefix: format!("{KEY_PREFIX}{}", row.key_id),
        organisation_code: row.organisation_code.clone(),
        roles: roles_of(row).into_iter().map(|r| proto_role(r) as i32).collect(),
        created_at: Some(timestamp(row.created_at)),
        expires_at: row.expires_at.map(timestamp),
        revoked_at: row.revoked_at.map(timestamp),
        last_used_at: row.last_used_at.map(timestamp),
        created_by,
    }
}

/// Returns the message of a principal.
fn principal_message(principal: &Principal) -> pb::Principal {
    pb::Principal {
        id: principal.id.clone(),
        kind: match principal.kind {
            PrincipalKind::ApiKey => pb::PrincipalKind::ApiKey as i32,
            PrincipalKind::User => pb::PrincipalKind::OidcUser as i32,
            PrincipalKind::Service => pb::PrincipalKind::Unspecified as i32,
        },
        organisation_code: principal.organisation.clone(),
        roles: principal.roles.iter().map(|r| proto_role(*r) as i32).collect(),
        key_id: principal.key_id.clone().unwrap_or_default(),
        display_name: principal.display_name.clone(),
    }
}

/// Returns the principal a stored key stands for.
fn principal_of_key(row: &api_key::Model) -> Principal {
    Principal {
        id: format!("key:{}", row.key_id),
        kind: PrincipalKind::ApiKey,
        organisation: row.organisation_code.clone(),
        roles: roles_of(row),
        key_id: Some(row.key_id.clone()),
        display_name: row.name.clone(),
    }
}

impl AccessService {
    /// Returns the access service on `db` (migrated).
    pub fn new(db: DatabaseConnection) -> Self {
        let keys = moka::future::Cache::builder().max_capacity(10_000).time_to_live(KEY_CACHE_TTL).build();
        let max_key_lifetime = lifetime(&sharedmetrics_config::ApiKeyConfig::default());
        Self { db, keys, quotas: Default::default(), max_key_lifetime, explainer: Arc::new(OnceLock::new()) }
    }

    /// Holds created keys to `config`'s maximum lifetime.
    pub fn with_key_lifetime(mut self, config: &sharedmetrics_config::ApiKeyConfig) -> Self {
        self.max_key_lifetime = lifetime(config);
        self
    }

    /// Reports `quotas` in WhoAmI (the gateway's quota layers enforce them).
    pub fn with_quotas(mut self, quotas: &sharedmetrics_config::QuotaConfig) -> Self {
        self.quotas = quotas.clone();
        self
    }

    /// Gives ExplainAccess the services it reads facts from; until then it answers UNAVAILABLE.
    pub fn set_explainer(&self, explainer: Explainer) {
        if self.explainer.set(explainer).is_err() {
            tracing::warn!("the access service's explainer was set twice; the first one stays");
        }
    }

    /// Creates and stores a key expiring at `expires_at`, made by `created_by` of
    /// `creator_organisation`; the caller shows the secret once.
    pub async fn issue_key(
        &self,
        name: &str,
        organisation: &str,
        roles: &[Role],
        expires_at: chrono::DateTime<chrono::Utc>,
        (created_by, creator_organisation): (&str, &str),
    ) -> ServiceResult<IssuedKey> {
        let key_id = random_hex(8);
        let secret = format!("{KEY_PREFIX}{key_id}_{}", random_hex(32));
        let names: Vec<&str> = roles.iter().map(|r| r.name()).collect();
        let row = api_key::Model {
            key_id,
            name: name.to_owned(),
            secret_hash: hash(&secret),
            organisation_code: organisation.to_owned(),
            roles: serde_json::to_string(&names).expect("strings serialise"),
            created_at: chrono::Utc::now(),
            expires_at: Some(expires_at),
            revoked_at: None,
            last_used_at: None,
            created_by: created_by.to_owned(),
            created_by_organisation: creator_organisation.to_owned(),
        };
        store::insert(&self.db, row.clone()).await.map_err(db_error("storing an API key"))?;
        Ok(IssuedKey { row, secret })
    }

    /// Returns whether any key has ever been created.
    pub async fn has_keys(&self) -> ServiceResult<bool> {
        store::count(&self.db).await.map(|n| n > 0).map_err(db_error("counting API keys"))
    }

    /// Returns the principal a presented key proves, or why it is refused.
    pub async fn authenticate_key(&self, presented: &str) -> ServiceResult<Principal> {
        let refused = |why: &str| ServiceError::new(ErrorCode::Unauthenticated, why.to_owned());
        let key_id = key_id_of(presented).ok_or_else(|| refused("the API key is malformed"))?;
        let row = match self.keys.get(key_id).await {
            Some(row) => row,
            None => {
                let row = store::get(&self.db, key_id)
                    .await
                    .map_err(db_error("reading an API key"))?
                    .ok_or_else(|| refused("the API key is not recognised"))?;
                self.keys.insert(key_id.to_owned(), row.clone()).await;
                row
            }
        };
        // Compare digests in constant time so response timing says nothing about the secret.
        let presented_hash = hash(presented);
        let equal = presented_hash.len() == row.secret_hash.len()
            && presented_hash.bytes().zip(row.secret_hash.bytes()).fold(0u8, |acc, (a, b)| acc | (a ^ b)) == 0;
        if !equal {
            return Err(refused("the API key is not recognised"));
        }
        let now = chrono::Utc::now();
        if row.revoked_at.is_some() {
            return Err(refused("the API key has been revoked"));
        }
        if row.expires_at.is_some_and(|at| at <= now) {
            return Err(refused("the API key has expired"));
        }
        // Record use at most once a minute: a write per request would cost more than the call.
        if row.last_used_at.is_none_or(|at| now - at > chrono::Duration::minutes(1)) {
            let _ = store::touch(&self.db, &row.key_id, now).await;
            self.keys.insert(row.key_id.clone(), api_key::Model { last_used_at: Some(now), ..row.clone() }).await;
        }
        Ok(principal_of_key(&row))
    }
}

/// Returns the maximum key lifetime `config` sets.
fn lifetime(config: &sharedmetrics_config::ApiKeyConfig) -> chrono::Duration {
    chrono::Duration::days(i64::from(config.max_lifetime_days))
}

/// Returns an INVALID_ARGUMENT for an unknown role value at `field`.
fn parse_roles(values: &[i32], field: &str) -> ServiceResult<Vec<Role>> {
    let mut roles = Vec::new();
    for (i, value) in values.iter().enumerate() {
        let role = pb::Role::try_from(*value)
            .ok()
            .filter(|r| *r != pb::Role::Unspecified)
            .and_then(|r| Role::from_name(&r.label()))
            .ok_or_else(|| {
                ServiceError::invalid_field(
                    format!("{field}[{i}]"),
                    "UNKNOWN_ROLE",
                    format!("role {value} is not a known role"),
                )
            })?;
        if !roles.contains(&role) {
            roles.push(role);
        }
    }
    Ok(roles)
}

/// Allows managing keys of `organisation`: its org admins, or `national`.
fn check_key_admin(principal: &Principal, organisation: &str, what: &str) -> ServiceResult<()> {
    policy::manage_keys(principal, organisation, what).check()
}

#[async_trait::async_trait]
impl AccessApi for AccessService {
    async fn who_am_i(&self, principal: &Principal, _request: WhoAmIRequest) -> ServiceResult<WhoAmIResponse> {
        let expires_at = match &principal.key_id {
            Some(id) => {
                store::get(&self.db, id).await.map_err(db_error("reading an API key"))?.and_then(|k| k.expires_at)
            }
            None => None,
        };
        Ok(WhoAmIResponse {
            principal: Some(principal_message(principal)),
            credential_expires_at: expires_at.map(timestamp),
            requests_per_minute: self.quotas.requests_per_minute,
            rows_per_minute: u32::try_from(self.quotas.rows_per_minute).unwrap_or(u32::MAX),
        })
    }

    async fn create_api_key(
        &self,
        principal: &Principal,
        request: CreateApiKeyRequest,
    ) -> ServiceResult<CreateApiKeyResponse> {
        let organisation = if request.organisation_code.is_empty() {
            principal.organisation.clone()
        } else {
            request.organisation_code.clone()
        };
        check_key_admin(principal, &organisation, "creating an API key")?;
        if request.name.trim().is_empty() {
            return Err(ServiceError::invalid_field(
                "name",
                "REQUIRED",
                "an API key needs a name saying what it is for",
            ));
        }
        let roles = parse_roles(&request.roles, "roles")?;
        if roles.is_empty() {
            return Err(ServiceError::invalid_field("roles", "REQUIRED", "an API key needs at least one role"));
        }
        policy::grant_roles(principal, &roles).check()?;
        let now = chrono::Utc::now();
        let latest = now + self.max_key_lifetime;
        let expires_at = request
            .expires_at
            .map(|t| chrono::DateTime::from_timestamp(t.seconds, t.nanos.max(0) as u32))
            .map(|t| {
                t.ok_or_else(|| ServiceError::invalid_field("expires_at", "INVALID_TIME", "expires_at is out of range"))
            })
            .transpose()?;
        if expires_at.is_some_and(|t| t <= now) {
            return Err(ServiceError::invalid_field("expires_at", "OUT_OF_RANGE", "expires_at is in the past"));
        }
        if let Some(at) = expires_at.filter(|t| *t > latest) {
            return Err(ServiceError::invalid_field(
                "expires_at",
                "OUT_OF_RANGE",
                format!(
                    "expires_at {} is past the maximum key lifetime of {} days (at most {})",
                    at.to_rfc3339(),
                    self.max_key_lifetime.num_days(),
                    latest.to_rfc3339()
                ),
            ));
        }
        let creator = (principal.id.as_str(), principal.organisation.as_str());
        let issued =
            self.issue_key(&request.name, &organisation, &roles, expires_at.unwrap_or(latest), creator).await?;
        tracing::info!(key_id = %issued.row.key_id, organisation = %organisation, principal = %principal.id, "api key created");
        Ok(CreateApiKeyResponse { api_key: Some(key_message(&issued.row, principal)), secret: issued.secret })
    }

    async fn list_api_keys(
        &self,
        principal: &Principal,
        request: ListApiKeysRequest,
    ) -> ServiceResult<ListApiKeysResponse> {
        let organisation = if request.organisation_code.is_empty() && principal.is_national() {
            None
        } else if request.organisation_code.is_empty() {
            Some(principal.organisation.clone())
        } else {
            Some(request.organisation_code.clone())
        };
        check_key_admin(principal, organisation.as_deref().unwrap_or(&principal.organisation), "listing API keys")?;
        let (offset, limit) = sharedmetrics_grpc::paging::page_window(request.page_size, &request.page_token)?;
        let now = chrono::Utc::now();
        let rows = store::list(&self.db, organisation.as_deref()).await.map_err(db_error("listing API keys"))?;
        let keys: Vec<ApiKey> = rows
            .iter()
            .filter(|k| request.include_inactive || (k.revoked_at.is_none() && k.expires_at.is_none_or(|t| t > now)))
            .map(|k| key_message(k, principal))
            .collect();
        let next_page_token = sharedmetrics_grpc::paging::next_page_token(offset, limit, keys.len());
        let api_keys = keys.into_iter().skip(offset).take(limit).collect();
        Ok(ListApiKeysResponse { api_keys, next_page_token })
    }

    async fn revoke_api_key(
        &self,
        principal: &Principal,
        request: RevokeApiKeyRequest,
    ) -> ServiceResult<RevokeApiKeyResponse> {
        let row = store::get(&self.db, &request.key_id)
            .await
            .map_err(db_error("reading an API key"))?
            .ok_or_else(|| ServiceError::not_found("API key", &request.key_id))?;
        // Say "not found" rather than "forbidden" to outsiders, so key ids cannot be probed.
        if !principal.is_national() && !principal.belongs_to(&row.organisation_code) {
            return Err(ServiceError::not_found("API key", &request.key_id));
        }
        check_key_admin(principal, &row.organisation_code, "revoking an API key")?;
        let row = if row.revoked_at.is_some() {
            row
        } else {
            store::revoke(&self.db, row, chrono::Utc::now()).await.map_err(db_error("revoking an API key"))?
        };
        // Refused from the next request on, not after the cache's time to live.
        self.keys.invalidate(&row.key_id).await;
        tracing::info!(key_id = %row.key_id, principal = %principal.id, "api key revoked");
        Ok(RevokeApiKeyResponse { api_key: Some(key_message(&row, principal)) })
    }

    async fn explain_access(
        &self,
        principal: &Principal,
        request: ExplainAccessRequest,
    ) -> ServiceResult<ExplainAccessResponse> {
        let subject = if request.principal_id.is_empty() || request.principal_id == principal.id {
            principal.clone()
        } else {
            // Another principal: one of the caller's organisation's keys for its org admin, any for
            // national; an outsider's key looks missing, so key ids cannot be probed.
            let key_id = request.principal_id.strip_prefix("key:").unwrap_or_default();
            let row = store::get(&self.db, key_id).await.map_err(db_error("reading an API key"))?;
            let row = row
                .filter(|k| principal.is_national() || principal.belongs_to(&k.organisation_code))
                .ok_or_else(|| ServiceError::not_found("principal", &request.principal_id))?;
            policy::manage_keys(principal, &row.organisation_code, "explaining another principal's access").check()?;
            principal_of_key(&row)
        };
        let kind = ResourceKind::try_from(request.resource_kind).unwrap_or(ResourceKind::Unspecified);
        let decision = if kind == ResourceKind::ApiKey {
            let action = Action::try_from(request.action).unwrap_or(Action::Unspecified);
            let key = match request.resource_code.as_str() {
                "" => None,
                id => store::get(&self.db, id).await.map_err(db_error("reading an API key"))?,
            };
            crate::explain::explain_key(
                &subject,
                action,
                &request.resource_code,
                key.map(|k| k.organisation_code).as_deref(),
            )
        } else {
            let explainer = self
                .explainer
                .get()
                .ok_or_else(|| ServiceError::unavailable("ExplainAccess is not wired to the services yet"))?;
            explainer.explain(&subject, &request).await?
        };
        Ok(ExplainAccessResponse {
            allowed: decision.allowed,
            rule: decision.rule.to_owned(),
            explanation: decision.explanation,
            principal: Some(principal_message(&subject)),
        })
    }

    async fn list_audit_events(
        &self,
        principal: &Principal,
        request: ListAuditEventsRequest,
    ) -> ServiceResult<ListAuditEventsResponse> {
        crate::audit::AuditLog::new(self.db.clone()).list(principal, request).await
    }
}

/// Returns the key id of a presented API key (`sm_<key id>_<secret>`), if it has that form.
fn key_id_of(presented: &str) -> Option<&str> {
    presented.strip_prefix(KEY_PREFIX).and_then(|rest| rest.split_once('_')).map(|(id, _)| id)
}

/// Authenticates requests at the gateway: an API key (`authorization: Bearer sm_…` or
/// `x-api-key: sm_…`), or, when OIDC is configured, an OIDC bearer token; repeated failures
/// from one key id or client address are throttled ([`throttle`]).
pub struct ApiKeyAuthenticator {
    access: AccessService,
    oidc: Option<std::sync::Arc<crate::oidc::OidcVerifier>>,
    throttle: throttle::AuthThrottle,
}

impl ApiKeyAuthenticator {
    /// Returns an authenticator checking keys against `access` (and no OIDC tokens), with the
    /// default throttle of failed authentications and no trusted proxies.
    pub fn new(access: AccessService) -> Self {
        let throttle = throttle::AuthThrottle::new(&Default::default(), Vec::new());
        Self { access, oidc: None, throttle }
    }

    /// Also accepts OIDC bearer tokens verified by `oidc`.
    pub fn with_oidc(mut self, oidc: Option<crate::oidc::OidcVerifier>) -> Self {
        self.oidc = oidc.map(std::sync::Arc::new);
        self
    }

    /// Throttles failed authentications with `throttle` instead of the default.
    pub fn with_throttle(mut self, throttle: throttle::AuthThrottle) -> Self {
        self.throttle = throttle;
        self
    }
}

#[async_trait::async_trait]
impl sharedmetrics_grpc::Authenticator for ApiKeyAuthenticator {
    async fn authenticate(
        &self,
        headers: &http::HeaderMap,
        peer: Option<std::net::SocketAddr>,
    ) -> Result<Option<Principal>, ServiceError> {
        let bearer = headers
            .get(http::header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.strip_prefix("Bearer ").or_else(|| v.strip_prefix("bearer ")))
            .map(str::trim);
        let api_key = headers.get("x-api-key").and_then(|v| v.to_str().ok()).map(str::trim);
        let (credential, is_key) = match (bearer, api_key) {
            (Some(token), _) if !token.starts_with(KEY_PREFIX) => (token, false),
            (Some(key), _) | (None, Some(key)) => (key, true),
            (None, None) => return Ok(None),
        };
        // Before anything is checked: a key id or address past its failures is refused without
        // the secret being compared, so guessing gains nothing. Only the key id is ever logged.
        let key_id = if is_key { key_id_of(credential) } else { None };
        let client = self.throttle.client_address(headers, peer);
        self.throttle.check(key_id, client).await?;
        let result = if is_key {
            self.access.authenticate_key(credential).await
        } else {
            match &self.oidc {
                Some(oidc) => oidc.verify(credential).await,
                None => Err(ServiceError::new(
                    ErrorCode::Unauthenticated,
                    "the bearer credential is not an API key (sm_…) and OIDC sign-in is not configured",
                )),
            }
        };
        match result {
            Ok(principal) => Ok(Some(principal)),
            Err(error) => {
                // Only refused credentials count: a store that failed to answer is not the
                // client's failure.
                if error.code == ErrorCode::Unauthenticated {
                    self.throttle.record_failure(key_id, client).await;
                }
                Err(error)
            }
        }
    }
}

//! Who is calling and what they may do. A [`Principal`] is established once, at the gateway
//! (from an API key or a bearer token), travels with the request (in request extensions in
//! process, in signed metadata over gRPC), and is checked by the same [`policy`] functions in
//! the gateway and in each service, so both topologies enforce exactly the same rules.

pub mod policy;

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use sharedmetrics_error::{ErrorCode, ServiceError};

/// A role a principal holds (DESIGN.md §6).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    /// Submits observations for its organisation.
    Submitter,
    /// Reads what its organisation may see.
    Reader,
    /// Defines metrics, dimensions and peer groups for its organisation.
    Steward,
    /// Manages its organisation's keys and reads its audit log.
    OrgAdmin,
    /// Reads everything, at national scope, and administers the platform.
    National,
}

impl Role {
    /// Every role, in declaration order.
    pub const ALL: [Role; 5] = [Role::Submitter, Role::Reader, Role::Steward, Role::OrgAdmin, Role::National];

    /// Returns the snake_case name of the role.
    pub fn name(self) -> &'static str {
        match self {
            Role::Submitter => "submitter",
            Role::Reader => "reader",
            Role::Steward => "steward",
            Role::OrgAdmin => "org_admin",
            Role::National => "national",
        }
    }

    /// Returns the role with the given snake_case name.
    pub fn from_name(name: &str) -> Option<Role> {
        Role::ALL.into_iter().find(|r| r.name() == name)
    }
}

/// How a principal proved who it is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PrincipalKind {
    /// A machine client with an API key.
    ApiKey,
    /// A person with an OIDC bearer token.
    User,
    /// A platform service acting for itself, never issued to a client: benchmarking reads every
    /// published figure as one to build aggregates that disclosure control may publish.
    Service,
}

/// An authenticated caller: who it is, its organisation and its roles.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Principal {
    /// Stable identifier: `key:<key id>` or `user:<issuer subject>`.
    pub id: String,
    /// How it authenticated.
    pub kind: PrincipalKind,
    /// ODS (or national body) code of its organisation.
    pub organisation: String,
    /// Roles it holds.
    pub roles: Vec<Role>,
    /// The API key used, if any (never the secret).
    pub key_id: Option<String>,
    /// Name for people and audit trails.
    pub display_name: String,
}

impl Principal {
    /// Returns a caller holding an API key of `organisation` with `roles`, named after the
    /// organisation: the principal that in-process callers and tests act as.
    pub fn api_key(organisation: &str, roles: &[Role]) -> Self {
        Principal {
            id: format!("key:{organisation}"),
            kind: PrincipalKind::ApiKey,
            organisation: organisation.to_owned(),
            roles: roles.to_vec(),
            key_id: None,
            display_name: organisation.to_owned(),
        }
    }

    /// Returns the principal benchmarking reads published figures as when it builds an aggregate
    /// over cells the caller may not see: those figures go into sums only, never out as cells.
    pub fn aggregating_service() -> Self {
        Principal {
            id: "service:benchmarking-aggregates".into(),
            kind: PrincipalKind::Service,
            organisation: String::new(),
            roles: vec![Role::Reader, Role::National],
            key_id: None,
            display_name: "benchmarking aggregates".into(),
        }
    }

    /// Returns whether the principal is a platform service acting for itself.
    pub fn is_service(&self) -> bool {
        self.kind == PrincipalKind::Service
    }

    /// Returns whether the principal holds `role`.
    pub fn has_role(&self, role: Role) -> bool {
        self.roles.contains(&role)
    }

    /// Returns whether the principal reads everything (the `national` role).
    pub fn is_national(&self) -> bool {
        self.has_role(Role::National)
    }

    /// Returns whether the principal belongs to organisation `code`.
    pub fn belongs_to(&self, code: &str) -> bool {
        self.organisation == code
    }
}

/// The gRPC metadata key carrying a forwarded principal between gateway and services.
pub const PRINCIPAL_METADATA_KEY: &str = "x-sharedmetrics-principal";
/// The gRPC metadata key carrying the forwarded principal's signature.
pub const SIGNATURE_METADATA_KEY: &str = "x-sharedmetrics-principal-signature";

/// Signs forwarded principals with the shared internal token so a service accepts an identity
/// only from the gateway. (With an empty token, as in the embedded default, signatures still
/// protect against accidents, not against an attacker who can reach the service port; the Helm
/// chart sets a token and a NetworkPolicy.)
#[derive(Clone)]
pub struct PrincipalCodec {
    token: String,
}

impl PrincipalCodec {
    /// Returns a codec signing with `token`.
    pub fn new(token: &str) -> Self {
        Self { token: token.to_owned() }
    }

    fn sign(&self, payload: &str) -> String {
        // HMAC-style keyed hash: H(token || H(token || payload)).
        let inner = Sha256::new().chain_update(&self.token).chain_update(payload).finalize();
        hex::encode(Sha256::new().chain_update(&self.token).chain_update(inner).finalize())
    }

    /// Writes `principal` and its signature into outgoing metadata.
    pub fn insert(&self, principal: &Principal, metadata: &mut tonic::metadata::MetadataMap) {
        let payload = serde_json::to_string(principal).expect("a principal serialises");
        let encoded = hex::encode(&payload);
        let signature = self.sign(&payload);
        metadata.insert(PRINCIPAL_METADATA_KEY, encoded.parse().expect("hex is ascii"));
        metadata.insert(SIGNATURE_METADATA_KEY, signature.parse().expect("hex is ascii"));
    }

    /// Reads and verifies a forwarded principal from incoming metadata.
    pub fn extract(&self, metadata: &tonic::metadata::MetadataMap) -> Result<Principal, ServiceError> {
        let unauthenticated = |why: &str| ServiceError::new(ErrorCode::Unauthenticated, why.to_owned());
        let encoded = metadata
            .get(PRINCIPAL_METADATA_KEY)
            .and_then(|v| v.to_str().ok())
            .ok_or_else(|| unauthenticated("no forwarded identity: call the gateway, not the service"))?;
        let signature = metadata
            .get(SIGNATURE_METADATA_KEY)
            .and_then(|v| v.to_str().ok())
            .ok_or_else(|| unauthenticated("forwarded identity is not signed"))?;
        let payload = hex::decode(encoded)
            .ok()
            .and_then(|bytes| String::from_utf8(bytes).ok())
            .ok_or_else(|| unauthenticated("forwarded identity is malformed"))?;
        if self.sign(&payload) != signature {
            return Err(unauthenticated("forwarded identity has a bad signature"));
        }
        serde_json::from_str(&payload).map_err(|_| unauthenticated("forwarded identity is malformed"))
    }
}

/// Returns the principal a request carries in its extensions (set by the gateway's
/// authentication layer or by a service's identity layer), or UNAUTHENTICATED.
pub fn principal_of<T>(request: &tonic::Request<T>) -> Result<Principal, ServiceError> {
    request
        .extensions()
        .get::<Principal>()
        .cloned()
        .ok_or_else(|| ServiceError::new(ErrorCode::Unauthenticated, "the request carries no credentials"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn principal() -> Principal {
        Principal {
            id: "key:abc".into(),
            kind: PrincipalKind::ApiKey,
            organisation: "RBL".into(),
            roles: vec![Role::Submitter, Role::Reader],
            key_id: Some("abc".into()),
            display_name: "pipeline".into(),
        }
    }

    #[test]
    fn a_signed_principal_round_trips() {
        let codec = PrincipalCodec::new("secret");
        let mut metadata = tonic::metadata::MetadataMap::new();
        codec.insert(&principal(), &mut metadata);
        assert_eq!(codec.extract(&metadata).expect("valid"), principal());
    }

    #[test]
    fn a_principal_signed_with_another_token_is_refused() {
        let mut metadata = tonic::metadata::MetadataMap::new();
        PrincipalCodec::new("other").insert(&principal(), &mut metadata);
        let err = PrincipalCodec::new("secret").extract(&metadata).unwrap_err();
        assert_eq!(err.code, ErrorCode::Unauthenticated);
    }

    #[test]
    fn a_tampered_principal_is_refused() {
        let codec = PrincipalCodec::new("secret");
        let mut metadata = tonic::metadata::MetadataMap::new();
        codec.insert(&principal(), &mut metadata);
        let mut forged = principal();
        forged.roles.push(Role::National);
        let payload = hex::encode(serde_json::to_string(&forged).unwrap());
        metadata.insert(PRINCIPAL_METADATA_KEY, payload.parse().unwrap());
        assert!(codec.extract(&metadata).is_err());
    }

    #[test]
    fn role_names_round_trip() {
        for role in Role::ALL {
            assert_eq!(Role::from_name(role.name()), Some(role));
        }
    }
}

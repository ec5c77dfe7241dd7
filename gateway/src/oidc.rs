//! People signing in with OIDC bearer tokens (DESIGN.md §6; NHS organisations use Microsoft
//! Entra ID). A token is accepted only when it is signed by a key in the issuer's JWKS, names the
//! configured issuer exactly, includes the configured audience, and is within its validity
//! period (with a small leeway); the organisation and roles come from configured claims.
//! Signing keys are fetched on first use and again when a token names a key id not seen yet
//! (issuers rotate keys), at most once per [`REFRESH_AT_MOST_EVERY`].

use std::sync::Arc;
use std::time::{Duration, Instant};

use http_body_util::{BodyExt, Empty};
use jsonwebtoken::jwk::JwkSet;
use jsonwebtoken::{DecodingKey, Validation, decode, decode_header};
use sharedmetrics_access::{Principal, PrincipalKind, Role};
use sharedmetrics_config::OidcConfig;
use sharedmetrics_error::{ErrorCode, ServiceError, ServiceResult};
use tokio::sync::RwLock;

/// Keys are re-read at least this often, so a revoked key stops working.
const KEYS_MAX_AGE: Duration = Duration::from_secs(600);
/// An unknown key id triggers a re-read at most this often, so forged key ids cannot flood the issuer.
const REFRESH_AT_MOST_EVERY: Duration = Duration::from_secs(30);
/// How long a JWKS or discovery fetch may take.
const FETCH_TIMEOUT: Duration = Duration::from_secs(10);

type Client = hyper_util::client::legacy::Client<
    hyper_rustls::HttpsConnector<hyper_util::client::legacy::connect::HttpConnector>,
    Empty<bytes::Bytes>,
>;

/// Verifies OIDC bearer tokens against one issuer.
pub struct OidcVerifier {
    config: OidcConfig,
    client: Client,
    keys: RwLock<Option<(Instant, Arc<JwkSet>)>>,
}

fn refused(why: impl Into<String>) -> ServiceError {
    ServiceError::new(ErrorCode::Unauthenticated, why.into())
}

impl OidcVerifier {
    /// Returns a verifier for the configured issuer, or none when OIDC is not configured.
    pub fn new(config: &OidcConfig) -> Option<Self> {
        if config.issuer.is_empty() {
            return None;
        }
        let https =
            hyper_rustls::HttpsConnectorBuilder::new().with_webpki_roots().https_or_http().enable_http1().build();
        let client = hyper_util::client::legacy::Client::builder(hyper_util::rt::TokioExecutor::new()).build(https);
        Some(Self { config: config.clone(), client, keys: RwLock::new(None) })
    }

    async fn get_json(&self, url: &str) -> ServiceResult<serde_json::Value> {
        let unavailable = |why: String| ServiceError::new(ErrorCode::Unavailable, why);
        let uri: http::Uri = url.parse().map_err(|_| unavailable(format!("OIDC URL {url:?} is not a URL")))?;
        let response = tokio::time::timeout(FETCH_TIMEOUT, self.client.get(uri))
            .await
            .map_err(|_| unavailable(format!("fetching {url} timed out")))?
            .map_err(|e| unavailable(format!("fetching {url} failed: {e}")))?;
        if !response.status().is_success() {
            return Err(unavailable(format!("fetching {url} answered {}", response.status())));
        }
        let body = response
            .into_body()
            .collect()
            .await
            .map_err(|e| unavailable(format!("reading {url} failed: {e}")))?
            .to_bytes();
        serde_json::from_slice(&body).map_err(|e| unavailable(format!("{url} is not JSON: {e}")))
    }

    async fn fetch_keys(&self) -> ServiceResult<Arc<JwkSet>> {
        let url = if self.config.jwks_url.is_empty() {
            let discovery = format!("{}/.well-known/openid-configuration", self.config.issuer.trim_end_matches('/'));
            let document = self.get_json(&discovery).await?;
            document["jwks_uri"]
                .as_str()
                .map(str::to_owned)
                .ok_or_else(|| ServiceError::new(ErrorCode::Unavailable, format!("{discovery} names no jwks_uri")))?
        } else {
            self.config.jwks_url.clone()
        };
        let set: JwkSet = serde_json::from_value(self.get_json(&url).await?)
            .map_err(|e| ServiceError::new(ErrorCode::Unavailable, format!("{url} is not a JWKS: {e}")))?;
        tracing::info!(keys = set.keys.len(), %url, "oidc signing keys loaded");
        Ok(Arc::new(set))
    }

    /// Returns the signing keys, re-reading them when stale or when `kid` is not among them.
    async fn keys_for(&self, kid: Option<&str>) -> ServiceResult<Arc<JwkSet>> {
        if let Some((at, keys)) = self.keys.read().await.as_ref() {
            let known = kid.is_none_or(|kid| keys.find(kid).is_some());
            if at.elapsed() < KEYS_MAX_AGE && (known || at.elapsed() < REFRESH_AT_MOST_EVERY) {
                return Ok(keys.clone());
            }
        }
        let mut guard = self.keys.write().await;
        if let Some((at, keys)) = guard.as_ref() {
            let known = kid.is_none_or(|kid| keys.find(kid).is_some());
            if at.elapsed() < REFRESH_AT_MOST_EVERY || (known && at.elapsed() < KEYS_MAX_AGE) {
                return Ok(keys.clone());
            }
        }
        let keys = self.fetch_keys().await?;
        *guard = Some((Instant::now(), keys.clone()));
        Ok(keys)
    }

    /// Returns the principal a token proves, or why it is refused.
    pub async fn verify(&self, token: &str) -> ServiceResult<Principal> {
        let header = decode_header(token).map_err(|e| refused(format!("the bearer token is not a JWT: {e}")))?;
        let keys = self.keys_for(header.kid.as_deref()).await?;
        let jwk = match &header.kid {
            Some(kid) => keys.find(kid),
            None => keys.keys.first(),
        }
        .ok_or_else(|| refused("the token's signing key is not one of the issuer's keys"))?;
        let key = DecodingKey::from_jwk(jwk).map_err(|e| refused(format!("the issuer's key is unusable: {e}")))?;
        let mut validation = Validation::new(header.alg);
        validation.set_issuer(&[self.config.issuer.as_str()]);
        validation.set_audience(&[self.config.audience.as_str()]);
        validation.set_required_spec_claims(&["exp", "iss", "aud", "sub"]);
        validation.leeway = self.config.leeway_seconds;
        validation.validate_nbf = true;
        let claims = decode::<serde_json::Value>(token, &key, &validation)
            .map_err(|e| {
                use jsonwebtoken::errors::ErrorKind;
                refused(match e.kind() {
                    ErrorKind::InvalidIssuer => "the token was issued by another issuer".to_owned(),
                    ErrorKind::InvalidAudience => "the token is for another audience".to_owned(),
                    ErrorKind::InvalidSignature => "the token's signature does not verify".to_owned(),
                    ErrorKind::ExpiredSignature => "the token has expired".to_owned(),
                    ErrorKind::ImmatureSignature => "the token is not valid yet".to_owned(),
                    ErrorKind::MissingRequiredClaim(claim) => format!("the token lacks the {claim} claim"),
                    other => format!("the token is invalid: {other:?}"),
                })
            })?
            .claims;
        self.principal(&claims)
    }

    fn principal(&self, claims: &serde_json::Value) -> ServiceResult<Principal> {
        let subject = claims["sub"].as_str().unwrap_or_default();
        let organisation = claims[&self.config.organisation_claim]
            .as_str()
            .filter(|o| !o.is_empty())
            .ok_or_else(|| refused(format!("the token carries no {} claim", self.config.organisation_claim)))?;
        // Roles as an array (Entra app roles) or a space-separated string; unknown names are
        // ignored rather than refused, since an issuer may carry roles of other applications.
        let names: Vec<String> = match &claims[&self.config.roles_claim] {
            serde_json::Value::Array(values) => values.iter().filter_map(|v| v.as_str().map(str::to_owned)).collect(),
            serde_json::Value::String(s) => s.split_whitespace().map(str::to_owned).collect(),
            _ => Vec::new(),
        };
        let mut roles: Vec<Role> = names.iter().filter_map(|n| Role::from_name(n)).collect();
        roles.sort();
        roles.dedup();
        let display_name = claims["name"].as_str().or(claims["preferred_username"].as_str()).unwrap_or(subject);
        Ok(Principal {
            id: format!("oidc:{}#{subject}", self.config.issuer),
            kind: PrincipalKind::User,
            organisation: organisation.to_owned(),
            roles,
            key_id: None,
            display_name: display_name.to_owned(),
        })
    }
}

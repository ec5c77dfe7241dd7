//! The platform's configuration: typed sections with defaults that run the embedded platform
//! with nothing set, overridden by a TOML file, overridden in turn by environment variables
//! `SHAREDMETRICS__SECTION__KEY` (the environment wins). The conventional variables
//! `DATABASE_URL`, `REDIS_URL` and `OTEL_EXPORTER_OTLP_ENDPOINT` are honoured as well, below the
//! `SHAREDMETRICS__` ones. [`Config::validate`] runs last and names the key at fault.

mod network;

pub use network::IpNetwork;

use std::fmt;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use figment::Figment;
use figment::providers::{Env, Format, Serialized, Toml};
use serde::{Deserialize, Serialize};

/// Why the configuration could not be loaded.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// A source could not be read or a value had the wrong type.
    #[error("configuration: {0}")]
    Load(#[from] Box<figment::Error>),
    /// A value was read but is not acceptable.
    #[error("configuration key {key}: {reason}")]
    Invalid {
        /// Dotted key, for example `database.url`.
        key: &'static str,
        /// What is wrong with it.
        reason: String,
    },
}

/// A string that never appears in logs or debug output (passwords in URLs, signing keys).
#[derive(Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Secret(String);

impl Secret {
    /// Wraps a secret value.
    pub fn new(value: impl Into<String>) -> Self {
        Self(value.into())
    }

    /// Returns the secret value, for the one place that needs it.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret(***)")
    }
}

/// The whole configuration.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct Config {
    /// Where the gateway listens.
    pub gateway: GatewayConfig,
    /// Where each service listens when split, and where the gateway reaches it.
    pub services: ServicesConfig,
    /// The relational store.
    pub database: DatabaseConfig,
    /// The shared cache and quota store.
    pub redis: RedisConfig,
    /// Reference data and the starter catalogue loaded on first start.
    pub reference_data: ReferenceDataConfig,
    /// What the embedded default creates on first start.
    pub bootstrap: BootstrapConfig,
    /// Logs, traces and the platform's own telemetry.
    pub telemetry: TelemetryConfig,
    /// Per-principal quotas and request size limits at the gateway.
    pub quotas: QuotaConfig,
    /// People signing in with OIDC bearer tokens; off unless an issuer is set.
    pub oidc: OidcConfig,
    /// The lifetime of API keys.
    pub api_keys: ApiKeyConfig,
}

/// API key lifetimes: every key expires, so a leaked key stops working by itself.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct ApiKeyConfig {
    /// The longest lifetime a key may be created with, in days; a key created without an
    /// expiry gets this one.
    pub max_lifetime_days: u32,
}

impl Default for ApiKeyConfig {
    fn default() -> Self {
        Self { max_lifetime_days: 365 }
    }
}

/// Per-principal quotas (a fixed one-minute window, in Redis when configured so every gateway
/// replica counts together) and request size limits.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct QuotaConfig {
    /// Requests one principal may make per minute; 0 disables the limit.
    pub requests_per_minute: u32,
    /// Observation rows one principal may submit per minute; 0 disables the limit.
    pub rows_per_minute: u64,
    /// Largest encoded gRPC message the gateway accepts, in bytes.
    pub max_message_bytes: usize,
}

impl Default for QuotaConfig {
    fn default() -> Self {
        Self { requests_per_minute: 6_000, rows_per_minute: 10_000_000, max_message_bytes: 4 * 1024 * 1024 }
    }
}

/// OIDC bearer tokens (for example Microsoft Entra ID): the issuer and audience a token must
/// name, where the signing keys are, and which claims carry the organisation and roles.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct OidcConfig {
    /// Issuer (`iss`) tokens must name exactly; empty disables OIDC.
    pub issuer: String,
    /// Audience (`aud`) tokens must include.
    pub audience: String,
    /// JWKS URL; empty means the `jwks_uri` of `<issuer>/.well-known/openid-configuration`.
    pub jwks_url: String,
    /// Claim holding the caller's organisation code (ODS or national body).
    pub organisation_claim: String,
    /// Claim holding the caller's roles (an array of role names).
    pub roles_claim: String,
    /// Clock skew allowed on `exp` and `nbf`, in seconds.
    pub leeway_seconds: u64,
}

impl Default for OidcConfig {
    fn default() -> Self {
        Self {
            issuer: String::new(),
            audience: "sharedmetrics".to_owned(),
            jwks_url: String::new(),
            organisation_claim: "organisation".to_owned(),
            roles_claim: "roles".to_owned(),
            leeway_seconds: 30,
        }
    }
}

/// Where the gateway listens.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct GatewayConfig {
    /// gRPC listen address.
    pub grpc_addr: SocketAddr,
    /// HTTP listen address (health, REST/JSON, telemetry).
    pub http_addr: SocketAddr,
    /// Deadline applied to a unary request that carries none, in milliseconds (streams get none).
    pub default_timeout_ms: u64,
    /// Requests served at once before new ones are refused with RESOURCE_EXHAUSTED.
    pub max_concurrent_requests: usize,
    /// Requests in flight in the whole process, over every connection and both doors (gRPC and
    /// REST), before new ones are refused with RESOURCE_EXHAUSTED.
    pub max_in_flight_requests: usize,
    /// Deadlines of particular RPCs, in milliseconds, by method name (`CompareAreas`) or full
    /// name (`sharedmetrics.benchmarking.v1.BenchmarkingService/CompareAreas`); they replace the
    /// default for unary calls and give a streaming RPC a deadline it would otherwise not have.
    pub rpc_timeouts_ms: std::collections::BTreeMap<String, u64>,
    /// Origins (`https://host[:port]`) whose web pages may call the API from a browser (CORS, on
    /// the REST side and gRPC-web of both ports); `*` allows any. Empty: the platform's own
    /// origin only (the dashboard), as browsers enforce without CORS headers.
    pub cors_allowed_origins: Vec<String>,
    /// Milliseconds an HTTP/1 client of the HTTP port has to send a request's headers (timed
    /// from the connection's start or its previous answer, so an idle keep-alive connection is
    /// closed after it too) before its connection is closed. 0 disables.
    pub http_header_read_timeout_ms: u64,
    /// Milliseconds a request body on the HTTP port may bring no bytes while the server waits
    /// for more before the request is answered 408 and its connection closed. 0 disables.
    pub http_body_idle_timeout_ms: u64,
    /// Milliseconds a streaming call's client may send nothing while the server waits for its
    /// next message (StreamObservations between chunks) before the call is ended with
    /// DEADLINE_EXCEEDED; the unfinished stream stores nothing. 0 disables.
    pub grpc_stream_idle_timeout_ms: u64,
    /// Interval of the HTTP/2 pings the gRPC servers send to check a connection's peer is still
    /// there, in milliseconds; 0 sends none.
    pub http2_keepalive_interval_ms: u64,
    /// Milliseconds a ping may go unanswered before its connection (and every call on it) is
    /// closed.
    pub http2_keepalive_timeout_ms: u64,
    /// Peers (addresses or networks: `10.0.0.7`, `10.0.0.0/8`, `fd00::/8`) trusted to say in
    /// `X-Forwarded-For` whom they forward for; every other peer's own address is the client's.
    /// Empty: `X-Forwarded-For` is never read.
    pub trusted_proxies: Vec<String>,
    /// Throttling of failed authentications per key id and per client address.
    pub auth_throttle: AuthThrottleConfig,
}

/// Failed authentications tolerated per API key id and per client address: past
/// `max_failures` within `window_seconds` of the first, further attempts from that key id or
/// address are refused with RESOURCE_EXHAUSTED without checking the secret, until the window
/// ends. Counted in each gateway process.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct AuthThrottleConfig {
    /// Failed authentications allowed per key id, and per client address, in one window; 0
    /// disables the throttle.
    pub max_failures: u32,
    /// Length of the window, in seconds, from the first failure it counts.
    pub window_seconds: u64,
}

impl Default for AuthThrottleConfig {
    fn default() -> Self {
        Self { max_failures: 10, window_seconds: 60 }
    }
}

impl Default for GatewayConfig {
    fn default() -> Self {
        Self {
            grpc_addr: ([127, 0, 0, 1], 50051).into(),
            http_addr: ([127, 0, 0, 1], 8080).into(),
            default_timeout_ms: 30_000,
            max_concurrent_requests: 1024,
            max_in_flight_requests: 4096,
            rpc_timeouts_ms: Default::default(),
            cors_allowed_origins: Vec::new(),
            http_header_read_timeout_ms: 10_000,
            http_body_idle_timeout_ms: 30_000,
            grpc_stream_idle_timeout_ms: 60_000,
            http2_keepalive_interval_ms: 60_000,
            http2_keepalive_timeout_ms: 20_000,
            trusted_proxies: Vec::new(),
            auth_throttle: AuthThrottleConfig::default(),
        }
    }
}

impl GatewayConfig {
    /// Returns the trusted proxies as networks ([`Config::validate`] has refused malformed
    /// entries; any left unvalidated are skipped, so they trust nobody).
    pub fn trusted_proxy_networks(&self) -> Vec<IpNetwork> {
        self.trusted_proxies.iter().filter_map(|p| p.parse().ok()).collect()
    }
}

/// One service's listen address (when it runs as its own process) and the URL the gateway uses.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ServiceEndpoint {
    /// gRPC listen address of the service when it runs on its own.
    pub listen_addr: SocketAddr,
    /// URL the gateway calls when the service is not in its process.
    pub url: String,
}

impl ServiceEndpoint {
    fn local(port: u16) -> Self {
        Self { listen_addr: ([127, 0, 0, 1], port).into(), url: format!("http://127.0.0.1:{port}") }
    }
}

/// Endpoints of the four domain services.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct ServicesConfig {
    /// The definitions service.
    pub definitions: ServiceEndpoint,
    /// The submissions service.
    pub submissions: ServiceEndpoint,
    /// The benchmarking service.
    pub benchmarking: ServiceEndpoint,
    /// The commitments service.
    pub commitments: ServiceEndpoint,
    /// Shared secret the gateway signs forwarded identities with; services refuse unsigned ones.
    pub internal_token: Secret,
}

impl Default for ServicesConfig {
    fn default() -> Self {
        Self {
            definitions: ServiceEndpoint::local(50061),
            submissions: ServiceEndpoint::local(50062),
            benchmarking: ServiceEndpoint::local(50063),
            commitments: ServiceEndpoint::local(50064),
            internal_token: Secret::default(),
        }
    }
}

/// The relational store.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct DatabaseConfig {
    /// `postgres://…` or `sqlite://path?mode=rwc`; may hold a password, so it is a secret.
    pub url: Secret,
    /// Pool size.
    pub max_connections: u32,
    /// Runs migrations when a service starts (they always run under `sharedmetrics migrate`).
    pub migrate_on_start: bool,
    /// How long a request waits for a pooled connection (or for a new one to open) before it
    /// fails UNAVAILABLE: short, so a stopped database costs a client seconds, not a hang.
    pub acquire_timeout_ms: u64,
    /// How often the background health check asks the database `SELECT 1`; readiness answers
    /// from its last result at once.
    pub health_interval_ms: u64,
}

impl Default for DatabaseConfig {
    fn default() -> Self {
        Self {
            url: Secret::new("sqlite://data/sharedmetrics.db?mode=rwc"),
            max_connections: 10,
            migrate_on_start: true,
            acquire_timeout_ms: 2_000,
            health_interval_ms: 500,
        }
    }
}

impl DatabaseConfig {
    /// Returns whether the store is SQLite (the embedded default).
    pub fn is_sqlite(&self) -> bool {
        self.url.expose().starts_with("sqlite:")
    }
}

/// The shared cache and quota store; without a URL the platform uses in-process equivalents.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct RedisConfig {
    /// `redis://host:port/db`, or none for the in-process fallback.
    pub url: Option<Secret>,
    /// Prefix of every key, so several deployments (or test runs) can share one Redis.
    pub key_prefix: String,
    /// How long one connection attempt may take before Redis counts as down.
    pub connect_timeout_ms: u64,
    /// How long one command may take before Redis counts as down.
    pub command_timeout_ms: u64,
    /// While Redis is down, how often one request probes it again (the others use the
    /// in-process fallback at once).
    pub probe_interval_ms: u64,
}

impl Default for RedisConfig {
    fn default() -> Self {
        Self {
            url: None,
            key_prefix: String::new(),
            connect_timeout_ms: 250,
            command_timeout_ms: 500,
            probe_interval_ms: 1_000,
        }
    }
}

/// Reference data and the starter catalogue.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct ReferenceDataConfig {
    /// Folder holding newer `geography/` and `organisations/` files (see data/REFERENCE-DATA.md);
    /// empty (the default): the copies built into the binary.
    pub dir: PathBuf,
    /// Folder holding a newer `dimensions.json` and `metrics.json`; empty: built in.
    pub catalogue_dir: PathBuf,
    /// Folder holding newer versioned reference values (`real_living_wage.json`); empty: built in.
    pub values_dir: PathBuf,
    /// Imports the reference data and catalogue on start when the store has none.
    pub import_on_start: bool,
    /// Builds the benchmarking service's area hierarchy at start, in the background, rather than
    /// in the first request that needs it.
    pub preload: bool,
    /// The share of an acute trust's admissions (0 to 1) that puts an authority in its
    /// catchment, for submitting: the OHID files list shares as small as 0.0004%.
    pub catchment_min_share: f64,
}

impl Default for ReferenceDataConfig {
    fn default() -> Self {
        Self {
            // The binary carries its reference data: it starts from any folder.
            dir: PathBuf::new(),
            catalogue_dir: PathBuf::new(),
            values_dir: PathBuf::new(),
            import_on_start: true,
            preload: true,
            catchment_min_share: 0.01,
        }
    }
}

/// What the embedded default creates on first start.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct BootstrapConfig {
    /// Creates an admin API key when none exists, and prints it once.
    pub create_admin_key: bool,
    /// Organisation the admin key belongs to.
    pub admin_organisation: String,
    /// Writes the admin key to this file (mode 0600), its only copy: it is never printed or
    /// logged. `sharedmetrics serve` refuses to create the key when this is empty.
    pub admin_key_file: PathBuf,
    /// Days the admin key is valid for (at most `api_keys.max_lifetime_days`): long enough
    /// to create the organisations' own keys, then rotated (docs/access.md).
    pub admin_key_lifetime_days: u32,
}

impl Default for BootstrapConfig {
    fn default() -> Self {
        Self {
            create_admin_key: true,
            admin_organisation: "X24".to_owned(),
            admin_key_file: PathBuf::from("data/admin-api-key"),
            admin_key_lifetime_days: 90,
        }
    }
}

/// Log format.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum LogFormat {
    /// Human-readable lines.
    #[default]
    Pretty,
    /// One JSON object per line, for production.
    Json,
}

/// Logs, traces and telemetry.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct TelemetryConfig {
    /// `tracing` filter directives, for example `info,sqlx=warn`.
    pub log_filter: String,
    /// Log line format.
    pub log_format: LogFormat,
    /// OTLP gRPC endpoint for traces; none disables export.
    pub otlp_endpoint: Option<String>,
    /// Service name reported in traces.
    pub service_name: String,
}

impl Default for TelemetryConfig {
    fn default() -> Self {
        Self {
            log_filter: "info,sqlx=warn,sea_orm=warn,h2=warn,tower=warn,hyper=warn".to_owned(),
            log_format: LogFormat::Pretty,
            otlp_endpoint: None,
            service_name: "sharedmetrics".to_owned(),
        }
    }
}

impl Config {
    /// Loads defaults, then `file` if given, then the environment, and validates the result.
    pub fn load(file: Option<&Path>) -> Result<Self, ConfigError> {
        Self::from_figment(Self::figment(file))
    }

    /// Returns the layered sources, for callers that add their own (tests).
    pub fn figment(file: Option<&Path>) -> Figment {
        let mut figment = Figment::from(Serialized::defaults(Config::default()));
        if let Some(file) = file {
            figment = figment.merge(Toml::file_exact(file));
        }
        figment
            .merge(Env::raw().only(&["DATABASE_URL"]).map(|_| "database.url".into()))
            .merge(Env::raw().only(&["REDIS_URL"]).map(|_| "redis.url".into()))
            .merge(Env::raw().only(&["OTEL_EXPORTER_OTLP_ENDPOINT"]).map(|_| "telemetry.otlp_endpoint".into()))
            .merge(Env::prefixed("SHAREDMETRICS__").split("__"))
    }

    /// Extracts and validates a configuration from layered sources.
    pub fn from_figment(figment: Figment) -> Result<Self, ConfigError> {
        let config: Config = figment.extract().map_err(Box::new)?;
        config.validate()?;
        Ok(config)
    }

    /// Checks values that types alone cannot.
    pub fn validate(&self) -> Result<(), ConfigError> {
        let url = self.database.url.expose();
        if !(url.starts_with("sqlite:") || url.starts_with("postgres://") || url.starts_with("postgresql://")) {
            return Err(ConfigError::Invalid {
                key: "database.url",
                reason: "must start with sqlite:, postgres:// or postgresql://".to_owned(),
            });
        }
        if self.database.max_connections == 0 {
            return Err(ConfigError::Invalid {
                key: "database.max_connections",
                reason: "must be at least 1".to_owned(),
            });
        }
        for (key, value) in [
            ("database.acquire_timeout_ms", self.database.acquire_timeout_ms),
            ("database.health_interval_ms", self.database.health_interval_ms),
            ("redis.connect_timeout_ms", self.redis.connect_timeout_ms),
            ("redis.command_timeout_ms", self.redis.command_timeout_ms),
            ("redis.probe_interval_ms", self.redis.probe_interval_ms),
        ] {
            if value == 0 {
                return Err(ConfigError::Invalid { key, reason: "must be at least 1".to_owned() });
            }
        }
        if let Some(redis) = &self.redis.url
            && !(redis.expose().starts_with("redis://") || redis.expose().starts_with("rediss://"))
        {
            return Err(ConfigError::Invalid {
                key: "redis.url",
                reason: "must start with redis:// or rediss://".to_owned(),
            });
        }
        if self.api_keys.max_lifetime_days == 0 {
            return Err(ConfigError::Invalid {
                key: "api_keys.max_lifetime_days",
                reason: "must be at least 1".to_owned(),
            });
        }
        if self.bootstrap.admin_key_lifetime_days == 0
            || self.bootstrap.admin_key_lifetime_days > self.api_keys.max_lifetime_days
        {
            return Err(ConfigError::Invalid {
                key: "bootstrap.admin_key_lifetime_days",
                reason: format!(
                    "must be between 1 and api_keys.max_lifetime_days ({})",
                    self.api_keys.max_lifetime_days
                ),
            });
        }
        if !(0.0..=1.0).contains(&self.reference_data.catchment_min_share) {
            return Err(ConfigError::Invalid {
                key: "reference_data.catchment_min_share",
                reason: "must be a share between 0 and 1".to_owned(),
            });
        }
        if self.gateway.max_concurrent_requests == 0 {
            return Err(ConfigError::Invalid {
                key: "gateway.max_concurrent_requests",
                reason: "must be at least 1".to_owned(),
            });
        }
        if self.gateway.max_in_flight_requests == 0 {
            return Err(ConfigError::Invalid {
                key: "gateway.max_in_flight_requests",
                reason: "must be at least 1".to_owned(),
            });
        }
        for (i, origin) in self.gateway.cors_allowed_origins.iter().enumerate() {
            let host = origin.strip_prefix("https://").or_else(|| origin.strip_prefix("http://"));
            let valid = origin == "*"
                || host.is_some_and(|h| !h.is_empty() && !h.contains(['/', ' ', '?', '#']) && h.is_ascii());
            if !valid {
                return Err(ConfigError::Invalid {
                    key: "gateway.cors_allowed_origins",
                    reason: format!(
                        "entry {i} ({origin:?}) must be * or an origin: http(s)://host[:port], no path or trailing slash"
                    ),
                });
            }
        }
        for (i, proxy) in self.gateway.trusted_proxies.iter().enumerate() {
            if let Err(reason) = proxy.parse::<IpNetwork>() {
                return Err(ConfigError::Invalid {
                    key: "gateway.trusted_proxies",
                    reason: format!("entry {i}: {reason}; expected an address (10.0.0.7) or a network (10.0.0.0/8)"),
                });
            }
        }
        if self.gateway.http2_keepalive_interval_ms > 0 && self.gateway.http2_keepalive_timeout_ms == 0 {
            return Err(ConfigError::Invalid {
                key: "gateway.http2_keepalive_timeout_ms",
                reason: "must be at least 1 while http2_keepalive_interval_ms is set".to_owned(),
            });
        }
        if self.gateway.auth_throttle.max_failures > 0 && self.gateway.auth_throttle.window_seconds == 0 {
            return Err(ConfigError::Invalid {
                key: "gateway.auth_throttle.window_seconds",
                reason: "must be at least 1 while max_failures is set".to_owned(),
            });
        }
        Ok(())
    }
}

/// A role this process plays; `All` expands to every role (DESIGN.md §2).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Target {
    /// Every role in one process; the gateway calls the services in process.
    All,
    /// The public gRPC and HTTP endpoint.
    Gateway,
    /// The definitions service.
    Definitions,
    /// The submissions service.
    Submissions,
    /// The benchmarking service.
    Benchmarking,
    /// The commitments service.
    Commitments,
}

impl Target {
    /// The roles `All` stands for.
    pub const ROLES: [Target; 5] =
        [Target::Gateway, Target::Definitions, Target::Submissions, Target::Benchmarking, Target::Commitments];

    /// Returns the lowercase name used on the command line.
    pub fn name(self) -> &'static str {
        match self {
            Target::All => "all",
            Target::Gateway => "gateway",
            Target::Definitions => "definitions",
            Target::Submissions => "submissions",
            Target::Benchmarking => "benchmarking",
            Target::Commitments => "commitments",
        }
    }

    /// Expands a list of targets into the distinct roles it names.
    pub fn expand(targets: &[Target]) -> Vec<Target> {
        let mut roles: Vec<Target> =
            targets.iter().flat_map(|t| if *t == Target::All { Target::ROLES.to_vec() } else { vec![*t] }).collect();
        roles.sort();
        roles.dedup();
        roles
    }
}

impl std::str::FromStr for Target {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        [Target::All].into_iter().chain(Target::ROLES).find(|t| t.name() == s).ok_or_else(|| {
            format!(
                "unknown target {s:?}; expected all, gateway, definitions, submissions, benchmarking or commitments"
            )
        })
    }
}

#[cfg(test)]
// figment's Jail returns its own (large) error type; that is its API, not ours.
#[allow(clippy::result_large_err)]
mod tests {
    use super::*;
    use figment::Jail;

    #[test]
    fn defaults_run_the_embedded_platform() {
        Jail::expect_with(|_| {
            let config = Config::load(None).expect("defaults are valid");
            assert_eq!(config.gateway.grpc_addr.to_string(), "127.0.0.1:50051");
            assert_eq!(config.gateway.http_addr.to_string(), "127.0.0.1:8080");
            assert!(config.database.is_sqlite());
            assert!(config.redis.url.is_none());
            Ok(())
        });
    }

    #[test]
    fn environment_overrides_file_which_overrides_defaults() {
        Jail::expect_with(|jail| {
            jail.create_file("sm.toml", "[gateway]\ngrpc_addr = \"127.0.0.1:6000\"\nhttp_addr = \"127.0.0.1:6001\"\n")?;
            jail.set_env("SHAREDMETRICS__GATEWAY__GRPC_ADDR", "127.0.0.1:7000");
            jail.set_env("DATABASE_URL", "postgres://postgres@127.0.0.1/x");
            let config = Config::load(Some(Path::new("sm.toml"))).expect("valid");
            assert_eq!(config.gateway.grpc_addr.to_string(), "127.0.0.1:7000");
            assert_eq!(config.gateway.http_addr.to_string(), "127.0.0.1:6001");
            assert_eq!(config.database.url.expose(), "postgres://postgres@127.0.0.1/x");
            Ok(())
        });
    }

    #[test]
    fn prefixed_variable_wins_over_conventional_one() {
        Jail::expect_with(|jail| {
            jail.set_env("DATABASE_URL", "postgres://a@127.0.0.1/x");
            jail.set_env("SHAREDMETRICS__DATABASE__URL", "postgres://b@127.0.0.1/y");
            let config = Config::load(None).expect("valid");
            assert_eq!(config.database.url.expose(), "postgres://b@127.0.0.1/y");
            Ok(())
        });
    }

    #[test]
    fn invalid_values_name_their_key() {
        Jail::expect_with(|jail| {
            jail.set_env("SHAREDMETRICS__DATABASE__URL", "mysql://x");
            let err = Config::load(None).unwrap_err();
            assert!(err.to_string().starts_with("configuration key database.url"), "{err}");
            Ok(())
        });
    }

    #[test]
    fn cors_origins_load_from_the_environment_and_malformed_ones_are_named() {
        Jail::expect_with(|jail| {
            jail.set_env("SHAREDMETRICS__GATEWAY__CORS_ALLOWED_ORIGINS", r#"["https://app.example.nhs.uk", "*"]"#);
            let config = Config::load(None).expect("valid");
            assert_eq!(config.gateway.cors_allowed_origins, ["https://app.example.nhs.uk", "*"]);
            jail.set_env(
                "SHAREDMETRICS__GATEWAY__CORS_ALLOWED_ORIGINS",
                r#"["https://a.example", "https://b.example/"]"#,
            );
            let err = Config::load(None).unwrap_err().to_string();
            assert!(err.starts_with("configuration key gateway.cors_allowed_origins"), "{err}");
            assert!(err.contains("entry 1"), "the entry at fault is named: {err}");
            Ok(())
        });
    }

    #[test]
    fn auth_throttle_and_trusted_proxies_load_from_the_environment() {
        Jail::expect_with(|jail| {
            let config = Config::load(None).expect("defaults are valid");
            assert_eq!(config.gateway.auth_throttle, AuthThrottleConfig { max_failures: 10, window_seconds: 60 });
            assert!(config.gateway.trusted_proxies.is_empty(), "X-Forwarded-For is trusted from nobody by default");
            assert_eq!(config.gateway.grpc_stream_idle_timeout_ms, 60_000);
            jail.set_env("SHAREDMETRICS__GATEWAY__AUTH_THROTTLE__MAX_FAILURES", "3");
            jail.set_env("SHAREDMETRICS__GATEWAY__GRPC_STREAM_IDLE_TIMEOUT_MS", "500");
            jail.set_env("SHAREDMETRICS__GATEWAY__TRUSTED_PROXIES", r#"["10.0.0.0/8", "192.0.2.7"]"#);
            let config = Config::load(None).expect("valid");
            assert_eq!(config.gateway.auth_throttle.max_failures, 3);
            assert_eq!(config.gateway.auth_throttle.window_seconds, 60);
            assert_eq!(config.gateway.grpc_stream_idle_timeout_ms, 500);
            assert_eq!(config.gateway.trusted_proxy_networks().len(), 2);
            jail.set_env("SHAREDMETRICS__GATEWAY__TRUSTED_PROXIES", r#"["10.0.0.0/8", "10.0.0.0/33"]"#);
            let err = Config::load(None).unwrap_err().to_string();
            assert!(err.starts_with("configuration key gateway.trusted_proxies"), "{err}");
            assert!(err.contains("entry 1"), "the entry at fault is named: {err}");
            Ok(())
        });
    }

    #[test]
    fn networks_contain_their_addresses_only() {
        let ip = |s: &str| s.parse::<std::net::IpAddr>().unwrap();
        let network: IpNetwork = "10.1.0.0/16".parse().unwrap();
        assert!(network.contains(ip("10.1.255.3")));
        assert!(!network.contains(ip("10.2.0.1")));
        assert!(network.contains(ip("::ffff:10.1.0.9")), "an IPv4-mapped address is its IPv4 address");
        let one: IpNetwork = "192.0.2.7".parse().unwrap();
        assert!(one.contains(ip("192.0.2.7")) && !one.contains(ip("192.0.2.8")));
        let everyone: IpNetwork = "0.0.0.0/0".parse().unwrap();
        assert!(everyone.contains(ip("203.0.113.1")) && !everyone.contains(ip("2001:db8::1")));
        let v6: IpNetwork = "fd00::/8".parse().unwrap();
        assert!(v6.contains(ip("fd12::1")) && !v6.contains(ip("fe80::1")));
        assert!("not-an-ip".parse::<IpNetwork>().is_err());
        assert!("::/129".parse::<IpNetwork>().is_err());
    }

    #[test]
    fn http_port_timeouts_default_and_load_from_the_environment() {
        Jail::expect_with(|jail| {
            let config = Config::load(None).expect("defaults are valid");
            assert_eq!(config.gateway.http_header_read_timeout_ms, 10_000);
            assert_eq!(config.gateway.http_body_idle_timeout_ms, 30_000);
            jail.set_env("SHAREDMETRICS__GATEWAY__HTTP_HEADER_READ_TIMEOUT_MS", "500");
            jail.set_env("SHAREDMETRICS__GATEWAY__HTTP_BODY_IDLE_TIMEOUT_MS", "0");
            let config = Config::load(None).expect("valid");
            assert_eq!(config.gateway.http_header_read_timeout_ms, 500);
            assert_eq!(config.gateway.http_body_idle_timeout_ms, 0);
            Ok(())
        });
    }

    #[test]
    fn secrets_never_print() {
        let config = DatabaseConfig { url: Secret::new("postgres://u:hunter2@h/db"), ..Default::default() };
        assert!(!format!("{config:?}").contains("hunter2"));
    }

    #[test]
    fn all_expands_to_every_role_once() {
        assert_eq!(Target::expand(&[Target::All, Target::Gateway]), Target::ROLES.to_vec());
        assert_eq!("submissions".parse::<Target>(), Ok(Target::Submissions));
        assert!("web".parse::<Target>().is_err());
    }
}

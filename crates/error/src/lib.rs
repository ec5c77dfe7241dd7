//! The platform's error vocabulary: one closed table of codes (the proto `ErrorReason` enum),
//! each mapped once to a gRPC code and an HTTP status, and [`ServiceError`], the error every
//! service returns. The single `From<ServiceError> for Status` attaches a `google.rpc.ErrorInfo`
//! with the stable reason and a `BadRequest` with per-field violations; the reverse conversion
//! lets a remote client hand back exactly the error the service raised.

use std::collections::{BTreeMap, HashMap};
use std::fmt;

pub use sharedmetrics_proto::sharedmetrics::common::v1::ErrorReason as ErrorCode;
use tonic::{Code, Status};
use tonic_types::{ErrorDetails, StatusExt};

/// The `google.rpc.ErrorInfo.domain` of every error the platform raises.
pub const ERROR_DOMAIN: &str = "sharedmetrics.uk";

/// The `ErrorInfo.metadata` key giving, on RESOURCE_EXHAUSTED, the whole seconds to wait before
/// retrying (the REST side sends it as `Retry-After`, the gRPC side as `retry-after` metadata).
pub const RETRY_AFTER_METADATA_KEY: &str = "retry_after_seconds";

/// The `ErrorInfo.metadata` key naming the authorization rule that refused a call.
pub const RULE_METADATA_KEY: &str = "rule";

/// Returns the gRPC status code of an error code.
pub fn grpc_code(code: ErrorCode) -> Code {
    match code {
        ErrorCode::InvalidArgument | ErrorCode::UnknownReference | ErrorCode::InvalidPeriod => Code::InvalidArgument,
        ErrorCode::NotFound => Code::NotFound,
        ErrorCode::AlreadyExists | ErrorCode::IdempotencyConflict => Code::AlreadyExists,
        ErrorCode::Unauthenticated => Code::Unauthenticated,
        ErrorCode::PermissionDenied => Code::PermissionDenied,
        ErrorCode::FailedPrecondition => Code::FailedPrecondition,
        ErrorCode::ResourceExhausted => Code::ResourceExhausted,
        ErrorCode::Unimplemented => Code::Unimplemented,
        ErrorCode::Unavailable => Code::Unavailable,
        ErrorCode::DeadlineExceeded => Code::DeadlineExceeded,
        ErrorCode::Internal | ErrorCode::Unspecified => Code::Internal,
    }
}

/// Returns the HTTP status of an error code, for the REST side.
pub fn http_status(code: ErrorCode) -> u16 {
    match code {
        ErrorCode::InvalidArgument | ErrorCode::UnknownReference | ErrorCode::InvalidPeriod => 400,
        ErrorCode::Unauthenticated => 401,
        ErrorCode::PermissionDenied => 403,
        ErrorCode::NotFound => 404,
        ErrorCode::AlreadyExists | ErrorCode::IdempotencyConflict => 409,
        ErrorCode::FailedPrecondition => 412,
        ErrorCode::ResourceExhausted => 429,
        ErrorCode::Unimplemented => 501,
        ErrorCode::Unavailable => 503,
        ErrorCode::DeadlineExceeded => 504,
        ErrorCode::Internal | ErrorCode::Unspecified => 500,
    }
}

/// Returns the stable reason string of a code: the proto enum name without its prefix.
pub fn reason(code: ErrorCode) -> &'static str {
    let name = code.as_str_name();
    name.strip_prefix("ERROR_REASON_").unwrap_or(name)
}

/// Returns the code whose stable reason string is `reason`, if any.
pub fn code_from_reason(reason: &str) -> Option<ErrorCode> {
    ErrorCode::from_str_name(&format!("ERROR_REASON_{reason}"))
}

/// A problem with one field of a request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FieldViolation {
    /// Dotted path of the field, for example `spec.dimensions[2]`.
    pub field: String,
    /// Stable reason, in the same vocabulary as [`ErrorCode`] or a finer one (`UNKNOWN_DIMENSION`).
    pub reason: String,
    /// What is wrong, for a person.
    pub description: String,
}

impl FieldViolation {
    /// Returns a violation of `field` with a stable reason and a description.
    pub fn new(field: impl Into<String>, reason: impl Into<String>, description: impl Into<String>) -> Self {
        Self { field: field.into(), reason: reason.into(), description: description.into() }
    }
}

/// The error every service operation returns: a code from the closed table, a message, and
/// the fields at fault when the input was.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub struct ServiceError {
    /// The stable code.
    pub code: ErrorCode,
    /// What went wrong, for a person; never contains secrets.
    pub message: String,
    /// Per-field problems, when the request was at fault.
    pub violations: Vec<FieldViolation>,
    /// Machine-readable facts about the error, carried as `google.rpc.ErrorInfo.metadata`
    /// (for example `rule`: the id of the authorization rule that refused).
    pub metadata: BTreeMap<String, String>,
}

impl fmt::Display for ServiceError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", reason(self.code), self.message)?;
        for v in &self.violations {
            write!(f, "; {}: {}", v.field, v.description)?;
        }
        Ok(())
    }
}

/// Shorthand for results of service operations.
pub type ServiceResult<T> = Result<T, ServiceError>;

impl ServiceError {
    /// Returns an error with a code and a message.
    pub fn new(code: ErrorCode, message: impl Into<String>) -> Self {
        Self { code, message: message.into(), violations: Vec::new(), metadata: BTreeMap::new() }
    }

    /// Returns an INVALID_ARGUMENT error listing the fields at fault.
    pub fn invalid(message: impl Into<String>, violations: Vec<FieldViolation>) -> Self {
        Self { code: ErrorCode::InvalidArgument, message: message.into(), violations, metadata: BTreeMap::new() }
    }

    /// Returns an INVALID_ARGUMENT error for one field.
    pub fn invalid_field(field: impl Into<String>, reason: impl Into<String>, description: impl Into<String>) -> Self {
        let violation = FieldViolation::new(field, reason, description);
        Self::invalid(violation.description.clone(), vec![violation])
    }

    /// Returns a NOT_FOUND error for a kind of resource and its key.
    pub fn not_found(kind: &str, key: &str) -> Self {
        Self::new(ErrorCode::NotFound, format!("{kind} {key:?} not found"))
    }

    /// Returns an ALREADY_EXISTS error for a kind of resource and its key.
    pub fn already_exists(kind: &str, key: &str) -> Self {
        Self::new(ErrorCode::AlreadyExists, format!("{kind} {key:?} already exists"))
    }

    /// Returns a PERMISSION_DENIED error with the reason the policy gave.
    pub fn permission_denied(message: impl Into<String>) -> Self {
        Self::new(ErrorCode::PermissionDenied, message)
    }

    /// Returns a FAILED_PRECONDITION error.
    pub fn failed_precondition(message: impl Into<String>) -> Self {
        Self::new(ErrorCode::FailedPrecondition, message)
    }

    /// Returns an INTERNAL error; the cause is logged here, not sent to the client.
    pub fn internal(context: &str, cause: impl fmt::Display) -> Self {
        tracing::error!(%cause, context, "internal error");
        Self::new(ErrorCode::Internal, format!("internal error while {context}"))
    }

    /// Returns an UNAVAILABLE error (a dependency could not be reached).
    pub fn unavailable(message: impl Into<String>) -> Self {
        Self::new(ErrorCode::Unavailable, message)
    }

    /// Returns the error with one more metadata entry.
    pub fn with_metadata(mut self, key: impl Into<String>, value: impl Into<String>) -> Self {
        self.metadata.insert(key.into(), value.into());
        self
    }

    /// Returns the id of the authorization rule that refused, when the policy refused.
    pub fn rule(&self) -> Option<&str> {
        self.metadata.get(RULE_METADATA_KEY).map(String::as_str)
    }

    /// Returns the gRPC status code of this error.
    pub fn grpc_code(&self) -> Code {
        grpc_code(self.code)
    }

    /// Returns the HTTP status of this error.
    pub fn http_status(&self) -> u16 {
        http_status(self.code)
    }
}

impl From<ServiceError> for Status {
    fn from(error: ServiceError) -> Self {
        let mut details = ErrorDetails::new();
        let details_metadata: HashMap<String, String> = error.metadata.into_iter().collect();
        details.set_error_info(reason(error.code), ERROR_DOMAIN, details_metadata.clone());
        if !error.violations.is_empty() {
            let violations: Vec<tonic_types::FieldViolation> = error
                .violations
                .iter()
                .map(|v| tonic_types::FieldViolation {
                    field: v.field.clone(),
                    description: v.description.clone(),
                    reason: v.reason.clone(),
                    localized_message: None,
                })
                .collect();
            details.set_bad_request(violations);
        }
        let mut status = Status::with_error_details(grpc_code(error.code), error.message, details);
        // A refusal that says when to retry says it where gRPC clients look too.
        if let Some(seconds) =
            metadata_retry_after(&details_metadata).and_then(|v| tonic::metadata::AsciiMetadataValue::try_from(v).ok())
        {
            status.metadata_mut().insert("retry-after", seconds);
        }
        status
    }
}

fn metadata_retry_after(metadata: &HashMap<String, String>) -> Option<&str> {
    metadata.get(RETRY_AFTER_METADATA_KEY).map(String::as_str)
}

impl From<Status> for ServiceError {
    /// Recovers the service's error from a status received over gRPC, so that a remote client
    /// returns what the local implementation would have.
    fn from(status: Status) -> Self {
        let details = status.get_error_details();
        let info = details.error_info().filter(|info| info.domain == ERROR_DOMAIN);
        let code =
            info.and_then(|info| code_from_reason(&info.reason)).unwrap_or_else(|| code_from_grpc(status.code()));
        let metadata = info.map(|info| info.metadata.clone().into_iter().collect()).unwrap_or_default();
        let violations = details
            .bad_request()
            .map(|bad| {
                bad.field_violations
                    .iter()
                    .map(|fv| FieldViolation::new(&fv.field, &fv.reason, &fv.description))
                    .collect()
            })
            .unwrap_or_default();
        Self { code, message: status.message().to_owned(), violations, metadata }
    }
}

/// Returns the closest code for a bare gRPC status (one raised by a transport, not a service).
fn code_from_grpc(code: Code) -> ErrorCode {
    match code {
        Code::InvalidArgument | Code::OutOfRange => ErrorCode::InvalidArgument,
        Code::NotFound => ErrorCode::NotFound,
        Code::AlreadyExists | Code::Aborted => ErrorCode::AlreadyExists,
        Code::PermissionDenied => ErrorCode::PermissionDenied,
        Code::Unauthenticated => ErrorCode::Unauthenticated,
        Code::FailedPrecondition => ErrorCode::FailedPrecondition,
        Code::ResourceExhausted => ErrorCode::ResourceExhausted,
        Code::Unimplemented => ErrorCode::Unimplemented,
        Code::Unavailable | Code::Cancelled => ErrorCode::Unavailable,
        Code::DeadlineExceeded => ErrorCode::DeadlineExceeded,
        Code::Ok | Code::Unknown | Code::Internal | Code::DataLoss => ErrorCode::Internal,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_code_round_trips_through_a_grpc_status() {
        for value in 1..=14 {
            let code = ErrorCode::try_from(value).expect("a declared reason");
            let error = ServiceError::invalid_field("spec.code", "BAD_CODE", "code is empty");
            let error = ServiceError { code, ..error }.with_metadata(RULE_METADATA_KEY, "define.not_owner");
            let back = ServiceError::from(Status::from(error.clone()));
            assert_eq!(back, error, "reason {}", reason(code));
        }
    }

    #[test]
    fn a_retry_after_travels_in_the_error_info_and_the_grpc_metadata() {
        let error =
            ServiceError::unavailable("the database cannot be reached").with_metadata(RETRY_AFTER_METADATA_KEY, "1");
        let status = Status::from(error.clone());
        assert_eq!(status.metadata().get("retry-after").and_then(|v| v.to_str().ok()), Some("1"));
        assert_eq!(ServiceError::from(status), error);
        assert!(Status::from(ServiceError::unavailable("x")).metadata().get("retry-after").is_none());
    }

    #[test]
    fn reasons_are_the_enum_names_without_prefix() {
        assert_eq!(reason(ErrorCode::InvalidPeriod), "INVALID_PERIOD");
        assert_eq!(code_from_reason("NOT_FOUND"), Some(ErrorCode::NotFound));
        assert_eq!(code_from_reason("NO_SUCH_REASON"), None);
    }

    #[test]
    fn client_mistakes_map_to_4xx_and_faults_to_5xx() {
        assert_eq!(http_status(ErrorCode::InvalidArgument), 400);
        assert_eq!(http_status(ErrorCode::ResourceExhausted), 429);
        assert_eq!(http_status(ErrorCode::Internal), 500);
        assert_eq!(grpc_code(ErrorCode::IdempotencyConflict), Code::AlreadyExists);
    }

    #[test]
    fn a_bare_transport_status_keeps_its_meaning() {
        let error = ServiceError::from(Status::unavailable("connection refused"));
        assert_eq!(error.code, ErrorCode::Unavailable);
        assert!(error.violations.is_empty());
    }
}

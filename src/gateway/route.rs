//! Routing, pure: turns the path after `/runtimes/` (an ARN URL-encoded as one segment, a raw ARN, a runtime
//! id or a bare runtime name) plus the `qualifier` into a runtime and an operation. No I/O.
use std::sync::Arc;

use super::{GatewayError, Runtime};

/// What the caller asked the runtime to do.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Operation {
    /// `POST …/invocations`
    Invocations,
    /// `GET …/ws`
    WebSocket,
    /// `POST …/stopruntimesession`
    StopSession,
    /// `GET …/invocations/.well-known/oauth-protected-resource` (RFC 9728)
    ResourceMetadata,
}

/// The path suffix of the protected-resource metadata document.
pub const METADATA_SUFFIX: &str = "/invocations/.well-known/oauth-protected-resource";

/// The endpoint every runtime has; it tracks the latest version.
pub const DEFAULT_QUALIFIER: &str = "DEFAULT";

/// Splits the (already percent-decoded) path tail into runtime reference and operation.
///
/// ```
/// use gatehouse::gateway::route::{parse_path, Operation};
/// let (r, op) = parse_path("arn:aws:bedrock-agentcore:us-east-1:000000000000:runtime/demo-abcdefghij/invocations").unwrap();
/// assert_eq!(r, "arn:aws:bedrock-agentcore:us-east-1:000000000000:runtime/demo-abcdefghij");
/// assert_eq!(op, Operation::Invocations);
/// ```
pub fn parse_path(tail: &str) -> Result<(&str, Operation), GatewayError> {
    let (runtime, op) = match tail.strip_suffix(METADATA_SUFFIX) {
        Some(runtime) => (runtime, Operation::ResourceMetadata),
        None => {
            let (runtime, op) = tail
                .rsplit_once('/')
                .ok_or(GatewayError::UnknownOperation)?;
            let op = match op {
                "invocations" => Operation::Invocations,
                "ws" => Operation::WebSocket,
                "stopruntimesession" => Operation::StopSession,
                _ => return Err(GatewayError::UnknownOperation),
            };
            (runtime, op)
        }
    };
    if runtime.is_empty() || runtime.len() > 2048 {
        return Err(GatewayError::RuntimeNotFound(String::new()));
    }
    Ok((runtime, op))
}

/// Routes a request path: `/runtimes/{reference}/{operation}`, the reference percent-decoded (an ARN arrives
/// URL-encoded as one segment), to the runtime it names and the operation. Anything outside `/runtimes/` is an
/// unknown operation; a reference that does not decode to UTF-8 is a validation error.
pub fn resolve(
    runtimes: &[Arc<Runtime>],
    path: &str,
) -> Result<(Arc<Runtime>, Operation), GatewayError> {
    let tail = path
        .strip_prefix("/runtimes/")
        .ok_or(GatewayError::UnknownOperation)?;
    let tail = percent_encoding::percent_decode_str(tail)
        .decode_utf8()
        .map_err(|_| {
            GatewayError::Validation("The request path is not valid percent-encoded UTF-8.")
        })?;
    let (reference, op) = parse_path(&tail)?;
    let runtime = find_runtime(runtimes, reference)
        .ok_or_else(|| GatewayError::RuntimeNotFound(reference.chars().take(256).collect()))?;
    Ok((Arc::clone(runtime), op))
}

/// The runtime a reference names: its full ARN, its runtime id (`name-xxxxxxxxxx`) or its name.
pub fn find_runtime<'a>(runtimes: &'a [Arc<Runtime>], reference: &str) -> Option<&'a Arc<Runtime>> {
    runtimes
        .iter()
        .find(|r| r.arn == reference || r.runtime_id() == reference || r.name == reference)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn operations_are_the_last_segment() {
        assert_eq!(
            parse_path("demo/invocations").unwrap(),
            ("demo", Operation::Invocations)
        );
        assert_eq!(
            parse_path("demo/ws").unwrap(),
            ("demo", Operation::WebSocket)
        );
        assert!(matches!(
            parse_path("demo/other"),
            Err(GatewayError::UnknownOperation)
        ));
        assert!(matches!(
            parse_path("invocations"),
            Err(GatewayError::UnknownOperation)
        ));
        assert!(parse_path("/invocations").is_err());
        assert_eq!(
            parse_path("demo/stopruntimesession").unwrap(),
            ("demo", Operation::StopSession)
        );
        assert_eq!(
            parse_path("demo/invocations/.well-known/oauth-protected-resource").unwrap(),
            ("demo", Operation::ResourceMetadata)
        );
    }
}

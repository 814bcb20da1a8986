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
    /// `GET …/invocations/.well-known/oauth-protected-resource` (RFC 9728), also at the path-suffixed
    /// `/.well-known/oauth-protected-resource/runtimes/{runtime}/invocations` MCP clients try first
    ResourceMetadata,
    /// `GET …/invocations/.well-known/agent-card.json` (AgentCore's `GetAgentCard`, A2A runtimes)
    AgentCard,
}

/// The path suffix of the protected-resource metadata document.
pub const METADATA_SUFFIX: &str = "/invocations/.well-known/oauth-protected-resource";

/// The path suffix of an A2A runtime's agent card.
pub const CARD_SUFFIX: &str = "/invocations/.well-known/agent-card.json";

/// The prefix of the path-suffixed protected-resource metadata (RFC 9728 §3.1) of a runtime.
pub const WELL_KNOWN_METADATA_PREFIX: &str = "/.well-known/oauth-protected-resource/runtimes/";

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
        None if tail.ends_with(CARD_SUFFIX) => (
            &tail[..tail.len() - CARD_SUFFIX.len()],
            Operation::AgentCard,
        ),
        None => {
            // AgentCore's A2A cards name `…/invocations/`: the same operation.
            let tail = tail
                .strip_suffix("/invocations/")
                .map_or(tail, |t| &tail[..t.len() + 12]);
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
    // RFC 9728's path-suffixed form names the resource's own path after the well-known prefix.
    let (tail, well_known) = match path.strip_prefix(WELL_KNOWN_METADATA_PREFIX) {
        Some(t) => (t, true),
        None => (
            path.strip_prefix("/runtimes/")
                .ok_or(GatewayError::UnknownOperation)?,
            false,
        ),
    };
    let tail = percent_encoding::percent_decode_str(tail)
        .decode_utf8()
        .map_err(|_| {
            GatewayError::Validation("The request path is not valid percent-encoded UTF-8.")
        })?;
    let (reference, op) = parse_path(&tail)?;
    let op = match (well_known, op) {
        (false, op) => op,
        (true, Operation::Invocations) => Operation::ResourceMetadata,
        (true, _) => return Err(GatewayError::UnknownOperation),
    };
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
        assert_eq!(
            parse_path("demo/invocations/.well-known/agent-card.json").unwrap(),
            ("demo", Operation::AgentCard)
        );
    }
}

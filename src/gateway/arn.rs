//! Runtime ARNs: a new runtime's ARN, and the one encoding of an ARN as a single path segment, as the AWS SDKs
//! send it. Pure; never decodes or validates (routing decodes, `route`).

/// RFC 3986 unreserved characters stay as they are, like Python's `quote(arn, safe='')` in the AWS SDKs.
const ARN_SEGMENT: &percent_encoding::AsciiSet = &percent_encoding::NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'.')
    .remove(b'_')
    .remove(b'~');

/// An ARN encoded as one URL path segment (`:` → `%3A`, `/` → `%2F`).
pub fn encode(arn: &str) -> String {
    percent_encoding::utf8_percent_encode(arn, ARN_SEGMENT).to_string()
}

/// The account id in the ARNs of a gatehouse installation.
pub const ACCOUNT_ID: &str = "000000000000";

/// `arn:aws:bedrock-agentcore:{region}:000000000000:runtime/{name}-{10 alnum}`.
pub fn candidate(region: &str, name: &str) -> String {
    format!(
        "arn:aws:bedrock-agentcore:{region}:{ACCOUNT_ID}:runtime/{name}-{}",
        crate::util::random_alnum(10)
    )
}

#[cfg(test)]
mod tests {
    use super::encode;

    #[test]
    fn an_arn_is_one_path_segment_as_the_sdks_send_it() {
        assert_eq!(
            encode("arn:aws:bedrock-agentcore:us-east-1:123456789012:runtime/demo-Ab_1.x~"),
            "arn%3Aaws%3Abedrock-agentcore%3Aus-east-1%3A123456789012%3Aruntime%2Fdemo-Ab_1.x~"
        );
    }
}

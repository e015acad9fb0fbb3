//! What the generated clients' `ClientHooks` impls do, written once.
//!
//! Hooks cannot return typed errors (progenitor's `pre`/`post` return `Error::Custom(String)`,
//! `exec` a `reqwest::Result`), so they only prepare and bound requests; classifying failures
//! is left to the caller (the `voiceclone` adapter).

use progenitor_client::OperationInfo;
use reqwest::header::AUTHORIZATION;

use crate::ClientConfig;

/// The header progenitor adds to every request; neither vendor documents it.
const API_VERSION: &str = "api-version";

/// Before sending: the bearer header, no `api-version` header, the operation's timeout.
pub fn prepare(config: &ClientConfig, request: &mut reqwest::Request, info: &OperationInfo) {
    let headers = request.headers_mut();
    headers.insert(AUTHORIZATION, config.authorization.clone());
    headers.remove(API_VERSION);
    *request.timeout_mut() = Some(config.timeout_for(info.operation_id));
}

/// Sends, and bounds the response body: reading more than the configured limit fails with a
/// body error whose source is [`BodyTooLarge`] (see [`is_body_too_large`]), so a hostile or
/// broken server cannot exhaust memory, on success and error statuses alike.
pub async fn execute(
    client: &reqwest::Client,
    config: &ClientConfig,
    request: reqwest::Request,
) -> reqwest::Result<reqwest::Response> {
    let response = client.execute(request).await?;
    Ok(limit_body(response, config.max_response_bytes()))
}

/// The body of `response`, failing once more than `limit` bytes arrive.
pub fn limit_body(response: reqwest::Response, limit: usize) -> reqwest::Response {
    let announced_too_large = response
        .content_length()
        .is_some_and(|n| n > u64::try_from(limit).unwrap_or(u64::MAX));
    let http: http::Response<reqwest::Body> = response.into();
    let (parts, body) = http.into_parts();
    let limit = if announced_too_large { 0 } else { limit };
    let limited = http_body_util::BodyExt::map_err(
        http_body_util::Limited::new(body, limit),
        |e| -> Box<dyn std::error::Error + Send + Sync> {
            if e.is::<http_body_util::LengthLimitError>() {
                Box::new(BodyTooLarge)
            } else {
                e
            }
        },
    );
    reqwest::Response::from(http::Response::from_parts(
        parts,
        reqwest::Body::wrap(limited),
    ))
}

/// The response body was larger than the client's limit; it was not read further.
#[derive(Debug, thiserror::Error)]
#[error("the response body is larger than the client's limit; it was not read further")]
pub struct BodyTooLarge;

/// True when `err` (or its sources) is a [`BodyTooLarge`].
pub fn is_body_too_large(err: &(dyn std::error::Error + 'static)) -> bool {
    let mut cur: Option<&(dyn std::error::Error + 'static)> = Some(err);
    while let Some(e) = cur {
        if e.is::<BodyTooLarge>() {
            return true;
        }
        cur = e.source();
    }
    false
}

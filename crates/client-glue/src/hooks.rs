//! What the generated clients' `ClientHooks` impls do, written once.
//!
//! Hooks cannot return typed errors (progenitor's `pre`/`post` return `Error::Custom(String)`,
//! `exec` a `reqwest::Result`), so they only prepare and bound requests; classifying failures
//! is left to the caller (the `voiceclone` adapter).

use progenitor_client::OperationInfo;
use reqwest::header::AUTHORIZATION;

use crate::ClientConfig;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn request_urls_append_to_the_base_path() {
        let Ok(c) = ClientConfig::bearer("k") else {
            unreachable!("a plain key is valid")
        };
        for (base, path, want) in [
            ("http://127.0.0.1:8080", "/a/b", "http://127.0.0.1:8080/a/b"),
            (
                "https://x.example/prefix",
                "/a/x%2Fy",
                "https://x.example/prefix/a/x%2Fy",
            ),
            (
                "https://x.example/prefix/",
                "/a",
                "https://x.example/prefix/a",
            ),
        ] {
            let url = request_url::<()>(base, &c, path).map(String::from);
            assert_eq!(url.ok().as_deref(), Some(want), "{base} {path}");
        }
        assert!(request_url::<()>("not a url", &c, "/a").is_err());
        // The same URL reqwest would have parsed from `format!("{base}{path}")`.
        for (base, path) in [
            ("http://127.0.0.1:1", "/x/%2e%2e/y"),
            ("http://localhost:9/p", "/a%20b/c"),
            ("https://h.example", "/a/%E4%BD%A0"),
        ] {
            let ours = request_url::<()>(base, &c, path).map(String::from).ok();
            let parsed = reqwest::Url::parse(&format!("{base}{path}"))
                .map(String::from)
                .ok();
            assert_eq!(ours, parsed, "{base} {path}");
        }
    }
}

/// Before sending: the bearer header and the operation's timeout. (progenitor's
/// `api-version` header is not generated: the xtask leaves it out.)
pub fn prepare(config: &ClientConfig, request: &mut reqwest::Request, info: &OperationInfo) {
    request
        .headers_mut()
        .insert(AUTHORIZATION, config.authorization.clone());
    *request.timeout_mut() = Some(config.timeout_for(info.operation_id));
}

/// The URL of a request: the client's base URL (parsed once) with `path` appended, as
/// `format!("{baseurl}{path}")` would give, without parsing the whole URL again on every call
/// (the xtask makes the generated methods call this; `path` is already percent-encoded).
// The error type is progenitor's, so that the generated methods can use `?` on it.
#[allow(clippy::result_large_err)]
pub fn request_url<E>(
    baseurl: &str,
    config: &ClientConfig,
    path: &str,
) -> Result<reqwest::Url, progenitor_client::Error<E>> {
    let Some(mut url) = config.parsed_base(baseurl) else {
        return Err(progenitor_client::Error::InvalidRequest(
            "the client's base URL does not parse".to_owned(),
        ));
    };
    let joined = format!("{}{path}", url.path().trim_end_matches('/'));
    url.set_path(&joined);
    Ok(url)
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
    let limit_u64 = u64::try_from(limit).unwrap_or(u64::MAX);
    // A body with a `Content-Length` within the limit cannot grow past it (hyper ends the
    // body at the announced length): nothing to wrap.
    if response.content_length().is_some_and(|n| n <= limit_u64) {
        return response;
    }
    let announced_too_large = response.content_length().is_some_and(|n| n > limit_u64);
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

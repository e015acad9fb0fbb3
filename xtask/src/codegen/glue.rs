//! The hand-written part every generated client gets, written once here: the `ClientHooks`
//! impl, the `Debug` without secrets, the operation table and the fallible constructor.

use crate::spec::Operation;

/// The leading path segments every operation shares, before its own last segment and any
/// `{parameter}`, as `/a/b` (empty when they share none).
fn route_root(operations: &[Operation]) -> String {
    let mut common: Option<Vec<&str>> = None;
    for op in operations {
        let mut segments: Vec<&str> = op.path.split('/').filter(|s| !s.is_empty()).collect();
        segments.pop();
        let fixed = segments.into_iter().take_while(|s| !s.contains('{'));
        common = Some(match common {
            None => fixed.collect(),
            Some(so_far) => so_far
                .into_iter()
                .zip(fixed)
                .take_while(|(a, b)| a == b)
                .map(|(a, _)| a)
                .collect(),
        });
    }
    common
        .unwrap_or_default()
        .iter()
        .map(|s| format!("/{s}"))
        .collect()
}

/// The name progenitor gives an operation's method (and its `OperationInfo::operation_id`).
pub fn rust_name(operation_id: &str) -> String {
    heck::ToSnakeCase::to_snake_case(operation_id)
}

/// The hand-written part every generated client gets, written once here: the hooks, the
/// operation table and the fallible constructor.
pub(super) fn glue(operations: &[Operation]) -> String {
    let rows: String = operations
        .iter()
        .map(|op| {
            format!(
                "    Operation {{ id: {:?}, rust_name: {:?}, method: {:?}, path: {:?} }},\n",
                op.id,
                rust_name(&op.id),
                op.method.to_uppercase(),
                op.path
            )
        })
        .collect();
    let timeouts: String = operations
        .iter()
        .filter_map(|op| {
            op.timeout_seconds.map(|secs| {
                format!(
                    "    ({:?}, std::time::Duration::from_secs({secs})),\n",
                    rust_name(&op.id)
                )
            })
        })
        .collect();
    let root = route_root(operations);
    format!(
        r#"
impl ClientHooks<::client_glue::ClientConfig> for Client {{
    async fn pre<E>(
        &self,
        request: &mut reqwest::Request,
        info: &OperationInfo,
    ) -> std::result::Result<(), Error<E>> {{
        ::client_glue::hooks::prepare(self.inner(), request, info);
        Ok(())
    }}

    async fn exec(
        &self,
        request: reqwest::Request,
        _info: &OperationInfo,
    ) -> reqwest::Result<reqwest::Response> {{
        ::client_glue::hooks::execute(self.client(), self.inner(), request).await
    }}
}}

/// The base URL without credentials or query (`client_glue::printable_url`): it may carry a
/// password or a token.
impl std::fmt::Debug for Client {{
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {{
        f.debug_struct("Client")
            .field("baseurl", &::client_glue::printable_url(&self.baseurl))
            .field("client", &self.client)
            .field("inner", &self.inner)
            .finish()
    }}
}}

/// One operation of the spec.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Operation {{
    /// The spec's `operationId`.
    pub id: &'static str,
    /// The generated method's name, also `OperationInfo::operation_id` in hooks.
    pub rust_name: &'static str,
    /// The HTTP method.
    pub method: &'static str,
    /// The path template.
    pub path: &'static str,
}}

/// The path every operation's route starts with (its leading segments in common): a base
/// URL goes before it and must not end with it.
pub const ROUTE_ROOT: &str = {root:?};

/// Every generated operation, in spec order.
pub const OPERATIONS: &[Operation] = &[
{rows}];

/// The operation whose method (or `OperationInfo::operation_id`) is `rust_name`.
pub fn operation(rust_name: &str) -> Option<&'static Operation> {{
    OPERATIONS.iter().find(|op| op.rust_name == rust_name)
}}

/// The operations (by method name) whose timeout is their own rather than
/// `client_glue::DEFAULT_TIMEOUT` (the spec's `x-voiceclone-timeout-seconds`); [`connect`] and
/// [`config`] give it them.
pub const OPERATION_TIMEOUTS: &[(&str, std::time::Duration)] = &[
{timeouts}];

/// The configuration [`connect`] uses: `client_glue::ClientConfig::bearer(api_key)` (the key
/// sent as `Authorization: Bearer`, and removed from every answer), 30 s per call except the
/// operations of [`OPERATION_TIMEOUTS`], bodies up to 4 MiB. Change it and pass it to
/// `Client::new_with_client`.
pub fn config(api_key: &str) -> std::result::Result<::client_glue::ClientConfig, ::client_glue::ConnectError> {{
    let mut config = ::client_glue::ClientConfig::bearer(api_key)?;
    for &(operation, timeout) in OPERATION_TIMEOUTS {{
        config = config.with_operation_timeout(operation, timeout);
    }}
    Ok(config)
}}

/// `config` with `timeout` for the operation whose method is `rust_name`, or
/// `client_glue::UnknownOperation` when this client has no such operation (a timeout kept
/// under a name no call uses would never apply).
pub fn with_operation_timeout(
    config: ::client_glue::ClientConfig,
    rust_name: &str,
    timeout: std::time::Duration,
) -> std::result::Result<::client_glue::ClientConfig, ::client_glue::UnknownOperation> {{
    config.try_with_operation_timeout(OPERATIONS.iter().map(|op| op.rust_name), rust_name, timeout)
}}

/// A client for `base_url` with [`config`]`(api_key)` (the key sent as
/// `Authorization: Bearer` and removed from every answer; 30 s per call except the
/// operations of [`OPERATION_TIMEOUTS`]; bodies up to 4 MiB) and `client_glue::http_client`
/// (no redirects). For other settings, change [`config`]'s result and use
/// `Client::new_with_client`.
pub fn connect(base_url: &str, api_key: &str) -> std::result::Result<Client, ::client_glue::ConnectError> {{
    Ok(Client::new_with_client(base_url, ::client_glue::http_client()?, config(api_key)?))
}}
"#
    )
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::panic)]
    use super::*;

    /// The route root is the leading segments every operation shares, before its last one
    /// and any parameter; the workspace's specs each have one (the adapter refuses a base URL
    /// ending in it: an empty root would switch that check off).
    #[test]
    fn the_route_root_is_what_every_route_starts_with() {
        let op = |path: &str| crate::spec::Operation {
            id: "x".into(),
            method: "get".into(),
            path: path.into(),
            timeout_seconds: None,
        };
        let root = |paths: &[&str]| route_root(&paths.iter().map(|p| op(p)).collect::<Vec<_>>());
        assert_eq!(root(&["/a/v1/x", "/a/v1/y/z"]), "/a/v1");
        assert_eq!(root(&["/a/v1/x", "/a/v2/y"]), "/a");
        assert_eq!(root(&["/a/{id}/x", "/a/{id}/y"]), "/a");
        assert_eq!(root(&["/x", "/a/y"]), "");
        assert_eq!(root(&[]), "");
        for (spec, want) in [
            ("specs/vmeg.yaml", "/openapi/v1"),
            ("specs/jimmyai.yaml", "/api/open-api/v1"),
        ] {
            let text = std::fs::read_to_string(crate::workspace_root().join(spec)).unwrap();
            let prepared = crate::codegen::prepare(spec, &text).unwrap();
            assert_eq!(route_root(&prepared.spec.operations), want, "{spec}");
        }
    }
}

//! Response helpers shared by both vendors: JSON answers, the 408 for a slow
//! body, the Bearer check.

use axum::body::Body;
use axum::http::{HeaderMap, HeaderValue, Response, StatusCode, header};
use serde_json::Value;

/// HTTP 408 with `body`, closing the connection (the rest of a slow body is
/// not waited for).
pub(crate) fn body_timeout(body: Value) -> Response<Body> {
    let mut r = json_response(408, &body);
    r.headers_mut()
        .insert(header::CONNECTION, HeaderValue::from_static("close"));
    r
}

/// `r`, closing the connection after it when `whole` is false (the request body was left
/// partly unread, see [`crate::wire::drain_stranger`]).
pub(crate) fn closing(whole: bool, mut r: Response<Body>) -> Response<Body> {
    if !whole {
        r.headers_mut()
            .insert(header::CONNECTION, HeaderValue::from_static("close"));
    }
    r
}

/// A JSON response with the given status.
pub(crate) fn json_response(status: u16, body: &Value) -> Response<Body> {
    let bytes = serde_json::to_vec(body).unwrap_or_else(|_| b"{}".to_vec());
    let mut r = Response::new(Body::from(bytes));
    *r.status_mut() = StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    r.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    r
}

/// Bearer token check.
pub(crate) fn bearer_ok(headers: &HeaderMap, key: &str) -> bool {
    let Some(v) = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
    else {
        return false;
    };
    let v = v.trim();
    let token = match v.split_once(' ') {
        Some((scheme, tok)) if scheme.eq_ignore_ascii_case("bearer") => tok.trim(),
        _ => return false,
    };
    !token.is_empty() && token == key
}

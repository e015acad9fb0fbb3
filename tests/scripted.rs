//! A loopback server of our own that answers from a script, one step per request, and records
//! every request. For what httpmock cannot express: a sequence (503, 503, 200), a hang past
//! the client's timeout, a dropped connection, a body that breaks off, a redirect.

use bytes::Bytes;
use http_body_util::combinators::BoxBody;
use http_body_util::{BodyExt, Full};
use hyper::body::Frame;
use hyper::service::service_fn;
use hyper::{Request, Response};
use hyper_util::rt::TokioIo;
use serde_json::Value;
use std::collections::VecDeque;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::Duration;

/// One scripted answer.
#[derive(Debug, Clone)]
pub enum Step {
    /// Answer with this status, extra headers and JSON body.
    Json(u16, Vec<(&'static str, String)>, Value),
    /// Answer with this status and a raw (possibly non-JSON) body.
    Raw(u16, &'static str),
    /// Answer with this status and these bytes as the body (possibly not UTF-8).
    Bytes(u16, Vec<u8>),
    /// Wait this long before answering 200 `{}` (for client timeouts).
    Hang(Duration),
    /// Wait this long, then answer 200 with this JSON body (a slow but good answer).
    Slow(Duration, Value),
    /// Wait this long, then answer with this status and JSON body (a slow refusal).
    Late(Duration, u16, Value),
    /// Close the connection without answering.
    Drop,
    /// Answer with this status and headers, send `part` of a longer body, then close the
    /// connection: the body breaks off before the `Content-Length` it announced (`announced`)
    /// or, with `None`, in the middle of its chunked encoding (no last chunk).
    Cut {
        status: u16,
        headers: Vec<(&'static str, String)>,
        part: &'static str,
        announced: Option<usize>,
    },
}

impl Step {
    pub fn ok(body: Value) -> Self {
        Step::Json(200, Vec::new(), body)
    }
    pub fn status(status: u16, body: Value) -> Self {
        Step::Json(status, Vec::new(), body)
    }
    /// `status`, then `part` of a body announced 100 bytes longer, then the connection closed.
    pub fn cut(status: u16, part: &'static str) -> Self {
        Step::Cut {
            status,
            headers: Vec::new(),
            part,
            announced: Some(part.len() + 100),
        }
    }
    /// `status`, then `part` as a chunk of a chunked body, then the connection closed before
    /// the last chunk.
    pub fn cut_chunked(status: u16, part: &'static str) -> Self {
        Step::Cut {
            status,
            headers: Vec::new(),
            part,
            announced: None,
        }
    }
    /// This step with one more header (a cut or a JSON answer; other steps are unchanged).
    pub fn with_header(mut self, name: &'static str, value: &str) -> Self {
        if let Step::Cut { headers, .. } | Step::Json(_, headers, _) = &mut self {
            headers.push((name, value.to_owned()));
        }
        self
    }
}

/// A request as the server saw it.
#[derive(Debug, Clone)]
pub struct Seen {
    pub method: String,
    pub path: String,
    pub query: String,
    pub headers: Vec<(String, String)>,
    pub body: Bytes,
}

impl Seen {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
    pub fn json(&self) -> Value {
        serde_json::from_slice(&self.body).unwrap_or(Value::Null)
    }
}

#[derive(Debug, Default)]
struct Shared {
    script: VecDeque<Step>,
    seen: Vec<Seen>,
}

/// The server; it stops when dropped.
#[derive(Debug)]
pub struct Scripted {
    pub base_url: String,
    shared: Arc<Mutex<Shared>>,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for Scripted {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl Scripted {
    /// Starts a server that plays `steps` in order; once they run out it answers 599.
    pub async fn start(steps: Vec<Step>) -> Self {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .unwrap_or_else(|e| panic!("bind: {e}"));
        let addr = listener
            .local_addr()
            .unwrap_or_else(|e| panic!("addr: {e}"));
        let shared = Arc::new(Mutex::new(Shared {
            script: steps.into(),
            seen: Vec::new(),
        }));
        let state = Arc::clone(&shared);
        let task = tokio::spawn(async move {
            while let Ok((stream, _)) = listener.accept().await {
                let state = Arc::clone(&state);
                tokio::spawn(async move {
                    let service = service_fn(move |req: Request<hyper::body::Incoming>| {
                        let state = Arc::clone(&state);
                        async move { answer(state, req).await }
                    });
                    let _ = hyper::server::conn::http1::Builder::new()
                        .serve_connection(TokioIo::new(stream), service)
                        .await;
                });
            }
        });
        Self {
            base_url: format!("http://{addr}"),
            shared,
            task,
        }
    }

    /// Every request received so far.
    pub fn seen(&self) -> Vec<Seen> {
        self.shared
            .lock()
            .map(|s| s.seen.clone())
            .unwrap_or_default()
    }

    /// Appends steps to the script.
    pub fn push(&self, steps: impl IntoIterator<Item = Step>) {
        if let Ok(mut s) = self.shared.lock() {
            s.script.extend(steps);
        }
    }
}

/// A body that sends its part, then fails, so that hyper closes the connection mid-body. It
/// stalls once between the two (waking itself at once): hyper flushes what it has written
/// before it polls the body again, so the part reaches the client before the close.
struct CutBody {
    part: Option<Bytes>,
    stalled: bool,
}

impl hyper::body::Body for CutBody {
    type Data = Bytes;
    type Error = std::io::Error;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, std::io::Error>>> {
        if let Some(part) = self.part.take() {
            return Poll::Ready(Some(Ok(Frame::data(part))));
        }
        if !self.stalled {
            self.stalled = true;
            cx.waker().wake_by_ref();
            return Poll::Pending;
        }
        Poll::Ready(Some(Err(std::io::Error::other("scripted cut"))))
    }
}

type Body = BoxBody<Bytes, std::io::Error>;

fn whole(body: Bytes) -> Body {
    Full::new(body).map_err(|never| match never {}).boxed()
}

async fn answer(
    state: Arc<Mutex<Shared>>,
    req: Request<hyper::body::Incoming>,
) -> Result<Response<Body>, std::io::Error> {
    let (parts, body) = req.into_parts();
    let body = body
        .collect()
        .await
        .map(|b| b.to_bytes())
        .unwrap_or_default();
    let seen = Seen {
        method: parts.method.to_string(),
        path: parts.uri.path().to_string(),
        query: parts.uri.query().unwrap_or_default().to_string(),
        headers: parts
            .headers
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_str().unwrap_or("<binary>").to_string()))
            .collect(),
        body,
    };
    let step = {
        let mut s = state
            .lock()
            .map_err(|_| std::io::Error::other("poisoned"))?;
        s.seen.push(seen);
        s.script.pop_front()
    };
    let (status, headers, body): (u16, Vec<(&'static str, String)>, Bytes) = match step {
        Some(Step::Cut {
            status,
            headers,
            part,
            announced,
        }) => {
            let mut resp = Response::builder()
                .status(status)
                .header("content-type", "application/json");
            for (k, v) in headers {
                resp = resp.header(k, v);
            }
            if let Some(len) = announced {
                resp = resp.header("content-length", len.to_string());
            }
            let body = CutBody {
                part: Some(Bytes::from_static(part.as_bytes())),
                stalled: false,
            };
            return resp.body(body.boxed()).map_err(std::io::Error::other);
        }
        Some(Step::Json(status, headers, body)) => (status, headers, body.to_string().into()),
        Some(Step::Raw(status, body)) => (status, Vec::new(), Bytes::from_static(body.as_bytes())),
        Some(Step::Bytes(status, body)) => (status, Vec::new(), Bytes::from(body)),
        Some(Step::Slow(d, body)) => {
            tokio::time::sleep(d).await;
            (200, Vec::new(), body.to_string().into())
        }
        Some(Step::Late(d, status, body)) => {
            tokio::time::sleep(d).await;
            (status, Vec::new(), body.to_string().into())
        }
        Some(Step::Hang(d)) => {
            tokio::time::sleep(d).await;
            (200, Vec::new(), Bytes::from_static(b"{}"))
        }
        // Returning an error makes hyper close the connection without a response.
        Some(Step::Drop) => return Err(std::io::Error::other("scripted drop")),
        None => (599, Vec::new(), Bytes::from_static(b"script exhausted")),
    };
    let mut resp = Response::builder()
        .status(status)
        .header("content-type", "application/json");
    for (k, v) in headers {
        resp = resp.header(k, v);
    }
    resp.body(whole(body)).map_err(std::io::Error::other)
}

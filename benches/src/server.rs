//! A minimal HTTP/1.1 loopback server with fixed answers, on its own runtime thread so it
//! runs beside the client instead of competing with it for the client's runtime.

use bytes::Bytes;
use http_body_util::Full;
use hyper::service::service_fn;
use hyper::{Request, Response};
use hyper_util::rt::TokioIo;
use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

pub const VMEG_ACCEPTED: &str =
    r#"{"code":200,"message":"","data":{"taskId":"task-1","createdAt":"2026-01-01T00:00:00Z"}}"#;
pub const VMEG_DETAIL: &str = r#"{"code":200,"message":"","data":{"taskId":"task-1","taskType":"cloneVoice","status":"running","result":null}}"#;
pub const JIMMY_CREATED: &str = r#"{"code":20000,"msg":"ok","data":{"id":"audio_1","object":"audio","created":1781777280,"model":"soundCloningClone","status":"queued","error":null}}"#;
pub const JIMMY_TASK: &str = r#"{"code":20000,"msg":"ok","data":{"id":"audio_1","object":"audio","created":1781777280,"model":"soundCloningClone","status":"processing","error":null}}"#;

fn answer(path: &str) -> &'static str {
    if path.ends_with("/clone-voice/create-async") {
        VMEG_ACCEPTED
    } else if path.ends_with("/tasks/detail") {
        VMEG_DETAIL
    } else if path.ends_with("/soundCloning/clones") {
        JIMMY_CREATED
    } else {
        JIMMY_TASK
    }
}

/// A running fixed-body server. It stops when the process ends.
#[derive(Debug, Clone)]
pub struct FixedServer {
    pub addr: SocketAddr,
    connections: Arc<AtomicU64>,
}

impl FixedServer {
    pub fn base_url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// Connections accepted so far.
    pub fn connections(&self) -> u64 {
        self.connections.load(Ordering::Relaxed)
    }

    /// Starts the server on 127.0.0.1 on a thread of its own.
    pub fn start() -> std::io::Result<Self> {
        let std_listener = std::net::TcpListener::bind("127.0.0.1:0")?;
        std_listener.set_nonblocking(true)?;
        let addr = std_listener.local_addr()?;
        let connections = Arc::new(AtomicU64::new(0));
        let counter = Arc::clone(&connections);
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()?;
        std::thread::spawn(move || {
            runtime.block_on(async move {
                let Ok(listener) = tokio::net::TcpListener::from_std(std_listener) else {
                    return;
                };
                loop {
                    let Ok((stream, _)) = listener.accept().await else {
                        continue;
                    };
                    counter.fetch_add(1, Ordering::Relaxed);
                    let _ = stream.set_nodelay(true);
                    tokio::spawn(async move {
                        let service =
                            service_fn(|req: Request<hyper::body::Incoming>| async move {
                                let body = answer(req.uri().path());
                                Ok::<_, Infallible>(
                                    Response::builder()
                                        .header("content-type", "application/json")
                                        .body(Full::new(Bytes::from_static(body.as_bytes())))
                                        .unwrap_or_default(),
                                )
                            });
                        let _ = hyper::server::conn::http1::Builder::new()
                            .serve_connection(TokioIo::new(stream), service)
                            .await;
                    });
                }
            });
        });
        Ok(Self { addr, connections })
    }
}

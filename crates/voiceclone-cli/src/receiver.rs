//! The VMEG webhook receiver the CLI runs in-process: `webhook listen`, `clone --wait
//! --webhook-listen`, `speak --wait --webhook-listen` and the webhook part of `demo`. It is
//! the adapter's axum route (`voiceclone::webhook::axum`) over a
//! [`CompletionHub`](voiceclone::webhook::CompletionHub), served on a listener of its own,
//! stopped gracefully.
//!
//! Also here: the secrets these commands read from the environment (the webhook secret, and
//! the Redis URL of `webhook listen --redis-url-env`), each registered with the [`Printer`]
//! so that it is never printed.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use tokio::net::TcpListener;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;
use voiceclone::webhook::CompletionStore;

use crate::exit::Exit;
use crate::output::{Failure, Printer};

/// How long a graceful stop waits for requests in flight before it cuts them off.
pub const STOP_GRACE: Duration = Duration::from_secs(5);

/// The longest `--path` accepted.
const MAX_PATH_LEN: usize = 1024;

/// A running receiver. Dropping it stops serving at once; [`Receiver::stop`] lets requests
/// in flight finish first.
#[derive(Debug)]
pub struct Receiver {
    addr: SocketAddr,
    stop: Option<oneshot::Sender<()>>,
    task: JoinHandle<std::io::Result<()>>,
}

impl Receiver {
    /// Binds `addr` (port 0 picks a free port): a usage failure (exit 2) when it cannot.
    pub async fn bind(addr: SocketAddr) -> Result<TcpListener, Failure> {
        TcpListener::bind(addr)
            .await
            .map_err(|e| Failure::io(&format!("cannot listen on {addr}"), &e))
    }

    /// Serves `app` on `listener` in a task of the current runtime.
    pub fn start(listener: TcpListener, app: axum::Router) -> Result<Receiver, Failure> {
        let addr = listener
            .local_addr()
            .map_err(|e| Failure::io("cannot read the receiver's bound address", &e))?;
        let (stop, stopped) = oneshot::channel::<()>();
        let task = tokio::spawn(async move {
            axum::serve(listener, app)
                .with_graceful_shutdown(async move {
                    // A dropped sender stops the server too.
                    let _ = stopped.await;
                })
                .await
        });
        Ok(Receiver {
            addr,
            stop: Some(stop),
            task,
        })
    }

    /// The bound address (the real port when 0 was asked for).
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// Resolves if the server ends by itself (it does not, short of an internal error).
    pub async fn ended(&mut self) -> String {
        match (&mut self.task).await {
            Ok(Ok(())) => "the webhook server stopped".to_owned(),
            Ok(Err(e)) => format!("the webhook server failed: {e}"),
            Err(e) => format!("the webhook server task ended: {e}"),
        }
    }

    /// Stops accepting connections and waits up to [`STOP_GRACE`] for requests in flight.
    pub async fn stop(mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        // Already over (and perhaps awaited by `ended`: a JoinHandle must not be polled again).
        if self.task.is_finished() {
            return;
        }
        if tokio::time::timeout(STOP_GRACE, &mut self.task)
            .await
            .is_err()
        {
            tracing::warn!(
                "webhook requests still in flight after {STOP_GRACE:?}; stopping anyway"
            );
            self.task.abort();
        }
    }
}

impl Drop for Receiver {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// Checks `--path`: it must start with `/` and hold only letters, digits, `-._~` and `/`
/// (what a route can hold literally: no captures, no wildcards), at most 1024 bytes.
pub fn check_path(path: &str) -> Result<(), Failure> {
    let ok = path.starts_with('/')
        && path.len() <= MAX_PATH_LEN
        && path
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"-._~/".contains(&b));
    if ok {
        Ok(())
    } else {
        Err(Failure::usage(format!(
            "--path must start with / and hold only letters, digits, -._~ and / (at most {MAX_PATH_LEN} bytes), got {path:?}"
        )))
    }
}

/// The webhook secret from the environment variable `var` (named by `flag`), registered
/// with the printer. Unset or empty: a usage failure (exit 2).
pub fn secret_from_env(var: &str, flag: &str, printer: &mut Printer) -> Result<String, Failure> {
    match std::env::var(var) {
        Ok(s) if !s.trim().is_empty() => {
            printer.add_secret(&s);
            Ok(s)
        }
        Ok(_) => Err(Failure::usage(format!(
            "the environment variable {var} ({flag}) is empty"
        ))),
        Err(_) => Err(Failure::usage(format!(
            "the environment variable {var} ({flag}) is not set; it must hold the webhook secret"
        ))),
    }
}

/// The completion store named by `--redis-url-env NAME`: the Redis URL is read from the
/// environment variable `var` (never from the command line: it can hold a password), and it
/// and its password are registered with the printer so that neither is ever printed.
///
/// Connects to it at once (a wrong address or password is exit 3 before anything is served).
/// A build without the `redis` feature refuses with exit 2.
pub async fn store_from_env(
    var: &str,
    printer: &mut Printer,
) -> Result<Arc<dyn CompletionStore>, Failure> {
    let url = match std::env::var(var) {
        Ok(s) if !s.trim().is_empty() => s.trim().to_owned(),
        Ok(_) => {
            return Err(Failure::usage(format!(
                "the environment variable {var} (--redis-url-env) is empty"
            )));
        }
        Err(_) => {
            return Err(Failure::usage(format!(
                "the environment variable {var} (--redis-url-env) is not set; it must hold the Redis URL (redis://[:PASSWORD@]HOST:PORT[/DB])"
            )));
        }
    };
    printer.add_secret(&url);
    if let Ok(parsed) = url::Url::parse(&url)
        && let Some(password) = parsed.password()
    {
        printer.add_secret(password);
        if let Ok(decoded) = percent_encoding::percent_decode_str(password).decode_utf8() {
            printer.add_secret(&decoded);
        }
    }
    #[cfg(feature = "redis")]
    {
        voiceclone::webhook::RedisStore::connect(&url)
            .await
            .map(|s| Arc::new(s) as Arc<dyn CompletionStore>)
            .map_err(|e| Failure {
                exit: Exit::Unreachable,
                ..Failure::from_adapter(&e)
            })
    }
    #[cfg(not(feature = "redis"))]
    Err(Failure::other(
        Exit::Usage,
        "unsupported",
        "this build has no Redis support (--redis-url-env); run without it for an in-process store",
    ))
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use voiceclone::WebhookSecret;
    use voiceclone::webhook::CompletionHub;

    use super::*;

    #[test]
    fn paths_accepted_are_paths_axum_takes() {
        for ok in ["/", "/vmeg/webhook", "/a-b_c.d~e/", "//x", "/0"] {
            check_path(ok).unwrap();
            let hub = CompletionHub::in_memory(WebhookSecret::new("s"));
            // Panics when axum refuses the route.
            let _ = voiceclone::webhook::axum::router(ok, hub);
        }
        for bad in [
            "", "hook", "/{id}", "/:id", "/*rest", "/a b", "/a?b", "/é", "/a%20",
        ] {
            assert!(check_path(bad).is_err(), "{bad:?}");
        }
        assert!(check_path(&format!("/{}", "a".repeat(MAX_PATH_LEN))).is_err());
    }

    #[tokio::test]
    async fn stopping_a_server_that_already_ended_is_quiet() {
        let (stop, _) = oneshot::channel();
        let mut r = Receiver {
            addr: SocketAddr::from(([127, 0, 0, 1], 1)),
            stop: Some(stop),
            task: tokio::spawn(async { Ok(()) }),
        };
        assert_eq!(r.ended().await, "the webhook server stopped");
        r.stop().await; // must not poll the finished JoinHandle again
    }
}

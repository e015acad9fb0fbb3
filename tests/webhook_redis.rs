//! The Redis completion store (`voiceclone::webhook::RedisStore`, feature `redis`) against a
//! real Redis on loopback: the one `VOICECLONE_REDIS_URL` names (`.ci/run` starts it; without
//! it these tests fail in CI and are skipped with a notice elsewhere, see
//! `workspace_tests::redis_url`). No mock of Redis: what a test damages, cuts or black-holes
//! is the real server's data or a TCP proxy in front of it.
//!
//! - the store's contract: record once, lookups, TTLs and their floor, malformed and forged
//!   values, a failure part-way, the subscription's signals, timeouts, the password;
//! - two instances on one Redis behind a round-robin proxy, with the simulator delivering
//!   real signed webhooks and redeliveries landing on both: each task processed once;
//! - Redis unreachable mid-run (refused, then black-holed): 503 to the sender, waits fall back
//!   to polling and complete, and the redelivery after Redis is back is recorded once.
//!
//! Each test uses its own key prefix and deletes its keys at the end; nothing is flushed.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use serde_json::json;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{mpsc, watch};
use voiceclone::sleep::BoxFuture;
use voiceclone::webhook::store::{
    Confirmation, Listener, MarkToken, Recorded, StoreError, StoreSignal, StoredEvent, Subscription,
};
use voiceclone::webhook::{CompletionHub, CompletionStore, Delivery, RedisStore, Verifier};
use voiceclone::{Client, CloneRequest, ErrorKind, Provider, WaitPolicy, WebhookSecret};
use voiceclone_sim::{SimConfig, SimHandle, Simulator, WebhookTarget};
use workspace_tests::redis_url;

const SECRET: &str = "whsec-redis-test-DO-NOT-PRINT";
const DETAIL: &str = "vmeg.tasksDetail";
const PATH: &str = "/hooks/vmeg";

// ---------------------------------------------------------------------------------------------
// The Redis under test, and what a test needs around it
// ---------------------------------------------------------------------------------------------

/// One test's view of the Redis: its URL, a prefix of its own, and a direct connection to
/// look at (and damage) what the store keeps.
struct Ctx {
    url: String,
    prefix: String,
    raw: redis::aio::MultiplexedConnection,
}

impl Ctx {
    /// `None` (the test returns early) when the Redis tests are skipped.
    async fn new() -> Option<Ctx> {
        let url = redis_url()?;
        let client =
            redis::Client::open(url.as_str()).expect("VOICECLONE_REDIS_URL is not a Redis URL");
        let raw = tokio::time::timeout(
            Duration::from_secs(5),
            client.get_multiplexed_async_connection(),
        )
        .await
        .expect("the Redis at VOICECLONE_REDIS_URL did not answer within 5 s")
        .expect("cannot connect to the Redis at VOICECLONE_REDIS_URL");
        let prefix = format!("vc-test:{}", uuid::Uuid::new_v4().simple());
        Some(Ctx { url, prefix, raw })
    }

    /// A store on this test's prefix, events kept 10 minutes (the dedupe TTL stays 72 h
    /// unless a test says otherwise; the drop removes both).
    fn store_at(&self, url: &str) -> RedisStore {
        RedisStore::open(url)
            .unwrap()
            .prefix(self.prefix.clone())
            .event_ttl(Duration::from_secs(600))
    }

    fn store(&self) -> RedisStore {
        self.store_at(&self.url)
    }

    fn hub(&self, store: RedisStore) -> CompletionHub {
        CompletionHub::with_store(Verifier::new(WebhookSecret::new(SECRET)), Arc::new(store))
    }

    fn key(&self, kind: &str, id: &str) -> String {
        format!("{}:{kind}:{id}", self.prefix)
    }

    fn channel(&self) -> String {
        format!("{}:events", self.prefix)
    }

    async fn query<T: redis::FromRedisValue>(&self, cmd: &redis::Cmd) -> T {
        cmd.query_async(&mut self.raw.clone()).await.unwrap()
    }

    async fn pttl(&self, key: &str) -> i64 {
        self.query(redis::cmd("PTTL").arg(key)).await
    }

    async fn exists(&self, key: &str) -> bool {
        self.query::<i64>(redis::cmd("EXISTS").arg(key)).await == 1
    }

    /// How many subscribers the store's channel has on the server.
    async fn subscribers(&self) -> i64 {
        let (_, n): (String, i64) = self
            .query(redis::cmd("PUBSUB").arg("NUMSUB").arg(self.channel()))
            .await;
        n
    }

    /// The Redis server's address (for a proxy in front of it).
    async fn server_addr(&self) -> SocketAddr {
        let url = url::Url::parse(&self.url).unwrap();
        let host = url.host_str().unwrap_or("127.0.0.1").to_owned();
        let port = url.port().unwrap_or(6379);
        tokio::net::lookup_host((host.as_str(), port))
            .await
            .unwrap()
            .next()
            .expect("the Redis host resolves")
    }

    /// This test's URL with the address replaced (user, password and database kept).
    fn url_via(&self, addr: SocketAddr) -> String {
        let mut url = url::Url::parse(&self.url).unwrap();
        url.set_host(Some(&addr.ip().to_string())).unwrap();
        url.set_port(Some(addr.port())).unwrap();
        url.to_string()
    }
}

impl Drop for Ctx {
    /// Deletes every key under this test's prefix (never anything else), also when the test
    /// failed. Synchronous (a drop cannot await): one short loopback exchange.
    fn drop(&mut self) {
        let Ok(client) = redis::Client::open(self.url.as_str()) else {
            return;
        };
        let Ok(mut con) = client.get_connection_with_timeout(Duration::from_secs(2)) else {
            return;
        };
        let mut cursor: u64 = 0;
        loop {
            let Ok((next, keys)) = redis::cmd("SCAN")
                .arg(cursor)
                .arg("MATCH")
                .arg(format!("{}:*", self.prefix))
                .arg("COUNT")
                .arg(1000)
                .query::<(u64, Vec<String>)>(&mut con)
            else {
                return;
            };
            if !keys.is_empty() {
                let _ = redis::cmd("DEL").arg(&keys).query::<i64>(&mut con);
            }
            if next == 0 {
                return;
            }
            cursor = next;
        }
    }
}

/// Skips the test (with the notice `redis_url` printed) when there is no Redis to test.
macro_rules! ctx_or_skip {
    () => {
        match Ctx::new().await {
            Some(ctx) => ctx,
            None => return,
        }
    };
}

fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_millis() as u64
}

fn new_pipeline_key() -> String {
    uuid::Uuid::new_v4().simple().to_string()
}

/// A VMEG clone webhook body for `task`, carrying `voice` (and an idempotency key in
/// `extraData`, the way the adapter sends it).
fn clone_body(
    pipeline_key: &str,
    task: &str,
    voice: &str,
    idempotency_key: Option<&str>,
) -> String {
    let extra = match idempotency_key {
        Some(k) => json!({"voiceclone": {"idempotencyKey": k}}),
        None => json!({}),
    };
    json!({
        "code": 200, "version": "v1", "event": "openapi-clone-voice",
        "pipelineKey": pipeline_key, "message": "", "extraData": extra,
        "data": {"taskId": task, "voiceId": voice}
    })
    .to_string()
}

/// `(X-Timestamp, X-Signature)` for `body`, signed now with the test's secret.
fn sign_now(body: &str) -> (String, String) {
    let ts = now_ms().to_string();
    let sig = voiceclone_sim::sign(SECRET, &ts, body.as_bytes());
    (ts, sig)
}

/// A delivery as a hub would store it (signed with the test's secret).
fn stored(task: &str, voice: &str, idempotency_key: Option<&str>) -> StoredEvent {
    let pipeline_key = new_pipeline_key();
    let body = clone_body(&pipeline_key, task, voice, idempotency_key);
    let (timestamp, signature) = sign_now(&body);
    StoredEvent {
        pipeline_key,
        task_id: Some(task.to_owned()),
        idempotency_key: idempotency_key.map(str::to_owned),
        timestamp,
        signature,
        body,
        received_at_ms: now_ms(),
    }
}

/// What a subscription listener was told, as words: `restored`, `lost`, `event:<pk>`.
fn recording_listener() -> (Listener, mpsc::UnboundedReceiver<String>) {
    let (tx, rx) = mpsc::unbounded_channel();
    let listener: Listener = Arc::new(move |signal: StoreSignal| {
        let word = match signal {
            StoreSignal::Event(e) => format!("event:{}", e.pipeline_key),
            StoreSignal::Lost => "lost".to_owned(),
            StoreSignal::Restored => "restored".to_owned(),
            other => format!("{other:?}"),
        };
        let _ = tx.send(word);
    });
    (listener, rx)
}

/// The next signal within `within`, panicking with what came instead.
async fn next_signal(rx: &mut mpsc::UnboundedReceiver<String>, within: Duration) -> String {
    tokio::time::timeout(within, rx.recv())
        .await
        .unwrap_or_else(|_| panic!("no signal within {within:?}"))
        .expect("the listener was dropped")
}

/// Waits (bounded) until `check` holds.
async fn eventually<F, Fut>(what: &str, within: Duration, mut check: F)
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let start = Instant::now();
    while !check().await {
        assert!(start.elapsed() < within, "{what}: not within {within:?}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

// ---------------------------------------------------------------------------------------------
// Loopback servers: the webhook receiver, a round-robin balancer, a proxy that can be cut
// ---------------------------------------------------------------------------------------------

/// Each delivery's HTTP status, with its pipelineKey when it was fresh.
type Outcomes = Arc<Mutex<Vec<(u16, Option<String>)>>>;

/// The axum receiver (`voiceclone::webhook::axum`) over a hub, on a free loopback port;
/// remembers every delivery's status and, for fresh ones, the pipelineKey.
struct Receiver {
    addr: SocketAddr,
    url: String,
    outcomes: Outcomes,
    task: tokio::task::JoinHandle<()>,
}

impl Receiver {
    async fn start(hub: CompletionHub) -> Receiver {
        let outcomes: Outcomes = Arc::default();
        let seen = outcomes.clone();
        let app = voiceclone::webhook::axum::router_with(
            PATH,
            hub,
            Arc::new(move |d: &Delivery| {
                let fresh = match d {
                    Delivery::Fresh(e) => Some(e.pipeline_key.clone()),
                    _ => None,
                };
                seen.lock().unwrap().push((d.http_status(), fresh));
            }),
        )
        .unwrap();
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let task = tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        Receiver {
            addr,
            url: format!("http://{addr}{PATH}"),
            outcomes,
            task,
        }
    }

    fn statuses(&self) -> Vec<u16> {
        self.outcomes.lock().unwrap().iter().map(|o| o.0).collect()
    }

    fn fresh(&self) -> Vec<String> {
        self.outcomes
            .lock()
            .unwrap()
            .iter()
            .filter_map(|o| o.1.clone())
            .collect()
    }
}

impl Drop for Receiver {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// A TCP load balancer: each new connection goes to the next backend in turn.
struct RoundRobin {
    addr: SocketAddr,
    task: tokio::task::JoinHandle<()>,
}

impl RoundRobin {
    async fn start(backends: Vec<SocketAddr>) -> RoundRobin {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let task = tokio::spawn(async move {
            let mut next = 0usize;
            while let Ok((mut inbound, _)) = listener.accept().await {
                let backend = backends[next % backends.len()];
                next += 1;
                tokio::spawn(async move {
                    if let Ok(mut outbound) = TcpStream::connect(backend).await {
                        let _ = tokio::io::copy_bidirectional(&mut inbound, &mut outbound).await;
                    }
                });
            }
        });
        RoundRobin { addr, task }
    }
}

impl Drop for RoundRobin {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// What a [`CutProxy`] does with connections.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Mode {
    /// Forwards to the upstream.
    Pass,
    /// Closes every connection, open and new.
    Refuse,
    /// Accepts and holds connections, forwarding nothing either way (a silent network).
    BlackHole,
}

/// A TCP proxy in front of the Redis that the test can cut.
struct CutProxy {
    addr: SocketAddr,
    mode: watch::Sender<Mode>,
    task: tokio::task::JoinHandle<()>,
}

impl CutProxy {
    async fn start(upstream: SocketAddr) -> CutProxy {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let (mode, _) = watch::channel(Mode::Pass);
        let modes = mode.clone();
        let task = tokio::spawn(async move {
            while let Ok((inbound, _)) = listener.accept().await {
                tokio::spawn(proxy_one(inbound, upstream, modes.subscribe()));
            }
        });
        CutProxy { addr, mode, task }
    }

    fn set(&self, mode: Mode) {
        self.mode.send_if_modified(|m| {
            let changed = *m != mode;
            *m = mode;
            changed
        });
    }
}

impl Drop for CutProxy {
    fn drop(&mut self) {
        self.task.abort();
    }
}

async fn proxy_one(mut inbound: TcpStream, upstream: SocketAddr, mut mode: watch::Receiver<Mode>) {
    let at_accept = *mode.borrow_and_update();
    let cut = match at_accept {
        Mode::Refuse => return,
        Mode::BlackHole => Mode::BlackHole,
        Mode::Pass => {
            let Ok(mut outbound) = TcpStream::connect(upstream).await else {
                return;
            };
            let copy = tokio::io::copy_bidirectional(&mut inbound, &mut outbound);
            tokio::pin!(copy);
            loop {
                tokio::select! {
                    _ = &mut copy => return,
                    changed = mode.changed() => {
                        if changed.is_err() {
                            return;
                        }
                        let now = *mode.borrow_and_update();
                        if now != Mode::Pass {
                            break now;
                        }
                    }
                }
            }
        }
    };
    if cut == Mode::BlackHole {
        // Hold the connection, reading nothing, until the network heals; then close it.
        while *mode.borrow_and_update() != Mode::Pass {
            if mode.changed().await.is_err() {
                return;
            }
        }
    }
}

/// One POST on a fresh connection (so a balancer picks the next backend); the HTTP status.
async fn post(addr: SocketAddr, timestamp: &str, signature: &str, body: &str) -> u16 {
    let mut s = TcpStream::connect(addr).await.unwrap();
    let request = format!(
        "POST {PATH} HTTP/1.1\r\nHost: {addr}\r\nContent-Type: application/json\r\n\
         X-Timestamp: {timestamp}\r\nX-Signature: {signature}\r\nContent-Length: {}\r\n\
         Connection: close\r\n\r\n{body}",
        body.len()
    );
    s.write_all(request.as_bytes()).await.unwrap();
    let mut answer = Vec::new();
    tokio::time::timeout(Duration::from_secs(10), s.read_to_end(&mut answer))
        .await
        .expect("the receiver answered within 10 s")
        .unwrap();
    String::from_utf8_lossy(&answer)
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(0)
}

async fn sim(webhook: Option<&str>, tweak: impl FnOnce(&mut SimConfig)) -> SimHandle {
    let mut config = SimConfig {
        speed: 100.0, // a clone takes 20 ms
        webhook: webhook.map(|url| WebhookTarget {
            url: url.to_owned(),
            secret: SECRET.to_owned(),
        }),
        ..SimConfig::default()
    };
    tweak(&mut config);
    Simulator::start_with(config).await.unwrap()
}

fn client(sim: &SimHandle, hub: &CompletionHub) -> Client {
    Client::builder(Provider::Vmeg)
        .api_key(sim.api_key())
        .base_url(sim.base_url())
        .completion_hub(hub.clone())
        .build()
        .unwrap()
}

/// The normal schedule polls at once; the webhook fallback not for 30 s (the default), so a
/// wait that ends sooner without a poll ended by webhook.
fn policy() -> WaitPolicy {
    WaitPolicy::for_provider(Provider::Vmeg).with_deadline(Some(Duration::from_secs(20)))
}

fn sample() -> CloneRequest {
    CloneRequest::new("https://samples.example/voice.wav").name("redis test")
}

// ---------------------------------------------------------------------------------------------
// (a) The store's contract
// ---------------------------------------------------------------------------------------------

#[tokio::test]
async fn redis_records_once_and_finds_the_delivery_by_task_and_by_key() {
    let ctx = ctx_or_skip!();
    let store = ctx.store();
    let e = stored("task-1", "cv_1", Some("key-1"));
    assert_eq!(store.record(&e).await.unwrap(), Recorded::Fresh);
    assert_eq!(store.record(&e).await.unwrap(), Recorded::Duplicate);
    assert_eq!(store.by_task("task-1").await.unwrap(), Some(e.clone()));
    assert_eq!(
        store.by_idempotency_key("key-1").await.unwrap(),
        Some(e.clone())
    );
    assert_eq!(store.by_task("task-unknown").await.unwrap(), None);
    assert_eq!(store.by_idempotency_key("key-unknown").await.unwrap(), None);

    // A duplicate writes nothing: same pipelineKey, another task.
    let mut again = stored("task-2", "cv_2", None);
    again.pipeline_key = e.pipeline_key.clone();
    assert_eq!(store.record(&again).await.unwrap(), Recorded::Duplicate);
    assert_eq!(store.by_task("task-2").await.unwrap(), None);

    // Another store (another instance) on the same prefix sees the same marks and events.
    let other = ctx.store();
    assert_eq!(other.record(&e).await.unwrap(), Recorded::Duplicate);
    assert_eq!(other.by_task("task-1").await.unwrap(), Some(e.clone()));

    // Ids too long for a key name are hashed, and still found.
    let long = "t".repeat(5_000);
    let e_long = stored(&long, "cv_3", Some(&"k".repeat(5_000)));
    assert_eq!(store.record(&e_long).await.unwrap(), Recorded::Fresh);
    assert_eq!(store.by_task(&long).await.unwrap(), Some(e_long.clone()));
    assert_eq!(
        store.by_idempotency_key(&"k".repeat(5_000)).await.unwrap(),
        Some(e_long)
    );

    // The keys and their default TTLs (dedupe 72 h; events as set, 10 min).
    let mark = ctx.key("seen", &e.pipeline_key);
    let pttl = ctx.pttl(&mark).await;
    assert!(
        (72 * 3600 * 1000 - 60_000..=72 * 3600 * 1000).contains(&pttl),
        "mark TTL {pttl} ms"
    );
    for key in [ctx.key("task", "task-1"), ctx.key("idem", "key-1")] {
        let pttl = ctx.pttl(&key).await;
        assert!((540_000..=600_000).contains(&pttl), "{key}: TTL {pttl} ms");
    }
    let defaults = RedisStore::open(&ctx.url)
        .unwrap()
        .prefix(ctx.prefix.clone());
    let e4 = stored("task-4", "cv_4", None);
    defaults.record(&e4).await.unwrap();
    let pttl = ctx.pttl(&ctx.key("task", "task-4")).await;
    assert!(
        (24 * 3600 * 1000 - 60_000..=24 * 3600 * 1000).contains(&pttl),
        "default event TTL {pttl} ms"
    );
}

/// A delivery for `task` carrying the idempotency key `key`, whose `code` is `code`.
fn stored_coded(task: &str, key: &str, code: serde_json::Value) -> StoredEvent {
    let pipeline_key = new_pipeline_key();
    let mut body: serde_json::Value =
        serde_json::from_str(&clone_body(&pipeline_key, task, "cv_coded", Some(key))).unwrap();
    body["code"] = code;
    let body = body.to_string();
    let (timestamp, signature) = sign_now(&body);
    StoredEvent {
        pipeline_key,
        task_id: Some(task.to_owned()),
        idempotency_key: Some(key.to_owned()),
        timestamp,
        signature,
        body,
        received_at_ms: now_ms(),
    }
}

/// README: a failure recorded after a success for the same task (or idempotency key) never
/// replaces it, on any instance; a success after a failure does (it carries the result). A
/// value the record script cannot read as a stored delivery is replaced as before, never a
/// failed script (a 503 on every redelivery). Before: `SET` without a condition, the latest
/// delivery won, and a late failure turned a finished, paid job into `TaskFailed`.
#[tokio::test]
async fn redis_a_failure_never_replaces_a_success_for_a_task_or_key() {
    let ctx = ctx_or_skip!();
    let store = ctx.store();
    let ok = stored_coded("task-late", "key-late", json!(200));
    assert_eq!(store.record(&ok).await.unwrap(), Recorded::Fresh);
    let late = stored_coded("task-late", "key-late", json!(500));
    assert_eq!(store.record(&late).await.unwrap(), Recorded::Fresh);
    let other = ctx.store();
    for s in [&store, &other] {
        assert_eq!(s.by_task("task-late").await.unwrap(), Some(ok.clone()));
        assert_eq!(
            s.by_idempotency_key("key-late").await.unwrap(),
            Some(ok.clone())
        );
    }
    let hub = ctx.hub(ctx.store());
    let seen = hub
        .completion(&voiceclone::JobId::new("task-late"))
        .await
        .unwrap()
        .unwrap();
    assert!(seen.succeeded(), "{seen:?}");
    // Another success is taken (a code sent as a string reads as the verifier reads it).
    let again = stored_coded("task-late", "key-late", json!("200"));
    store.record(&again).await.unwrap();
    assert_eq!(
        store.by_task("task-late").await.unwrap(),
        Some(again.clone())
    );
    let late = stored_coded("task-late", "key-late", json!(502));
    store.record(&late).await.unwrap();
    assert_eq!(store.by_task("task-late").await.unwrap(), Some(again));

    let failed = stored_coded("task-retry", "key-retry", json!(500));
    store.record(&failed).await.unwrap();
    assert_eq!(store.by_task("task-retry").await.unwrap(), Some(failed));
    let retried = stored_coded("task-retry", "key-retry", json!(200));
    store.record(&retried).await.unwrap();
    assert_eq!(
        store.by_task("task-retry").await.unwrap(),
        Some(retried.clone())
    );
    assert_eq!(
        store.by_idempotency_key("key-retry").await.unwrap(),
        Some(retried)
    );

    // What the script cannot read as a success is replaced: not JSON, a body that is not
    // JSON, another type.
    let odd_body = serde_json::to_string(&StoredEvent {
        body: "{not json".into(),
        ..stored_coded("task-odd-body", "key-odd", json!(200))
    })
    .unwrap();
    for (task, value) in [
        ("task-garbage", "{not json"),
        ("task-odd-body", odd_body.as_str()),
    ] {
        let _: () = ctx
            .query(redis::cmd("SET").arg(ctx.key("task", task)).arg(value))
            .await;
    }
    let _: () = ctx
        .query(
            redis::cmd("HSET")
                .arg(ctx.key("task", "task-hash"))
                .arg("f")
                .arg("v"),
        )
        .await;
    for task in ["task-garbage", "task-odd-body", "task-hash"] {
        let failed = stored_coded(task, &format!("key-{task}"), json!(500));
        assert_eq!(
            store.record(&failed).await.unwrap(),
            Recorded::Fresh,
            "{task}"
        );
        assert_eq!(store.by_task(task).await.unwrap(), Some(failed), "{task}");
    }
}

/// `stored_coded`'s delivery with its body changed by `edit` (and signed again).
fn stored_edited(
    task: &str,
    key: &str,
    code: serde_json::Value,
    edit: impl FnOnce(&mut serde_json::Value),
) -> StoredEvent {
    let e = stored_coded(task, key, code);
    let mut body: serde_json::Value = serde_json::from_str(&e.body).unwrap();
    edit(&mut body);
    let body = body.to_string();
    let (timestamp, signature) = sign_now(&body);
    StoredEvent {
        timestamp,
        signature,
        body,
        ..e
    }
}

/// Review 30 pass 2-b #1: one idempotency key can name several tasks (VMEG scopes a key by
/// API key and route: a clone and a TTS submit, two tenants on one hub). A failure of another
/// task takes the key's place: it is the latest submit's own outcome, which
/// `job_for_idempotency_key` resolves. #5 (as pass 3 #1 corrected it): a TTS success whose
/// every line VMEG said failed keeps no failure out. Before: the script kept any stored code
/// 200, so the key gave another task's success for 24 h, and a result-less "success" hid the
/// failure.
#[tokio::test]
async fn redis_a_failure_of_another_task_or_after_a_success_without_result_is_kept() {
    let ctx = ctx_or_skip!();
    let store = ctx.store();
    let a = stored_coded("task-a7", "order-7", json!(200));
    store.record(&a).await.unwrap();
    let b = stored_coded("task-b7", "order-7", json!(500));
    store.record(&b).await.unwrap();
    assert_eq!(
        store.by_idempotency_key("order-7").await.unwrap(),
        Some(b.clone())
    );
    assert_eq!(store.by_task("task-a7").await.unwrap(), Some(a.clone()));
    // The same task under the key still keeps its success.
    let late = stored_coded("task-a7", "order-7", json!(500));
    let a2 = stored_coded("task-a7", "order-7", json!(200));
    store.record(&a2).await.unwrap();
    store.record(&late).await.unwrap();
    assert_eq!(
        store.by_idempotency_key("order-7").await.unwrap(),
        Some(a2.clone())
    );
    assert_eq!(store.by_task("task-a7").await.unwrap(), Some(a2));

    let hollow = stored_edited("task-hollow", "key-hollow", json!(200), |b| {
        b["event"] = json!("openapi-tts");
        b["data"] = json!({"taskId": "task-hollow",
            // Every line failed by VMEG's word: a blank uri says no audio (a relative one
            // beside an errorMessage is unreadable, not failed: review 35-d #3).
            "results": [{"errorMessage": "bad line"}, {"uri": "", "errorMessage": "bad"}]});
    });
    store.record(&hollow).await.unwrap();
    let failed = stored_coded("task-hollow", "key-hollow", json!(500));
    store.record(&failed).await.unwrap();
    assert_eq!(
        store.by_task("task-hollow").await.unwrap(),
        Some(failed.clone())
    );
    assert_eq!(
        store.by_idempotency_key("key-hollow").await.unwrap(),
        Some(failed)
    );
    let hub = ctx.hub(ctx.store());
    let seen = hub
        .completion(&voiceclone::JobId::new("task-hollow"))
        .await
        .unwrap()
        .unwrap();
    assert!(!seen.succeeded(), "{seen:?}");
}

/// Review 30 pass 3 #1: a clone success without a usable `voiceId` ends a wait (the client
/// finds the voice in the clone list), and a TTS success whose lines are all unreadable is a
/// paid task to read again: a late failure of the same task never takes their place, on any
/// instance. Before: it did, and a wait or `completion` afterwards said the paid task failed.
/// #4: a success stored by the previous version (no `carriesResult`) stays protected, judged
/// by its `code` as that version judged it; before, a late failure replaced it. #3: a failure
/// that names no task takes another task's success's place under a shared key; before, the
/// key gave the other task's success for 24 h.
#[tokio::test]
async fn redis_a_voiceless_or_legacy_success_keeps_a_late_failure_out() {
    let ctx = ctx_or_skip!();
    let store = ctx.store();
    let tts = |b: &mut serde_json::Value, task: &str| {
        b["event"] = json!("openapi-tts");
        b["data"] = json!({"taskId": task, "results": [{"uri": "/a.wav"}, {}]});
    };
    let successes = [
        stored_edited("task-nv1", "key-nv1", json!(200), |b| {
            b["data"]["voiceId"] = json!("");
        }),
        stored_edited("task-nv2", "key-nv2", json!(200), |b| {
            b["data"] = json!({"taskId": "task-nv2"});
        }),
        stored_edited("task-nv3", "key-nv3", json!(200), |b| tts(b, "task-nv3")),
    ];
    for ok in successes {
        let task = ok.task_id.clone().unwrap();
        let key = ok.idempotency_key.clone().unwrap();
        store.record(&ok).await.unwrap();
        store
            .record(&stored_coded(&task, &key, json!(500)))
            .await
            .unwrap();
        assert_eq!(
            store.by_task(&task).await.unwrap(),
            Some(ok.clone()),
            "{task}"
        );
        assert_eq!(
            store.by_idempotency_key(&key).await.unwrap(),
            Some(ok.clone()),
            "{task}"
        );
        let hub = ctx.hub(ctx.store());
        let seen = hub
            .completion(&voiceclone::JobId::new(task.as_str()))
            .await
            .unwrap()
            .unwrap();
        assert!(seen.succeeded(), "{task}: {seen:?}");
    }

    // #4: what the previous version stored, without `carriesResult`.
    for (task, code, kept) in [
        ("task-legacy", json!(200), true),
        ("task-legacy-s", json!("200"), true),
        ("task-legacy-f", json!(500), false),
    ] {
        let key = format!("key-{task}");
        let legacy = stored_coded(task, &key, code);
        let value = serde_json::to_string(&legacy).unwrap();
        assert!(!value.contains("carriesResult"), "{value}");
        for (kind, id) in [("task", task), ("idem", key.as_str())] {
            let _: () = ctx
                .query(redis::cmd("SET").arg(ctx.key(kind, id)).arg(&value))
                .await;
        }
        let late = stored_coded(task, &key, json!(502));
        store.record(&late).await.unwrap();
        let want = if kept { legacy } else { late };
        assert_eq!(
            store.by_task(task).await.unwrap(),
            Some(want.clone()),
            "{task}"
        );
        assert_eq!(
            store.by_idempotency_key(&key).await.unwrap(),
            Some(want),
            "{task}"
        );
    }
    // A legacy success of another task under a shared key is replaced, as a new one is.
    let legacy = stored_coded("task-legacy-a", "key-legacy-shared", json!(200));
    let _: () = ctx
        .query(
            redis::cmd("SET")
                .arg(ctx.key("idem", "key-legacy-shared"))
                .arg(serde_json::to_string(&legacy).unwrap()),
        )
        .await;
    let other = stored_coded("task-legacy-b", "key-legacy-shared", json!(500));
    store.record(&other).await.unwrap();
    assert_eq!(
        store.by_idempotency_key("key-legacy-shared").await.unwrap(),
        Some(other)
    );

    // #3: a failure naming no task, under the key of another task's success.
    let a = stored_coded("task-a8", "order-8", json!(200));
    store.record(&a).await.unwrap();
    let unnamed = stored_edited("task-a8", "order-8", json!(500), |b| {
        b["data"] = json!({});
    });
    let unnamed = StoredEvent {
        task_id: None,
        ..unnamed
    };
    store.record(&unnamed).await.unwrap();
    assert_eq!(
        store.by_idempotency_key("order-8").await.unwrap(),
        Some(unnamed)
    );
    assert_eq!(store.by_task("task-a8").await.unwrap(), Some(a));
}

#[tokio::test]
async fn redis_a_forgotten_delivery_is_fresh_again_on_every_instance() {
    let ctx = ctx_or_skip!();
    let (one, two) = (ctx.store(), ctx.store());
    let e = stored("task-f", "cv_f", Some("key-f"));
    assert_eq!(one.record(&e).await.unwrap(), Recorded::Fresh);
    assert_eq!(two.record(&e).await.unwrap(), Recorded::Duplicate);
    one.forget(&e.pipeline_key).await.unwrap();
    assert_eq!(ctx.pttl(&ctx.key("seen", &e.pipeline_key)).await, -2);
    // The other instance takes the redelivery as new; the event itself stayed stored.
    assert_eq!(two.record(&e).await.unwrap(), Recorded::Fresh);
    assert_eq!(one.record(&e).await.unwrap(), Recorded::Duplicate);
    assert_eq!(one.by_task("task-f").await.unwrap(), Some(e.clone()));
    // Only that mark: another delivery stays a duplicate.
    let other = stored("task-g", "cv_g", None);
    assert_eq!(one.record(&other).await.unwrap(), Recorded::Fresh);
    one.forget(&e.pipeline_key).await.unwrap();
    assert_eq!(two.record(&other).await.unwrap(), Recorded::Duplicate);
    // Keys too long for a key name are hashed, and forgotten the same way.
    let mut long = stored("task-h", "cv_h", None);
    long.pipeline_key = "p".repeat(5_000);
    assert_eq!(one.record(&long).await.unwrap(), Recorded::Fresh);
    two.forget(&long.pipeline_key).await.unwrap();
    assert_eq!(one.record(&long).await.unwrap(), Recorded::Fresh);
}

/// Two hubs on one Redis (two instances, or two `webhook listen`s). Hub A claims a delivery
/// (pending, with a lease) and is still acting on it: a redelivery to hub B is 503
/// (`InProgress`), never a 200 duplicate. A confirms: B's redelivery is a duplicate. A
/// second delivery: A releases its claim (its action failed), and B's redelivery is fresh.
/// A third: A dies holding a short lease; once it runs out, B's redelivery is fresh.
#[tokio::test]
async fn redis_a_claimed_delivery_is_503_on_every_hub_until_confirmed_released_or_expired() {
    let ctx = ctx_or_skip!();
    let (a, b) = (ctx.hub(ctx.store()), ctx.hub(ctx.store()));
    let lease = Duration::from_secs(60);
    let claim = |d: Delivery| match d {
        Delivery::Claimed(_, claim) => claim,
        other => panic!("not claimed: {other:?}"),
    };
    let redelivered = |hub: &CompletionHub, body: &str| {
        let (hub, body) = (hub.clone(), body.to_owned());
        async move {
            let (ts, sig) = sign_now(&body);
            hub.receive(&ts, &sig, body.as_bytes()).await
        }
    };
    // Confirmed.
    let pk = new_pipeline_key();
    let body = clone_body(&pk, "task-l1", "cv_l1", None);
    let (ts, sig) = sign_now(&body);
    let c = claim(a.receive_pending(&ts, &sig, body.as_bytes(), lease).await);
    assert!(
        ctx.pttl(&ctx.key("seen", &pk)).await <= 60_000,
        "the lease's TTL"
    );
    // Stored at the pending step: a wait on B finds it.
    assert!(
        b.completion(&voiceclone::JobId::new("task-l1"))
            .await
            .unwrap()
            .is_some()
    );
    for hub in [&b, &a] {
        let d = redelivered(hub, &body).await;
        assert!(matches!(d, Delivery::InProgress(_)), "{d:?}");
        assert_eq!(d.http_status(), 503);
    }
    assert_eq!(a.confirm(&c).await.unwrap(), Confirmation::Confirmed);
    assert!(
        ctx.pttl(&ctx.key("seen", &pk)).await > 71 * 3600 * 1000,
        "the dedupe TTL"
    );
    let d = redelivered(&b, &body).await;
    assert!(matches!(d, Delivery::Duplicate(_)), "{d:?}");

    // Released.
    let pk = new_pipeline_key();
    let body = clone_body(&pk, "task-l2", "cv_l2", None);
    let (ts, sig) = sign_now(&body);
    let c = claim(a.receive_pending(&ts, &sig, body.as_bytes(), lease).await);
    assert!(matches!(
        redelivered(&b, &body).await,
        Delivery::InProgress(_)
    ));
    assert!(a.release(&c).await.unwrap());
    let d = redelivered(&b, &body).await;
    assert!(matches!(d, Delivery::Fresh(_)), "{d:?}");

    // Expired: A died without releasing.
    let pk = new_pipeline_key();
    let body = clone_body(&pk, "task-l3", "cv_l3", None);
    let (ts, sig) = sign_now(&body);
    let short = Duration::from_millis(300);
    let _dead = claim(a.receive_pending(&ts, &sig, body.as_bytes(), short).await);
    let start = Instant::now();
    let d = loop {
        let d = redelivered(&b, &body).await;
        match d {
            Delivery::InProgress(_) if start.elapsed() < Duration::from_secs(20) => {
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
            d => break d,
        }
    };
    assert!(matches!(d, Delivery::Fresh(_)), "{d:?}");
    assert!(
        start.elapsed() >= Duration::from_millis(200),
        "fresh before the lease ran out"
    );
}

/// Marks belong to the record call that set them. A's record found B's mark (its answer
/// lost, say) and A releases with its own token: B's mark stays, the redelivery stays a
/// duplicate. Confirming after the lease ran out: the mark is set again if nobody took the
/// key (`Reclaimed`), and another call's mark is left as it is (`Taken`); never an error.
#[tokio::test]
async fn redis_marks_are_removed_and_confirmed_only_with_their_own_token() {
    let ctx = ctx_or_skip!();
    let (one, two) = (ctx.store(), ctx.store());
    let (a, b) = (MarkToken::new(), MarkToken::new());
    let e = stored("task-m1", "cv_m1", None);
    let mark = ctx.key("seen", &e.pipeline_key);
    assert_eq!(
        two.record_marked(&e, &b, None).await.unwrap(),
        Recorded::Fresh
    );
    let held: String = ctx.query(redis::cmd("GET").arg(&mark)).await;
    assert_eq!(held, format!("c:{}", b.as_str()));
    assert_eq!(
        one.record_marked(&e, &a, None).await.unwrap(),
        Recorded::Duplicate
    );
    assert!(!one.release(&e.pipeline_key, &a).await.unwrap());
    assert!(ctx.exists(&mark).await, "another call's mark was removed");
    assert_eq!(one.record(&e).await.unwrap(), Recorded::Duplicate);
    assert!(two.release(&e.pipeline_key, &b).await.unwrap());
    assert_eq!(one.record(&e).await.unwrap(), Recorded::Fresh);

    // A lease that ran out, nobody took the key: the late confirm marks it (confirmed).
    let e = stored("task-m2", "cv_m2", None);
    let mark = ctx.key("seen", &e.pipeline_key);
    let short = Some(Duration::from_millis(100));
    assert_eq!(
        one.record_marked(&e, &a, short).await.unwrap(),
        Recorded::Fresh
    );
    eventually("the lease runs out", Duration::from_secs(20), || async {
        !ctx.exists(&mark).await
    })
    .await;
    assert_eq!(
        one.confirm(&e.pipeline_key, &a).await.unwrap(),
        Confirmation::Reclaimed
    );
    assert_eq!(two.record(&e).await.unwrap(), Recorded::Duplicate);
    assert!(ctx.pttl(&mark).await > 71 * 3600 * 1000);

    // The lease ran out and B took the key: A's confirm (and release) leave B's mark.
    let e = stored("task-m3", "cv_m3", None);
    let mark = ctx.key("seen", &e.pipeline_key);
    assert_eq!(
        one.record_marked(&e, &a, short).await.unwrap(),
        Recorded::Fresh
    );
    eventually("the lease runs out", Duration::from_secs(20), || async {
        !ctx.exists(&mark).await
    })
    .await;
    let lease = Some(Duration::from_secs(60));
    assert_eq!(
        two.record_marked(&e, &b, lease).await.unwrap(),
        Recorded::Fresh
    );
    assert_eq!(
        one.confirm(&e.pipeline_key, &a).await.unwrap(),
        Confirmation::Taken
    );
    assert!(!one.release(&e.pipeline_key, &a).await.unwrap());
    assert_eq!(
        one.record(&e).await.unwrap(),
        Recorded::Pending,
        "still B's lease"
    );
    assert_eq!(
        two.confirm(&e.pipeline_key, &b).await.unwrap(),
        Confirmation::Confirmed
    );
    assert_eq!(one.record(&e).await.unwrap(), Recorded::Duplicate);

    // A mark of an older version ("1") reads as confirmed and is nobody's to remove.
    let e = stored("task-m4", "cv_m4", None);
    let mark = ctx.key("seen", &e.pipeline_key);
    let _: () = ctx.query(redis::cmd("SET").arg(&mark).arg("1")).await;
    assert_eq!(
        one.record_marked(&e, &a, lease).await.unwrap(),
        Recorded::Duplicate
    );
    assert!(!one.release(&e.pipeline_key, &a).await.unwrap());
    assert_eq!(
        one.confirm(&e.pipeline_key, &a).await.unwrap(),
        Confirmation::Taken
    );
    let held: String = ctx.query(redis::cmd("GET").arg(&mark)).await;
    assert_eq!(held, "1");
}

/// The Redis store, except that a record's answer is lost after the script ran, and a
/// release cannot reach Redis: a record that timed out just as the network dropped.
#[derive(Debug)]
struct AnswerLost(RedisStore);

impl CompletionStore for AnswerLost {
    fn record<'a>(&'a self, e: &'a StoredEvent) -> BoxFuture<'a, Result<Recorded, StoreError>> {
        Box::pin(async move {
            self.0.record(e).await?;
            Err(StoreError::new("the answer was lost"))
        })
    }
    fn record_marked<'a>(
        &'a self,
        e: &'a StoredEvent,
        token: &'a MarkToken,
        lease: Option<Duration>,
    ) -> BoxFuture<'a, Result<Recorded, StoreError>> {
        Box::pin(async move {
            self.0.record_marked(e, token, lease).await?;
            Err(StoreError::new("the answer was lost"))
        })
    }
    fn confirm<'a>(
        &'a self,
        pk: &'a str,
        token: &'a MarkToken,
    ) -> BoxFuture<'a, Result<Confirmation, StoreError>> {
        self.0.confirm(pk, token)
    }
    fn release<'a>(
        &'a self,
        _: &'a str,
        _: &'a MarkToken,
    ) -> BoxFuture<'a, Result<bool, StoreError>> {
        Box::pin(std::future::ready(Err(StoreError::new("unreachable"))))
    }
    fn by_task<'a>(&'a self, t: &'a str) -> BoxFuture<'a, Result<Option<StoredEvent>, StoreError>> {
        self.0.by_task(t)
    }
    fn by_idempotency_key<'a>(
        &'a self,
        k: &'a str,
    ) -> BoxFuture<'a, Result<Option<StoredEvent>, StoreError>> {
        self.0.by_idempotency_key(k)
    }
    fn subscribe(&self, l: Listener) -> Subscription {
        self.0.subscribe(l)
    }
}

/// `receive` records a first-seen delivery pending (`CompletionHub::RECEIVE_LEASE`) and
/// confirms it before answering: the mark it leaves is the confirmed one (`c:`, kept for
/// the dedupe TTL). A record whose answer is lost, and whose mark then cannot be released,
/// leaves a pending mark (`p:`) that runs out within the lease: the redelivery is 503
/// meanwhile, never a 200 duplicate. Before, that mark was `c:` for 72 h, and every
/// redelivery a duplicate of an event acted on nowhere.
#[tokio::test]
async fn redis_receive_confirms_its_mark_and_a_lost_record_answer_leaves_only_a_pending_one() {
    let ctx = ctx_or_skip!();
    let hub = ctx.hub(ctx.store());
    let pk = new_pipeline_key();
    let body = clone_body(&pk, "task-r1", "cv_r1", None);
    let (ts, sig) = sign_now(&body);
    let d = hub.receive(&ts, &sig, body.as_bytes()).await;
    assert!(matches!(d, Delivery::Fresh(_)), "{d:?}");
    let mark = ctx.key("seen", &pk);
    let held: String = ctx.query(redis::cmd("GET").arg(&mark)).await;
    assert!(held.starts_with("c:"), "{held}");
    assert!(ctx.pttl(&mark).await > 71 * 3600 * 1000, "the dedupe TTL");

    let lost = CompletionHub::with_store(
        Verifier::new(WebhookSecret::new(SECRET)),
        Arc::new(AnswerLost(ctx.store())),
    );
    let pk = new_pipeline_key();
    let body = clone_body(&pk, "task-r2", "cv_r2", None);
    let (ts, sig) = sign_now(&body);
    let d = lost.receive(&ts, &sig, body.as_bytes()).await;
    assert!(matches!(d, Delivery::Unavailable(_)), "{d:?}");
    let mark = ctx.key("seen", &pk);
    let held: String = ctx.query(redis::cmd("GET").arg(&mark)).await;
    assert!(held.starts_with("p:"), "{held}");
    let lease_ms = i64::try_from(CompletionHub::RECEIVE_LEASE.as_millis()).unwrap();
    let ttl = ctx.pttl(&mark).await;
    assert!(ttl > 0 && ttl <= lease_ms, "the mark's TTL is {ttl} ms");
    let (ts, sig) = sign_now(&body);
    let d = hub.receive(&ts, &sig, body.as_bytes()).await;
    assert!(matches!(d, Delivery::InProgress(_)), "{d:?}");
    // Once it runs out, the redelivery is processed (the lease is cut short here, as the
    // clock would).
    let _: i64 = ctx.query(redis::cmd("PEXPIRE").arg(&mark).arg(1)).await;
    eventually("the lease runs out", Duration::from_secs(20), || async {
        !ctx.exists(&mark).await
    })
    .await;
    let (ts, sig) = sign_now(&body);
    let d = hub.receive(&ts, &sig, body.as_bytes()).await;
    assert!(matches!(d, Delivery::Fresh(_)), "{d:?}");
}

/// A delivery the verifier accepts (a body at its 1 MiB limit) can always be recorded with
/// the store's default bounds, however its ids are escaped: the stored JSON holds the body
/// escaped (`\"` becomes `\\\"`, twice as long), and a task id decoded out of it escaped
/// again. Before, the default (twice the body limit and 64 KiB) refused it on every delivery:
/// 503 until VMEG gave up, an event acted on nowhere. (A task id this long is no id a read
/// could use, so the hub indexes the event by its idempotency key only: read back by that.)
#[tokio::test]
async fn redis_any_verified_delivery_fits_the_default_event_bound() {
    let ctx = ctx_or_skip!();
    let hub = ctx.hub(ctx.store());
    let pk = new_pipeline_key();
    let head = format!(
        r#"{{"code":200,"event":"openapi-clone-voice","pipelineKey":"{pk}","extraData":{{"voiceclone":{{"idempotencyKey":"k-bound-{pk}"}}}},"data":{{"taskId":""#
    );
    let tail = r#"","voiceId":"cv_q"}}"#;
    let limit = hub.verifier().body_limit();
    let pairs = (limit - head.len() - tail.len()) / 2;
    let body = format!("{head}{}{tail}", r#"\""#.repeat(pairs));
    assert!(body.len() <= limit && body.len() > limit - 2);
    let (ts, sig) = sign_now(&body);
    let d = hub.receive(&ts, &sig, body.as_bytes()).await;
    assert!(matches!(d, Delivery::Fresh(_)), "{d:?}");
    // And read back whole, by the key that made it.
    let found = hub
        .job_for_idempotency_key(&format!("k-bound-{pk}"))
        .await
        .unwrap();
    let found = found.expect("the delivery is found by its idempotency key");
    assert_eq!(found.pipeline_key, pk);
    let voiceclone::webhook::WebhookPayload::Other(raw) = &found.payload else {
        panic!("an unusable task id makes no clone job: {:?}", found.kind);
    };
    assert_eq!(
        raw.as_str().len(),
        body.len() - head.len() + r#"{"taskId":""#.len() - 1
    );
}

#[tokio::test]
async fn redis_ttls_are_settable_and_the_dedupe_ttl_never_below_the_replay_window() {
    let ctx = ctx_or_skip!();
    // Asked for 1 s: raised to MIN_DEDUPE_TTL, 600 s, twice the replay window (which runs
    // either way around a delivery's timestamp).
    let store = ctx
        .store()
        .dedupe_ttl(Duration::from_secs(1))
        .event_ttl(Duration::from_millis(400));
    let e = stored("task-ttl", "cv_1", Some("key-ttl"));
    let recorded_at = Instant::now();
    assert_eq!(store.record(&e).await.unwrap(), Recorded::Fresh);
    // The event key is read once, after its 400 ms TTL was set: on a loaded machine that
    // read can come later than 400 ms, and the key (rightly) is gone by then (PTTL -2).
    // Gone is accepted only then; a TTL of more than 400 ms, none (-1), or gone sooner fails.
    let event = ctx.pttl(&ctx.key("task", "task-ttl")).await;
    let read_after = recorded_at.elapsed();
    assert!(
        (1..=400).contains(&event) || (event == -2 && read_after >= Duration::from_millis(400)),
        "event TTL {event} ms, read {read_after:?} after recording"
    );
    let mark = ctx.pttl(&ctx.key("seen", &e.pipeline_key)).await;
    assert!((590_000..=600_000).contains(&mark), "mark TTL {mark} ms");
    // The event expires; the mark outlives it.
    eventually("the event expires", Duration::from_secs(5), || async {
        store.by_task("task-ttl").await.unwrap().is_none()
    })
    .await;
    assert_eq!(store.record(&e).await.unwrap(), Recorded::Duplicate);

    // An event TTL of zero keeps nothing but the mark, and still fans the event out.
    let store = ctx.store().event_ttl(Duration::ZERO);
    let (listener, mut signals) = recording_listener();
    let _sub = store.subscribe(listener);
    assert_eq!(
        next_signal(&mut signals, Duration::from_secs(5)).await,
        "restored"
    );
    let e = stored("task-zero", "cv_1", Some("key-zero"));
    assert_eq!(store.record(&e).await.unwrap(), Recorded::Fresh);
    assert_eq!(
        next_signal(&mut signals, Duration::from_secs(5)).await,
        format!("event:{}", e.pipeline_key)
    );
    assert!(!ctx.exists(&ctx.key("task", "task-zero")).await);
    assert!(!ctx.exists(&ctx.key("idem", "key-zero")).await);
    assert!(ctx.exists(&ctx.key("seen", &e.pipeline_key)).await);
}

#[tokio::test]
async fn redis_fans_out_between_two_hubs_and_keeps_an_early_event() {
    let ctx = ctx_or_skip!();
    let hub_a = ctx.hub(
        RedisStore::connect(&ctx.url)
            .await
            .unwrap()
            .prefix(ctx.prefix.clone()),
    );
    let hub_b = ctx.hub(
        RedisStore::connect(&ctx.url)
            .await
            .unwrap()
            .prefix(ctx.prefix.clone()),
    );
    // The simulator sends no webhook: the only deliveries are the ones made here, to A.
    let sim = sim(None, |_| {}).await;
    let client_b = client(&sim, &hub_b);

    // A wait on B, completed by a delivery that reaches A.
    let job = client_b.clone_voice(&sample()).await.unwrap();
    let wait = {
        let (c, id) = (client_b.clone(), job.id.clone());
        tokio::spawn(async move { c.wait_for_clone(&id, &policy()).await })
    };
    eventually(
        "the wait registers on B",
        Duration::from_secs(5),
        || async { hub_b.waiting_tasks() == 1 },
    )
    .await;
    let body = clone_body(&new_pipeline_key(), job.id.as_str(), "cv_from_a", None);
    let (ts, sig) = sign_now(&body);
    let started = Instant::now();
    assert!(matches!(
        hub_a.receive(&ts, &sig, body.as_bytes()).await,
        Delivery::Fresh(_)
    ));
    let voice = tokio::time::timeout(Duration::from_secs(10), wait)
        .await
        .expect("the wait on B ends when A records the event")
        .unwrap()
        .unwrap();
    assert_eq!(voice.id, "cv_from_a");
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "{:?}",
        started.elapsed()
    );
    assert_eq!(
        sim.stats().requests(DETAIL),
        0,
        "completed by webhook, no poll"
    );
    // The same delivery, redelivered to B: a duplicate.
    let (ts, sig) = sign_now(&body);
    assert!(matches!(
        hub_b.receive(&ts, &sig, body.as_bytes()).await,
        Delivery::Duplicate(_)
    ));

    // An event recorded through A before any wait: a wait on B finds it in Redis, and so does
    // a lookup by the submit's idempotency key.
    let job2 = client_b.clone_voice(&sample()).await.unwrap();
    let key = job2.idempotency_key.clone().unwrap();
    let body = clone_body(
        &new_pipeline_key(),
        job2.id.as_str(),
        "cv_early",
        Some(&key),
    );
    let (ts, sig) = sign_now(&body);
    assert!(matches!(
        hub_a.receive(&ts, &sig, body.as_bytes()).await,
        Delivery::Fresh(_)
    ));
    let voice = client_b.wait_for_clone(&job2.id, &policy()).await.unwrap();
    assert_eq!(voice.id, "cv_early");
    let found = client_b
        .job_for_idempotency_key(&key)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(found.idempotency_key(), Some(key.as_str()));
    assert_eq!(sim.stats().requests(DETAIL), 0);
}

#[tokio::test]
async fn redis_malformed_values_are_ignored_without_panic() {
    let ctx = ctx_or_skip!();
    let store = ctx.store().max_event_bytes(4_096);
    let (listener, mut signals) = recording_listener();
    let _sub = store.subscribe(listener);
    assert_eq!(
        next_signal(&mut signals, Duration::from_secs(5)).await,
        "restored"
    );

    // Not JSON, not UTF-8, the wrong JSON, too large, about another task, another type.
    let about_other = serde_json::to_string(&stored("task-other", "cv_x", None)).unwrap();
    let too_large = serde_json::to_string(&stored("task-large", &"v".repeat(5_000), None)).unwrap();
    let values: Vec<(&str, Vec<u8>)> = vec![
        ("task-garbage", b"{not json".to_vec()),
        ("task-binary", vec![0xff, 0xfe, 0x00, 0x01]),
        ("task-wrong-json", br#"{"pipelineKey": 7}"#.to_vec()),
        ("task-large", too_large.clone().into_bytes()),
        ("task-lies", about_other.clone().into_bytes()),
        ("task-empty", Vec::new()),
    ];
    for (task, value) in &values {
        let _: () = ctx
            .query(
                redis::cmd("SET")
                    .arg(ctx.key("task", task))
                    .arg(value.as_slice()),
            )
            .await;
    }
    let _: i64 = ctx
        .query(
            redis::cmd("RPUSH")
                .arg(ctx.key("idem", "key-list"))
                .arg("x"),
        )
        .await;
    let _: i64 = ctx
        .query(
            redis::cmd("HSET")
                .arg(ctx.key("task", "task-hash"))
                .arg("f")
                .arg("v"),
        )
        .await;
    for (task, _) in &values {
        assert_eq!(store.by_task(task).await.unwrap(), None, "{task}");
    }
    assert_eq!(store.by_task("task-hash").await.unwrap(), None);
    assert_eq!(store.by_idempotency_key("key-list").await.unwrap(), None);

    // The same garbage on the channel: ignored, and the subscription keeps working. (The
    // delivery filed under another task is a well-formed event: on the channel, the hubs
    // route it by what it says; it is left out here.)
    for (_, value) in values.iter().filter(|(task, _)| *task != "task-lies") {
        let _: i64 = ctx
            .query(
                redis::cmd("PUBLISH")
                    .arg(ctx.channel())
                    .arg(value.as_slice()),
            )
            .await;
    }
    let good = stored("task-good", "cv_good", None);
    assert_eq!(store.record(&good).await.unwrap(), Recorded::Fresh);
    assert_eq!(
        next_signal(&mut signals, Duration::from_secs(5)).await,
        format!("event:{}", good.pipeline_key),
        "only the well-formed event is passed on"
    );

    // Through a hub: a lookup says "nothing", not an error.
    let hub = ctx.hub(ctx.store());
    let sim = sim(None, |_| {}).await;
    let job = client(&sim, &hub).clone_voice(&sample()).await.unwrap();
    let _: () = ctx
        .query(
            redis::cmd("SET")
                .arg(ctx.key("task", job.id.as_str()))
                .arg("{not json"),
        )
        .await;
    assert!(hub.completion(&job.id).await.unwrap().is_none());
}

#[tokio::test]
async fn redis_forged_events_written_into_redis_are_ignored_by_the_hub() {
    let ctx = ctx_or_skip!();
    let hub = ctx.hub(ctx.store());
    let sim = sim(None, |_| {}).await;
    let client = client(&sim, &hub);
    let job1 = client.clone_voice(&sample()).await.unwrap();
    let job2 = client.clone_voice(&sample()).await.unwrap();

    // job1: a delivery nobody signed (the secret is not known to whoever writes to Redis).
    let mut forged = stored(job1.id.as_str(), "cv_forged", None);
    forged.signature = "00".repeat(32);
    // job2: a genuine delivery for another task, filed under job2 (a replay across tasks).
    let mut replayed = stored("task-elsewhere", "cv_replayed", None);
    replayed.task_id = Some(job2.id.as_str().to_owned());
    for e in [&forged, &replayed] {
        let json = serde_json::to_string(e).unwrap();
        let task = e.task_id.clone().unwrap();
        let _: () = ctx
            .query(redis::cmd("SET").arg(ctx.key("task", &task)).arg(&json))
            .await;
    }
    assert!(hub.completion(&job1.id).await.unwrap().is_none());
    assert!(hub.completion(&job2.id).await.unwrap().is_none());

    // Waits on both tasks hear the forgeries published too, and end by polling with the
    // simulator's voices.
    let p = policy().with_webhook_poll_interval(Duration::from_millis(500));
    let waits: Vec<_> = [&job1, &job2]
        .into_iter()
        .map(|job| {
            let (c, id, p) = (client.clone(), job.id.clone(), p.clone());
            tokio::spawn(async move { c.wait_for_clone(&id, &p).await })
        })
        .collect();
    eventually("both waits register", Duration::from_secs(5), || async {
        hub.waiting_tasks() == 2
    })
    .await;
    eventually("the hub subscribes", Duration::from_secs(5), || async {
        ctx.subscribers().await >= 1
    })
    .await;
    for e in [&forged, &replayed] {
        let json = serde_json::to_string(e).unwrap();
        let _: i64 = ctx
            .query(redis::cmd("PUBLISH").arg(ctx.channel()).arg(&json))
            .await;
    }
    for (wait, job) in waits.into_iter().zip([&job1, &job2]) {
        let voice = wait.await.unwrap().unwrap();
        assert!(
            voice.id != "cv_forged" && voice.id != "cv_replayed",
            "{voice:?}"
        );
        let polled = client.clone_status(&job.id).await.unwrap();
        assert_eq!(polled.voice.unwrap().id, voice.id);
    }
    assert!(sim.stats().requests(DETAIL) >= 2, "both ended by polling");
}

/// Deletes a test's Redis user when the test ends, passed or failed.
struct AclUser {
    url: String,
    name: String,
}

impl Drop for AclUser {
    fn drop(&mut self) {
        if let Ok(client) = redis::Client::open(self.url.as_str())
            && let Ok(mut con) = client.get_connection_with_timeout(Duration::from_secs(2))
        {
            let _ = redis::cmd("ACL")
                .arg("DELUSER")
                .arg(&self.name)
                .query::<i64>(&mut con);
        }
    }
}

#[tokio::test]
async fn redis_a_failure_part_way_leaves_no_mark_so_the_redelivery_is_processed() {
    let ctx = ctx_or_skip!();
    // A Redis user that may write the store's keys but not publish on its channel: the
    // record script stops at PUBLISH, after storing. No mark may be left behind.
    let user = format!("vc-test-{}", uuid::Uuid::new_v4().simple());
    let password = uuid::Uuid::new_v4().simple().to_string();
    let made: redis::RedisResult<()> = redis::cmd("ACL")
        .arg("SETUSER")
        .arg(&user)
        .arg("on")
        .arg(format!(">{password}"))
        .arg(format!("~{}:*", ctx.prefix))
        .arg("resetchannels")
        .arg("+@all")
        .arg("-@admin")
        .arg("-@dangerous")
        .query_async(&mut ctx.raw.clone())
        .await;
    let _user = AclUser {
        url: ctx.url.clone(),
        name: user.clone(),
    };
    if let Err(e) = made {
        assert!(
            !workspace_tests::ci(),
            "ACL SETUSER failed on the CI Redis: {e}"
        );
        eprintln!(
            "notice: this Redis refuses ACL SETUSER ({e}); skipping the part-way failure test"
        );
        return;
    }
    let mut url = url::Url::parse(&ctx.url).unwrap();
    url.set_username(&user).unwrap();
    url.set_password(Some(&password)).unwrap();
    let restricted = ctx.store_at(url.as_str());

    let e = stored("task-partway", "cv_1", Some("key-partway"));
    let err = restricted.record(&e).await.unwrap_err();
    assert!(
        err.reason().contains("publish"),
        "the script stopped at PUBLISH: {err}"
    );
    assert!(!err.reason().contains(&password), "{err}");
    assert!(
        !ctx.exists(&ctx.key("seen", &e.pipeline_key)).await,
        "a failed record left the dedupe mark"
    );
    // Through a hub, the sender is told 503; the redelivery to a healthy instance is fresh.
    let hub = ctx.hub(ctx.store_at(url.as_str()));
    let (ts, sig) = (e.timestamp.clone(), e.signature.clone());
    assert_eq!(
        hub.receive(&ts, &sig, e.body.as_bytes())
            .await
            .http_status(),
        503
    );
    let healthy = ctx.hub(ctx.store());
    let (ts, sig) = sign_now(&e.body);
    assert!(matches!(
        healthy.receive(&ts, &sig, e.body.as_bytes()).await,
        Delivery::Fresh(_)
    ));
}

#[tokio::test]
async fn redis_subscription_reports_lost_and_restored_and_ends_when_dropped() {
    let ctx = ctx_or_skip!();
    let proxy = CutProxy::start(ctx.server_addr().await).await;
    let store = ctx
        .store_at(&ctx.url_via(proxy.addr))
        // A store timeout a redis-server sharing a loaded machine's cores meets (a PING left
        // unanswered for 300 ms gave a spurious lost-and-restored); a silent network is still
        // noticed in about 1.25 s, well within the waits below.
        .timeout(Duration::from_secs(1))
        .reconnect_backoff(Duration::from_millis(20), Duration::from_millis(200))
        .health_check_interval(Duration::from_millis(250));
    let direct = ctx.store();
    let (listener, mut signals) = recording_listener();
    let sub = store.subscribe(listener);
    let within = Duration::from_secs(5);
    assert_eq!(next_signal(&mut signals, within).await, "restored");
    assert_eq!(ctx.subscribers().await, 1);
    let e = stored("task-sub-1", "cv_1", None);
    direct.record(&e).await.unwrap();
    assert_eq!(
        next_signal(&mut signals, within).await,
        format!("event:{}", e.pipeline_key)
    );

    // Connections closed: lost (once), then restored when they are accepted again.
    proxy.set(Mode::Refuse);
    assert_eq!(next_signal(&mut signals, within).await, "lost");
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert!(signals.try_recv().is_err(), "lost is said once per outage");
    proxy.set(Mode::Pass);
    assert_eq!(next_signal(&mut signals, within).await, "restored");
    let e = stored("task-sub-2", "cv_2", None);
    direct.record(&e).await.unwrap();
    assert_eq!(
        next_signal(&mut signals, within).await,
        format!("event:{}", e.pipeline_key)
    );

    // A silent network: the health check's PING goes unanswered.
    proxy.set(Mode::BlackHole);
    assert_eq!(next_signal(&mut signals, within).await, "lost");
    proxy.set(Mode::Pass);
    assert_eq!(next_signal(&mut signals, within).await, "restored");

    // A subscription that starts while the network is silent: lost, in time; then restored.
    proxy.set(Mode::BlackHole);
    assert_eq!(next_signal(&mut signals, within).await, "lost");
    let (listener2, mut signals2) = recording_listener();
    let sub2 = store.subscribe(listener2);
    assert_eq!(next_signal(&mut signals2, within).await, "lost");
    proxy.set(Mode::Pass);
    assert_eq!(next_signal(&mut signals, within).await, "restored");
    assert_eq!(next_signal(&mut signals2, within).await, "restored");
    drop(sub2);

    // Dropping the guard ends the task and its connection.
    drop(sub);
    eventually("the subscription's connection closes", within, || async {
        ctx.subscribers().await == 0
    })
    .await;
    let e = stored("task-sub-3", "cv_3", None);
    direct.record(&e).await.unwrap();
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert!(signals.try_recv().is_err(), "nothing after the drop");
}

/// Review 28 pass 2-b (left): the permission probe a starting instance publishes on the
/// channel (`RedisStore::connect`, `RedisStore::check`) is ignored by the subscribers already
/// there: no signal and no WARN line (it is no event), and the next real event is heard.
#[tokio::test]
async fn redis_a_probe_published_by_a_starting_instance_is_ignored_by_subscribers() {
    let ctx = ctx_or_skip!();
    let (logs, _guard) = crate::adapter_support::capture_logs();
    let (listener, mut signals) = recording_listener();
    let _sub = ctx.store().subscribe(listener);
    let within = Duration::from_secs(5);
    assert_eq!(next_signal(&mut signals, within).await, "restored");
    ctx.store().check().await.unwrap();
    let e = stored("task-probe-1", "cv_1", None);
    ctx.store().record(&e).await.unwrap();
    assert_eq!(
        next_signal(&mut signals, within).await,
        format!("event:{}", e.pipeline_key)
    );
    let logs = logs.take();
    assert!(
        logs.contains("a store's permission probe on the channel; ignored"),
        "{logs}"
    );
    assert!(!logs.contains("WARN"), "{logs}");
}

/// A runtime of its own, for the tests of a subscription that outlives the runtime it was
/// made in.
fn runtime(multi_thread: bool) -> tokio::runtime::Runtime {
    let mut b = if multi_thread {
        tokio::runtime::Builder::new_multi_thread()
    } else {
        tokio::runtime::Builder::new_current_thread()
    };
    b.enable_all().build().unwrap()
}

/// The subscription's task dies with the runtime it runs in (a hub first used in a
/// `#[tokio::test]`, a `block_on` since returned): it says `lost` then, while its guard is
/// still held. Before: it ended without a word, and the hub's waits polled on the slow
/// schedule, never told.
#[test]
fn redis_a_subscription_gone_with_its_runtime_says_lost() {
    let main = runtime(true);
    let Some(ctx) = main.block_on(Ctx::new()) else {
        return;
    };
    let store = ctx.store();
    let (listener, mut signals) = recording_listener();
    let within = Duration::from_secs(5);
    let sub = runtime(false).block_on(async {
        let sub = store.subscribe(listener);
        assert_eq!(next_signal(&mut signals, within).await, "restored");
        sub
    });
    main.block_on(async {
        assert_eq!(next_signal(&mut signals, within).await, "lost");
        eventually("the dead task's connection closes", within, || async {
            ctx.subscribers().await == 0
        })
        .await;
    });
    drop(sub);
}

/// A hub first used in a runtime since shut down (its subscription died with it) hears
/// webhooks again in the next runtime: the next use subscribes again, and a wait ends on
/// its webhook within seconds, not on the slow fallback poll. Before: the subscription was
/// made once, and no webhook reached a wait again.
#[test]
fn redis_a_hub_first_used_in_a_runtime_since_shut_down_hears_webhooks_again() {
    let main = runtime(true);
    let Some(ctx) = main.block_on(Ctx::new()) else {
        return;
    };
    let store = Arc::new(ctx.store());
    let hub = CompletionHub::with_store(Verifier::new(WebhookSecret::new(SECRET)), store.clone());
    runtime(false).block_on(async {
        // The first use (a delivery for some task): the hub subscribes, in this runtime.
        let body = clone_body(&new_pipeline_key(), "task-rt-other", "cv_1", None);
        let (ts, sig) = sign_now(&body);
        assert_eq!(
            hub.receive(&ts, &sig, body.as_bytes()).await.http_status(),
            200
        );
        eventually("subscribed", Duration::from_secs(5), || async {
            ctx.subscribers().await == 1
        })
        .await;
    });
    main.block_on(async {
        let client = Client::builder(Provider::Vmeg)
            .api_key("sk-redis-runtime-test")
            .base_url("http://127.0.0.1:9/")
            .retry(voiceclone::RetryPolicy::none())
            .completion_hub(hub.clone())
            .build()
            .unwrap();
        // No poll within the test: only the webhook can end the wait.
        let policy = WaitPolicy::for_provider(Provider::Vmeg)
            .with_webhook_poll_interval(Duration::from_secs(600))
            .with_deadline(Some(Duration::from_secs(60)));
        let id = voiceclone::JobId::new("task-rt");
        let wait = tokio::spawn(async move { client.wait_for_clone(&id, &policy).await });
        eventually("subscribed again", Duration::from_secs(5), || async {
            ctx.subscribers().await == 1
        })
        .await;
        let body = clone_body(&new_pipeline_key(), "task-rt", "cv_rt", None);
        let (ts, sig) = sign_now(&body);
        assert_eq!(
            hub.receive(&ts, &sig, body.as_bytes()).await.http_status(),
            200
        );
        let voice = tokio::time::timeout(Duration::from_secs(5), wait)
            .await
            .expect("the wait was not ended by its webhook within 5 s")
            .unwrap()
            .unwrap();
        assert_eq!(voice.id.as_str(), "cv_rt");
    });
}

/// The store's command connection is driven by a task of the runtime that connected; once
/// that runtime has shut down, the first command in the next runtime connects again and
/// succeeds. Before: it failed on the dead connection (which it then dropped), so a store
/// shared across `#[tokio::test]`s or `block_on`s failed one delivery's record (a 503) or
/// one lookup after each.
#[test]
fn redis_commands_work_at_once_in_a_runtime_after_the_one_that_connected() {
    let main = runtime(true);
    let Some(ctx) = main.block_on(Ctx::new()) else {
        return;
    };
    let store = ctx.store();
    for multi_thread in [false, true] {
        runtime(multi_thread).block_on(async {
            store.ping().await.expect("first runtime");
        });
    }
    main.block_on(async {
        store
            .ping()
            .await
            .expect("the first command after the runtimes that connected");
        let e = stored("task-rt-cmd", "cv_rt_cmd", None);
        store.record(&e).await.expect("a record right after");
    });
}

/// Runs `f` and says how long it took; fails the test (rather than hanging it) after 10 s.
async fn timed<T>(what: &str, f: impl std::future::Future<Output = T>) -> (T, Duration) {
    let started = Instant::now();
    let out = tokio::time::timeout(Duration::from_secs(10), f)
        .await
        .unwrap_or_else(|_| panic!("{what} hung for 10 s"));
    (out, started.elapsed())
}

#[tokio::test]
async fn redis_that_never_answers_never_hangs_the_store() {
    let ctx = ctx_or_skip!();
    let proxy = CutProxy::start(ctx.server_addr().await).await;
    proxy.set(Mode::BlackHole);
    let url = ctx.url_via(proxy.addr);

    // connect: bounded by the default timeout (2 s).
    let (err, took) = timed("connect", RedisStore::connect(&url)).await;
    assert!(took < Duration::from_secs(4), "connect took {took:?}");
    let err = err.unwrap_err();
    assert!(
        matches!(
            err.kind(),
            ErrorKind::Webhook(voiceclone::webhook::WebhookFailure::StoreUnavailable { .. })
        ),
        "{err}"
    );

    let limit = Duration::from_millis(300);
    let store = ctx.store_at(&url).timeout(limit);
    let e = stored("task-hole", "cv_1", Some("key-hole"));
    let (r, took) = timed("record", store.record(&e)).await;
    assert!(
        r.is_err() && took < limit * 4,
        "record: {r:?} after {took:?}"
    );
    let (r, took) = timed("by_task", store.by_task("task-hole")).await;
    assert!(
        r.is_err() && took < limit * 4,
        "by_task: {r:?} after {took:?}"
    );
    let (r, took) = timed("by_idempotency_key", store.by_idempotency_key("key-hole")).await;
    assert!(
        r.is_err() && took < limit * 4,
        "by_idempotency_key: {r:?} after {took:?}"
    );
    // The receiver answers 503 in time.
    let hub = ctx.hub(ctx.store_at(&url).timeout(limit));
    let (d, took) = timed(
        "receive",
        hub.receive(&e.timestamp, &e.signature, e.body.as_bytes()),
    )
    .await;
    assert_eq!(d.http_status(), 503);
    assert!(took < limit * 4, "receive took {took:?}");

    // The network heals: the same store reconnects and records.
    proxy.set(Mode::Pass);
    assert_eq!(store.record(&e).await.unwrap(), Recorded::Fresh);
}

#[tokio::test]
async fn redis_url_password_never_appears_in_debug_errors_or_logs() {
    let ctx = ctx_or_skip!();
    let (logs, _guard) = workspace_tests::captured::capture(tracing::Level::TRACE);

    const PASSWORD: &str = "S3cret-Pa55word-for-redis";
    let mut wrong = url::Url::parse(&ctx.url).unwrap();
    wrong.set_username("vc-nobody").unwrap();
    wrong.set_password(Some(PASSWORD)).unwrap();
    let (_refusing, port) = workspace_tests::refusing_port();
    let closed = {
        let mut u = wrong.clone();
        u.set_port(Some(port)).unwrap();
        u
    };
    let mut seen = Vec::new();
    for url in [wrong.as_str(), closed.as_str()] {
        let store = RedisStore::open(url)
            .unwrap()
            .timeout(Duration::from_millis(500));
        seen.push(format!("{store:?} {}", store.redacted_url()));
        assert!(
            store.redacted_url().contains("vc-nobody:[redacted]@"),
            "{}",
            store.redacted_url()
        );
        let err = RedisStore::connect(url).await.unwrap_err();
        seen.push(format!("{err} {err:?}"));
        let e = stored("task-pw", "cv_1", None);
        let err = store.record(&e).await.unwrap_err();
        seen.push(format!("{err} {err:?}"));
        let err = store.by_task("task-pw").await.unwrap_err();
        seen.push(format!("{err} {err:?}"));
        // The subscription's warnings.
        let (listener, mut signals) = recording_listener();
        let _sub = store.subscribe(listener);
        assert_eq!(
            next_signal(&mut signals, Duration::from_secs(5)).await,
            "lost"
        );
        // Through a hub: the 503's error.
        let hub = ctx.hub(
            RedisStore::open(url)
                .unwrap()
                .timeout(Duration::from_millis(500)),
        );
        let d = hub
            .receive(&e.timestamp, &e.signature, e.body.as_bytes())
            .await;
        assert_eq!(d.http_status(), 503);
        seen.push(format!("{d:?}"));
    }
    let logs = logs.take();
    assert!(
        logs.contains("cannot subscribe"),
        "the failures were logged: {logs}"
    );
    for text in seen.iter().chain([&logs]) {
        assert!(!text.contains(PASSWORD), "the password leaked: {text}");
        assert!(
            !text.contains("S3cret"),
            "a piece of the password leaked: {text}"
        );
    }
    // The refusal itself is explained (wrong password, or no password expected).
    assert!(
        seen.iter()
            .any(|t| t.contains("WRONGPASS") || t.contains("AUTH") || t.contains("auth")),
        "{seen:#?}"
    );
}

// ---------------------------------------------------------------------------------------------
// (b) Two instances, one Redis, a round-robin balancer: each task processed once
// ---------------------------------------------------------------------------------------------

#[tokio::test]
async fn redis_redeliveries_to_the_same_and_another_instance_are_processed_once() {
    let ctx = ctx_or_skip!();
    let hub_a = ctx.hub(
        RedisStore::connect(&ctx.url)
            .await
            .unwrap()
            .prefix(ctx.prefix.clone()),
    );
    let hub_b = ctx.hub(
        RedisStore::connect(&ctx.url)
            .await
            .unwrap()
            .prefix(ctx.prefix.clone()),
    );
    let rx_a = Receiver::start(hub_a.clone()).await;
    let rx_b = Receiver::start(hub_b.clone()).await;
    let lb = RoundRobin::start(vec![rx_a.addr, rx_b.addr]).await;
    let sim = sim(Some(&format!("http://{}{PATH}", lb.addr)), |_| {}).await;
    let client_a = client(&sim, &hub_a);
    let client_b = client(&sim, &hub_b);

    // Three clones, each waited for on both instances at once: whichever instance the
    // balancer hands the webhook to, both waits end by it, without a poll.
    let tasks = 3;
    let mut jobs = Vec::new();
    for _ in 0..tasks {
        let job = client_a.clone_voice(&sample()).await.unwrap();
        let p = policy();
        let (on_a, on_b) = tokio::join!(
            client_a.wait_for_clone(&job.id, &p),
            client_b.wait_for_clone(&job.id, &p)
        );
        assert_eq!(on_a.unwrap().id, on_b.unwrap().id);
        jobs.push(job);
    }
    assert_eq!(
        sim.stats().requests(DETAIL),
        0,
        "every wait ended by webhook"
    );
    let deliveries = sim
        .wait_for_deliveries(tasks, Duration::from_secs(10))
        .await;
    assert_eq!(deliveries.len(), tasks);
    assert!(
        deliveries.iter().all(|d| d.status == Some(200)),
        "{deliveries:?}"
    );

    // VMEG redelivers (signed afresh each time), here twice per instance, through the
    // balancer; and the original delivery once more, as it was.
    for d in &deliveries {
        for _ in 0..4 {
            let (ts, sig) = sign_now(&d.body);
            assert_eq!(post(lb.addr, &ts, &sig, &d.body).await, 200);
        }
        assert_eq!(
            post(lb.addr, &d.timestamp, &d.signature, &d.body).await,
            200
        );
    }

    // Processed once per task across both instances; both instances took deliveries.
    let mut fresh: HashMap<String, usize> = HashMap::new();
    for pk in rx_a.fresh().into_iter().chain(rx_b.fresh()) {
        *fresh.entry(pk).or_default() += 1;
    }
    assert_eq!(fresh.len(), tasks, "{fresh:?}");
    for d in &deliveries {
        assert_eq!(
            fresh.get(&d.pipeline_key),
            Some(&1),
            "{}: {fresh:?}",
            d.pipeline_key
        );
    }
    let (a, b) = (rx_a.statuses(), rx_b.statuses());
    assert_eq!(a.len() + b.len(), tasks * 6);
    assert!(!a.is_empty() && !b.is_empty(), "A {a:?}, B {b:?}");
    assert!(a.iter().chain(&b).all(|s| *s == 200), "A {a:?}, B {b:?}");
    // Either instance can look any task up.
    for job in &jobs {
        assert!(hub_a.completion(&job.id).await.unwrap().is_some());
        assert!(hub_b.completion(&job.id).await.unwrap().is_some());
    }
}

// ---------------------------------------------------------------------------------------------
// (c) Redis unreachable mid-run
// ---------------------------------------------------------------------------------------------

/// A receiver whose hub reaches Redis through a proxy; the proxy is cut (`mode`) while two
/// clones run (one started before the cut, one during it).
async fn unreachable_mid_run(mode: Mode) {
    let Some(ctx) = Ctx::new().await else {
        return;
    };
    let proxy = CutProxy::start(ctx.server_addr().await).await;
    let store = ctx
        .store_at(&ctx.url_via(proxy.addr))
        // A store timeout a redis-server sharing a loaded machine's cores meets (a PING left
        // unanswered for 300 ms gave a spurious lost-and-restored); a silent network is still
        // noticed in about 1.25 s, well within the waits below.
        .timeout(Duration::from_secs(1))
        .reconnect_backoff(Duration::from_millis(20), Duration::from_millis(200))
        .health_check_interval(Duration::from_millis(250));
    let hub = ctx.hub(store);
    let rx = Receiver::start(hub.clone()).await;
    // The clones finish when the test moves the simulated clock, after the cut: with a
    // real-time duration, a slow machine could reach the cut after the first clone's webhook
    // was already accepted.
    let sim = sim(Some(&rx.url), |c| {
        c.speed = 1.0;
        c.clone_duration = Duration::from_secs(3600);
        c.webhook_retry_delays = vec![Duration::from_millis(500); 16];
    })
    .await;
    let client = client(&sim, &hub);
    // The normal schedule polls every 100-200 ms; the webhook fallback only every 60 s, so a
    // wait that ends within seconds fell back to the normal schedule.
    let p = policy()
        .with_first_interval(Duration::from_millis(100))
        .with_max_interval(Duration::from_millis(200))
        .with_webhook_poll_interval(Duration::from_secs(60));
    let spawn_wait = |job: &voiceclone::CloneJob| {
        let (c, id, p) = (client.clone(), job.id.clone(), p.clone());
        tokio::spawn(async move { c.wait_for_clone(&id, &p).await })
    };

    let job1 = client.clone_voice(&sample()).await.unwrap();
    let wait1 = spawn_wait(&job1);
    eventually("the hub subscribes", Duration::from_secs(5), || async {
        ctx.subscribers().await == 1 && hub.waiting_tasks() == 1
    })
    .await;
    proxy.set(mode);
    let job2 = client.clone_voice(&sample()).await.unwrap();
    let wait2 = spawn_wait(&job2);
    // Both clones finish now, with Redis unreachable: their webhooks cannot be recorded.
    sim.advance_clock(Duration::from_secs(3600));

    let mut voices = Vec::new();
    for (wait, job) in [(wait1, &job1), (wait2, &job2)] {
        let voice = tokio::time::timeout(Duration::from_secs(15), wait)
            .await
            .expect("the wait fell back to the normal schedule and completed")
            .unwrap()
            .unwrap();
        let polled = client.clone_status(&job.id).await.unwrap();
        assert_eq!(polled.voice.unwrap().id, voice.id, "nothing lost");
        voices.push(voice.id);
    }
    assert!(sim.stats().requests(DETAIL) >= 2);

    // Meanwhile the simulator's deliveries were answered 503 (VMEG redelivers).
    let (sim, jobs) = (&sim, [&job1, &job2]);
    eventually(
        "both tasks' webhooks were refused 503",
        Duration::from_secs(10),
        || async move {
            let d = sim.webhook_deliveries();
            jobs.iter().all(|j| {
                d.iter()
                    .any(|d| d.task_id == j.id.as_str() && d.status == Some(503))
            })
        },
    )
    .await;
    assert!(
        sim.webhook_deliveries()
            .iter()
            .all(|d| d.status == Some(503)),
        "{:?}",
        sim.webhook_deliveries()
    );
    assert!(rx.fresh().is_empty());
    assert_eq!(hub.waiting_tasks(), 0);

    // Redis is back: the next redelivery of each is recorded, once.
    proxy.set(Mode::Pass);
    eventually(
        "each webhook is accepted after Redis is back",
        Duration::from_secs(15),
        || async move {
            let d = sim.webhook_deliveries();
            jobs.iter().all(|j| {
                d.iter()
                    .any(|d| d.task_id == j.id.as_str() && d.status == Some(200))
            })
        },
    )
    .await;
    let delivered = sim.webhook_deliveries();
    for (job, voice) in [&job1, &job2].into_iter().zip(&voices) {
        let ok: Vec<_> = delivered
            .iter()
            .filter(|d| d.task_id == job.id.as_str() && d.status == Some(200))
            .collect();
        assert_eq!(ok.len(), 1, "{ok:?}");
        // Once more, signed afresh: a duplicate.
        let (ts, sig) = sign_now(&ok[0].body);
        assert_eq!(post(rx.addr, &ts, &sig, &ok[0].body).await, 200);
        // And the hub now knows the task, with the voice the wait returned.
        let event = hub.completion(&job.id).await.unwrap().expect("recorded");
        match event.payload {
            voiceclone::webhook::WebhookPayload::Clone(j) => {
                assert_eq!(j.voice.unwrap().id, *voice)
            }
            other => panic!("{other:?}"),
        }
    }
    let fresh = rx.fresh();
    assert_eq!(fresh.len(), 2, "{fresh:?}");
    assert_ne!(fresh[0], fresh[1]);
    assert_eq!(*rx.statuses().last().unwrap(), 200);
}

#[tokio::test]
async fn redis_refusing_connections_mid_run_gives_503_and_waits_complete_by_polling() {
    unreachable_mid_run(Mode::Refuse).await;
}

#[tokio::test]
async fn redis_black_holed_mid_run_gives_503_and_waits_complete_by_polling() {
    unreachable_mid_run(Mode::BlackHole).await;
}

/// One delivery handed to two instances at the same moment, several times over (VMEG's
/// retry racing the original, a balancer fanning out): exactly one receive is `Fresh`
/// (printed or acted on once), every other one a `Duplicate` (200) or, while the fresh
/// one's mark is pending between its record and its confirm, `InProgress` (503: VMEG tries
/// again). Once the fresh one has answered, a redelivery is a `Duplicate`.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn redis_one_delivery_raced_on_two_instances_is_fresh_exactly_once() {
    let ctx = ctx_or_skip!();
    let hub_a = ctx.hub(ctx.store());
    let hub_b = ctx.hub(ctx.store());
    for round in 0..20 {
        let body = clone_body(
            &new_pipeline_key(),
            &format!("task-race-{round}"),
            "cv_r",
            None,
        );
        let mut racers = tokio::task::JoinSet::new();
        for i in 0..8 {
            let hub = if i % 2 == 0 {
                hub_a.clone()
            } else {
                hub_b.clone()
            };
            let body = body.clone();
            racers.spawn(async move {
                let (ts, sig) = sign_now(&body);
                hub.receive(&ts, &sig, body.as_bytes()).await
            });
        }
        let mut fresh = 0;
        while let Some(d) = racers.join_next().await {
            match d.unwrap() {
                Delivery::Fresh(_) => fresh += 1,
                Delivery::Duplicate(_) | Delivery::InProgress(_) => {}
                other => panic!("{other:?}"),
            }
        }
        assert_eq!(fresh, 1, "round {round}");
        let (ts, sig) = sign_now(&body);
        let d = hub_b.receive(&ts, &sig, body.as_bytes()).await;
        assert!(matches!(d, Delivery::Duplicate(_)), "round {round}: {d:?}");
    }
}

/// A fake Redis on loopback: `PING`, `CLIENT ...`, `AUTH` and `ROLE` (a primary) answered as
/// Redis does, every other command (the record script's `EVALSHA` / `EVAL`, `SCRIPT LOAD`) with
/// `reply`, raw RESP; an empty `reply` closes the connection mid-command.
async fn fake_redis(reply: &'static [u8]) -> SocketAddr {
    fake_redis_as(ROLE_PRIMARY, reply, reply).await.0
}

/// `ROLE` as a primary answers it.
const ROLE_PRIMARY: &[u8] = b"*3\r\n$6\r\nmaster\r\n:0\r\n*0\r\n";

/// A fake Redis answering `ROLE` with `role`, and every command but `PING`, `CLIENT`, `AUTH`
/// and `ROLE` with `first` on the first connection that runs a script (`EVALSHA`, `EVAL`,
/// `SCRIPT`) and with `later` on any other: a node that was the primary when the store
/// connected and the one behind the address since. Also returns how many connections ran a
/// script (a subscription's connection runs none, so it is not counted).
async fn fake_redis_as(
    role: &'static [u8],
    first: &'static [u8],
    later: &'static [u8],
) -> (SocketAddr, Arc<std::sync::atomic::AtomicUsize>) {
    use std::sync::atomic::{AtomicUsize, Ordering};
    use tokio::io::{AsyncBufReadExt, BufReader};
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let scripted = Arc::new(AtomicUsize::new(0));
    let counted = scripted.clone();
    tokio::spawn(async move {
        while let Ok((stream, _)) = listener.accept().await {
            let counted = counted.clone();
            tokio::spawn(async move {
                let (read, mut write) = stream.into_split();
                let mut read = BufReader::new(read);
                // This connection's place among those that ran a script.
                let mut index = None;
                loop {
                    // One command: *N then N bulk strings.
                    let mut line = String::new();
                    if read.read_line(&mut line).await.unwrap_or(0) == 0 {
                        return;
                    }
                    let n: usize = line.trim_start_matches('*').trim().parse().unwrap_or(0);
                    let mut args = Vec::new();
                    for _ in 0..n {
                        let mut len = String::new();
                        let _ = read.read_line(&mut len).await;
                        let len: usize = len.trim_start_matches('$').trim().parse().unwrap_or(0);
                        let mut arg = vec![0u8; len + 2];
                        if read.read_exact(&mut arg).await.is_err() {
                            return;
                        }
                        arg.truncate(len);
                        args.push(String::from_utf8_lossy(&arg).to_uppercase());
                    }
                    let command = args.first().map(String::as_str);
                    // `RedisStore::check`'s probe (the release script on a key of its own)
                    // is not the store's use of the connection.
                    let probe = args.iter().any(|a| a.contains(":SEEN:VOICECLONE-PROBE:"));
                    if index.is_none()
                        && !probe
                        && matches!(command, Some("EVALSHA" | "EVAL" | "SCRIPT"))
                    {
                        index = Some(counted.fetch_add(1, Ordering::SeqCst));
                    }
                    let reply = if index == Some(0) { first } else { later };
                    let answer: &[u8] = match command {
                        Some("PING") => b"+PONG\r\n",
                        Some("CLIENT" | "AUTH") => b"+OK\r\n",
                        Some("ROLE") => role,
                        _ if reply.is_empty() => return,
                        _ => reply,
                    };
                    if write.write_all(answer).await.is_err() {
                        return;
                    }
                }
            });
        }
    });
    (addr, scripted)
}

/// A fake Redis whose every pub/sub connection is cut right after its `SUBSCRIBE` is
/// confirmed (a proxy cutting pub/sub connections, one oversized `PUBLISH` repeated, client
/// eviction): `PING`, `CLIENT` and `AUTH` answered as Redis does.
async fn fake_redis_cutting_subscriptions() -> SocketAddr {
    use tokio::io::{AsyncBufReadExt, BufReader};
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        while let Ok((stream, _)) = listener.accept().await {
            tokio::spawn(async move {
                let (read, mut write) = stream.into_split();
                let mut read = BufReader::new(read);
                loop {
                    let mut line = String::new();
                    if read.read_line(&mut line).await.unwrap_or(0) == 0 {
                        return;
                    }
                    let n: usize = line.trim_start_matches('*').trim().parse().unwrap_or(0);
                    let mut args = Vec::new();
                    for _ in 0..n {
                        let mut len = String::new();
                        let _ = read.read_line(&mut len).await;
                        let len: usize = len.trim_start_matches('$').trim().parse().unwrap_or(0);
                        let mut arg = vec![0u8; len + 2];
                        if read.read_exact(&mut arg).await.is_err() {
                            return;
                        }
                        arg.truncate(len);
                        args.push(String::from_utf8_lossy(&arg).into_owned());
                    }
                    let command = args.first().map(|c| c.to_uppercase());
                    let answer = match command.as_deref() {
                        Some("SUBSCRIBE") => {
                            let channel = args.get(1).cloned().unwrap_or_default();
                            let confirmed = format!(
                                "*3\r\n$9\r\nsubscribe\r\n${}\r\n{channel}\r\n:1\r\n",
                                channel.len()
                            );
                            let _ = write.write_all(confirmed.as_bytes()).await;
                            return; // cut at once
                        }
                        Some("PING") => "+PONG\r\n".to_owned(),
                        _ => "+OK\r\n".to_owned(),
                    };
                    if write.write_all(answer.as_bytes()).await.is_err() {
                        return;
                    }
                }
            });
        }
    });
    addr
}

/// Review 33-c #5: a subscription cut right after each `SUBSCRIBE` is confirmed backs off as
/// a failed connection does (doubling), since it never held through a health check. Before:
/// the backoff went back to its first step at every confirmed `SUBSCRIBE`, so the store
/// reconnected every 50-100 ms for as long as the cutting lasted, waking every wait each
/// time. Measured from below only (a sleep is never shorter than asked): the 5th pause is at
/// least half of 16 times the first step.
#[tokio::test]
async fn redis_a_subscription_cut_at_once_backs_off_instead_of_flapping() {
    let addr = fake_redis_cutting_subscriptions().await;
    let first = Duration::from_millis(40);
    let store = RedisStore::open(&format!("redis://{addr}/"))
        .unwrap()
        .reconnect_backoff(first, Duration::from_secs(10));
    let restored = Arc::new(Mutex::new(Vec::new()));
    let seen = restored.clone();
    let listener: Listener = Arc::new(move |signal: StoreSignal| {
        if matches!(signal, StoreSignal::Restored) {
            seen.lock().unwrap().push(Instant::now());
        }
    });
    let _sub = store.subscribe(listener);
    eventually(
        "six confirmed subscriptions",
        Duration::from_secs(10),
        || {
            let n = restored.lock().unwrap().len();
            async move { n >= 6 }
        },
    )
    .await;
    let at = restored.lock().unwrap().clone();
    let fifth_pause = at[5] - at[4];
    assert!(
        fifth_pause >= first * 16 / 2,
        "the 5th reconnection came {fifth_pause:?} after the 4th: the backoff was reset"
    );
}

/// README: "one Redis server (or a primary behind one address)". When the node behind the
/// address is demoted (a failover behind a proxy or a DNS name whose TCP sessions stay
/// open), its writes answer `READONLY` (Redis 7), `ERR Error running script ... -READONLY`
/// (Redis 6) or `MASTERDOWN`: that connection is dropped, so the next command reconnects
/// and reaches the new primary. Before: the connection was kept, and every delivery was
/// answered 503 until the process restarted.
#[tokio::test]
async fn redis_a_connection_answering_readonly_is_dropped_and_the_next_delivery_reconnects() {
    use std::sync::atomic::Ordering;
    for readonly in [
        &b"-READONLY You can't write against a read only replica.\r\n"[..],
        b"-ERR Error running script (call to f_x): @user_script:10: -READONLY You can't write \
          against a read only replica.\r\n",
        b"-MASTERDOWN Link with MASTER is down and replica-serve-stale-data is set to 'no'.\r\n",
    ] {
        let shown = String::from_utf8_lossy(readonly);
        let (addr, scripted) = fake_redis_as(ROLE_PRIMARY, readonly, b":1\r\n").await;
        let store = RedisStore::connect(&format!("redis://{addr}/"))
            .await
            .unwrap()
            .timeout(Duration::from_millis(500));
        let hub =
            CompletionHub::with_store(Verifier::new(WebhookSecret::new(SECRET)), Arc::new(store));
        let body = clone_body(&new_pipeline_key(), "task-readonly", "cv_ro", None);
        let (ts, sig) = sign_now(&body);
        let d = hub.receive(&ts, &sig, body.as_bytes()).await;
        assert!(matches!(d, Delivery::Unavailable(_)), "{shown:?}: {d:?}");
        let (ts, sig) = sign_now(&body);
        let d = hub.receive(&ts, &sig, body.as_bytes()).await;
        assert!(matches!(d, Delivery::Fresh(_)), "{shown:?}: {d:?}");
        assert_eq!(scripted.load(Ordering::SeqCst), 2, "{shown:?}");
    }
}

/// A URL naming a replica (or a "reader endpoint") is refused by `connect`, with the
/// reason: every write there would fail, so `webhook listen --redis-url-env` exits 3 before
/// serving instead of answering 503 to every delivery. A server that does not answer `ROLE`
/// (an ACL user without it, a proxy) is not refused for that.
#[tokio::test]
async fn redis_connect_refuses_a_replica_and_accepts_a_server_that_hides_its_role() {
    let replica = b"*5\r\n$5\r\nslave\r\n$9\r\n127.0.0.1\r\n:6379\r\n$9\r\nconnected\r\n:42\r\n";
    let (addr, _) = fake_redis_as(replica, b":1\r\n", b":1\r\n").await;
    let err = RedisStore::connect(&format!("redis://u:hunter2-replica@{addr}/"))
        .await
        .unwrap_err();
    let text = format!("{err} {err:?}");
    assert!(
        matches!(
            err.kind(),
            ErrorKind::Webhook(voiceclone::webhook::WebhookFailure::StoreUnavailable { .. })
        ),
        "{text}"
    );
    assert!(text.contains("replica"), "{text}");
    assert!(!text.contains("hunter2"), "{text}");
    // Review 33 pass 2 (hook) #2: a replica that hides its role still refuses the probes'
    // writes, and is refused for it (before: accepted, and every record failed).
    for refusal in [
        &b"-READONLY You can't write against a read only replica.\r\n"[..],
        b"-MASTERDOWN Link with MASTER is down and replica-serve-stale-data is set to 'no'.\r\n",
    ] {
        let hidden = b"-ERR unknown command 'ROLE'\r\n";
        let (addr, _) = fake_redis_as(hidden, refusal, refusal).await;
        let shown = String::from_utf8_lossy(refusal);
        let err = RedisStore::connect(&format!("redis://{addr}/"))
            .await
            .unwrap_err();
        assert!(
            err.to_string().contains("read-only replica"),
            "{shown:?}: {err}"
        );
    }
    for hidden in [
        &b"-NOPERM this user has no permissions to run the 'role' command\r\n"[..],
        b"-ERR unknown command 'ROLE'\r\n",
        ROLE_PRIMARY,
    ] {
        let (addr, _) = fake_redis_as(hidden, b":1\r\n", b":1\r\n").await;
        let shown = String::from_utf8_lossy(hidden);
        let store = RedisStore::connect(&format!("redis://{addr}/")).await;
        assert!(store.is_ok(), "{shown:?}: {store:?}");
        let pk = new_pipeline_key();
        assert!(
            store
                .unwrap()
                .release(&pk, &MarkToken::new())
                .await
                .unwrap(),
            "{shown:?}"
        );
    }
}

/// A delivery's mark key holding another type (another program writing under the prefix)
/// is no proof the delivery was acted on: the record fails (503, VMEG redelivers) instead of
/// answering 200 as a duplicate for an event nobody stored. Before: `Duplicate`, and the
/// event was lost to every hub.
#[tokio::test]
async fn redis_a_mark_of_another_type_is_a_failure_never_a_duplicate() {
    let ctx = ctx_or_skip!();
    let store = ctx.store();
    let e = stored("task-typed", "cv_t", None);
    let _: i64 = ctx
        .query(
            redis::cmd("LPUSH")
                .arg(ctx.key("seen", &e.pipeline_key))
                .arg("x"),
        )
        .await;
    let err = store.record(&e).await.unwrap_err();
    assert!(
        err.to_string().contains("not one of this store's marks"),
        "{err}"
    );
    assert_eq!(store.by_task("task-typed").await.unwrap(), None);
    // Once the key is gone, the redelivery is recorded.
    let _: i64 = ctx
        .query(redis::cmd("DEL").arg(ctx.key("seen", &e.pipeline_key)))
        .await;
    assert_eq!(store.record(&e).await.unwrap(), Recorded::Fresh);
    assert_eq!(store.by_task("task-typed").await.unwrap(), Some(e));

    // A string this store never writes there is no mark of ours either; its own confirmed
    // mark is (below), and so is the older `1` (`redis_marks_are_removed_and_confirmed_...`).
    let token = MarkToken::new();
    for foreign in [
        "x".to_owned(),
        "0".to_owned(),
        "c:".to_owned(),
        format!("c:{}x", token.as_str()),
        format!("c:{}", token.as_str().to_uppercase()),
        format!("C:{}", token.as_str()),
    ] {
        let e = stored("task-foreign", "cv_t", None);
        let mark = ctx.key("seen", &e.pipeline_key);
        let _: () = ctx.query(redis::cmd("SET").arg(&mark).arg(&foreign)).await;
        let err = store.record(&e).await.unwrap_err();
        assert!(
            err.to_string().contains("not one of this store's marks"),
            "{foreign}: {err}"
        );
        assert_eq!(
            store.by_task("task-foreign").await.unwrap(),
            None,
            "{foreign}"
        );
        let _: () = ctx
            .query(
                redis::cmd("SET")
                    .arg(&mark)
                    .arg(format!("c:{}", token.as_str())),
            )
            .await;
        assert_eq!(store.record(&e).await.unwrap(), Recorded::Duplicate);
        let _: i64 = ctx.query(redis::cmd("DEL").arg(&mark)).await;
    }
}

/// A store on a fake Redis answering every script with `reply`.
async fn store_answering(reply: &'static [u8]) -> RedisStore {
    let addr = fake_redis(reply).await;
    RedisStore::connect(&format!("redis://{addr}/"))
        .await
        .unwrap()
        .timeout(Duration::from_millis(500))
}

/// A Redis (or something in its place) that answers the record script with anything but
/// its integer 0, 1 or 3, or hangs up mid-command: the delivery is not recorded (503, VMEG
/// redelivers), never taken for a duplicate (200 for an event nobody acted on). The string
/// `0` (simple or bulk, what a proxy or a stand-in whose Lua bridge turns numbers into
/// strings answers) included: before, it read as the integer and the event was lost.
#[tokio::test]
async fn redis_an_unexpected_answer_to_the_record_is_a_503_never_a_duplicate() {
    let body = clone_body(&new_pipeline_key(), "task-odd", "cv_o", None);
    let received = |reply: &'static [u8]| {
        let body = body.clone();
        async move {
            let store = store_answering(reply).await;
            let hub = CompletionHub::with_store(
                Verifier::new(WebhookSecret::new(SECRET)),
                Arc::new(store),
            );
            let (ts, sig) = sign_now(&body);
            hub.receive(&ts, &sig, body.as_bytes()).await
        }
    };
    // The fake is read as Redis is: its integer 0 is a duplicate, 1 a first delivery.
    let d = received(b":0\r\n").await;
    assert!(matches!(d, Delivery::Duplicate(_)), "{d:?}");
    let d = received(b":1\r\n").await;
    assert!(matches!(d, Delivery::Fresh(_)), "{d:?}");
    for reply in [
        &b":7\r\n"[..],
        b":-1\r\n",
        b":2\r\n",
        b"+OK\r\n",
        b"$-1\r\n",
        b"$3\r\nyes\r\n",
        b"*0\r\n",
        b"-ERR boom\r\n",
        b"",
        b"+0\r\n",
        b"$1\r\n0\r\n",
        b"+1\r\n",
        b"$1\r\n1\r\n",
        b"+3\r\n",
        b"*1\r\n:0\r\n",
    ] {
        let d = received(reply).await;
        assert!(
            matches!(d, Delivery::Unavailable(_)),
            "{:?}: {d:?}",
            String::from_utf8_lossy(reply)
        );
        assert_eq!(d.http_status(), 503);
    }
}

/// The confirm and release scripts read the same way: only their integers count. A string
/// `1` read as "confirmed" or "released" would report done what nobody did.
#[tokio::test]
async fn redis_an_unexpected_answer_to_a_confirm_or_release_is_an_error() {
    let (pk, token) = (new_pipeline_key(), MarkToken::new());
    // The fake is read as Redis is.
    for (reply, confirmed, released) in [
        (&b":1\r\n"[..], Confirmation::Confirmed, true),
        (b":0\r\n", Confirmation::Taken, false),
    ] {
        let store = store_answering(reply).await;
        assert_eq!(store.confirm(&pk, &token).await.unwrap(), confirmed);
        assert_eq!(store.release(&pk, &token).await.unwrap(), released);
    }
    let store = store_answering(b":2\r\n").await;
    assert_eq!(
        store.confirm(&pk, &token).await.unwrap(),
        Confirmation::Reclaimed
    );
    assert!(
        store.release(&pk, &token).await.is_err(),
        "2 is no release answer"
    );
    for reply in [
        &b"+0\r\n"[..],
        b"$1\r\n0\r\n",
        b"+1\r\n",
        b"$1\r\n1\r\n",
        b"+2\r\n",
        b"$1\r\n2\r\n",
        b":7\r\n",
        b"+OK\r\n",
        b"$-1\r\n",
        b"*0\r\n",
    ] {
        let store = store_answering(reply).await;
        let shown = String::from_utf8_lossy(reply);
        let confirmed = store.confirm(&pk, &token).await;
        assert!(confirmed.is_err(), "{shown:?}: {confirmed:?}");
        let released = store.release(&pk, &token).await;
        assert!(released.is_err(), "{shown:?}: {released:?}");
    }
}

/// A quiet deployment: the Redis (its `timeout` setting, a balancer's idle timer, a restart)
/// closes the store's command connection while nothing uses it. The next record and the next
/// lookups still succeed on their first attempt: a command that meets the closed connection
/// is sent again, once, on a new one. Before: the first command after each close failed
/// (`BrokenPipe`: a delivery answered 503, a lookup failed and its wait fell back to
/// polling), though it had never reached Redis.
#[tokio::test]
async fn redis_a_command_connection_closed_while_idle_is_replaced_and_the_command_succeeds() {
    let ctx = ctx_or_skip!();
    let proxy = CutProxy::start(ctx.server_addr().await).await;
    let store = Arc::new(ctx.store_at(&ctx.url_via(proxy.addr)));
    let hub = CompletionHub::with_store(
        Verifier::new(WebhookSecret::new(SECRET)),
        store.clone() as Arc<dyn CompletionStore>,
    );
    // Closes every connection through the proxy (the store's command connection among them),
    // and lets the client's driver see the close, as an idle close by the server does.
    let close_idle = || async {
        proxy.set(Mode::Refuse);
        tokio::time::sleep(Duration::from_millis(100)).await;
        proxy.set(Mode::Pass);
    };

    let receive = |task: &str, key: &str| {
        let body = clone_body(&new_pipeline_key(), task, "cv_idle", Some(key));
        let hub = hub.clone();
        async move {
            let (ts, sig) = sign_now(&body);
            hub.receive(&ts, &sig, body.as_bytes()).await
        }
    };
    let d = receive("task-idle-1", "key-idle-1").await;
    assert!(matches!(d, Delivery::Fresh(_)), "{d:?}");

    close_idle().await;
    let d = receive("task-idle-2", "key-idle-2").await;
    assert!(
        matches!(d, Delivery::Fresh(_)),
        "a record after an idle close: {d:?}"
    );

    close_idle().await;
    let found = hub
        .completion(&voiceclone::JobId::new("task-idle-1"))
        .await
        .map(|e| e.is_some());
    assert!(
        matches!(found, Ok(true)),
        "a lookup after an idle close: {found:?}"
    );

    close_idle().await;
    let by_key = store.by_idempotency_key("key-idle-2").await;
    assert!(
        matches!(&by_key, Ok(Some(e)) if e.task_id.as_deref() == Some("task-idle-2")),
        "a lookup by key after an idle close: {by_key:?}"
    );

    close_idle().await;
    let e = stored("task-idle-3", "cv_idle", None);
    let recorded = store.record(&e).await;
    assert!(matches!(recorded, Ok(Recorded::Fresh)), "{recorded:?}");
    assert_eq!(store.record(&e).await.unwrap(), Recorded::Duplicate);
}

/// What makes sending a record again safe when its first answer was lost with its
/// connection: the record script run a second time with the same token finds its own mark
/// and answers first-seen again, writing and publishing nothing more. Another token still
/// finds the mark pending (or confirmed). Before: the second run answered `Pending` (or
/// `Duplicate`, 200 for a delivery the caller was never told it had recorded).
#[tokio::test]
async fn redis_a_record_run_twice_with_one_token_is_first_seen_both_times() {
    let ctx = ctx_or_skip!();
    let store = ctx.store();
    let lease = Some(Duration::from_secs(60));
    for (lease, other) in [(lease, Recorded::Pending), (None, Recorded::Duplicate)] {
        let token = MarkToken::new();
        let e = stored("task-twice", "cv_twice", None);
        let mark = ctx.key("seen", &e.pipeline_key);
        assert_eq!(
            store.record_marked(&e, &token, lease).await.unwrap(),
            Recorded::Fresh
        );
        let held: String = ctx.query(redis::cmd("GET").arg(&mark)).await;
        let ttl = ctx.pttl(&mark).await;
        // Anything written again would show here: the event's key is deleted between runs.
        let _: i64 = ctx
            .query(redis::cmd("DEL").arg(ctx.key("task", "task-twice")))
            .await;
        assert_eq!(
            store.record_marked(&e, &token, lease).await.unwrap(),
            Recorded::Fresh,
            "{lease:?}"
        );
        let again: String = ctx.query(redis::cmd("GET").arg(&mark)).await;
        assert_eq!(again, held);
        assert!(ctx.pttl(&mark).await <= ttl, "the mark was not set again");
        assert!(
            !ctx.exists(&ctx.key("task", "task-twice")).await,
            "the second run wrote the event again"
        );
        assert_eq!(
            store
                .record_marked(&e, &MarkToken::new(), lease)
                .await
                .unwrap(),
            other
        );
    }
}

/// A Redis user made for one test (deleted when the test ends); its URL.
async fn acl_user(ctx: &Ctx, rules: &[&str]) -> Option<(AclUser, String, String)> {
    let user = format!("vc-test-{}", uuid::Uuid::new_v4().simple());
    let password = format!("pw-{}", uuid::Uuid::new_v4().simple());
    let mut cmd = redis::cmd("ACL");
    cmd.arg("SETUSER")
        .arg(&user)
        .arg("on")
        .arg(format!(">{password}"));
    for rule in rules {
        cmd.arg(*rule);
    }
    let made: redis::RedisResult<()> = cmd.query_async(&mut ctx.raw.clone()).await;
    let guard = AclUser {
        url: ctx.url.clone(),
        name: user.clone(),
    };
    if let Err(e) = made {
        assert!(
            !workspace_tests::ci(),
            "ACL SETUSER failed on the CI Redis: {e}"
        );
        eprintln!("notice: this Redis refuses ACL SETUSER ({e}); skipping");
        return None;
    }
    let mut url = url::Url::parse(&ctx.url).unwrap();
    url.set_username(&user).unwrap();
    url.set_password(Some(&password)).unwrap();
    Some((guard, url.to_string(), password))
}

/// README: a Redis on which no delivery could be recorded is refused before anything is
/// served. A Redis 7 user with key permissions only (`resetchannels`, the default for new
/// users since 7.0) cannot PUBLISH in the record script; one without `@scripting` cannot
/// run it; one whose keys are another prefix's cannot touch the marks. `connect` says which
/// permission is missing, never the password. A user allowed what a record needs is
/// accepted even when it may not run `ROLE` or `INFO`; one allowed another prefix only
/// passes `check` with that prefix. One who may not SUBSCRIBE is refused too: its records
/// work, but no hub would hear a delivery another received. Before: `connect` accepted all
/// of them, and every delivery was answered 503 (or, without SUBSCRIBE, every wait polled).
#[tokio::test]
async fn redis_connect_refuses_a_user_who_may_not_publish_run_scripts_or_use_the_keys() {
    let ctx = ctx_or_skip!();
    for (rules, needed) in [
        (
            &["~*", "+@all", "resetchannels"][..],
            "PUBLISH on the channel voiceclone:events",
        ),
        (&["~*", "&*", "+@all", "-@scripting"], "EVALSHA"),
        (&["~elsewhere:*", "&*", "+@all"], "keys under voiceclone:"),
        // The marks alone: a record also stores the event by task and key (review 28 pass
        // 2-b #1: the probe declared the mark only, and this user was accepted).
        (
            &["~voiceclone:seen:*", "&*", "+@all"],
            "keys under voiceclone:",
        ),
        // Records work, but no hub hears another's deliveries (review 30-b #3: not probed,
        // and every subscription failed NOPERM for ever while waits only polled).
        (
            &["~*", "&*", "+@all", "-subscribe"],
            "SUBSCRIBE to the channel voiceclone:events",
        ),
        (
            &["~*", "&*", "+@all", "-@pubsub", "+publish"],
            "SUBSCRIBE to the channel voiceclone:events",
        ),
        // Least privilege gone too far: every probe above passes (PUBLISH is @pubsub, the
        // scripts @scripting, TYPE @read), but each record's first SET is refused (review
        // 33-c #2: accepted, and every delivery answered 503 until VMEG gave up).
        (
            &["~*", "&*", "+@all", "-@write"],
            "run SET on the keys under voiceclone:seen:",
        ),
        (&["~*", "&*", "+@all", "-del"], "run DEL on the keys under"),
        // Records work, but every lookup (a wait's, a key's) fails.
        (
            &["~*", "&*", "+@all", "-getrange"],
            "run GETRANGE on the keys under voiceclone:task:",
        ),
    ] {
        let Some((_user, url, password)) = acl_user(&ctx, rules).await else {
            return;
        };
        let err = RedisStore::connect(&url).await.unwrap_err();
        let text = format!("{err} {err:?}");
        assert!(
            matches!(
                err.kind(),
                ErrorKind::Webhook(voiceclone::webhook::WebhookFailure::StoreUnavailable { .. })
            ),
            "{rules:?}: {text}"
        );
        assert!(text.contains(needed), "{rules:?}: {text}");
        assert!(text.to_uppercase().contains("NOPERM"), "{rules:?}: {text}");
        assert!(!text.contains(&password), "{rules:?}: {text}");
    }

    // Review 33 pass 2 (hook) #3: the store deletes marks only, so DEL on them alone is
    // enough (a Redis 7 selector; skipped on a Redis without selectors). Before: refused.
    let user = format!("vc-test-{}", uuid::Uuid::new_v4().simple());
    let made: redis::RedisResult<()> = redis::cmd("ACL")
        .arg("SETUSER")
        .arg(&user)
        .arg("on")
        .arg(">pw-del-marks")
        .arg("~*")
        .arg("&*")
        .arg("+@all")
        .arg("-del")
        .arg("(~voiceclone:seen:* +del)")
        .query_async(&mut ctx.raw.clone())
        .await;
    let _guard = AclUser {
        url: ctx.url.clone(),
        name: user.clone(),
    };
    match made {
        Ok(()) => {
            let mut url = url::Url::parse(&ctx.url).unwrap();
            url.set_username(&user).unwrap();
            url.set_password(Some("pw-del-marks")).unwrap();
            let store = RedisStore::connect(url.as_str()).await;
            assert!(store.is_ok(), "DEL on the marks only: {store:?}");
        }
        Err(e) => eprintln!("notice: this Redis has no ACL selectors ({e}); skipping"),
    }

    // What a record needs, and nothing of @admin or @dangerous (no ROLE, no INFO).
    let Some((_user, url, _)) =
        acl_user(&ctx, &["~*", "&*", "+@all", "-@admin", "-@dangerous"]).await
    else {
        return;
    };
    let store = RedisStore::connect(&url)
        .await
        .unwrap()
        .prefix(ctx.prefix.clone());
    let e = stored("task-acl-ok", "cv_acl", None);
    assert_eq!(store.record(&e).await.unwrap(), Recorded::Fresh);

    // Allowed this test's prefix only: refused on the default prefix, fine on its own.
    let own = format!("{}:*", ctx.prefix);
    let Some((_user, url, _)) =
        acl_user(&ctx, &[&format!("~{own}"), &format!("&{own}"), "+@all"]).await
    else {
        return;
    };
    let err = RedisStore::connect(&url).await.unwrap_err();
    assert!(err.to_string().contains("voiceclone:events"), "{err}");
    let store = RedisStore::open(&url).unwrap().prefix(ctx.prefix.clone());
    store.check().await.unwrap();
    let e = stored("task-acl-prefix", "cv_acl", None);
    assert_eq!(store.record(&e).await.unwrap(), Recorded::Fresh);
}

/// README: Redis Cluster is not supported, and `connect` says so instead of accepting a
/// node on which every record is `CROSSSLOT`: `INFO cluster` saying `cluster_enabled:1`, or
/// (a user who may not run `INFO`) a probe answered with a cluster's redirection. A fake
/// RESP server on loopback stands in for the cluster node.
#[tokio::test]
async fn redis_connect_refuses_redis_cluster() {
    for reply in [
        &b"$28\r\n# Cluster\r\ncluster_enabled:1\r\n"[..],
        b"-MOVED 3999 127.0.0.1:6381\r\n",
        b"-CROSSSLOT Keys in request don't hash to the same slot\r\n",
    ] {
        let shown = String::from_utf8_lossy(reply);
        let leaked: &'static [u8] = Box::leak(reply.to_vec().into_boxed_slice());
        let (addr, _) = fake_redis_as(ROLE_PRIMARY, leaked, leaked).await;
        let Err(err) = RedisStore::connect(&format!("redis://u:hunter2-cluster@{addr}/")).await
        else {
            panic!("{shown:?}: accepted");
        };
        let text = format!("{err} {err:?}");
        assert!(
            matches!(
                err.kind(),
                ErrorKind::Webhook(voiceclone::webhook::WebhookFailure::StoreUnavailable { .. })
            ),
            "{shown:?}: {text}"
        );
        assert!(text.contains("Redis Cluster"), "{shown:?}: {text}");
        assert!(!text.contains("hunter2"), "{shown:?}: {text}");
    }
    // Cluster mode off is no refusal.
    let (addr, _) = fake_redis_as(
        ROLE_PRIMARY,
        b"$28\r\n# Cluster\r\ncluster_enabled:0\r\n",
        b"$28\r\n# Cluster\r\ncluster_enabled:0\r\n",
    )
    .await;
    assert!(
        RedisStore::connect(&format!("redis://{addr}/"))
            .await
            .is_ok()
    );
}

/// Whoever may publish on the channel or write to the store may do so as often as they like:
/// 300 messages that are no event, and 300 reads of a value that is none, warn a handful of
/// times each (the 1st, 2nd, 4th, ...), not once each (review 35-b #5).
#[tokio::test]
async fn redis_junk_on_the_channel_or_in_the_store_does_not_flood_the_warnings() {
    let ctx = ctx_or_skip!();
    let (logs, _guard) = crate::adapter_support::capture_logs();
    let store = ctx.store();
    let (listener, mut signals) = recording_listener();
    let _sub = store.subscribe(listener);
    assert_eq!(
        next_signal(&mut signals, Duration::from_secs(5)).await,
        "restored"
    );
    for i in 0..300 {
        let _: i64 = ctx
            .query(
                redis::cmd("PUBLISH")
                    .arg(ctx.channel())
                    .arg(format!("{{not json {i}")),
            )
            .await;
    }
    let good = stored("task-after-junk", "cv_good", None);
    assert_eq!(store.record(&good).await.unwrap(), Recorded::Fresh);
    assert_eq!(
        next_signal(&mut signals, Duration::from_secs(10)).await,
        format!("event:{}", good.pipeline_key),
    );
    let _: () = ctx
        .query(
            redis::cmd("SET")
                .arg(ctx.key("task", "task-junk"))
                .arg("{not json"),
        )
        .await;
    for _ in 0..300 {
        assert_eq!(store.by_task("task-junk").await.unwrap(), None);
    }
    let logs = logs.take();
    let warned = |what: &str| {
        logs.lines()
            .filter(|l| l.contains(" WARN ") && l.contains(what))
            .count()
    };
    let channel = warned("a message on the completion store's channel is");
    let stored_values = warned("a value in the completion store is");
    assert!((1..=12).contains(&channel), "{channel} warnings:\n{logs}");
    assert!(
        (1..=12).contains(&stored_values),
        "{stored_values} warnings:\n{logs}"
    );
}

/// Whoever may write to the Redis may plant an event that does not verify as often as the
/// hub reads it: 300 reads warn a handful of times (the 1st, 2nd, 4th, ...), not once each
/// (review 35 pass 2 #7: the hub's throttle had no test).
#[tokio::test]
async fn redis_a_forged_event_read_back_many_times_does_not_flood_the_warnings() {
    let ctx = ctx_or_skip!();
    let (logs, _guard) = crate::adapter_support::capture_logs();
    let hub = ctx.hub(ctx.store());
    let mut forged = stored("task-forged-often", "cv_forged", None);
    forged.signature = "00".repeat(32);
    let json = serde_json::to_string(&forged).unwrap();
    let _: () = ctx
        .query(
            redis::cmd("SET")
                .arg(ctx.key("task", "task-forged-often"))
                .arg(&json),
        )
        .await;
    let id = voiceclone::JobId::new("task-forged-often");
    for _ in 0..300 {
        assert!(hub.completion(&id).await.unwrap().is_none());
    }
    let logs = logs.take();
    let warned = logs
        .lines()
        .filter(|l| l.contains(" WARN ") && l.contains("does not verify; ignored"))
        .count();
    assert!((1..=12).contains(&warned), "{warned} warnings:\n{logs}");
}

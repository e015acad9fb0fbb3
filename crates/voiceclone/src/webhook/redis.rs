//! [`RedisStore`] (feature `redis`): a [`CompletionStore`] in Redis, for a service that runs
//! as many instances behind a load balancer. A webhook that reaches instance A completes the
//! waits on instance B, and a redelivery that lands on either is recognised as one.
//!
//! # What is kept where
//!
//! Under a prefix of your choosing (default [`RedisStore::DEFAULT_PREFIX`], `voiceclone`):
//!
//! | key / channel | holds | kept for |
//! | --- | --- | --- |
//! | `{prefix}:seen:{pipelineKey}` | the dedupe mark: `c:<token>` (confirmed) or `p:<token>` (pending), the token being the [`MarkToken`] of the record call that set it (a mark of an older version, `1`, reads as confirmed and is owned by nobody) | confirmed: the dedupe TTL, [`DEFAULT_DEDUPE_TTL`] (72 h), never less than [`MIN_DEDUPE_TTL`]; pending: the lease the receiver asked for |
//! | `{prefix}:task:{taskId}` | the latest delivery for the task ([`StoredEvent`] as JSON, with `carriesResult`), except that a delivery without the task's result never replaces a success with it ([`replaces`](super::store::replaces)) | the event TTL: [`DEFAULT_EVENT_TTL`] (24 h) |
//! | `{prefix}:idem:{idempotencyKey}` | the delivery carrying the key, chosen the same way (a delivery of another task always replaces it) | the event TTL |
//! | channel `{prefix}:events` | every delivery recorded, as JSON | (pub/sub) |
//!
//! An id longer than 256 bytes is named by its SHA-256 (`sha256:<hex>`) in a key. Use one
//! prefix per deployment (every instance that serves the same webhook secret); give tests and
//! other environments their own.
//!
//! # Guarantees
//!
//! - **Recording** is one Lua script, run atomically by Redis: if the mark exists, nothing is
//!   written ([`Recorded::Duplicate`], or [`Recorded::Pending`] for a pending mark);
//!   otherwise the event is stored, published, and the mark set last with `SET NX PX`
//!   (confirmed for the dedupe TTL, or pending for the lease). A failure part-way (out of
//!   memory, a lost connection) leaves no mark, so the receiver answers 503 and VMEG's
//!   redelivery is processed; an answer lost (or late) after the script ran is also a 503,
//!   and the hub then releases the mark in the background, so the redelivery is processed
//!   again, not taken for a duplicate of a delivery nobody acted on. The hub always records
//!   pending (`receive` under
//!   [`CompletionHub::RECEIVE_LEASE`](super::CompletionHub::RECEIVE_LEASE), and confirms
//!   once the script has answered), so should that release fail too, the mark runs out
//!   with the lease. Nothing is swallowed either way.
//! - **Confirming and releasing** are one Lua script each, a compare-and-set and a
//!   compare-and-delete on the mark's token: a mark is changed or removed only by the record
//!   call that set it, never one another instance set (which acted on the delivery).
//!   Confirming a mark whose lease ran out sets it again if nobody took the key
//!   ([`Confirmation::Reclaimed`]) and leaves another call's mark as it is
//!   ([`Confirmation::Taken`]).
//! - **Every command has a timeout** ([`RedisStore::DEFAULT_TIMEOUT`], 2 s, settable), the
//!   connection included: a Redis that does not answer makes `record` fail in time (the
//!   receiver answers 503) and makes waits fall back to polling, never hang.
//! - **A primary that moves** behind one address (a failover behind a proxy or a DNS name):
//!   a command answered `READONLY` or `MASTERDOWN` fails (503), and its connection is
//!   dropped, so the next command connects afresh and reaches the new primary.
//!   [`RedisStore::connect`] (and [`RedisStore::check`]) refuse a URL naming a replica,
//!   Redis Cluster, and a Redis user who may not do what a record does or `SUBSCRIBE` to the
//!   channel.
//! - **A connection closed while idle** (the server's `timeout` setting, a balancer's idle
//!   timer that resets the connection, a restart): a command that finds the shared connection
//!   closed is sent once more on a new one, within its timeout, so the first delivery or
//!   lookup after a quiet spell does not fail. Every command is safe to send twice: the record
//!   script recognises a mark holding its own token and answers first-seen again, writing
//!   nothing (so a token recorded twice is [`Recorded::Fresh`] here, where the in-memory
//!   store answers a duplicate; the crate never records one token twice). A connection a
//!   middlebox drops without a word (no reset) is not seen closed: that command waits its
//!   timeout and fails (503), and the next one connects afresh.
//! - **Lookups** ask for at most [`RedisStore::max_event_bytes`] bytes of a value (`GETRANGE`);
//!   a value that is larger, not JSON, not a [`StoredEvent`], about another id, or of another
//!   Redis type is treated as absent, with a warning (the 1st, 2nd, 4th, ... in the process:
//!   whoever may write to the Redis may do so as often as they like). The bound holds for a
//!   Redis that answers what it was asked: the client buffers a reply whole before it can be
//!   checked, so a compromised Redis (or whoever sits between it and this process) can make
//!   each lookup hold as much as it sends within the command timeout. The hub verifies every event read back with its own
//!   secret, so whoever can write to the Redis still cannot forge a completion.
//! - **The subscription** is a task holding one pub/sub connection. It reports
//!   [`StoreSignal::Restored`] once `SUBSCRIBE` is confirmed (and after every reconnection),
//!   [`StoreSignal::Lost`] when the connection drops, cannot be made, or does not answer a
//!   health-check `PING` in time, and reconnects with a capped backoff (100 ms doubling to
//!   5 s, with jitter; back to 100 ms only after a subscription that held through a health
//!   check, so one cut right after each `SUBSCRIBE` backs off too). Dropping the [`Subscription`] ends the task and closes the connection.
//!   A task that ends with its tokio runtime reports [`StoreSignal::Lost`], and the hub
//!   subscribes again on its next use (in the runtime it is then used in).
//! - **The URL's password** (`redis://user:password@host:port/db`) is never logged, printed
//!   by `Debug`, or put in an error: the store shows the URL as
//!   `redis://user:[redacted]@host:port/db` and scrubs the password from every message.
//!
//! Supported: `redis://` and `redis+unix://` URLs, one Redis server (or a primary behind one
//! address). Not supported: TLS (`rediss://`), Redis Cluster, Sentinel.
//!
//! # Example
//!
//! ```no_run
//! use std::sync::Arc;
//! use std::time::Duration;
//! use voiceclone::webhook::{CompletionHub, RedisStore, Verifier};
//! use voiceclone::{Client, Provider, WebhookSecret};
//!
//! # async fn run() -> Result<(), Box<dyn std::error::Error>> {
//! // From the environment, never from a command line: the URL may hold a password.
//! let url = std::env::var("REDIS_URL")?;
//! let store = RedisStore::open(&url)?
//!     .prefix("myservice:vmeg")
//!     .dedupe_ttl(Duration::from_secs(7 * 24 * 3600))
//!     .timeout(Duration::from_secs(1));
//! // Fails now, not at the first delivery, on a Redis where no delivery could be recorded
//! // (a replica, Redis Cluster, a user without a permission a record needs on this prefix).
//! store.check().await?;
//! let secret = WebhookSecret::new(std::env::var("VMEG_WEBHOOK_SECRET")?);
//! let hub = CompletionHub::with_store(Verifier::new(secret), Arc::new(store));
//! // Serve `hub.receive(x_timestamp, x_signature, &body)` on the webhook endpoint (or the
//! // `axum` feature's router), and wait with a client that knows the hub:
//! let client = Client::builder(Provider::Vmeg)
//!     .api_key(std::env::var("VMEG_API_KEY")?)
//!     .completion_hub(hub)
//!     .build()?;
//! # let _ = client;
//! # Ok(())
//! # }
//! ```

use std::fmt;
use std::future::Future;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use futures_util::StreamExt;
use redis::aio::{MultiplexedConnection, PubSubSink, PubSubStream};
use redis::{AsyncConnectionConfig, RedisError, Script};

use super::store::{
    CompletionStore, Confirmation, DEFAULT_EVENT_TTL, Listener, MarkToken, Recorded, StoreError,
    StoreSignal, StoredEvent, Subscription,
};
use super::verify::Refusals;
use super::{DEFAULT_DEDUPE_TTL, MIN_DEDUPE_TTL};

/// Messages on the channel that are no event, and stored values that are not the event they
/// are filed as: each is one WARN at the 1st, 2nd, 4th, ... in this process, so that whoever
/// may write to the Redis cannot flood the log (they may also read it).
static CHANNEL_JUNK: Refusals = Refusals::new();
static STORED_JUNK: Refusals = Refusals::new();
use crate::error::{Error, ErrorKind, WebhookFailure};
use crate::scrub::{REDACTED, Scrubber};
use crate::sleep::BoxFuture;

/// Records one delivery, atomically (a script runs alone on the server).
///
/// KEYS[1] is the pipelineKey's mark; KEYS[2..] are where the event is stored (its task id,
/// its idempotency key). ARGV: the event's JSON, the event TTL in ms (0: not stored), the
/// channel, the mark's TTL in ms (the dedupe TTL, or the lease), the mark's value (`c:` or
/// `p:` and the token), `1` when the event is a success (`0` otherwise; see
/// [`StoredEvent::succeeded`]). Returns 1 when this call set the mark (first seen), 0 for a
/// duplicate, 3 when a pending mark (another call's lease) holds the key, 4 when the key
/// holds no mark of ours. (2 is not used: an answer that is not one of these, as an integer,
/// is taken for a failure, never a duplicate.)
///
/// Why a script rather than separate commands or MULTI/EXEC: the check, the writes, the
/// publish and the mark happen with nothing in between, so two instances racing on one
/// delivery cannot both publish it, and it is one round trip. MULTI/EXEC cannot branch on
/// the mark, so a redelivery would rewrite and republish the event. The mark is still set
/// last, inside the script: Redis does not roll back a script that fails part-way (out of
/// memory on a write), and a script that stops before its last command leaves no mark, so
/// the redelivery is processed (the trait's promise). The mark `1` (written before tokens)
/// counts as confirmed. Any other key there (4), another type or a string that is neither
/// `c:<token>`, `p:...` nor `1`, was written by another program under our prefix: no mark of
/// ours says the delivery was acted on, so it is a failure (503, VMEG redelivers; the log
/// names it), never a duplicate answered 200 for an event nobody recorded.
///
/// A mark holding this call's own value (ARGV[5]) answers 1 and changes nothing: the script
/// set it on an earlier run whose answer was lost with its connection (`exec` sends a command
/// once more on a new connection then), and everything before the mark was written by that
/// run. Without it, that second run would answer 3 or 0 for the caller's own delivery.
///
/// A delivery without its task's result does not take the place of a success with it
/// stored under the task id or the key for the same task ([`super::store::replaces`]):
/// ARGV[6] is `1` when the new delivery carries its result, ARGV[7] its task id (`t:` and
/// the id; empty when it names none). The stored value (`cjson`, in every Redis since 2.6)
/// says whether it carries its result in `carriesResult`, a field this store adds to the
/// [`StoredEvent`] JSON (judged in Rust, where a wait judges it; ignored by readers), and
/// names its task in `taskId`; a stored success of another task, or one naming no task in
/// place of one naming a task, is replaced (one key can name several tasks). A value written
/// by an older version, without the field, is judged as that version judged it: kept when
/// its body's `code` is 200 (review 30 pass 3 #4: during a rollout, and for the event TTL
/// after it, such a success must stay protected). A value it cannot read so (not JSON,
/// another type) keeps nothing out and is replaced: never a script error, which would
/// answer every redelivery 503. This decodes a stored value (at most
/// [`RedisStore::max_event_bytes`]) only when a delivery without a result follows another
/// for the same task or key, which is rare.
const RECORD_SCRIPT: &str = r"
local kind = redis.call('TYPE', KEYS[1])['ok']
if kind ~= 'none' then
  if kind ~= 'string' then
    return 4
  end
  local held = redis.call('GET', KEYS[1])
  if held == ARGV[5] then
    return 1
  end
  if string.sub(held, 1, 2) == 'p:' then
    return 3
  end
  if held == '1' or (string.len(held) == 34 and string.match(held, '^c:[0-9a-f]+$')) then
    return 0
  end
  return 4
end
local function succeeded(stored)
  if type(stored['body']) ~= 'string' then
    return false
  end
  local parsed, body = pcall(cjson.decode, stored['body'])
  if not parsed or type(body) ~= 'table' then
    return false
  end
  local code = body['code']
  return (type(code) == 'number' or type(code) == 'string') and tonumber(code) == 200
end
local function keeps(key)
  if redis.call('TYPE', key)['ok'] ~= 'string' then
    return false
  end
  local read, stored = pcall(cjson.decode, redis.call('GET', key))
  if not read or type(stored) ~= 'table' then
    return false
  end
  local carries = stored['carriesResult']
  if carries == nil then
    carries = succeeded(stored)
  end
  if carries ~= true then
    return false
  end
  local theirs = stored['taskId']
  local named = ''
  if type(theirs) == 'string' then
    named = 't:' .. theirs
  end
  return named == ARGV[7]
end
local ttl = tonumber(ARGV[2])
if ttl > 0 then
  for i = 2, #KEYS do
    if ARGV[6] == '1' or not keeps(KEYS[i]) then
      redis.call('SET', KEYS[i], ARGV[1], 'PX', ttl)
    end
  end
end
redis.call('PUBLISH', ARGV[3], ARGV[1])
if redis.call('SET', KEYS[1], ARGV[5], 'NX', 'PX', tonumber(ARGV[4])) then
  return 1
end
return 0
";

/// Confirms a mark: KEYS[1] the mark, ARGV the token and the dedupe TTL in ms. Returns 1
/// when the mark held the token (now `c:<token>` for the dedupe TTL), 2 when there was no
/// mark (set now, the same way), 0 when another call's mark holds the key (unchanged).
const CONFIRM_SCRIPT: &str = r"
local kind = redis.call('TYPE', KEYS[1])['ok']
local mine = 'c:' .. ARGV[1]
if kind == 'none' then
  redis.call('SET', KEYS[1], mine, 'PX', tonumber(ARGV[2]))
  return 2
end
if kind == 'string' and string.sub(redis.call('GET', KEYS[1]), 3) == ARGV[1] then
  redis.call('SET', KEYS[1], mine, 'PX', tonumber(ARGV[2]))
  return 1
end
return 0
";

/// Releases a mark: KEYS[1] the mark, ARGV[1] the token. Deletes it only while it holds the
/// token (pending or confirmed); returns 1 when it did, 0 otherwise.
const RELEASE_SCRIPT: &str = r"
if redis.call('TYPE', KEYS[1])['ok'] == 'string'
  and string.sub(redis.call('GET', KEYS[1]), 3) == ARGV[1] then
  redis.call('DEL', KEYS[1])
  return 1
end
return 0
";

/// A [`StoredEvent`] as this store writes it: the event's own fields, and whether it
/// carries its result ([`StoredEvent::carries_result`]), which the record script reads from
/// a stored value (Lua cannot judge a result as a wait does). Read back as a plain
/// [`StoredEvent`], which ignores the extra field.
#[derive(serde::Serialize)]
#[serde(rename_all = "camelCase")]
struct Filed<'a> {
    #[serde(flatten)]
    event: &'a StoredEvent,
    carries_result: bool,
}

/// What [`RedisStore::check`] publishes on the channel to learn whether it may: every
/// subscriber of this crate ignores it quietly (it is no stored delivery).
const PROBE_PAYLOAD: &str = "voiceclone:probe";

/// Why a refused probe of [`RedisStore::cannot_record`] matters.
const RECORD_NEEDS: &str = "a record needs it";

/// The longest TTL sent to Redis (100 years, in ms): far below what overflows its clock.
const MAX_TTL_MILLIS: u64 = 100 * 365 * 24 * 3600 * 1000;

/// A [`CompletionStore`] shared through one Redis server; see the [module docs](self).
///
/// Made with [`RedisStore::connect`] (or [`RedisStore::open`], which connects on first use),
/// then tuned with the builder-style setters before it is handed to a
/// [`CompletionHub`](super::CompletionHub).
pub struct RedisStore {
    client: redis::Client,
    /// The URL with its password and query replaced: what `Debug` and messages show.
    shown_url: String,
    scrubbers: Arc<[Scrubber]>,
    record_script: Script,
    confirm_script: Script,
    release_script: Script,
    /// The shared multiplexed connection (none yet, or dropped after a failure).
    conn: Mutex<Option<Cached>>,
    /// Held while connecting, so concurrent commands wait for one connection attempt; holds
    /// the last generation handed out.
    connecting: tokio::sync::Mutex<u64>,
    prefix: String,
    event_ttl: Duration,
    dedupe_ttl: Duration,
    timeout: Duration,
    max_event_bytes: usize,
    backoff: (Duration, Duration),
    health_check_interval: Duration,
}

impl fmt::Debug for RedisStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RedisStore")
            .field("url", &self.shown_url)
            .field("prefix", &self.prefix)
            .field("event_ttl", &self.event_ttl)
            .field("dedupe_ttl", &self.dedupe_ttl)
            .field("timeout", &self.timeout)
            .field("max_event_bytes", &self.max_event_bytes)
            .finish_non_exhaustive()
    }
}

/// The shared connection, its generation (from 1) and a watch on the runtime that drives it.
struct Cached {
    generation: u64,
    conn: MultiplexedConnection,
    runtime: RuntimeWatch,
}

/// Tells when a tokio runtime has shut down: a task of that runtime that never ends by
/// itself, which the runtime cancels as it shuts down. Aborted when the watch is dropped
/// (the connection replaced, or the store dropped), so none is left behind.
struct RuntimeWatch(Option<tokio::task::AbortHandle>);

impl RuntimeWatch {
    fn here() -> Self {
        Self(
            tokio::runtime::Handle::try_current()
                .ok()
                .map(|rt| rt.spawn(std::future::pending::<()>()).abort_handle()),
        )
    }

    fn ended(&self) -> bool {
        self.0.as_ref().is_some_and(|task| task.is_finished())
    }
}

impl Drop for RuntimeWatch {
    fn drop(&mut self) {
        if let Some(task) = &self.0 {
            task.abort();
        }
    }
}

/// Why a command failed, before it becomes a [`StoreError`].
enum Failure {
    Redis(RedisError),
    TimedOut,
}

impl RedisStore {
    /// The default key prefix.
    pub const DEFAULT_PREFIX: &'static str = "voiceclone";
    /// The default timeout of every Redis command (and of connecting).
    pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(2);
    /// The default bound on one stored delivery's JSON: three times the verifier's default
    /// body limit (1 MiB) and room for the headers. Escaping a JSON body inside JSON at most
    /// doubles it (`\"` becomes `\\\"`), and the ids decoded out of it are stored beside it,
    /// escaped again (at most as long as the body text they came from): a body that is all
    /// task id takes three times its size. (Twice the limit refused such a delivery on every
    /// redelivery: 503 until VMEG gave up.)
    pub const DEFAULT_MAX_EVENT_BYTES: usize = 3 * 1024 * 1024 + 64 * 1024;
    /// How often the subscription's connection is checked with a `PING` when no message
    /// arrives.
    pub const DEFAULT_HEALTH_CHECK_INTERVAL: Duration = Duration::from_secs(5);

    /// A store on the Redis at `url` (`redis://[user:password@]host[:port][/db]`), which
    /// connects on first use (and again after any connection failure). Fails only on a URL
    /// that does not parse (the error does not repeat the URL: it may hold a password).
    pub fn open(url: &str) -> Result<Self, Error> {
        let invalid = || {
            Error::invalid_input(
                "redis_url",
                "not a Redis URL (expected redis://[user:password@]host[:port][/db] or \
                 redis+unix:///path); the URL is not repeated because it may hold a password",
            )
        };
        let parsed = url::Url::parse(url).map_err(|_| invalid())?;
        let scrubbers: Arc<[Scrubber]> = secrets_of(&parsed)
            .iter()
            .map(|s| Scrubber::new(s))
            .collect();
        let client = redis::Client::open(url).map_err(|e| {
            let reason = scrub_with(&scrubbers, &e.to_string());
            Error::invalid_input("redis_url", format!("{reason} (in {})", shown_url(&parsed)))
        })?;
        Ok(Self {
            client,
            shown_url: shown_url(&parsed),
            scrubbers,
            record_script: Script::new(RECORD_SCRIPT),
            confirm_script: Script::new(CONFIRM_SCRIPT),
            release_script: Script::new(RELEASE_SCRIPT),
            conn: Mutex::new(None),
            connecting: tokio::sync::Mutex::new(0),
            prefix: Self::DEFAULT_PREFIX.to_owned(),
            event_ttl: DEFAULT_EVENT_TTL,
            dedupe_ttl: DEFAULT_DEDUPE_TTL,
            timeout: Self::DEFAULT_TIMEOUT,
            max_event_bytes: Self::DEFAULT_MAX_EVENT_BYTES,
            backoff: (Duration::from_millis(100), Duration::from_secs(5)),
            health_check_interval: Self::DEFAULT_HEALTH_CHECK_INTERVAL,
        })
    }

    /// [`RedisStore::open`], then [`RedisStore::check`] (with the default prefix): fails
    /// early on a wrong address, password or database, and on a Redis where no delivery could
    /// be recorded (a replica, a Sentinel, Redis Cluster, a user without the permissions a
    /// record needs) or heard by other instances (a user who may not `SUBSCRIBE`). Later
    /// failures reconnect by themselves.
    ///
    /// The channel permission is checked on the default prefix's channel. A Redis user
    /// allowed only the channels of another prefix should use
    /// `RedisStore::open(url)?.prefix(p)`, then [`RedisStore::check`].
    pub async fn connect(url: &str) -> Result<Self, Error> {
        let store = Self::open(url)?;
        store.check().await?;
        Ok(store)
    }

    /// Checks, for this store's prefix, that deliveries can be recorded here, each within the
    /// timeout: one `PING` (the address, password and database), then refuses
    /// ([`WebhookFailure::StoreUnavailable`], naming the problem, never the password):
    /// - a read-only replica or a Sentinel (`ROLE`);
    /// - Redis Cluster (`INFO cluster` says `cluster_enabled:1`): a record writes keys of
    ///   several slots in one script, which a cluster refuses (`CROSSSLOT`);
    /// - a Redis user who may not `PUBLISH` on the store's channel, run its scripts (`EVALSHA`,
    ///   `SCRIPT LOAD`) or use its keys (`NOPERM`): all three families, `<prefix>:seen:*`,
    ///   `<prefix>:task:*` and `<prefix>:idem:*`, as a record may write each (a probe declares
    ///   one key of each, in three hash slots, so a one-shard cluster is refused too), with
    ///   each command records and lookups run on them (`SET`, `TYPE`, `GET`; `DEL` on the
    ///   marks, `GETRANGE` on the events' keys): a user without `@write` is refused, and so
    ///   is a replica hiding its role whose probe write is answered `READONLY`;
    /// - a Redis user who may not `SUBSCRIBE` to the channel (`NOPERM`): records would work,
    ///   but no hub would hear a delivery another instance received.
    ///
    /// The probes change nothing another client sees but one `PUBLISH` of a payload every
    /// subscriber of this crate ignores, the release script run on a key nobody uses, a key
    /// of each family named with a random token (set for at most a second, then deleted), and
    /// a `SUBSCRIBE` on a connection of its own, closed at once.
    /// What a probe cannot tell (a user who may not run `ROLE` or `INFO`, a proxy answering
    /// otherwise) is not refused for that: the records then say what is wrong.
    pub async fn check(&self) -> Result<(), Error> {
        let unavailable = |reason: String| {
            Error::new(ErrorKind::Webhook(WebhookFailure::StoreUnavailable {
                reason,
            }))
            .with_operation("connect_redis")
        };
        self.ping()
            .await
            .map_err(|e| unavailable(e.reason().to_owned()))?;
        if let Some(role) = self.role_not_primary().await {
            return Err(unavailable(format!(
                "the Redis at {} is {role} (ROLE), not a primary: every delivery's record \
                 would fail there; name the primary",
                self.shown_url
            )));
        }
        if self.cluster_enabled().await {
            return Err(unavailable(
                self.cluster_refusal("INFO cluster says cluster_enabled:1"),
            ));
        }
        if let Some(why) = self.cannot_record().await {
            return Err(unavailable(why));
        }
        if let Some(why) = self.cannot_subscribe().await {
            return Err(unavailable(why));
        }
        Ok(())
    }

    /// Why no hub could hear the deliveries others record: a `SUBSCRIBE` to the channel, on
    /// a pub/sub connection of its own (closed at once), refused for a permission. Records
    /// work without it, so nothing else would tell: every hub's subscription would fail
    /// `NOPERM` for ever, and every wait poll. `None` when it was confirmed, or failed
    /// otherwise (the subscription will say).
    async fn cannot_subscribe(&self) -> Option<String> {
        let channel = self.channel();
        let attempt = async {
            let mut pubsub = self.client.get_async_pubsub().await?;
            pubsub.subscribe(&channel).await
        };
        let subscribed = match tokio::time::timeout(self.timeout, attempt).await {
            Ok(Ok(())) => Ok(redis::Value::Okay),
            Ok(Err(e)) => Err(Failure::Redis(e)),
            Err(_) => Err(Failure::TimedOut),
        };
        self.refusal(
            "SUBSCRIBE",
            &format!("SUBSCRIBE to the channel {channel}"),
            "every hub listens there for the deliveries other instances receive",
            subscribed,
        )
    }

    fn cluster_refusal(&self, seen: &str) -> String {
        format!(
            "the Redis at {} runs Redis Cluster ({seen}), which is not supported: a record \
             writes keys of several slots in one script; name a standalone primary",
            self.shown_url
        )
    }

    /// Whether `INFO cluster` says cluster mode is on; `false` for any other answer (an
    /// error included: a user who may not run `INFO` is not refused for that).
    async fn cluster_enabled(&self) -> bool {
        let answer = self
            .exec(|mut c| async move {
                redis::cmd("INFO")
                    .arg("cluster")
                    .query_async::<redis::Value>(&mut c)
                    .await
            })
            .await;
        let text = match answer {
            Ok(redis::Value::BulkString(b)) => String::from_utf8_lossy(&b).into_owned(),
            Ok(redis::Value::VerbatimString { text, .. }) => text,
            Ok(_) => return false,
            Err(f) => {
                let why = self.store_error("INFO", f);
                tracing::debug!(url = %self.shown_url, reason = %why.reason(), "cannot tell whether the Redis runs Redis Cluster; assuming not");
                return false;
            }
        };
        text.lines()
            .any(|line| line.trim().eq_ignore_ascii_case("cluster_enabled:1"))
    }

    /// Why no delivery could be recorded here, from what a record needs, tried without a
    /// trace: a `PUBLISH` of [`PROBE_PAYLOAD`] on the channel, and the release script (its
    /// `EVALSHA`, `SCRIPT LOAD` on a server that does not have it yet, and a key under the
    /// prefix) on a key nobody uses, with a token nobody holds. `None` when both ran, or
    /// failed otherwise than for a permission or a cluster (the records will say).
    async fn cannot_record(&self) -> Option<String> {
        let channel = self.channel();
        let channel = &channel;
        let published = self
            .exec(|mut c| async move {
                redis::cmd("PUBLISH")
                    .arg(channel)
                    .arg(PROBE_PAYLOAD)
                    .query_async::<redis::Value>(&mut c)
                    .await
            })
            .await;
        if let Some(why) = self.refusal(
            "PUBLISH",
            &format!("PUBLISH on the channel {channel}"),
            RECORD_NEEDS,
            published,
        ) {
            return Some(why);
        }
        let token = MarkToken::new();
        let mut call = self.release_script.prepare_invoke();
        // The keys a record declares (its mark, and where it stores the event by task and by
        // key), each in a slot of its own (the hash tags' slots are 4332, 9329 and 9395): a
        // cluster refuses the call `CROSSSLOT` whichever node serves it, as it refuses every
        // record, and a user who may use the marks alone is refused for the others. The script
        // touches only the first, unused key.
        let t = token.as_str();
        call.key(self.key("seen", &format!("voiceclone-probe:{{probe-seen}}:{t}")))
            .key(self.key("task", &format!("voiceclone-probe:{{probe-task}}:{t}")))
            .key(self.key("idem", &format!("voiceclone-probe:{{probe-idem}}:{t}")))
            .arg(t);
        let released = self
            .exec(|mut c| {
                let call = &call;
                async move { call.invoke_async::<redis::Value>(&mut c).await }
            })
            .await;
        if let Some(why) = self.refusal(
            "EVALSHA",
            &format!(
                "run the store's scripts (EVALSHA, SCRIPT LOAD) or use the keys under {}:",
                self.prefix
            ),
            RECORD_NEEDS,
            released,
        ) {
            return Some(why);
        }
        self.cannot_use_keys().await
    }

    /// Why the keys could not be written or read as records and lookups do: each command
    /// they run on them, run by itself on a probe key of each family (named with a random
    /// token, set for at most a second and deleted). Redis checks the commands a script calls
    /// as it calls them, and the release script's probe calls only `TYPE` (its key is
    /// absent): a user without `@write` passed it, and then every record failed (review 33-c
    /// #2). `None` when all ran, or failed otherwise than for a permission.
    async fn cannot_use_keys(&self) -> Option<String> {
        let token = MarkToken::new();
        let value = PROBE_PAYLOAD;
        // The marks are written and read by the scripts; the events are read by lookups
        // (`GETRANGE`) too.
        for family in ["seen", "task", "idem"] {
            let key = self.key(family, &format!("voiceclone-probe:{}", token.as_str()));
            let mut probes = vec![
                ("SET", vec![value, "NX", "PX", "1000"]),
                ("TYPE", vec![]),
                ("GET", vec![]),
            ];
            if family == "seen" {
                // The store deletes marks only (a task's and a key's events expire): a user
                // allowed DEL on the marks alone works (review 33 pass 2 (hook) #3).
                probes.push(("DEL", vec![]));
            } else {
                probes.push(("GETRANGE", vec!["0", "0"]));
            }
            for (name, args) in probes {
                let mut cmd = redis::cmd(name);
                cmd.arg(&key);
                for arg in args {
                    cmd.arg(arg);
                }
                let cmd = &cmd;
                let answer = self
                    .exec(|mut c| async move { cmd.query_async::<redis::Value>(&mut c).await })
                    .await;
                let why = if name == "GETRANGE" {
                    "every lookup needs it"
                } else {
                    RECORD_NEEDS
                };
                let needed = format!("run {name} on the keys under {}:{family}:", self.prefix);
                let failed = answer.is_err();
                if let Some(refused) = self.refusal(name, &needed, why, answer) {
                    return Some(refused);
                }
                // A failure that is no permission (a stall, a reset) says nothing of the
                // others: no more probes, each of which could wait its timeout too (review
                // 33 pass 2 (hook) #2); the records will tell.
                if failed {
                    return None;
                }
            }
        }
        None
    }

    /// The refusal a probe's failure calls for: a permission the user lacks, or a cluster's
    /// redirection; `None` for success and any other failure.
    fn refusal(
        &self,
        what: &str,
        needed: &str,
        why: &str,
        probe: Result<redis::Value, Failure>,
    ) -> Option<String> {
        let e = match probe {
            Ok(_) => return None,
            Err(Failure::Redis(e)) => e,
            Err(f) => {
                let why = self.store_error(what, f);
                tracing::debug!(url = %self.shown_url, reason = %why.reason(), "a permission probe of the Redis failed; not refused for that");
                return None;
            }
        };
        let said = scrub_with(&self.scrubbers, &e.to_string());
        // A script's NOPERM (a command the script calls) comes wrapped in an ERR; the
        // cluster's redirections only ever come as they are.
        if e.code() == Some("NOPERM") || e.detail().is_some_and(|d| d.contains("NOPERM")) {
            return Some(format!(
                "the Redis user of {} may not {needed} ({why}; Redis said: {said}); grant it \
                 with ACL SETUSER",
                self.shown_url
            ));
        }
        // A replica that hides its `ROLE` still refuses the probe's write.
        if not_a_primary(&e) {
            return Some(format!(
                "the Redis at {} is a read-only replica ({what} was answered: {said}): every \
                 delivery's record would fail there; name the primary",
                self.shown_url
            ));
        }
        if matches!(
            e.code(),
            Some("MOVED" | "ASK" | "CROSSSLOT" | "CLUSTERDOWN")
        ) {
            return Some(self.cluster_refusal(&format!("{what} was answered: {said}")));
        }
        tracing::debug!(url = %self.shown_url, reason = %said, "a permission probe of the Redis failed; not refused for that");
        None
    }

    /// What the server says it is, when `ROLE` names something other than a primary: a
    /// read-only replica (`slave`, or `replica` as some forks spell it) or a Sentinel.
    /// `None` for a primary and for any other answer, an error included: what cannot be
    /// told is left to the writes, whose `READONLY` drops the connection (see `exec`).
    async fn role_not_primary(&self) -> Option<&'static str> {
        let answer = self
            .exec(
                |mut c| async move { redis::cmd("ROLE").query_async::<redis::Value>(&mut c).await },
            )
            .await;
        let answer = match answer {
            Ok(answer) => answer,
            Err(f) => {
                let why = self.store_error("ROLE", f);
                tracing::debug!(url = %self.shown_url, reason = %why.reason(), "cannot tell the Redis server's role; assuming a primary");
                return None;
            }
        };
        let first = match &answer {
            redis::Value::Array(items) => items.first(),
            _ => None,
        };
        let role = match first {
            Some(redis::Value::BulkString(b)) => b.as_slice(),
            Some(redis::Value::SimpleString(s)) => s.as_bytes(),
            _ => return None,
        };
        match role {
            b"slave" | b"replica" => Some("a read-only replica"),
            b"sentinel" => Some("a Sentinel"),
            _ => None,
        }
    }

    /// Sets the key prefix (default [`RedisStore::DEFAULT_PREFIX`]); keys and the channel
    /// are `{prefix}:...`.
    #[must_use]
    pub fn prefix(mut self, prefix: impl Into<String>) -> Self {
        self.prefix = prefix.into();
        self
    }

    /// Keeps deliveries for `ttl` (default [`DEFAULT_EVENT_TTL`], 24 h) for waits that start
    /// late and lookups by idempotency key. Zero keeps none past their fan-out.
    #[must_use]
    pub fn event_ttl(mut self, ttl: Duration) -> Self {
        self.event_ttl = ttl;
        self
    }

    /// Remembers `pipelineKey`s for `ttl` (default [`DEFAULT_DEDUPE_TTL`], 72 h; never less
    /// than [`MIN_DEDUPE_TTL`]: shorter values, zero included, are raised to it).
    #[must_use]
    pub fn dedupe_ttl(mut self, ttl: Duration) -> Self {
        self.dedupe_ttl = ttl.max(MIN_DEDUPE_TTL);
        self
    }

    /// Bounds every command, connecting included (default [`RedisStore::DEFAULT_TIMEOUT`],
    /// 2 s; zero is read as 1 ms). The receiver answers within about this long even when
    /// Redis does not.
    #[must_use]
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout.max(Duration::from_millis(1));
        self
    }

    /// Bounds one delivery's JSON (default [`RedisStore::DEFAULT_MAX_EVENT_BYTES`]; zero is
    /// read as 1). Keep it above three times the verifier's body limit (see
    /// [`RedisStore::DEFAULT_MAX_EVENT_BYTES`]): a larger delivery cannot be
    /// recorded (the receiver answers 503), and a larger value read from Redis is ignored.
    #[must_use]
    pub fn max_event_bytes(mut self, limit: usize) -> Self {
        self.max_event_bytes = limit.max(1);
        self
    }

    /// The subscription's reconnection backoff: `first` after the first failure, doubling up
    /// to `max` (defaults 100 ms and 5 s; each at least 1 ms), with jitter. It starts again
    /// from `first` only after a subscription that held for a
    /// [health-check interval](Self::health_check_interval): one dropped right after each
    /// `SUBSCRIBE` backs off too.
    #[must_use]
    pub fn reconnect_backoff(mut self, first: Duration, max: Duration) -> Self {
        let first = first.max(Duration::from_millis(1));
        self.backoff = (first, max.max(first));
        self
    }

    /// How long the subscription may go without a message before its connection is checked
    /// with a `PING` (default [`RedisStore::DEFAULT_HEALTH_CHECK_INTERVAL`]; at least 10 ms).
    /// A connection that does not answer within the timeout is reported
    /// [`StoreSignal::Lost`] and replaced.
    #[must_use]
    pub fn health_check_interval(mut self, interval: Duration) -> Self {
        self.health_check_interval = interval.max(Duration::from_millis(10));
        self
    }

    /// The key prefix.
    pub fn key_prefix(&self) -> &str {
        &self.prefix
    }

    /// The URL with its password (and query) redacted.
    pub fn redacted_url(&self) -> &str {
        &self.shown_url
    }

    /// One `PING`, within the timeout.
    pub async fn ping(&self) -> Result<(), StoreError> {
        self.exec(|mut c| async move {
            redis::cmd("PING")
                .query_async::<redis::Value>(&mut c)
                .await
                .map(drop)
        })
        .await
        .map_err(|f| self.store_error("PING", f))
    }

    /// The channel deliveries are published on.
    fn channel(&self) -> String {
        format!("{}:events", self.prefix)
    }

    fn key(&self, kind: &str, id: &str) -> String {
        format!("{}:{kind}:{}", self.prefix, super::dedupe::bounded_key(id))
    }

    /// The shared connection, unless the runtime it was made in has shut down: its driver
    /// was a task of that runtime, so every command on it would fail. (A runtime gone is
    /// common: a `#[tokio::test]`, or a `block_on` since returned.) It is dropped then, and
    /// the caller connects afresh in its own runtime. A connection made in another runtime
    /// still running is used as it is.
    fn cached(&self) -> Option<(u64, MultiplexedConnection)> {
        let mut slot = self.conn.lock().unwrap_or_else(|p| p.into_inner());
        match slot.as_ref() {
            Some(c) if c.runtime.ended() => {
                tracing::debug!(url = %self.shown_url, "the runtime of the Redis connection has shut down; connecting again");
                *slot = None;
                None
            }
            Some(c) => Some((c.generation, c.conn.clone())),
            None => None,
        }
    }

    /// The shared connection, or a new one; the flag says whether it was already there (it
    /// may have been closed since it was last used).
    async fn connection(&self) -> Result<(u64, MultiplexedConnection, bool), RedisError> {
        if let Some((generation, conn)) = self.cached() {
            return Ok((generation, conn, true));
        }
        let mut generation = self.connecting.lock().await;
        if let Some((generation, conn)) = self.cached() {
            return Ok((generation, conn, true));
        }
        // The crate's own bounds (500 ms per response by default) follow ours, so that a
        // longer timeout is honoured; `exec` still bounds the whole command.
        let config = AsyncConnectionConfig::new()
            .set_connection_timeout(Some(self.timeout))
            .set_response_timeout(Some(self.timeout));
        let conn = self
            .client
            .get_multiplexed_async_connection_with_config(&config)
            .await?;
        *generation = generation.wrapping_add(1).max(1);
        let entry = Cached {
            generation: *generation,
            conn: conn.clone(),
            runtime: RuntimeWatch::here(),
        };
        *self.conn.lock().unwrap_or_else(|p| p.into_inner()) = Some(entry);
        tracing::debug!(url = %self.shown_url, "connected to Redis");
        Ok((*generation, conn, false))
    }

    /// Drops the connection of `generation` (0: whichever is cached), so that the next
    /// command connects afresh.
    fn forget_connection(&self, generation: u64) {
        let mut slot = self.conn.lock().unwrap_or_else(|p| p.into_inner());
        if slot
            .as_ref()
            .is_some_and(|c| generation == 0 || c.generation == generation)
        {
            *slot = None;
        }
    }

    /// Runs one command on the shared connection, within the timeout. A connection that
    /// failed, did not answer in time, or reached a node that is no longer a writable
    /// primary is dropped.
    ///
    /// A command that finds the shared connection closed (the server's `timeout` setting,
    /// a balancer's idle timer or a restart closed it while nothing used it) is sent once
    /// more on a new connection, within the same timeout: otherwise the first command after
    /// every quiet spell failed, though Redis was there. Every command `op` sends is safe to
    /// send twice: reads, `DEL`, and scripts that recognise their own token (see
    /// [`RECORD_SCRIPT`]). A command that fails on a connection it just made is not sent
    /// again: that is Redis unreachable, not a stale connection.
    async fn exec<T, F, Fut>(&self, op: F) -> Result<T, Failure>
    where
        F: Fn(MultiplexedConnection) -> Fut,
        Fut: Future<Output = Result<T, RedisError>>,
    {
        let used = AtomicU64::new(0);
        let attempt = async {
            let (generation, conn, reused) = self.connection().await?;
            used.store(generation, Ordering::Relaxed);
            match op(conn).await {
                Err(e) if reused && e.is_connection_dropped() => {
                    self.forget_connection(generation);
                    tracing::debug!(
                        url = %self.shown_url,
                        reason = %scrub_with(&self.scrubbers, &e.to_string()),
                        "the Redis connection had closed; sending the command again on a new one"
                    );
                    let (generation, conn, _) = self.connection().await?;
                    used.store(generation, Ordering::Relaxed);
                    op(conn).await
                }
                done => done,
            }
        };
        match tokio::time::timeout(self.timeout, attempt).await {
            Ok(Ok(v)) => Ok(v),
            Ok(Err(e)) => {
                if e.is_unrecoverable_error()
                    || e.is_io_error()
                    || e.is_connection_dropped()
                    || not_a_primary(&e)
                {
                    let generation = used.load(Ordering::Relaxed);
                    if generation != 0 {
                        self.forget_connection(generation);
                    }
                }
                Err(Failure::Redis(e))
            }
            Err(_) => {
                // A connection that does not answer is not reused: a black-holed socket
                // would otherwise hold every later command until TCP gives up.
                self.forget_connection(used.load(Ordering::Relaxed));
                Err(Failure::TimedOut)
            }
        }
    }

    fn store_error(&self, what: &str, failure: Failure) -> StoreError {
        let reason = match failure {
            Failure::Redis(e) => format!("Redis {what} failed: {e}"),
            Failure::TimedOut => format!(
                "Redis did not answer {what} within {} ms",
                self.timeout.as_millis()
            ),
        };
        StoreError::new(scrub_with(&self.scrubbers, &reason))
    }

    async fn lookup(
        &self,
        kind: &'static str,
        id: &str,
        belongs: impl Fn(&StoredEvent) -> bool,
    ) -> Result<Option<StoredEvent>, StoreError> {
        let key = self.key(kind, id);
        // GETRANGE reads at most max + 1 bytes: a huge value is never transferred whole,
        // and one byte over the bound says it is too large. A missing key reads as "".
        let end = i64::try_from(self.max_event_bytes).unwrap_or(i64::MAX);
        let key = &key;
        let got = self
            .exec(|mut c| async move {
                redis::cmd("GETRANGE")
                    .arg(key)
                    .arg(0)
                    .arg(end)
                    .query_async::<Vec<u8>>(&mut c)
                    .await
            })
            .await;
        let bytes = match got {
            Ok(bytes) => bytes,
            Err(Failure::Redis(e)) if e.code() == Some("WRONGTYPE") => {
                tracing::warn!(
                    prefix = %self.prefix,
                    kind,
                    "a value in the completion store is not a string; ignored"
                );
                return Ok(None);
            }
            Err(f) => return Err(self.store_error("lookup", f)),
        };
        if bytes.is_empty() {
            return Ok(None);
        }
        match decode_event(&bytes, self.max_event_bytes) {
            Ok(event) if belongs(&event) => Ok(Some(event)),
            Ok(_) => {
                match STORED_JUNK.warns() {
                    Some(n) => {
                        tracing::warn!(prefix = %self.prefix, kind, ignored_so_far = n, "a value in the completion store is about another id; ignored")
                    }
                    None => {
                        tracing::debug!(prefix = %self.prefix, kind, "a value in the completion store is about another id; ignored")
                    }
                }
                Ok(None)
            }
            Err(why) => {
                match STORED_JUNK.warns() {
                    Some(n) => {
                        tracing::warn!(prefix = %self.prefix, kind, ignored_so_far = n, "a value in the completion store is {why}; ignored")
                    }
                    None => {
                        tracing::debug!(prefix = %self.prefix, kind, "a value in the completion store is {why}; ignored")
                    }
                }
                Ok(None)
            }
        }
    }

    fn subscriber(&self) -> Subscriber {
        Subscriber {
            client: self.client.clone(),
            channel: self.channel(),
            shown_url: self.shown_url.clone(),
            scrubbers: self.scrubbers.clone(),
            timeout: self.timeout,
            backoff: self.backoff,
            health_check_interval: self.health_check_interval,
            max_event_bytes: self.max_event_bytes,
        }
    }
}

impl RedisStore {
    /// The record script for `event`, marking with `token` (pending for `lease` if any).
    async fn record_now(
        &self,
        event: &StoredEvent,
        token: &MarkToken,
        lease: Option<Duration>,
    ) -> Result<Recorded, StoreError> {
        let carries_result = event.carries_result();
        let json = serde_json::to_string(&Filed {
            event,
            carries_result,
        })
        .map_err(|e| StoreError::new(format!("the delivery could not be encoded: {e}")))?;
        if json.len() > self.max_event_bytes {
            tracing::error!(
                bytes = json.len(),
                limit = self.max_event_bytes,
                "a verified delivery is over RedisStore::max_event_bytes and cannot be recorded; raise the limit"
            );
            return Err(StoreError::new(format!(
                "the delivery is {} bytes, over the Redis store's limit of {} bytes",
                json.len(),
                self.max_event_bytes
            )));
        }
        let (mark, mark_ttl) = match lease {
            Some(lease) => (
                format!("p:{}", token.as_str()),
                // Never longer than a confirmed mark would be kept.
                ttl_millis(lease.min(self.dedupe_ttl)).max(1),
            ),
            None => (
                format!("c:{}", token.as_str()),
                ttl_millis(self.dedupe_ttl).max(1),
            ),
        };
        let mut call = self.record_script.prepare_invoke();
        call.key(self.key("seen", &event.pipeline_key));
        for (kind, id) in [("task", &event.task_id), ("idem", &event.idempotency_key)] {
            if let Some(id) = id {
                call.key(self.key(kind, id));
            }
        }
        call.arg(json)
            .arg(ttl_millis(self.event_ttl))
            .arg(self.channel())
            .arg(mark_ttl)
            .arg(mark)
            .arg(if carries_result { "1" } else { "0" })
            .arg(
                event
                    .task_id
                    .as_ref()
                    .map_or_else(String::new, |t| format!("t:{t}")),
            );
        let won = self
            .exec(|mut c| {
                let call = &call;
                async move { call.invoke_async::<redis::Value>(&mut c).await }
            })
            .await
            .map_err(|f| self.store_error("record", f))?;
        // The script answers the integer 1, 0 or 3. Anything else is not Redis running it (a
        // proxy, a stand-in, a changed server): taken for a duplicate it would answer 200 for
        // an event nobody acted on, so it is a failure (503, VMEG redelivers).
        match script_integer(&won) {
            Some(1) => Ok(Recorded::Fresh),
            Some(0) => Ok(Recorded::Duplicate),
            Some(3) => Ok(Recorded::Pending),
            Some(4) => Err(StoreError::new(format!(
                "the delivery's mark in Redis ({}) is not one of this store's marks (another \
                 type, or a string it never writes): another program writes under this \
                 store's prefix",
                self.key("seen", &event.pipeline_key)
            ))),
            _ => Err(StoreError::new(format!(
                "Redis answered the record script with {}, not the integer 0, 1 or 3",
                shown_answer(&won)
            ))),
        }
    }
}

impl CompletionStore for RedisStore {
    fn record<'a>(&'a self, event: &'a StoredEvent) -> BoxFuture<'a, Result<Recorded, StoreError>> {
        Box::pin(async move { self.record_now(event, &MarkToken::new(), None).await })
    }

    fn record_marked<'a>(
        &'a self,
        event: &'a StoredEvent,
        token: &'a MarkToken,
        lease: Option<Duration>,
    ) -> BoxFuture<'a, Result<Recorded, StoreError>> {
        Box::pin(self.record_now(event, token, lease))
    }

    fn confirm<'a>(
        &'a self,
        pipeline_key: &'a str,
        token: &'a MarkToken,
    ) -> BoxFuture<'a, Result<Confirmation, StoreError>> {
        Box::pin(async move {
            let mut call = self.confirm_script.prepare_invoke();
            call.key(self.key("seen", pipeline_key))
                .arg(token.as_str())
                .arg(ttl_millis(self.dedupe_ttl).max(1));
            let found = self
                .exec(|mut c| {
                    let call = &call;
                    async move { call.invoke_async::<redis::Value>(&mut c).await }
                })
                .await
                .map_err(|f| self.store_error("confirm", f))?;
            match script_integer(&found) {
                Some(1) => Ok(Confirmation::Confirmed),
                Some(2) => Ok(Confirmation::Reclaimed),
                Some(0) => Ok(Confirmation::Taken),
                _ => Err(StoreError::new(format!(
                    "Redis answered the confirm script with {}, not the integer 0, 1 or 2",
                    shown_answer(&found)
                ))),
            }
        })
    }

    fn release<'a>(
        &'a self,
        pipeline_key: &'a str,
        token: &'a MarkToken,
    ) -> BoxFuture<'a, Result<bool, StoreError>> {
        Box::pin(async move {
            let mut call = self.release_script.prepare_invoke();
            call.key(self.key("seen", pipeline_key)).arg(token.as_str());
            let removed = self
                .exec(|mut c| {
                    let call = &call;
                    async move { call.invoke_async::<redis::Value>(&mut c).await }
                })
                .await
                .map_err(|f| self.store_error("release", f))?;
            match script_integer(&removed) {
                Some(1) => Ok(true),
                Some(0) => Ok(false),
                _ => Err(StoreError::new(format!(
                    "Redis answered the release script with {}, not the integer 0 or 1",
                    shown_answer(&removed)
                ))),
            }
        })
    }

    fn forget<'a>(&'a self, pipeline_key: &'a str) -> BoxFuture<'a, Result<(), StoreError>> {
        Box::pin(async move {
            let seen = self.key("seen", pipeline_key);
            let seen = &seen;
            self.exec(|mut c| async move {
                redis::cmd("DEL").arg(seen).query_async::<i64>(&mut c).await
            })
            .await
            .map(drop)
            .map_err(|f| self.store_error("forget", f))
        })
    }

    fn by_task<'a>(
        &'a self,
        task_id: &'a str,
    ) -> BoxFuture<'a, Result<Option<StoredEvent>, StoreError>> {
        Box::pin(self.lookup("task", task_id, move |e| {
            e.task_id.as_deref() == Some(task_id)
        }))
    }

    fn by_idempotency_key<'a>(
        &'a self,
        key: &'a str,
    ) -> BoxFuture<'a, Result<Option<StoredEvent>, StoreError>> {
        Box::pin(self.lookup("idem", key, move |e| {
            e.idempotency_key.as_deref() == Some(key)
        }))
    }

    fn dedupe_ttl(&self) -> Option<Duration> {
        Some(self.dedupe_ttl)
    }

    fn subscribe(&self, listener: Listener) -> Subscription {
        match tokio::runtime::Handle::try_current() {
            Ok(rt) => {
                let held = Arc::new(());
                let task = rt.spawn(self.subscriber().run(listener, Arc::downgrade(&held)));
                Subscription::of_task(task.abort_handle(), held)
            }
            Err(_) => {
                tracing::error!(
                    "RedisStore::subscribe was called outside a tokio runtime: no fan-out, waits poll (until the hub is used in one)"
                );
                listener(StoreSignal::Lost);
                Subscription::not_started()
            }
        }
    }
}

/// Says [`StoreSignal::Lost`] when the subscription task ends while its [`Subscription`] is
/// still held (`held` alive): the loop never returns, so that is the task dropped with its
/// runtime. Without it, a task gone with its runtime left the hub's waits on the slow
/// fallback schedule, with nothing logged. A drop of the `Subscription` (which lets `held`
/// go before it aborts the task) says nothing: nobody listens any more.
struct LostOnDrop {
    listener: Listener,
    held: std::sync::Weak<()>,
}

impl Drop for LostOnDrop {
    fn drop(&mut self) {
        if self.held.strong_count() > 0 {
            (self.listener)(StoreSignal::Lost);
        }
    }
}

/// What the subscription task needs (no borrow of the store: it outlives no guard).
struct Subscriber {
    client: redis::Client,
    channel: String,
    shown_url: String,
    scrubbers: Arc<[Scrubber]>,
    timeout: Duration,
    backoff: (Duration, Duration),
    health_check_interval: Duration,
    max_event_bytes: usize,
}

impl Subscriber {
    async fn run(self, listener: Listener, held: std::sync::Weak<()>) {
        let _lost_on_drop = LostOnDrop {
            listener: listener.clone(),
            held,
        };
        let mut backoff = self.backoff.0;
        // Lost is said once per outage, not once per failed attempt.
        let mut lost_said = false;
        loop {
            match self.open().await {
                Ok((sink, stream)) => {
                    tracing::debug!(url = %self.shown_url, channel = %self.channel, "subscribed to the completion store");
                    let since = tokio::time::Instant::now();
                    lost_said = false;
                    listener(StoreSignal::Restored);
                    let why = self.pump(&listener, sink, stream).await;
                    // Back to the first step only after a subscription that held through a
                    // health check: one cut right after each SUBSCRIBE (an oversized
                    // PUBLISH repeated, a proxy cutting pub/sub connections) backs off as a
                    // failed connection does, instead of waking every wait at 10 Hz (review
                    // 33-c #5).
                    if since.elapsed() >= self.health_check_interval {
                        backoff = self.backoff.0;
                    }
                    tracing::warn!(url = %self.shown_url, reason = %why, "the completion store's subscription dropped; reconnecting");
                }
                Err(why) => {
                    if !lost_said {
                        tracing::warn!(url = %self.shown_url, reason = %why, "cannot subscribe to the completion store; retrying");
                    } else {
                        tracing::debug!(url = %self.shown_url, reason = %why, "cannot subscribe to the completion store; retrying");
                    }
                }
            }
            if !lost_said {
                listener(StoreSignal::Lost);
                lost_said = true;
            }
            // Jitter in [50%, 100%] so that many instances do not reconnect in step.
            tokio::time::sleep(backoff.mul_f64(0.5 + crate::jitter::Jitter::new().f64() / 2.0))
                .await;
            backoff = backoff.saturating_mul(2).min(self.backoff.1);
        }
    }

    /// Connects and subscribes, within the timeout; returns once `SUBSCRIBE` is confirmed.
    async fn open(&self) -> Result<(PubSubSink, PubSubStream), String> {
        let attempt = async {
            let mut pubsub = self.client.get_async_pubsub().await?;
            pubsub.subscribe(&self.channel).await?;
            Ok::<_, RedisError>(pubsub.split())
        };
        match tokio::time::timeout(self.timeout, attempt).await {
            Ok(Ok(parts)) => Ok(parts),
            Ok(Err(e)) => Err(scrub_with(&self.scrubbers, &e.to_string())),
            Err(_) => Err(format!("no answer within {} ms", self.timeout.as_millis())),
        }
    }

    /// Hands every message to the listener until the connection ends or fails a health
    /// check; returns why.
    async fn pump(
        &self,
        listener: &Listener,
        mut sink: PubSubSink,
        mut stream: PubSubStream,
    ) -> String {
        loop {
            tokio::select! {
                msg = stream.next() => match msg {
                    None => return "the connection closed".to_owned(),
                    Some(msg) if msg.get_payload_bytes() == PROBE_PAYLOAD.as_bytes() => {
                        tracing::debug!(channel = %self.channel, "a store's permission probe on the channel; ignored");
                    }
                    Some(msg) => match decode_event(msg.get_payload_bytes(), self.max_event_bytes) {
                        Ok(event) => listener(StoreSignal::Event(Arc::new(event))),
                        // Whoever may publish here may do so as often as they like: warned
                        // as refused deliveries are (review 35-b #5).
                        Err(why) => match CHANNEL_JUNK.warns() {
                            Some(n) => tracing::warn!(channel = %self.channel, ignored_so_far = n, "a message on the completion store's channel is {why}; ignored"),
                            None => tracing::debug!(channel = %self.channel, "a message on the completion store's channel is {why}; ignored"),
                        },
                    },
                },
                () = tokio::time::sleep(self.health_check_interval) => {
                    match tokio::time::timeout(self.timeout, sink.ping::<redis::Value>()).await {
                        Ok(Ok(_)) => {}
                        Ok(Err(e)) => return scrub_with(&self.scrubbers, &e.to_string()),
                        Err(_) => return format!("no answer to PING within {} ms", self.timeout.as_millis()),
                    }
                }
            }
        }
    }
}

/// Whether `e` says the connection's node is no longer a writable primary: `READONLY`
/// (Redis 7; Redis 6 wraps it in a script's `ERR Error running script ... -READONLY`) or
/// `MASTERDOWN`. Behind a proxy or a DNS name, a failover leaves an open connection on the
/// demoted node for as long as its TCP session lives, while a new connection reaches the
/// new primary; the redis crate counts neither as a broken connection (`READONLY` is a
/// cluster's cue to refresh its slots), so the store must.
fn not_a_primary(e: &RedisError) -> bool {
    matches!(e.code(), Some("READONLY" | "MASTERDOWN"))
        || e.detail()
            .is_some_and(|d| d.contains("READONLY") || d.contains("MASTERDOWN"))
}

/// A stored or published value as a [`StoredEvent`]; `Err` says what is wrong with it.
fn decode_event(bytes: &[u8], max: usize) -> Result<StoredEvent, &'static str> {
    if bytes.len() > max {
        return Err("over the size limit");
    }
    serde_json::from_slice(bytes).map_err(|_| "not a stored delivery")
}

/// TTL in ms as Redis takes it: 0 stays 0 (not stored), anything else at least 1 ms and at
/// most [`MAX_TTL_MILLIS`].
/// A script's answer when it is an integer, as Redis sends a Lua number; `None` for anything
/// else. Reading it as `i64` would not do: the redis crate also parses the strings `+0` and
/// `$1 0` and a RESP3 double (0.5 and NaN as 0), so a proxy or stand-in answering the string
/// 0 would pass for "duplicate" (200, the event lost).
fn script_integer(answer: &redis::Value) -> Option<i64> {
    match answer {
        redis::Value::Int(n) => Some(*n),
        _ => None,
    }
}

/// What a script answered, for a message: the integer, or only the kind of anything else
/// (what a server that is not Redis sends stays out of logs).
fn shown_answer(answer: &redis::Value) -> String {
    use redis::Value;
    match answer {
        Value::Int(n) => format!("the integer {n}"),
        Value::Nil => "nil".to_owned(),
        Value::Okay
        | Value::SimpleString(_)
        | Value::BulkString(_)
        | Value::VerbatimString { .. } => "a string".to_owned(),
        Value::Double(_) => "a double".to_owned(),
        Value::Boolean(_) => "a boolean".to_owned(),
        Value::Array(_) | Value::Set(_) | Value::Map(_) => "an aggregate".to_owned(),
        _ => "an answer of another type".to_owned(),
    }
}

fn ttl_millis(d: Duration) -> u64 {
    if d.is_zero() {
        return 0;
    }
    u64::try_from(d.as_millis())
        .unwrap_or(u64::MAX)
        .clamp(1, MAX_TTL_MILLIS)
}

/// The URL as it may be shown: no password, no query (`redis+unix` URLs may carry one
/// there).
fn shown_url(url: &url::Url) -> String {
    let mut out = format!("{}://", url.scheme());
    let user = url.username();
    if !user.is_empty() || url.password().is_some() {
        out.push_str(user);
        if url.password().is_some() {
            out.push(':');
            out.push_str(REDACTED);
        }
        out.push('@');
    }
    if let Some(host) = url.host_str() {
        out.push_str(host);
    }
    if let Some(port) = url.port() {
        out.push_str(&format!(":{port}"));
    }
    out.push_str(url.path());
    if url.query().is_some() {
        out.push('?');
        out.push_str(REDACTED);
    }
    out
}

/// Every form of a password the URL holds: as written and percent-decoded, from the
/// userinfo and from a `pass` / `password` query parameter.
fn secrets_of(url: &url::Url) -> Vec<String> {
    let mut out = Vec::new();
    if let Some(p) = url.password() {
        out.push(p.to_owned());
        out.push(percent_decode(p));
    }
    for (name, value) in url.query_pairs() {
        if name == "pass" || name == "password" {
            out.push(value.into_owned());
        }
    }
    if let Some(q) = url.query() {
        for pair in q.split('&') {
            if let Some(("pass" | "password", v)) = pair.split_once('=') {
                out.push(v.to_owned());
            }
        }
    }
    out.retain(|s| !s.is_empty());
    out.sort();
    out.dedup();
    out
}

fn percent_decode(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while let Some(&b) = bytes.get(i) {
        let hex = bytes
            .get(i + 1..i + 3)
            .and_then(|h| std::str::from_utf8(h).ok())
            .and_then(|h| u8::from_str_radix(h, 16).ok());
        match (b, hex) {
            (b'%', Some(v)) => {
                out.push(v);
                i += 3;
            }
            _ => {
                out.push(b);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

fn scrub_with(scrubbers: &[Scrubber], text: &str) -> String {
    scrubbers
        .iter()
        .fold(text.to_owned(), |t, s| s.scrub_owned(t))
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::panic)]
    use super::*;

    const SECRET: &str = "pa55:w0rd/with%stuff";

    /// Only an integer is a script's answer: the strings `0` and `1` and a RESP3 double (0.5
    /// and NaN, which the redis crate reads as the integer 0) are not, and nothing a server
    /// sent is shown back.
    #[test]
    fn only_an_integer_is_a_script_answer() {
        use redis::Value;
        for n in [0, 1, 3] {
            assert_eq!(script_integer(&Value::Int(n)), Some(n));
            assert_eq!(
                redis::from_redis_value::<i64>(Value::Int(n)).unwrap(),
                n,
                "the crate's own reading agrees on integers"
            );
        }
        for odd in [
            Value::SimpleString("0".to_owned()),
            Value::BulkString(b"0".to_vec()),
            Value::SimpleString("1".to_owned()),
            Value::BulkString(b"1".to_vec()),
            Value::Double(0.5),
            Value::Double(f64::NAN),
            Value::Double(1.0),
            Value::Boolean(false),
            Value::Okay,
            Value::Nil,
            Value::Array(vec![Value::Int(0)]),
        ] {
            assert_eq!(script_integer(&odd), None, "{odd:?}");
            assert!(!shown_answer(&odd).contains('0'), "{odd:?}");
        }
        // What made the lenient reading lose events: these read as the integer 0.
        for lenient in [
            Value::SimpleString("0".to_owned()),
            Value::BulkString(b"0".to_vec()),
            Value::Double(0.5),
        ] {
            assert_eq!(redis::from_redis_value::<i64>(lenient).unwrap(), 0);
        }
        assert_eq!(shown_answer(&Value::Int(7)), "the integer 7");
    }

    #[test]
    fn defaults_are_24_h_events_72_h_marks_and_2_s_commands() {
        // README: "events kept 24 h and marks 72 h (settable, never under the 300 s replay
        // window); ... a timeout on every command (2 s)".
        let store = RedisStore::open("redis://127.0.0.1:6380/").unwrap();
        assert_eq!(store.event_ttl, Duration::from_secs(24 * 3600));
        assert_eq!(store.dedupe_ttl, Duration::from_secs(72 * 3600));
        assert_eq!(store.timeout, Duration::from_secs(2));
        let short = store.dedupe_ttl(Duration::ZERO);
        assert_eq!(short.dedupe_ttl, Duration::from_secs(600));
        // What a hub bounds its verifier's tolerance by.
        assert_eq!(
            CompletionStore::dedupe_ttl(&short),
            Some(Duration::from_secs(600))
        );
    }

    #[test]
    fn the_url_is_shown_without_its_password_or_query() {
        let store = RedisStore::open("redis://app:pa55%3Aw0rd%2Fwith%25stuff@127.0.0.1:6380/2")
            .unwrap()
            .prefix("p");
        let shown = format!("{store:?}");
        assert!(
            shown.contains("redis://app:[redacted]@127.0.0.1:6380/2"),
            "{shown}"
        );
        assert!(!shown.contains("pa55"), "{shown}");
        assert!(!shown.contains("w0rd"), "{shown}");
        assert_eq!(
            store.redacted_url(),
            "redis://app:[redacted]@127.0.0.1:6380/2"
        );

        let unix = RedisStore::open("redis+unix:///tmp/r.sock?db=1&pass=unix-secret-9").unwrap();
        assert_eq!(unix.redacted_url(), "redis+unix:///tmp/r.sock?[redacted]");
        assert!(!format!("{unix:?}").contains("unix-secret-9"));
    }

    #[test]
    fn a_bad_url_is_refused_without_repeating_it() {
        for url in [
            "not a url hunter2-secret",
            "http://u:hunter2-secret@127.0.0.1/",
            "redis://u:hunter2-secret@0.0.0.0/",
        ] {
            let err = RedisStore::open(url).unwrap_err();
            let text = format!("{err} {err:?}");
            assert!(!text.contains("hunter2"), "{text}");
            assert!(
                matches!(err.kind(), ErrorKind::InvalidInput { .. }),
                "{text}"
            );
        }
    }

    #[test]
    fn every_form_of_the_password_is_scrubbed() {
        let url = url::Url::parse("redis://app:pa55%3Aw0rd%2Fwith%25stuff@h/").unwrap();
        let scrubbers: Vec<Scrubber> = secrets_of(&url).iter().map(|s| Scrubber::new(s)).collect();
        let text = format!("auth {SECRET} failed; sent pa55%3Aw0rd%2Fwith%25stuff");
        let clean = scrub_with(&scrubbers, &text);
        assert!(!clean.contains("w0rd"), "{clean}");
    }

    #[test]
    fn ttls_and_ids_are_bounded() {
        assert_eq!(ttl_millis(Duration::ZERO), 0);
        assert_eq!(ttl_millis(Duration::from_nanos(1)), 1);
        assert_eq!(ttl_millis(Duration::MAX), MAX_TTL_MILLIS);
        let store = RedisStore::open("redis://127.0.0.1/")
            .unwrap()
            .dedupe_ttl(Duration::from_secs(1))
            .timeout(Duration::ZERO);
        assert_eq!(store.dedupe_ttl, MIN_DEDUPE_TTL);
        assert_eq!(store.timeout, Duration::from_millis(1));
        assert_eq!(store.key("task", "t1"), "voiceclone:task:t1");
        let long = "x".repeat(10_000);
        assert!(store.key("task", &long).len() < 100);
        assert_eq!(store.channel(), "voiceclone:events");
    }

    #[test]
    fn decoding_is_bounded_and_never_panics() {
        assert!(decode_event(b"{", 100).is_err());
        assert!(decode_event(&[0xff, 0xfe], 100).is_err());
        assert!(decode_event(&[b' '; 101], 100).is_err());
        assert!(decode_event(b"{\"pipelineKey\":1}", 100).is_err());
    }
}

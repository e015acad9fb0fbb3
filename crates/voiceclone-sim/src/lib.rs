//! A stateful local simulator of two voice-cloning HTTP APIs, for tests,
//! benchmarks and demos:
//!
//! - **VMEG Open API** (Standalone), under `/openapi/v1/...`;
//! - **JimmyAI Open API "SoundClone"**, under `/api/open-api/v1/...`.
//!
//! Both run on one loopback port. The simulator was written from the API
//! facts document alone and shares no types with the spec-generated clients.
//!
//! # Contents
//!
//! - [`Simulator`] / [`SimHandle`] (`server.rs`): start, base URL, counters,
//!   clock control, shutdown (also on drop; its `Debug` shows counts and the
//!   settings, never the API key or the webhook secret); the accept loop, and routing
//!   with an axum `Router` (state: the shared simulator) built from one
//!   table of (method, path, operation, vendor), with the faults applied
//!   around the vendor handler.
//! - [`SimConfig`] (`config.rs`): every setting, including the choices made
//!   for UNKNOWN facts (listed below).
//! - [`FaultConfig`] (`faults.rs`): seeded fault injection; the `--fault`
//!   spec grammar is documented on that module.
//! - [`SimHandle::fail_next`], [`Fault`] (`script.rs`): faults scripted at run
//!   time per operation (below).
//! - [`Stats`], [`CreateRecord`] (`stats.rs`): requests per operation and per
//!   HTTP status, faults per kind, billable creates grouped by logical call,
//!   connections accepted, evicted and refused.
//! - [`Delivery`], [`sign`] (`delivery.rs`): VMEG webhook deliveries and their
//!   HMAC-SHA256 signature; `webhook.rs` delivers them.
//! - [`bounds`], [`ConfigError`] (`bounds.rs`): every setting's bounds.
//! - `vmeg/` (`mod.rs`: dispatch, auth, idempotency keys; `tasks.rs`,
//!   `voices.rs`, `create.rs`, `materials.rs` with the storage behind its
//!   presigned URLs), `jimmyai.rs`: the vendor handlers;
//!   `results.rs`: VMEG result payloads (answers and webhooks); `audio.rs`:
//!   generated WAV and SRT; `state.rs`: tasks, voices, idempotency keys,
//!   model ids, uploads, eviction and the simulated clock; `shared.rs`: what
//!   handlers and background tasks share; `conns.rs`: the connection table;
//!   `respond.rs`: response helpers; `wire.rs`: request parsing helpers.
//!   Modules depend one way: `server.rs` on the vendors, the vendors on
//!   `shared.rs` / `respond.rs` / `state.rs`, never back.
//!
//! # Behaviour in brief
//!
//! Tasks move `queued -> processing -> completed | failed`, computed from
//! elapsed simulated time (first quarter of the duration queued). Durations
//! are divided by [`SimConfig::speed`]. [`SimHandle::complete_all_now`] and
//! [`SimHandle::advance_clock`] move things along. An advance moves the dates the APIs
//! report as well (VMEG `createdAt` and `updatedAt`, JimmyAI `created`): they run ahead of
//! the real clock by it, as a vendor's whose clock is that far fast. A client that compares
//! vendor dates with its own clock does not find the tasks made after an advance beyond
//! the skew it allows (voiceclone's `reconcile` allows 5 min).
//!
//! VMEG: Bearer auth (HTTP 401 envelope), `X-Idempotency-Key` required on
//! every mutating POST (not on the two list POSTs), a repeated (path, key)
//! within the TTL gives HTTP 409 + `Retry-After: 2`. Sync creates answer after
//! the task finishes; async creates answer at once and deliver a signed
//! webhook when one is configured. Operation names used in [`Stats`]:
//! `vmeg.cloneVoiceCreate`, `vmeg.cloneVoiceCreateAsync`, `vmeg.ttsCreate`,
//! `vmeg.ttsCreateAsync`, `vmeg.tasksList`, `vmeg.tasksDetail`,
//! `vmeg.tasksDelete`, `vmeg.cloneVoiceList`, `vmeg.cloneVoiceUpdate`,
//! `vmeg.cloneVoiceDelete`, `vmeg.basicVoiceList`, and the materials:
//! `vmeg.materialGenUploadUrl`, `vmeg.materialUploadComplete`,
//! `vmeg.materialMultipartInitiate`, `vmeg.materialMultipartPresign`,
//! `vmeg.materialMultipartComplete`, `vmeg.materialMultipartAbort`,
//! `vmeg.materialList`, `vmeg.materialDelete`, and `vmeg.materialPut` (the
//! presigned `PUT /sim/storage/{token}`).
//!
//! VMEG materials (`vmeg/materials.rs`): `gen-upload-url` hands out a
//! presigned PUT URL on the simulator itself (or, for an MD5 it already
//! holds, the existing material and an empty `uploadUrl`: instant upload);
//! the PUT must carry no `Authorization` header (400 otherwise, as object
//! stores refuse two authentications) and answers with the body's MD5 as a
//! quoted `ETag` (any other method on the URL answers 403, the upload left
//! alone); `complete` registers the material when the PUT arrived
//! and its MD5 is the announced `fileHash`. Multipart: `initiate`,
//! `presign-parts`, one PUT per part, `complete` with every part's `ETag`
//! (ascending; every part but the last at least min(5 MiB,
//! `recommendedPartSize`)), or `abort`. A material's `addressUrl` is served
//! from `/sim/files/`. A `drop-before` fault on `vmeg.materialPut` reads
//! about half of the body (for at most [`SimConfig::body_read_timeout`])
//! before closing the connection: the client is cut off in the middle of its
//! upload. Material calls are not billable.
//!
//! JimmyAI: Bearer auth, no idempotency (every accepted create is a new billable
//! task), `modelId` valid for 3 simulated days after the preview completes unless a
//! production task with it completes (activating it). A preview clone of a WAV the simulator
//! holds (`fileUrl` one of its own upload URLs) lasting 15 s or less, or 60 s or more,
//! fails (the UNKNOWN table below). Operations: `jimmyai.createClone`,
//! `jimmyai.createAudio`, `jimmyai.getAudio`, `jimmyai.uploadFile`.
//!
//! Billing ([`Stats::billable`], [`SimHandle::billable`]): every accepted create of
//! either vendor counts once, when accepted (answered with its task, or its answer lost
//! to a fault injected after processing), whatever becomes of the task: one that later
//! fails, or is deleted or evicted, still counts. The vendors may refund failed tasks
//! (JimmyAI does, api-facts B4): the count is what was submitted and charged, not the
//! net cost. A create refused before a task existed (validation, a fault injected before
//! processing, a VMEG 409, a 503 for a full task table) is not counted.
//!
//! Result audio, TTS files and uploads are served from `GET /sim/files/{name}`
//! on the same port (plain `http://`, so clients can download them); any method
//! but GET and HEAD there gets 405, as a CDN's or S3's download URL answers.
//!
//! # Audio that plays
//!
//! VMEG TTS results and JimmyAI preview and production audio are real WAV
//! files: RIFF, PCM, mono, 16-bit, 8 kHz, a soft 220 Hz tone lasting 60 ms
//! per character of the line's text (at least 0.5 s, at most 30 s; the VMEG
//! `duration` field says the same, in seconds). They are made when
//! downloaded, from the task's text, so nothing is stored per task. The
//! simulator cannot encode MP3 or M4A faithfully, so it never pretends to:
//! whatever `outputFormat` a VMEG TTS request names, and although JimmyAI
//! documents MP3, the result is served as `audio/wav` under a `.wav` name
//! (in the result URL and in `Content-Disposition`). JimmyAI subtitles
//! (`subtitleEnable`) are one SubRip cue spanning the audio. A failed,
//! unfinished, deleted or evicted task's audio answers 404.
//!
//! # Choices for UNKNOWN facts (all configurable on [`SimConfig`])
//!
//! | fact | default | setting |
//! |---|---|---|
//! | VMEG clone/TTS status words | queued and running → `running`, done → `finished`, `failed` | [`SimConfig::vmeg_status_words`] |
//! | VMEG `tasks/detail` `result` of a clone | `{"voiceId": "cv_..."}` (`{}` while running, `{"errorMessage"}` on failure) | [`SimConfig::vmeg_clone_result_has_voice_id`] |
//! | VMEG HTTP status of business errors 400/402/404/422/500/502 | same as `code` (401/409/413 always their own status) | [`SimConfig::vmeg_business_errors_http_200`] |
//! | VMEG key consumed by an injected 429/5xx/drop before processing | no | [`SimConfig::vmeg_fault_consumes_idempotency_key`] |
//! | VMEG key consumed by a request rejected after its JSON body was read (400/404, 413 at material `complete`; never one refused before: body too large, malformed, 401, bad key header) | no | [`SimConfig::vmeg_rejection_consumes_idempotency_key`] |
//! | VMEG 409 body | no replay, `data: null` | — |
//! | VMEG in-flight duplicate (A4: a second request with a key whose first is still handled: a sync create waiting for its task, a material `complete`) | 409 at once; a first request later rejected gives the key back (unless `vmeg_rejection_consumes_idempotency_key`), so that 409 named a key that ends up unused | — |
//! | VMEG `tasks/detail` `result` of a finished TTS task (A10: free-form, shaped by `taskType`) | `{"results": [{"uri", "duration", "errorMessage"}, ...]}`, one per `data` item | — |
//! | VMEG async clone `createdAt` (A8, CONFLICT: treat it as optional) | always present in the create's answer (a client that requires it passes here) | — |
//! | VMEG webhook retries | 3 retries after 1 s, 2 s, 4 s (÷ speed); failed tasks also get a webhook with `code` 500 and `data` `{taskId, errorMessage, createdAt}` (the `errorMessage` of `tasks/detail`); a 3xx is a failed attempt (redirects are not followed, no proxy is used) | [`SimConfig::webhook_retry_delays`] |
//! | VMEG max JSON body (→ 413) | 1 MiB | [`SimConfig::vmeg_max_body_bytes`] |
//! | VMEG clone required fields | only `refAudio` (HTTPS); `provider` defaults to `V1` | — |
//! | VMEG clone field lengths (`voiceName`, `sampleText`, ...) | at most 1024 bytes of `voiceName` (create and `clone/update`) and `sampleLanguage`, 8 KiB of `refAudio`, 16 KiB of `sampleText`; longer is 400 naming the field | — |
//! | VMEG async create without a webhook | accepted; poll `tasks/detail` | [`SimConfig::webhook`] |
//! | VMEG `pageSize` maximum | 100 (larger values are clamped) | — |
//! | VMEG `pageSize` when none is sent | the documented defaults: 20 (`tasks/list`, material list), 10 (voice lists) | — |
//! | VMEG sync failure | HTTP 502 envelope (task stays queryable) | — |
//! | VMEG sync create whose task is deleted (`tasks/delete`) while it waits | answered at once: HTTP 502 envelope, `data: null`, "Task … was deleted while running"; the create stays billed | — |
//! | task durations | clone 2 s, TTS/audio 1 s (÷ speed) | [`SimConfig::clone_duration`], [`SimConfig::tts_duration`] |
//! | JimmyAI `code` type | integer | [`SimConfig::jimmy_code_as_string`] |
//! | JimmyAI auth failure | code 20001, HTTP 200 | [`SimConfig::jimmy_auth_error`] |
//! | JimmyAI bad parameters (incl. expired/unknown `modelId`) | code 20002, HTTP 200 | [`SimConfig::jimmy_bad_request`] |
//! | JimmyAI unknown task id in `audios/{id}` | code 20002, HTTP 200 | [`SimConfig::jimmy_not_found`] |
//! | JimmyAI server error / injected business error | code -1, HTTP 200 | [`SimConfig::jimmy_server_error`] |
//! | JimmyAI `modelId` activation | when a production task with it completes (a failed one never activates it) | — |
//! | JimmyAI `fileUrl` without extension | accepted | — |
//! | JimmyAI clone of speech not lasting more than 15 s and less than 60 s (B4, CONFIRMED): refused at the create, or the task failed | checked only when `fileUrl` names a WAV the simulator holds (its upload, a VMEG material: `/sim/files/...`), by the whole file's duration: accepted (and billed), then the task fails with `error` "speech must last more than 15 s and less than 60 s (simulated): ..." and no `modelId`. Other URLs are never fetched, so never checked | — |
//! | VMEG clone `refAudio` = a material's `addressUrl` (plain http on loopback) | accepted | [`SimConfig::vmeg_clone_accepts_material_urls`] |
//! | VMEG material size limit (→ 413) | 200 MiB per PUT and per material (less when [`SimConfig::max_upload_bytes`] is smaller) | [`SimConfig::vmeg_max_material_bytes`] |
//! | VMEG `recommendedPartSize` | 8 MiB | [`SimConfig::vmeg_material_part_size`] |
//! | VMEG presigned URL validity (→ 403) | 1 h (simulated) | [`SimConfig::vmeg_presign_validity`] |
//! | VMEG instant upload on `multipart/initiate` | no (only `gen-upload-url`) | — |
//! | VMEG upload `complete` of a file already held as another material (two uploads of one file raced; a multipart upload of a known file) | its own material, under the `materialId` it was started with (never the other one's) | — |
//! | JimmyAI `fileUrl` length | at most 8 KiB (as VMEG's `refAudio`); longer is the vendor's bad request naming the field | — |
//! | JimmyAI `contentText` length | under 10,000 (the Chinese page; the English one says at most 10,000): 9,999 Unicode scalar values at most, pause markers counted | — |
//! | JimmyAI upload size, "100 MB" | 100,000,000 bytes (not 100 MiB) | — |
//!
//! # Bounded under load and abuse
//!
//! - **Connections.** A connection gets [`SimConfig::header_read_timeout`] to
//!   send each request's headers (so an idle keep-alive connection is closed
//!   after it too) and [`SimConfig::body_read_timeout`] for each body (then
//!   HTTP 408, `Connection: close`); a write of an answer that makes no
//!   progress for [`SimConfig::response_write_timeout`] (the client stopped
//!   reading) closes the connection. At most [`SimConfig::max_connections`]
//!   are open: a new one closes the least recently active idle connection
//!   (the way nginx reuses idle keep-alive connections; one whose request has
//!   started is never closed, and a request arriving as its connection is
//!   closed is dropped unanswered before it is handled), or is closed itself
//!   when every connection has a request in flight
//!   ([`Stats::connections_evicted`], [`Stats::connections_refused`],
//!   [`SimHandle::open_connections`]). A client may shut its sending side after
//!   its request (`shutdown(SHUT_WR)`, `nc -N`) and is still answered; so a
//!   client gone while its sync create waits is seen only when the answer is
//!   written: its connection stays in flight (never evicted) until the task is
//!   due, at most the task's duration ([`SimConfig::clone_duration`] or
//!   [`SimConfig::tts_duration`] divided by [`SimConfig::speed`]), or sooner on
//!   [`SimHandle::advance_clock`], [`SimHandle::complete_all_now`] or the
//!   task's `tasks/delete`. A request head (request line and headers) larger
//!   than 64 KiB gets HTTP 431, however it arrives.
//! - **Uploads received at once.** Presigned material PUTs and JimmyAI
//!   uploads share 2 upload slots; waiting for one counts against
//!   [`SimConfig::body_read_timeout`], past which a PUT gets S3's 503
//!   `SlowDown` and a JimmyAI upload [`SimConfig::jimmy_server_error`]
//!   ("busy"). An upload refused before its body was read (either vendor)
//!   reads and drops the rest (at most 64 MiB, within the body read timeout)
//!   so the client sees the answer rather than a broken pipe. A JimmyAI
//!   multipart body is refused (the vendor's bad request) past 100 MB
//!   (100,000,000 bytes) of `file` and 1 MiB more in all, 64 KiB of any
//!   other field, or 16 KiB of one part's headers, and at once with a
//!   boundary over 70 characters.
//!   The MD5 of a presigned PUT and of a completed material, and the join of
//!   a multipart upload's parts, run on tokio's blocking pool (never under a
//!   lock), so a large upload does not hold a current-thread runtime; calls to
//!   `complete` for one upload run one after the other (one copy of it at a time).
//! - **JSON bodies parsed at once.** A JSON body (either vendor) is read and parsed only
//!   with room in a budget of 8 MiB of bodies being read, parsed and checked
//!   ([`bounds::MAX_JSON_PARSE_BYTES`]; a larger body takes it alone), as each parses to
//!   some 17 to 32 times its size; the others wait for room, unread, within
//!   [`SimConfig::body_read_timeout`], past which VMEG
//!   answers 503 with `Retry-After` and JimmyAI [`SimConfig::jimmy_server_error`]
//!   ("busy"): nothing created, no VMEG key used. A body holding room must keep coming
//!   at 1 MiB/s after a first second (else 408 at once, its room back), so stalled
//!   bodies cannot hold the budget; one whose `Content-Length` is over the limit takes
//!   no room and is dropped as it comes, none of it kept, before its 413.
//! - **Stored data.** Finished tasks beyond [`SimConfig::max_tasks`] (the
//!   oldest first) or finished longer than [`SimConfig::task_retention`]
//!   ago (counted from when the simulator saw them finish, so a clock moved
//!   past the retention in one step does not evict them at once; and never
//!   before their sync create has answered or their webhook has been built),
//!   and uploads beyond [`SimConfig::max_uploads`] /
//!   [`SimConfig::max_upload_bytes`] or older than
//!   [`SimConfig::upload_retention`], are evicted ([`SimHandle::evicted`]).
//!   The client-supplied text the tasks keep (`extraData`, TTS and JimmyAI
//!   text, names, URLs) is bounded by [`SimConfig::max_task_bytes`] too (tasks
//!   evicted as at the count cap, never the one just created). An unfinished
//!   task (billed, and still polled), or one whose sync create has not answered
//!   or whose webhook has not been built, is never evicted by the bounds: when
//!   only such tasks are left, a new create is refused (HTTP 503 with
//!   `Retry-After` in the vendor's envelope, not billed, its VMEG idempotency
//!   key released). One upload larger than [`SimConfig::max_upload_bytes`] on
//!   its own is refused before anything is evicted for it (a presigned PUT:
//!   S3's 413 `EntityTooLarge`; a JimmyAI upload: the vendor's bad request,
//!   [`SimConfig::jimmy_bad_request`]; a multipart material adding up to more:
//!   413 `EntityTooLarge` at the PUT of the part that takes it past the limit,
//!   before that part is stored). The text kept by [`Stats::creates`]
//!   and by the webhook attempts of [`SimHandle::webhook_deliveries`] (each
//!   holding a copy of its body) is bounded by `max_task_bytes` as well.
//!   A deleted or evicted task's pending webhook delivery is dropped with it.
//!   At most [`bounds::MAX_CONCURRENT_WEBHOOKS`] (64) webhook attempts are
//!   in flight, and the bodies of deliveries under way hold at most
//!   [`SimConfig::max_task_bytes`] (one body is shared by its attempts);
//!   deliveries beyond wait their turn (never dropped: a slow receiver delays
//!   them), and are dropped only if their task is deleted or evicted while
//!   they wait.
//!   An evicted id answers as any unknown id does (VMEG 404 "Task not
//!   found", JimmyAI [`SimConfig::jimmy_not_found`], `/sim/files` 404).
//!   Voices made by clones stay in the VMEG voice library when their task is
//!   evicted, and JimmyAI model ids stay usable when their preview task is;
//!   at most [`SimConfig::max_voices`] of each are kept (oldest first, a deleted
//!   voice counting no more; for model ids, the oldest not activated first,
//!   activated ones only when no other is left, never the one just made), and
//!   the voices' text (name, sample text, audio URL) holds at most
//!   [`SimConfig::max_task_bytes`] besides (oldest evicted first, the newest
//!   and a voice being renamed always kept); each of those fields is bounded
//!   per voice as well (see the table above).
//!   A VMEG material whose bytes the upload bounds evicted is forgotten with
//!   them (no longer listed, nor offered by instant upload).
//!   A pending VMEG material upload keeps its latest 20,000 presigned URLs
//!   (every part twice; older ones answer 403 as expired ones do), all
//!   uploads together the latest 100,000 (expired ones are forgotten as new
//!   ones are made), and
//!   `presign-parts` hands out one URL per distinct part number.
//!   Idempotency keys expire after their TTL and at most
//!   [`SimConfig::max_idempotency_keys`] are remembered. The test records
//!   ([`Stats::creates`], [`SimHandle::webhook_deliveries`]) keep the latest
//!   [`SimConfig::max_records`]; the counters stay exact.
//! - **Cost per request.** A task's phase is computed from its timestamps
//!   when read; completion side effects (a VMEG voice, a JimmyAI model id)
//!   are applied from a queue ordered by due time, and evictions pop from
//!   queues ordered by age, so a request about one task costs O(log n) in
//!   the number of tasks, not a scan under the global lock. The list
//!   endpoints (`tasks/list`, `clone/list`, the material list) do scan what
//!   they filter, under the lock (building only the page's rows): milliseconds
//!   at tens of thousands of tasks. A `clone/list` `searchName` reads each
//!   voice's name case-folded when it was set (at most 1 KiB), so a search
//!   allocates nothing per voice.
//! - **Waiting.** Sync creates and webhook deliveries sleep until their
//!   task's due time (one timer each), woken early when the clock is moved by
//!   [`SimHandle::advance_clock`] or [`SimHandle::complete_all_now`], or (a sync
//!   create) when its task is deleted; nothing polls. A waiter registers for the
//!   wake-up before it reads the due time, so one sent in between is not lost.
//!   Handlers read the simulated time under the state lock that records what
//!   they date with it (keys, tasks, uploads, a `modelId`'s expiry), so a clock
//!   moved while a request waited for the lock is in its records; and a create is
//!   counted ([`Stats`]) under the lock that inserts its task, the count and
//!   the records under one lock, so a snapshot or a task listing never sees one
//!   without the other.
//!
//! # Scripted faults
//!
//! Random faults ([`SimConfig::faults`]) are drawn per request from the seed.
//! To test one path exactly, script faults at run time instead (or as well):
//!
//! - [`SimHandle::fail_next`]`(operation, fault, n)`: the next `n` calls of
//!   `operation` get `fault`, in place of the random draw for those calls
//!   (the draw still happens, so later requests see the same random faults
//!   as without the script). Scripts for one operation queue in order. A
//!   call with a wrong or missing key (or an unknown or tampered upload URL)
//!   takes no scripted fault, nor a random one.
//! - [`SimHandle::scripted_pending`]`(operation)`: calls still scripted.
//! - [`SimHandle::clear_scripted_faults`]: forget what is left.
//!
//! `fault` is a [`FaultKind`] or a [`Fault`] with an argument
//! ([`Fault::too_many_requests`]`(retry_after)`, [`Fault::latency`]`(d)`,
//! [`Fault::http500_after`]`()`), also parsed from `KIND[:ARG]` text such as
//! `502`, `drop-after`, `500:after`, `429:2s`.
//! Errors ([`ScriptError`]): an unknown operation; `unknown-status` on an
//! operation without a task status; a duration beyond the `--fault` bounds.
//!
//! Operation names ([`OPERATIONS`]; the same names as in [`Stats`]):
//!
//! | operation | route |
//! |---|---|
//! | `vmeg.cloneVoiceCreate` | `POST /openapi/v1/task/clone-voice/create` |
//! | `vmeg.cloneVoiceCreateAsync` | `POST /openapi/v1/task/clone-voice/create-async` |
//! | `vmeg.ttsCreate` | `POST /openapi/v1/task/tts/create` |
//! | `vmeg.ttsCreateAsync` | `POST /openapi/v1/task/tts/create-async` |
//! | `vmeg.tasksList` | `GET /openapi/v1/tasks/list` (status) |
//! | `vmeg.tasksDetail` | `GET /openapi/v1/tasks/detail` (status) |
//! | `vmeg.tasksDelete` | `POST /openapi/v1/tasks/delete` |
//! | `vmeg.cloneVoiceList` | `POST /openapi/v1/assets/voice/clone/list` |
//! | `vmeg.cloneVoiceUpdate` | `POST /openapi/v1/assets/voice/clone/update` |
//! | `vmeg.cloneVoiceDelete` | `POST /openapi/v1/assets/voice/clone/delete` |
//! | `vmeg.basicVoiceList` | `POST /openapi/v1/assets/voice/basic/list` |
//! | `vmeg.materialGenUploadUrl` | `POST /openapi/v1/assets/material/upload/gen-upload-url` |
//! | `vmeg.materialUploadComplete` | `POST /openapi/v1/assets/material/upload/complete` |
//! | `vmeg.materialMultipartInitiate` | `POST /openapi/v1/assets/material/upload/multipart/initiate` |
//! | `vmeg.materialMultipartPresign` | `POST /openapi/v1/assets/material/upload/multipart/presign-parts` |
//! | `vmeg.materialMultipartComplete` | `POST /openapi/v1/assets/material/upload/multipart/complete` |
//! | `vmeg.materialMultipartAbort` | `POST /openapi/v1/assets/material/upload/multipart/abort` |
//! | `vmeg.materialList` | `GET /openapi/v1/assets/material/list` |
//! | `vmeg.materialDelete` | `POST /openapi/v1/assets/material/delete` |
//! | `vmeg.materialPut` | `PUT /sim/storage/{token}` (presigned; no API key) |
//! | `jimmyai.createClone` | `POST /api/open-api/v1/soundCloning/clones` |
//! | `jimmyai.createAudio` | `POST /api/open-api/v1/soundCloning/audios` |
//! | `jimmyai.getAudio` | `GET /api/open-api/v1/audios/{id}` (status) |
//! | `jimmyai.uploadFile` | `POST /api/open-api/v1/files/upload` |
//!
//! ```
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> Result<(), Box<dyn std::error::Error>> {
//! use voiceclone_sim::{FaultKind, Simulator};
//!
//! let sim = Simulator::start().await?;
//! // The next two async clone creates answer HTTP 502 (nothing is created).
//! sim.fail_next("vmeg.cloneVoiceCreateAsync", FaultKind::Http502, 2)?;
//! // The next sync create is processed (task created, billed, key used),
//! // then its connection is closed without an answer: an unknown outcome.
//! sim.fail_next("vmeg.cloneVoiceCreate", FaultKind::DropAfter, 1)?;
//! // The next status poll reports the unknown status `warming_up`.
//! sim.fail_next("vmeg.tasksDetail", FaultKind::UnknownStatus, 1)?;
//! assert_eq!(sim.scripted_pending("vmeg.cloneVoiceCreateAsync"), 2);
//! # Ok(())
//! # }
//! ```
//!
//! # Where the URLs it hands out point
//!
//! Every URL handed out (TTS `uri`, JimmyAI `url`, `audioUrl` and
//! `subtitleFile`, material `uploadUrl`, `addressUrl` and `audioUrl`) starts
//! with [`SimHandle::base_url`]: `http://` and the bound address, or
//! [`SimConfig::public_base_url`] when set. Bound to `0.0.0.0` or `[::]`
//! without it, they name the unspecified address, which a client on another
//! machine or container resolves to its own (a warning is logged at start):
//! set it to the name clients reach the simulator by (`voiceclone sim
//! --public-url http://sim:8080`).
//!
//! # Sharing one simulator
//!
//! The server runs on the tokio runtime that started it. A `#[tokio::test]` gets a runtime
//! of its own, shut down when the test ends: a simulator started there and kept in a
//! `static` for the other tests stops serving with that first test, yet its handle keeps
//! the port bound, so a later test's connection is accepted by the kernel and never
//! answered (it hangs, or times out), while the handle's own methods ([`SimHandle::stats`],
//! [`SimHandle::complete_all_now`], ...) still work and hide the cause. Share one on a
//! runtime kept beside it for as long as the handle, as the CLI's tests do:
//!
//! ```
//! use std::sync::OnceLock;
//! use voiceclone_sim::{SimHandle, Simulator};
//!
//! /// The simulator, with the runtime it runs on: both live as long as the test binary.
//! struct Shared {
//!     sim: SimHandle,
//!     _rt: tokio::runtime::Runtime,
//! }
//!
//! fn sim() -> &'static SimHandle {
//!     static SIM: OnceLock<Shared> = OnceLock::new();
//!     &SIM.get_or_init(|| {
//!         // In a thread of its own: a test's runtime cannot block on another runtime.
//!         std::thread::spawn(|| {
//!             let rt = tokio::runtime::Builder::new_multi_thread()
//!                 .worker_threads(1)
//!                 .enable_all()
//!                 .build()
//!                 .expect("a runtime for the simulator");
//!             let sim = rt.block_on(Simulator::start()).expect("the simulator starts");
//!             Shared { sim, _rt: rt }
//!         })
//!         .join()
//!         .expect("the simulator starts")
//!     })
//!     .sim
//! }
//!
//! // Two "tests", each on a runtime of its own that ends before the next starts: both
//! // are answered (here 401, no API key sent).
//! for _ in 0..2 {
//!     let rt = tokio::runtime::Builder::new_current_thread().enable_all().build()?;
//!     let answer = rt.block_on(async {
//!         use tokio::io::{AsyncReadExt, AsyncWriteExt};
//!         let mut conn = tokio::net::TcpStream::connect(sim().addr()).await?;
//!         conn.write_all(b"GET /openapi/v1/tasks/list HTTP/1.1\r\nhost: sim\r\n\
//!                          connection: close\r\n\r\n")
//!             .await?;
//!         let mut answer = String::new();
//!         conn.read_to_string(&mut answer).await?;
//!         Ok::<_, std::io::Error>(answer)
//!     })?;
//!     assert!(answer.starts_with("HTTP/1.1 401"), "{answer}");
//! }
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! ## What tests sharing one simulator share
//!
//! A simulator is one account under one API key: every test on a shared one sees and
//! changes the same
//!
//! - tasks and voices: `tasks/list` and `clone/list` list every test's (so does
//!   voiceclone's `reconcile`: a neighbour's clone named "narrator" is a candidate for this
//!   test's lost submit), and [`SimHandle::complete_all_now`] finishes them all;
//! - idempotency keys, per (path, key): of two tests sending the key `test-1` on one path,
//!   the second gets 409;
//! - the clock: [`SimHandle::advance_clock`] ages every test's keys, tasks, uploads and
//!   JimmyAI `modelId`s (finished tasks past [`SimConfig::task_retention`] are evicted, and
//!   `tasks/detail` answers 404 for them), and moves every date reported (# Behaviour in
//!   brief);
//! - scripted faults, queued per operation, not per test: [`SimHandle::fail_next`]`(op,
//!   .., 8)` fails the next 8 calls of `op`, whichever tests make them, and
//!   [`SimHandle::clear_scripted_faults`] clears every test's;
//! - the counters and records: [`Stats`], [`SimHandle::billable`],
//!   [`SimHandle::webhook_deliveries`], [`SimHandle::wait_for_deliveries`] (it counts every
//!   test's attempts), and [`Stats::duplicate_logical_calls`] (two tests synthesizing the
//!   same text are one logical call billed twice).
//!
//! cargo runs a binary's tests in parallel, so tests sharing one simulator must:
//!
//! - use keys and names of their own: the test's name or a UUID in every idempotency key,
//!   voice name, text and `extraData`;
//! - assert deltas (a count read before and after), never absolute counts, and look for
//!   their own tasks by id;
//! - never call [`SimHandle::fail_next`], [`SimHandle::advance_clock`],
//!   [`SimHandle::complete_all_now`] or [`SimHandle::clear_scripted_faults`].
//!
//! A test that needs any of these starts a simulator of its own instead (a port bound and
//! a few allocations: milliseconds), as this workspace's own tests do. The simulator
//! accepts one API key, so a test cannot keep to itself with a key of its own as it could
//! at VMEG, which scopes tasks, assets and idempotency keys to the API key.
//!
//! ## A test whose clock is paused
//!
//! Do not start it on a runtime whose clock is paused (`#[tokio::test(start_paused =
//! true)]`, `tokio::time::pause`). Its simulated clock is the real one plus
//! [`SimHandle::advance_clock`], while its timers are that runtime's: each time the runtime
//! is idle they fire at once, so a sync create or a webhook delivery wakes, finds its task
//! not due on the real clock, and sleeps again, spinning a core (and taking the state
//! lock) until real time reaches the due time; a connection's header, body and write
//! timeouts end it as soon as the runtime idles waiting for its client. A test that pauses
//! its clock starts the simulator on a runtime of its own, as above: the test's paused
//! clock then moves its own sleeps only, and [`SimHandle::wait_for_deliveries`], timed on
//! the simulator's runtime, still waits real time for the webhooks. (Not following the
//! paused clock instead: tokio's clock is read from whichever runtime the caller is on, so
//! the handle's methods, called from another runtime or none, would see a clock going back
//! and forth.)
//!
//! # Settings and their bounds
//!
//! [`Simulator::start_with`] runs [`SimConfig::validate`] first and refuses
//! (an `InvalidInput` I/O error wrapping a [`ConfigError`] that names the
//! setting) any value outside these bounds; the CLI's `sim` and `demo` turn
//! the same checks into exit code 2. The constants live in [`bounds`].
//!
//! | setting | accepted |
//! |---|---|
//! | `speed` | finite, 0.001 to 1,000,000 |
//! | `api_key` | 1 to 4096 bytes of visible ASCII (spaces only between characters) |
//! | `public_base_url` | `http://` or `https://` and a host, no query, fragment or whitespace, at most 2048 bytes |
//! | `clone_duration`, `tts_duration` | at most 30 days (before dividing by `speed`) |
//! | `task_failure_rate` | finite, 0 to 1 |
//! | `faults.rate_*` | finite, 0 to 1 (their sum may exceed 1: the exclusive kinds are then drawn in order) |
//! | `faults.retry_after` (`429=R:ARG`) | at most 1 day |
//! | `faults.latency` (`latency=R:ARG`) | at most 10 minutes |
//! | `webhook.url` | an absolute `http://` or `https://` URL |
//! | `idempotency_ttl`, `jimmy_model_validity` | at most 365 days |
//! | `vmeg_max_body_bytes` | at most 64 MiB |
//! | `webhook_retry_delays` | at most 16 delays, each at most 1 day |
//! | `webhook_timeout` | 1 ms to 1 hour |
//! | `jimmy_*_error.http_status` | 200 to 599 |
//! | `vmeg_status_words.*` | non-empty, at most 64 bytes |
//! | `max_connections` | 1 to 100,000 (default 1024) |
//! | `header_read_timeout`, `body_read_timeout`, `response_write_timeout` | 10 ms to 1 hour (default 30 s) |
//! | `max_tasks` | 1 to 10,000,000 (default 100,000) |
//! | `task_retention`, `upload_retention` | at most 365 days (default 24 h) |
//! | `max_task_bytes` | 1 byte to 16 GiB (default 256 MiB) |
//! | `max_uploads` | 1 to 1,000,000 (default 1000) |
//! | `max_upload_bytes` | at most 16 GiB (default 256 MiB; at most 2 uploads received at once; one upload larger is refused) |
//! | `max_idempotency_keys` | 1 to 10,000,000 (default 200,000) |
//! | `max_voices` | 1 to 10,000,000 (default 100,000) |
//! | `max_records` | 1 to 10,000,000 (default 100,000) |
//! | `vmeg_max_material_bytes` | 1 byte to 16 GiB (default 200 MiB; `max_upload_bytes` is the limit when smaller) |
//! | `vmeg_material_part_size` | 1 byte to 5 GiB (default 8 MiB) |
//! | `vmeg_presign_validity` | 1 s to 365 days (default 1 h) |
//!
//! On a 32-bit target the bounds of 16 GiB and 5 GiB are `usize::MAX` instead.
//!
//! Any duration divided by `speed` is capped at 30,000 days, and the
//! simulated clock saturates ([`SimHandle::advance_clock`] with
//! `Duration::MAX` is fine), so no setting and no request can overflow.
//!
//! A VMEG idempotency key is held while its request is handled and given
//! back if the handler rejects the request (unless
//! [`SimConfig::vmeg_rejection_consumes_idempotency_key`]), panics or is
//! cancelled: a key is never used up without its task.
//!
//! # Example
//!
//! A downstream test drives the simulator with plain `reqwest`:
//!
//! ```
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> Result<(), Box<dyn std::error::Error>> {
//! use voiceclone_sim::{SimConfig, Simulator};
//!
//! let sim = Simulator::start_with(SimConfig::default().with_speed(1000.0)).await?;
//! let _ = rustls::crypto::ring::default_provider().install_default();
//! let http = reqwest::Client::new();
//! let resp: serde_json::Value = http
//!     .post(format!("{}/openapi/v1/task/clone-voice/create", sim.base_url()))
//!     .bearer_auth(sim.api_key())
//!     .header("X-Idempotency-Key", "doc-example-1")
//!     .json(&serde_json::json!({
//!         "voiceName": "Narrator",
//!         "provider": "V1",
//!         "refAudio": "https://example.com/sample.wav",
//!         "sampleLanguage": "en-US"
//!     }))
//!     .send()
//!     .await?
//!     .json()
//!     .await?;
//! assert_eq!(resp["code"], 200);
//! assert!(resp["data"]["voiceId"].as_str().unwrap_or("").starts_with("cv_"));
//! assert_eq!(sim.stats().billable("vmeg.cloneVoiceCreate"), 1);
//! sim.shutdown().await;
//! # Ok(())
//! # }
//! ```

mod audio;
pub mod bounds;
mod config;
mod conns;
mod delivery;
mod faults;
mod jimmyai;
mod respond;
mod results;
mod script;
mod server;
mod shared;
mod state;
mod stats;
mod vmeg;
mod webhook;
mod wire;

pub use bounds::ConfigError;
pub use config::{JimmyError, SimConfig, VmegStatusWords, WebhookTarget};
pub use delivery::{Delivery, sign};
pub use faults::{FaultConfig, FaultKind, FaultSpecError};
pub use script::{Fault, OPERATIONS, STATUS_OPERATIONS, ScriptError};
pub use server::{SimHandle, Simulator};
pub use stats::{CreateRecord, ExtraData, Stats};

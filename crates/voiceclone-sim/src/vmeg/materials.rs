//! VMEG materials (`/openapi/v1/assets/material/...`) and the storage their
//! presigned URLs point at (`PUT /sim/storage/{token}`), as VMEG's document
//! describes them (api-facts A6b):
//!
//! - `gen-upload-url` takes the file's MD5 and name and answers with a
//!   presigned PUT URL on this simulator, the upload target (`s3Uri`) and a
//!   new `materialId`; when a material with that MD5 already exists it
//!   answers with that material and an empty `uploadUrl` ("instant upload").
//! - The PUT goes to the storage without the API key: a PUT that carries an
//!   `Authorization` header is refused (HTTP 400), as object stores refuse a
//!   second authentication next to a presigned signature. The answer carries
//!   the body's MD5 as its quoted `ETag`. Any other method on the URL (HEAD,
//!   GET, DELETE, ...) answers 403 and leaves the upload as it was: the method
//!   is part of the signature.
//! - `complete` registers the material once the PUT arrived and its MD5
//!   equals the announced `fileHash`; the material's `addressUrl` is served
//!   from `GET /sim/files/{materialId}.{ext}`.
//! - Multipart: `initiate` (with `recommendedPartSize`), `presign-parts`
//!   (part numbers 1 to 10000), a PUT per part, `complete` with every part's
//!   number and `ETag` (ascending; every part but the last at least
//!   min(5 MiB, the recommended size)), or `abort`. The stored parts of a
//!   pending upload count as one upload for [`crate::SimConfig::max_uploads`];
//!   one upload keeps at most that many parts (a new part past it: 400), and the
//!   parts of all pending uploads together too (past it, the oldest other
//!   multipart upload is evicted whole, and cannot complete).
//! - A WAV material's `duration` is read from its first 64 RIFF chunks (`fmt `
//!   and `data` come first in real files); past them it is left out.
//! - `list` (newest first) and `delete` (logical delete: the material, its
//!   MD5 and its file are forgotten).
//!
//! Size limits are UNKNOWN: one PUT (or one material) above
//! [`crate::SimConfig::vmeg_max_material_bytes`], or above
//! [`crate::SimConfig::max_upload_bytes`] when that is smaller (the store
//! could not keep it), gets 413 (S3's `EntityTooLarge` for a PUT, refused
//! before anything stored is evicted for it). Presigned URLs
//! expire after [`crate::SimConfig::vmeg_presign_validity`] (simulated time,
//! 403 after). Material calls are not billable (A14). Pending uploads and
//! materials are bounded by [`crate::SimConfig::max_uploads`] (oldest
//! forgotten first); their bytes live in the upload store with its byte and
//! age bounds, and a material whose bytes that store evicted is forgotten
//! (no longer listed nor offered by instant upload).

use std::collections::{BTreeMap, HashMap, HashSet, VecDeque};
use std::sync::{Arc, MutexGuard};
use std::time::Duration;

use axum::body::{Body, Bytes};
use axum::http::{HeaderValue, Method, Request, Response, StatusCode, header};
use md5::{Digest, Md5};
use serde_json::{Map, Value, json};

use crate::audio::wav_duration_ms;
use crate::shared::{Shared, lock};
use crate::state::{StoredFile, hex_id};
use crate::wire::{extension, opt_str, query_map, req_str};

use super::{Rejection, bad};

/// Part numbers VMEG accepts (documented: 1 to 10000).
const MAX_PART_NUMBER: i64 = 10_000;
/// Presigned URLs kept per pending upload: every part twice over. Past it, the oldest
/// URLs of that upload stop working (403, as an expired one) as new ones are handed out,
/// so presigning again and again holds no more than this.
const MAX_GRANTS_PER_UPLOAD: usize = 2 * MAX_PART_NUMBER as usize;
/// Presigned URLs kept in all (every upload together): past it the oldest stop
/// working (403, as an expired one). Bounded only per upload, 1000 pending uploads could
/// hold 20 million.
pub(crate) const MAX_GRANTS: usize = 100_000;
/// The usual object-store minimum for every part but the last.
const S3_MIN_PART: usize = 5 * 1024 * 1024;

/// Where a presigned URL lets a PUT go.
#[derive(Debug, Clone)]
struct Grant {
    material_id: String,
    /// `None`: the single-file PUT; `Some(n)`: part `n` of a multipart upload.
    part: Option<u32>,
    signature: String,
    expires: Duration,
}

/// A PUT that arrived: where its bytes are kept and their MD5.
#[derive(Debug, Clone)]
struct Received {
    file_key: String,
    md5: String,
    len: usize,
}

/// An upload started by `gen-upload-url` or `multipart/initiate`.
#[derive(Debug, Clone)]
struct Pending {
    file_name: String,
    file_hash: String,
    s3_uri: String,
    upload_id: Option<String>,
    put: Option<Received>,
    parts: BTreeMap<u32, Received>,
    /// Its presigned URLs' tokens, oldest first (at most [`MAX_GRANTS_PER_UPLOAD`]).
    tokens: VecDeque<String>,
    /// Held by the `complete` under way: a second one for the same upload waits for it,
    /// then sees what the first did. Concurrent ones each built a full copy of the
    /// material (up to `vmeg_max_material_bytes`) before one of them won.
    completing: Arc<tokio::sync::Mutex<()>>,
}

/// A registered material.
#[derive(Debug, Clone)]
struct Material {
    id: String,
    name: String,
    file_key: String,
    file_hash: String,
    s3_uri: String,
    size: usize,
    duration_ms: Option<u64>,
    mime: &'static str,
    category: &'static str,
    created: Duration,
}

/// Pending uploads, grants and materials (behind `Shared::materials`).
#[derive(Debug, Default)]
pub(crate) struct MaterialStore {
    pending: HashMap<String, Pending>,
    pending_order: VecDeque<String>,
    grants: HashMap<String, Grant>,
    /// Every grant's (expiry, token), oldest first: as every URL is valid for the
    /// same time, also soonest to expire first. Entries of grants already removed
    /// are skipped (and compacted away).
    grant_order: VecDeque<(Duration, String)>,
    materials: HashMap<String, Material>,
    order: VecDeque<String>,
    by_hash: HashMap<String, String>,
    by_file: HashMap<String, String>,
}

/// The material store, locked, with the materials whose bytes were evicted
/// since its last use forgotten first.
fn open(sh: &Shared) -> MutexGuard<'_, MaterialStore> {
    let mut store = lock(&sh.materials);
    store.reap(sh);
    store
}

impl MaterialStore {
    /// Forget the materials whose bytes the upload store evicted (its count,
    /// byte and age bounds), reported in `State::evicted_material_files`.
    /// Before, such a material stayed listed and instant upload kept offering
    /// it for its MD5, with an `addressUrl` answering 404. O(evicted), plus
    /// one pass over `order` when any went.
    fn reap(&mut self, sh: &Shared) {
        // Settling (in `lock_state`) applies the age bound up to now first.
        let gone = std::mem::take(&mut sh.lock_state().evicted_material_files);
        let mut dead = HashSet::new();
        for key in gone {
            let Some(id) = self.by_file.remove(&key) else {
                continue;
            };
            if let Some(m) = self.materials.remove(&id)
                && self.by_hash.get(&m.file_hash) == Some(&m.id)
            {
                self.by_hash.remove(&m.file_hash);
            }
            tracing::debug!(material_id = %id, "material forgotten: its bytes were evicted");
            dead.insert(id);
        }
        if !dead.is_empty() {
            self.order.retain(|id| !dead.contains(id));
        }
    }

    /// Forget the expired grants and the oldest beyond [`MAX_GRANTS`] (each
    /// also dropped from its upload's tokens, where it is the oldest). Amortised
    /// O(1) per grant made.
    fn prune_grants(&mut self, now: Duration) {
        while let Some((expires, _)) = self.grant_order.front() {
            if *expires >= now && self.grants.len() <= MAX_GRANTS {
                break;
            }
            let Some((_, token)) = self.grant_order.pop_front() else {
                break;
            };
            if let Some(g) = self.grants.remove(&token)
                && let Some(p) = self.pending.get_mut(&g.material_id)
                && p.tokens.front() == Some(&token)
            {
                p.tokens.pop_front();
            }
        }
        // Entries of grants removed otherwise (an upload's own bound, a completed or
        // aborted upload) once they outnumber the grants.
        if self.grant_order.len() > self.grants.len().saturating_mul(2).saturating_add(1024) {
            let grants = &self.grants;
            self.grant_order.retain(|(_, t)| grants.contains_key(t));
        }
    }

    fn forget_pending(&mut self, sh: &Shared, id: &str) -> Option<Pending> {
        let p = self.pending.remove(id)?;
        self.pending_order.retain(|x| x != id);
        for t in &p.tokens {
            self.grants.remove(t);
        }
        let mut st = sh.lock_state();
        for r in p.put.iter().chain(p.parts.values()) {
            st.remove_upload(&r.file_key);
        }
        Some(p)
    }

    fn forget_material(&mut self, sh: &Shared, id: &str) -> Option<Material> {
        let m = self.materials.remove(id)?;
        self.order.retain(|x| x != id);
        if self.by_hash.get(&m.file_hash) == Some(&m.id) {
            self.by_hash.remove(&m.file_hash);
        }
        self.by_file.remove(&m.file_key);
        sh.lock_state().remove_upload(&m.file_key);
        Some(m)
    }

    fn add_pending(&mut self, sh: &Shared, id: String, p: Pending) {
        self.pending.insert(id.clone(), p);
        self.pending_order.push_back(id);
        while self.pending.len() > sh.config.max_uploads.max(1) {
            let Some(oldest) = self.pending_order.front().cloned() else {
                break;
            };
            self.forget_pending(sh, &oldest);
        }
    }
}

fn ext_info(ext: &str) -> (&'static str, &'static str) {
    match ext {
        "wav" => ("audio/wav", "audio"),
        "mp3" => ("audio/mpeg", "audio"),
        "m4a" => ("audio/mp4", "audio"),
        "aac" => ("audio/aac", "audio"),
        "flac" => ("audio/flac", "audio"),
        "ogg" => ("audio/ogg", "audio"),
        "mp4" | "m4v" => ("video/mp4", "video"),
        "mov" => ("video/quicktime", "video"),
        "avi" => ("video/x-msvideo", "video"),
        "webm" => ("video/webm", "video"),
        "mkv" => ("video/x-matroska", "video"),
        "flv" => ("video/x-flv", "video"),
        _ => ("application/octet-stream", "other"),
    }
}

fn md5_hex(b: &[u8]) -> String {
    hex::encode(Md5::digest(b))
}

/// Runs `work` (an MD5 or a join of up to `vmeg_max_material_bytes`) on the blocking
/// pool. Inline, it held the runtime thread: on a current-thread runtime (`voiceclone
/// sim`, a default `#[tokio::test]`) no other client was answered for seconds.
async fn off_runtime<T: Send + 'static>(
    work: impl FnOnce() -> T + Send + 'static,
) -> Result<T, Rejection> {
    tokio::task::spawn_blocking(work).await.map_err(|e| {
        tracing::warn!(error = %e, "material hashing did not finish");
        (
            500,
            "Internal error: the upload could not be hashed".to_string(),
        )
    })
}

/// A lowercase 32-digit hex MD5, or the 400 message.
fn file_hash(m: &Map<String, Value>, k: &str) -> Result<String, Rejection> {
    let h = req_str(m, k).map_err(bad)?.trim().to_ascii_lowercase();
    if h.len() != 32 || !h.bytes().all(|c| c.is_ascii_hexdigit()) {
        return Err(bad(format!(
            "`{k}` must be the file's MD5 as 32 hex digits"
        )));
    }
    Ok(h)
}

/// The longest material `fileName` taken, in bytes (S3's object key limit). A pending
/// upload and its material each keep the name, bounded by count only: without it, 1 MiB
/// names held gigabytes that `max_task_bytes` does not count.
const MAX_FILE_NAME_BYTES: usize = 1024;

fn file_name(m: &Map<String, Value>) -> Result<(String, String), Rejection> {
    let name = req_str(m, "fileName").map_err(bad)?;
    if name.len() > MAX_FILE_NAME_BYTES {
        return Err(bad(format!(
            "`fileName` must be at most {MAX_FILE_NAME_BYTES} bytes (UTF-8); it has {}",
            name.len()
        )));
    }
    let ext = extension(&name)
        .filter(|e| e.bytes().all(|c| c.is_ascii_alphanumeric()))
        .ok_or_else(|| bad("`fileName` must include an extension"))?;
    if name.contains(['/', '\\']) || name.chars().any(char::is_control) {
        return Err(bad("`fileName` must be a plain file name"));
    }
    Ok((name, ext))
}

fn material_json(sh: &Shared, m: &Material) -> Value {
    let mut v = json!({
        "materialId": m.id,
        "category": m.category,
        "name": m.name,
        "addressUrl": format!("{}/sim/files/{}", sh.base_url, m.file_key),
        "mimeType": m.mime,
        "fileHash": m.file_hash,
        "filesize": m.size,
        "createTime": sh.clock.iso(m.created),
        "updateTime": sh.clock.iso(m.created),
    });
    if let (Some(d), Value::Object(o)) = (m.duration_ms, &mut v) {
        o.insert("duration".into(), json!(d));
        if m.category == "audio" {
            o.insert(
                "audioUrl".into(),
                json!(format!("{}/sim/files/{}", sh.base_url, m.file_key)),
            );
        }
    }
    v
}

fn validity(sh: &Shared) -> u64 {
    sh.config.vmeg_presign_validity.as_secs()
}

/// A new presigned URL for `material_id` (and `part`), recorded as a grant.
fn grant(sh: &Shared, store: &mut MaterialStore, material_id: &str, part: Option<u32>) -> String {
    let token = hex_id();
    let signature = hex_id();
    let expires = sh
        .clock
        .now()
        .saturating_add(sh.config.vmeg_presign_validity);
    store.grants.insert(
        token.clone(),
        Grant {
            material_id: material_id.to_owned(),
            part,
            signature: signature.clone(),
            expires,
        },
    );
    store.grant_order.push_back((expires, token.clone()));
    if let Some(p) = store.pending.get_mut(material_id) {
        p.tokens.push_back(token.clone());
        while p.tokens.len() > MAX_GRANTS_PER_UPLOAD {
            if let Some(old) = p.tokens.pop_front() {
                store.grants.remove(&old);
            }
        }
    }
    store.prune_grants(sh.clock.now());
    let part_q = part.map(|n| format!("&partNumber={n}")).unwrap_or_default();
    format!(
        "{}/sim/storage/{token}?X-Sim-Expires={}{part_q}&X-Sim-Signature={signature}",
        sh.base_url,
        validity(sh)
    )
}

/// `POST .../upload/gen-upload-url` and `.../multipart/initiate`.
pub(super) fn start(
    sh: &Shared,
    m: &Map<String, Value>,
    multipart: bool,
) -> Result<Value, Rejection> {
    let hash = file_hash(m, "fileHash")?;
    let (name, _) = file_name(m)?;
    let mut store = open(sh);
    if !multipart
        && let Some(existing) = store
            .by_hash
            .get(&hash)
            .and_then(|id| store.materials.get(id))
    {
        tracing::debug!(material_id = %existing.id, "instant upload: MD5 already known");
        return Ok(json!({
            "uploadUrl": "",
            "material": material_json(sh, existing),
            "s3Uri": existing.s3_uri,
            "materialId": existing.id,
        }));
    }
    let id = format!("mat_{}", hex_id());
    let s3_uri = format!("s3://sim-materials/{id}/{name}");
    let upload_id = multipart.then(|| format!("up_{}", hex_id()));
    store.add_pending(
        sh,
        id.clone(),
        Pending {
            file_name: name,
            file_hash: hash,
            s3_uri: s3_uri.clone(),
            upload_id: upload_id.clone(),
            put: None,
            parts: BTreeMap::new(),
            tokens: VecDeque::new(),
            completing: Arc::default(),
        },
    );
    if let Some(upload_id) = upload_id {
        return Ok(json!({
            "materialId": id,
            "s3Uri": s3_uri,
            "uploadId": upload_id,
            "expiresInSeconds": validity(sh),
            "recommendedPartSize": sh.config.vmeg_material_part_size,
        }));
    }
    let url = grant(sh, &mut store, &id, None);
    Ok(json!({"uploadUrl": url, "s3Uri": s3_uri, "materialId": id}))
}

/// The pending upload a body names, checked against its session.
fn pending_for<'a>(
    store: &'a MaterialStore,
    m: &Map<String, Value>,
    multipart: bool,
) -> Result<(&'a str, &'a Pending), Rejection> {
    let id = req_str(m, "materialId").map_err(bad)?;
    let Some((id, p)) = store.pending.get_key_value(&id) else {
        return Err((
            404,
            format!("Upload of material {id} not found (expired, aborted or already completed)"),
        ));
    };
    if multipart {
        let upload_id = req_str(m, "uploadId").map_err(bad)?;
        if p.upload_id.as_deref() != Some(upload_id.as_str()) {
            return Err((404, format!("Multipart upload {upload_id} not found")));
        }
    } else if p.upload_id.is_some() {
        return Err(bad(
            "this material is a multipart upload: use multipart/complete",
        ));
    }
    if let Some(h) = m.get("fileHash").filter(|v| !v.is_null()) {
        let h = h.as_str().unwrap_or("").trim().to_ascii_lowercase();
        if h != p.file_hash {
            return Err(bad(
                "`fileHash` differs from the one this upload was started with",
            ));
        }
    }
    if let Some(n) = opt_str(m, "fileName").map_err(bad)?
        && n != p.file_name
    {
        return Err(bad(
            "`fileName` differs from the one this upload was started with",
        ));
    }
    Ok((id.as_str(), p))
}

/// Waits for the turn to complete the upload `check` finds (see [`Pending::completing`]).
/// The caller runs its checks again once it has the turn: the upload may have been
/// completed, aborted or forgotten meanwhile.
async fn completion_turn(
    sh: &Shared,
    check: impl Fn(&MaterialStore) -> Result<String, Rejection>,
) -> Result<tokio::sync::OwnedMutexGuard<()>, Rejection> {
    let turn = {
        let store = open(sh);
        let id = check(&store)?;
        store
            .pending
            .get(&id)
            .map(|p| p.completing.clone())
            .ok_or_else(|| (404, format!("Upload of material {id} not found")))?
    };
    Ok(turn.lock_owned().await)
}

/// Stores the joined bytes as a material (or answers with the material
/// that already has this MD5).
/// Join `parts` and hash them (up to `vmeg_max_material_bytes`) with the material store
/// unlocked and off the runtime thread, then lock the store again and register the
/// material if its upload is still the one checked (`check`, run again under the lock: it
/// may have been aborted or expired meanwhile). Hashing 200 MiB under the lock held every
/// other material call, and the clone creates that look materials up, for as long.
async fn hash_then_register(
    sh: &Shared,
    parts: Vec<Bytes>,
    check: impl Fn(&MaterialStore) -> Result<String, Rejection>,
) -> Result<Value, Rejection> {
    let total = parts.iter().map(Bytes::len).fold(0, usize::saturating_add);
    if total > material_limit(sh) {
        return Err((413, "Material too large".into()));
    }
    let (bytes, md5) = off_runtime(move || {
        // One part (a single-file upload) is kept as it is: no copy.
        let bytes = match <[Bytes; 1]>::try_from(parts) {
            Ok([one]) => one,
            Err(parts) => {
                let mut joined = Vec::with_capacity(total);
                for b in &parts {
                    joined.extend_from_slice(b);
                }
                Bytes::from(joined)
            }
        };
        let md5 = md5_hex(&bytes);
        (bytes, md5)
    })
    .await?;
    let mut store = open(sh);
    let id = check(&store)?;
    register(sh, &mut store, &id, bytes, md5)
}

/// Register the material of pending upload `id` from its `bytes`, whose MD5 is `md5`.
fn register(
    sh: &Shared,
    store: &mut MaterialStore,
    id: &str,
    bytes: Bytes,
    md5: String,
) -> Result<Value, Rejection> {
    let Some(p) = store.pending.get(id).cloned() else {
        return Err((404, format!("Upload of material {id} not found")));
    };
    if bytes.len() > material_limit(sh) {
        return Err((413, "Material too large".into()));
    }
    if md5 != p.file_hash {
        return Err(bad(format!(
            "fileHash {} does not match the uploaded file (MD5 {md5})",
            p.file_hash
        )));
    }
    store.forget_pending(sh, id);
    // A file already held as another material (two uploads of one file raced, or a multipart
    // upload, which has no instant upload) is still this upload's own material: the request
    // names its `materialId`, and a client refuses an answer naming another (UNKNOWN at VMEG;
    // see the crate's table). `by_hash` names the newest, the last to be evicted.
    let ext = extension(&p.file_name).unwrap_or_default();
    let (mime, category) = ext_info(&ext);
    let file_key = format!("{id}.{ext}");
    let duration_ms = if ext == "wav" {
        wav_duration_ms(&bytes)
    } else {
        None
    };
    let size = bytes.len();
    // Stored, and the material dated, at the time read under the lock that stores it: read
    // before, a clock moved past `upload_retention` meanwhile had it evicted by age at the
    // next lock, just after this answered with it.
    let (mut st, now) = sh.lock_state_now();
    // Not refused: `material_limit` was checked above.
    st.insert_upload(
        file_key.clone(),
        StoredFile {
            bytes,
            mime: mime.into(),
            material: true,
            group: None,
        },
        now,
    )
    .map_err(|_| (413, "Material too large".to_string()))?;
    drop(st);
    let material = Material {
        id: id.to_owned(),
        name: p.file_name.clone(),
        file_key: file_key.clone(),
        file_hash: md5.clone(),
        s3_uri: p.s3_uri.clone(),
        size,
        duration_ms,
        mime,
        category,
        created: now,
    };
    let answer = material_json(sh, &material);
    store.by_hash.insert(md5, id.to_owned());
    store.by_file.insert(file_key, id.to_owned());
    store.order.push_back(id.to_owned());
    store.materials.insert(id.to_owned(), material);
    while store.materials.len() > sh.config.max_uploads.max(1) {
        let Some(oldest) = store.order.front().cloned() else {
            break;
        };
        store.forget_material(sh, &oldest);
    }
    tracing::debug!(material_id = %id, "material registered");
    Ok(answer)
}

/// The largest material, and the largest single PUT, the simulator takes:
/// [`crate::SimConfig::vmeg_max_material_bytes`], or
/// [`crate::SimConfig::max_upload_bytes`] when the upload store that keeps the
/// bytes is smaller (a file larger than the store cannot be kept: storing it
/// evicted every other upload, then itself).
fn material_limit(sh: &Shared) -> usize {
    sh.config
        .vmeg_max_material_bytes
        .min(sh.config.max_upload_bytes)
}

fn stored_bytes(sh: &Shared, r: &Received) -> Result<Bytes, Rejection> {
    sh.lock_state()
        .files
        .get(&r.file_key)
        .map(|f| f.bytes.clone())
        .ok_or_else(|| bad("the uploaded bytes were evicted (upload store bounds); upload again"))
}

/// The fields of a `complete` or `multipart/complete` body its checks read, taken out before
/// the call waits for its turn and for the hash (seconds for a large upload), so that the
/// parsed body (some 17 times its size as a `serde_json::Value`) is dropped first: before,
/// each waiting call held it, and 24 calls padded to 1 MiB held some 400 MiB.
///
/// The checks' answers are unchanged: a field that is not a string keeps a non-string
/// stand-in, and `parts` keeps each entry's `partNumber` and `eTag` up to the first entry
/// the checks refuse whatever the upload holds (out of order, or past part 10000), which
/// bounds it to 10,001 entries.
pub(super) fn fields_read_by_complete(m: &Map<String, Value>) -> Map<String, Value> {
    let mut out = Map::new();
    for k in ["materialId", "uploadId", "s3Uri", "fileName", "fileHash"] {
        let v = match m.get(k) {
            None => continue,
            Some(v @ (Value::Null | Value::String(_))) => v.clone(),
            Some(_) => Value::Bool(false),
        };
        out.insert(k.to_owned(), v);
    }
    if let Some(Value::Array(listed)) = m.get("parts") {
        let mut kept = Vec::new();
        let mut last = 0u64;
        for part in listed {
            let n = part.get("partNumber").and_then(Value::as_u64);
            let mut slim = Map::new();
            if let Some(n) = n {
                slim.insert("partNumber".into(), json!(n));
            }
            if let Some(e) = part.get("eTag").and_then(Value::as_str) {
                slim.insert("eTag".into(), json!(e));
            }
            kept.push(Value::Object(slim));
            match n {
                Some(n) if n > last && n <= MAX_PART_NUMBER as u64 => last = n,
                // Refused here by `multipart_parts`, whatever comes after.
                _ => break,
            }
        }
        out.insert("parts".into(), Value::Array(kept));
    }
    out
}

/// `POST .../upload/complete`.
pub(super) async fn complete(sh: &Shared, m: &Map<String, Value>) -> Result<Value, Rejection> {
    for k in ["s3Uri", "fileName", "materialId"] {
        req_str(m, k).map_err(bad)?;
    }
    file_hash(m, "fileHash")?;
    let check = |store: &MaterialStore| -> Result<(String, Received), Rejection> {
        let (id, p) = pending_for(store, m, false)?;
        if opt_str(m, "s3Uri").map_err(bad)?.as_deref() != Some(p.s3_uri.as_str()) {
            return Err(bad("`s3Uri` is not this upload's target"));
        }
        let Some(put) = &p.put else {
            return Err(bad("the file was not uploaded: PUT it to uploadUrl first"));
        };
        Ok((id.to_owned(), put.clone()))
    };
    let _turn = completion_turn(sh, |store| check(store).map(|(id, _)| id)).await?;
    let bytes = {
        let store = open(sh);
        let (_, put) = check(&store)?;
        stored_bytes(sh, &put)?
    };
    hash_then_register(sh, vec![bytes], |store| check(store).map(|(id, _)| id)).await
}

/// `POST .../multipart/presign-parts`.
pub(super) fn presign(sh: &Shared, m: &Map<String, Value>) -> Result<Value, Rejection> {
    let mut store = open(sh);
    let (id, _) = pending_for(&store, m, true)?;
    let id = id.to_owned();
    let numbers = match m.get("partNumbers") {
        Some(Value::Array(a)) if !a.is_empty() => a,
        _ => return Err(bad("`partNumbers` must be a non-empty array")),
    };
    // Each part once, in the order first asked (a list repeating part numbers
    // gets one URL per part, not one per entry).
    let mut parts = Vec::new();
    let mut seen = std::collections::BTreeSet::new();
    for n in numbers {
        match n.as_i64() {
            Some(n) if (1..=MAX_PART_NUMBER).contains(&n) => {
                if seen.insert(n) {
                    parts.push(n as u32);
                }
            }
            _ => {
                return Err(bad(
                    "each of `partNumbers` must be an integer from 1 to 10000",
                ));
            }
        }
    }
    let urls: Vec<Value> = parts
        .into_iter()
        .map(|n| json!({"partNumber": n, "url": grant(sh, &mut store, &id, Some(n))}))
        .collect();
    Ok(json!({"urls": urls, "expiresInSeconds": validity(sh)}))
}

fn unquote(s: &str) -> &str {
    s.trim().trim_matches('"')
}

/// `POST .../multipart/complete`.
pub(super) async fn multipart_complete(
    sh: &Shared,
    m: &Map<String, Value>,
) -> Result<Value, Rejection> {
    let pending = |store: &MaterialStore| pending_for(store, m, true).map(|(id, _)| id.to_owned());
    let _turn = completion_turn(sh, pending).await?;
    // The parts' bytes (shared handles) are taken under the lock, joined and hashed
    // after it is released.
    let parts = {
        let store = open(sh);
        multipart_parts(sh, &store, m)?
    };
    hash_then_register(sh, parts, pending).await
}

/// The bytes of the parts `multipart/complete` lists, in order, after checking them
/// against the pending upload (numbers ascending, eTags, sizes, the total). Every part
/// is checked, and the total, before any part's bytes are looked up: parts adding up to
/// more than the upload store holds evicted one another, and the answer was "the
/// uploaded bytes were evicted; upload again", which could never succeed, not 413.
fn multipart_parts(
    sh: &Shared,
    store: &MaterialStore,
    m: &Map<String, Value>,
) -> Result<Vec<Bytes>, Rejection> {
    let (_, p) = pending_for(store, m, true)?;
    let listed = match m.get("parts") {
        Some(Value::Array(a)) if !a.is_empty() => a,
        _ => return Err(bad("`parts` must list every uploaded part")),
    };
    let min_part = S3_MIN_PART.min(sh.config.vmeg_material_part_size.max(1));
    let mut found = Vec::with_capacity(listed.len());
    let mut total = 0usize;
    let mut last = 0u32;
    for (i, part) in listed.iter().enumerate() {
        let n = part
            .get("partNumber")
            .and_then(Value::as_u64)
            .and_then(|n| u32::try_from(n).ok())
            .filter(|n| *n > last)
            .ok_or_else(|| bad("`parts` must be in ascending partNumber order, each once"))?;
        last = n;
        let etag = part.get("eTag").and_then(Value::as_str).unwrap_or("");
        let Some(r) = p.parts.get(&n) else {
            return Err(bad(format!("InvalidPart: part {n} was not uploaded")));
        };
        if unquote(etag) != r.md5 {
            return Err(bad(format!(
                "InvalidPart: the eTag of part {n} does not match"
            )));
        }
        if i + 1 < listed.len() && r.len < min_part {
            return Err(bad(format!(
                "EntityTooSmall: part {n} has {} bytes; every part but the last needs at least {min_part}",
                r.len
            )));
        }
        total = total.saturating_add(r.len);
        if total > material_limit(sh) {
            return Err((413, "Material too large".into()));
        }
        found.push(r);
    }
    found.into_iter().map(|r| stored_bytes(sh, r)).collect()
}

/// `POST .../multipart/abort`.
pub(super) fn abort(sh: &Shared, m: &Map<String, Value>) -> Result<Value, Rejection> {
    let mut store = open(sh);
    let (id, _) = pending_for(&store, m, true)?;
    let id = id.to_owned();
    store.forget_pending(sh, &id);
    Ok(Value::Null)
}

/// `GET /openapi/v1/assets/material/list`.
pub(super) fn list(sh: &Shared, uri: &axum::http::Uri) -> Result<Value, Rejection> {
    let q = query_map(uri.query());
    let page = super::parse_page(&q, "currentPage", 1)? as usize;
    let size = super::parse_page(&q, "pageSize", 20)?.min(super::MAX_PAGE_SIZE) as usize;
    let store = open(sh);
    let newest_first: Vec<&String> = store.order.iter().rev().collect();
    let records: Vec<Value> = super::paginate(&newest_first, page, size)
        .into_iter()
        .filter_map(|id| store.materials.get(id))
        .map(|m| material_json(sh, m))
        .collect();
    Ok(json!({"records": records, "total": store.materials.len()}))
}

/// `POST /openapi/v1/assets/material/delete`.
pub(super) fn delete(sh: &Shared, m: &Map<String, Value>) -> Result<Value, Rejection> {
    let id = req_str(m, "materialId").map_err(bad)?;
    let mut store = open(sh);
    match store.forget_material(sh, &id) {
        Some(_) => Ok(Value::Null),
        None => Err((404, format!("Material {id} not found"))),
    }
}

/// Whether `url` is the `addressUrl` of a live material (for the clone's
/// `refAudio` rule).
pub(crate) fn is_material_url(sh: &Shared, url: &str) -> bool {
    let Some(key) = url
        .strip_prefix(&sh.base_url)
        .and_then(|rest| rest.strip_prefix("/sim/files/"))
    else {
        return false;
    };
    open(sh).by_file.contains_key(key) && sh.lock_state().files.contains_key(key)
}

/// A storage error: S3's XML shape, with the code and message.
fn storage_err(status: u16, code: &str, message: &str) -> Response<Body> {
    let body = format!(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<Error><Code>{code}</Code><Message>{message}</Message></Error>"
    );
    let mut r = Response::new(Body::from(body));
    *r.status_mut() = StatusCode::from_u16(status).unwrap_or(StatusCode::BAD_REQUEST);
    r.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/xml"),
    );
    r
}

/// `PUT /sim/storage/{token}?...&X-Sim-Signature=...`: a presigned upload. An
/// answer given before the body was read (a refused URL, a declared size over
/// the limit) drains it first, so that the client sees the answer rather than
/// a connection reset mid-upload (see [`crate::wire::drain`]). Before the URL's signature
/// was checked, only as long as the body keeps coming ([`crate::wire::drain_stranger`]).
pub(crate) async fn storage_put(sh: &Shared, req: Request<Body>) -> Response<Body> {
    let (parts, body) = req.into_parts();
    let mut body = Some(body);
    let mut signed = false;
    let resp = storage_put_checked(sh, &parts, &mut body, &mut signed).await;
    match body {
        Some(unread) if signed => {
            crate::wire::drain(&parts, unread, sh.config.body_read_timeout).await;
            resp
        }
        Some(unread) => {
            let timeout = sh.config.body_read_timeout;
            let whole = crate::wire::drain_stranger(&parts, unread, timeout).await;
            crate::respond::closing(whole, resp)
        }
        None => resp,
    }
}

/// The token of a presigned URL: its last path segment.
fn upload_token(uri: &axum::http::Uri) -> &str {
    uri.path()
        .trim_end_matches('/')
        .rsplit('/')
        .next()
        .unwrap_or("")
}

/// The grant of a presigned URL whose signature is good: the only credential a storage
/// request carries.
fn signed_grant(sh: &Shared, uri: &axum::http::Uri) -> Option<Grant> {
    let q = query_map(uri.query());
    let grant = open(sh).grants.get(upload_token(uri)).cloned();
    grant.filter(|g| q.get("X-Sim-Signature") == Some(&g.signature))
}

/// Whether a storage request's URL is a presigned one with a good signature (expired or
/// not): a request without one is a stranger's, and draws no fault (see
/// `crate::server::dispatch`).
pub(crate) fn is_signed(sh: &Shared, uri: &axum::http::Uri) -> bool {
    signed_grant(sh, uri).is_some()
}

/// The answer to a storage request; `signed` is set once its URL's signature is found
/// good (a refusal before that answers a stranger).
async fn storage_put_checked(
    sh: &Shared,
    parts: &axum::http::request::Parts,
    body: &mut Option<Body>,
    signed: &mut bool,
) -> Response<Body> {
    // The router sends every method on a storage path here. The method is part of
    // a presigned URL's signature, so S3 refuses any other with 403, and the
    // upload stays as it was: read as a PUT, a HEAD or GET replaced it with an
    // empty file.
    if parts.method != Method::PUT {
        return storage_err(
            403,
            "SignatureDoesNotMatch",
            "The request signature does not match: this URL is presigned for PUT only",
        );
    }
    if parts.headers.contains_key(header::AUTHORIZATION) {
        return storage_err(
            400,
            "InvalidArgument",
            "Only one auth mechanism allowed: the URL is presigned, send no Authorization header",
        );
    }
    let token = upload_token(&parts.uri).to_owned();
    let Some(grant) = signed_grant(sh, &parts.uri) else {
        return storage_err(
            403,
            "SignatureDoesNotMatch",
            "unknown or tampered upload URL",
        );
    };
    *signed = true;
    if sh.clock.now() > grant.expires {
        return storage_err(403, "AccessDenied", "Request has expired");
    }
    let limit = material_limit(sh);
    let declared = parts
        .headers
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    if declared.is_some_and(|n| n > limit as u64) {
        return storage_err(
            413,
            "EntityTooLarge",
            "Your proposed upload exceeds the maximum allowed size",
        );
    }
    // Waiting for an upload slot counts against the body read timeout: past it the
    // answer is S3's 503 SlowDown (the body drained by the caller). Without a bound,
    // slow uploads holding both slots made every other PUT (and JimmyAI upload) wait
    // behind all of them, far beyond its own timeout.
    let started = tokio::time::Instant::now();
    let wait = sh.config.body_read_timeout;
    let _permit = match tokio::time::timeout(wait, sh.upload_permits.acquire()).await {
        Ok(Ok(p)) => p,
        Ok(Err(_)) => return storage_err(503, "SlowDown", "shutting down"),
        Err(_) => {
            return storage_err(
                503,
                "SlowDown",
                "Please reduce your request rate: every upload slot is busy (simulated)",
            );
        }
    };
    let bytes = match tokio::time::timeout(
        wait.saturating_sub(started.elapsed()),
        crate::wire::read_limited(body.take().unwrap_or_default(), limit),
    )
    .await
    {
        Err(_) => {
            return crate::respond::body_timeout(json!({"error": "upload not received in time"}));
        }
        Ok(Err(crate::wire::BodyError::TooLarge)) => {
            return storage_err(
                413,
                "EntityTooLarge",
                "Your proposed upload exceeds the maximum allowed size",
            );
        }
        // S3's answer to a body shorter than announced or badly framed.
        Ok(Err(_)) => {
            return storage_err(
                400,
                "IncompleteBody",
                "The request body ended before the size it announced was received",
            );
        }
        // `read_limited` gives a `Vec` as large as its length: nothing more is kept.
        Ok(Ok(b)) => axum::body::Bytes::from(b),
    };
    let hashed = bytes.clone();
    let Ok(md5) = off_runtime(move || md5_hex(&hashed)).await else {
        return storage_err(500, "InternalError", "the upload could not be hashed");
    };
    let len = bytes.len();
    let file_key = format!("put_{token}");
    {
        let mut store = open(sh);
        let Some(p) = store.pending.get_mut(&grant.material_id) else {
            return storage_err(
                404,
                "NoSuchUpload",
                "the upload was completed, aborted or forgotten",
            );
        };
        // A part that would take the upload's parts past the largest material is refused
        // here, before it is stored: stored, it would evict older uploads (materials
        // included) to make room for bytes that `complete` refuses anyway (413).
        if let Some(n) = grant.part {
            let others = p
                .parts
                .iter()
                .filter(|(k, _)| **k != n)
                .map(|(_, r)| r.len)
                .fold(0, usize::saturating_add);
            if others.saturating_add(len) > limit {
                return storage_err(
                    413,
                    "EntityTooLarge",
                    "the parts of this upload add up to more than the largest material (simulated)",
                );
            }
            // The store keeps at most `max_uploads` parts (a pending multipart upload
            // counts as one upload): a part past that is refused before it is stored,
            // rather than evicting this upload's own first parts.
            if !p.parts.contains_key(&n) && p.parts.len() >= sh.config.max_uploads {
                return storage_err(
                    400,
                    "InvalidArgument",
                    "this upload has as many parts as max_uploads, the most the simulator keeps",
                );
            }
        }
        let received = Received {
            file_key: file_key.clone(),
            md5: md5.clone(),
            len,
        };
        let old = match grant.part {
            None => p.put.replace(received),
            Some(n) => p.parts.insert(n, received),
        };
        // Aged from the time read under the lock that stores it (see `register`).
        let (mut st, now) = sh.lock_state_now();
        if let Some(old) = old.filter(|o| o.file_key != file_key) {
            st.remove_upload(&old.file_key);
        }
        // Not refused: at most `material_limit` bytes were read.
        let kept = st.insert_upload(
            file_key,
            StoredFile {
                bytes,
                mime: "application/octet-stream".into(),
                // A pending PUT: `complete` reports its eviction itself.
                material: false,
                group: grant.part.map(|_| grant.material_id.clone()),
            },
            now,
        );
        if kept.is_err() {
            return storage_err(
                413,
                "EntityTooLarge",
                "Your proposed upload exceeds the maximum allowed size",
            );
        }
    }
    tracing::debug!(len, part = ?grant.part, "presigned PUT stored");
    let mut r = Response::new(Body::empty());
    if let Ok(v) = HeaderValue::from_str(&format!("\"{md5}\"")) {
        r.headers_mut().insert(header::ETAG, v);
    }
    r
}

/// For a `drop-before` fault on a storage PUT: read about half the declared
/// body before the connection is closed, so the client is cut off in the
/// middle of its upload. Within `timeout` as a whole, as any body read: a
/// client trickling a large declared length held the connection (and the
/// handler) for as long as each frame came within a few seconds.
pub(crate) async fn read_half(req: Request<Body>, timeout: Duration) {
    use http_body_util::BodyExt;
    let half = req
        .headers()
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<usize>().ok())
        .map_or(64 * 1024, |n| n / 2);
    let mut body = req.into_body();
    let read_half = async {
        let mut read = 0usize;
        while read < half {
            match body.frame().await {
                Some(Ok(frame)) => {
                    read = read.saturating_add(frame.data_ref().map_or(0, Bytes::len));
                }
                _ => break,
            }
        }
    };
    let _ = tokio::time::timeout(timeout, read_half).await;
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;
    use crate::audio::WAV_MAX_CHUNKS;

    #[test]
    fn wav_duration_from_the_header() {
        let wav = crate::audio::wav_for(&"x".repeat(100)); // 6 s at 60 ms per char
        assert_eq!(wav_duration_ms(&wav), Some(6000));
        assert_eq!(wav_duration_ms(b"RIFF\0\0\0\0WAVE"), None);
        assert_eq!(wav_duration_ms(b"not a wav"), None);
        assert_eq!(md5_hex(b""), "d41d8cd98f00b204e9800998ecf8427e");
    }

    #[test]
    fn a_complete_keeps_only_the_fields_it_reads() {
        let junk: Vec<u32> = vec![0; 100_000];
        let mut parts: Vec<Value> = (1..=3)
            .map(|n| json!({"partNumber": n, "eTag": format!("\"e{n}\""), "pad": junk}))
            .collect();
        parts.extend((0..50_000).map(|_| json!({"partNumber": 1})));
        let m = json!({"materialId": "m", "uploadId": "u", "fileName": ["not", "a", "string"],
                       "fileHash": null, "junk": junk, "parts": parts});
        let Value::Object(m) = m else {
            unreachable!("a JSON object")
        };
        let slim = fields_read_by_complete(&m);
        assert_eq!(
            Value::Object(slim.clone()),
            json!({"materialId": "m", "uploadId": "u", "fileName": false, "fileHash": null,
                   "parts": [{"partNumber": 1, "eTag": "\"e1\""},
                             {"partNumber": 2, "eTag": "\"e2\""},
                             {"partNumber": 3, "eTag": "\"e3\""},
                             {"partNumber": 1}]})
        );
        // The checks read the same answers from it.
        for k in ["materialId", "uploadId", "fileName", "fileHash", "s3Uri"] {
            assert_eq!(opt_str(&slim, k), opt_str(&m, k), "{k}");
        }
        // Past part 10000: kept up to that entry only.
        let far = json!({"parts": [{"partNumber": 10_001}, {"partNumber": 10_002}]});
        let Value::Object(far) = far else {
            unreachable!("a JSON object")
        };
        assert_eq!(
            fields_read_by_complete(&far)["parts"],
            json!([{"partNumber": 10_001}])
        );
    }

    /// The scan runs under the material lock on the connection's task: it gives up after
    /// [`WAV_MAX_CHUNKS`] chunks. Before, it walked every chunk, so a 200 MiB file of
    /// 8-byte `JUNK` chunks took ~26 million steps while every material call waited.
    #[test]
    fn wav_duration_gives_up_after_a_bounded_number_of_chunks() {
        let wav = crate::audio::wav_for(&"x".repeat(100));
        let (head, rest) = wav.split_at(12);
        let junk = |n: usize| -> Vec<u8> {
            let mut v = head.to_vec();
            for _ in 0..n {
                v.extend_from_slice(b"JUNK\0\0\0\0");
            }
            v.extend_from_slice(rest);
            v
        };
        // A few chunks before `fmt ` (LIST, bext): still read.
        assert_eq!(wav_duration_ms(&junk(3)), Some(6000));
        // `fmt ` and `data` only after many more chunks: not looked for.
        assert_eq!(wav_duration_ms(&junk(WAV_MAX_CHUNKS)), None);
        assert_eq!(wav_duration_ms(&junk(1 << 17)), None);
        // A chunk size that runs past the end, and past `usize` on a 32-bit target.
        let mut huge = head.to_vec();
        huge.extend_from_slice(b"JUNK\xff\xff\xff\xff");
        assert_eq!(wav_duration_ms(&huge), None);
    }

    /// Presigned URLs were bounded per upload (20,000) but not in all, and expired ones
    /// were never forgotten. Now at most `MAX_GRANTS` are kept, the oldest going first,
    /// and the expired go as new ones are made.
    #[test]
    fn presigned_urls_are_bounded_in_all_and_expire() {
        let sh = Shared::new(crate::SimConfig::default(), String::new());
        let mut store = MaterialStore::default();
        for i in 0..MAX_GRANTS + 50 {
            // Ten uploads' worth, none of them pending: the per-upload bound never applies.
            grant(&sh, &mut store, &format!("mat_{}", i % 10), None);
        }
        assert_eq!(store.grants.len(), MAX_GRANTS);
        assert!(store.grant_order.len() <= 2 * MAX_GRANTS + 1024);
        let newest = store.grant_order.back().unwrap().1.clone();
        assert!(store.grants.contains_key(&newest));
        // Past their validity, the next URL made forgets them all.
        sh.clock
            .advance(sh.config.vmeg_presign_validity + Duration::from_secs(1));
        grant(&sh, &mut store, "mat_new", None);
        assert_eq!(store.grants.len(), 1);
        assert_eq!(store.grant_order.len(), 1);
    }

    /// Both upload slots taken for longer than the body read timeout: a PUT waited for
    /// one for ever (no bound on the wait). Now it gets S3's 503 SlowDown in time.
    #[tokio::test]
    async fn a_put_waiting_too_long_for_an_upload_slot_slows_down() {
        let cfg = crate::SimConfig {
            body_read_timeout: Duration::from_millis(100),
            ..crate::SimConfig::default()
        };
        let sh = Shared::new(cfg, String::new());
        open(&sh).grants.insert(
            "tok".into(),
            Grant {
                material_id: "m".into(),
                part: None,
                signature: "sig".into(),
                expires: Duration::MAX,
            },
        );
        let _held = sh.upload_permits.acquire_many(2).await.unwrap();
        let req = Request::builder()
            .method(Method::PUT)
            .uri("/sim/storage/tok?X-Sim-Signature=sig")
            .body(Body::from("data"))
            .unwrap();
        let resp = tokio::time::timeout(Duration::from_secs(5), storage_put(&sh, req))
            .await
            .expect("answered within the body read timeout");
        assert_eq!(resp.status().as_u16(), 503);
        let body = axum::body::to_bytes(resp.into_body(), 4096).await.unwrap();
        assert!(String::from_utf8_lossy(&body).contains("<Code>SlowDown</Code>"));
    }
}

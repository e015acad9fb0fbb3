//! Cloning from a local recording (issue 15), against the simulator: both providers, from a
//! file, bytes and a reader; the local checks (nothing sent); each step's failure (it says
//! which step, and no clone is submitted); retries of the upload steps; the presigned PUT
//! without `Authorization`, even from a caller's client with a default one; VMEG's instant
//! and multipart uploads; and VMEG refusing its own material URL as clone audio.

use std::io::Write;
use std::sync::atomic::Ordering;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use voiceclone::{
    AudioSource, Client, CloneRequest, ErrorKind, Phase, Provider, RecordingSleeper, RetryPolicy,
    UploadProgress, UploadStep, WaitPolicy,
};
use voiceclone_sim::{FaultKind, SimConfig, SimHandle, Simulator};

/// A mono 16-bit 8 kHz PCM WAV of `tenths` tenths of a second (silence).
pub fn wav(tenths: u32) -> Vec<u8> {
    let data_len = tenths * 1_600;
    let mut v = Vec::new();
    v.extend_from_slice(b"RIFF");
    v.extend_from_slice(&(36 + data_len).to_le_bytes());
    v.extend_from_slice(b"WAVEfmt ");
    v.extend_from_slice(&16u32.to_le_bytes());
    v.extend_from_slice(&1u16.to_le_bytes());
    v.extend_from_slice(&1u16.to_le_bytes());
    v.extend_from_slice(&8_000u32.to_le_bytes());
    v.extend_from_slice(&16_000u32.to_le_bytes());
    v.extend_from_slice(&2u16.to_le_bytes());
    v.extend_from_slice(&16u16.to_le_bytes());
    v.extend_from_slice(b"data");
    v.extend_from_slice(&data_len.to_le_bytes());
    // Not silence only: two recordings of one length must not share an MD5 by accident.
    let seed = fastish(tenths);
    v.extend((0..data_len).map(|i| (i.wrapping_mul(seed) >> 7) as u8));
    v
}

fn fastish(x: u32) -> u32 {
    x.wrapping_mul(2_654_435_761) | 1
}

struct Env {
    sim: SimHandle,
    dir: tempfile::TempDir,
}

impl Env {
    async fn start(cfg: SimConfig) -> Env {
        let sim = Simulator::start_with(cfg.with_speed(1000.0)).await.unwrap();
        Env {
            sim,
            dir: tempfile::tempdir().unwrap(),
        }
    }

    fn client(&self, p: Provider, retries: u32) -> Client {
        self.builder(p, retries).build().unwrap()
    }

    fn builder(&self, p: Provider, retries: u32) -> voiceclone::ClientBuilder {
        Client::builder(p)
            .api_key(self.sim.api_key())
            .base_url(self.sim.base_url())
            .allow_private_urls(true)
            .retry(
                RetryPolicy::default()
                    .with_max_attempts(retries)
                    .with_seed(3),
            )
            .sleeper(Arc::new(RecordingSleeper::new()))
    }

    fn file(&self, name: &str, bytes: &[u8]) -> std::path::PathBuf {
        let p = self.dir.path().join(name);
        std::fs::write(&p, bytes).unwrap();
        p
    }

    fn requests(&self) -> u64 {
        self.sim.stats().requests_total
    }

    fn billable(&self) -> u64 {
        self.sim.stats().billable_total()
    }

    fn calls(&self, op: &str) -> u64 {
        self.sim.stats().requests(op)
    }
}

fn wait(p: Provider) -> WaitPolicy {
    WaitPolicy::for_provider(p)
        .with_first_interval(Duration::from_millis(5))
        .with_max_interval(Duration::from_millis(5))
}

fn field(e: &voiceclone::Error) -> &str {
    match e.kind() {
        ErrorKind::InvalidInput { field, .. } => field,
        other => panic!("not InvalidInput: {other:?} ({e})"),
    }
}

#[tokio::test]
async fn both_providers_clone_from_a_20_second_wav_file_and_the_voice_speaks() {
    let env = Env::start(SimConfig::default()).await;
    let path = env.file("sample.wav", &wav(200));
    for p in Provider::ALL {
        let client = env.client(p, 3);
        let mut req = CloneRequest::from_file(&path).language("en-US");
        if p == Provider::Vmeg {
            req = req.name("from-file");
        }
        let job = client.clone_voice(&req).await.unwrap();
        env.sim.complete_all_now();
        let voice = client.wait_for_clone(&job.id, &wait(p)).await.unwrap();
        assert!(!voice.id.as_str().is_empty());
    }
    let stats = env.sim.stats();
    assert_eq!(stats.billable("vmeg.cloneVoiceCreateAsync"), 1);
    assert_eq!(stats.billable("jimmyai.createClone"), 1);
    assert_eq!(stats.requests("jimmyai.uploadFile"), 1);
    assert_eq!(stats.requests("vmeg.materialPut"), 1);
    assert_eq!(stats.requests("vmeg.materialUploadComplete"), 1);
    // JimmyAI was given the URL its upload answered with.
    let jimmy = stats
        .creates
        .iter()
        .find(|c| c.operation == "jimmyai.createClone")
        .unwrap();
    let file_url = jimmy.file_url.as_deref().unwrap();
    assert!(file_url.starts_with(&env.sim.base_url()), "{file_url}");
    assert!(file_url.ends_with(".wav"), "{file_url}");
}

#[tokio::test]
async fn bytes_and_readers_clone_too_and_vmeg_skips_the_put_for_a_file_it_holds() {
    let env = Env::start(SimConfig::default()).await;
    let bytes = wav(180);
    for p in Provider::ALL {
        let client = env.client(p, 3);
        client
            .clone_voice(&CloneRequest::from_bytes("a.wav", bytes.clone()))
            .await
            .unwrap();
        let reader = std::io::Cursor::new(bytes.clone());
        client
            .clone_voice(&CloneRequest::from_reader("b.wav", reader))
            .await
            .unwrap();
    }
    // VMEG: the second clone's MD5 was known, so it was an instant upload (one PUT in all).
    assert_eq!(env.calls("vmeg.materialGenUploadUrl"), 2);
    assert_eq!(env.calls("vmeg.materialPut"), 1);
    assert_eq!(env.calls("vmeg.materialUploadComplete"), 1);
    assert_eq!(env.calls("jimmyai.uploadFile"), 2);
    assert_eq!(env.billable(), 4);
    // The standalone upload of a recording VMEG holds answers with the same addressUrl.
    let vmeg = env.client(Provider::Vmeg, 3);
    let a = vmeg
        .upload(&AudioSource::Bytes {
            file_name: "c.wav".into(),
            bytes: bytes.clone().into(),
        })
        .await
        .unwrap();
    assert!(a.as_str().starts_with(&env.sim.base_url()), "{a}");
    assert_eq!(env.calls("vmeg.materialPut"), 1);
}

#[tokio::test]
async fn local_checks_refuse_before_anything_is_sent() {
    // An API key long enough for an idempotency key to hold a piece of it.
    let env = Env::start(SimConfig::default().with_api_key(LONG_API_KEY)).await;
    let dir = env.dir.path();
    let short = env.file("short.wav", &wav(150)); // exactly 15 s
    let long = env.file("long.wav", &wav(151));
    let flac = env.file("sample.flac", b"fLaC fake");
    let empty = env.file("empty.wav", b"");
    let noext = env.file("sample", &wav(200));
    let big = dir.join("big.mp3");
    std::fs::File::create(&big)
        .unwrap()
        .set_len(100_000_001)
        .unwrap();
    let jimmy = env.client(Provider::JimmyAi, 3);
    let vmeg = env.client(Provider::Vmeg, 3);
    let before = env.requests();
    let cases: Vec<(&Client, CloneRequest, &str, &str)> = vec![
        (
            &jimmy,
            CloneRequest::from_file(&short),
            "audio_file",
            "15 s",
        ),
        (&jimmy, CloneRequest::from_file(&flac), "audio_file", "mp3"),
        (
            &jimmy,
            CloneRequest::from_file(&big),
            "audio_file",
            "100 MB",
        ),
        (
            &jimmy,
            CloneRequest::from_file(&empty),
            "audio_file",
            "empty",
        ),
        (
            &jimmy,
            CloneRequest::from_file(dir.join("missing.wav")),
            "audio_file",
            "no such file",
        ),
        (
            &vmeg,
            CloneRequest::from_file(dir.join("missing.wav")),
            "audio_file",
            "no such file",
        ),
        (
            &vmeg,
            CloneRequest::from_file(&noext),
            "audio_file",
            "extension",
        ),
        (
            &vmeg,
            CloneRequest::from_file(&empty),
            "audio_file",
            "empty",
        ),
        // A field the provider does not take is refused before the upload.
        (
            &vmeg,
            CloneRequest::from_file(&long).sound_version(voiceclone::SoundVersion::V2),
            "sound_version",
            "JimmyAI",
        ),
        (
            &jimmy,
            CloneRequest::from_file(&long).name("n"),
            "name",
            "VMEG",
        ),
        // VMEG's key holding a piece of the API key: refused before the upload (it was refused
        // only at the clone submit, after the whole recording had gone up as a material).
        (
            &vmeg,
            CloneRequest::from_file(&long).idempotency_key(key_with_api_key_piece(&env)),
            "idempotency_key",
            "API key",
        ),
        (
            &vmeg,
            CloneRequest::from_bytes("b.wav", wav(151))
                .idempotency_key(key_with_api_key_piece(&env)),
            "idempotency_key",
            "API key",
        ),
        (
            &jimmy,
            CloneRequest::from_file(&long).sample_text("x".repeat(271)),
            "sample_text",
            "270",
        ),
    ];
    for (client, req, want_field, want_reason) in cases {
        let e = client.clone_voice(&req).await.unwrap_err();
        assert_eq!(field(&e), want_field, "{e}");
        assert!(e.to_string().contains(want_reason), "{e}");
        assert_eq!(e.phase(), Phase::NotSent, "{e}");
        if want_field == "idempotency_key" {
            // Nothing went up: no upload step is named, nor the note on material URLs.
            assert_eq!(e.step(), None, "{e}");
            assert_eq!(e.note(), None, "{e}");
        }
    }
    assert_eq!(env.requests(), before, "nothing may be sent");
    // The upload alone takes a flac (JimmyAI's upload lists it) but not over 100 MB.
    let e = jimmy.upload_sample(&big).await.unwrap_err();
    assert_eq!(field(&e), "audio_file");
    assert_eq!(e.step(), Some(UploadStep::ReadFile));
    assert_eq!(env.requests(), before);
    assert!(jimmy.upload_sample(&flac).await.is_ok());
    // 15.1 s passes the rule.
    jimmy
        .clone_voice(&CloneRequest::from_file(&long))
        .await
        .unwrap();
}

/// Review 29-c #4: a recording's file name longer than 255 bytes (more than any file system
/// or vendor is known to take; a name from a web form or an upload's original name) is
/// refused as `audio_file` before anything is sent, for both providers and bytes or a reader,
/// its quote cut short. JimmyAI's refusal of a short WAV quotes a long (but allowed) name by
/// its start only. Before: the name was sent whole (in every VMEG material call, in
/// JimmyAI's multipart head), and the duration refusal quoted it whole.
#[tokio::test]
async fn a_file_name_over_255_bytes_is_refused_before_anything_is_sent() {
    let env = Env::start(SimConfig::default()).await;
    let jimmy = env.client(Provider::JimmyAi, 3);
    let vmeg = env.client(Provider::Vmeg, 3);
    let before = env.requests();
    // 256 bytes in 89 characters: the bound is on bytes.
    let too_long = format!("{}.wav", "声".repeat(84));
    assert_eq!(too_long.len(), 256);
    for client in [&jimmy, &vmeg] {
        let sources = [
            AudioSource::Bytes {
                file_name: too_long.clone(),
                bytes: wav(151).into(),
            },
            AudioSource::reader(too_long.clone(), std::io::Cursor::new(wav(151))),
        ];
        for source in sources {
            let e = client
                .clone_voice(&CloneRequest::with_audio(source))
                .await
                .unwrap_err();
            assert_eq!(field(&e), "audio_file", "{e}");
            assert!(e.to_string().contains("255 bytes"), "{e}");
            assert!(!e.to_string().contains(&too_long), "quoted whole: {e}");
            assert_eq!(e.phase(), Phase::NotSent, "{e}");
        }
    }
    assert_eq!(env.requests(), before, "nothing may be sent");
    // 255 bytes is a name like any other (JimmyAI's duration rule runs next, and quotes it
    // by its start: it was quoted whole).
    let longest = format!("{}.wav", "n".repeat(251));
    assert_eq!(longest.len(), 255);
    let e = jimmy
        .clone_voice(&CloneRequest::from_bytes(longest.clone(), wav(100)))
        .await
        .unwrap_err();
    assert_eq!(field(&e), "audio_file", "{e}");
    assert!(e.to_string().contains("lasts 10.0 s"), "{e}");
    assert!(!e.to_string().contains(&longest), "quoted whole: {e}");
    assert!(e.to_string().contains("…"), "{e}");
    assert_eq!(env.requests(), before, "nothing may be sent");
    vmeg.clone_voice(&CloneRequest::from_bytes(longest, wav(151)))
        .await
        .unwrap();
    // Review 29 pass 2-c #2: a file on disk is named as its file system allows. A Linux
    // name of 100 bytes that are not UTF-8 reads as 300 bytes of U+FFFD: it is sent all the
    // same, for both providers. Before: refused as a name over 255 bytes.
    #[cfg(unix)]
    {
        use std::os::unix::ffi::OsStrExt;
        let mut raw = vec![0xFF_u8; 100];
        raw.extend_from_slice(b".wav");
        let path = env.dir.path().join(std::ffi::OsStr::from_bytes(&raw));
        std::fs::write(&path, wav(200)).unwrap();
        for client in [&jimmy, &vmeg] {
            client
                .clone_voice(&CloneRequest::from_file(&path))
                .await
                .unwrap();
        }
    }
}

const LONG_API_KEY: &str = "sk-live-0123456789abcdef";

/// An idempotency key holding 12 characters of the simulator's API key.
fn key_with_api_key_piece(env: &Env) -> String {
    format!("order-{}", &env.sim.api_key()[8..20])
}

/// A VMEG clone from a reader whose idempotency key holds a piece of the API key is refused
/// before the reader is read: nothing is uploaded, the error names the key without quoting
/// it and carries no upload step or material note, and the same request with another key
/// then clones from the same reader. Before: the reader was spooled and uploaded as a
/// material, the key was refused only at the clone submit (with the note blaming VMEG's
/// material URL), and the corrected call found the reader already taken.
#[tokio::test]
async fn a_vmeg_key_holding_a_piece_of_the_api_key_is_refused_before_the_reader_is_taken() {
    let env = Env::start(SimConfig::default().with_api_key(LONG_API_KEY)).await;
    let vmeg = env.client(Provider::Vmeg, 3);
    let bad = key_with_api_key_piece(&env);
    let req = CloneRequest::from_reader("r.wav", std::io::Cursor::new(wav(160)))
        .name("from-reader")
        .idempotency_key(bad.clone());
    let before = env.requests();
    let e = vmeg.clone_voice(&req).await.unwrap_err();
    assert_eq!(field(&e), "idempotency_key", "{e}");
    assert!(e.to_string().contains("API key"), "{e}");
    assert!(!format!("{e} {e:?}").contains(&bad[6..]), "{e:?}");
    assert_eq!(e.phase(), Phase::NotSent, "{e}");
    assert_eq!(e.step(), None, "{e}");
    assert_eq!(e.note(), None, "{e}");
    assert_eq!(env.requests(), before, "nothing may be sent");

    let job = vmeg
        .clone_voice(&req.clone().idempotency_key("order-fixed-1"))
        .await
        .unwrap();
    assert_eq!(job.idempotency_key.as_deref(), Some("order-fixed-1"));
    assert_eq!(env.calls("vmeg.materialPut"), 1);
    assert_eq!(env.billable(), 1);
}

/// VMEG documents no size limit, so a reader was spooled to a temporary file until it ended:
/// one that never ends filled the disk before anything failed. The client's
/// `max_upload_bytes` (default 1 GiB) now bounds every local recording, for both providers;
/// JimmyAI's 100 MB applies when it is lower. Nothing is sent, and 0 is refused by name.
/// A reader that trickles (a byte every 50 ms, for a minute) keeps the call's own timeout:
/// `with_timeout(1 s)` ends the clone at it, `Timeout` at the read-file step with nothing
/// sent, instead of after the whole trickle. Before: the spool read to the reader's end.
#[tokio::test]
async fn a_trickling_reader_ends_at_the_calls_timeout_with_nothing_sent() {
    let env = Env::start(SimConfig::default()).await;
    let c = env.builder(Provider::Vmeg, 3).build().unwrap();
    let (mut tx, rx) = tokio::io::duplex(64);
    let dripping = tokio::spawn(async move {
        use tokio::io::AsyncWriteExt;
        for _ in 0..1200 {
            if tx.write_all(b"x").await.is_err() {
                return;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    });
    let before = env.requests();
    let started = std::time::Instant::now();
    let e = c
        .with_timeout(Duration::from_secs(1))
        .clone_voice(&CloneRequest::from_reader("drip.mp3", rx))
        .await
        .unwrap_err();
    assert_eq!(e.kind(), &ErrorKind::Timeout, "{e}");
    assert_eq!(e.phase(), Phase::NotSent, "{e}");
    assert!(
        started.elapsed() < Duration::from_secs(10),
        "the trickle ran its course: {:?}",
        started.elapsed()
    );
    assert_eq!(env.requests(), before, "nothing may be sent");
    dripping.abort();
}

/// Clones from a reader that first gives `burst` bytes at once, then a byte every 59 s (each
/// read within `READER_IDLE_TIMEOUT`), with no call timeout, on each provider (on a paused
/// clock): the refusal, which must be the spool's "too slow" at the read-file step with
/// nothing sent, and how long each took. `limit` bounds the test, not the client.
async fn trickle(burst: u64, limit: Duration) -> Vec<(Provider, Duration)> {
    use tokio::io::AsyncReadExt;
    use voiceclone::READER_IDLE_TIMEOUT;
    use workspace_tests::scripted::Scripted;
    let server = Scripted::start(Vec::new()).await;
    let mut took = Vec::new();
    for p in [Provider::Vmeg, Provider::JimmyAi] {
        let c = Client::builder(p)
            .api_key("k-trickle")
            .base_url(server.base_url.as_str())
            .allow_private_urls(true)
            .build()
            .unwrap();
        let (mut tx, rx) = tokio::io::duplex(64);
        let dripping = tokio::spawn(async move {
            use tokio::io::AsyncWriteExt;
            while tx.write_all(b"x").await.is_ok() {
                tokio::time::sleep(READER_IDLE_TIMEOUT - Duration::from_secs(1)).await;
            }
        });
        let started = tokio::time::Instant::now();
        let reader = tokio::io::repeat(1).take(burst).chain(rx);
        let mut request = CloneRequest::from_reader("drip.mp3", reader);
        if p == Provider::Vmeg {
            request = request.name("n").language("en-US");
        }
        let e = tokio::time::timeout(limit, c.clone_voice(&request))
            .await
            .unwrap_or_else(|_| panic!("{p}: the trickling reader held the call"))
            .unwrap_err();
        assert_eq!(field(&e), "audio_file", "{p}: {e}");
        assert!(e.to_string().contains("too slow"), "{p}: {e}");
        assert_eq!(e.step(), Some(UploadStep::ReadFile), "{p}: {e}");
        assert_eq!(e.phase(), Phase::NotSent, "{p}: {e}");
        assert!(e.may_resubmit(), "{p}: {e}");
        took.push((p, started.elapsed()));
        dripping.abort();
    }
    assert!(server.seen().is_empty(), "nothing may be sent");
    took
}

/// A reader that trickles a byte every 59 s (each read within `READER_IDLE_TIMEOUT`), with no
/// call timeout set: the clone ends at the spool's deadline (`READER_SPOOL_TIME`, a few bytes
/// earning no more), `InvalidInput` naming `audio_file` at the read-file step, saying the
/// reader was too slow; nothing is sent. On a paused clock. Before: the call never ended.
#[tokio::test(start_paused = true)]
async fn a_reader_trickling_under_the_idle_timeout_ends_at_the_spool_deadline() {
    use voiceclone::READER_SPOOL_TIME;
    for (p, took) in trickle(0, 3 * READER_SPOOL_TIME).await {
        assert_eq!(took, READER_SPOOL_TIME, "{p}");
    }
}

/// Bytes given early earn no time later: a reader that gives 50 MiB at once, then a byte
/// every 59 s, with no call timeout set, ends at the first `READER_SPOOL_WINDOW` after
/// `READER_SPOOL_TIME` that got less than `READER_SPOOL_RATE` a second: "too slow", nothing
/// sent. On a paused clock. Before: its 50 MiB bought it 1,600 s more (at a byte a minute;
/// 500 MiB bought 4.4 h).
#[tokio::test(start_paused = true)]
async fn a_reader_trickling_after_a_burst_ends_at_the_next_spool_window() {
    use voiceclone::{READER_SPOOL_TIME, READER_SPOOL_WINDOW};
    for (p, took) in trickle(50 << 20, 2 * READER_SPOOL_TIME).await {
        assert_eq!(took, READER_SPOOL_TIME + READER_SPOOL_WINDOW, "{p}");
    }
}

#[tokio::test]
async fn a_reader_that_never_ends_is_refused_at_the_clients_upload_limit() {
    let env = Env::start(SimConfig::default()).await;
    for p in [Provider::Vmeg, Provider::JimmyAi] {
        let c = env.builder(p, 3).max_upload_bytes(1 << 20).build().unwrap();
        let before = env.requests();
        let endless = CloneRequest::from_reader("endless.mp3", tokio::io::repeat(1));
        let e = tokio::time::timeout(Duration::from_secs(30), c.clone_voice(&endless))
            .await
            .expect("refused at the limit, not read forever")
            .unwrap_err();
        assert_eq!(field(&e), "audio_file", "{p}: {e}");
        assert!(
            e.to_string().contains("at most 1048576 bytes")
                && e.to_string().contains("max_upload_bytes"),
            "{p}: {e}"
        );
        assert_eq!(e.phase(), Phase::NotSent, "{p}: {e}");
        // A file over the client's limit is refused the same way, before it is read.
        let over = env.file("over.mp3", &vec![1u8; (1 << 20) + 1]);
        let e = c.upload_sample(&over).await.unwrap_err();
        assert!(e.to_string().contains("max_upload_bytes"), "{p}: {e}");
        assert_eq!(env.requests(), before, "{p}: nothing may be sent");
        // The limit itself passes the check (the upload goes ahead).
        let at = env.file("at.mp3", &vec![1u8; 1 << 20]);
        c.upload_sample(&at).await.unwrap();
        assert!(env.requests() > before, "{p}");
    }
    // JimmyAI's own 100 MB still applies under a higher client limit, and says so.
    let big = env.dir.path().join("big.mp3");
    std::fs::File::create(&big)
        .unwrap()
        .set_len(100_000_001)
        .unwrap();
    let jimmy = env
        .builder(Provider::JimmyAi, 3)
        .max_upload_bytes(u64::MAX)
        .build()
        .unwrap();
    let e = jimmy.upload_sample(&big).await.unwrap_err();
    assert!(
        e.to_string().contains("100 MB") && !e.to_string().contains("max_upload_bytes"),
        "{e}"
    );
    for p in [Provider::Vmeg, Provider::JimmyAi] {
        let e = env.builder(p, 3).max_upload_bytes(0).build().unwrap_err();
        assert_eq!(field(&e), "max_upload_bytes", "{e}");
    }
}

/// One failing step of a VMEG clone from a file: (operation, fault, the step it must name).
const VMEG_STEPS: &[(&str, FaultKind, UploadStep)] = &[
    (
        "vmeg.materialGenUploadUrl",
        FaultKind::Http503,
        UploadStep::RequestUploadUrl,
    ),
    // Landed, answer lost: its retry under the same key meets VMEG's 409, and the call is
    // made again under a new key (README's upload table).
    (
        "vmeg.materialGenUploadUrl",
        FaultKind::DropAfter,
        UploadStep::RequestUploadUrl,
    ),
    ("vmeg.materialPut", FaultKind::Http503, UploadStep::Put),
    ("vmeg.materialPut", FaultKind::DropBefore, UploadStep::Put),
    (
        "vmeg.materialUploadComplete",
        FaultKind::Http500,
        UploadStep::CompleteUpload,
    ),
    (
        "vmeg.materialUploadComplete",
        FaultKind::DropAfter,
        UploadStep::CompleteUpload,
    ),
];

#[tokio::test]
async fn each_vmeg_step_failure_names_its_step_and_submits_no_clone() {
    let env = Env::start(SimConfig::default()).await;
    let path = env.file("sample.wav", &wav(200));
    let once = env.client(Provider::Vmeg, 1);
    for (i, (op, fault, step)) in VMEG_STEPS.iter().enumerate() {
        // A recording VMEG does not hold yet, so that no step is skipped.
        let path = env.file(&format!("s{i}.wav"), &wav(200 + i as u32));
        env.sim.fail_next(op, *fault, 1).unwrap();
        let e = once
            .clone_voice(&CloneRequest::from_file(&path).name("n"))
            .await
            .unwrap_err();
        assert_eq!(e.step(), Some(*step), "{op} {fault:?}: {e}");
        assert!(
            e.to_string().contains("no clone was submitted"),
            "{op}: {e}"
        );
        assert!(
            !matches!(e.kind(), ErrorKind::OutcomeUnknown { .. }),
            "an upload step is never an unknown outcome: {e}"
        );
        assert_eq!(env.billable(), 0, "{op} {fault:?}: a clone was billed");
        assert_eq!(env.calls("vmeg.cloneVoiceCreateAsync"), 0);
    }
    // With retries, the same faults are ridden out: the PUT and the material calls repeat
    // (each with its own key), and exactly one clone is billed per call.
    let retrying = env.client(Provider::Vmeg, 3);
    for (i, (op, fault, _)) in VMEG_STEPS.iter().enumerate() {
        let path = env.file(&format!("r{i}.wav"), &wav(300 + i as u32));
        env.sim.fail_next(op, *fault, 1).unwrap();
        retrying
            .clone_voice(&CloneRequest::from_file(&path).name("n"))
            .await
            .unwrap_or_else(|e| panic!("{op} {fault:?}: {e}"));
    }
    assert_eq!(env.billable(), VMEG_STEPS.len() as u64);
    assert!(env.sim.stats().duplicate_logical_calls().is_empty());
    let _ = path;
}

#[tokio::test]
async fn an_upload_interrupted_mid_put_leaves_nothing_submitted() {
    let env = Env::start(SimConfig::default()).await;
    let path = env.file("sample.wav", &wav(200));
    // Every attempt of the PUT is cut off halfway through its body.
    env.sim
        .fail_next("vmeg.materialPut", FaultKind::DropBefore, 3)
        .unwrap();
    let client = env.client(Provider::Vmeg, 3);
    let e = client
        .clone_voice(&CloneRequest::from_file(&path).name("n"))
        .await
        .unwrap_err();
    assert_eq!(e.step(), Some(UploadStep::Put), "{e}");
    assert_eq!(e.kind(), &ErrorKind::Transport, "{e}");
    assert_eq!(env.calls("vmeg.materialPut"), 3, "the PUT was retried");
    assert_eq!(env.calls("vmeg.materialUploadComplete"), 0);
    assert_eq!(env.calls("vmeg.cloneVoiceCreateAsync"), 0);
    assert_eq!(env.billable(), 0);
    // Calling again is safe and completes.
    client
        .clone_voice(&CloneRequest::from_file(&path).name("n"))
        .await
        .unwrap();
    assert_eq!(env.billable(), 1);
}

#[tokio::test]
async fn jimmyai_upload_failures_name_the_step_and_retries_never_bill_twice() {
    let env = Env::start(SimConfig::default()).await;
    let path = env.file("sample.wav", &wav(200));
    let once = env.client(Provider::JimmyAi, 1);
    for fault in [
        FaultKind::Http503,
        FaultKind::DropBefore,
        FaultKind::DropAfter,
    ] {
        env.sim.fail_next("jimmyai.uploadFile", fault, 1).unwrap();
        let e = once
            .clone_voice(&CloneRequest::from_file(&path))
            .await
            .unwrap_err();
        assert_eq!(e.step(), Some(UploadStep::UploadFile), "{fault:?}: {e}");
        assert!(
            !matches!(e.kind(), ErrorKind::OutcomeUnknown { .. }),
            "the upload creates no task: {e}"
        );
    }
    assert_eq!(env.billable(), 0);
    // The upload is repeated (a lost answer included); the clone is billed once.
    let retrying = env.client(Provider::JimmyAi, 3);
    env.sim
        .fail_next("jimmyai.uploadFile", FaultKind::DropAfter, 1)
        .unwrap();
    retrying
        .clone_voice(&CloneRequest::from_file(&path))
        .await
        .unwrap();
    assert_eq!(env.billable(), 1);
    // The clone itself follows JimmyAI's create rule: its lost answer is an unknown outcome,
    // reported at the clone step, and never resent.
    env.sim
        .fail_next("jimmyai.createClone", FaultKind::DropAfter, 1)
        .unwrap();
    let e = retrying
        .clone_voice(&CloneRequest::from_file(&path))
        .await
        .unwrap_err();
    assert_eq!(e.step(), Some(UploadStep::SubmitClone), "{e}");
    assert!(matches!(e.kind(), ErrorKind::OutcomeUnknown { .. }), "{e}");
    assert_eq!(env.billable(), 2, "billed once, not resent");
}

/// A JimmyAI upload retried after its first attempt sent the recording, whose file is
/// replaced (another file renamed over its path) or removed before the retry, is refused as
/// sent (phase `Sent`, step `UploadFile`): never "nothing was sent", which would invite a
/// caller to believe no byte left, and nothing is cloned.
#[tokio::test]
async fn a_jimmyai_upload_retry_that_cannot_reopen_its_recording_is_refused_as_sent() {
    let env = Env::start(SimConfig::default()).await;
    for replace in [true, false] {
        let path = env.file(&format!("retry-{replace}.wav"), &wav(200));
        let other = env.file(&format!("retry-other-{replace}.wav"), &wav(201));
        let target = path.clone();
        let done = std::sync::atomic::AtomicBool::new(false);
        let client = env
            .builder(Provider::JimmyAi, 3)
            .on_upload_progress(move |u| {
                if u.sent > 0 && !done.swap(true, Ordering::SeqCst) {
                    if replace {
                        std::fs::rename(&other, &target).unwrap();
                    } else {
                        std::fs::remove_file(&target).unwrap();
                    }
                }
            })
            .build()
            .unwrap();
        let uploads = env.calls("jimmyai.uploadFile");
        env.sim
            .fail_next("jimmyai.uploadFile", FaultKind::Http503, 1)
            .unwrap();
        let e = client
            .clone_voice(&CloneRequest::from_file(&path))
            .await
            .unwrap_err();
        assert_eq!(field(&e), "audio_file", "{replace}: {e}");
        assert_eq!(e.phase(), Phase::Sent, "{replace}: {e}");
        assert_eq!(e.step(), Some(UploadStep::UploadFile), "{replace}: {e}");
        assert_eq!(env.calls("jimmyai.uploadFile"), uploads + 1, "{replace}");
    }
    assert_eq!(env.billable(), 0);
}

/// A multipart upload whose recording is rewritten in place while its parts go up (parts
/// carry no MD5 of their own) is refused before it is registered, and aborted; one whose
/// file is replaced (another file renamed over its path) after a part went out is refused
/// as sent (phase `Sent`, the part it was on), never as "nothing was sent".
#[tokio::test]
async fn vmeg_multipart_refuses_a_recording_changed_or_replaced_between_parts() {
    let env = Env::start(SimConfig::default().with_material_limits(64 << 20, 256 * 1024)).await;
    for replace in [false, true] {
        let path = env.file(&format!("mp-{replace}.wav"), &wav(500)); // 4 parts
        let other = env.file(&format!("mp-other-{replace}.wav"), &wav(501));
        let target = path.clone();
        let done = std::sync::atomic::AtomicBool::new(false);
        let client = env
            .builder(Provider::Vmeg, 1)
            .multipart_upload_threshold(300 * 1024)
            .on_upload_progress(move |u| {
                if u.sent > 0 && u.sent < u.total && !done.swap(true, Ordering::SeqCst) {
                    if replace {
                        std::fs::rename(&other, &target).unwrap();
                    } else {
                        rewrite_in_place(&target);
                    }
                }
            })
            .build()
            .unwrap();
        let aborts = env.calls("vmeg.materialMultipartAbort");
        let e = client
            .clone_voice(&CloneRequest::from_file(&path).name("n"))
            .await
            .unwrap_err();
        assert_eq!(field(&e), "audio_file", "{e}");
        assert_eq!(e.phase(), Phase::Sent, "parts went out: {e}");
        if replace {
            assert_eq!(e.step(), Some(UploadStep::PutPart(2)), "{e}");
        } else {
            assert!(e.to_string().contains("MD5 differs"), "{e}");
            assert_eq!(e.step(), Some(UploadStep::CompleteMultipart), "{e}");
        }
        assert_eq!(env.calls("vmeg.materialMultipartAbort"), aborts + 1);
    }
    assert_eq!(env.calls("vmeg.materialMultipartComplete"), 0);
    assert_eq!(env.billable(), 0);
}

#[tokio::test]
async fn vmeg_multipart_upload_with_parts_and_abort_on_failure() {
    // Parts of 256 KiB (the simulator's recommendation), files above 300 KiB in parts.
    let env = Env::start(SimConfig::default().with_material_limits(64 << 20, 256 * 1024)).await;
    let client = env
        .builder(Provider::Vmeg, 1)
        .multipart_upload_threshold(300 * 1024)
        .build()
        .unwrap();
    let path = env.file("long.wav", &wav(500)); // 800 KB: 4 parts
    client
        .clone_voice(&CloneRequest::from_file(&path).name("n"))
        .await
        .unwrap();
    assert_eq!(env.calls("vmeg.materialMultipartInitiate"), 1);
    assert_eq!(env.calls("vmeg.materialMultipartPresign"), 1);
    assert_eq!(env.calls("vmeg.materialPut"), 4);
    assert_eq!(env.calls("vmeg.materialMultipartComplete"), 1);
    assert_eq!(env.billable(), 1);

    for (i, (op, step)) in [
        ("vmeg.materialMultipartPresign", UploadStep::PresignParts),
        ("vmeg.materialPut", UploadStep::PutPart(1)),
        (
            "vmeg.materialMultipartComplete",
            UploadStep::CompleteMultipart,
        ),
    ]
    .into_iter()
    .enumerate()
    {
        let path = env.file(&format!("p{i}.wav"), &wav(510 + i as u32));
        let aborts = env.calls("vmeg.materialMultipartAbort");
        env.sim.fail_next(op, FaultKind::Http503, 1).unwrap();
        let e = client
            .clone_voice(&CloneRequest::from_file(&path).name("n"))
            .await
            .unwrap_err();
        assert_eq!(e.step(), Some(step), "{op}: {e}");
        assert_eq!(
            env.calls("vmeg.materialMultipartAbort"),
            aborts + 1,
            "{op}: the upload is aborted"
        );
    }
    // Failing to start: no session, so nothing to abort.
    let path = env.file("start.wav", &wav(520));
    let aborts = env.calls("vmeg.materialMultipartAbort");
    let puts = env.calls("vmeg.materialPut");
    env.sim
        .fail_next("vmeg.materialMultipartInitiate", FaultKind::Http503, 1)
        .unwrap();
    let e = client
        .clone_voice(&CloneRequest::from_file(&path).name("n"))
        .await
        .unwrap_err();
    assert_eq!(e.step(), Some(UploadStep::StartMultipart), "{e}");
    assert_eq!(env.calls("vmeg.materialMultipartAbort"), aborts);
    assert_eq!(env.calls("vmeg.materialPut"), puts, "nothing was PUT");
    assert_eq!(env.billable(), 1);
}

/// A multipart upload whose part's PUT runs out of the call's time (`with_timeout`) still
/// aborts its session: the abort runs outside the call's deadline, within a few seconds of its
/// own. Before: it ran within the call's time, which was gone, so it was never sent and VMEG
/// kept the parts. And an abort VMEG never answers does not hold the call past that bound.
#[tokio::test]
async fn a_multipart_upload_out_of_time_still_aborts_its_session() {
    // Parts of 256 KiB, files above 300 KiB in parts.
    let env = Env::start(SimConfig::default().with_material_limits(64 << 20, 256 * 1024)).await;
    let client = env
        .builder(Provider::Vmeg, 3)
        .multipart_upload_threshold(300 * 1024)
        .build()
        .unwrap();
    let quick = client.with_timeout(Duration::from_secs(1));
    for (i, abort_answered) in [true, false].into_iter().enumerate() {
        let path = env.file(&format!("long{i}.wav"), &wav(500 + i as u32)); // 4 parts
        // Storage holds the first part's PUT past the call's time.
        env.sim
            .fail_next(
                "vmeg.materialPut",
                voiceclone_sim::Fault::latency(Duration::from_secs(3)),
                1,
            )
            .unwrap();
        if !abort_answered {
            env.sim
                .fail_next(
                    "vmeg.materialMultipartAbort",
                    voiceclone_sim::Fault::latency(Duration::from_secs(60)),
                    1,
                )
                .unwrap();
        }
        let aborts = env.calls("vmeg.materialMultipartAbort");
        let started = std::time::Instant::now();
        let e = quick.upload(&AudioSource::File(path)).await.unwrap_err();
        let took = started.elapsed();
        assert_eq!(e.kind(), &ErrorKind::Timeout, "{e}");
        assert_eq!(e.step(), Some(UploadStep::PutPart(1)), "{e}");
        assert_eq!(
            env.calls("vmeg.materialMultipartAbort"),
            aborts + 1,
            "the session is aborted once (abort answered: {abort_answered})"
        );
        // The call's second, then at most the abort's own bound (5 s), with room for a loaded
        // machine; far below the minute VMEG holds the abort.
        assert!(
            took < Duration::from_secs(15),
            "the abort held the call {took:?} (abort answered: {abort_answered})"
        );
    }
    assert_eq!(env.calls("vmeg.materialMultipartComplete"), 0);
    assert_eq!(env.billable(), 0);
}

#[tokio::test]
async fn the_presigned_put_never_carries_the_api_key_even_from_a_callers_client() {
    let env = Env::start(SimConfig::default()).await;
    let mut headers = reqwest::header::HeaderMap::new();
    headers.insert(
        reqwest::header::AUTHORIZATION,
        reqwest::header::HeaderValue::from_str(&format!("Bearer {}", env.sim.api_key())).unwrap(),
    );
    let _ = rustls::crypto::ring::default_provider().install_default();
    let http = reqwest::Client::builder()
        .default_headers(headers)
        .build()
        .unwrap();
    let client = env
        .builder(Provider::Vmeg, 1)
        .http_client(http)
        .build()
        .unwrap();
    let path = env.file("sample.wav", &wav(200));
    // The simulator's storage refuses a PUT with an Authorization header (HTTP 400).
    client
        .clone_voice(&CloneRequest::from_file(&path).name("n"))
        .await
        .unwrap();
    assert_eq!(env.sim.stats().responses_by_status.get(&400), None);
}

/// A presigned PUT never takes the slots API calls wait for: with `max_in_flight(1)`, while
/// storage holds a PUT unanswered (a slow storage host, a shared uplink), a call to the API
/// answers and the upload is still running. Before: the PUT held the client's only in-flight
/// slot for its whole attempt (up to 300 s, each retry again), and every poll, status call
/// and submit on the client waited behind it.
#[tokio::test]
async fn a_slow_presigned_put_does_not_hold_the_slots_api_calls_need() {
    let env = Env::start(SimConfig::default()).await;
    // Storage takes the PUT and holds it for a minute before it answers.
    env.sim
        .fail_next(
            "vmeg.materialPut",
            voiceclone_sim::Fault::latency(Duration::from_secs(60)),
            1,
        )
        .unwrap();
    let client = env
        .builder(Provider::Vmeg, 1)
        .max_in_flight(1)
        .build()
        .unwrap();
    let path = env.file("sample.wav", &wav(200));
    let uploading = {
        let client = client.clone();
        tokio::spawn(async move { client.upload(&AudioSource::File(path)).await })
    };
    // The PUT has reached storage (its delay began), so it holds whatever slot it takes.
    let end = std::time::Instant::now() + Duration::from_secs(10);
    while !env.sim.stats().faults_by_kind.contains_key("latency") {
        assert!(
            std::time::Instant::now() < end,
            "the PUT never reached storage"
        );
        assert!(!uploading.is_finished(), "the upload ended before its PUT");
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    // Far below the PUT's minute: an answer within it came from beside the PUT, not after it.
    let listed = tokio::time::timeout(Duration::from_secs(20), client.list_voices()).await;
    assert!(
        listed.is_ok(),
        "the API call waited behind the presigned PUT"
    );
    listed.unwrap().unwrap();
    assert!(!uploading.is_finished(), "the upload ended first");
    uploading.abort();
}

#[tokio::test]
async fn vmeg_refusing_its_material_url_says_the_fact_is_unknown() {
    let env = Env::start(SimConfig::default().with_vmeg_clone_accepts_material_urls(false)).await;
    let path = env.file("sample.wav", &wav(200));
    let client = env.client(Provider::Vmeg, 3);
    let e = client
        .clone_voice(&CloneRequest::from_file(&path).name("n"))
        .await
        .unwrap_err();
    assert_eq!(e.step(), Some(UploadStep::SubmitClone), "{e}");
    assert_eq!(e.kind(), &ErrorKind::InvalidRequest, "{e}");
    let note = e.note().unwrap_or_default();
    assert!(
        note.contains("UNKNOWN") && note.contains("addressUrl"),
        "{e}"
    );
    assert!(e.to_string().contains("not documented"), "{e}");
    assert_eq!(env.billable(), 0);
}

/// A recording cut short while it is being sent (truncated by another process after its
/// first chunk went out): refused as the recording's fault, naming `audio_file`, not a
/// network failure; `Phase::Sent`, since part of it went out (to storage or the upload
/// endpoint, never as a clone), and no clone is submitted or billed.
#[tokio::test]
async fn a_recording_cut_short_mid_upload_is_refused_as_sent_and_nothing_is_cloned() {
    let env = Env::start(SimConfig::default()).await;
    for p in Provider::ALL {
        let path = env.file(&format!("{p}-cut.wav"), &wav(200));
        let cut = path.clone();
        let client = env
            .builder(p, 3)
            .on_upload_progress(move |u| {
                if u.sent > 0 && u.sent < u.total {
                    std::fs::OpenOptions::new()
                        .write(true)
                        .open(&cut)
                        .unwrap()
                        .set_len(1_000)
                        .unwrap();
                }
            })
            .build()
            .unwrap();
        let request = local_clone(p, &path);
        let e = client.clone_voice(&request).await.unwrap_err();
        assert_eq!(field(&e), "audio_file", "{p}: {e}");
        assert!(
            e.to_string().contains("changed while it was being sent"),
            "{p}: {e}"
        );
        assert_eq!(e.phase(), Phase::Sent, "{p}: part of it went out: {e}");
        assert!(e.may_resubmit(), "{p}: no clone was submitted: {e}");
        // The step it was sending in, never `ReadFile` ("nothing was sent").
        let step = e.step();
        match p {
            Provider::Vmeg => assert!(
                matches!(step, Some(UploadStep::Put | UploadStep::PutPart(_))),
                "{p}: {step:?}: {e}"
            ),
            _ => assert_eq!(step, Some(UploadStep::UploadFile), "{p}: {e}"),
        }
    }
    assert_eq!(env.calls("vmeg.cloneVoiceCreateAsync"), 0);
    assert_eq!(env.billable(), 0);
}

/// A recording rewritten in place while it is being sent (same length, same file: `cp
/// take2.wav take.wav` keeps the inode) is refused: its bytes no longer have the MD5 the
/// upload was prepared with. Before: VMEG's presigned PUT carries a `Content-Length`, and
/// hyper stops reading the body once that many bytes are out, so the MD5 check at the
/// stream's end never ran: the PUT succeeded, the material was registered under the old
/// MD5 (which VMEG's instant upload then matches for good) and the clone was billed; a
/// JimmyAI upload was never checked against an MD5 at all.
/// Rewrites the last 1,000 bytes of `path` over the same inode, keeping its length (as
/// `cp other.wav take.wav` does).
fn rewrite_in_place(path: &std::path::Path) {
    let mut bytes = std::fs::read(path).unwrap();
    for b in bytes.iter_mut().rev().take(1_000) {
        *b = b.wrapping_add(1);
    }
    std::fs::OpenOptions::new()
        .write(true)
        .open(path)
        .unwrap()
        .write_all(&bytes)
        .unwrap();
}

/// A clone of the recording at `path`, named where the provider needs a name.
fn local_clone(p: Provider, path: &std::path::Path) -> CloneRequest {
    match p {
        Provider::Vmeg => CloneRequest::from_file(path).name("n"),
        _ => CloneRequest::from_file(path),
    }
}

#[tokio::test]
async fn a_recording_rewritten_in_place_mid_upload_is_refused_and_nothing_is_cloned() {
    let env = Env::start(SimConfig::default()).await;
    for p in Provider::ALL {
        let original = wav(200);
        let path = env.file(&format!("{p}-rewritten.wav"), &original);
        let target = path.clone();
        let rewritten = std::sync::atomic::AtomicBool::new(false);
        let client = env
            .builder(p, 3)
            .on_upload_progress(move |u| {
                if u.sent > 0 && u.sent < u.total && !rewritten.swap(true, Ordering::SeqCst) {
                    rewrite_in_place(&target);
                }
            })
            .build()
            .unwrap();
        let request = local_clone(p, &path);
        let e = client.clone_voice(&request).await.unwrap_err();
        assert_eq!(field(&e), "audio_file", "{p}: {e}");
        assert!(e.to_string().contains("MD5 differs"), "{p}: {e}");
        assert_eq!(e.phase(), Phase::Sent, "{p}: {e}");
    }
    assert_eq!(env.calls("vmeg.materialUploadComplete"), 0);
    assert_eq!(env.calls("vmeg.cloneVoiceCreateAsync"), 0);
    assert_eq!(env.billable(), 0);
}

/// A recording that grows while it is sent is refused even when its length is a multiple
/// of the 64 KiB read size, so that its last read ends exactly at the measured length (the
/// read of one byte more, which shows the growth, used to come after hyper had stopped
/// reading a body with a `Content-Length`: the recording went up cut at its old length).
#[tokio::test]
async fn a_recording_that_grows_mid_upload_is_refused_at_a_whole_number_of_reads() {
    let env = Env::start(SimConfig::default()).await;
    for p in Provider::ALL {
        let mut bytes = wav(200);
        // 16.4 s: within JimmyAI's 15-60 s, and four whole reads of 64 KiB.
        bytes.truncate(4 * 64 * 1024);
        let data_len = (bytes.len() - 44) as u32;
        bytes[4..8].copy_from_slice(&(data_len + 36).to_le_bytes());
        bytes[40..44].copy_from_slice(&data_len.to_le_bytes());
        let path = env.file(&format!("{p}-grows.wav"), &bytes);
        let target = path.clone();
        let grown = std::sync::atomic::AtomicBool::new(false);
        let client = env
            .builder(p, 3)
            .on_upload_progress(move |u| {
                if u.sent > 0 && u.sent < u.total && !grown.swap(true, Ordering::SeqCst) {
                    std::fs::OpenOptions::new()
                        .append(true)
                        .open(&target)
                        .unwrap()
                        .write_all(&[7u8; 4096])
                        .unwrap();
                }
            })
            .build()
            .unwrap();
        let request = local_clone(p, &path);
        let e = client.clone_voice(&request).await.unwrap_err();
        assert_eq!(field(&e), "audio_file", "{p}: {e}");
        assert!(e.to_string().contains("grew"), "{p}: {e}");
    }
    assert_eq!(env.calls("vmeg.materialUploadComplete"), 0);
    assert_eq!(env.billable(), 0);
}

#[tokio::test]
async fn upload_progress_reaches_the_total() {
    let env = Env::start(SimConfig::default()).await;
    let bytes = wav(200);
    let total = bytes.len() as u64;
    for p in Provider::ALL {
        let seen: Arc<Mutex<Vec<UploadProgress>>> = Arc::default();
        let s = seen.clone();
        let client = env
            .builder(p, 1)
            .on_upload_progress(move |u| s.lock().unwrap().push(u))
            .build()
            .unwrap();
        let url = client
            .upload(&AudioSource::Bytes {
                file_name: format!("{p}.wav"),
                bytes: bytes.clone().into(),
            })
            .await
            .unwrap();
        assert!(url.as_str().starts_with(&env.sim.base_url()));
        let seen = seen.lock().unwrap();
        assert!(seen.len() > 1, "{p}: {seen:?}");
        assert_eq!(seen.last().map(|u| (u.sent, u.total)), Some((total, total)));
        assert!(seen.windows(2).all(|w| w[0].sent <= w[1].sent));
    }
}

/// What goes on the wire for a clone from bytes, request by request: the material calls
/// with their own keys, the PUT without `Authorization` (or any key) and with the file's
/// length, then the clone with the material's `addressUrl`; JimmyAI's upload, then its clone
/// with the uploaded URL.
#[tokio::test]
async fn wire_of_a_clone_from_bytes_for_both_providers() {
    use serde_json::{Value, json};
    use workspace_tests::scripted::{Scripted, Step};

    fn shown(s: &workspace_tests::scripted::Seen, base: &str) -> Value {
        let headers: Vec<String> = s
            .headers
            .iter()
            .filter(|(k, _)| {
                matches!(
                    k.as_str(),
                    "authorization" | "content-type" | "content-length" | "x-idempotency-key"
                )
            })
            .map(|(k, v)| {
                let v = if k == "authorization" {
                    v.replace(crate::adapter_support::SECRET_KEY, "[redacted]")
                } else if k == "x-idempotency-key"
                    && v.len() == 32
                    && v.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'))
                {
                    "[generated]".into()
                } else if k == "content-type" && v.starts_with("multipart/form-data; boundary=") {
                    "multipart/form-data; boundary=[random]".into()
                } else {
                    v.clone()
                };
                format!("{k}: {v}")
            })
            .collect();
        let body = if s.body.is_empty() {
            Value::Null
        } else {
            match serde_json::from_slice::<Value>(&s.body) {
                Ok(mut v) => {
                    if let Some(u) = v.get_mut("fileUrl") {
                        *u = json!(u.as_str().unwrap_or("").replace(base, "[server]"));
                    }
                    v
                }
                Err(_) => json!(format!("{} bytes", s.body.len())),
            }
        };
        // VMEG's `req_id` is a fresh random id per attempt.
        let query: Vec<&str> = s
            .query
            .split('&')
            .map(|p| {
                if p.starts_with("req_id=") {
                    "req_id=[generated]"
                } else {
                    p
                }
            })
            .collect();
        json!({"method": s.method, "path": s.path, "query": query.join("&"), "headers": headers, "body": body})
    }

    let bytes = wav(200);
    let server = Scripted::start(vec![]).await;
    let base = server.base_url.clone();
    server.push([
        Step::ok(json!({"code": 200, "message": "", "data": {
            "uploadUrl": format!("{base}/storage/m-1?X-Sim-Signature=sig"),
            "s3Uri": "s3://bucket/m-1/sample.wav", "materialId": "m-1"}})),
        Step::Json(200, vec![("etag", "\"e\"".into())], json!({})),
        Step::ok(json!({"code": 200, "message": "", "data": {
            "materialId": "m-1", "addressUrl": "https://cdn.example.com/m-1/sample.wav"}})),
        Step::ok(json!({"code": 200, "message": "", "data": {"taskId": "t-1"}})),
    ]);
    let client = Client::builder(Provider::Vmeg)
        .api_key(crate::adapter_support::SECRET_KEY)
        .base_url(&base)
        .allow_private_urls(true)
        .build()
        .unwrap();
    client
        .clone_voice(
            &CloneRequest::from_bytes("sample.wav", bytes.clone())
                .name("n")
                .idempotency_key("key-clone-1"),
        )
        .await
        .unwrap();
    let vmeg: Vec<Value> = server.seen().iter().map(|s| shown(s, &base)).collect();
    assert!(
        server.seen()[1].header("authorization").is_none(),
        "the presigned PUT carries no Authorization"
    );

    let server = Scripted::start(vec![]).await;
    let base = server.base_url.clone();
    server.push([
        Step::ok(json!({"code": 20000, "msg": "ok", "data": {
            "url": format!("{base}/files/sample.wav"), "filename": "sample.wav",
            "size": bytes.len(), "mime_type": "audio/wav"}})),
        Step::ok(json!({"code": 20000, "msg": "ok", "data": {
            "id": "audio_1", "object": "audio", "status": "queued"}})),
    ]);
    let client = Client::builder(Provider::JimmyAi)
        .api_key(crate::adapter_support::SECRET_KEY)
        .base_url(&base)
        .allow_private_urls(true)
        .build()
        .unwrap();
    client
        .clone_voice(&CloneRequest::from_bytes("sample.wav", bytes))
        .await
        .unwrap();
    let jimmy: Vec<Value> = server.seen().iter().map(|s| shown(s, &base)).collect();
    insta::assert_json_snapshot!(json!({"vmeg": vmeg, "jimmyai": jimmy}));
}

/// A material answer that names another file (an instant upload whose `fileHash` is not this
/// recording's MD5: a cache, a server answering with someone else's material) is refused at
/// its step and nothing is cloned: cloning from it would bill a clone of another voice.
/// Before: the clone was submitted from the other file's `addressUrl`. A material answer
/// without a `fileHash` is taken (VMEG's material shape is only partly documented).
#[tokio::test]
async fn a_material_answer_for_another_file_is_refused_and_nothing_is_cloned() {
    use serde_json::json;
    use workspace_tests::scripted::{Scripted, Step};
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("mine.wav");
    std::fs::write(&path, wav(50)).unwrap();
    let material = |hash: Option<&str>| {
        let mut m =
            json!({"materialId": "m-other", "addressUrl": "https://cdn.example.com/other.wav"});
        if let Some(h) = hash {
            m["fileHash"] = json!(h);
        }
        Step::ok(json!({"code": 200, "message": "", "data": {"material": m}}))
    };
    let created = Step::ok(json!({"code": 200, "message": "", "data": {"taskId": "t-1"}}));
    let server = Scripted::start(vec![
        material(Some("00000000000000000000000000000000")),
        material(None),
        created,
    ])
    .await;
    let c = Client::builder(Provider::Vmeg)
        .api_key("key")
        .base_url(server.base_url.as_str())
        .retry(RetryPolicy::none())
        .build()
        .unwrap();
    let e = c
        .clone_voice(&CloneRequest::from_file(&path).name("n"))
        .await
        .unwrap_err();
    assert_eq!(e.kind(), &ErrorKind::InvalidResponse, "{e}");
    assert_eq!(e.step(), Some(UploadStep::RequestUploadUrl), "{e}");
    assert!(e.to_string().contains("another file"), "{e}");
    assert_eq!(
        server.seen().len(),
        1,
        "nothing but the upload request was sent"
    );
    let job = c
        .clone_voice(&CloneRequest::from_file(&path).name("n"))
        .await
        .unwrap();
    assert_eq!(job.id.as_str(), "t-1");
}

/// A server of our own on loopback that answers every request as soon as its head is read,
/// never reading the body: the storage (VMEG's presigned PUT) or the API (JimmyAI's
/// `files/upload`) answering 200 before the recording arrived. Every other request (a create)
/// is answered 500 and its path recorded.
async fn answers_before_the_body(upload_answer: String) -> (String, Arc<Mutex<Vec<String>>>) {
    let (url, others, _) = answers_early(upload_answer, usize::MAX).await;
    (url, others)
}

/// [`answers_before_the_body`] for the first `early` uploads only; each later one is read
/// whole (its `Content-Length`) before the same answer. Also counts the uploads.
async fn answers_early(
    upload_answer: String,
    early: usize,
) -> (
    String,
    Arc<Mutex<Vec<String>>>,
    Arc<std::sync::atomic::AtomicUsize>,
) {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let others = Arc::new(Mutex::new(Vec::new()));
    let uploads = Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let (seen, counted) = (others.clone(), uploads.clone());
    tokio::spawn(async move {
        while let Ok((mut s, _)) = listener.accept().await {
            let (answer, seen, counted) = (upload_answer.clone(), seen.clone(), counted.clone());
            tokio::spawn(async move {
                let mut head = Vec::new();
                let mut b = [0u8; 1];
                while !head.ends_with(b"\r\n\r\n") && s.read(&mut b).await.unwrap_or(0) == 1 {
                    head.push(b[0]);
                }
                let head = String::from_utf8_lossy(&head).into_owned();
                let line = head.lines().next().unwrap_or_default().to_owned();
                let (status, body) = if line.starts_with("PUT ") || line.contains("files/upload") {
                    if counted.fetch_add(1, Ordering::SeqCst) >= early {
                        let len: u64 = head
                            .lines()
                            .find_map(|l| {
                                let (name, value) = l.split_once(':')?;
                                name.eq_ignore_ascii_case("content-length")
                                    .then(|| value.trim().parse().ok())?
                            })
                            .unwrap();
                        let mut body = (&mut s).take(len);
                        tokio::io::copy(&mut body, &mut tokio::io::sink())
                            .await
                            .unwrap();
                    }
                    ("200 OK", answer)
                } else {
                    seen.lock().unwrap().push(line);
                    ("500 Internal Server Error", "{}".to_owned())
                };
                let _ = s
                    .write_all(
                        format!(
                            "HTTP/1.1 {status}\r\nETag: \"e\"\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}",
                            body.len()
                        )
                        .as_bytes(),
                    )
                    .await;
                // Hold the connection, the body unread, then let it go.
                tokio::time::sleep(Duration::from_secs(3)).await;
            });
        }
    });
    (url, others, uploads)
}

/// Review 29-c #3: a JimmyAI `files/upload` answered 200 before the whole recording went up
/// is retried, as VMEG's presigned PUT is (an upload bills nothing; its repeat sends the
/// recording again), and the upload succeeds on the attempt that sent all of it. Before: the
/// 200 ended the retries, and the call failed at once ("before the whole recording was sent").
#[tokio::test]
async fn a_jimmyai_upload_answered_early_is_retried_like_the_vmeg_put() {
    use serde_json::json;
    let bytes = wav(40_000); // 6.4 MB: more than the socket buffers take unread
    let answer = json!({"code": 20000, "msg": "ok", "data": {
        "url": "https://cdn.example.com/sample.wav", "filename": "sample.wav"}})
    .to_string();
    let (api, others, uploads) = answers_early(answer, 1).await;
    let sleeper = Arc::new(voiceclone::RecordingSleeper::new());
    let client = Client::builder(Provider::JimmyAi)
        .api_key("k-early")
        .base_url(&api)
        .allow_private_urls(true)
        .retry(RetryPolicy::default().with_max_attempts(3))
        .sleeper(sleeper.clone())
        .build()
        .unwrap();
    let url = client
        .upload(&AudioSource::Bytes {
            file_name: "sample.wav".into(),
            bytes: bytes.into(),
        })
        .await
        .unwrap();
    assert_eq!(url.as_str(), "https://cdn.example.com/sample.wav");
    assert_eq!(
        uploads.load(Ordering::SeqCst),
        2,
        "one early answer, one retry"
    );
    assert_eq!(sleeper.sleeps().len(), 1, "{:?}", sleeper.sleeps());
    assert!(
        others.lock().unwrap().is_empty(),
        "{:?}",
        others.lock().unwrap()
    );
}

/// Review 26 pass 2 (files) #1: an upload answered 200 before the whole recording was read
/// (a storage host or JimmyAI's `files/upload` answering on the request's head) is no proof
/// the recording arrived: the upload fails at its step and nothing is cloned from it. Before,
/// the client went on to the create while its progress reports stopped short of the total,
/// which the CLI reads, on a signal, as "no clone was submitted": a paid clone reported as
/// none.
#[tokio::test]
async fn an_upload_answered_before_the_whole_recording_was_sent_fails_and_nothing_is_cloned() {
    use serde_json::json;
    use workspace_tests::scripted::{Scripted, Step};
    let bytes = wav(40_000); // 6.4 MB: more than the socket buffers take unread
    let progress = Arc::new(Mutex::new(0u64));

    // VMEG: the API (Scripted) names a storage URL on our server, which answers at once.
    let (storage, others) = answers_before_the_body(String::new()).await;
    let server = Scripted::start(vec![Step::ok(json!({"code": 200, "message": "", "data": {
        "uploadUrl": format!("{storage}/storage/m-1?X-Sim-Signature=sig"),
        "s3Uri": "s3://bucket/m-1/sample.wav", "materialId": "m-1"}}))])
    .await;
    let seen_progress = progress.clone();
    let client = Client::builder(Provider::Vmeg)
        .api_key("k-early")
        .base_url(&server.base_url)
        .allow_private_urls(true)
        .retry(RetryPolicy::none())
        .on_upload_progress(move |p: UploadProgress| *seen_progress.lock().unwrap() = p.sent)
        .build()
        .unwrap();
    let e = client
        .clone_voice(&CloneRequest::from_bytes("sample.wav", bytes.clone()).name("n"))
        .await
        .unwrap_err();
    assert!(
        e.to_string()
            .contains("before the whole recording was sent"),
        "{e}"
    );
    assert_eq!(e.step(), Some(UploadStep::Put), "{e}");
    // A fault of the host's, to try again later, not "the API may have changed".
    assert_eq!(e.kind(), &ErrorKind::Server, "{e}");
    assert!(!e.to_string().contains("API may have changed"), "{e}");
    assert!(*progress.lock().unwrap() < bytes.len() as u64);
    assert_eq!(server.seen().len(), 1, "only the upload URL was asked for");
    assert!(others.lock().unwrap().is_empty());

    // JimmyAI: `files/upload` answered with a URL at once; no clone is submitted with it.
    let answer = json!({"code": 20000, "msg": "ok", "data": {
        "url": "https://cdn.example.com/sample.wav", "filename": "sample.wav"}})
    .to_string();
    let (api, others) = answers_before_the_body(answer).await;
    let client = Client::builder(Provider::JimmyAi)
        .api_key("k-early")
        .base_url(&api)
        .allow_private_urls(true)
        .retry(RetryPolicy::none())
        .build()
        .unwrap();
    let e = client
        .clone_voice(&CloneRequest::from_bytes("sample.wav", bytes))
        .await
        .unwrap_err();
    assert!(
        e.to_string()
            .contains("before the whole recording was sent"),
        "{e}"
    );
    assert_eq!(e.step(), Some(UploadStep::UploadFile), "{e}");
    assert_eq!(e.kind(), &ErrorKind::Server, "{e}");
    assert!(!e.to_string().contains("API may have changed"), "{e}");
    assert!(others.lock().unwrap().is_empty(), "a create was sent");
}

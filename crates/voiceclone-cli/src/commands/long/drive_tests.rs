//! The run against a scripted JimmyAI on loopback, with the client's request timeout made
//! short (the CLI has no flag for it, so these tests build the client themselves): what a
//! slow download does to the parts still in flight.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use axum::extract::State;
use axum::routing::{get, post};
use serde_json::{Value, json};
use voiceclone::{Client, Provider};

use crate::cli::{Cli, Command, SpeakArgs};
use crate::output::{Outcome, Printer};

const KEY: &str = "sk-drive-test-0123456789abcdef";

/// How long part 1's audio takes to download: well past the client's request timeout.
const SLOW_DOWNLOAD: Duration = Duration::from_secs(3);
/// The client's request timeout in these tests (the default is 30 s).
const REQUEST_TIMEOUT: Duration = Duration::from_secs(1);

/// A JimmyAI stand-in: every production task is completed at once. The second create is
/// answered only once part 1's audio is being downloaded, and that download trickles for
/// [`SLOW_DOWNLOAD`]: the second part's answer arrives while the run is busy downloading.
struct Fake {
    base: String,
    creates: AtomicU64,
    downloading: tokio::sync::watch::Sender<bool>,
}

type Shared = State<Arc<Fake>>;

fn envelope(data: Value) -> axum::Json<Value> {
    axum::Json(json!({"code": 20000, "msg": "ok", "data": data}))
}

async fn create(State(f): Shared) -> axum::Json<Value> {
    let n = f.creates.fetch_add(1, Ordering::SeqCst) + 1;
    if n >= 2 {
        // Bounded, so that a run that never downloads does not hang the test.
        let mut rx = f.downloading.subscribe();
        let _ = tokio::time::timeout(Duration::from_secs(20), rx.wait_for(|d| *d)).await;
    }
    envelope(json!({
        "id": format!("audio-{n}"), "object": "audio", "created": 1_700_000_000,
        "model": "soundCloningAudio", "status": "queued", "error": null,
    }))
}

async fn detail(
    State(f): Shared,
    axum::extract::Path(id): axum::extract::Path<String>,
) -> axum::Json<Value> {
    envelope(json!({
        "id": id, "object": "audio", "created": 1_700_000_000,
        "model": "soundCloningAudio", "status": "completed", "error": null,
        "audioUrl": format!("{}/files/{id}.wav", f.base),
    }))
}

async fn file(
    State(f): Shared,
    axum::extract::Path(name): axum::extract::Path<String>,
) -> axum::response::Response {
    let body = if name == "audio-1.wav" {
        let _ = f.downloading.send(true);
        let chunks = 12u32;
        let pause = SLOW_DOWNLOAD / chunks;
        let stream = futures::stream::unfold(0u32, move |k| async move {
            if k == chunks {
                return None;
            }
            tokio::time::sleep(pause).await;
            Some((Ok::<_, std::io::Error>(vec![b'a'; 100]), k + 1))
        });
        axum::body::Body::from_stream(stream)
    } else {
        axum::body::Body::from(vec![b'a'; 1200])
    };
    axum::response::Response::builder()
        .header("content-type", "audio/wav")
        .body(body)
        .unwrap()
}

async fn start_fake() -> Arc<Fake> {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let fake = Arc::new(Fake {
        base,
        creates: AtomicU64::new(0),
        downloading: tokio::sync::watch::channel(false).0,
    });
    let app = axum::Router::new()
        .route("/api/open-api/v1/soundCloning/audios", post(create))
        .route("/api/open-api/v1/audios/{id}", get(detail))
        .route("/files/{name}", get(file))
        .with_state(fake.clone());
    tokio::spawn(async move { axum::serve(listener, app).await });
    fake
}

fn speak_args(file: &str, out: &str) -> SpeakArgs {
    let cli = Cli::try_parse_checked([
        "voiceclone",
        "--provider",
        "jimmyai",
        "--json",
        "speak",
        "--voice",
        "m-1",
        "--text-file",
        file,
        "--out",
        out,
        "--poll-interval",
        "0.01",
    ])
    .unwrap();
    match cli.command {
        Command::Speak(a) => a,
        other => panic!("{other:?}"),
    }
}

/// Two JimmyAI parts (each at most 9,999 characters).
fn two_parts() -> String {
    (0..430)
        .map(|i| format!("Sentence number {i} of the script. "))
        .collect()
}

async fn run_against(fake: &Fake, dir: &Path) -> Outcome {
    let file = dir.join("script.txt");
    std::fs::write(&file, two_parts()).unwrap();
    let out = dir.join("out");
    let args = speak_args(file.to_str().unwrap(), out.to_str().unwrap());
    let client = Client::builder(Provider::JimmyAi)
        .api_key(KEY)
        .base_url(fake.base.as_str())
        .allow_private_urls(true)
        .timeout(REQUEST_TIMEOUT)
        .build()
        .unwrap();
    super::run(
        &client,
        KEY,
        Provider::JimmyAi,
        &args,
        &file,
        &Printer::new(true, true),
        None,
    )
    .await
}

/// Part 2's submit is answered while part 1's audio downloads, which takes longer than the
/// client's request timeout. Its answer is read (the parts in flight are driven during a
/// download): part 2 is accepted with its task and finished, each part paid once. Before,
/// nothing polled part 2 until the download ended, its create then failed as a timeout
/// although its answer had come, and (JimmyAI has no key) it was left `submitting` with its
/// paid task's id lost: `--resubmit-unknown` would have paid for it twice.
#[tokio::test(flavor = "current_thread")]
async fn a_slow_download_does_not_starve_a_submit_in_flight() {
    let fake = start_fake().await;
    let tmp = tempfile::tempdir().unwrap();
    let o = run_against(&fake, tmp.path()).await;
    let j = o.to_json();
    let parts = j["parts"].as_array().unwrap();
    assert_eq!(parts.len(), 2, "{j}");
    assert_eq!(parts[1]["state"], "done", "{j}");
    assert_eq!(parts[1]["job_id"], "jimmyai:speech:audio-2", "{j}");
    assert!(o.failure.is_none(), "{j}");
    assert_eq!(fake.creates.load(Ordering::SeqCst), 2);
}

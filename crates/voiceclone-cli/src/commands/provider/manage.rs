//! `voices` and `upload`: account calls that hold no job.

use std::time::Duration;

use voiceclone::{Client, Provider};

use crate::output::{Outcome, voice_json};
use crate::spinner::UploadBar;

pub(super) async fn voices(client: &Client, p: Provider, timeout: Option<Duration>) -> Outcome {
    let unread = voiceclone::UnreadRecords::new();
    let listing = client.voices_counting_unread(false, &unread);
    match crate::commands::tasks::collect_within(timeout, listing).await {
        Ok(voices) => {
            let mut o = Outcome::default();
            o.set("provider", p.as_str());
            o.set("voices", voices.iter().map(voice_json).collect::<Vec<_>>());
            if voices.is_empty() && unread.is_complete() {
                o.line(format!("no cloned voices on this {p} account"));
            }
            for v in &voices {
                let mut line = v.id.as_str().to_owned();
                if let Some(n) = &v.name {
                    line.push_str(&format!("  {n}"));
                }
                if let Some(u) = &v.preview_url {
                    line.push_str(&format!("  {u}"));
                }
                o.line(line);
            }
            crate::commands::tasks::note_unread(&mut o, &unread, "voice");
            o
        }
        Err(f) => Outcome::failed(f),
    }
}

pub(super) async fn upload(
    client: &Client,
    p: Provider,
    file: &std::path::Path,
    bar: UploadBar,
) -> Outcome {
    let uploaded = client.upload_sample(file).await;
    drop(bar);
    match uploaded {
        Ok(url) => {
            let mut o = Outcome::default();
            o.set("provider", p.as_str());
            o.set("file_url", url.as_str());
            o.line(format!("uploaded: {url}"));
            o
        }
        Err(e) => Outcome::failed(e.into()),
    }
}

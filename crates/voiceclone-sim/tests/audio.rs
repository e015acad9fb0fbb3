//! Result audio plays: a RIFF/WAVE PCM file whose length fits the text.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;
use common::client;

use std::time::Duration;

use serde_json::{Value, json};
use voiceclone_sim::{SimConfig, SimHandle, Simulator};

/// The format fields and the duration of a WAV file, checked chunk by chunk.
#[derive(Debug)]
struct Wav {
    format: u16,
    channels: u16,
    rate: u32,
    bits: u16,
    duration: Duration,
}

fn u16_at(b: &[u8], at: usize) -> u16 {
    u16::from_le_bytes(b[at..at + 2].try_into().unwrap())
}

fn u32_at(b: &[u8], at: usize) -> u32 {
    u32::from_le_bytes(b[at..at + 4].try_into().unwrap())
}

fn parse_wav(b: &[u8]) -> Wav {
    assert_eq!(&b[0..4], b"RIFF");
    assert_eq!(u32_at(b, 4) as usize, b.len() - 8, "RIFF size");
    assert_eq!(&b[8..12], b"WAVE");
    let mut at = 12;
    let mut fmt = None;
    let mut data_len = None;
    while at + 8 <= b.len() {
        let id = &b[at..at + 4];
        let len = u32_at(b, at + 4) as usize;
        let body = at + 8;
        match id {
            b"fmt " => {
                fmt = Some((
                    u16_at(b, body),
                    u16_at(b, body + 2),
                    u32_at(b, body + 4),
                    u32_at(b, body + 8),
                    u16_at(b, body + 12),
                    u16_at(b, body + 14),
                ))
            }
            b"data" => {
                assert!(body + len <= b.len(), "data chunk runs past the end");
                data_len = Some(len);
            }
            _ => {}
        }
        at = body + len + (len & 1);
    }
    let (format, channels, rate, byte_rate, align, bits) = fmt.expect("a fmt chunk");
    assert_eq!(u32::from(align), u32::from(channels) * u32::from(bits) / 8);
    assert_eq!(byte_rate, rate * u32::from(align));
    let data_len = data_len.expect("a data chunk");
    let samples = data_len as f64 / f64::from(align);
    // Not silence: a tone.
    assert!(b.len() > 44 && b[44..].iter().any(|x| *x != 0));
    Wav {
        format,
        channels,
        rate,
        bits,
        duration: Duration::from_secs_f64(samples / f64::from(rate)),
    }
}

async fn download(url: &str) -> (String, String, Vec<u8>) {
    let r = client().get(url).send().await.unwrap();
    assert_eq!(r.status().as_u16(), 200, "{url}");
    let ct = r.headers()["content-type"].to_str().unwrap().to_owned();
    let cd = r.headers()["content-disposition"]
        .to_str()
        .unwrap()
        .to_owned();
    (ct, cd, r.bytes().await.unwrap().to_vec())
}

fn assert_close(got: Duration, want_ms: u64) {
    let diff = got.as_secs_f64() - want_ms as f64 / 1000.0;
    assert!(
        diff.abs() < 0.002,
        "duration {got:?}, expected {want_ms} ms"
    );
}

async fn sim() -> SimHandle {
    Simulator::start_with(SimConfig::default().with_speed(100.0))
        .await
        .unwrap()
}

#[tokio::test]
async fn vmeg_tts_results_are_wav_files_whose_length_fits_the_text() {
    let sim = sim().await;
    let lines = ["Hello there, listener.", "Hi", &"long ".repeat(200)];
    let data: Vec<Value> = lines
        .iter()
        .map(|t| json!({"text": t, "voiceId": "sv_en_us_male_01"}))
        .collect();
    // An MP3 was asked for; WAV is what can be produced faithfully.
    let v: Value = client()
        .post(format!("{}/openapi/v1/task/tts/create", sim.base_url()))
        .bearer_auth(sim.api_key())
        .header("X-Idempotency-Key", "wav")
        .json(&json!({"data": data, "outputFormat": "mp3"}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(v["code"], 200, "{v}");
    let results = v["data"]["results"].as_array().unwrap();
    // 60 ms per character, at least 0.5 s, at most 30 s.
    for (r, want_ms) in results.iter().zip([22 * 60, 500, 30_000]) {
        let uri = r["uri"].as_str().unwrap();
        assert!(uri.ends_with(".wav"), "{uri}");
        assert!(
            (r["duration"].as_f64().unwrap() - want_ms as f64 / 1000.0).abs() < 0.006,
            "{r}"
        );
        let (ct, cd, bytes) = download(uri).await;
        assert_eq!(ct, "audio/wav");
        assert!(cd.contains(".wav\""), "{cd}");
        let wav = parse_wav(&bytes);
        assert_eq!(
            (wav.format, wav.channels, wav.rate, wav.bits),
            (1, 1, 8000, 16),
            "{wav:?}"
        );
        assert_close(wav.duration, want_ms);
    }
}

#[tokio::test]
async fn jimmyai_preview_and_production_audio_are_wav_with_subtitles() {
    let sim = sim().await;
    let http = client();
    let post = |path: &str, body: Value| {
        http.post(format!("{}/api/open-api/v1/{path}", sim.base_url()))
            .bearer_auth(sim.api_key())
            .json(&body)
            .send()
    };
    let wait = |id: String| {
        let http = http.clone();
        let base = sim.base_url();
        let key = sim.api_key().to_owned();
        async move {
            let deadline = std::time::Instant::now() + Duration::from_secs(20);
            while std::time::Instant::now() < deadline {
                let v: Value = http
                    .get(format!("{base}/api/open-api/v1/audios/{id}"))
                    .bearer_auth(&key)
                    .send()
                    .await
                    .unwrap()
                    .json()
                    .await
                    .unwrap();
                if v["data"]["status"] == "completed" {
                    return v;
                }
                tokio::time::sleep(Duration::from_millis(5)).await;
            }
            panic!("task {id} never completed");
        }
    };
    let text = "Ten chars!"; // 10 characters: 600 ms
    let v: Value = post(
        "soundCloning/clones",
        json!({"fileUrl": "https://x.y/a.mp3", "contentText": text}),
    )
    .await
    .unwrap()
    .json()
    .await
    .unwrap();
    let done = wait(v["data"]["id"].as_str().unwrap().to_owned()).await;
    let (ct, _, bytes) = download(done["data"]["audioUrl"].as_str().unwrap()).await;
    assert_eq!(ct, "audio/wav");
    assert_close(parse_wav(&bytes).duration, 600);

    let model = done["data"]["modelId"].as_str().unwrap().to_owned();
    let line = "Twenty-five characters!!!";
    let v: Value = post(
        "soundCloning/audios",
        json!({"modelId": model, "contentText": line, "subtitleEnable": true}),
    )
    .await
    .unwrap()
    .json()
    .await
    .unwrap();
    let done = wait(v["data"]["id"].as_str().unwrap().to_owned()).await;
    let url = done["data"]["audioUrl"].as_str().unwrap();
    assert!(url.ends_with(".wav"), "{url}");
    let (_, _, bytes) = download(url).await;
    assert_close(parse_wav(&bytes).duration, 1500);
    let (ct, _, srt) = download(done["data"]["subtitleFile"].as_str().unwrap()).await;
    assert_eq!(ct, "application/x-subrip");
    let srt = String::from_utf8(srt).unwrap();
    assert!(
        srt.contains("00:00:00,000 --> 00:00:01,500") && srt.contains(line),
        "{srt}"
    );
}

//! Settings: every `SimConfig` value is validated before the simulator starts, and a
//! configuration that passes never makes a request panic.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;
use common::client;

use std::time::Duration;

use proptest::prelude::*;
use proptest::strategy::ValueTree;
use serde_json::{Value, json};
use voiceclone_sim::{ConfigError, FaultConfig, JimmyError, SimConfig, Simulator};

fn refused(cfg: SimConfig) -> ConfigError {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let err = rt
        .block_on(Simulator::start_with(cfg.clone()))
        .expect_err("an out-of-bounds setting was accepted");
    assert_eq!(err.kind(), std::io::ErrorKind::InvalidInput);
    let inner = err
        .get_ref()
        .and_then(|e| e.downcast_ref::<ConfigError>())
        .expect("the inner error is a ConfigError")
        .clone();
    assert_eq!(cfg.validate(), Err(inner.clone()));
    inner
}

fn setting(e: &ConfigError) -> &'static str {
    match e {
        ConfigError::OutOfBounds { setting, .. } | ConfigError::Invalid { setting, .. } => setting,
    }
}

#[test]
fn each_out_of_bounds_setting_is_refused_by_name() {
    let d = SimConfig::default;
    let faults = |f: fn(&mut FaultConfig)| {
        let mut c = FaultConfig::default();
        f(&mut c);
        d().with_faults(c)
    };
    let cases: Vec<(SimConfig, &str)> = vec![
        (d().with_speed(1e-300), "speed"),
        (d().with_speed(f64::NAN), "speed"),
        (d().with_speed(-1.0), "speed"),
        (d().with_speed(0.0), "speed"),
        (d().with_speed(f64::INFINITY), "speed"),
        (d().with_speed(1e7), "speed"),
        (d().with_api_key(""), "api_key"),
        (
            d().with_durations(Duration::MAX, Duration::from_secs(1)),
            "clone_duration",
        ),
        (
            d().with_durations(Duration::from_secs(1), Duration::from_secs(31 * 86_400)),
            "tts_duration",
        ),
        (d().with_task_failure_rate(f64::NAN), "task_failure_rate"),
        (d().with_task_failure_rate(1.5), "task_failure_rate"),
        (d().with_task_failure_rate(-0.5), "task_failure_rate"),
        (
            faults(|f| f.latency = Duration::from_secs_f64(1e10)),
            "faults.latency",
        ),
        (
            faults(|f| f.retry_after = Duration::MAX),
            "faults.retry_after",
        ),
        (faults(|f| f.rate_429 = f64::NAN), "faults.rate_429"),
        (faults(|f| f.rate_500 = 2.0), "faults.rate_500"),
        (
            faults(|f| f.rate_extra_fields = -1.0),
            "faults.rate_extra_fields",
        ),
        (d().with_webhook("not a url", "s"), "webhook.url"),
        (d().with_webhook("ftp://example.com/x", "s"), "webhook.url"),
        (d().with_idempotency_ttl(Duration::MAX), "idempotency_ttl"),
        (
            d().with_webhook_retry_delays(vec![Duration::from_secs(1); 17]),
            "webhook_retry_delays",
        ),
        (
            d().with_webhook_retry_delays(vec![Duration::MAX]),
            "webhook_retry_delays",
        ),
        (
            d().with_jimmy_errors(
                JimmyError::new(1, 42),
                JimmyError::new(2, 200),
                JimmyError::new(3, 200),
                JimmyError::new(4, 200),
            ),
            "jimmy_auth_error",
        ),
    ];
    for (cfg, name) in cases {
        let e = refused(cfg);
        assert_eq!(setting(&e), name, "{e}");
        assert!(e.to_string().contains(name), "{e}");
    }
    for bad in [0, usize::MAX] {
        assert_eq!(
            setting(&refused(d().with_max_task_bytes(bad))),
            "max_task_bytes"
        );
    }
    let mut c = d();
    c.webhook_timeout = Duration::ZERO;
    assert_eq!(setting(&refused(c)), "webhook_timeout");
    let mut c = d();
    c.vmeg_max_body_bytes = usize::MAX;
    assert_eq!(setting(&refused(c)), "vmeg_max_body_bytes");
    let mut c = d();
    c.jimmy_model_validity = Duration::MAX;
    assert_eq!(setting(&refused(c)), "jimmy_model_validity");
    let mut c = d();
    c.vmeg_status_words.failed = " ".into();
    assert_eq!(setting(&refused(c)), "vmeg_status_words.failed");
    // The bounds themselves are accepted.
    assert!(d().with_speed(0.001).validate().is_ok());
    assert!(d().with_speed(1_000_000.0).validate().is_ok());
}

/// API keys that can never authenticate: the Bearer token is read trimmed from a header
/// value, which holds visible ASCII only. Before: accepted, and the simulator answered
/// 401 to every request made with them. Now refused by name; spaces between visible
/// characters still work.
#[test]
fn api_keys_that_can_never_authenticate_are_refused() {
    for key in [
        " sim-key",
        "sim-key ",
        "clé",
        "sim\tkey",
        "sim\nkey",
        "key\u{7f}",
    ] {
        let e = refused(SimConfig::default().with_api_key(key));
        assert_eq!(setting(&e), "api_key", "{key:?}: {e}");
    }
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        let sim = Simulator::start_with(SimConfig::default().with_api_key("a spaced key"))
            .await
            .unwrap();
        let r = client()
            .get(format!("{}/openapi/v1/tasks/list", sim.base_url()))
            .bearer_auth(sim.api_key())
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 200);
    });
}

fn any_f64() -> impl Strategy<Value = f64> {
    prop_oneof![
        proptest::num::f64::ANY,
        Just(f64::NAN),
        Just(1e-300),
        Just(-1.0),
        Just(1e300),
    ]
}

fn any_duration() -> impl Strategy<Value = Duration> {
    prop_oneof![
        (0u64..=u64::MAX, 0u32..1_000_000_000).prop_map(|(s, n)| Duration::new(s, n)),
        (0u64..=400 * 86_400).prop_map(Duration::from_secs),
        Just(Duration::ZERO),
        Just(Duration::MAX),
    ]
}

fn ms(range: std::ops::RangeInclusive<u64>) -> impl Strategy<Value = Duration> {
    range.prop_map(Duration::from_millis)
}

prop_compose! {
    /// Every setting drawn within its bounds, except (when `wild < 11`) one, drawn from
    /// anything at all.
    fn any_config()(
        wild in 0usize..16,
        wild_f64 in any_f64(),
        wild_dur in any_duration(),
        wild_delays in proptest::collection::vec(any_duration(), 0..20),
        wild_usize in any::<usize>(),
        wild_u16 in any::<u16>(),
        speed in 0.001..=1_000_000.0f64,
        clone in ms(0..=30 * 86_400_000),
        tts in ms(0..=5_000),
        fail in 0.0..=1.0f64,
        lat_rate in 0.0..=1.0f64,
        latency in ms(0..=20),
        ttl in ms(0..=365 * 86_400_000),
        validity in ms(0..=365 * 86_400_000),
        timeout in ms(1..=3_600_000),
        delays in proptest::collection::vec(ms(0..=86_400_000), 0..=16),
        body in 0usize..=64 * 1024 * 1024,
        status in 200u16..=599,
        seed in any::<u64>(),
    ) -> SimConfig {
        let faults = FaultConfig {
            rate_unknown_status: 0.5,
            rate_latency: if wild == 0 { wild_f64 } else { lat_rate },
            latency: if wild == 1 { wild_dur } else { latency },
            ..FaultConfig::default()
        };
        let mut c = SimConfig::default()
            .with_speed(if wild == 2 { wild_f64 } else { speed })
            .with_durations(
                if wild == 3 { wild_dur } else { clone },
                if wild == 4 { wild_dur } else { tts },
            )
            .with_task_failure_rate(if wild == 5 { wild_f64 } else { fail })
            .with_faults(faults)
            .with_idempotency_ttl(if wild == 6 { wild_dur } else { ttl })
            .with_webhook_retry_delays(if wild == 7 { wild_delays } else { delays })
            .with_seed(seed)
            .with_jimmy_errors(
                JimmyError::new(20001, if wild == 8 { wild_u16 } else { status }),
                JimmyError::new(20002, 200),
                JimmyError::new(20002, 200),
                JimmyError::new(-1, 200),
            );
        c.jimmy_model_validity = if wild == 9 { wild_dur } else { validity };
        c.webhook_timeout = if wild == 10 { wild_dur } else { timeout };
        c.vmeg_max_body_bytes = if wild == 10 { wild_usize } else { body };
        c
    }
}

async fn exercise(cfg: SimConfig) {
    let sim = Simulator::start_with(cfg).await.unwrap();
    let http = client();
    let base = sim.base_url();
    let post = |path: &str, key: &str, body: Value| {
        http.post(format!("{base}{path}"))
            .bearer_auth(sim.api_key())
            .header("X-Idempotency-Key", key)
            .json(&body)
            .send()
    };
    let r = post(
        "/openapi/v1/task/clone-voice/create-async",
        "k1",
        json!({"refAudio": "https://example.com/a.wav"}),
    )
    .await
    .expect("the create was answered");
    let status = r.status().as_u16();
    let v: Value = r.json().await.unwrap_or(Value::Null);
    if status == 200 {
        let id = v["data"]["taskId"].as_str().unwrap().to_string();
        for _ in 0..2 {
            let r = http
                .get(format!("{base}/openapi/v1/tasks/detail?taskId={id}"))
                .bearer_auth(sim.api_key())
                .send()
                .await
                .expect("detail answered");
            assert_eq!(r.status().as_u16(), 200);
            sim.complete_all_now();
        }
    } else {
        // Only the injected faults answer otherwise.
        assert!(status == 413 || status >= 429, "{status}: {v}");
    }
    // Ages and expiry with the clock pushed to its end.
    sim.advance_clock(Duration::MAX);
    let r = post(
        "/openapi/v1/task/clone-voice/create-async",
        "k1",
        json!({"refAudio": "https://example.com/a.wav"}),
    )
    .await
    .expect("the second create was answered");
    assert!(r.status().as_u16() < 600);
    let r = http
        .post(format!("{base}/api/open-api/v1/soundCloning/audios"))
        .bearer_auth(sim.api_key())
        .json(&json!({"modelId": "mdl_x", "contentText": "hello"}))
        .send()
        .await
        .expect("jimmy answered");
    assert!(r.status().as_u16() < 600);
    sim.shutdown().await;
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]
    /// Any configuration is either refused before the simulator starts or serves
    /// creates, queries and clock jumps without a panic (a panic drops the connection).
    #[test]
    fn any_settings_are_refused_or_served(cfg in any_config()) {
        if cfg.validate().is_err() {
            prop_assert!(refused(cfg).to_string().contains("setting"));
            return Ok(());
        }
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        rt.block_on(exercise(cfg));
    }
}

/// The strategy of the property above yields both kinds of configuration.
#[test]
fn the_settings_property_serves_and_refuses() {
    let mut runner = proptest::test_runner::TestRunner::new(ProptestConfig::with_cases(64));
    let strategy = any_config();
    let (mut ok, mut bad) = (0, 0);
    for _ in 0..200 {
        let cfg = strategy.new_tree(&mut runner).unwrap().current();
        if cfg.validate().is_ok() {
            ok += 1
        } else {
            bad += 1
        }
    }
    assert!(ok >= 50 && bad >= 20, "valid {ok}, refused {bad}");
}

/// A failing test prints its `SimConfig` (or `SimHandle`): the webhook secret is not in it.
#[test]
fn debug_output_never_shows_the_webhook_secret() {
    let cfg = SimConfig {
        webhook: Some(voiceclone_sim::WebhookTarget {
            url: "http://127.0.0.1:9/hook".into(),
            secret: "whsec-do-not-print".into(),
        }),
        ..SimConfig::default()
    };
    let shown = format!("{cfg:?}");
    assert!(shown.contains("127.0.0.1:9/hook"), "{shown}");
    assert!(!shown.contains("whsec-do-not-print"), "{shown}");
}

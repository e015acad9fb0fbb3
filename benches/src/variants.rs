//! The four measured calls, each made three ways over one shared `reqwest::Client`:
//! (a) by hand ([`crate::raw::Raw`]), (b) through the generated clients, (c) through the
//! `voiceclone` adapter. Every benchmark that compares variants calls [`call`].

use crate::raw::Raw;

/// One measured operation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Op {
    /// VMEG `POST task/clone-voice/create-async`.
    VmegCreate,
    /// VMEG `GET tasks/detail`.
    VmegQuery,
    /// JimmyAI `POST soundCloning/clones`.
    JimmyCreate,
    /// JimmyAI `GET audios/{id}`.
    JimmyQuery,
}

/// Every operation, in report order.
pub const OPS: [Op; 4] = [
    Op::VmegCreate,
    Op::VmegQuery,
    Op::JimmyCreate,
    Op::JimmyQuery,
];

impl Op {
    /// Human name, for tables.
    pub fn name(self) -> &'static str {
        match self {
            Op::VmegCreate => "vmeg create clone",
            Op::VmegQuery => "vmeg query task",
            Op::JimmyCreate => "jimmyai create clone",
            Op::JimmyQuery => "jimmyai query task",
        }
    }

    /// Short name, for command lines.
    pub fn short(self) -> &'static str {
        match self {
            Op::VmegCreate => "vmeg-create",
            Op::VmegQuery => "vmeg-query",
            Op::JimmyCreate => "jimmy-create",
            Op::JimmyQuery => "jimmy-query",
        }
    }

    /// Parses [`Op::short`].
    pub fn parse(s: &str) -> Option<Op> {
        OPS.into_iter().find(|o| o.short() == s)
    }
}

/// How a call is made.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Variant {
    /// (a) hand-written reqwest + serde_json.
    Raw,
    /// (b) the generated client.
    Generated,
    /// (c) the voiceclone adapter.
    Adapter,
}

impl Variant {
    /// `a`, `b` or `c`.
    pub fn letter(self) -> &'static str {
        match self {
            Variant::Raw => "a",
            Variant::Generated => "b",
            Variant::Adapter => "c",
        }
    }

    /// Parses [`Variant::letter`].
    pub fn parse(s: &str) -> Option<Variant> {
        match s {
            "a" => Some(Variant::Raw),
            "b" => Some(Variant::Generated),
            "c" => Some(Variant::Adapter),
            _ => None,
        }
    }
}

/// Every client, sharing one connection pool.
#[derive(Debug, Clone)]
pub struct Clients {
    /// (a)
    pub raw: Raw,
    /// (b), VMEG
    pub vmeg: vmeg_client::Client,
    /// (b), JimmyAI
    pub jimmy: jimmyai_client::Client,
    /// (c), VMEG
    pub adapter_vmeg: voiceclone::Client,
    /// (c), JimmyAI
    pub adapter_jimmy: voiceclone::Client,
}

fn err(e: impl std::fmt::Display) -> String {
    e.to_string()
}

impl Clients {
    /// Builds every client over one `reqwest::Client` against `base`. `max_in_flight` is the
    /// adapter's bound (set it at least to the benchmark's concurrency).
    pub fn new(base: &str, key: &str, max_in_flight: usize) -> Result<Self, String> {
        vmeg_client::install_crypto_provider();
        let http = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .map_err(err)?;
        let adapter = |p| {
            voiceclone::Client::builder(p)
                .api_key(key)
                .base_url(base)
                .http_client(http.clone())
                .max_in_flight(max_in_flight)
                .build()
                .map_err(err)
        };
        Ok(Self {
            raw: Raw::new(http.clone(), base, key),
            vmeg: vmeg_client::Client::new_with_client(
                base,
                http.clone(),
                vmeg_client::ClientConfig::bearer(key).map_err(err)?,
            ),
            jimmy: jimmyai_client::Client::new_with_client(
                base,
                http.clone(),
                jimmyai_client::ClientConfig::bearer(key).map_err(err)?,
            ),
            adapter_vmeg: adapter(voiceclone::Provider::Vmeg)?,
            adapter_jimmy: adapter(voiceclone::Provider::JimmyAi)?,
        })
    }
}

/// Makes one call of `op` the `variant` way; every variant checks the envelope code.
pub async fn call(c: &Clients, op: Op, variant: Variant) -> Result<(), String> {
    use jimmyai_client::types as jt;
    use vmeg_client::types as vt;
    match (op, variant) {
        (Op::VmegCreate, Variant::Raw) => c.raw.vmeg_clone().await.map(drop).map_err(|e| e.0),
        (Op::VmegCreate, Variant::Generated) => {
            let key = uuid::Uuid::new_v4().to_string();
            let mut extra = serde_json::Map::new();
            extra.insert(
                "voiceclone".into(),
                serde_json::json!({"idempotencyKey": key}),
            );
            let body = vt::CloneVoiceCreateAsyncRequest {
                voice_name: Some("bench voice".into()),
                provider: Some(vt::CloneEngine::V1),
                ref_audio: Some("https://example.com/sample.mp3".into()),
                sample_language: Some("en-US".into()),
                sample_text: None,
                extra_data: Some(vt::ExtraData(extra)),
            };
            let key = vt::CloneVoiceCreateAsyncXIdempotencyKey::try_from(key).map_err(err)?;
            let env = c
                .vmeg
                .clone_voice_create_async(None, &key, &body)
                .await
                .map_err(err)?
                .into_inner();
            check(env.code.value() == Some(200), "vmeg code")
        }
        (Op::VmegCreate, Variant::Adapter) => {
            let req = voiceclone::CloneRequest::new("https://example.com/sample.mp3")
                .name("bench voice")
                .language("en-US")
                .vmeg_engine(voiceclone::VmegEngine::V1);
            c.adapter_vmeg
                .clone_voice(&req)
                .await
                .map(drop)
                .map_err(err)
        }
        (Op::VmegQuery, Variant::Raw) => {
            c.raw.vmeg_detail("task-1").await.map(drop).map_err(|e| e.0)
        }
        (Op::VmegQuery, Variant::Generated) => {
            let env = c
                .vmeg
                .tasks_detail(None, "task-1")
                .await
                .map_err(err)?
                .into_inner();
            check(env.code.value() == Some(200), "vmeg code")
        }
        (Op::VmegQuery, Variant::Adapter) => c
            .adapter_vmeg
            .clone_status(&voiceclone::JobId::new("task-1"))
            .await
            .map(drop)
            .map_err(err),
        (Op::JimmyCreate, Variant::Raw) => c.raw.jimmy_clone().await.map(drop).map_err(|e| e.0),
        (Op::JimmyCreate, Variant::Generated) => {
            let body = jt::CreateCloneRequest {
                file_url: "https://example.com/sample.mp3".into(),
                content_text: Some(
                    jt::CreateCloneRequestContentText::try_from(
                        "A short preview sentence.".to_string(),
                    )
                    .map_err(err)?,
                ),
                sound_version: Some(jt::SoundVersion::V1),
                language: Some(jt::Language("English".into())),
            };
            let env = c.jimmy.create_clone(&body).await.map_err(err)?.into_inner();
            check(env.code.value() == Some(20000), "jimmyai code")
        }
        (Op::JimmyCreate, Variant::Adapter) => {
            let req = voiceclone::CloneRequest::new("https://example.com/sample.mp3")
                .sample_text("A short preview sentence.")
                .language("English")
                .sound_version(voiceclone::SoundVersion::V1);
            c.adapter_jimmy
                .clone_voice(&req)
                .await
                .map(drop)
                .map_err(err)
        }
        (Op::JimmyQuery, Variant::Raw) => {
            c.raw.jimmy_task("audio_1").await.map(drop).map_err(|e| e.0)
        }
        (Op::JimmyQuery, Variant::Generated) => {
            let env = c
                .jimmy
                .get_audio_task("audio_1")
                .await
                .map_err(err)?
                .into_inner();
            check(env.code.value() == Some(20000), "jimmyai code")
        }
        (Op::JimmyQuery, Variant::Adapter) => c
            .adapter_jimmy
            .clone_status(&voiceclone::JobId::new("audio_1"))
            .await
            .map(drop)
            .map_err(err),
    }
}

fn check(ok: bool, what: &str) -> Result<(), String> {
    if ok {
        Ok(())
    } else {
        Err(format!("unexpected {what}"))
    }
}

/// An environment variable parsed, or `default`.
pub fn env_or<T: std::str::FromStr>(name: &str, default: T) -> T {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

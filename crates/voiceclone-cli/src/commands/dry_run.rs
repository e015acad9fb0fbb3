//! `--dry-run` of `clone` and `speak`: the request checked by the adapter's rules, what would
//! be sent printed (method, URL, the headers this tool sets, the JSON body; never the key:
//! none is needed, and one in `--api-key-file` is read only to be redacted from what is
//! printed) and its billable units by the vendor's published rule
//! (`voiceclone::estimate`). Nothing is sent.
//!
//! `--json`: `{"dry_run":true,"provider":...,"requests":[{method,url,headers,body}],
//! "billable":{...},"exit_code":0}`.

use serde_json::Value;
use voiceclone::Provider;
use voiceclone::estimate::{DryRun, Estimate, Fee, Unit};

use crate::cli::{Cli, Command, PollArgs};
use crate::context::{Target, provider};
use crate::output::{Failure, Outcome, Printer};

/// The dry run of `clone` or `speak` when `--dry-run` was given; `None` otherwise.
/// `secret_env` is `--webhook-secret-env`'s variable, read (and registered as a secret) as
/// the real run reads it: unset or empty is exit 2 here too. `--webhook-listen`'s address is
/// bound only by the real run: a dry run opens no socket.
pub async fn run(cli: &Cli, printer: &mut Printer, secret_env: Option<&str>) -> Option<Outcome> {
    let dry = match &cli.command {
        Command::Clone(a) => a.dry_run,
        Command::Speak(a) => a.dry_run,
        _ => false,
    };
    if !dry {
        return None;
    }
    if let Some(var) = secret_env
        && let Err(f) = crate::receiver::secret_from_env(var, "--webhook-secret-env", printer)
    {
        return Some(Outcome::failed(f));
    }
    Some(match plan(cli).await {
        Ok((p, base, run)) => outcome(p, &base, &run),
        Err(f) => Outcome::failed(f),
    })
}

/// The real run's checks, in the real run's words, then the requests; and where they would
/// go. A dry run that passes what the real run refuses would be a promise broken.
async fn plan(cli: &Cli) -> Result<(Provider, String, DryRun), Failure> {
    let p = provider(cli)?;
    let base = base_url(cli, p)?;
    match &cli.command {
        Command::Clone(args) => {
            wait_options(p, args.wait, args.sync, &args.poll)?;
        }
        // `--text-file` always waits: only the options' values are checked, as its real
        // run does.
        Command::Speak(args) if args.text_file.is_some() => {
            super::provider::policy(p, &args.poll)?;
        }
        Command::Speak(args) => {
            wait_options(p, args.wait, args.sync, &args.poll)?;
        }
        _ => {}
    }
    let run = match &cli.command {
        Command::Clone(args) => {
            let req = super::provider::clone_request(p, args)?;
            // A local recording measured as the real run measures it (size, and a JimmyAI
            // WAV's length), with the client's default upload limit, which the CLI keeps.
            DryRun::clone_voice_measured(p, &req, cli.allow_private_urls, None).await?
        }
        // A long text: every part's request, as `speak --text-file` would send them.
        Command::Speak(args) if args.text_file.is_some() => {
            let file = args
                .text_file
                .as_deref()
                .unwrap_or(std::path::Path::new(""));
            let plan = super::long::plan(p, args, file)?;
            DryRun::speech(p, &plan.requests())?
        }
        Command::Speak(args) => {
            let req = super::provider::speech_request(args)?;
            DryRun::speech(p, std::slice::from_ref(&req))?
        }
        _ => return Err(Failure::usage("--dry-run applies to clone and speak")),
    };
    Ok((p, base, run))
}

/// `--timeout` and `--poll-interval`: only with `--wait`, not with `--sync`, and within
/// their bounds.
fn wait_options(p: Provider, wait: bool, sync: bool, poll: &PollArgs) -> Result<(), Failure> {
    if let Some(f) = super::provider::needs_wait(wait, sync, poll) {
        return Err(f);
    }
    super::provider::policy(p, poll).map(drop)
}

/// Where requests would go (`--base-url`, else the provider's variable, else the vendor's),
/// checked by the client builder the real run uses, with a stand-in key (the real one is
/// not read). The builder refuses a URL with credentials, a query or a fragment; what is
/// printed is what it kept, so a credential cannot reach the output either way.
fn base_url(cli: &Cli, p: Provider) -> Result<String, Failure> {
    let target = Target {
        provider: p,
        api_key: "dry-run-stand-in-key".to_owned(),
        base_url: crate::context::base_url(cli, p)?,
        allow_private_urls: cli.allow_private_urls,
    };
    let client = super::provider::build_client(&target, None)?;
    let mut url = client.base_url().clone();
    // Already refused by the builder; cleared again so that a change there cannot leak.
    let _ = url.set_username("");
    let _ = url.set_password(None);
    url.set_query(None);
    url.set_fragment(None);
    Ok(url.as_str().trim_end_matches('/').to_owned())
}

fn outcome(p: Provider, base: &str, run: &DryRun) -> Outcome {
    let mut o = Outcome::default();
    o.set("dry_run", true);
    o.set("provider", p.as_str());
    let requests: Vec<Value> = run
        .requests
        .iter()
        .map(|r| {
            let mut v = serde_json::to_value(r).unwrap_or(Value::Null);
            if let Value::Object(m) = &mut v {
                m.insert("url".into(), format!("{base}{}", r.path).into());
            }
            v
        })
        .collect();
    o.set("requests", requests);
    o.set(
        "billable",
        serde_json::to_value(&run.billable).unwrap_or(Value::Null),
    );
    o.line(format!("dry run: nothing was sent to {p}"));
    for r in &run.requests {
        o.line(format!("{} {base}{}", r.method, r.path));
        for (k, v) in &r.headers {
            o.line(format!("  {k}: {v}"));
        }
        o.line(format!("  {}", r.body));
        if let Some(n) = r.note {
            o.line(format!("  ({n})"));
        }
    }
    billable_lines(&mut o, &run.billable);
    o
}

fn billable_lines(o: &mut Outcome, e: &Estimate) {
    o.line(format!(
        "billable ({} task{}):",
        e.tasks,
        if e.tasks == 1 { "" } else { "s" }
    ));
    for f in &e.fees {
        o.line(format!("  {}: {} ({})", f.name, amount(f), f.rule));
    }
    if let Some(c) = e.total_credits {
        let about = if e.approximate() { "about " } else { "" };
        o.line(format!("  total: {about}{} credits", trim_float(c)));
    }
    for n in &e.notes {
        o.line(format!("  note: {n}"));
    }
}

fn amount(f: &Fee) -> String {
    let about = if f.approximate { "about " } else { "" };
    match (f.unit, f.quantity) {
        (Unit::Credits, Some(q)) => {
            let chars = f
                .characters
                .map(|c| format!(" for {c} characters"))
                .unwrap_or_default();
            format!("{about}{} credits{chars}", trim_float(q))
        }
        (Unit::Per10kCharacters, Some(q)) => format!(
            "{} characters = {about}{} x 10,000 characters, price not published",
            f.characters.unwrap_or_default(),
            trim_float(q)
        ),
        (Unit::Per10kCharacters, None) => "characters unknown, price not published".to_owned(),
        (Unit::Task, Some(q)) => format!("{} task fee(s), price not published", trim_float(q)),
        (_, _) => "not known before sending".to_owned(),
    }
}

/// A quantity without float noise (`0.03`, `10`, `1.5`).
fn trim_float(x: f64) -> String {
    let s = format!("{x:.6}");
    s.trim_end_matches('0').trim_end_matches('.').to_owned()
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn quantities_print_plainly() {
        assert_eq!(trim_float(10.0), "10");
        assert_eq!(trim_float(0.03), "0.03");
        assert_eq!(trim_float(1.5), "1.5");
        assert_eq!(trim_float(0.0004), "0.0004");
    }

    /// JimmyAI's rounding of a part of 10,000 characters is not published: its block count
    /// reads "about".
    #[test]
    fn a_jimmyai_block_count_reads_about() {
        let e = Estimate::speech(
            Provider::JimmyAi,
            &[voiceclone::SpeechRequest::new("m-1", "hello")],
        )
        .unwrap();
        assert_eq!(
            amount(&e.fees[0]),
            "5 characters = about 0.0005 x 10,000 characters, price not published"
        );
    }
}

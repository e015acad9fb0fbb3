//! `--dry-run` of `clone` and `speak`: the request checked by the adapter's rules, what would
//! be sent printed (method, URL, the headers this tool sets, the JSON body; never the key,
//! which is not even read) and its billable units by the vendor's published rule
//! (`voiceclone::estimate`). Nothing is sent.
//!
//! `--json`: `{"dry_run":true,"provider":...,"requests":[{method,url,headers,body}],
//! "billable":{...},"exit_code":0}`.

use serde_json::Value;
use voiceclone::Provider;
use voiceclone::estimate::{DryRun, Estimate, Fee, Unit};

use crate::cli::{Cli, Command};
use crate::context::{base_url_var, provider};
use crate::output::{Failure, Outcome, Printer};

/// The dry run of `clone` or `speak` when `--dry-run` was given; `None` otherwise.
pub fn run(cli: &Cli, printer: &Printer) -> Option<Outcome> {
    let dry = match &cli.command {
        Command::Clone(a) => a.dry_run,
        Command::Speak(a) => a.dry_run,
        _ => false,
    };
    if !dry {
        return None;
    }
    let _ = printer;
    Some(match plan(cli) {
        Ok((p, run)) => outcome(p, &base_url(cli, p), &run),
        Err(f) => Outcome::failed(f),
    })
}

fn plan(cli: &Cli) -> Result<(Provider, DryRun), Failure> {
    let p = provider(cli)?;
    let run = match &cli.command {
        Command::Clone(args) => {
            let req = super::provider::clone_request(p, args)?;
            DryRun::clone_voice(p, &req, cli.allow_private_urls)?
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
    Ok((p, run))
}

/// Where requests would go: `--base-url`, else the provider's variable, else the vendor's.
fn base_url(cli: &Cli, p: Provider) -> String {
    cli.base_url
        .clone()
        .or_else(|| std::env::var(base_url_var(p)).ok())
        .map(|s| s.trim().to_owned())
        .filter(|s| !s.is_empty())
        .unwrap_or_else(|| p.default_base_url().to_owned())
        .trim_end_matches('/')
        .to_owned()
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
            "{} characters = {} x 10,000 characters, price not published",
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
    use super::*;

    #[test]
    fn quantities_print_plainly() {
        assert_eq!(trim_float(10.0), "10");
        assert_eq!(trim_float(0.03), "0.03");
        assert_eq!(trim_float(1.5), "1.5");
        assert_eq!(trim_float(0.0004), "0.0004");
    }
}

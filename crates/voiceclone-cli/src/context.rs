//! Resolving the global options into what a provider command needs: the provider, the API
//! key (from the environment or `--api-key-file`, never a flag) and the base URL.

use std::path::Path;

use voiceclone::Provider;

use crate::cli::{Cli, PROVIDER_VAR};
use crate::output::{Failure, Printer};

/// The environment variable holding a provider's API key.
pub fn key_var(p: Provider) -> &'static str {
    p.api_key_var()
}

/// The environment variable holding a provider's base URL.
pub fn base_url_var(p: Provider) -> &'static str {
    p.base_url_var()
}

/// Everything a provider command needs. The key is never formatted: this type has a
/// redacting `Debug`.
pub struct Target {
    /// The provider.
    pub provider: Provider,
    /// The API key (raw; only handed to the adapter, which wraps it in `ApiKey`).
    pub api_key: String,
    /// The base URL, when not the vendor's default.
    pub base_url: Option<String>,
    /// `--allow-private-urls`: accept audio URLs on non-public addresses.
    pub allow_private_urls: bool,
}

impl std::fmt::Debug for Target {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Target")
            .field("provider", &self.provider)
            .field("api_key", &"[redacted]")
            .field(
                "base_url",
                &self.base_url.as_deref().map(client_glue::printable_url),
            )
            .field("allow_private_urls", &self.allow_private_urls)
            .finish()
    }
}

/// The provider from `--provider` / `VOICECLONE_PROVIDER`, or a usage failure.
pub fn provider(cli: &Cli) -> Result<Provider, Failure> {
    if cli.provider.is_none() && cli.provider_env_invalid {
        // The value is not shown: a variable set by mistake may hold anything, a key too.
        return Err(Failure::usage(format!(
            "{PROVIDER_VAR} is not a provider: set it to vmeg or jimmyai, or pass --provider vmeg|jimmyai"
        )));
    }
    cli.provider.map(Provider::from).ok_or_else(|| {
        Failure::usage(
            "this command needs a provider: pass --provider vmeg|jimmyai or set VOICECLONE_PROVIDER",
        )
    })
}

/// The key in `--api-key-file` when it is given, read once (a pipe such as
/// `<(pass show vmeg)` reads only once) and registered with the printer: read before
/// anything quotes an argument, a dry run included, so that this key pasted as one
/// (`--name`, `--text`, `--out`) is redacted as the environment's keys are. Hand it to
/// [`target`]. A file that cannot be read is a usage failure (exit 2).
pub fn key_from_file(cli: &Cli, printer: &mut Printer) -> Result<Option<String>, Failure> {
    // First: a key given to --api-key-file by mistake is often the environment's own, and
    // the key file's errors may quote what was given.
    redact_api_keys_from_env(printer);
    let Some(path) = &cli.api_key_file else {
        return Ok(None);
    };
    let key = read_key_file(path, printer)?;
    printer.add_secret(&key);
    Ok(Some(key))
}

/// Resolves provider, key and base URL; registers the key with the printer for redaction.
/// `from_file` is what [`key_from_file`] read (with `--api-key-file`, the file is read here
/// when it was not).
pub fn target(
    cli: &Cli,
    printer: &mut Printer,
    from_file: Option<String>,
) -> Result<Target, Failure> {
    // First: a key given to --api-key-file by mistake is often the environment's own, and
    // the key file's errors may quote what was given.
    redact_api_keys_from_env(printer);
    let provider = provider(cli)?;
    let api_key = match (&cli.api_key_file, from_file) {
        (Some(_), Some(key)) => key,
        (Some(path), None) => read_key_file(path, printer)?,
        (None, _) => {
            let var = key_var(provider);
            match std::env::var(var) {
                Ok(v) if !v.trim().is_empty() => v.trim().to_owned(),
                Ok(_) => {
                    return Err(Failure::usage(format!(
                        "{var} is empty: set it to the {provider} API key, or pass --api-key-file PATH"
                    )));
                }
                Err(std::env::VarError::NotUnicode(_)) => {
                    return Err(Failure::usage(format!(
                        "{var} is set but is not valid UTF-8: set it to the {provider} API key, or pass --api-key-file PATH"
                    )));
                }
                Err(std::env::VarError::NotPresent) => {
                    return Err(Failure::usage(format!(
                        "no API key: set {var}, or pass --api-key-file PATH (there is no --api-key flag, so the key stays out of shell history)"
                    )));
                }
            }
        }
    };
    printer.add_secret(&api_key);
    let base_url = base_url(cli, provider)?;
    Ok(Target {
        provider,
        api_key,
        base_url,
        allow_private_urls: cli.allow_private_urls,
    })
}

/// `--base-url`, else the provider's variable; `None` for the vendor's own (neither given).
///
/// An empty or blank `--base-url`, or a variable set to nothing (or to what is not UTF-8),
/// is a usage failure: it is a URL that was meant and went missing (`--base-url "$SIM_URL"`
/// with `SIM_URL` unset), and reading it as "not given" sent the requests, billed, to the
/// vendor's production API.
pub fn base_url(cli: &Cli, provider: Provider) -> Result<Option<String>, Failure> {
    if let Some(url) = &cli.base_url {
        let url = url.trim();
        if url.is_empty() {
            return Err(Failure::usage(
                "--base-url is empty: give the API base URL, or leave the flag out for the vendor's own API; nothing was sent",
            )
            .with("field", "base_url"));
        }
        return Ok(Some(url.to_owned()));
    }
    let var = base_url_var(provider);
    match std::env::var(var) {
        Ok(url) if url.trim().is_empty() => Err(Failure::usage(format!(
            "{var} is set but empty: set it to the API base URL, or unset it for the vendor's own API; nothing was sent"
        ))
        .with("field", "base_url")),
        Ok(url) => Ok(Some(url.trim().to_owned())),
        Err(std::env::VarError::NotUnicode(_)) => Err(Failure::usage(format!(
            "{var} is set but is not valid UTF-8: set it to the API base URL, or unset it for the vendor's own API; nothing was sent"
        ))
        .with("field", "base_url")),
        Err(std::env::VarError::NotPresent) => Ok(None),
    }
}

/// Test seam, in debug builds only: the `--api-key-file` patience divided by this whole
/// number, so that a test of a silent FIFO writer ends in about a second, not 2 minutes.
const KEY_FILE_PATIENCE_DIVISOR_ENV: &str = "VOICECLONE_TEST_KEY_FILE_PATIENCE_DIVISOR";

/// How long an `--api-key-file` read waits: [`crate::bounded_read::KEY_FILE_PATIENCE`],
/// divided by the [`KEY_FILE_PATIENCE_DIVISOR_ENV`] seam's `value` in debug builds (the
/// tests') only. The seam can only shorten the wait (a divisor under 1, or not a number, is
/// none), so whatever it is set to, the read still ends; in a release build it is ignored.
fn key_file_patience(debug: bool, value: Option<&str>) -> crate::bounded_read::Patience {
    let whole = crate::bounded_read::KEY_FILE_PATIENCE;
    let divisor = value
        .filter(|_| debug)
        .and_then(|v| v.trim().parse::<u32>().ok())
        .filter(|d| *d > 1);
    match divisor {
        Some(d) => crate::bounded_read::Patience {
            writer: whole.writer.checked_div(d).unwrap_or(whole.writer),
            whole: whole.whole.checked_div(d).unwrap_or(whole.whole),
        },
        None => whole,
    }
}

/// The key in the file at `path`. A regular file that other local users may read (a read bit
/// for group or others) gets one warning on stderr (with `--json` and `--quiet` too: it is
/// about who else has the key), not a refusal: the key still works, and a pipe
/// (`<(pass show vmeg)`) has no such mode.
fn read_key_file(path: &Path, printer: &Printer) -> Result<String, Failure> {
    // Never waits for ever: a FIFO with no writer, or a writer that never ends, is refused
    // after a while (`KEY_FILE_PATIENCE`).
    let patience = key_file_patience(
        cfg!(debug_assertions),
        std::env::var(KEY_FILE_PATIENCE_DIVISOR_ENV).ok().as_deref(),
    );
    let (raw, shared) = crate::bounded_read::read_text_within_shared(
        path,
        crate::bounded_read::MAX_KEY_FILE_BYTES,
        patience,
    )
    .map_err(|e| {
        // A name that is no file may be the key itself, given by mistake: it is shown only
        // when something exists there. Every error kind counts, not only "not found": a
        // key longer than a file name may be is "name too long", one with a `/` in it "not
        // a directory", and the key is not known to the printer yet.
        let what = if std::fs::symlink_metadata(path).is_ok() {
            format!(
                "cannot read the API key file {} (--api-key-file)",
                path.display()
            )
        } else {
            "cannot read the API key file (--api-key-file names no file; the name is not shown, since it may be the key itself)".to_owned()
        };
        Failure::io(&what, &e)
    })?;
    if let Some(shared) = shared {
        let shown = path.display().to_string();
        // `chmod 600` only to the owner: a secret a container runtime mounts (root's, 0444 or
        // 0644, often read-only) cannot take it, and as root it would lock out the service user.
        let remedy = if shared.owned_by_caller {
            format!("chmod 600 {}", crate::output::shell_word(&shown))
        } else {
            format!(
                "it is owned by user id {}, not this user: its owner should restrict it",
                shared.owner
            )
        };
        crate::output::stderr_line(&printer.safe(&format!(
            "warning: the API key file {shown} is readable by group/others; {remedy}"
        )));
    }
    // Notepad starts a UTF-8 file with a byte order mark, which `trim` keeps.
    let key = raw.trim_start_matches('\u{feff}').trim();
    if key.is_empty() {
        return Err(Failure::usage(format!(
            "the API key file {} is empty",
            path.display()
        )));
    }
    Ok(key.to_owned())
}

/// Registers both providers' API keys from the environment (`VMEG_API_KEY`,
/// `JIMMYAI_API_KEY`) with the printer. For the commands that use no key but print what
/// others sent: a signed webhook delivery may echo a key in its message (a vendor quoting
/// the key of a failed call), and the webhook secret is all those commands register
/// otherwise.
pub fn redact_api_keys_from_env(printer: &mut Printer) {
    for provider in [voiceclone::Provider::Vmeg, voiceclone::Provider::JimmyAi] {
        if let Some(key) = std::env::var_os(key_var(provider)) {
            printer.add_secret(&key.to_string_lossy());
        }
    }
}

/// [`redact_api_keys_from_env`], and the key in `--api-key-file` when it is given: a user who
/// keeps the key in a file (as README advises) passes the global flag to every command, and
/// a delivery quoting that key was printed whole by the commands that use no key. The file
/// is read as for a call (a file that cannot be read is a usage failure, exit 2).
pub fn redact_api_keys(cli: &Cli, printer: &mut Printer) -> Result<(), Failure> {
    key_from_file(cli, printer).map(drop)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `--api-key-file` waits the published patience (10 s for a writer, 120 s for the key):
    /// in a release build whatever the seam says, and in a debug build without it or with a
    /// value that would not shorten it. The seam only ever shortens it. Before: nothing
    /// checked what `read_key_file` passes, and a patience of `Duration::MAX` there passed.
    #[test]
    fn the_key_file_is_read_with_the_published_patience() {
        use std::time::Duration;
        let published = |p: crate::bounded_read::Patience| {
            p.writer == Duration::from_secs(10) && p.whole == Duration::from_secs(120)
        };
        assert!(published(key_file_patience(false, None)));
        assert!(published(key_file_patience(false, Some("100"))));
        for value in [None, Some("0"), Some("1"), Some("x"), Some("-5"), Some("")] {
            assert!(published(key_file_patience(true, value)), "{value:?}");
        }
        let cut = key_file_patience(true, Some(" 100 "));
        assert_eq!(cut.writer, Duration::from_millis(100));
        assert_eq!(cut.whole, Duration::from_millis(1200));
        let most = key_file_patience(true, Some(&u32::MAX.to_string()));
        assert!(most.whole < Duration::from_secs(1), "{most:?}");
    }

    /// A base URL's credentials and query never show in a target's `Debug`, nor the key.
    #[test]
    fn a_targets_debug_shows_no_secret_of_the_base_url() {
        let target = Target {
            provider: Provider::Vmeg,
            api_key: "sk-key-never-shown".to_owned(),
            base_url: Some(
                "https://user:pa55-w0rd@api.example.com/v1?token=t0k3n-value#t0k3n".to_owned(),
            ),
            allow_private_urls: false,
        };
        let shown = format!("{target:?}");
        for secret in ["sk-key-never-shown", "user", "pa55-w0rd", "t0k3n"] {
            assert!(!shown.contains(secret), "{secret}: {shown}");
        }
        assert!(
            shown.contains("https://api.example.com/v1?[redacted]"),
            "{shown}"
        );
        let target = Target {
            base_url: Some("user:pa55-w0rd@api.example.com".to_owned()),
            ..target
        };
        assert!(!format!("{target:?}").contains("pa55-w0rd"));
    }
}

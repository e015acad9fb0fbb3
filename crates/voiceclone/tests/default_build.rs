//! The default build stays cheap (issue 17): clones from a local recording are the `upload`
//! feature, and the crates only they need are not in a default build's dependency tree.
//!
//! Asks `cargo tree` (offline: it resolves from `Cargo.lock` and the local registry cache,
//! builds nothing) for the normal dependencies of `voiceclone` as a dependent sees them.

#![allow(clippy::expect_used, clippy::panic)]

use std::collections::BTreeSet;
use std::process::Command;

/// Crates that only local-recording uploads need: MD5 (VMEG materials), temporary files (a
/// reader spooled to disk) and reqwest's multipart bodies (JimmyAI `files/upload`).
const UPLOAD_ONLY: &[&str] = &[
    "md-5",
    "tempfile",
    "rustix",
    "linux-raw-sys",
    "mime",
    "mime_guess",
    "unicase",
];

/// The package names in `voiceclone`'s normal dependency tree with `args` (feature flags).
fn tree(args: &[&str]) -> BTreeSet<String> {
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".to_owned());
    let manifest = concat!(env!("CARGO_MANIFEST_DIR"), "/Cargo.toml");
    let out = Command::new(cargo)
        .args(["tree", "--offline", "--manifest-path", manifest])
        .args(["-p", "voiceclone", "-e", "normal", "--prefix", "none"])
        .args(["--format", "{p}"])
        .args(args)
        .output()
        .expect("cargo runs");
    assert!(
        out.status.success(),
        "cargo tree failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter_map(|l| l.split_whitespace().next())
        .map(str::to_owned)
        .collect()
}

#[test]
fn the_default_build_leaves_out_what_only_uploads_need() {
    let default = tree(&[]);
    assert!(
        default.contains("reqwest"),
        "the tree was read: {default:?}"
    );
    let pulled: Vec<&str> = UPLOAD_ONLY
        .iter()
        .copied()
        .filter(|c| default.contains(*c))
        .collect();
    assert!(
        pulled.is_empty(),
        "the default build of voiceclone pulls {pulled:?}, which only the `upload` feature \
         should bring (see `cargo tree -p voiceclone -e normal -i <crate>`)"
    );
}

#[test]
fn the_upload_feature_brings_them() {
    // The check above looks at the right names: with the feature they are there.
    let with = tree(&["--features", "upload"]);
    for c in ["md-5", "tempfile", "mime_guess"] {
        assert!(with.contains(c), "{c} missing with `upload`: {with:?}");
    }
}

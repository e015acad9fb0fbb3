//! The default build stays cheap (issue 17): local recordings, webhooks, long texts, axum and
//! Redis are features, and the crates only they need are not in a default build's tree.
//!
//! Asks `cargo tree` (offline: it resolves from `Cargo.lock` and the local registry cache,
//! builds nothing) for the normal dependencies of `voiceclone` as a dependent sees them.

#![allow(clippy::expect_used, clippy::panic)]

use std::collections::BTreeSet;
use std::process::Command;

/// Each optional feature and crates that only it brings. Local recordings (`upload`): MD5
/// (VMEG materials), temporary files (a reader spooled to disk), reqwest's multipart bodies
/// (JimmyAI `files/upload`). Webhooks (`webhook`): hex signatures (HMAC and SHA-256 are
/// ring's, already there for TLS). Downloads (`download`): the temporary file renamed into
/// place. Long texts: grapheme clusters.
const FEATURE_ONLY: &[(&str, &[&str])] = &[
    (
        "upload",
        &[
            "md-5",
            "digest",
            "tempfile",
            "fastrand",
            "rustix",
            "linux-raw-sys",
            "mime",
            "mime_guess",
            "unicase",
            "hex",
        ],
    ),
    ("download", &["tempfile"]),
    ("webhook", &["hex"]),
    // HTTP dates: hyper's server writes `Date` (the library reads no HTTP date).
    ("axum", &["axum", "hex", "httpdate"]),
    ("redis", &["redis", "hex"]),
    ("long-text", &["unicode-segmentation", "hex"]),
];

/// Never in the tree, whatever the features: replaced by ring (HMAC, SHA-256, random ids),
/// std (jitter, hex ids), humantime (dates; `jiff` and `time` cost far more to build), and
/// kept only as dev-dependencies where tests need an independent check.
const NEVER: &[&str] = &[
    "jiff",
    "hmac",
    "sha2",
    "aho-corasick",
    "time",
    "futures",
    "uuid",
];

/// The package names in `voiceclone`'s normal dependency tree with `args` (feature flags),
/// for the platform `scripts/adoption-cost.sh` measures on (so the answer is the same
/// whatever machine runs the test).
fn tree(args: &[&str]) -> BTreeSet<String> {
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".to_owned());
    let manifest = concat!(env!("CARGO_MANIFEST_DIR"), "/Cargo.toml");
    let out = Command::new(cargo)
        .args(["tree", "--offline", "--manifest-path", manifest])
        .args(["-p", "voiceclone", "-e", "normal", "--prefix", "none"])
        .args(["--format", "{p}", "--target", "x86_64-unknown-linux-gnu"])
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
fn the_default_build_leaves_out_what_only_optional_features_need() {
    let default = tree(&[]);
    assert!(
        default.contains("reqwest"),
        "the tree was read: {default:?}"
    );
    let pulled: BTreeSet<&str> = FEATURE_ONLY
        .iter()
        .flat_map(|(_, crates)| crates.iter().copied())
        .chain(NEVER.iter().copied())
        .filter(|c| default.contains(*c))
        .collect();
    assert!(
        pulled.is_empty(),
        "the default build of voiceclone pulls {pulled:?}, which only optional features \
         should bring (see `cargo tree -p voiceclone -e normal -i <crate>`)"
    );
}

/// Every crate a default build brings, by name: a new one fails here, before it reaches
/// users. Issue 17 allows at most 12 crates beyond the hand-written baseline program
/// (`scripts/adoption-cost.sh` lists them; BENCHMARKS.md 10); voiceclone is at that limit,
/// so a crate added here needs one taken out, or the measurement redone and the change
/// argued. Review with `cargo insta review` (names only: version bumps do not show).
#[test]
fn the_default_tree_is_the_reviewed_one() {
    let default = tree(&[]);
    let names: Vec<&str> = default.iter().map(String::as_str).collect();
    insta::assert_snapshot!(names.join("\n"));
}

#[test]
fn each_feature_brings_its_own_crates_and_no_replaced_one() {
    // The check above looks at the right names: with each feature they are there.
    for (feature, crates) in FEATURE_ONLY {
        let with = tree(&["--features", feature]);
        for c in *crates {
            assert!(with.contains(*c), "{c} missing with `{feature}`: {with:?}");
        }
    }
    // README: `full` is all of the optional parts (but `fake`, which brings no crate).
    let full = tree(&["--features", "full"]);
    for (feature, crates) in FEATURE_ONLY {
        for c in *crates {
            assert!(full.contains(*c), "{c} (`{feature}`) missing with `full`");
        }
    }
    let all = tree(&["--all-features"]);
    let replaced: Vec<&str> = NEVER.iter().copied().filter(|c| all.contains(*c)).collect();
    assert!(replaced.is_empty(), "--all-features pulls {replaced:?}");
}

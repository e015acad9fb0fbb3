#!/usr/bin/env bash
# Build cost on this machine (not part of `cargo bench`; run it when dependencies change).
#   1. the TLS crypto provider, isolated: a scratch crate with reqwest as this workspace
#      configures it (rustls + ring) and with reqwest's default (rustls + aws-lc-rs);
#   2. a clean release build of `voiceclone` with its dependencies;
#   3. an incremental rebuild after touching one adapter file;
#   4. the size of the release `voiceclone` binary.
# Each clean build uses its own target directory, so nothing is shared with ./target.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)
scratch=$(mktemp -d)
trap 'rm -rf "$scratch"' EXIT
export CARGO_TERM_COLOR=never

secs() { local s=$SECONDS; if "$@" >/dev/null 2>&1; then echo $((SECONDS - s)); else echo "FAILED after $((SECONDS - s))"; fi; }

tls_crate() { # name, reqwest dependency line, extra dependency line
  mkdir -p "$scratch/$1/src"
  cat >"$scratch/$1/Cargo.toml" <<TOML
[package]
name = "$1"
version = "0.0.0"
edition = "2021"
[dependencies]
$2
$3
[workspace]
TOML
  echo 'fn main() {}' >"$scratch/$1/src/main.rs"
  cp "$root/Cargo.lock" "$scratch/$1/Cargo.lock" 2>/dev/null || true
}
tls_crate tls-ring \
  'reqwest = { version = "0.13.5", default-features = false, features = ["json", "query", "stream", "http2", "rustls-no-provider"] }' \
  'rustls = { version = "0.23", default-features = false, features = ["ring", "std", "tls12", "logging"] }'
tls_crate tls-awslc \
  'reqwest = { version = "0.13.5", default-features = false, features = ["json", "query", "stream", "http2", "rustls"] }' ''

echo "machine: $(nproc) cores, $(uname -m), $(rustc --version)"
echo "date: $(date -u +%Y-%m-%d)"
for name in tls-ring tls-awslc; do
  (cd "$scratch/$name" && cargo fetch -q >/dev/null 2>&1 || true)
  echo "clean release build, reqwest with $name: $(cd "$scratch/$name" && secs cargo build --release --offline) s"
done

target="$scratch/target-voiceclone"
echo "clean release build of voiceclone + dependencies: $(CARGO_TARGET_DIR=$target secs cargo build --release -p voiceclone) s"
touch crates/voiceclone/src/client.rs
echo "incremental release rebuild after touching client.rs: $(CARGO_TARGET_DIR=$target secs cargo build --release -p voiceclone) s"
echo "release build of the voiceclone binary (on top): $(CARGO_TARGET_DIR=$target secs cargo build --release -p voiceclone-cli) s"
echo "release voiceclone binary size: $(stat -c %s "$target/release/voiceclone") bytes"

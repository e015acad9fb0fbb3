#!/usr/bin/env bash
# What voiceclone adds to a user's build (issue 17): one small program making one clone
# call through voiceclone (default features), against a baseline program making the same
# call with the stack a careful user would pick by hand: reqwest 0.13 without default
# features, with `json` + `rustls-no-provider`, rustls with `ring`, serde, serde_json and
# tokio with `rt` + `macros`.
#
# For each program, RUNS (default 3) clean release builds, each in a fresh target directory:
# CPU time (user + sys) and wall time of `cargo build --release`; unique crates in
# `cargo tree -e normal`, and which crates the difference is (with what pulls each in); the
# stripped binary's size. Both programs resolve with this
# workspace's Cargo.lock, so shared dependencies have the same versions. Prints each run,
# the spread (min-max), and the ratios of the medians, voiceclone / baseline.
#   scripts/adoption-cost.sh [RUNS]            VOICECLONE_FEATURES="a b" to add features
#   BREAKDOWN=1 scripts/adoption-cost.sh [RUNS]  then one more build of each program with a
#     RUSTC_WRAPPER that times every rustc, and a table of the crates whose compile CPU
#     differs by more than 0.1 s: where voiceclone's extra goes.
# Not part of `cargo test` or `.ci/run`: it takes minutes and wants a quiet machine.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)
runs=${1:-3}
scratch=$(mktemp -d)
trap 'rm -rf "$scratch"' EXIT
export CARGO_TERM_COLOR=never
unset CARGO_TARGET_DIR CARGO_BUILD_TARGET_DIR RUSTFLAGS

program() { # name, dependency lines, main.rs
  mkdir -p "$scratch/$1/src"
  cat >"$scratch/$1/Cargo.toml" <<TOML
[package]
name = "$1"
version = "0.0.0"
edition = "2024"
[dependencies]
$2
[profile.release]
strip = true
[workspace]
TOML
  printf '%s\n' "$3" >"$scratch/$1/src/main.rs"
  cp "$root/Cargo.lock" "$scratch/$1/Cargo.lock"
}

program baseline '
reqwest = { version = "0.13", default-features = false, features = ["json", "rustls-no-provider"] }
rustls = { version = "0.23", default-features = false, features = ["ring", "std", "tls12"] }
serde = { version = "1", features = ["derive"] }
serde_json = "1"
tokio = { version = "1", features = ["rt", "macros"] }' '
// One VMEG clone call by hand: the request, the envelope, the task id.
#[derive(serde::Serialize)]
#[serde(rename_all = "camelCase")]
struct CloneBody { ref_audio: String, voice_name: String, language: String }
#[derive(serde::Deserialize)]
struct Envelope { code: i64, message: Option<String>, data: Option<serde_json::Value> }

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let _ = rustls::crypto::ring::default_provider().install_default();
    let base = std::env::var("VMEG_BASE_URL").unwrap_or_else(|_| "https://api.vmeg.ai/openapi/v1".into());
    let key = std::env::var("VMEG_API_KEY")?;
    let body = CloneBody { ref_audio: "https://cdn.example.com/a.wav".into(), voice_name: "n".into(), language: "en-US".into() };
    let answer: Envelope = reqwest::Client::builder().build()?
        .post(format!("{base}/voice-clone/create-async"))
        .bearer_auth(key)
        .header("X-Idempotency-Key", "00000000-0000-4000-8000-000000000000")
        .json(&body).send().await?.json().await?;
    if answer.code != 200 { return Err(answer.message.unwrap_or_default().into()); }
    println!("{:?}", answer.data);
    Ok(())
}'

features=${VOICECLONE_FEATURES:-}
program voiceclone-user "
voiceclone = { path = \"$root/crates/voiceclone\"$( [ -n "$features" ] && printf ', features = [%s]' "$(printf '"%s",' $features | sed 's/,$//')" ) }
tokio = { version = \"1\", features = [\"rt\", \"macros\"] }" '
use voiceclone::{Client, CloneRequest, Provider};

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), voiceclone::Error> {
    let client = Client::from_env(Provider::Vmeg)?;
    let job = client
        .clone_voice(&CloneRequest::new("https://cdn.example.com/a.wav").name("n").language("en-US"))
        .await?;
    println!("{}", job.id);
    Ok(())
}'

echo "machine: $(nproc) cores, $(uname -m), $(rustc --version)"
echo "date: $(date -u +%Y-%m-%dT%H:%MZ), voiceclone at $(git -C "$root" rev-parse --short HEAD)$(git -C "$root" diff --quiet || echo '+dirty')${features:+, features: $features}"
for p in baseline voiceclone-user; do
  (cd "$scratch/$p" && cargo fetch -q)
done

declare -A cpu wall size crates
measure() { # program, run
  local dir="$scratch/$1" target="$scratch/target-$1-$2" t
  TIMEFORMAT='%R %U %S'
  t=$( { time (cd "$dir" && CARGO_TARGET_DIR="$target" cargo build --release -q --offline >/dev/null 2>"$scratch/err") ; } 2>&1 ) || {
    cat "$scratch/err" >&2; exit 1; }
  read -r real user sys <<<"$t"
  cpu[$1]+="$(awk -v u="$user" -v s="$sys" 'BEGIN{print u+s}') "
  wall[$1]+="$real "
  size[$1]=$(stat -c %s "$target/release/$1")
  rm -rf "$target"
}
for p in baseline voiceclone-user; do
  (cd "$scratch/$p" && cargo tree -e normal --prefix none --offline) | sed 's/ (\*)//; s/ (.*)$//' | sort -u >"$scratch/crates-$p"
  crates[$p]=$(wc -l <"$scratch/crates-$p")
done
# Alternate the programs so both see the same machine.
for run in $(seq 1 "$runs"); do
  for p in baseline voiceclone-user; do
    measure "$p" "$run"
    echo "run $run $p: cpu $(echo ${cpu[$p]} | awk '{print $NF}') s, wall $(echo ${wall[$p]} | awk '{print $NF}') s"
  done
done

median() { tr ' ' '\n' | grep -v '^$' | sort -g | awk '{a[NR]=$1} END {print (NR%2 ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2)}'; }
spread() { tr ' ' '\n' | grep -v '^$' | sort -g | awk 'NR==1{min=$1} {max=$1} END {printf "%s-%s", min, max}'; }
printf '\n| | baseline | voiceclone | ratio / difference | target |\n| --- | --- | --- | --- | --- |\n'
bc_cpu=$(echo "${cpu[baseline]}" | median); vc_cpu=$(echo "${cpu[voiceclone-user]}" | median)
bc_wall=$(echo "${wall[baseline]}" | median); vc_wall=$(echo "${wall[voiceclone-user]}" | median)
printf '| build CPU s (user+sys), median (spread) | %s (%s) | %s (%s) | %.2fx | <= 1.15x |\n' \
  "$bc_cpu" "$(echo "${cpu[baseline]}" | spread)" "$vc_cpu" "$(echo "${cpu[voiceclone-user]}" | spread)" \
  "$(awk -v a="$vc_cpu" -v b="$bc_cpu" 'BEGIN{print a/b}')"
# Each run builds the two programs back to back, so the ratio within a run sees the same
# machine; on a noisy machine the median of those ratios moves less than a ratio of medians.
run_ratios=$(paste -d' ' <(echo "${cpu[voiceclone-user]}" | tr ' ' '\n' | grep -v '^$') \
  <(echo "${cpu[baseline]}" | tr ' ' '\n' | grep -v '^$') | awk '{printf "%.3f ", $1/$2}')
printf '| build CPU, ratio within each run: median (runs) | - | - | %.2fx (%s) | <= 1.15x |\n' \
  "$(echo "$run_ratios" | median)" "$(echo "$run_ratios" | sed 's/ $//')"
printf '| build wall s, median (spread) | %s (%s) | %s (%s) | %.2fx | - |\n' \
  "$bc_wall" "$(echo "${wall[baseline]}" | spread)" "$vc_wall" "$(echo "${wall[voiceclone-user]}" | spread)" \
  "$(awk -v a="$vc_wall" -v b="$bc_wall" 'BEGIN{print a/b}')"
printf '| unique crates (cargo tree -e normal) | %s | %s | +%s | <= +12 |\n' \
  "${crates[baseline]}" "${crates[voiceclone-user]}" "$((crates[voiceclone-user] - crates[baseline]))"
printf '| stripped release binary, bytes | %s | %s | %.2fx | <= 1.15x |\n' \
  "${size[baseline]}" "${size[voiceclone-user]}" "$(awk -v a="${size[voiceclone-user]}" -v b="${size[baseline]}" 'BEGIN{print a/b}')"

# Which crates the difference is, each with the crates that depend on it in the voiceclone
# program (`cargo tree -i`), so a change in the count can be traced to its cause.
printf '\ncrates only in the voiceclone program, and what pulls each in\n\n'
comm -13 "$scratch/crates-baseline" "$scratch/crates-voiceclone-user" | { grep -v '^voiceclone-user ' || true; } |
  while read -r name version; do
    by=$(cd "$scratch/voiceclone-user" &&
      cargo tree -e normal -i "$name@${version#v}" --depth 1 --prefix none --offline 2>/dev/null |
      tail -n +2 | cut -d' ' -f1 | sort -u | paste -sd, - | sed 's/,/, /g')
    printf -- '- %s %s (from %s)\n' "$name" "$version" "${by:-the program}"
  done
only_baseline=$(comm -23 "$scratch/crates-baseline" "$scratch/crates-voiceclone-user" |
  { grep -v '^baseline ' || true; } | paste -sd, - | sed 's/,/, /g')
[ -z "$only_baseline" ] || printf '\ncrates only in the baseline: %s\n' "$only_baseline"

[ -n "${BREAKDOWN:-}" ] || exit 0
# Each rustc's CPU (user + sys) by crate name, written beside its diagnostics, not into them.
cat >"$scratch/time-rustc" <<'SH'
#!/usr/bin/env bash
name=unknown prev=
for a in "$@"; do [ "$prev" = --crate-name ] && name=$a; prev=$a; done
TIMEFORMAT="$name %U %S"
{ time "$@" 2>&3; } 3>&2 2>>"$RUSTC_TIMES"
SH
chmod +x "$scratch/time-rustc"
for p in baseline voiceclone-user; do
  (cd "$scratch/$p" && RUSTC_TIMES="$scratch/times-$p" RUSTC_WRAPPER="$scratch/time-rustc" \
    CARGO_TARGET_DIR="$scratch/target-breakdown-$p" cargo build --release -q --offline >/dev/null)
done
printf '\nrustc CPU by crate, s (one build each; crates differing by more than 0.1 s)\n\n'
printf '| crate | baseline | voiceclone | difference |\n| --- | --- | --- | --- |\n'
awk '
  FNR == 1 { side = (FILENAME ~ /times-baseline$/) ? "b" : "v" }
  NF == 3 { t[$1, side] += $2 + $3; seen[$1] = 1; total[side] += $2 + $3 }
  END {
    for (c in seen) {
      d = t[c, "v"] - t[c, "b"]
      if (d > 0.1 || d < -0.1) printf "| %s | %.2f | %.2f | %+.2f |\n", c, t[c, "b"], t[c, "v"], d
    }
    printf "| (all rustc) | %.2f | %.2f | %+.2f |\n", total["b"], total["v"], total["v"] - total["b"]
  }' "$scratch/times-baseline" "$scratch/times-voiceclone-user" | sort -t'|' -k5 -g -r

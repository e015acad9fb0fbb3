#!/usr/bin/env bash
# Instructions per call under callgrind: (a) hand-written reqwest vs (c) the voiceclone
# adapter, for the four calls, then where the adapter's extra instructions go.
#   scripts/callgrind.sh [N1 N2]     (defaults 100 600)
# Runs the `calls` bench (which runs itself under valgrind for N1 and N2 calls of each
# variant: instructions/call = (Ir(N2) - Ir(N1)) / (N2 - N1), start-up cancels out), keeps
# the callgrind.out files in target/callgrind/, and prints per-function (c) - (a)
# differences (self and inclusive) for each operation with scripts/callgrind-diff.py.
set -euo pipefail
cd "$(dirname "$0")/.."
n1=${1:-100}
n2=${2:-600}
out=$(pwd)/target/callgrind
rm -rf "$out" && mkdir -p "$out"
BENCH_N1=$n1 BENCH_N2=$n2 BENCH_CALLGRIND_DIR=$out cargo bench -q -p voiceclone-benches --bench calls
for op in vmeg-create vmeg-query jimmy-create jimmy-query; do
  files=("$out/callgrind.a.$op.$n1.0.out" "$out/callgrind.a.$op.$n2.0.out" "$out/callgrind.c.$op.$n1.0.out" "$out/callgrind.c.$op.$n2.0.out")
  echo
  echo "== $op: self instructions per call, top differences"
  python3 scripts/callgrind-diff.py "$n1" "$n2" "${files[@]}" --top 20
  echo
  echo "== $op: inclusive, adapter-side functions"
  python3 scripts/callgrind-diff.py "$n1" "$n2" "${files[@]}" --inclusive --top 400 \
    | grep -E '^ *[-0-9]+ +[0-9]+ +[0-9]+  (voiceclone::|<voiceclone|vmeg_client|jimmyai_client)' | head -25
done

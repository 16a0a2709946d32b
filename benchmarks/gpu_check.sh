#!/usr/bin/env bash
# What a resolution needs from the GPU machine, in one call (device time is scarce):
#   bash benchmarks/gpu_check.sh bench suite sanitize ncu tests   (logs and results under $OUT)
set -uo pipefail
OUT=${OUT:-/tmp/gpu_check}
mkdir -p "$OUT"
export PYTHONPATH=$PWD/src PYTHONUNBUFFERED=1
for step in "$@"; do
  start=$SECONDS
  case $step in
    bench)     # the prompt's case against every implementation
      timeout 100 make bench ARGS="--json $OUT/bench_seed.json" 2>"$OUT/bench_seed.err" | tee "$OUT/bench_seed.txt" ;;
    suite)     # every layout, ours against copy, torch and the answer file
      timeout 150 make bench ARGS="--suite --only ours,torch,answer,CuPy --json $OUT/bench.json --plot $OUT/bench.png" 2>"$OUT/bench.err" | tee "$OUT/bench.txt" ;;
    sanitize)
      timeout 60 compute-sanitizer --tool memcheck --print-limit 20 python3 benchmarks/sanitize.py > "$OUT/memcheck.log" 2>&1; tail -12 "$OUT/memcheck.log" ;;
    ncu)
      timeout 60 python3 -m triton_cumprod.kernelbench --ncu > "$OUT/ncu.json" 2>&1; tail -40 "$OUT/ncu.json" ;;
    tests)
      timeout ${TEST_TIMEOUT:-240} make test ARGS="-p no:cacheprovider -rfE ${TEST_ARGS:-}" > "$OUT/tests.log" 2>&1; tail -30 "$OUT/tests.log" ;;
  esac
  echo "== $step: $((SECONDS - start)) s"
done

#!/usr/bin/env bash
# Everything a resolution needs from the GPU machine, in one call (device time is scarce):
#   bash benchmarks/gpu_check.sh tests|sanitize|bench|ncu ...   (logs and results under $OUT)
set -uo pipefail
OUT=${OUT:-/tmp/gpu_check}
mkdir -p "$OUT"
export PYTHONPATH=$PWD/src PYTHONUNBUFFERED=1
for step in "$@"; do
  case $step in
    tests)
      start=$SECONDS
      make test ARGS="-p no:cacheprovider" 2>&1 | tee "$OUT/tests.log" | tail -25
      echo "GPU test suite: $((SECONDS - start)) s" ;;
    sanitize)
      compute-sanitizer --tool memcheck --print-limit 20 python3 benchmarks/sanitize.py 2>&1 | tee "$OUT/memcheck.log" | tail -14 ;;
    bench)
      make bench ARGS="--suite --json $OUT/bench.json --plot $OUT/bench.png" 2>"$OUT/bench.err" | tee "$OUT/bench.txt" ;;
    ncu)
      python3 -m triton_cumprod.kernelbench --ncu 2>&1 | tee "$OUT/ncu.json" | tail -30 ;;
  esac
done

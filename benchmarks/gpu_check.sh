#!/usr/bin/env bash
# What a resolution needs from the GPU machine, in one call (device time is scarce):
#   bash benchmarks/gpu_check.sh tests suite backward odd random before kernelbench host sanitize ncu ab
# (logs and results under $OUT)
# Each step has its own time limit, so one that hangs cannot take the others' time.
set -uo pipefail
OUT=${OUT:-/tmp/gpu_check}
mkdir -p "$OUT"
export PYTHONPATH=$PWD/src PYTHONUNBUFFERED=1
for step in "$@"; do
  start=$SECONDS
  case $step in
    tests)     # the whole suite, large shapes included (about 100 s with 6 workers)
      timeout ${TEST_TIMEOUT:-240} python3 -m pytest -q -n 6 -p no:cacheprovider -rfE ${TEST_ARGS:-} tests > "$OUT/tests.log" 2>&1
      grep -E "^(FAILED|ERROR)|passed|failed" "$OUT/tests.log" | tail -25 ;;
    bench)     # the prompt's case against every implementation
      timeout 100 python3 -m triton_cumprod.bench --json "$OUT/bench_seed.json" 2>"$OUT/bench_seed.err" | tee "$OUT/bench_seed.txt" ;;
    suite)     # every layout against every implementation (about 70 s; SUITE_ONLY=ours,torch for fewer)
      timeout 300 python3 -m triton_cumprod.bench --suite ${SUITE_ONLY:+--only $SUITE_ONLY} --json "$OUT/bench.json" --plot "$OUT/bench.png" 2>"$OUT/bench.err" | tee "$OUT/bench.txt" ;;
    backward)  # the gradient's suite, ratio to two copies
      timeout 120 python3 -m triton_cumprod.bench --backward --suite --json "$OUT/backward.json" 2>"$OUT/backward.err" | tee "$OUT/backward.txt" ;;
    host)      # host microseconds per call (tiny shapes), exclusive and reverse on the prompt's shape
      timeout 150 python3 benchmarks/sweep.py --host --only options 2>&1 | tee "$OUT/host.txt" ;;
    ab)        # benchmarks/ab.py's AB_CASES (a key of its CASES or GRADIENT_CASES) on this src and on
               # HEAD_SRC (an earlier commit's src, made as .base is below; untracked, so the device tool
               # copies it), alternately, twice
      for i in 1 2; do
        timeout 120 python3 benchmarks/ab.py ${AB_CASES:-split} new
        PYTHONPATH=$PWD/${HEAD_SRC:-.head}/src timeout 120 python3 benchmarks/ab.py ${AB_CASES:-split} old
      done 2>&1 | tee "$OUT/ab.txt" ;;
    sweep)     # tile settings of the cases still short of their targets
      timeout 200 python3 benchmarks/sweep.py --only ${SWEEP:-mid,lookback} 2>&1 | tee "$OUT/sweep.txt" ;;
    sanitize)  # memcheck on one case per strategy (forward and backward), racecheck on the single pass
      timeout 150 compute-sanitizer --tool memcheck --print-limit 20 python3 benchmarks/sanitize.py > "$OUT/memcheck.log" 2>&1; tail -20 "$OUT/memcheck.log"
      timeout 90 compute-sanitizer --tool racecheck python3 -c "import torch; from triton_cumprod import cumprod; x = torch.rand(1000003, device='cuda', requires_grad=True); y = cumprod(x, 0); cumprod(x.detach(), 0, exclusive=True, reverse=True); cumprod(torch.rand(300007, 4, device='cuda'), 0); torch.autograd.grad(y, x, torch.rand_like(y)); torch.cuda.synchronize()" > "$OUT/racecheck.log" 2>&1; tail -2 "$OUT/racecheck.log" ;;
    odd)       # sizes that are not multiples of 16, forward and gradient, ours and torch
      timeout 120 python3 -m triton_cumprod.bench --suite odd --only ours,torch --json "$OUT/odd.json" 2>"$OUT/odd.err" | tee "$OUT/odd.txt"
      timeout 90 python3 -m triton_cumprod.bench --suite odd --backward --json "$OUT/odd_backward.json" 2>>"$OUT/odd.err" | tee "$OUT/odd_backward.txt" ;;
    random)    # layouts drawn at random (seed 0): 200 forward, 100 gradients, ours and torch
      timeout 200 python3 -m triton_cumprod.bench --sweep 200 --seed 0 --json "$OUT/random.json" --plot "$OUT/random.png" 2>"$OUT/random.err" > "$OUT/random.txt"; tail -4 "$OUT/random.txt"
      timeout 300 python3 -m triton_cumprod.bench --sweep 100 --seed 0 --backward --json "$OUT/random_backward.json" 2>>"$OUT/random.err" > "$OUT/random_backward.txt"; tail -4 "$OUT/random_backward.txt" ;;
    before)    # the standard suite, ours only, on the code of BASE (an earlier commit's src, made by
               # `mkdir -p .base && git archive 574aa90 src | tar -x -C .base`; .gitignore keeps it out, so the
               # device tool must carry it)
      PYTHONPATH=$PWD/${BASE:-.base}/src timeout 100 python3 src/triton_cumprod/bench.py --suite --only ours --json "$OUT/before.json" 2>"$OUT/before.err" | grep -E "^\S|ours" | paste - - | awk '{print $1, $2, $3, $(NF-3)}' ;;
    kernelbench)  # the answer through KernelBench's own checker and evaluation (KB: its checkout;
                  # WHEELS: a folder of the wheels its imports need where the machine lacks them)
      site=/tmp/kernelbench-site
      [ -d "${WHEELS:-.whl}" ] && python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade --target $site "${WHEELS:-.whl}"/*.whl
      PYTHONPATH=$PYTHONPATH:$site timeout 150 python3 benchmarks/kernelbench_pipeline.py --kernelbench "${KB:-.kb}" 2>&1 | tee "$OUT/kernelbench.txt" | grep -E "stand-ins|validate|eval_kernel|Error" ;;
    ncu)
      timeout 60 python3 -m triton_cumprod.kernelbench --ncu > "$OUT/ncu.json" 2>&1; tail -40 "$OUT/ncu.json" ;;
  esac
  echo "== $step: $((SECONDS - start)) s"
done

"""Benchmark cumprod against a device copy and the implementations a user would pick instead.

    python -m triton_cumprod.bench                       # the prompt's case: fp32 32768 x 32768, dim 1
    python -m triton_cumprod.bench --suite --json r.json --plot r.png
    python -m triton_cumprod.bench --shape 16,16777216 --dim 1 --dtype bfloat16
    python -m triton_cumprod.bench --backward --suite   # the gradient: ratio to two copies
    python -m triton_cumprod.bench --suite odd          # sizes that are not multiples of 16
    python -m triton_cumprod.bench --sweep 200 --seed 0 [--backward] [--json r.json --plot r.png]

Every figure is a ratio to x.clone() on the same tensor in the same run (1.00 = copy speed), timed
with triton.testing.do_bench (median). Without a GPU it says so and runs one small case under
TRITON_INTERPRET=1, for ours and torch only.
"""
import argparse
import json
import math
import os
import platform
import random
import sys
import time
from pathlib import Path
from typing import NamedTuple

import torch

from triton_cumprod.forward import default_dtype

# (name, shape, dim, dtype, input): "rand" is the prompt's torch.rand; "near1" keeps long products
# from underflowing, so the error column means something.
SEED_CASE = ("seed fp32", (32768, 32768), 1, "float32", "rand")
SUITE = [
    SEED_CASE,
    ("bf16", (32768, 32768), 1, "bfloat16", "near1"),
    ("fp16", (32768, 32768), 1, "float16", "near1"),
    ("fp64", (16384, 32768), 1, "float64", "near1"),
    ("int32 -> int64", (16384, 32768), 1, "int32", "near1"),
    ("dim 0", (32768, 32768), 0, "float32", "near1"),
    ("transposed", (32768, 32768), 1, "float32", "transposed"),
    ("short rows", (4194304, 64), 1, "float32", "near1"),
    ("3-D dim 1", (64, 4096, 1024), 1, "float32", "near1"),
    ("16 rows", (16, 16777216), 1, "float32", "near1"),
    ("1-D", (268435456,), 0, "float32", "near1"),
    ("bf16 1-D", (268435456,), 0, "bfloat16", "near1"),
    ("1-D odd", (1000003,), 0, "float32", "near1"),
    ("narrow dim 0", (16777216, 4), 0, "float32", "near1"),
    ("tiny", (8, 128), 1, "float32", "near1"),
]
BACKWARD_SUITE = [
    ("backward", (32768, 32768), 1, "float32", "near1"),
    ("backward, zero every 100", (32768, 32768), 1, "float32", "zeros100"),
    ("backward dim 0", (32768, 32768), 0, "float32", "near1"),
    ("backward 1-D", (268435456,), 0, "float32", "near1"),
]
# Neighbours of the suite's shapes whose sizes are not multiples of 16: a layout class runs at one
# speed whatever its sizes (the forward's, then the gradient's).
ODD_SUITE = [
    SEED_CASE,
    ("one column less", (32768, 32767), 1, "float32", "rand"),
    ("1-D", (268435456,), 0, "float32", "near1"),
    ("1-D, one less", (268435455,), 0, "float32", "near1"),
    ("1-D odd, reverse", (100000007,), 0, "float32", "near1", {"reverse": True}),
    ("1-D 2^28, reverse", (268435456,), 0, "float32", "near1", {"reverse": True}),
    ("rows of 1024", (1048576, 1024), 1, "float32", "near1"),
    ("rows of 1000", (1048576, 1000), 1, "float32", "near1"),
    ("rows of 999", (1048576, 999), 1, "float32", "near1"),
    ("tall dim 0", (131072, 8192), 0, "float32", "near1"),
    ("odd square dim 0", (32767, 32767), 0, "float32", "near1"),
    ("3 inner", (4, 16777216, 3), 1, "float32", "near1"),
    ("3 inner bf16", (4, 16777216, 3), 1, "bfloat16", "near1"),
]
BACKWARD_ODD_SUITE = [
    ("backward 1-D 10^8", (100000000,), 0, "float32", "near1"),
    ("backward 1-D odd", (100000007,), 0, "float32", "near1"),
    ("backward rows of 1000", (1048576, 1000), 1, "float32", "near1"),
    ("backward rows of 999", (1048576, 999), 1, "float32", "near1"),
    ("backward tall dim 0", (131072, 8192), 0, "float32", "near1"),
    ("backward one column less", (32768, 32767), 1, "float32", "near1"),
]
SUITES = {"standard": (SUITE, BACKWARD_SUITE), "odd": (ODD_SUITE, BACKWARD_ODD_SUITE)}
CPU_CASE = ("small (interpreter)", (16, 1000), 1, "float32", "near1")
SWEEP_DTYPES = ["float32", "float32", "float32", "bfloat16", "float16", "float64", "int32"]
SWEEP_MAX_NUMEL = 1 << 28
SWEEP_MIN_COPY_MS = 0.05  # shapes whose copy takes less measure launches, not memory


class SweepCase(NamedTuple):
    """A drawn layout: its shape, scan dim, dtype, and how the tensor is laid out ("contiguous";
    "transposed": its last dim and `dim` swapped in memory; "sliced": a view one element into
    rows one element longer, so neither its start nor its rows are aligned)."""
    shape: tuple
    dim: int
    dtype: str
    view: str


def draw_sweep(n, seed, backward=False):
    """`n` layouts drawn at random: 1 to 4 dims, sizes log-uniform (odd and even alike), up to
    SWEEP_MAX_NUMEL elements, any scan dim, a view now and then; floating dtypes only for the
    gradient."""
    rng = random.Random(seed)
    dtypes = [d for d in SWEEP_DTYPES if not backward or d != "int32"]
    cases = []
    while len(cases) < n:
        ndim = rng.randint(1, 4)
        budget = rng.uniform(14, math.log2(SWEEP_MAX_NUMEL))
        weights = [rng.random() + 0.05 for _ in range(ndim)]
        shape = tuple(max(1, round(2 ** (budget * w / sum(weights)))) + rng.randint(0, 1) for w in weights)
        if math.prod(shape) > SWEEP_MAX_NUMEL:
            continue
        view = rng.choice(["contiguous"] * 4 + ["transposed", "sliced"]) if ndim > 1 else "contiguous"
        cases.append(SweepCase(shape, rng.randrange(ndim), rng.choice(dtypes), view))
    return cases


def sweep_input(case, device):
    """The tensor of a SweepCase, its values as make_input's near-one factors."""
    shape = list(case.shape)
    if case.view == "transposed":
        other = case.dim if case.dim != len(shape) - 1 else 0
        order = list(range(len(shape)))
        order[-1], order[other] = order[other], order[-1]
        base = make_input(tuple(shape[i] for i in order), case.dtype, "near1", device)
        return base.permute(*[order.index(i) for i in range(len(shape))])
    if case.view == "sliced":
        wider = shape[:-1] + [shape[-1] + 1]
        return make_input(tuple(wider), case.dtype, "near1", device)[..., 1:]
    return make_input(tuple(shape), case.dtype, "near1", device)
# The seed's kernel walks each line serially: past this length it would run for minutes.
SEED_MAX_LENGTH = 65536
HOST_TIMED_NUMEL = 1 << 20


def make_input(shape, dtype, kind, device):
    dtype = getattr(torch, dtype)
    if kind == "rand":
        return torch.rand(shape, device=device).to(dtype)
    if kind == "transposed":
        return make_input(shape[::-1], "float32", "near1", device).to(dtype).t()
    if kind == "zeros100":
        x = make_input(shape, "float32", "near1", device).to(dtype)
        x.view(-1)[::100] = 0
        return x
    if dtype.is_floating_point:
        # Spread the factors wider than the dtype's spacing at 1, or half types would read all ones.
        spread = 1 / 32 if dtype.itemsize == 2 else 1 / 256
        return (1 + (torch.rand(shape, device=device) - 0.5) * spread).to(dtype)
    return torch.randint(-3, 4, shape, device=device).to(dtype)


def sample_lines(x, dim, lines=64, length=None):
    """An index of up to `lines` scan lines of `x` along `dim` (and their first `length` positions):
    references are computed in float64 on these only."""
    dim = dim % x.dim()
    index = [slice(None)] * x.dim()
    index[dim] = slice(0, length)
    if x.dim() > 1:
        index[1 if dim == 0 else 0] = slice(0, lines)
    return tuple(index)


def max_rel_error(x, y, dim, options=None):
    """Max relative error of `y` against torch.cumprod in float64 (int64 for integers) on up to 64
    lines of `x` and their first 2**24 positions (the exclusive or reverse scan that `options`
    name: all of each line); where the reference is below the output dtype's smallest normal (the
    prompt's torch.rand underflows), the error is relative to that normal."""
    from triton_cumprod.api import torch_scan

    options = options or {}
    lines = sample_lines(x, dim, length=None if options else 1 << 24)
    xs, ys = x[lines], y[lines]
    scan = lambda t: torch_scan(t, dim, {}, options.get("exclusive", False), options.get("reverse", False))
    if x.dtype.is_floating_point:
        ref = scan(xs.double())
        err = (ys.double() - ref).abs() / ref.abs().clamp_min(torch.finfo(y.dtype).tiny)
        return err.nan_to_num(nan=float("inf")).max().item() if err.numel() else 0.0
    ref = scan(xs.long())
    return float((ys.long() != ref).any().item())


def gradient_error(x, grad, dim, g):
    """Max error of `grad` against torch's gradient in float64 on up to 64 lines, relative to the
    largest entry (a gradient sums terms of both signs, so its small entries carry others' rounding).
    An entry whose reference lies past the dtype's range is exact where it is that reference rounded,
    an infinity of its sign (fp16 lines of millions of factors overflow), and left out of the scale;
    an infinity where the reference is finite counts as the next power of two past the largest
    finite value, the least it stands for (a reference of 65519 is 65504 in fp16, 65521 inf)."""
    lines = sample_lines(x, dim)
    xs = x[lines].detach().double().requires_grad_()
    (ref,) = torch.autograd.grad(torch.cumprod(xs, dim), xs, g[lines].double())
    ours, rounded = grad[lines].double(), ref.to(grad.dtype).double()
    overflowed = rounded.isinf() & ~ref.isinf()
    bits = int(torch.finfo(grad.dtype).max).bit_length()
    beyond = 2.0 ** bits if bits < 1024 else math.inf
    ours = torch.where(ours.isinf() & ~overflowed & ref.isfinite(), ours.sign() * beyond, ours)
    diff = (ours - ref).abs().masked_fill(overflowed & (ours == rounded), 0)
    return (diff.max() / ref.abs().masked_fill(overflowed, 0).max().clamp_min(torch.finfo(torch.float64).tiny)).item()


def backward_of(fn, x, dim):
    """(the backward alone, as a callable; the output gradient it is given) for fn(x, dim)."""
    xg = x.detach().requires_grad_()
    y = fn(xg, dim)
    g = make_input(tuple(x.shape), str(y.dtype).split(".")[-1], "near1", x.device)
    return (lambda: torch.autograd.grad(y, xg, g, retain_graph=True)[0]), g


def providers(include_compile=True):
    """(name, factory) pairs; a factory returns fn(x, dim) or raises ImportError with the reason."""
    from triton_cumprod import cumprod
    from triton_cumprod.kernelbench import ANSWER_FILE, SEED_FILE, load_model

    def compiled():
        return torch.compile(torch.cumprod, dynamic=False)

    def answer():
        model_class = load_model(ANSWER_FILE).ModelNew
        return lambda x, dim: model_class(dim)(x)

    def seed():
        model_class = load_model(SEED_FILE).ModelNew
        return lambda x, dim: model_class(dim)(x)

    def flag_gems():
        import flag_gems
        return flag_gems.cumprod if hasattr(flag_gems, "cumprod") else flag_gems.ops.cumprod

    def cupy():
        import cupy
        return lambda x, dim: torch.as_tensor(cupy.cumprod(cupy.asarray(x), axis=dim), device=x.device)

    table = [
        ("ours", lambda: cumprod),
        ("torch", lambda: torch.cumprod),
        ("torch.compile", compiled),
        ("answer", answer),
        ("seed", seed),
        ("FlagGems", flag_gems),
        ("CuPy", cupy),
    ]
    return [(name, make) for name, make in table if include_compile or name != "torch.compile"]


def host_us_per_call(fn, calls=2000):
    """Wall-clock microseconds per call over many synchronised calls: the launch cost of tiny tensors."""
    fn()
    torch.cuda.synchronize()
    start = time.perf_counter()
    for _ in range(calls):
        fn()
    torch.cuda.synchronize()
    return (time.perf_counter() - start) / calls * 1e6


def run_case(case, impls, log, backward=False):
    """Time each implementation on one case. With `backward`, time its backward alone: it reads x,
    y and the output gradient and writes the input's, so its ratio is to two copies."""
    import triton.testing

    name, shape, dim, dtype, kind = case[:5]
    options = case[5] if len(case) > 5 else {}
    x = make_input(shape, dtype, kind, "cuda")
    nbytes = x.numel() * (x.element_size() + default_dtype(x.dtype).itemsize) * (2 if backward else 1)
    bench = lambda fn: triton.testing.do_bench(fn, warmup=25, rep=200, return_mode="median")
    t_copy = bench(lambda: x.clone())
    rows = [{"impl": "copy", "ms": t_copy, "gbps": 2 * x.numel() * x.element_size() / t_copy / 1e6, "ratio": 1.0}]
    if x.numel() <= HOST_TIMED_NUMEL:
        rows[0]["host_us"] = host_us_per_call(lambda: x.clone())
    for impl, make in impls:
        log(f"  {name}: {impl}")
        row = {"impl": impl}
        try:
            if impl == "seed" and shape[dim] > SEED_MAX_LENGTH:
                raise ImportError(f"serial over {shape[dim]} elements a line: minutes; skipped")
            fn = make()
            if options:
                if impl != "ours":
                    raise ImportError(f"no {', '.join(options)} option")
                fn = lambda x, dim, fn=fn: fn(x, dim, **options)
            if backward:
                run, g = backward_of(fn, x, dim)
                row["max_rel_err"] = gradient_error(x, run(), dim, g)
            else:
                run = lambda: fn(x, dim)
                row["max_rel_err"] = max_rel_error(x, run(), dim, options)
            t = bench(run)
            row.update(ms=t, gbps=nbytes / t / 1e6, ratio=t_copy / t * (2 if backward else 1))
            if x.numel() <= HOST_TIMED_NUMEL:
                row["host_us"] = host_us_per_call(run)
        except Exception as err:  # a peer that is missing or fails here is reported, not fatal
            row["skipped"] = f"{type(err).__name__}: {str(err).splitlines()[0][:120] if str(err) else ''}"
        rows.append(row)
    torch_row = next((r for r in rows if r["impl"] == "torch" and "ms" in r), None)
    for row in rows:
        if torch_row and "ms" in row:
            row["vs_torch"] = torch_row["ms"] / row["ms"]
    return {"case": name, "shape": list(shape), "dim": dim, "dtype": dtype, "input": kind, "options": options,
            "results": rows}


def run_sweep(cases, log, backward=False):
    """Ours and torch against a copy on each SweepCase (the gradient's ratio is to two copies), timed
    shorter than run_case: many shapes, each compiled once."""
    import triton.testing

    from triton_cumprod import cumprod

    bench = lambda fn: triton.testing.do_bench(fn, warmup=5, rep=30, return_mode="median")
    rows = []
    for i, case in enumerate(cases):
        x = sweep_input(case, "cuda")
        row = {**case._asdict(), "shape": list(case.shape), "numel": x.numel()}
        t_copy = bench(lambda: x.clone())
        row["copy_ms"] = t_copy
        for impl, fn in (("ours", cumprod), ("torch", torch.cumprod)):
            if backward:
                run, g = backward_of(fn, x, case.dim)
            else:
                run = lambda: fn(x, case.dim)
            if impl == "ours":
                row["max_rel_err"] = gradient_error(x, run(), case.dim, g) if backward else max_rel_error(x, run(), case.dim)
            row[impl] = t_copy / bench(run) * (2 if backward else 1)
        log(f"  {i + 1}/{len(cases)} {tuple(case.shape)} dim {case.dim} {case.dtype} {case.view}: "
            f"ours {row['ours']:.3f} torch {row['torch']:.3f}")
        rows.append(row)
        del x
        torch.cuda.empty_cache()
    return rows


def sweep_summary(rows):
    """Minimum, 10th percentile and median of our ratio over the shapes whose copy takes at least
    SWEEP_MIN_COPY_MS, and every shape (counted or not) where ours is slower than torch."""
    counted = sorted(r["ours"] for r in rows if r["copy_ms"] >= SWEEP_MIN_COPY_MS)
    pick = lambda q: counted[min(len(counted) - 1, int(q * len(counted)))] if counted else float("nan")
    return {"shapes": len(rows), "counted": len(counted), "min": pick(0), "p10": pick(0.1), "median": pick(0.5),
            "slower_than_torch": [r for r in rows if r["ours"] < r["torch"]]}


def format_sweep(rows, summary):
    lines = [f"{'shape':<28} {'dim':>3} {'dtype':<9} {'view':<11} {'copy ms':>8} {'ours':>6} {'torch':>6} {'err':>8}"]
    for r in rows:
        lines.append(f"{'x'.join(map(str, r['shape'])):<28} {r['dim']:>3} {r['dtype']:<9} {r['view']:<11} "
                     f"{r['copy_ms']:>8.3f} {r['ours']:>6.3f} {r['torch']:>6.3f} {r['max_rel_err']:>8.1e}")
    lines.append(f"{summary['shapes']} shapes, {summary['counted']} with a copy of at least {SWEEP_MIN_COPY_MS * 1e3:.0f} us: "
                 f"min {summary['min']:.3f}, 10th percentile {summary['p10']:.3f}, median {summary['median']:.3f}")
    slower = summary["slower_than_torch"]
    lines.append(f"slower than torch: {len(slower)}" + "".join(
        f"\n  {'x'.join(map(str, r['shape']))} dim {r['dim']} {r['dtype']} {r['view']}: ours {r['ours']:.3f}, "
        f"torch {r['torch']:.3f} (copy {r['copy_ms']:.3f} ms)" for r in slower))
    return "\n".join(lines)


def plot_sweep(rows, device, path):
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(9, 4.5))
    for impl, marker in (("ours", "o"), ("torch", "x")):
        ax.scatter([r["copy_ms"] for r in rows], [r[impl] for r in rows], marker=marker, s=14, label=impl)
    ax.set_xscale("log")
    ax.axhline(1.0, color="black", linewidth=0.8, linestyle="--")
    ax.axvline(SWEEP_MIN_COPY_MS, color="grey", linewidth=0.8, linestyle=":")
    ax.set_xlabel("copy time, ms (size)")
    ax.set_ylabel("ratio to x.clone()")
    ax.set_title(f"cumprod on random layouts, {device}")
    ax.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=120)


def format_table(report):
    lines = [f"{'case':<20} {'impl':<14} {'ms':>9} {'GB/s':>7} {'ratio':>6} {'vs torch':>8} {'max rel err':>11} {'host us':>8}"]
    for case in report["cases"]:
        title = f"{case['case']} {'x'.join(map(str, case['shape']))} dim {case['dim']} {case['dtype']}"
        lines.append(title)
        for row in case["results"]:
            if "skipped" in row:
                lines.append(f"{'':<20} {row['impl']:<14} skipped: {row['skipped']}")
                continue
            err = f"{row['max_rel_err']:.2e}" if "max_rel_err" in row else ""
            host = f"{row['host_us']:.1f}" if "host_us" in row else ""
            vs = f"{row['vs_torch']:.2f}x" if "vs_torch" in row else ""
            lines.append(f"{'':<20} {row['impl']:<14} {row['ms']:>9.3f} {row['gbps']:>7.0f} {row['ratio']:>6.3f} {vs:>8} {err:>11} {host:>8}")
    return "\n".join(lines)


def plot(report, path):
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    cases = [c["case"] for c in report["cases"]]
    impls = [r["impl"] for r in report["cases"][0]["results"] if r["impl"] != "copy"]
    fig, ax = plt.subplots(figsize=(max(8, len(cases) * 1.2), 4.5))
    width = 0.8 / len(impls)
    for i, impl in enumerate(impls):
        ratios = [next((r.get("ratio", 0) for r in c["results"] if r["impl"] == impl), 0) for c in report["cases"]]
        ax.bar([k + i * width for k in range(len(cases))], ratios, width, label=impl)
    ax.axhline(1.0, color="black", linewidth=0.8, linestyle="--")
    ax.set_xticks([k + 0.4 - width / 2 for k in range(len(cases))], cases, rotation=30, ha="right")
    ax.set_ylabel("ratio to x.clone() (1.0 = copy speed)")
    ax.set_title(f"cumprod on {report['device']}")
    ax.legend(fontsize=8, ncol=2)
    fig.tight_layout()
    fig.savefig(path, dpi=120)


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--suite", nargs="?", const="standard", choices=sorted(SUITES),
                        help="run a suite of layouts and dtypes: standard (default) or odd (sizes not multiples of 16)")
    parser.add_argument("--sweep", type=int, metavar="N", help="N layouts drawn at random, ours and torch")
    parser.add_argument("--seed", type=int, default=0, help="the sweep's seed")
    parser.add_argument("--shape", help="one custom case, e.g. 16,16777216")
    parser.add_argument("--dim", type=int, default=1)
    parser.add_argument("--dtype", default="float32", choices=["float16", "bfloat16", "float32", "float64", "int32", "int64"])
    parser.add_argument("--backward", action="store_true",
                        help="time the backward (ours and torch); with --suite, the backward suite")
    parser.add_argument("--only", help="comma-separated implementations to run (default: all)")
    parser.add_argument("--json", metavar="FILE", help="write every figure and the versions as JSON")
    parser.add_argument("--plot", metavar="FILE", help="write a PNG of the ratio to copy per case")
    args = parser.parse_args(argv)
    if sum(map(bool, (args.shape, args.suite, args.sweep))) > 1:
        parser.error("--shape, --suite and --sweep are exclusive")
    return args


def selected_cases(args):
    if args.suite:
        return SUITES[args.suite][1 if args.backward else 0]
    if args.shape:
        shape = tuple(int(s) for s in args.shape.split(","))
        return [("custom", shape, args.dim, args.dtype, "near1")]
    return BACKWARD_SUITE[:1] if args.backward else [SEED_CASE]


def cpu_report(args):
    """No GPU: one small case under the interpreter, for ours and torch, timed by the wall clock."""
    from triton_cumprod import cumprod

    name, shape, dim, dtype, kind = CPU_CASE
    x = make_input(shape, dtype, kind, "cpu")
    rows = []
    for impl, fn in [("ours", cumprod), ("torch", torch.cumprod)]:
        start = time.perf_counter()
        y = fn(x, dim)
        rows.append({"impl": impl, "wall_ms": (time.perf_counter() - start) * 1e3, "max_rel_err": max_rel_error(x, y, dim)})
    return {"device": "cpu (TRITON_INTERPRET=1)", "cases": [{"case": name, "shape": list(shape), "dim": dim, "dtype": dtype, "input": kind, "results": rows}]}


def versions():
    import triton
    return {"torch": torch.__version__, "triton": triton.__version__, "python": platform.python_version()}


def main(argv=None):
    args = parse_args(argv)
    if not torch.cuda.is_available():
        if os.environ.get("TRITON_INTERPRET") != "1":
            # Triton reads TRITON_INTERPRET when the kernels are defined: start again with it set.
            os.execve(sys.executable, [sys.executable, "-m", "triton_cumprod.bench", *(argv or sys.argv[1:])],
                      {**os.environ, "TRITON_INTERPRET": "1"})
        print("No CUDA device: running one small case on the CPU under TRITON_INTERPRET=1 (ours and torch). "
              "Its times measure the interpreter, not a GPU; run on a GPU for the real benchmark.")
        report = cpu_report(args)
        for row in report["cases"][0]["results"]:
            print(f"  {CPU_CASE[0]} {row['impl']:<6} {row['wall_ms']:9.1f} ms wall  max rel err {row['max_rel_err']:.2e}")
    elif args.sweep:
        log = lambda msg: print(msg, file=sys.stderr, flush=True)
        rows = run_sweep(draw_sweep(args.sweep, args.seed, args.backward), log, args.backward)
        summary = sweep_summary(rows)
        report = {"device": torch.cuda.get_device_name(), "capability": list(torch.cuda.get_device_capability()),
                  "sweep": rows, "summary": summary, "seed": args.seed, "backward": args.backward}
        print(format_sweep(rows, summary))
        if args.plot:
            plot_sweep(rows, report["device"], args.plot)
            print(f"wrote {args.plot}")
            args.plot = None
    else:
        impls = providers()
        wanted = set(args.only.split(",")) if args.only else None
        if args.backward:
            wanted = (wanted or {"ours", "torch"}) & {"ours", "torch", "torch.compile"}
        if wanted is not None:
            impls = [(n, m) for n, m in impls if n in wanted]
        report = {"device": torch.cuda.get_device_name(), "capability": list(torch.cuda.get_device_capability()), "cases": []}
        log = lambda msg: print(msg, file=sys.stderr, flush=True)
        for case in selected_cases(args):
            report["cases"].append(run_case(case, impls, log, args.backward))
            torch.cuda.empty_cache()
        print(format_table(report))
    report["versions"] = versions()
    if args.json:
        Path(args.json).write_text(json.dumps(report, indent=2))
        print(f"wrote {args.json}")
    if args.plot and "capability" in report:
        plot(report, args.plot)
        print(f"wrote {args.plot}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

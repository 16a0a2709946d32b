"""Sweep the tile settings of each strategy on the GPU, to fill dispatch.tile_settings.

    python benchmarks/sweep.py [--only seed,mid,row-accuracy,lookback,bw-seed] [--host]

Per layout: the ratio to x.clone() of each plan launched directly, of the dispatcher's plan launched
directly and through triton_cumprod.cumprod (the difference is the host path), and each plan's max
float32 error in eps next to torch's own on the same input (factors within 1e-3 of one, the regime
where the scan's order shows). "row-accuracy" gives the error of single rows (the split path) per
row step; the "bw-" cases time the gradient's row plans (ratio to two copies). --host adds the host
microseconds of each layer of one call.
"""
import argparse
import contextlib
import itertools

import torch

from triton_cumprod import autograd, cumprod, dispatch, forward, replay
from triton_cumprod.api import torch_scan
from triton_cumprod.bench import host_us_per_call, sample_lines
from triton_cumprod.dispatch import ceil_div, lookback_tiles, next_power_of_2, split_lines, split_programs, tile_lines
from triton_cumprod.forward import cumprod_forward, default_dtype, device_traits, launch_scan, scan_3d, view_plan
from triton_cumprod.layout import scan_view

from probe import make_probe_input, time_ms


@contextlib.contextmanager
def tile_overrides(**values):
    """dispatch.tile_settings with `values` in place of the real ones inside the block. cumprod
    replays the launch it remembered for an input (replay.py), planned under the settings of the
    input's first call: remembered launches are forgotten on the way in and on the way out."""
    real = dispatch.tile_settings
    dispatch.tile_settings = lambda capability, itemsize: {**real(capability, itemsize), **values}
    replay.forget()
    try:
        yield
    finally:
        dispatch.tile_settings = real
        replay.forget()


def error_eps(y, x, dim, lines=64, exclusive=False, reverse=False):
    """Max relative error in eps of y's dtype over the first `lines` lines, against float64 (the
    exclusive or reverse scan as api.torch_scan builds it from torch.cumprod)."""
    if not y.dtype.is_floating_point:
        return 0 if torch.equal(y, torch.cumprod(x, dim)) else float("inf")  # exact, or wrong
    index = sample_lines(x, dim, lines)
    xs, ys = x[index], y[index]
    ref = torch_scan(xs.double(), dim, {}, exclusive, reverse)
    return ((ys.double() - ref).abs() / ref.abs()).max().item() / torch.finfo(y.dtype).eps


def sweep(name, shape, dim, dtype, plans, transposed=False):
    """`transposed`: x is the transpose of a contiguous 2-D tensor (its dims swapped in memory). A
    plan whose n_chunks is None is cut as the dispatcher cuts lines too few to fill the GPU
    (dispatch.split_lines); every plan runs through forward.scan_3d, its split included."""
    x = make_probe_input(shape[::-1] if transposed else shape, dtype)
    if transposed:
        x = x.t()
    t_copy = time_ms(lambda: x.clone())
    out_dtype = default_dtype(dtype)
    y = torch.empty(x.shape, dtype=out_dtype, device=x.device)
    x3, n_outer, length, inner, strides = scan_view(x, dim)
    chosen = view_plan(x3, n_outer, length, inner, strides, out_dtype)
    torch_err = error_eps(torch.cumprod(x, dim), x, dim)
    n_sm, capability = device_traits(x.device)
    settings = dispatch.tile_settings(capability, out_dtype.itemsize)
    print(f"== {name} {tuple(shape)} dim {dim} {dtype}: copy {t_copy:.3f} ms; torch error {torch_err:.0f} eps", flush=True)
    results = []
    for plan in plans:
        if plan[1] is None:
            lines = tile_lines(n_outer, inner, plan[3])
            plan = (plan[0], *split_lines(lines, length, plan[4], n_sm, split_programs(settings, plan[6])), *plan[3:])
        real = forward.plan_scan
        # The split's scan of its chunk products (a shorter line) keeps the dispatcher's plan.
        forward.plan_scan = lambda n, line, *args, plan=plan, real=real, **kwargs: (
            plan if line == length else real(n, line, *args, **kwargs))
        try:
            fn = lambda: scan_3d(x3, y, n_outer, length, inner, strides, out_dtype)
            fn()
            t = time_ms(fn)
        except Exception as e:  # a plan the compiler rejects (too many registers, shared memory)
            print(f"   {plan[1:]}: failed {type(e).__name__}: {str(e)[:100]}", flush=True)
            continue
        finally:
            forward.plan_scan = real
        results.append((t_copy / t, plan))
        print(f"   {plan[1:]}: ratio {t_copy / t:.3f}  error {error_eps(y, x, dim):.0f} eps", flush=True)
    direct = t_copy / time_ms(lambda: scan_3d(x3, y, n_outer, length, inner, strides, out_dtype))
    api = t_copy / time_ms(lambda: cumprod(x, dim))
    best = f"; best plan {max(results)[0]:.3f} {max(results)[1][1:]}" if results else ""
    print(f"   dispatcher {chosen[1:]}: direct {direct:.3f}, through cumprod() {api:.3f}, "
          f"error {error_eps(cumprod(x, dim), x, dim):.0f} eps{best}", flush=True)
    del x, y


def row_accuracy(lengths=(8193, 16384, 65536, 1 << 20), steps=(1024, 2048, 4096, 8192, 16384)):
    """Error of single rows (the split path) per row step, next to torch's on the same row."""
    for length in lengths:
        x = 1 + (torch.rand((1, length), device="cuda") - 0.5) * 1e-3
        line = f"== row-accuracy (1, {length}): torch {error_eps(torch.cumprod(x, 1), x, 1):.0f} eps; ours per step"
        for step in steps:
            with tile_overrides(row_step=step):
                line += f"  {step}: {error_eps(cumprod(x, 1), x, 1):.0f}"
        print(line, flush=True)


# The rows' single pass per (tile, tiles a group, bytes of a tile a thread), around the settings of
# 2026-12-07 (16-bit 8192 in groups of 128, 8-byte 4096 in groups of 128): larger tiles and groups,
# and twice the bytes a thread, on even and odd 16-bit lengths and fp64 1-D.
CURRENT_16 = [(8192, 128, 128)]
WIDE_16 = [(16384, 128, 128), (8192, 256, 128), (8192, 128, 256)]
FP64_TILES = [(4096, 128, 128), (4096, 256, 128), (2048, 256, 128), (8192, 128, 256)]
LOOKBACK_CASES = [
    ((1 << 28,), 0, torch.bfloat16, CURRENT_16 + WIDE_16),
    ((54439559,), 0, torch.float16, CURRENT_16 + WIDE_16),
    ((47488622,), 0, torch.float64, FP64_TILES),
    ((12, 1938515), 1, torch.float64, FP64_TILES[:2]),
]


def sweep_lookback(cases=LOOKBACK_CASES):
    """The single-pass scan (kernels/lookback.py) per (tile, tiles a group, bytes of a tile a
    thread): ratio to x.clone(), error in eps next to torch's, and whether ten runs give bitwise the
    same output."""
    for shape, dim, dtype, configs in cases:
        x = make_probe_input(shape, dtype)
        t_copy = time_ms(lambda: x.clone())
        print(f"== lookback {shape} dim {dim} {dtype}: copy {t_copy:.3f} ms; torch ratio "
              f"{t_copy / time_ms(lambda: torch.cumprod(x, dim)):.3f}, error {error_eps(torch.cumprod(x, dim), x, dim):.0f} eps",
              flush=True)
        for step, window, thread_bytes in configs:
            try:
                with tile_overrides(lookback_step=step, lookback_window=window, lookback_cols_step=step,
                                    lookback_cols_window=window, lookback_thread_bytes=thread_bytes):
                    first = cumprod(x, dim)
                    same = all(torch.equal(first, cumprod(x, dim)) for _ in range(9))
                    ratio = t_copy / time_ms(lambda: cumprod(x, dim))
                print(f"   step {step} window {window} thread bytes {thread_bytes}: ratio {ratio:.3f}  "
                      f"error {error_eps(first, x, dim):.0f} eps  10 runs bitwise equal: {same}", flush=True)
            except Exception as e:
                print(f"   step {step} window {window} thread bytes {thread_bytes}: failed {type(e).__name__}: "
                      f"{str(e)[:100]}", flush=True)
        del x


def sweep_backward(name, shape, dim, block_ls, warps):
    """The gradient's row plans, the rows kernel (rows of 2048 elements or fewer packed a tile) and
    the line kernel (one row a program): ratio to two copies (it reads x and g, y at tile edges, and
    writes one tensor)."""
    x = (1 + (torch.rand(shape, device="cuda") - 0.5) * 1e-3).requires_grad_()
    y = cumprod(x, dim)
    g = torch.rand_like(y)
    t_copy = time_ms(lambda: x.clone())
    real = autograd.plan_backward
    print(f"== {name} {tuple(shape)} dim {dim}: copy {t_copy:.3f} ms", flush=True)
    for kind, block_l, w in itertools.product(("rows", "line"), block_ls, warps):
        def plan(n_outer, length, inner, n_sm, *_):
            block_r = 1 if kind == "line" else min(max(1, 2048 // block_l), next_power_of_2(n_outer))
            return (kind, *split_lines(ceil_div(n_outer, block_r), length, block_l, n_sm, 4), block_r, block_l, w)
        autograd.plan_backward = plan
        try:
            run = lambda: torch.autograd.grad(y, x, g, retain_graph=True)
            run()
            print(f"   {kind} ({block_l}, {w}): ratio {2 * t_copy / time_ms(run):.3f}", flush=True)
        except Exception as e:
            print(f"   {kind} ({block_l}, {w}): failed {type(e).__name__}: {str(e)[:100]}", flush=True)
        finally:
            autograd.plan_backward = real
    del x, y, g


def sweep_backward_lookback(cases=(((1 << 28,), 0), ((16, 1 << 24), 1)), tiles=(2048, 4096), warps=(4, 8),
                            windows=(256, 512)):
    """The single-pass backward (kernels/backward.py: backward_lookback_kernel) per tile, warps and
    group size: ratio to two copies, and whether two runs give bitwise the same gradient."""
    real = autograd.plan_backward
    for shape, dim in cases:
        x = (1 + (torch.rand(shape, device="cuda") - 0.5) * 1e-3).requires_grad_()
        y = cumprod(x, dim)
        g = torch.rand_like(y)
        t_copy = time_ms(lambda: x.clone())
        print(f"== bw-lookback {shape} dim {dim}: copy {t_copy:.3f} ms", flush=True)
        for tile, w, window in itertools.product(tiles, warps, windows):
            def plan(n_outer, length, *_):
                n_tiles, _, group, _ = lookback_tiles(length, tile, window)
                return "lookback", n_tiles, tile, group, tile, w
            autograd.plan_backward = plan
            try:
                run = lambda: torch.autograd.grad(y, x, g, retain_graph=True)[0]
                same = torch.equal(run(), run())
                print(f"   tile {tile} warps {w} window {window}: ratio {2 * t_copy / time_ms(run):.3f}  "
                      f"two runs bitwise equal: {same}", flush=True)
            except Exception as e:
                print(f"   tile {tile} warps {w} window {window}: failed {type(e).__name__}: {str(e)[:100]}", flush=True)
            finally:
                autograd.plan_backward = real
        del x, y, g


def host_layers(shape=(8, 128), dim=1):
    """Microseconds a call spends in each layer, on a tensor whose kernel takes next to nothing."""
    x = torch.rand(shape, device="cuda")
    y = torch.empty_like(x)
    x3, n_outer, length, inner, strides = scan_view(x, dim)
    plan = view_plan(x3, n_outer, length, inner, strides, torch.float32)
    layers = [
        ("torch.cumprod", lambda: torch.cumprod(x, dim)),
        ("x.clone()", lambda: x.clone()),
        ("triton_cumprod.cumprod (replayed)", lambda: cumprod(x, dim)),
        ("forward.cumprod_forward", lambda: cumprod_forward(x, dim, torch.float32)),
        ("forward.scan_3d (no allocation)", lambda: scan_3d(x3, y, n_outer, length, inner, strides, torch.float32)),
        ("launch_scan (plan given)", lambda: launch_scan(x3, y, None, n_outer, length, inner, strides, torch.float32, plan, False)),
        ("device_traits", lambda: device_traits(x.device)),
        ("torch.empty", lambda: torch.empty(shape, device="cuda")),
    ]
    print(f"== host us per call, {shape} dim {dim}", flush=True)
    for name, fn in layers:
        print(f"   {name:<34} {host_us_per_call(fn):7.1f}", flush=True)


def host_table(shapes=((8, 128), (4096, 192), (1024, 1024))):
    """Host microseconds per call (wall clock over many synchronised calls) of the tiny shapes."""
    print("== host us per call: shape, torch.cumprod, x.clone(), cumprod (replayed), cumprod_forward (full path)")
    for shape in shapes:
        x = torch.rand(shape, device="cuda")
        times = [host_us_per_call(fn) for fn in (lambda: torch.cumprod(x, 1), lambda: x.clone(), lambda: cumprod(x, 1),
                                                 lambda: cumprod_forward(x, 1, torch.float32))]
        print(f"   {str(shape):<14}" + "".join(f"{t:9.1f}" for t in times), flush=True)


def sweep_options(cases=(((32768, 32768), 1), ((32768, 32768), 0), ((1 << 28,), 0))):
    """exclusive and reverse per layout (the prompt's, its dim 0, and 1-D through the single pass;
    torch.rand input): ratio to x.clone(); the error in eps on 64 lines of factors near one next to
    the plain scan's; and the gradient's ratio to two copies (autograd.cumprod_backward)."""
    for shape, dim in cases:
        x = torch.rand(shape, device="cuda")
        lines = shape if len(shape) == 1 else (64, shape[1]) if dim else (shape[0], 64)
        near = 1 + (torch.rand(lines, device="cuda") - 0.5) * 1e-3
        t_copy = time_ms(lambda: x.clone())
        print(f"== options {shape} dim {dim}: copy {t_copy:.3f} ms", flush=True)
        for exclusive, reverse in itertools.product((False, True), (False, True)):
            run = lambda: cumprod(x, dim, exclusive=exclusive, reverse=reverse)
            error = error_eps(cumprod(near, dim, exclusive=exclusive, reverse=reverse), near, dim, 64, exclusive, reverse)
            y, g = run(), torch.rand_like(x)
            backward = lambda: autograd.cumprod_backward(x, y, g, dim, torch.float32, exclusive, reverse)
            print(f"   exclusive={exclusive!s:<5} reverse={reverse!s:<5} ratio {t_copy / time_ms(run):.3f}  "
                  f"error {error:.0f} eps  backward {2 * t_copy / time_ms(backward):.3f}", flush=True)
            del y, g
        del x


def sweep_split(cases=(((9411, 3928), 0, torch.bfloat16), ((127235, 198), 0, torch.int32), ((31249, 1201), 0, torch.float32),
                        ((7248, 2941), 0, torch.float64), ((145613435,), 0, torch.int32), ((12, 143746, 93), 1, torch.float64),
                        ((32, 1 << 20), 1, torch.int64)), programs=(4, 8, 16, 32)):
    """The split scan (forward.scan_3d: chunk products, their scan, the chunks) per programs it aims
    for on each multiprocessor (tile_settings' split_programs_per_sm): ratio to x.clone()."""
    for shape, dim, dtype in cases:
        x = make_probe_input(shape, dtype)
        t_copy = time_ms(lambda: x.clone())
        line = (f"== split {shape} dim {dim} {dtype}: torch {t_copy / time_ms(lambda: torch.cumprod(x, dim)):.3f}; "
                f"programs a multiprocessor:")
        for count in programs:
            with tile_overrides(split_programs_per_sm=count, split_staged_programs_per_sm=count):
                line += f"  {count}: {t_copy / time_ms(lambda: cumprod(x, dim)):.3f}"
        print(line, flush=True)
        del x


# Layouts of the random sweep (bench.SweepCase) whose dims do not merge around the scan, and 2-D
# transposes that do: (shape, dim, dtype, view).
TURNED_CASES = [((88, 20, 208, 75), 1, "float32", "transposed"), ((117, 47975, 7), 2, "float16", "transposed"),
                ((5, 3115, 190, 41), 1, "float64", "transposed"), ((387, 207, 5, 114), 3, "float64", "transposed"),
                ((555, 189, 145), 0, "float32", "sliced"), ((25, 26, 480, 713), 0, "float16", "sliced"),
                ((13375, 6072), 0, "int32", "transposed"), ((9046605, 11), 0, "float16", "transposed"),
                ((1914, 22690), 0, "float16", "transposed"), ((8192, 8192), 0, "float32", "transposed"),
                ((32768, 32768), 1, "float32", "transposed"), ((4099, 4097), 1, "float32", "transposed")]
# (transposed_tile's elements, columns and warps, steps in flight, split_programs_per_sm) by result bytes.
TURNED_TILES = {1: [(4096, 64, 4, 1, 16), (4096, 32, 4, 1, 16), (2048, 32, 4, 1, 16)],
                2: [(4096, 64, 4, 1, 16), (4096, 32, 4, 1, 16), (2048, 32, 4, 1, 16)],
                4: [(2048, 64, 4, 1, 16), (2048, 64, 4, 3, 4), (2048, 32, 4, 1, 16), (4096, 64, 8, 1, 16)],
                8: [(1024, 32, 2, 1, 16), (1024, 32, 2, 3, 4), (512, 16, 1, 1, 16), (2048, 32, 4, 1, 16)]}


def sweep_turned(cases=TURNED_CASES, tiles=TURNED_TILES):
    """kernels/transposed.py per tile (dispatch.tile_settings' transposed_tile and split programs,
    and steps in flight) on layouts of the random sweep, next to torch, the dispatcher (through
    cumprod), and a contiguous copy of x scanned as the dispatcher scans it (what it did before the
    kernel where dims do not merge)."""
    from triton_cumprod.bench import SweepCase, sweep_input
    from triton_cumprod.layout import turned_view

    for shape, dim, dtype, view in cases:
        x = sweep_input(SweepCase(shape, dim, dtype, view), "cuda")
        out_dtype = default_dtype(x.dtype)
        t_copy = time_ms(lambda: x.clone())
        turned = turned_view(x, dim)
        print(f"== turned {shape} dim {dim} {dtype} {view}: {turned}", flush=True)
        print(f"   torch {t_copy / time_ms(lambda: torch.cumprod(x, dim)):.3f}, cumprod() "
              f"{t_copy / time_ms(lambda: cumprod(x, dim)):.3f}, copy then scan "
              f"{t_copy / time_ms(lambda: cumprod(x.contiguous(), dim)):.3f}, x.contiguous() "
              f"{t_copy / time_ms(lambda: x.contiguous()):.3f}", flush=True)
        if turned is None:
            continue
        y = torch.empty(x.shape, dtype=out_dtype, device=x.device)
        real_plan = forward.plan_transposed
        for elements, width, warps, stages, programs in tiles[out_dtype.itemsize]:
            forward.plan_transposed = lambda *args, stages=stages: real_plan(*args)[:6] + (stages,)
            label = (elements, width, warps, stages, programs)
            try:
                with tile_overrides(transposed_tile=(elements, width, warps), split_programs_per_sm=programs):
                    fn = lambda: forward.scan_turned(x, y, turned, out_dtype)
                    fn()
                    first = y.clone()
                    t = time_ms(fn)
                print(f"   tile {label}: {t_copy / t:.3f}  error {error_eps(y, x, dim):.0f} eps, "
                      f"repeats {torch.equal(first, y)}", flush=True)
            except Exception as e:  # a tile the compiler rejects
                print(f"   tile {label}: failed {type(e).__name__}: {str(e)[:100]}")
            finally:
                forward.plan_transposed = real_plan
        del x, y


def rows_plans(block_rs, block_ls, warps, stages=(1,)):
    return [("rows", 1, 1 << 40, r, l, w, s) for r, l, w, s in itertools.product(block_rs, block_ls, warps, stages)]


def cols_plans(block_is, block_ls, warps, max_per_thread=64, stages=(1,), split=False):
    """Column plans of every tile; `split`: lines cut as the dispatcher would cut them (sweep)."""
    return listed_cols_plans([(i, l, w, s) for i, l, w, s in itertools.product(block_is, block_ls, warps, stages)
                              if i * l <= max_per_thread * 32 * w], split)


def listed_cols_plans(tiles, split=False):
    """Column plans of the (columns, positions, warps, stages) `tiles`, as cols_plans'."""
    return [("cols", None if split else 1, 1 << 40, i, l, w, s) for i, l, w, s in tiles]


def chain_plans(length, tiles):
    return [("chain", ceil_div(length, l), l, i, l, w, 1) for i, l, w in tiles]


CASES = [
    # Layouts whose sizes are not multiples of 16, and tall column layouts (few lines of columns).
    ("odd-rows", (32768, 32767), 1, torch.float32, rows_plans([1], [8192, 16384], [2, 4]) + rows_plans([1], [32768], [8])),
    ("rows-999", (1048576, 999), 1, torch.float32, rows_plans([1, 2], [1024], [1, 2, 4])),
    ("tall", (131072, 8192), 0, torch.float32, chain_plans(131072, [(32, 64, 1), (32, 128, 1), (64, 64, 2)])),
    ("odd-dim0", (32767, 32767), 0, torch.float32, cols_plans([32, 64], [32, 64], [1, 2], 128)
     + chain_plans(32767, [(64, 64, 1), (64, 64, 2), (128, 32, 4), (64, 32, 1), (128, 64, 4), (256, 32, 4)])),
    ("odd-bf16-dim0", (32767, 32767), 0, torch.bfloat16, chain_plans(32767, [(64, 64, 1), (64, 64, 2), (128, 32, 4)])),
    ("3-inner", (4, 16777216, 3), 1, torch.float32, []),
    ("seed", (32768, 32768), 1, torch.float32, rows_plans([1], [8192, 16384], [2, 4]) + rows_plans([1], [32768], [8])),
    ("seed-bf16", (32768, 32768), 1, torch.bfloat16, rows_plans([1], [2048, 8192], [2, 4]) + rows_plans([1], [32768], [8, 16])),
    ("row-16k", (4096, 16384), 1, torch.float32, rows_plans([1], [8192, 16384], [2, 4])),
    ("row-64k", (2048, 65536), 1, torch.float32, rows_plans([1], [8192, 16384, 32768], [2, 4, 8])),
    ("row-20k", (16384, 20000), 1, torch.float32, rows_plans([1], [8192, 16384, 32768], [4, 8])),
    ("row-4k", (65536, 4096), 1, torch.float32, rows_plans([1], [2048, 4096], [1, 2, 4])),
    ("dim0", (32768, 32768), 0, torch.float32, cols_plans([128, 256], [32, 64, 128], [1, 2, 4], 128)),
    ("short", (4194304, 64), 1, torch.float32, rows_plans([16, 32, 64], [64], [1, 2, 4])),
    ("mid", (64, 4096, 1024), 1, torch.float32, cols_plans([128, 256, 512], [16, 32, 64], [1, 2, 4], 128)),
    ("cols-a", (256, 2048, 512), 1, torch.float32, cols_plans([128, 256], [8, 16, 32, 64], [1, 2, 4], 128)),
    ("cols-b", (8, 65536, 4096), 1, torch.float32, cols_plans([128, 256], [16, 32, 64, 128], [1, 2, 4], 128)),
    ("dim0-bf16", (32768, 32768), 0, torch.bfloat16, cols_plans([128, 256], [32, 64, 128], [2, 4], 128)),
    ("dim0-fp64", (16384, 16384), 0, torch.float64, cols_plans([128], [16, 32, 64], [2, 4], 128)),
    # Tiles in flight (Triton's pipeliner): the column layouts and the rows walked in several steps.
    ("mid-stages", (64, 4096, 1024), 1, torch.float32, cols_plans([128], [16, 32, 64], [1, 2, 4], 128, (2, 3, 4))),
    ("cols-a-stages", (256, 2048, 512), 1, torch.float32, cols_plans([128], [16, 32, 64], [1, 2], 128, (1, 2, 3))),
    ("dim0-stages", (32768, 32768), 0, torch.float32, cols_plans([128], [32, 64], [1, 2, 4], 128, (1, 2, 3))),
    ("dim0-bf16-stages", (32768, 32768), 0, torch.bfloat16, cols_plans([128], [64, 128], [2, 4], 128, (1, 2, 3))),
    ("dim0-fp64-stages", (16384, 16384), 0, torch.float64, cols_plans([128], [16, 32], [2], 128, (1, 2, 3))),
    ("seed-bf16-stages", (32768, 32768), 1, torch.bfloat16, rows_plans([1], [2048, 4096], [4], (1, 2, 3))),
    ("row-64k-stages", (2048, 65536), 1, torch.float32, rows_plans([1], [4096, 8192], [2, 4], (1, 2, 3))),
    ("narrow-dim0", (16777216, 4), 0, torch.float32, []),
    # The sweep's counted layouts slower than torch: 190 fp64 columns (a 128-wide tile half empty
    # past the first), 98 fp32 columns whose rows do not start on 16 bytes (the unaligned chain).
    ("fp64-cols-190", (1128, 52, 190), 1, torch.float64,
     listed_cols_plans([(128, 32, 2, 3), (128, 32, 2, 1), (64, 32, 4, 1), (64, 64, 4, 1), (64, 32, 2, 1), (64, 16, 1, 1),
                        (64, 64, 2, 1)])),
    ("cols-98", (5104, 301, 98), 1, torch.float32,
     listed_cols_plans([(64, 64, 1, 1), (64, 32, 1, 1), (32, 64, 1, 1), (128, 32, 4, 1)])
     + chain_plans(301, [(64, 64, 1), (32, 64, 1), (32, 128, 1)])),
]
# Transposed inputs scanned along their contiguous dim: column tiles read along the scan.
TRANSPOSED_TILES = ([32, 64, 128], [32, 64, 128], [1, 2, 4], 64)
TRANSPOSED_CHAINS = [(32, 128, 1), (32, 64, 1), (32, 128, 2), (64, 64, 2), (64, 32, 1)]
# Tiles a vector deep along the scan and wide along inner: each thread loads 16 bytes of a column
# and scans them in its registers; the lanes store along inner.
SHALLOW_TILES = [(64, 4, 1, 1), (128, 4, 1, 1), (128, 8, 1, 1), (256, 4, 2, 1), (256, 8, 2, 1), (512, 4, 4, 1), (128, 4, 1, 3),
                 (256, 4, 2, 3), (128, 16, 4, 1)]
TRANSPOSED_CASES = [
    ("t-shallow", (13376, 6080), 0, torch.float32, listed_cols_plans(SHALLOW_TILES, split=True)),
    ("t-shallow-odd", (13375, 6072), 0, torch.float32, listed_cols_plans(SHALLOW_TILES, split=True)),
    ("t-shallow-bf16", (1914, 22690), 0, torch.bfloat16,
     listed_cols_plans([(i, 2 * l, w, st) for i, l, w, st in SHALLOW_TILES], split=True)),
    ("t-dim0", (13376, 6080), 0, torch.float32,
     cols_plans(*TRANSPOSED_TILES, split=True) + chain_plans(13376, TRANSPOSED_CHAINS)),
    ("t-dim0-odd", (13375, 6072), 0, torch.float32,
     cols_plans(*TRANSPOSED_TILES, split=True) + chain_plans(13375, TRANSPOSED_CHAINS)),
    ("t-dim0-wide", (4095, 65535), 0, torch.float32, cols_plans(*TRANSPOSED_TILES)),
    ("t-dim0-bf16", (1914, 22690), 0, torch.bfloat16, cols_plans(*TRANSPOSED_TILES, split=True)),
    ("t-dim0-int32", (13375, 6072), 0, torch.int32, cols_plans([32, 64], [32, 64], [1, 2], 64, split=True)),
]


def chunked_cols_plans(length, tiles, counts):
    """Column plans of the (columns, positions, warps) `tiles`, each line cut into about each of
    `counts` chunks whatever the lines' number (the dispatcher cuts only lines that fill at most
    half the SMs)."""
    plans = []
    for (i, l, w), count in itertools.product(tiles, counts):
        chunk = ceil_div(ceil_div(length, count), l) * l
        plans.append(("cols", ceil_div(length, chunk), chunk, i, l, w, 1))
    return plans


# 2-D transposed inputs scanned along their contiguous dim, whose lines hold few warps a
# multiprocessor (13375 x 6072 int32 -> int64: 190 programs of 2 warps): narrower and deeper tiles,
# and lines cut however many they are.
FILL_TILES = [(32, 32, 2), (32, 64, 2), (16, 64, 1), (16, 128, 2), (8, 128, 1), (64, 32, 4)]
FILL_TILES_16 = [(16, 32, 4), (16, 128, 4), (16, 256, 4), (16, 512, 4), (16, 512, 8), (16, 1024, 8)]
TRANSPOSED_CASES += [
    ("t-fill-int32", (13375, 6072), 0, torch.int32, chunked_cols_plans(13375, FILL_TILES, (1, 2, 4, 8))),
    ("t-fill-fp32", (13375, 6072), 0, torch.float32, chunked_cols_plans(13375, FILL_TILES, (1, 2, 4, 8))),
    ("t-fill-fp16-11", (9046605, 11), 0, torch.float16, listed_cols_plans([(*t, 1) for t in FILL_TILES_16], split=True)),
    ("t-fill-fp16", (1914, 22690), 0, torch.float16,
     chunked_cols_plans(1914, [(64, 32, 4), (32, 32, 4), (32, 64, 4), (16, 64, 2), (16, 128, 2), (64, 64, 4)], (1, 2, 4))),
]
# Around the t-fill winners (H100, 2026-12-07: fp32 13375 x 6072 (16, 128, 2) 0.595, int32 (8, 128,
# 1) 0.353, fp16 1914 x 22690 (32, 32, 4) 0.519): deeper tiles, and the class's other members.
AROUND_4 = [(16, 128, 2, 1), (8, 128, 1, 1), (16, 256, 4, 1), (32, 128, 4, 1), (8, 256, 2, 1)]
TRANSPOSED_CASES += [
    ("t-around-fp32", (13376, 6080), 0, torch.float32, listed_cols_plans(AROUND_4) + chain_plans(13376, [(32, 128, 1)])),
    ("t-around-fp32-odd", (13375, 6072), 0, torch.float32, listed_cols_plans(AROUND_4[2:])),
    ("t-around-int32", (13375, 6072), 0, torch.int32, listed_cols_plans([(8, 256, 2, 1), (4, 256, 1, 1), (16, 256, 4, 1),
                                                                          (4, 128, 1, 1)])),
    ("t-around-fp16", (1914, 22690), 0, torch.float16,
     listed_cols_plans([(32, 32, 2, 1), (16, 32, 2, 1), (32, 64, 2, 1), (16, 64, 1, 1), (64, 16, 4, 1), (16, 32, 1, 1)])),
    ("t-around-wide", (4095, 65535), 0, torch.float32, listed_cols_plans([(64, 32, 4, 1), (32, 32, 4, 1)] + AROUND_4[:2])),
    ("t-around-8k", (8191, 8193), 0, torch.float32,
     listed_cols_plans([(64, 32, 4, 1)] + AROUND_4[:2]) + chain_plans(8191, [(32, 128, 1)])),
    ("t-around-fp64", (13375, 6072), 0, torch.float64,
     listed_cols_plans([(32, 32, 2, 1), (8, 128, 2, 1), (16, 64, 2, 1), (8, 64, 1, 1), (4, 128, 1, 1)])),
    ("t-around-fp16-11", (9046605, 11), 0, torch.float16,
     listed_cols_plans([(16, 64, 2, 1), (16, 32, 2, 1), (16, 16, 1, 1), (16, 64, 4, 1)], split=True)),
]
BACKWARD_CASES = [
    ("bw-seed", (32768, 32768), 1, [1024, 2048, 4096], [1, 2, 4]),
    ("bw-1d", (1 << 28,), 0, [1024, 2048, 4096], [4, 8]),
]


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    names = [c[0] for c in CASES + TRANSPOSED_CASES] + ["row-accuracy", "lookback", "split", "options", "turned",
                                                       "bw-lookback"] + [c[0] for c in BACKWARD_CASES]
    parser.add_argument("--only", default="", help="comma-separated case names: " + ",".join(names))
    parser.add_argument("--host", action="store_true", help="also time the host path layer by layer")
    args = parser.parse_args()
    only = set(filter(None, args.only.split(",")))
    if args.host:
        host_layers()
        host_table()
    for name, shape, dim, dtype, plans in CASES:
        if not only or name in only:
            sweep(name, shape, dim, dtype, plans)
    for name, shape, dim, dtype, plans in TRANSPOSED_CASES:
        if not only or name in only:
            sweep(name, shape, dim, dtype, plans, transposed=True)
    if not only or "row-accuracy" in only:
        row_accuracy()
    if not only or "lookback" in only:
        sweep_lookback()
    if not only or "split" in only:
        sweep_split()
    if not only or "options" in only:
        sweep_options()
    if not only or "turned" in only:
        sweep_turned()
    if not only or "bw-lookback" in only:
        sweep_backward_lookback()
    for name, shape, dim, block_ls, warps in BACKWARD_CASES:
        if not only or name in only:
            sweep_backward(name, shape, dim, block_ls, warps)


if __name__ == "__main__":
    main()

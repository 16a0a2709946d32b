"""Sweep the tile settings of each strategy on the GPU, to fill dispatch.tile_settings.

    python benchmarks/sweep.py [--only seed,mid] [--host]

Per layout: the ratio to x.clone() of each plan launched directly, of the dispatcher's plan launched
directly and through triton_cumprod.cumprod (the difference is the host path), and each plan's max
float32 error in eps next to torch's own on the same input (factors within 1e-3 of one, the regime
where the scan's order shows). --host adds the host microseconds of each layer of one call.
"""
import argparse
import itertools

import torch
import triton

from triton_cumprod import cumprod
from triton_cumprod.bench import host_us_per_call
from triton_cumprod.dispatch import plan_scan
from triton_cumprod.forward import cumprod_forward, device_traits, launch_scan, scan_3d
from triton_cumprod.layout import scan_view


def time_ms(fn):
    return triton.testing.do_bench(fn, warmup=25, rep=100, return_mode="median")


def error_eps(y, x, dim, lines=64):
    """Max relative error in eps of y's dtype over the first `lines` lines, against float64."""
    index = [slice(None)] * x.dim()
    if x.dim() > 1:
        index[1 if dim == 0 else 0] = slice(0, lines)
    xs, ys = x[tuple(index)], y[tuple(index)]
    ref = torch.cumprod(xs.double(), dim)
    return ((ys.double() - ref).abs() / ref.abs()).max().item() / torch.finfo(y.dtype).eps


def sweep(name, shape, dim, dtype, plans):
    x = (1 + (torch.rand(shape, device="cuda") - 0.5) * 1e-3).to(dtype)
    t_copy = time_ms(lambda: x.clone())
    y = torch.empty_like(x)
    x3, n_outer, length, inner, strides = scan_view(x, dim)
    n_sm, cap = device_traits(x.device)
    chosen = plan_scan(n_outer, length, inner, strides[1] == 1, n_sm, cap, y.element_size())
    torch_err = error_eps(torch.cumprod(x, dim), x, dim)
    print(f"== {name} {tuple(shape)} dim {dim} {dtype}: copy {t_copy:.3f} ms; torch error {torch_err:.0f} eps", flush=True)
    results = []
    for plan in plans:
        try:
            fn = lambda: launch_scan(x3, y, None, n_outer, length, inner, strides, dtype, plan, False)
            fn()
            t = time_ms(fn)
        except Exception as e:  # a plan the compiler rejects (too many registers, shared memory)
            print(f"   {plan[3:]}: failed {type(e).__name__}: {str(e)[:100]}", flush=True)
            continue
        results.append((t_copy / t, plan))
        print(f"   {plan[3:]}: ratio {t_copy / t:.3f}  error {error_eps(y, x, dim):.0f} eps", flush=True)
    direct = t_copy / time_ms(lambda: scan_3d(x3, y, n_outer, length, inner, strides, dtype))
    api = t_copy / time_ms(lambda: cumprod(x, dim))
    print(f"   dispatcher {chosen[1:]}: direct {direct:.3f}, through cumprod() {api:.3f}; "
          f"best plan {max(results)[0]:.3f} {max(results)[1][3:]}", flush=True)
    del x, y


def host_layers(shape=(8, 128), dim=1):
    """Microseconds a call spends in each layer, on a tensor whose kernel takes next to nothing."""
    x = torch.rand(shape, device="cuda")
    y = torch.empty_like(x)
    x3, n_outer, length, inner, strides = scan_view(x, dim)
    plan = plan_scan(n_outer, length, inner, strides[1] == 1, *device_traits(x.device), 4)
    layers = [
        ("torch.cumprod", lambda: torch.cumprod(x, dim)),
        ("x.clone()", lambda: x.clone()),
        ("triton_cumprod.cumprod", lambda: cumprod(x, dim)),
        ("forward.cumprod_forward", lambda: cumprod_forward(x, dim, torch.float32)),
        ("forward.scan_3d (no allocation)", lambda: scan_3d(x3, y, n_outer, length, inner, strides, torch.float32)),
        ("launch_scan (plan given)", lambda: launch_scan(x3, y, None, n_outer, length, inner, strides, torch.float32, plan, False)),
        ("device_traits", lambda: device_traits(x.device)),
        ("torch.empty", lambda: torch.empty(shape, device="cuda")),
    ]
    print(f"== host us per call, {shape} dim {dim}", flush=True)
    for name, fn in layers:
        print(f"   {name:<34} {host_us_per_call(fn):7.1f}", flush=True)


def rows_plans(block_rs, block_ls, warps):
    return [("rows", 1, 1 << 40, r, l, w) for r, l, w in itertools.product(block_rs, block_ls, warps)]


def cols_plans(block_is, block_ls, warps):
    return [("cols", 1, 1 << 40, i, l, w) for i, l, w in itertools.product(block_is, block_ls, warps)]


CASES = [
    ("seed", (32768, 32768), 1, torch.float32, rows_plans([1], [1024, 2048, 4096, 8192], [1, 2, 4]) + rows_plans([1], [16384], [4, 8])),
    ("seed-bf16", (32768, 32768), 1, torch.bfloat16, rows_plans([1], [2048, 4096, 8192], [1, 2, 4])),
    ("row-16k", (4096, 16384), 1, torch.float32, rows_plans([1], [1024, 2048, 8192], [1, 4])),
    ("dim0", (32768, 32768), 0, torch.float32, cols_plans([64, 128], [32, 64, 128], [2, 4])),
    ("short", (4194304, 64), 1, torch.float32, rows_plans([16, 32, 64], [64], [1, 2, 4])),
    ("mid", (64, 4096, 1024), 1, torch.float32, cols_plans([32, 64, 128], [32, 64, 128], [2, 4])),
]


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--only", default="", help="comma-separated case names: " + ",".join(c[0] for c in CASES))
    parser.add_argument("--host", action="store_true", help="also time the host path layer by layer")
    args = parser.parse_args()
    only = set(filter(None, args.only.split(",")))
    if args.host:
        host_layers()
    for name, shape, dim, dtype, plans in CASES:
        if not only or name in only:
            sweep(name, shape, dim, dtype, plans)


if __name__ == "__main__":
    main()

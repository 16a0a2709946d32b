"""Sweep the tile settings of each strategy on the GPU, to fill dispatch.tile_settings.

    python benchmarks/sweep.py [--quick]

Prints, per layout, each plan's ratio to x.clone() on the same tensor (1.00 = copy speed).
"""
import argparse
import itertools

import torch
import triton

from triton_cumprod.forward import launch_scan, scan_3d
from triton_cumprod.layout import scan_view
from triton_cumprod.dispatch import plan_scan
from triton_cumprod.forward import device_traits


def time_ms(fn):
    return triton.testing.do_bench(fn, warmup=25, rep=100, return_mode="median")


def sweep(name, shape, dim, dtype, plans):
    x = 1 + (torch.rand(shape, device="cuda") - 0.5) * 1e-3
    x = x.to(dtype)
    t_copy = time_ms(lambda: x.clone())
    y = torch.empty_like(x)
    x3, n_outer, length, inner, strides = scan_view(x, dim)
    n_sm, cap = device_traits(x.device)
    chosen = plan_scan(n_outer, length, inner, strides[1] == 1, n_sm, cap, y.element_size())
    print(f"== {name} {tuple(shape)} dim {dim} {dtype}: copy {t_copy:.3f} ms, dispatcher picks {chosen}", flush=True)
    results = []
    for plan in plans:
        try:
            fn = lambda: launch_scan(x3, y, None, n_outer, length, inner, strides, dtype, plan, False)
            fn()
            t = time_ms(fn)
        except Exception as e:  # a plan the compiler rejects (too many registers, shared memory)
            print(f"   {plan}: failed {type(e).__name__}: {str(e)[:100]}", flush=True)
            continue
        results.append((t_copy / t, plan))
        print(f"   {plan}: {t:.3f} ms ratio {t_copy / t:.3f}", flush=True)
    t = time_ms(lambda: scan_3d(x3, y, n_outer, length, inner, strides, dtype))
    print(f"   dispatcher: ratio {t_copy / t:.3f}; best {max(results)[0]:.3f} {max(results)[1]}", flush=True)
    del x, y


def rows_plans(block_rs, block_ls, warps):
    return [("rows", 1, 1 << 40, r, l, w) for r, l, w in itertools.product(block_rs, block_ls, warps)]


def cols_plans(block_is, block_ls, warps):
    return [("cols", 1, 1 << 40, i, l, w) for i, l, w in itertools.product(block_is, block_ls, warps)]


def main():
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--only", default="", help="comma-separated case names")
    args = parser.parse_args()
    only = set(filter(None, args.only.split(",")))
    cases = [
        ("seed", (32768, 32768), 1, torch.float32,
         rows_plans([1], [1024, 2048, 4096, 8192], [1, 2, 4]) + rows_plans([2, 4, 8], [1024, 2048, 4096], [2, 4, 8])),
        ("seed-bf16", (32768, 32768), 1, torch.bfloat16, rows_plans([1], [2048, 4096, 8192], [1, 2, 4])),
        ("dim0", (32768, 32768), 0, torch.float32, cols_plans([32, 64, 128], [32, 64, 128, 256], [2, 4])),
        ("short", (4194304, 64), 1, torch.float32, rows_plans([16, 32, 64], [64], [1, 2, 4])),
        ("mid", (64, 4096, 1024), 1, torch.float32, cols_plans([32, 64, 128], [32, 64, 128, 256], [2, 4])),
    ]
    for name, shape, dim, dtype, plans in cases:
        if not only or name in only:
            sweep(name, shape, dim, dtype, plans)


if __name__ == "__main__":
    main()

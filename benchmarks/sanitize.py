"""One small case per strategy, forward (plain, exclusive and reverse) and backward, for
`compute-sanitizer --tool memcheck python benchmarks/sanitize.py`.

Each case crosses tile edges (odd sizes) so a masked load or store that went out of bounds would
show. Exits non-zero if a result differs from torch.cumprod (or its gradient) in float64.
"""
import sys

import torch

from triton_cumprod import cumprod
from triton_cumprod.api import torch_scan
from triton_cumprod.forward import view_plan
from triton_cumprod.layout import scan_view


def rtol(dtype):
    """A relative tolerance a few roundings of `dtype` wide."""
    return 1e-2 if dtype in (torch.float16, torch.bfloat16) else 1e-4

CASES = [
    ("rows, long", (3, 20001), 1, torch.float32),
    ("rows, short, many per tile", (1001, 37), 1, torch.float32),
    ("rows, strided (transposed)", (301, 257), 1, torch.float32),
    ("rows, single pass", (1, 1000003), 1, torch.float32),
    ("rows, single pass (fp64)", (2, 300007), 1, torch.float64),
    ("rows, split (int32 -> int64)", (2, 300007), 1, torch.int32),
    ("rows, single pass (int64), odd", (3, 300007), 1, torch.int64),
    ("short rows, 8-byte results", (1001, 10), 1, torch.int32),
    ("short rows, fp64", (333, 15), 1, torch.float64),
    ("flat rows of 3", (1001, 3), 1, torch.float32),
    ("flat rows of 7, fp16", (333, 7), 1, torch.float16),
    ("flat rows of 5, fp64", (333, 5), 1, torch.float64),
    ("flat rows of 2, int32 -> int64", (1001, 2), 1, torch.int32),
    ("flat rows of 13, bf16, odd count", (1001, 13), 1, torch.bfloat16),
    ("cols", (77, 513, 131), 1, torch.float32),
    ("cols, single pass", (200003, 3), 0, torch.float32),
    ("cols, single pass, bf16", (300007, 4), 0, torch.bfloat16),
    ("cols, single pass, 13 columns", (100003, 13), 0, torch.float32),
    ("cols, single pass (fp64)", (200003, 3), 0, torch.float64),
    ("cols, split (int64)", (200003, 3), 0, torch.int64),
    ("cols, transposed input", (3001, 513), 0, torch.float32),
    ("bf16 rows, split", (2, 300007), 1, torch.bfloat16),
    ("int32 -> int64 cols", (33, 1001, 9), 1, torch.int32),
    ("rows a program, odd length", (37, 32767), 1, torch.float32),
    ("rows a tile, odd length", (1001, 999), 1, torch.float32),
    ("rows, odd, sliced", (301, 1000), 1, torch.float32),
    ("single pass, odd rows", (3, 300007), 1, torch.float32),
    ("single pass, bf16 odd", (1, 1000001), 1, torch.bfloat16),
    ("column chain", (4001, 8192), 0, torch.float32),
    ("column chain, odd inner", (3001, 4097), 0, torch.float32),
    ("cols in units of 4 (combine.stride_unit)", (20, 64, 1000), 1, torch.float32),
    ("column chain in units of 4", (4001, 6072), 0, torch.float32),
    ("cols single pass, fp16 5 columns", (100003, 5), 0, torch.float16),
    ("16-bit cols off 16 bytes", (301, 77, 101), 1, torch.float16),
]

# exclusive and reverse scans: (name, shape, dim, dtype, exclusive, reverse)
OPTION_CASES = [
    ("rows, exclusive reverse", (3, 20001), 1, torch.float32, True, True),
    ("flat rows of 3, exclusive reverse, bf16", (1001, 3), 1, torch.bfloat16, True, True),
    ("single pass, exclusive reverse", (1, 1000003), 1, torch.float32, True, True),
    ("cols single pass, reverse", (200003, 3), 0, torch.float32, False, True),
    ("rows single pass (fp64), reverse", (2, 300007), 1, torch.float64, False, True),
    ("rows a program, odd, both", (37, 32767), 1, torch.float32, True, True),
    ("column chain, both", (4001, 8192), 0, torch.float32, True, True),
    ("cols single pass, bf16 3 columns, both", (3, 70001, 3), 1, torch.bfloat16, True, True),
]

# (name, shape, dim, exclusive, reverse[, dtype])
BACKWARD_CASES = [
    ("gradient, rows", (3, 20001), 1, False, False),
    ("gradient, short rows", (1001, 37), 1, False, False),
    ("gradient, flat rows of 3", (1001, 3), 1, False, False),
    ("gradient, flat rows of 8, both", (333, 8), 1, True, True),
    ("gradient, flat rows of 3, 3072", (1024, 3), 1, False, True),
    ("gradient, flat rows of 5, fp64", (333, 5), 1, True, False, torch.float64),
    ("gradient, flat rows of 13, bf16", (1001, 13), 1, False, True, torch.bfloat16),
    ("gradient, single pass", (1000003,), 0, False, False),
    ("gradient, cols", (77, 513, 131), 1, False, False),
    ("gradient, cols in units of 4", (20, 64, 1000), 1, False, False),
    ("gradient, column chain in units of 4", (4001, 6072), 0, True, True),
    ("gradient, cols split", (200003, 3), 0, False, False),
    ("gradient, rows, exclusive", (3, 20001), 1, True, False),
    ("gradient, rows, reverse", (3, 20001), 1, False, True),
    ("gradient, single pass, both", (1000003,), 0, True, True),
    ("gradient, cols split, both", (200003, 3), 0, True, True),
    ("gradient, bf16 cols", (77, 513, 131), 1, False, False, torch.bfloat16),
    ("gradient, bf16 cols, both", (77, 513, 131), 1, True, True, torch.bfloat16),
    ("gradient, odd rows", (37, 32767), 1, False, False),
    ("gradient, odd rows a tile", (1001, 999), 1, True, False),
    ("gradient, single pass, odd", (1000001,), 0, False, True),
    ("gradient, column chain", (4001, 8192), 0, False, False),
    ("gradient, column chain, both", (4001, 8192), 0, True, True),
    ("gradient, column chain, odd inner", (3001, 4097), 0, False, True),
    ("gradient, transposed x, cols", (3001, 513), 0, False, False, torch.float32, "transposed"),
    ("gradient, transposed x, chain", (2001, 4097), 0, True, True, torch.float32, "transposed"),
    ("gradient, sliced x, chain", (999, 3, 4097), 0, False, False, torch.float32, "sliced"),
    ("gradient, cols odd length, both", (301, 77, 131), 1, True, True),
    ("gradient, fp16 runs in units of 8, both", (20, 64, 1000), 1, True, True, torch.float16),
]


# Dims that do not merge around the scan (kernels/transposed.py): (name, shape, the order of its
# dims in memory, a slice of the last stored dim, dim, dtype, exclusive, reverse).
TURNED_CASES = [
    ("turned, scan contiguous", (7, 33, 19, 37), (0, 3, 2, 1), False, 1, torch.float32, False, False),
    ("turned, result along scan", (17, 3, 41), (2, 1, 0), False, 2, torch.float16, True, True),
    ("turned, split", (3, 100003, 2, 17), (0, 3, 2, 1), False, 1, torch.float32, False, True),
    ("turned, rows apart", (301, 7, 45), (0, 1, 2), True, 0, torch.float64, True, False),
    ("turned, int32", (5, 301, 3, 40), (0, 3, 2, 1), False, 1, torch.int32, False, False),
    ("turned, narrow result", (5, 301, 7), (0, 2, 1), True, 2, torch.float16, True, True),
]


def laid_out(shape, order, sliced, dtype):
    """An input of `shape` whose dims lie in memory in `order` (the outermost first), a slice one
    element into a last stored dim one longer where `sliced`: factors near one, or small integers."""
    stored = [shape[d] for d in order]
    stored[-1] += sliced
    if dtype.is_floating_point:
        x = (1 + (torch.rand(stored, device="cuda") - 0.5) / 64).to(dtype)
    else:
        x = torch.randint(-2, 3, stored, device="cuda", dtype=dtype)
    return (x[..., 1:] if sliced else x).permute(*[order.index(d) for d in range(len(shape))])


def check_turned(name, shape, order, sliced, dim, dtype, exclusive, reverse):
    x = laid_out(shape, order, sliced, dtype)
    y = cumprod(x, dim, exclusive=exclusive, reverse=reverse)
    ref = torch_scan(x.double() if dtype.is_floating_point else x.long(), dim, {}, exclusive, reverse)
    ok = torch.allclose(y.double(), ref.double(), rtol=rtol(dtype))
    torch.cuda.synchronize()
    print(f"{name:<28} {tuple(shape)} dim {dim} {dtype}: {'ok' if ok else 'WRONG'}", flush=True)
    return ok


def check_backward(name, shape, dim, exclusive, reverse, dtype=torch.float32, view=None):
    """`view`: x contiguous (None), its dims stored in reverse order ("transposed") or a slice of a
    last dim one longer ("sliced"), the layouts the gradient reads as they lie."""
    dims = range(len(shape))
    x = laid_out(shape, dims[::-1] if view == "transposed" else dims, view == "sliced", dtype).requires_grad_()
    g = torch.rand(shape, device="cuda").to(dtype)
    (ours,) = torch.autograd.grad(cumprod(x, dim, exclusive=exclusive, reverse=reverse), x, g)
    xd = x.detach().double().requires_grad_()
    (ref,) = torch.autograd.grad(torch_scan(xd, dim, {}, exclusive, reverse), xd, g.double())
    ok = ((ours.double() - ref).abs().max() <= rtol(dtype) * ref.abs().max()).item()
    print(f"{name:<28} {tuple(shape)} dim {dim}: {'ok' if ok else 'WRONG'}", flush=True)
    return ok


def main():
    failures = 0
    for name, shape, dim, dtype in CASES:
        if dtype.is_floating_point:
            x = (1 + (torch.rand(shape, device="cuda") - 0.5) / 64).to(dtype)
        else:
            x = torch.randint(-2, 3, shape, device="cuda", dtype=dtype)
        if name.startswith("rows, strided") or name.endswith("transposed input"):
            x = x.t().contiguous().t()
        if name.endswith("sliced"):
            x = x[:, 1:]
        y = cumprod(x, dim)
        plan = view_plan(*scan_view(x, dim), y.dtype)
        if dtype.is_floating_point:
            ref = torch.cumprod(x.double(), dim)
            ok = torch.allclose(y.double(), ref, rtol=rtol(dtype))
        else:
            ok = torch.equal(y, torch.cumprod(x, dim))
        torch.cuda.synchronize()
        failures += not ok
        print(f"{name:<28} {tuple(shape)} dim {dim} {dtype}: plan {plan} {'ok' if ok else 'WRONG'}", flush=True)
    for name, shape, dim, dtype, exclusive, reverse in OPTION_CASES:
        x = (1 + (torch.rand(shape, device="cuda") - 0.5) / 64).to(dtype)
        y = cumprod(x, dim, exclusive=exclusive, reverse=reverse)
        ok = torch.allclose(y.double(), torch_scan(x.double(), dim, {}, exclusive, reverse), rtol=rtol(dtype))
        failures += not ok
        print(f"{name:<28} {tuple(shape)} dim {dim} {dtype}: {'ok' if ok else 'WRONG'}", flush=True)
    for case in TURNED_CASES:
        failures += not check_turned(*case)
    for case in BACKWARD_CASES:
        failures += not check_backward(*case)
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())

"""One line per tree, for timing two versions of src side by side in one call (device time is
scarce): `gpu_check.sh ab` runs it on this src and on an earlier commit's, alternately. Each case
prints the ratio to x.clone(), the max relative error against float64 in eps (for a gradient,
then torch's own on the same input), and "!" where three more calls did not repeat the output
bitwise.

    python3 benchmarks/ab.py CASES TAG  (CASES: a key of CASES or GRADIENT_CASES below)
"""
import sys

import torch

from probe import make_probe_input, time_ms
from triton_cumprod import cumprod
from triton_cumprod.bench import SweepCase, backward_of, gradient_error, sweep_input

CASES = {
    # lines too few to fill the GPU: the split and what might replace it
    "split": [((9411, 3928), 0, torch.bfloat16), ((31249, 1201), 0, torch.float32), ((127235, 198), 0, torch.int32),
              ((7248, 2941), 0, torch.float64), ((12, 143746, 93), 1, torch.float64), ((4194304, 16), 0, torch.float32),
              ((1 << 20, 64), 0, torch.float32), ((131072, 8192), 0, torch.float64)],
    # a scan dim followed by 9-16 inner positions, contiguous or not
    "narrow": [((4194304, 16), 0, torch.float32), ((4194304, 12), 0, torch.float32), ((4194304, 13), 0, torch.float32),
               ((8388608, 16), 0, torch.bfloat16), ((6000001, 10), 0, torch.float16), ((2097152, 16), 0, torch.float64),
               ((3, 1398101, 16), 1, torch.float32), ((2, 999999, 9), 1, torch.float32)],
    # integer rows too few to fill the GPU: the split and the single pass
    "introws": [((145613435,), 0, torch.int32), ((69912092,), 0, torch.int32), ((1 << 28,), 0, torch.int32),
                ((32, 1 << 20), 1, torch.int64), ((16, 1 << 24), 1, torch.int32), ((100000007,), 0, torch.int64),
                ((3, 33554431), 1, torch.int16), ((127235, 198), 0, torch.int32)],
    # 1-D and few long rows in the single pass: 16-bit tiles, groups of 8-byte ones
    "lookback": [((1 << 28,), 0, torch.bfloat16), ((54439559,), 0, torch.float16), ((183300540,), 0, torch.bfloat16),
                 ((16, 1 << 24), 1, torch.bfloat16), ((47488622,), 0, torch.float64), ((178587903,), 0, torch.float64),
                 ((12, 1938515), 1, torch.float64), ((100000007,), 0, torch.int64)],
    # rows that start or end inside a vector, in the single pass: the pieces around the body
    "edges": [((268435455,), 0, torch.float32), ((48413427,), 0, torch.float32), ((16, 16777215), 1, torch.float32),
              ((100000007,), 0, torch.float32), ((183300540,), 0, torch.bfloat16), ((54439559,), 0, torch.float16),
              ((47488623,), 0, torch.float64), ((100000007,), 0, torch.int64)],
    # integer rows a program (the suite's int32 -> int64), and float and odd-length controls
    "introws-long": [((16384, 32768), 1, torch.int32), ((16384, 32768), 1, torch.int64),
                     ((32768, 16384), 1, torch.int16), ((8192, 65536), 1, torch.int32),
                     ((16384, 32767), 1, torch.int32), ((32768, 32768), 1, torch.float32)],
    # odd neighbours of the layouts the single pass's settings were chosen on
    "neighbours": [((1 << 28,), 0, torch.bfloat16), ((268435455,), 0, torch.bfloat16),
                   ((16, 1 << 24), 1, torch.bfloat16), ((16, 16777215), 1, torch.bfloat16),
                   ((47488622,), 0, torch.float64), ((47488623,), 0, torch.float64),
                   ((100000006,), 0, torch.int64), ((54439560,), 0, torch.float16)],
    # rows of 8 or fewer (tiles as narrow as the rows, or 16 wide), and rows of 10 and 16 as controls
    "short": [((446, 102, 345, 4), 3, torch.float32), ((6000000, 3), 1, torch.float32),
              ((4000000, 8), 1, torch.float32), ((2955, 3, 723, 7), 3, torch.float16),
              ((4000000, 5), 1, torch.float64), ((6000000, 3), 1, torch.int32),
              ((2000000, 16), 1, torch.float32), ((4, 734, 2127, 10), 3, torch.int32)],
    # rows of fewer than 16 (kernels/flat.py, or tiles of rows), rows of 16 as the control
    "flat": [((446, 102, 345, 4), 3, torch.float32), ((6000000, 3), 1, torch.float32),
             ((4000000, 5), 1, torch.float64), ((6000000, 3), 1, torch.int32), ((4, 734, 2127, 10), 3, torch.int32),
             ((3000000, 11), 1, torch.float32), ((4000000, 13), 1, torch.bfloat16), ((6000001, 3), 1, torch.float32),
             ((2955, 3, 723, 7), 3, torch.float16), ((2000000, 16), 1, torch.float32)],
    # column layouts whose inner size is no multiple of 16, so that Triton proves no 16-byte rows
    # without combine.stride_unit (the chain 64 deep where rows do not start on 16 bytes, whole
    # vectors where they do; 5104 x 301 x 100 keeps element loads), with aligned controls
    "fwd-unaligned": [((131071, 8191), 0, torch.float32), ((13375, 6072), 0, torch.float32),
                      ((131071, 8193), 0, torch.float16), ((999, 3, 4097), 0, torch.float32),
                      ((4, 16383, 2047), 1, torch.float32), ((64, 4096, 1000), 1, torch.float32),
                      ((64, 4096, 1000), 1, torch.bfloat16), ((9, 12345, 604), 1, torch.float32),
                      ((5104, 301, 100), 1, torch.float32), ((131072, 8192), 0, torch.float32),
                      ((13376, 6080), 0, torch.float32), ((32767, 32767), 0, torch.float32),
                      ((64, 4096, 1024), 1, torch.float32)],
    # column walks whose length is no multiple of 16 (5104 x 301 x 128 spilled 776 bytes on sm_90
    # until the walk masked its rows by their numbers in the tile: NOTES 2026-12-08), with controls
    "fwd-mask": [((5104, 301, 128), 1, torch.float32), ((5104, 301, 128), 1, torch.bfloat16),
                 ((5104, 301, 100), 1, torch.float32), ((77, 999, 5000), 1, torch.float32),
                 ((3000, 17, 4004), 1, torch.float32), ((141, 8, 52, 190), 2, torch.float64),
                 ((31249, 1201), 0, torch.float32), ((1000, 1003), 0, torch.float32),
                 ((32768, 32768), 0, torch.float32), ((64, 4096, 1024), 1, torch.float32),
                 ((4194304, 64), 0, torch.float32)],
    # layouts that spilled in compile_check's audit of the sweep (NOTES 2026-12-08): the single pass
    # over a few 16-bit columns that are not one packed run (now on fp32's warps) and 16-bit column
    # walks whose rows start off 16 bytes (now 32 rows deep), with packed and aligned controls
    "fwd-spills": [((4, 16777216, 3), 1, torch.bfloat16), ((4, 16777216, 3), 1, torch.float16),
                   ((116780, 5), 0, torch.float16), ((3, 77026, 10), 1, torch.bfloat16),
                   ((2000000, 8), 0, torch.bfloat16, "sliced"), ((4, 16777216, 3), 1, torch.float32),
                   ((16777216, 4), 0, torch.bfloat16), ((25, 26, 480, 713), 2, torch.float16),
                   ((1000, 1003), 0, torch.float16), ((5104, 301, 101), 1, torch.bfloat16),
                   ((25, 26, 480, 712), 2, torch.float16), ((32768, 32768), 0, torch.bfloat16)],
    # 2-D transposed inputs scanned along their contiguous dim: deep tiles where the lines hold few
    # warps (the first seven), and two controls that keep their tiles
    "transposed": [((13376, 6080), 0, torch.float32, "transposed"), ((13375, 6072), 0, torch.float32, "transposed"),
                   ((13375, 6072), 0, torch.int32, "transposed"), ((13375, 6072), 0, torch.float64, "transposed"),
                   ((13376, 6080), 0, torch.int32, "transposed"), ((13376, 6080), 0, torch.float64, "transposed"),
                   ((8191, 8193), 0, torch.float32, "transposed"), ((30001, 2000), 0, torch.float32, "transposed"),
                   ((125, 1072, 117), 1, torch.float32, "transposed"),
                   ((4095, 65535), 0, torch.float32, "transposed"), ((1914, 22690), 0, torch.float16, "transposed")],
}
# Gradients, timed as ratios to two copies (a gradient reads x, y and the output's gradient and
# writes one tensor): short rows, and the sweep's lowest.
GRADIENT_CASES = {
    "bw-short": [((2955, 3, 723, 7), 3, torch.float16), ((6000000, 3), 1, torch.float32),
                 ((4000000, 8), 1, torch.float32), ((4000000, 5), 1, torch.float64),
                 ((2000000, 16), 1, torch.float32), ((446, 102, 345, 4), 3, torch.float32),
                 ((2194971, 9), 1, torch.float32), ((6000001, 3), 1, torch.float32),
                 ((4000000, 13), 1, torch.bfloat16)],
    # transposed and sliced inputs, which the gradient copies first (branch try/bw-turned reads
    # them as they lie): the backward sweep's, neighbours no sweep drew, and contiguous controls
    "bw-turned": [((88, 20, 208, 75), 1, torch.float32, "transposed"),
                  ((125, 1072, 117), 1, torch.float32, "transposed"),
                  ((13375, 6072), 0, torch.float32, "transposed"),
                  ((31547, 2, 5, 386), 0, torch.float64, "transposed"),
                  ((847, 1452, 57), 0, torch.float64, "transposed"),
                  ((47, 440, 24, 101), 2, torch.float32, "transposed"),
                  ((145306, 58, 10), 1, torch.float32, "transposed"),
                  ((9046605, 11), 0, torch.float16, "transposed"),
                  ((5, 3115, 190, 41), 1, torch.float64, "transposed"),
                  ((1115, 98, 489), 2, torch.float32, "sliced"), ((11, 122, 136, 125), 3, torch.float32, "sliced"),
                  ((8191, 8193), 1, torch.float32, "transposed"), ((30001, 2000), 0, torch.bfloat16, "transposed"),
                  ((999, 3, 4097), 0, torch.float32, "sliced"),
                  ((8192, 8192), 0, torch.float32), ((131072, 8192), 0, torch.float32)],
    # neighbours of the layouts 9043e19 was measured on that no call has timed: aligned and odd
    # around the chain's tiles, and result axes either side of gradient_view's 32 bytes
    "bw-neighbours": [((13376, 6080), 0, torch.float32), ((65535, 4095), 0, torch.float32),
                      ((999, 3, 4096), 0, torch.float32), ((13376, 6080), 0, torch.float32, "transposed"),
                      ((9046605, 16), 0, torch.float16, "transposed"), ((9046605, 15), 0, torch.float16, "transposed"),
                      ((145306, 58, 8), 1, torch.float32, "transposed"),
                      ((145306, 58, 7), 1, torch.float32, "transposed")],
    # column gradients whose inner size is no multiple of 16 but whose rows start on 16 bytes
    # (combine.stride_unit), and an aligned control
    "bw-unaligned": [((64, 4096, 1000), 1, torch.float32), ((200, 4001, 252), 1, torch.float32),
                     ((33333, 1004), 0, torch.float32), ((100001, 2002), 0, torch.float32),
                     ((3, 40000, 500), 1, torch.bfloat16), ((13375, 6072), 0, torch.float32),
                     ((9, 12345, 604), 1, torch.float32), ((64, 4096, 1024), 1, torch.float32)],
    # column gradient walks, which mask their rows by their numbers in the tile since 2026-12-08,
    # and 16-bit ones in units of 16 bytes where lanes own runs, with aligned controls
    "bw-masks": [((100001, 2002), 0, torch.float32), ((31249, 1201), 0, torch.float32),
                 ((3, 40000, 500), 1, torch.bfloat16), ((64, 4096, 1000), 1, torch.bfloat16),
                 ((64, 4096, 1000), 1, torch.float16), ((200, 4001, 252), 1, torch.float16),
                 ((1000, 1003), 0, torch.float16), ((64, 4096, 1024), 1, torch.bfloat16),
                 ((64, 4096, 1024), 1, torch.float32), ((32768, 32768), 0, torch.float32)],
    # column gradients whose lines neither fill the GPU nor take the chain, with their even controls
    "bw-cols": [((131071, 8191), 0, torch.float32), ((131072, 8192), 0, torch.float32),
                ((4, 16383, 2047), 1, torch.float32), ((4, 16384, 2048), 1, torch.float32),
                ((131072, 8192), 0, torch.bfloat16), ((131071, 8193), 0, torch.float16),
                ((65536, 4096), 0, torch.float32), ((13375, 6072), 0, torch.float32),
                ((32767, 32767), 0, torch.float32), ((999, 3, 4097), 0, torch.float32)],
}


def case_input(shape, dim, dtype, view):
    """The input of a case: laid out as the random sweep lays out `view` ("transposed", "sliced":
    bench.sweep_input), else contiguous."""
    if view:
        return sweep_input(SweepCase(shape, dim, str(dtype).split(".")[1], *view), "cuda")
    return make_probe_input(shape, dtype)


def gradient_figure(shape, dim, dtype, view):
    """Ratio of a gradient to two copies, its error and torch's in eps (bench.gradient_error:
    against float64 on sampled lines, relative to the largest entry), and "!" where three more
    calls did not repeat it bitwise."""
    x = case_input(shape, dim, dtype, view)
    run, g = backward_of(cumprod, x, dim)
    grad = run()
    err = gradient_error(x, grad, dim, g) / torch.finfo(dtype).eps
    same = all(torch.equal(grad, run()) for _ in range(3))
    del grad
    leaf = x.detach().requires_grad_()
    (theirs,) = torch.autograd.grad(torch.cumprod(leaf, dim), leaf, g)
    torch_err = gradient_error(x, theirs, dim, g) / torch.finfo(dtype).eps
    del theirs, leaf
    ratio = 2 * time_ms(lambda: x.clone(), rep=200) / time_ms(run, rep=200)
    return f"{ratio:.3f}/{err:.0f}/{torch_err:.0f}{'' if same else '!'}"


def main(cases, tag):
    figures = []
    for shape, dim, dtype, *view in GRADIENT_CASES.get(cases, []):
        figures.append(gradient_figure(shape, dim, dtype, view))
    for shape, dim, dtype, *view in CASES.get(cases, []):
        x = case_input(shape, dim, dtype, view)
        y = cumprod(x, dim)
        if dtype.is_floating_point:
            ref = torch.cumprod(x.double(), dim)
            # Relative to the dtype's smallest normal where the float64 product is below it (fp16
            # lines of 10^7 near-one factors underflow, and 0 / 0 is no error).
            scale = ref.abs().clamp_min(torch.finfo(dtype).tiny)
            err = f"{((y.double() - ref).abs() / scale).max().item() / torch.finfo(dtype).eps:.0f}"
        else:
            err = "0" if torch.equal(y, torch.cumprod(x, dim)) else "wrong"
        same = all(torch.equal(y, cumprod(x, dim)) for _ in range(3))
        ratio = time_ms(lambda: x.clone(), rep=200) / time_ms(lambda: cumprod(x, dim), rep=200)
        figures.append(f"{ratio:.3f}/{err}{'' if same else '!'}")
        del x, y
    print(tag, " ".join(figures), flush=True)


if __name__ == "__main__":
    main(*sys.argv[1:3])

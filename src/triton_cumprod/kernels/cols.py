import torch
import triton
import triton.language as tl

from ..dispatch import ceil_div
from .combine import (accumulator_dtype, aggregate_dtype, arrival, in_units, leaving, mul_combine, scan_tile,
                      triton_dtype)


@triton.jit
def column_block(pid, pid_c, inner, length, chunk, BLOCK_I: tl.constexpr, RUN: tl.constexpr = 0):
    # Program (pid, pid_c) of a column layout owns BLOCK_I neighbouring inner positions of one outer
    # index, as [BLOCK_I] or, given RUN, as [BLOCK_I // RUN, 1, RUN] runs of RUN neighbours, and scan
    # positions [start, end): (outer, cols, col_mask, start, end).
    n_col_blocks = tl.cdiv(inner, BLOCK_I)
    first = (pid % n_col_blocks) * BLOCK_I
    if RUN:
        cols = first + tl.arange(0, BLOCK_I // RUN)[:, None, None] * RUN + tl.arange(0, RUN)[None, None, :]
    else:
        cols = first + tl.arange(0, BLOCK_I)
    start = pid_c.to(tl.int64) * chunk
    return (pid // n_col_blocks).to(tl.int64), cols, cols < inner, start, tl.minimum(start + chunk, length)


@triton.jit
def scan_cols_kernel(
    x_ptr,  # input, read as (n_outer, length, inner) through its own strides
    y_ptr,  # output: contiguous (n_outer, length, inner), or (n_outer, n_chunks, inner) if REDUCE
    prefix_ptr,  # (n_outer, n_chunks, inner) inclusive products of the chunks; read if HAS_PREFIX
    n_outer,
    length,
    inner_units,  # inner, in units of UNIT elements
    chunk,  # scan positions that one program covers (a multiple of BLOCK_L)
    stride_xo_units,  # in units of UNIT elements
    stride_xl_units,  # in units of UNIT elements
    stride_xi,
    OUT: tl.constexpr,  # output dtype: the input is cast to it before the scan, as torch does
    ACC: tl.constexpr,  # dtype the products are computed in (with REDUCE, the chunk products' dtype)
    BLOCK_L: tl.constexpr,  # scan positions per step
    BLOCK_I: tl.constexpr,  # inner positions per program: the coalesced axis
    RUN: tl.constexpr,  # inner positions side by side in a thread's registers (BLOCK_I: a [BLOCK_L, BLOCK_I] tile)
    REDUCE: tl.constexpr,  # write the product of each chunk instead of the scan
    HAS_PREFIX: tl.constexpr,  # chunk c starts from the inclusive product of the chunks before it
    STAGES: tl.constexpr,  # tiles in flight: above 1, the next tiles' loads start before this one's scan
    EXCLUSIVE: tl.constexpr,  # each output is the product of the elements before it
    REVERSE: tl.constexpr,  # scan from each line's end
    UNIT: tl.constexpr,  # elements that divide inner and x's outer and scan strides (combine.stride_unit)
):
    # Program (p, c) owns BLOCK_I neighbouring columns of one outer index and walks scan positions
    # [c * chunk, +chunk) in [BLOCK_I // RUN, BLOCK_L, RUN] tiles, loading whole cache lines along
    # `inner`. Triton gives each thread RUN neighbouring columns whole (the run axis is the
    # contiguous one, the lanes take the runs), so a thread scans its columns in order, as torch
    # does; with RUN = BLOCK_I the tile is [1, BLOCK_L, BLOCK_I] and the lanes split the columns.
    inner, stride_xo, stride_xl = inner_units * UNIT, stride_xo_units * UNIT, stride_xl_units * UNIT
    pid_c = tl.program_id(1)
    n_chunks = tl.num_programs(1)
    outer, cols, col_mask, start, end = column_block(tl.program_id(0), pid_c, inner, length, chunk, BLOCK_I, RUN)
    if HAS_PREFIX:
        arrive, arrives = arrival(pid_c, n_chunks, REVERSE)
        carry = tl.load(prefix_ptr + (outer * n_chunks + arrive) * inner + cols, mask=col_mask & arrives,
                        other=1).to(ACC)
    else:
        carry = tl.full([BLOCK_I // RUN, 1, RUN], 1, ACC)
    x_cols = x_ptr + outer * stride_xo + cols.to(tl.int64) * stride_xi
    y_cols = y_ptr + outer * length * inner + cols
    if REVERSE:
        last_pos = start + (tl.cdiv(end - start, BLOCK_L) - 1) * BLOCK_L  # the chunk's last step
    # The tile's rows in the order the scan meets them: a reverse scan reads each step from its last
    # position and scans it forwards (triton 3.6's reverse scan costs many shuffles, even along
    # the axis each thread holds whole).
    order = tl.arange(0, BLOCK_L)[None, :, None]
    for pos in tl.range(start, end, BLOCK_L, num_stages=STAGES):
        if REVERSE:
            pos = last_pos - (pos - start)  # the steps from the chunk's end
            steps = pos + BLOCK_L - 1 - order
        else:
            steps = pos + order
        # Rows in the chunk, by the tile's row numbers against a scalar: through `steps` each
        # row's mask is a 64-bit value of its own, and LLVM keeps a pointer a row live across the
        # loop (fp32 5104 x 301 x 128 dim 1: 776 bytes of spill on sm_90; 221 registers so).
        mask = ((BLOCK_L - 1 - order if REVERSE else order) < end - pos) & col_mask
        x = tl.load(x_cols + steps * stride_xl, mask=mask, other=1).to(OUT).to(ACC)
        if REVERSE or REDUCE:
            # A reverse scan meets the masked tail first, and a chunk's product takes it in: 1 by a
            # select (triton 3.6's interpreter ignores `other` for bf16 loads).
            x = tl.where(mask, x, 1)
        if REDUCE:
            carry = carry * tl.reduce(x, 1, mul_combine, keep_dims=True)
        else:
            y, inclusive = scan_tile(x, carry, order, 0, 1, EXCLUSIVE, False)
            tl.store(y_cols + steps * inner, y.to(OUT), mask=mask)
            carry = leaving(inclusive, order, 0, 1, False)[:, None, :]
    if REDUCE:
        tl.store(y_ptr + (outer * n_chunks + pid_c) * inner + cols, carry, mask=col_mask)


def launch_cols(x, y, prefix, n_outer, length, inner, strides, out_dtype, plan, reduce, exclusive=False,
                reverse=False):
    """Scan (or, with `reduce`, take chunk products of) the middle axis of `x` into `y`, with the
    input `strides` and the tile sizes of `plan` = (kind, n_chunks, chunk, BLOCK_I, BLOCK_L, num_warps,
    num_stages). Returns the launch (compiled kernel, grid, arguments in the kernel's order)."""
    _, n_chunks, chunk, block_i, block_l, num_warps, num_stages = plan
    grid = (n_outer * ceil_div(inner, block_i), n_chunks)
    stride_xo, stride_xl, stride_xi = strides
    unit, (inner_units, stride_xo_units, stride_xl_units) = in_units((inner, stride_xo, stride_xl),
                                                                      (x.element_size(), y.element_size()))
    # An input contiguous along the scan puts the lanes along it, and float32 products of near-one
    # factors taken across them round down more often than up (combine.aggregate_dtype): float32
    # results multiply in float64 there (fp32 4095 x 65535 dim 0 on 64 x 32 tiles: 75-79 eps in
    # float32, 0 so, torch's 49; benchmarks/NOTES.md, 2026-12-07).
    across_lanes = stride_xl == 1 and out_dtype == torch.float32
    acc = aggregate_dtype(out_dtype) if reduce or across_lanes else accumulator_dtype(out_dtype)
    args = dict(
        x_ptr=x, y_ptr=y, prefix_ptr=y if prefix is None else prefix, n_outer=n_outer, length=length,
        inner_units=inner_units, chunk=chunk, stride_xo_units=stride_xo_units, stride_xl_units=stride_xl_units,
        stride_xi=stride_xi, OUT=triton_dtype(out_dtype),
        ACC=triton_dtype(acc), BLOCK_L=block_l, BLOCK_I=block_i, REDUCE=reduce, HAS_PREFIX=prefix is not None,
        STAGES=num_stages, EXCLUSIVE=exclusive, REVERSE=reverse,
        RUN=column_run(block_i, num_warps, num_stages, reverse), UNIT=unit,
    )
    return scan_cols_kernel[grid](**args, num_warps=num_warps), grid, args


def column_run(block_i, num_warps, num_stages, reverse):
    """RUN of scan_cols_kernel for a tile of `block_i` columns: the columns each lane owns, or
    block_i itself (lanes split the columns, 16 bytes each) where the tile is pipelined, too narrow
    or walked backwards. Measured on 64 x 4096 x 1024 fp32: runs of two on 64 columns 0.93, lanes
    of 16 bytes on 128 columns in three stages 0.90; in runs the pipelined tiles fall to 0.54-0.70,
    and tiles walked backwards are held whole in registers (dispatch.tile_settings)."""
    lanes = 32 * num_warps
    return block_i if num_stages > 1 or reverse or block_i < 2 * lanes else block_i // lanes

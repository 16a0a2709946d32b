import triton
import triton.language as tl

from ..dispatch import ceil_div
from .combine import (accumulator_dtype, aggregate_dtype, arrival, leaving, leaving_mirrored, mirrored, mul_combine,
                      run_length, scan_mirrored, scan_tile, triton_dtype)


@triton.jit
def row_block(pid_r, pid_c, n_rows, length, chunk, BLOCK_R: tl.constexpr):
    # Program (pid_r, pid_c) of a row layout owns rows [pid_r * BLOCK_R, +BLOCK_R) and positions
    # [start, end) of them: (rows, row_mask, start, end).
    rows = pid_r.to(tl.int64) * BLOCK_R + tl.arange(0, BLOCK_R)
    start = pid_c.to(tl.int64) * chunk
    return rows, rows < n_rows, start, tl.minimum(start + chunk, length)


@triton.jit
def scan_rows_kernel(
    x_ptr,  # input, read as (n_rows, length) through its own strides
    y_ptr,  # output: contiguous (n_rows, length), or (n_rows, n_chunks) chunk products if REDUCE
    prefix_ptr,  # (n_rows, n_chunks) inclusive products of the chunks; read if HAS_PREFIX
    n_rows,
    length,
    chunk,  # elements of a row that one program covers (a multiple of BLOCK_L)
    stride_xr,
    stride_xl,
    OUT: tl.constexpr,  # output dtype: the input is cast to it before the scan, as torch does
    ACC: tl.constexpr,  # dtype the products are computed in (with REDUCE, the chunk products' dtype)
    BLOCK_R: tl.constexpr,  # rows per program
    BLOCK_L: tl.constexpr,  # elements per row and step
    REDUCE: tl.constexpr,  # write the product of each chunk instead of the scan
    HAS_PREFIX: tl.constexpr,  # chunk c starts from the inclusive product of the chunks before it
    STAGES: tl.constexpr,  # tiles in flight: above 1, the next tiles' loads start before this one's scan
    EXCLUSIVE: tl.constexpr,  # each output is the product of the elements before it
    REVERSE: tl.constexpr,  # scan from each row's end
    RUN: tl.constexpr,  # elements a thread stores at once (16 bytes) when one row is scanned from its end
):
    # Program (r, c) scans rows [r * BLOCK_R, +BLOCK_R) over columns [c * chunk, +chunk),
    # walking the chunk BLOCK_L at a time and carrying each row's running product.
    pid_c = tl.program_id(1)
    n_chunks = tl.num_programs(1)
    rows, row_mask, start, end = row_block(tl.program_id(0), pid_c, n_rows, length, chunk, BLOCK_R)
    if HAS_PREFIX:
        arrive, arrives = arrival(pid_c, n_chunks, REVERSE)
        carry = tl.load(prefix_ptr + rows * n_chunks + arrive, mask=row_mask & arrives, other=1).to(ACC)
    else:
        carry = tl.full([BLOCK_R], 1, ACC)
    x_rows = x_ptr + rows[:, None] * stride_xr
    y_rows = y_ptr + rows[:, None] * length
    # One row scanned from its end reads each step backwards in runs and scans it forwards (see
    # scan_mirrored).
    MIRRORED: tl.constexpr = REVERSE and BLOCK_R == 1 and not REDUCE
    if REVERSE:
        last_col = start + (tl.cdiv(end - start, BLOCK_L) - 1) * BLOCK_L  # the chunk's last step
    for col in tl.range(start, end, BLOCK_L, num_stages=STAGES):
        if REVERSE:
            col = last_col - (col - start)  # the steps from the chunk's end
        if MIRRORED:
            cols = mirrored(col, BLOCK_L, RUN)
        else:
            cols = (col + tl.arange(0, BLOCK_L))[None, :]
        mask = row_mask[:, None] & (cols < end)
        x = tl.load(x_rows + cols * stride_xl, mask=mask, other=1).to(OUT).to(ACC)
        if REVERSE or REDUCE:
            # A reverse scan meets the masked tail first, and a chunk's product takes it in: 1 by a
            # select (triton 3.6's interpreter ignores `other` for bf16 loads).
            x = tl.where(mask, x, 1)
        if REDUCE:
            carry = carry * tl.reduce(x, 1, mul_combine)
        elif MIRRORED:
            y, inclusive = scan_mirrored(x, carry, EXCLUSIVE)
            tl.store(y_rows + cols, y.to(OUT), mask=mask)
            carry = leaving_mirrored(inclusive)
        else:
            y, inclusive = scan_tile(x, carry[:, None], cols, col, 1, EXCLUSIVE, REVERSE)
            tl.store(y_rows + cols, y.to(OUT), mask=mask)
            carry = leaving(inclusive, cols, col, 1, REVERSE)
    if REDUCE:
        tl.store(y_ptr + rows * n_chunks + pid_c, carry, mask=row_mask)


def launch_rows(x, y, prefix, n_rows, length, stride_xr, stride_xl, out_dtype, plan, reduce, exclusive=False,
                reverse=False):
    """Scan (or, with `reduce`, take chunk products of) rows of `x` into `y` with the strides and
    tile sizes of `plan` = (kind, n_chunks, chunk, BLOCK_R, BLOCK_L, num_warps, num_stages).
    Returns the launch (compiled kernel, grid, arguments in the kernel's order), for replay.py."""
    _, n_chunks, chunk, block_r, block_l, num_warps, num_stages = plan
    grid = (ceil_div(n_rows, block_r), n_chunks)
    acc = aggregate_dtype(out_dtype) if reduce else accumulator_dtype(out_dtype)
    args = dict(
        x_ptr=x, y_ptr=y, prefix_ptr=y if prefix is None else prefix, n_rows=n_rows, length=length, chunk=chunk,
        stride_xr=stride_xr, stride_xl=stride_xl, OUT=triton_dtype(out_dtype), ACC=triton_dtype(acc), BLOCK_R=block_r,
        BLOCK_L=block_l, REDUCE=reduce, HAS_PREFIX=prefix is not None, STAGES=num_stages, EXCLUSIVE=exclusive,
        REVERSE=reverse, RUN=run_length(x, block_l, stride_xl),
    )
    return scan_rows_kernel[grid](**args, num_warps=num_warps), grid, args

import triton
import triton.language as tl

from ..dispatch import ceil_div
from .combine import accumulator_dtype, mul_combine, pick, triton_dtype


@triton.jit
def column_block(pid, pid_c, inner, length, chunk, BLOCK_I: tl.constexpr):
    # Program (pid, pid_c) of a column layout owns BLOCK_I neighbouring inner positions of one outer
    # index and scan positions [start, end): (outer, cols, col_mask, start, end).
    n_col_blocks = tl.cdiv(inner, BLOCK_I)
    cols = (pid % n_col_blocks) * BLOCK_I + tl.arange(0, BLOCK_I)
    start = pid_c.to(tl.int64) * chunk
    return (pid // n_col_blocks).to(tl.int64), cols, cols < inner, start, tl.minimum(start + chunk, length)


@triton.jit
def scan_cols_kernel(
    x_ptr,  # input, read as (n_outer, length, inner) through its own strides
    y_ptr,  # output: contiguous (n_outer, length, inner), or (n_outer, n_chunks, inner) if REDUCE
    prefix_ptr,  # (n_outer, n_chunks, inner) inclusive products of the chunks; read if HAS_PREFIX
    n_outer,
    length,
    inner,
    chunk,  # scan positions that one program covers (a multiple of BLOCK_L)
    stride_xo,
    stride_xl,
    stride_xi,
    OUT: tl.constexpr,  # output dtype: the input is cast to it before the scan, as torch does
    ACC: tl.constexpr,  # dtype the products are computed in
    BLOCK_L: tl.constexpr,  # scan positions per step
    BLOCK_I: tl.constexpr,  # inner positions per program: the coalesced axis
    REDUCE: tl.constexpr,  # write the product of each chunk instead of the scan
    HAS_PREFIX: tl.constexpr,  # chunk c starts from prefix[:, c - 1] instead of 1
):
    # Program (p, c) owns BLOCK_I neighbouring columns of one outer index and walks scan positions
    # [c * chunk, +chunk) in [BLOCK_L, BLOCK_I] tiles, loading whole cache lines along `inner`.
    pid_c = tl.program_id(1)
    n_chunks = tl.num_programs(1)
    outer, cols, col_mask, start, end = column_block(tl.program_id(0), pid_c, inner, length, chunk, BLOCK_I)
    if HAS_PREFIX:
        prefix = prefix_ptr + (outer * n_chunks + pid_c - 1) * inner + cols
        carry = tl.load(prefix, mask=col_mask & (pid_c > 0), other=1).to(ACC)
    else:
        carry = tl.full([BLOCK_I], 1, ACC)
    x_cols = x_ptr + outer * stride_xo + cols.to(tl.int64) * stride_xi
    y_cols = y_ptr + outer * length * inner + cols
    for pos in range(start, end, BLOCK_L):
        steps = pos + tl.arange(0, BLOCK_L)
        mask = (steps < end)[:, None] & col_mask[None, :]
        x = tl.load(x_cols[None, :] + steps[:, None] * stride_xl, mask=mask, other=1)
        x = x.to(OUT).to(ACC)
        # Fold the running product into the step's first row, so the scan continues each column;
        # the next carry is the scan's last row (masked rows hold 1), so every step goes on from
        # exactly the value the last one wrote.
        y = tl.associative_scan(tl.where(steps[:, None] == pos, x * carry[None, :], x), 0, mul_combine)
        if not REDUCE:
            tl.store(y_cols[None, :] + steps[:, None] * inner, y.to(OUT), mask=mask)
        carry = pick(y, steps[:, None] == pos + BLOCK_L - 1, 0)
    if REDUCE:
        tl.store(y_ptr + (outer * n_chunks + pid_c) * inner + cols, carry, mask=col_mask)


def launch_cols(x, y, prefix, n_outer, length, inner, strides, out_dtype, plan, reduce):
    """Scan (or, with `reduce`, take chunk products of) the middle axis of `x` into `y`, with the
    input `strides` and the tile sizes of `plan` = (kind, n_chunks, chunk, BLOCK_I, BLOCK_L, num_warps)."""
    _, n_chunks, chunk, block_i, block_l, num_warps = plan
    grid = (n_outer * ceil_div(inner, block_i), n_chunks)
    scan_cols_kernel[grid](
        x, y, y if prefix is None else prefix, n_outer, length, inner, chunk, *strides,
        OUT=triton_dtype(out_dtype), ACC=triton_dtype(accumulator_dtype(out_dtype)), BLOCK_L=block_l, BLOCK_I=block_i,
        REDUCE=reduce, HAS_PREFIX=prefix is not None, num_warps=num_warps,
    )

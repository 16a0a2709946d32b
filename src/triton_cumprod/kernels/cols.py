import triton
import triton.language as tl

from ..dispatch import ceil_div
from .combine import accumulator_dtype, aggregate_dtype, leaving, mul_combine, scan_tile, triton_dtype


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
    ACC: tl.constexpr,  # dtype the products are computed in (with REDUCE, the chunk products' dtype)
    BLOCK_L: tl.constexpr,  # scan positions per step
    BLOCK_I: tl.constexpr,  # inner positions per program: the coalesced axis
    REDUCE: tl.constexpr,  # write the product of each chunk instead of the scan
    HAS_PREFIX: tl.constexpr,  # chunk c starts from the inclusive product of the chunks before it
    STAGES: tl.constexpr,  # tiles in flight: above 1, the next tiles' loads start before this one's scan
    EXCLUSIVE: tl.constexpr,  # each output is the product of the elements before it
    REVERSE: tl.constexpr,  # scan from each line's end
):
    # Program (p, c) owns BLOCK_I neighbouring columns of one outer index and walks scan positions
    # [c * chunk, +chunk) in [BLOCK_L, BLOCK_I] tiles, loading whole cache lines along `inner`.
    pid_c = tl.program_id(1)
    n_chunks = tl.num_programs(1)
    outer, cols, col_mask, start, end = column_block(tl.program_id(0), pid_c, inner, length, chunk, BLOCK_I)
    if HAS_PREFIX:
        arrive = pid_c + 1 if REVERSE else pid_c - 1  # the chunk the scan arrives from
        inside = col_mask & (arrive >= 0) & (arrive < n_chunks)
        carry = tl.load(prefix_ptr + (outer * n_chunks + arrive) * inner + cols, mask=inside, other=1).to(ACC)
    else:
        carry = tl.full([BLOCK_I], 1, ACC)
    x_cols = x_ptr + outer * stride_xo + cols.to(tl.int64) * stride_xi
    y_cols = y_ptr + outer * length * inner + cols
    if REVERSE:
        last_pos = start + (tl.cdiv(end - start, BLOCK_L) - 1) * BLOCK_L  # the chunk's last step
    # The tile's rows in the order the scan meets them: a reverse scan reads each step from its last
    # position and scans it forwards (triton 3.6's reverse scan costs many shuffles, even along
    # the axis each thread holds whole).
    order = tl.arange(0, BLOCK_L)
    for pos in tl.range(start, end, BLOCK_L, num_stages=STAGES):
        if REVERSE:
            pos = last_pos - (pos - start)  # the steps from the chunk's end
            steps = pos + BLOCK_L - 1 - order
        else:
            steps = pos + order
        mask = (steps < end)[:, None] & col_mask[None, :]
        x = tl.load(x_cols[None, :] + steps[:, None] * stride_xl, mask=mask, other=1).to(OUT).to(ACC)
        if REVERSE or REDUCE:
            # A reverse scan meets the masked tail first, and a chunk's product takes it in: 1 by a
            # select (triton 3.6's interpreter ignores `other` for bf16 loads).
            x = tl.where(mask, x, 1)
        if REDUCE:
            carry = carry * tl.reduce(x, 0, mul_combine)
        else:
            y, inclusive = scan_tile(x, carry[None, :], order[:, None], 0, 0, EXCLUSIVE, False)
            tl.store(y_cols[None, :] + steps[:, None] * inner, y.to(OUT), mask=mask)
            carry = leaving(inclusive, order[:, None], 0, 0, False)
    if REDUCE:
        tl.store(y_ptr + (outer * n_chunks + pid_c) * inner + cols, carry, mask=col_mask)


def launch_cols(x, y, prefix, n_outer, length, inner, strides, out_dtype, plan, reduce, exclusive=False,
                reverse=False):
    """Scan (or, with `reduce`, take chunk products of) the middle axis of `x` into `y`, with the
    input `strides` and the tile sizes of `plan` = (kind, n_chunks, chunk, BLOCK_I, BLOCK_L, num_warps,
    num_stages). Returns the launch (compiled kernel, grid, arguments in the kernel's order)."""
    _, n_chunks, chunk, block_i, block_l, num_warps, num_stages = plan
    grid = (n_outer * ceil_div(inner, block_i), n_chunks)
    acc = aggregate_dtype(out_dtype) if reduce else accumulator_dtype(out_dtype)
    stride_xo, stride_xl, stride_xi = strides
    args = dict(
        x_ptr=x, y_ptr=y, prefix_ptr=y if prefix is None else prefix, n_outer=n_outer, length=length, inner=inner,
        chunk=chunk, stride_xo=stride_xo, stride_xl=stride_xl, stride_xi=stride_xi, OUT=triton_dtype(out_dtype),
        ACC=triton_dtype(acc), BLOCK_L=block_l, BLOCK_I=block_i, REDUCE=reduce, HAS_PREFIX=prefix is not None,
        STAGES=num_stages, EXCLUSIVE=exclusive, REVERSE=reverse,
    )
    return scan_cols_kernel[grid](**args, num_warps=num_warps), grid, args

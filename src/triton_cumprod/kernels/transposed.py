import triton
import triton.language as tl

from ..dispatch import ceil_div
from .combine import accumulator_dtype, aggregate_dtype, arrival, leaving, mul_combine, scan_tile, triton_dtype


@triton.jit
def scan_transposed_kernel(
    x_ptr,  # input, read as (n_outer, n_mid, length, inner) through its own strides
    y_ptr,  # output, written through its strides; with REDUCE, contiguous (n_outer * n_mid, n_chunks, inner)
    prefix_ptr,  # (n_outer * n_mid, n_chunks, inner) inclusive products of the chunks; read if HAS_PREFIX
    n_mid,
    length,
    inner,
    chunk,  # scan positions that one program covers (a multiple of BLOCK_L)
    stride_xo,
    stride_xm,
    stride_xl,
    stride_xi,
    stride_yo,
    stride_ym,
    stride_yl,
    stride_yi,
    OUT: tl.constexpr,  # output dtype: the input is cast to it before the scan, as torch does
    ACC: tl.constexpr,  # dtype the products are computed in (with REDUCE, the chunk products' dtype)
    BLOCK_L: tl.constexpr,  # scan positions per step
    BLOCK_I: tl.constexpr,  # inner positions per program
    REDUCE: tl.constexpr,  # write the product of each chunk instead of the scan
    HAS_PREFIX: tl.constexpr,  # chunk c starts from the inclusive product of the chunks before it
    STAGES: tl.constexpr,  # tiles in flight: above 1, the next tiles' loads start before this one's scan
    EXCLUSIVE: tl.constexpr,  # each output is the product of the elements before it
    REVERSE: tl.constexpr,  # scan from each line's end
):
    # Program (p, c) owns BLOCK_I inner positions of one (outer, mid) line and walks scan positions
    # [c * chunk, +chunk) in [BLOCK_L, BLOCK_I] tiles. x and y are contiguous along different axes
    # (one along the scan, the other along inner): Triton lays the load along x's and the store
    # along y's, and turns the tile between them through shared memory, so both move whole cache
    # lines.
    pid_c = tl.program_id(1)
    n_chunks = tl.num_programs(1)
    n_col_blocks = tl.cdiv(inner, BLOCK_I)
    line = tl.program_id(0) // n_col_blocks
    outer, mid = (line // n_mid).to(tl.int64), (line % n_mid).to(tl.int64)
    cols = (tl.program_id(0) % n_col_blocks) * BLOCK_I + tl.arange(0, BLOCK_I)[None, :]
    col_mask = cols < inner
    start = pid_c.to(tl.int64) * chunk
    end = tl.minimum(start + chunk, length)
    if HAS_PREFIX:
        arrive, arrives = arrival(pid_c, n_chunks, REVERSE)
        carry = tl.load(prefix_ptr + (line.to(tl.int64) * n_chunks + arrive) * inner + cols,
                        mask=col_mask & arrives, other=1).to(ACC)
    else:
        carry = tl.full([1, BLOCK_I], 1, ACC)
    x_cols = x_ptr + outer * stride_xo + mid * stride_xm + cols.to(tl.int64) * stride_xi
    y_cols = y_ptr + outer * stride_yo + mid * stride_ym + cols.to(tl.int64) * stride_yi
    if REVERSE:
        last_pos = start + (tl.cdiv(end - start, BLOCK_L) - 1) * BLOCK_L  # the chunk's last step
    # The tile's rows in the order the scan meets them (a reverse scan reads each step from its
    # last position, as kernels/cols.py does).
    order = tl.arange(0, BLOCK_L)[:, None]
    for pos in tl.range(start, end, BLOCK_L, num_stages=STAGES):
        if REVERSE:
            pos = last_pos - (pos - start)
            steps = pos + BLOCK_L - 1 - order
        else:
            steps = pos + order
        mask = (steps < end) & col_mask
        x = tl.load(x_cols + steps * stride_xl, mask=mask, other=1).to(OUT).to(ACC)
        if REVERSE or REDUCE:
            x = tl.where(mask, x, 1)
        if REDUCE:
            carry = carry * tl.reduce(x, 0, mul_combine, keep_dims=True)
        else:
            y, inclusive = scan_tile(x, carry, order, 0, 0, EXCLUSIVE, False)
            tl.store(y_cols + steps * stride_yl, y.to(OUT), mask=mask)
            carry = leaving(inclusive, order, 0, 0, False)[None, :]
    if REDUCE:
        tl.store(y_ptr + (line.to(tl.int64) * n_chunks + pid_c) * inner + cols, carry, mask=col_mask)


def launch_transposed(x, y, prefix, view, out_dtype, plan, reduce, exclusive=False, reverse=False):
    """Scan (or, with `reduce`, take chunk products of) `view`'s scan axis of `x` into `y`, with the
    tile sizes of `plan` = (kind, n_chunks, chunk, BLOCK_I, BLOCK_L, num_warps, num_stages).
    `view` is a layout.turned_view. Returns the launch (compiled kernel, grid, arguments in the
    kernel's order)."""
    (n_outer, n_mid, length, inner), x_strides, y_strides = view
    _, n_chunks, chunk, block_i, block_l, num_warps, num_stages = plan
    grid = (n_outer * n_mid * ceil_div(inner, block_i), n_chunks)
    acc = aggregate_dtype(out_dtype) if reduce else accumulator_dtype(out_dtype)
    args = dict(
        x_ptr=x, y_ptr=y, prefix_ptr=y if prefix is None else prefix, n_mid=n_mid, length=length, inner=inner,
        chunk=chunk, stride_xo=x_strides[0], stride_xm=x_strides[1], stride_xl=x_strides[2],
        stride_xi=x_strides[3], stride_yo=y_strides[0], stride_ym=y_strides[1], stride_yl=y_strides[2],
        stride_yi=y_strides[3], OUT=triton_dtype(out_dtype), ACC=triton_dtype(acc), BLOCK_L=block_l,
        BLOCK_I=block_i, REDUCE=reduce, HAS_PREFIX=prefix is not None, STAGES=num_stages,
        EXCLUSIVE=exclusive, REVERSE=reverse,
    )
    return scan_transposed_kernel[grid](**args, num_warps=num_warps), grid, args

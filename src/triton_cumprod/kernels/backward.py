import triton
import triton.language as tl

from .cols import column_block
from .combine import accumulator_dtype, mul_combine, triton_dtype


@triton.jit
def affine_combine(a1, b1, a2, b2):
    # Pairs (a, b) are the maps r -> b + a * r; (a1, b1) comes first in the scan, so the result is
    # the map that applies it and then (a2, b2).
    return a2 * a1, b2 + a2 * b1


@triton.jit
def cumprod_backward_kernel(
    x_ptr,  # the forward's input, contiguous (n_outer, length, inner)
    y_ptr,  # the forward's output, contiguous (n_outer, length, inner)
    g_ptr,  # the gradient of the output, contiguous (n_outer, length, inner)
    gx_ptr,  # the gradient of the input (n_outer, length, inner), or chunk maps if REDUCE
    maps_ptr,  # (2, n_outer, n_chunks, inner): each chunk's map (a, b), read when n_chunks > 1
    n_outer,
    length,
    inner,
    chunk,  # scan positions that one program covers (a multiple of BLOCK_L)
    OUT: tl.constexpr,  # the forward's output dtype: the input is cast to it first, as in the forward
    ACC: tl.constexpr,  # dtype the gradient is computed in
    BLOCK_L: tl.constexpr,  # scan positions per step
    BLOCK_I: tl.constexpr,  # inner positions per program
    REDUCE: tl.constexpr,  # write each chunk's map (a, b) instead of the gradient
):
    # Division-free, so exact where inputs are zero:
    #   grad_x[i] = y[i - 1] * r[i],   r[i] = g[i] + x[i + 1] * r[i + 1],   r[length] = 0.
    # The recurrence runs right to left: each program walks its chunk from the end in
    # [BLOCK_L, BLOCK_I] tiles whose rows are read in reverse, so an ordinary scan of the maps
    # r -> g[i] + x[i + 1] * r composes them right to left; the carry is r at the tile's left edge.
    pid_c = tl.program_id(1)
    n_chunks = tl.num_programs(1)
    outer, cols, col_mask, start, end = column_block(tl.program_id(0), pid_c, inner, length, chunk, BLOCK_I)
    base = outer * length * inner + cols
    maps = maps_ptr + (outer * n_chunks) * inner + cols
    # r at this chunk's right edge: the chunks to the right applied to r[length] = 0, in a fixed order.
    carry = tl.zeros([BLOCK_I], ACC)
    if not REDUCE:
        for j in range(0, n_chunks - 1 - pid_c):
            c = n_chunks - 1 - j
            a = tl.load(maps + c * inner, mask=col_mask, other=1)
            b = tl.load(maps + (n_outer * n_chunks + c) * inner, mask=col_mask, other=0)
            carry = b + a * carry
    chunk_a = tl.full([BLOCK_I], 1, ACC)
    chunk_b = tl.zeros([BLOCK_I], ACC)
    steps = tl.arange(0, BLOCK_L)
    for k in range(0, tl.cdiv(end - start, BLOCK_L)):
        pos = end - 1 - k * BLOCK_L - steps  # this tile's positions, right to left
        valid = (pos >= start)[:, None] & col_mask[None, :]
        at = base[None, :] + pos[:, None] * inner
        nxt = valid & (pos + 1 < length)[:, None]
        a = tl.load(x_ptr + at + inner, mask=nxt, other=0).to(OUT).to(ACC)
        b = tl.load(g_ptr + at, mask=valid, other=0).to(ACC)
        a = tl.where(valid, a, 1)  # positions past the chunk's start are the identity map
        if REDUCE:
            tile_a, tile_b = tl.associative_scan((a, b), 0, affine_combine)
            last = steps[:, None] == BLOCK_L - 1
            tile_a = tl.reduce(tl.where(last, tile_a, 1), 0, mul_combine)
            tile_b = tl.reduce(tl.where(last, tile_b, 1), 0, mul_combine)
            chunk_a, chunk_b = tile_a * chunk_a, tile_b + tile_a * chunk_b
        else:
            # Fold the carry into the first map, so the scan's b is r itself.
            first = steps[:, None] == 0
            b = tl.where(first, b + a * carry[None, :], b)
            _, r = tl.associative_scan((tl.where(first, 0, a), b), 0, affine_combine)
            has_prev = valid & (pos >= 1)[:, None]
            # y[-1] = 1, set by a select: triton 3.6's interpreter ignores `other` for bf16 loads.
            y_prev = tl.where(has_prev, tl.load(y_ptr + at - inner, mask=has_prev).to(ACC), 1)
            tl.store(gx_ptr + at, (y_prev * r).to(gx_ptr.dtype.element_ty), mask=valid)
            carry = tl.reduce(tl.where(steps[:, None] == BLOCK_L - 1, r, 1), 0, mul_combine)
    if REDUCE:
        out = gx_ptr + (outer * n_chunks + pid_c) * inner + cols
        tl.store(out, chunk_a, mask=col_mask)
        tl.store(out + n_outer * n_chunks * inner, chunk_b, mask=col_mask)


def launch_backward(x, y, g, gx, maps, n_outer, length, inner, out_dtype, plan, reduce):
    """The gradient of cumprod into `gx` (or, with `reduce`, each chunk's map into `maps`), with the
    tile sizes of `plan` = (n_chunks, chunk, BLOCK_I, BLOCK_L, num_warps)."""
    n_chunks, chunk, block_i, block_l, num_warps = plan
    grid = (n_outer * ((inner + block_i - 1) // block_i), n_chunks)
    cumprod_backward_kernel[grid](
        x, y, g, maps if reduce else gx, maps, n_outer, length, inner, chunk,
        OUT=triton_dtype(out_dtype), ACC=triton_dtype(accumulator_dtype(out_dtype)),
        BLOCK_L=block_l, BLOCK_I=block_i, REDUCE=reduce, num_warps=num_warps,
    )

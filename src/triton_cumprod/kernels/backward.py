import triton
import triton.language as tl

from .cols import column_block
from .rows import row_block
from ..dispatch import ceil_div
from .combine import accumulator_dtype, pick, triton_dtype


@triton.jit
def affine_combine(a1, b1, a2, b2):
    # Pairs (a, b) are the maps r -> b + a * r; (a1, b1) comes first in the scan, so the result is
    # the map that applies it and then (a2, b2).
    return a2 * a1, b2 + a2 * b1


@triton.jit
def shifted_affine_combine(f1, a1, b1, f2, a2, b2):
    # A run of positions [l, h] as (f, a, b): f = x[l], a = x[l + 1] * ... * x[h], and
    # r[l] = b + a * s, where s = x[h + 1] * r[h + 1] comes in from its right. A reverse scan hands
    # over the run on the right first: (f2, a2, b2) lies left of (f1, a1, b1).
    t = a2 * f1
    return f2, t * a1, b2 + t * b1


@triton.jit
def exclusive_combine(p1, e1, p2, e2):
    # A run as (p, e): the product of all of it and of all but its last element.
    return p1 * p2, p1 * e2


@triton.jit
def backward_rows_kernel(
    x_ptr,  # the forward's input, contiguous (n_rows, length)
    y_ptr,  # the forward's output, contiguous (n_rows, length)
    g_ptr,  # the gradient of the output, contiguous (n_rows, length)
    gx_ptr,  # the gradient of the input (n_rows, length), or chunk maps if REDUCE
    maps_ptr,  # (2, n_rows, n_chunks): each chunk's map (a, b) of s, read when n_chunks > 1
    n_rows,
    length,
    chunk,  # positions of a row that one program covers (a multiple of BLOCK_L)
    OUT: tl.constexpr,  # the forward's output dtype: the input is cast to it first, as in the forward
    ACC: tl.constexpr,  # dtype the gradient is computed in
    BLOCK_R: tl.constexpr,  # rows per program
    BLOCK_L: tl.constexpr,  # positions per row and step
    REDUCE: tl.constexpr,  # write each chunk's map instead of the gradient
    BLOCK_C: tl.constexpr,  # chunk maps composed a step
):
    # The same recurrence as below, for rows contiguous in memory: tiles are read in ascending order
    # with aligned (16-byte) loads, and the neighbours the recurrence needs come from scans instead
    # of shifted loads. A reverse scan of shifted_affine_combine gives r from the s entering the tile
    # on the right; y[i - 1] is y at the tile's left edge times the tile's exclusive product, so y is
    # read once a tile. Tiles are walked right to left carrying s = x[i] * r[i] at the left edge.
    pid_c = tl.program_id(1)
    n_chunks = tl.num_programs(1)
    rows, row_mask, start, end = row_block(tl.program_id(0), pid_c, n_rows, length, chunk, BLOCK_R)
    maps = maps_ptr + rows * n_chunks
    # s at this chunk's right edge: the maps of the chunks to the right applied to s[length] = 0,
    # BLOCK_C chunks a step from the row's end, each block composed by a scan (a fixed order).
    carry = tl.zeros([BLOCK_R], ACC)
    if not REDUCE:
        ahead = tl.arange(0, BLOCK_C)
        for k in range(0, tl.cdiv(n_chunks - 1 - pid_c, BLOCK_C)):
            c = n_chunks - (k + 1) * BLOCK_C + ahead
            valid = row_mask[:, None] & (c > pid_c)[None, :]
            a = tl.load(maps[:, None] + c[None, :], mask=valid, other=1)
            b = tl.load(maps[:, None] + n_rows * n_chunks + c[None, :], mask=valid, other=0)
            a, b = tl.associative_scan((a, b), 1, affine_combine, reverse=True)
            first_c = ahead[None, :] == 0
            carry = pick(b, first_c, 1) + pick(a, first_c, 1) * carry
    chunk_f = tl.full([BLOCK_R], 1, ACC)
    chunk_a = tl.full([BLOCK_R], 1, ACC)
    chunk_b = tl.zeros([BLOCK_R], ACC)
    ones = tl.full([BLOCK_R, BLOCK_L], 1, ACC)
    steps = tl.arange(0, BLOCK_L)
    first = steps[None, :] == 0
    n_tiles = tl.cdiv(end - start, BLOCK_L)
    for k in range(0, n_tiles):
        col = start + (n_tiles - 1 - k) * BLOCK_L
        at = rows[:, None] * length + col + steps[None, :]
        mask = row_mask[:, None] & (col + steps < end)[None, :]
        # Positions past the row's end are the identity (f, a, b) = (1, 1, 0).
        x = tl.load(x_ptr + at, mask=mask, other=1).to(OUT).to(ACC)
        g = tl.load(g_ptr + at, mask=mask, other=0).to(ACC)
        f, a, b = tl.associative_scan((x, ones, g), 1, shifted_affine_combine, reverse=True)
        if REDUCE:
            tile_f = pick(f, first, 1)
            tile_a = pick(a, first, 1)
            tile_b = pick(b, first, 1)
            chunk_f, chunk_a, chunk_b = shifted_affine_combine(chunk_f, chunk_a, chunk_b, tile_f, tile_a, tile_b)
        else:
            r = b + a * carry[:, None]
            _, before = tl.associative_scan((x, ones), 1, exclusive_combine)
            has_left = row_mask & (col > 0)
            # y[-1] = 1, set by a select: triton 3.6's interpreter ignores `other` for bf16 loads.
            y_left = tl.where(has_left, tl.load(y_ptr + rows * length + col - 1, mask=has_left).to(ACC), 1)
            tl.store(gx_ptr + at, (y_left[:, None] * before * r).to(gx_ptr.dtype.element_ty), mask=mask)
            carry = pick(x * r, first, 1)
    if REDUCE:
        # The chunk's map of s: s at its left edge = f * (b + a * s at its right edge).
        out = gx_ptr + rows * n_chunks + pid_c
        tl.store(out, chunk_f * chunk_a, mask=row_mask)
        tl.store(out + n_rows * n_chunks, chunk_f * chunk_b, mask=row_mask)


@triton.jit
def backward_cols_kernel(
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
    BLOCK_C: tl.constexpr,  # chunk maps composed a step
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
    # r at this chunk's right edge: the maps of the chunks to the right applied to r[length] = 0,
    # composed as in backward_rows_kernel.
    carry = tl.zeros([BLOCK_I], ACC)
    if not REDUCE:
        ahead = tl.arange(0, BLOCK_C)
        for k in range(0, tl.cdiv(n_chunks - 1 - pid_c, BLOCK_C)):
            c = n_chunks - (k + 1) * BLOCK_C + ahead
            valid = (c > pid_c)[:, None] & col_mask[None, :]
            a = tl.load(maps[None, :] + c[:, None] * inner, mask=valid, other=1)
            b = tl.load(maps[None, :] + (n_outer * n_chunks + c[:, None]) * inner, mask=valid, other=0)
            a, b = tl.associative_scan((a, b), 0, affine_combine, reverse=True)
            first_c = ahead[:, None] == 0
            carry = pick(b, first_c, 0) + pick(a, first_c, 0) * carry
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
            tile_a = pick(tile_a, last, 0)
            tile_b = pick(tile_b, last, 0)
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
            carry = pick(r, steps[:, None] == BLOCK_L - 1, 0)
    if REDUCE:
        out = gx_ptr + (outer * n_chunks + pid_c) * inner + cols
        tl.store(out, chunk_a, mask=col_mask)
        tl.store(out + n_outer * n_chunks * inner, chunk_b, mask=col_mask)


def launch_backward(x, y, g, gx, maps, n_outer, length, inner, out_dtype, plan, reduce):
    """The gradient of cumprod into `gx` (or, with `reduce`, each chunk's map into `maps`), with the
    tile sizes of `plan` = (kind, n_chunks, chunk, BLOCK_A, BLOCK_L, num_warps)."""
    kind, n_chunks, chunk, block_a, block_l, num_warps = plan
    # Chunk maps composed a step: a tile of them would hold registers even where there are none.
    block_c = 1 if n_chunks == 1 else max(1, 1024 // block_a)
    options = dict(OUT=triton_dtype(out_dtype), ACC=triton_dtype(accumulator_dtype(out_dtype)), REDUCE=reduce,
                   BLOCK_C=block_c, BLOCK_L=block_l, num_warps=num_warps)
    if kind == "rows":
        grid = (ceil_div(n_outer, block_a), n_chunks)
        backward_rows_kernel[grid](
            x, y, g, maps if reduce else gx, maps, n_outer, length, chunk, BLOCK_R=block_a, **options,
        )
    else:
        grid = (n_outer * ceil_div(inner, block_a), n_chunks)
        backward_cols_kernel[grid](
            x, y, g, maps if reduce else gx, maps, n_outer, length, inner, chunk, BLOCK_I=block_a, **options,
        )

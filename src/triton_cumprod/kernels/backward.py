import triton
import triton.language as tl

from .cols import column_block
from .rows import row_block
from ..dispatch import ceil_div
from .combine import accumulator_dtype, exclusive_combine, pick, triton_dtype
from .lookback import lookback_state, lookback_tile, wait_all, wait_one


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


@triton.jit
def pack_map(a, b):
    # A map (a, b) of s as one 64-bit word, so that both halves and the flag arrive together: a's
    # bits above b's, inverted, so that a word not yet published (0) can be told apart from every
    # map. Only the pair whose halves are both the NaN of all-one bits inverts to 0: b's NaNs are
    # published as the canonical NaN instead.
    b = tl.where(b == b, b, float("nan"))
    bits = (a.to(tl.uint32, bitcast=True).to(tl.int64) << 32) | b.to(tl.uint32, bitcast=True).to(tl.int64)
    return ~bits


@triton.jit
def unpack_map(word):
    bits = ~word
    return (bits >> 32).to(tl.uint32).to(tl.float32, bitcast=True), bits.to(tl.uint32).to(tl.float32, bitcast=True)


@triton.jit
def backward_lookback_kernel(
    x_ptr,  # the forward's input, contiguous (n_rows, length)
    y_ptr,  # the forward's output, contiguous (n_rows, length)
    g_ptr,  # the gradient of the output, contiguous (n_rows, length)
    gx_ptr,  # the gradient of the input, contiguous (n_rows, length)
    state_ptr,  # int64 zeros: a counter, then a word per tile, then a word per group of WINDOW tiles
    n_rows,
    length,
    tiles_per_row,
    OUT: tl.constexpr,  # the forward's output dtype: the input is cast to it first, as in the forward
    BLOCK_L: tl.constexpr,  # positions per tile
    WINDOW: tl.constexpr,  # tiles per group: the last tile of a group publishes the row's map up to it
):
    # The gradient of rows too few to fill the GPU, in one pass of float32 tiles: kernels/lookback.py's
    # deterministic look-back, run from the row's end, where the recurrence of backward_rows_kernel
    # starts (s = 0 past the end). Every tile publishes its map of s (s at its left edge as a
    # function of s at its right edge); the last tile of each group of WINDOW also publishes the map
    # of the row from its end to that tile's left edge. A tile's incoming s comes from the map of the
    # group before its own composed with the maps of the tiles before it in its group, in a fixed
    # order: the result never depends on timing. Tiles are numbered in the order programs start, from
    # the row's end, so a tile waits only for tiles that are running or done.
    row, t, group, tile_words, group_words = lookback_tile(state_ptr, n_rows, tiles_per_row, WINDOW)
    col = (tiles_per_row - 1 - t) * BLOCK_L  # t counts tiles from the row's end
    steps = tl.arange(0, BLOCK_L)
    at = row * length + col + steps
    mask = col + steps < length
    # The tile's map is published before any wait: tiles to its left wait for it.
    x = tl.load(x_ptr + at, mask=mask, other=1).to(OUT).to(tl.float32)
    g = tl.load(g_ptr + at, mask=mask, other=0).to(tl.float32)
    has_left = col > 0
    # y[-1] = 1, set by a select: triton 3.6's interpreter ignores `other` for bf16 loads.
    y_left = tl.where(has_left, tl.load(y_ptr + row * length + col - 1, mask=has_left).to(tl.float32), 1)
    ones = tl.full([BLOCK_L], 1, tl.float32)
    f, a, b = tl.associative_scan((x, ones, g), 0, shifted_affine_combine, reverse=True)
    first = steps == 0
    tile_f = pick(f, first, 0)
    tile_a = tile_f * pick(a, first, 0)
    tile_b = tile_f * pick(b, first, 0)
    tl.atomic_xchg(tile_words + t, pack_map(tile_a, tile_b), sem="relaxed")
    # The maps of the tiles before this one in its group, composed by a scan in index order (the
    # group's first tile, the rightmost, applies first); tiles not before it read as the identity.
    ahead = tl.arange(0, WINDOW)
    earlier = ahead < t - group * WINDOW
    identity = pack_map(tl.full([], 1, tl.float32), tl.full([], 0, tl.float32))
    words = wait_all(tile_words + group * WINDOW + ahead, earlier, identity)
    word_a, word_b = unpack_map(words)
    word_a, word_b = tl.associative_scan((word_a, word_b), 0, affine_combine)
    last = ahead == WINDOW - 1
    carry_a = pick(word_a, last, 0)
    carry_b = pick(word_b, last, 0)
    if group > 0:
        group_a, group_b = unpack_map(wait_one(group_words + group - 1))
        carry_a, carry_b = affine_combine(group_a, group_b, carry_a, carry_b)
    if t % WINDOW == WINDOW - 1:
        group_a, group_b = affine_combine(carry_a, carry_b, tile_a, tile_b)
        tl.atomic_xchg(group_words + group, pack_map(group_a, group_b), sem="relaxed")
    # s at the tile's right edge: the row's map up to there applied to s = 0 past the row's end, its
    # b (so a map's a is never multiplied by that 0). The exclusive products only now: scanned
    # before the wait they hold registers through it (sm_90: 186 a thread, two programs a
    # multiprocessor; 145 and three this way).
    r = b + a * carry_b
    _, before = tl.associative_scan((x, ones), 0, exclusive_combine)
    tl.store(gx_ptr + at, (y_left * before * r).to(gx_ptr.dtype.element_ty), mask=mask)


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


def launch_backward_lookback(x, y, g, gx, n_rows, length, out_dtype, plan):
    """The gradient of cumprod over rows of contiguous (n_rows, length) tensors into `gx` in one pass,
    with the tile sizes of `plan` = ("lookback", tiles_per_row, BLOCK_L, WINDOW, BLOCK_L, num_warps)."""
    _, tiles_per_row, _, window, block_l, num_warps = plan
    state = lookback_state(x.device, n_rows, tiles_per_row, window)
    backward_lookback_kernel[(n_rows * tiles_per_row,)](
        x, y, g, gx, state, n_rows, length, tiles_per_row,
        OUT=triton_dtype(out_dtype), BLOCK_L=block_l, WINDOW=window, num_warps=num_warps,
    )

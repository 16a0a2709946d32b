import triton
import triton.language as tl

from .cols import column_block, column_run
from ..dispatch import ceil_div
from ..layout import contiguous_view
from .combine import (accumulator_dtype, aligned, exclusive_combine, in_units, joined, line_chunk, line_skew,
                      mirrored, mul_combine, parted, pick, store_vectors, triton_dtype, vector_elements,
                      vectors_from, wide_product, within)
from .lookback import (chain_done, chain_link, chain_run, chain_state, chain_tile, launch_resident,
                       lookback_state, lookback_tile, wait_all, wait_one)


@triton.jit
def affine_combine(a1, b1, a2, b2):
    # Pairs (a, b) are the maps r -> b + a * r; (a1, b1) comes first in the scan, so the result is
    # the map that applies it and then (a2, b2).
    return a2 * a1, b2 + a2 * b1


@triton.jit
def shifted_affine_combine(f1, a1, b1, f2, a2, b2):
    # A run of positions as (f, a, b): f = x where the recurrence leaves the run, a = the product of
    # x over the rest of it, and r where it leaves = b + a * s, where s = x * r at the neighbour it
    # enters from. (f1, a1, b1) is the run the recurrence enters first: the one on the right for the
    # plain scan's gradient, which runs right to left; on the left for a reverse scan's.
    t = a2 * f1
    return f2, t * a1, b2 + t * b1


@triton.jit
def exclusive_affine_combine(p1, q1, a1, b1, p2, q2, a2, b2):
    # The same for an exclusive scan's gradient, whose recurrence u = g + x * u' takes x and g of one
    # position: (p, q) is the map where the recurrence leaves the run, (a, b) the map of the rest of
    # it, which gives u just inside the leaving position: the value the gradient there needs.
    return p2, q2, a2 * p1 * a1, b2 + a2 * (q1 + p1 * b1)


@triton.jit
def recurrence(x, g, axis: tl.constexpr, EXCLUSIVE: tl.constexpr, TO_FIRST: tl.constexpr):
    # A tile's scan along `axis` in the direction the gradient's recurrence runs through its lanes
    # (TO_FIRST: from the last lane to the first): at each position, the map (a, b) from the carry
    # entering the tile to the r the gradient there needs, and (full_a, full_b), from the entering
    # carry to the one leaving that position. The carry is s = x * r, or u = g + x * r for an
    # exclusive scan; masked positions (x = 1, g = 0) are the identity.
    return cut_recurrence(x, g, tl.full(x.shape, 1, x.dtype), axis, EXCLUSIVE, TO_FIRST)


@triton.jit
def cut_recurrence(x, g, keep, axis: tl.constexpr, EXCLUSIVE: tl.constexpr, TO_FIRST: tl.constexpr):
    # recurrence, where `keep` is 0 at the positions nothing enters (the first of a row in the
    # recurrence's order, kernels/flat.py) and 1 elsewhere: a = 0 there parts a row from the one
    # before it, so one scan serves a tile of many rows.
    if EXCLUSIVE:
        p, q, a, b = tl.associative_scan((x, g, keep, tl.zeros(x.shape, x.dtype)), axis, exclusive_affine_combine,
                                         reverse=TO_FIRST)
        return a, b, p * a, q + p * b
    f, a, b = tl.associative_scan((x, keep, g), axis, shifted_affine_combine, reverse=TO_FIRST)
    return a, b, f * a, f * b


@triton.jit
def edge_output(col, length, BLOCK_L: tl.constexpr, EXCLUSIVE: tl.constexpr, REVERSE: tl.constexpr):
    # The position of y beside the tile [col, col + BLOCK_L) whose value times products of the tile's
    # x gives every position's factor of the gradient: y before the tile (plain), its first
    # (exclusive), y after it (reverse) or its last (both); and whether it lies in the line (else 1).
    if REVERSE:
        edge = col + BLOCK_L - EXCLUSIVE
    else:
        edge = col - 1 + EXCLUSIVE
    return edge, (edge >= 0) & (edge < length)


@triton.jit
def tile_product(x, products, where, axis: tl.constexpr):
    # The product of x along `axis`, for a carry that passes through it: rounded once
    # (combine.wide_product) for float32, whose scans round low at every factor near one, which a
    # line of tiles adds up; else the entry of `products` (the scan's running product) that `where`
    # marks.
    if x.dtype == tl.float32:
        return wide_product(x, axis).to(tl.float32)
    return pick(products, where, axis)


@triton.jit
def leaving_carry(x, g, r, EXCLUSIVE: tl.constexpr):
    # The carry a position passes on, where the recurrence gives r there.
    if EXCLUSIVE:
        return g + x * r
    return x * r


@triton.jit
def products_to_exit(x, axis: tl.constexpr, TO_FIRST: tl.constexpr):
    # At each position, the product of the tile's x strictly between it and the edge where the
    # recurrence leaves the tile (the first lane if TO_FIRST): times y at that edge (edge_output),
    # the y the gradient at the position needs.
    _, between = tl.associative_scan((x, tl.full(x.shape, 1, x.dtype)), axis, exclusive_combine, reverse=not TO_FIRST)
    return between


@triton.jit
def load_gradient_tile(x_at, g_at, offs, hi, mask, lines, OUT: tl.constexpr, ACC: tl.constexpr, VEC: tl.constexpr,
                       EDGES: tl.constexpr, ALIGNED: tl.constexpr, REVERSE: tl.constexpr):
    # (x, g) of a tile at x_at + offs and g_at + offs, laid on vectors (combine.line_chunk), where
    # `mask` says which positions are in the line (before hi in the tile; `lines` the lines that
    # exist): elsewhere the identity, x = 1 and g = 0. ALIGNED reads whole vectors, the elements of
    # the line's neighbours dropped by a select, as are a reverse recurrence's masked tail (triton
    # 3.6's interpreter ignores `other` for bf16 loads).
    if ALIGNED:
        vectors = lines & (offs < tl.cdiv(hi, VEC) * VEC)
    else:
        vectors = mask
    x = tl.load(x_at + offs, mask=vectors, other=1).to(OUT).to(ACC)
    g = tl.load(g_at + offs, mask=vectors, other=0).to(ACC)
    if EDGES or REVERSE:
        x = tl.where(mask, x, 1)
    if EDGES:
        g = tl.where(mask, g, 0)
    return x, g


@triton.jit
def entering_carry(maps, lane_mask, b_offset, c_stride, pid_c, n_chunks, carry, AXIS: tl.constexpr,
                   BLOCK_C: tl.constexpr, REVERSE: tl.constexpr):
    # The carry entering chunk pid_c of the lines `maps` points at (each line's chunk 0 map a; the
    # next chunk's c_stride on, b b_offset on; `lane_mask` selects the lines, along the axis other
    # than AXIS): the maps of the chunks the recurrence passes first applied to `carry`, BLOCK_C
    # chunks a step along AXIS from the line's end (its start for a reverse scan), each block composed
    # by a scan (a fixed order).
    ahead = tl.arange(0, BLOCK_C)
    n_first = pid_c if REVERSE else n_chunks - 1 - pid_c
    for k in range(0, tl.cdiv(n_first, BLOCK_C)):
        if REVERSE:
            c = k * BLOCK_C + ahead
            first_c = c < pid_c
        else:
            c = n_chunks - (k + 1) * BLOCK_C + ahead
            first_c = c > pid_c
        ends = ahead == (BLOCK_C - 1 if REVERSE else 0)
        if AXIS == 1:
            at = maps[:, None] + c[None, :] * c_stride
            valid = lane_mask[:, None] & first_c[None, :]
            block_end = ends[None, :]
        else:
            at = maps[None, :] + c[:, None] * c_stride
            valid = first_c[:, None] & lane_mask[None, :]
            block_end = ends[:, None]
        a = tl.load(at, mask=valid, other=1)
        b = tl.load(at + b_offset, mask=valid, other=0)
        a, b = tl.associative_scan((a, b), AXIS, affine_combine, reverse=not REVERSE)
        carry = pick(b, block_end, AXIS) + pick(a, block_end, AXIS) * carry
    return carry


@triton.jit
def backward_rows_kernel(
    x_ptr,  # the forward's input, contiguous (n_rows, length)
    y_ptr,  # the forward's output, contiguous (n_rows, length)
    g_ptr,  # the gradient of the output, contiguous (n_rows, length)
    gx_ptr,  # the gradient of the input (n_rows, length), or chunk maps if REDUCE
    maps_ptr,  # (2, n_rows, n_chunks): each chunk's map (a, b) of the carry, read when n_chunks > 1
    n_rows,
    length,
    chunk,  # positions of a row that one program covers (a multiple of BLOCK_L)
    OUT: tl.constexpr,  # the forward's output dtype: the input is cast to it first, as in the forward
    ACC: tl.constexpr,  # dtype the gradient is computed in
    BLOCK_R: tl.constexpr,  # rows per program
    BLOCK_L: tl.constexpr,  # positions per row and step
    REDUCE: tl.constexpr,  # write each chunk's map instead of the gradient
    BLOCK_C: tl.constexpr,  # chunk maps composed a step
    EXCLUSIVE: tl.constexpr,  # the gradient of the exclusive scan
    REVERSE: tl.constexpr,  # the gradient of the reverse scan
    VEC: tl.constexpr,  # elements of a 16-byte vector (combine.vector_elements)
    EDGES: tl.constexpr,  # rows may start or end inside a vector (length is not a multiple of VEC)
    ALIGNED: tl.constexpr,  # x and g start on 16 bytes: whole vectors may be read (combine.aligned)
):
    # The recurrences of backward_cols_kernel, for rows contiguous in memory: tiles are read with
    # 16-byte loads, and the neighbours a recurrence needs come from scans instead of shifted loads
    # (see recurrence). y beside the tile times the tile's exclusive products gives y at every
    # position, so y is read once a tile. Tiles are walked in the recurrence's direction, carrying
    # s = x * r (u for an exclusive scan) from one to the next, on a grid laid from the vector that
    # holds each row's first element (combine.line_chunk): positions outside the row are the
    # identity, and gx is stored in whole vectors but where the row starts or ends inside one.
    pid_c = tl.program_id(1)
    n_chunks = tl.num_programs(1)
    rows = tl.program_id(0).to(tl.int64) * BLOCK_R + tl.arange(0, BLOCK_R)
    row_mask = rows < n_rows
    origin, first, lo, hi, n_tiles = line_chunk(rows * length, length, pid_c, n_chunks, chunk, BLOCK_L, VEC, EDGES)
    maps = maps_ptr + rows * n_chunks
    carry = tl.zeros([BLOCK_R], ACC)
    if not REDUCE:
        carry = entering_carry(maps, row_mask, n_rows * n_chunks, 1, pid_c, n_chunks, carry, 1, BLOCK_C, REVERSE)
    chunk_a = tl.full([BLOCK_R], 1, ACC)
    chunk_b = tl.zeros([BLOCK_R], ACC)
    steps = tl.arange(0, BLOCK_L)[None, :]
    leave = steps == (BLOCK_L - 1 if REVERSE else 0)
    for k in range(0, n_tiles):
        tile = (k if REVERSE else n_tiles - 1 - k) * BLOCK_L
        at = (origin + tile)[:, None]  # the tile's first offset, on a vector
        col = (first + tile)[:, None]  # the same in the row
        tile_lo, tile_hi = within(lo[:, None] - col, BLOCK_L), within(hi[:, None] - col, BLOCK_L)
        mask = row_mask[:, None] & (steps >= tile_lo) & (steps < tile_hi)
        x, g = load_gradient_tile(x_ptr + at, g_ptr + at, steps, tile_hi, mask, row_mask[:, None], OUT, ACC, VEC,
                                  EDGES, ALIGNED, REVERSE)
        a, b, full_a, full_b = recurrence(x, g, 1, EXCLUSIVE, not REVERSE)
        if REDUCE:
            chunk_a, chunk_b = affine_combine(chunk_a, chunk_b, pick(full_a, leave, 1), pick(full_b, leave, 1))
        else:
            r = b + a * carry[:, None]
            between = products_to_exit(x, 1, not REVERSE)
            edge, inside = edge_output(col, length, BLOCK_L, EXCLUSIVE, REVERSE)
            has_edge = row_mask[:, None] & inside
            # y is 1 outside the row, set by a select: triton 3.6's interpreter ignores `other` for
            # bf16 loads.
            y_edge = tl.where(has_edge, tl.load(y_ptr + rows[:, None] * length + edge, mask=has_edge).to(ACC), 1)
            store_vectors(gx_ptr + at, steps, (y_edge * between * r).to(gx_ptr.dtype.element_ty), tile_lo, tile_hi,
                          row_mask[:, None], VEC, EDGES, True)
            carry = pick(leaving_carry(x, g, r, EXCLUSIVE), leave, 1)
    if REDUCE:
        out = gx_ptr + rows * n_chunks + pid_c
        tl.store(out, chunk_a, mask=row_mask)
        tl.store(out + n_rows * n_chunks, chunk_b, mask=row_mask)


@triton.jit
def backward_line_kernel(
    x_ptr,  # the forward's input, contiguous (n_rows, length)
    y_ptr,  # the forward's output, contiguous (n_rows, length)
    g_ptr,  # the gradient of the output, contiguous (n_rows, length)
    gx_ptr,  # the gradient of the input (n_rows, length), or chunk maps if REDUCE
    maps_ptr,  # (2, n_rows, n_chunks): each chunk's map (a, b) of the carry, read when n_chunks > 1
    n_rows,
    length,
    chunk,  # positions of a row that one program covers (a multiple of BLOCK_L)
    OUT: tl.constexpr,  # the forward's output dtype: the input is cast to it first, as in the forward
    ACC: tl.constexpr,  # dtype the gradient is computed in
    BLOCK_L: tl.constexpr,  # positions per step
    REDUCE: tl.constexpr,  # write each chunk's map instead of the gradient
    BLOCK_C: tl.constexpr,  # chunk maps composed a step
    EXCLUSIVE: tl.constexpr,  # the gradient of the exclusive scan
    REVERSE: tl.constexpr,  # the gradient of the reverse scan
    RUN: tl.constexpr,  # elements a thread loads at once (16 bytes) where tiles are read backwards
    VEC: tl.constexpr,  # elements of a 16-byte vector (combine.vector_elements)
    EDGES: tl.constexpr,  # rows may start or end inside a vector (length is not a multiple of VEC)
    ALIGNED: tl.constexpr,  # x and g start on 16 bytes: whole vectors may be read (combine.aligned)
):
    # backward_rows_kernel for one row a program, with each tile held in the order the recurrence
    # runs through it, so that its scan is a forward one: triton 3.6's reverse scans cost several
    # times the shuffles (rows of 32768 in steps of 2048 on 2 warps: 1.14 of two copies against 0.90
    # read straight; 1024 on 1 warp: 0.96 against 0.98). The plain and exclusive scans' gradients,
    # which run right to left, read their tiles backwards in runs (combine.mirrored) and turn the
    # runs around. Tiles are laid on vectors as in backward_rows_kernel.
    pid_c = tl.program_id(1)
    n_chunks = tl.num_programs(1)
    row = tl.program_id(0).to(tl.int64)
    origin, first, lo, hi, n_tiles = line_chunk(row * length, length, pid_c, n_chunks, chunk, BLOCK_L, VEC, EDGES)
    carry = tl.zeros([1], ACC)
    if not REDUCE:
        carry = entering_carry(maps_ptr + row * n_chunks, row < n_rows, n_rows * n_chunks, 1, pid_c, n_chunks, carry,
                               1, BLOCK_C, REVERSE)
    chunk_a = tl.full([1], 1, ACC)
    chunk_b = tl.zeros([1], ACC)
    last = tl.arange(0, BLOCK_L) == BLOCK_L - 1
    if REVERSE:
        offs = tl.arange(0, BLOCK_L)
    else:
        offs = mirrored(0, BLOCK_L, RUN)
    for k in range(0, n_tiles):
        index = k if REVERSE else n_tiles - 1 - k  # the tile's place in the chunk
        tile = index * BLOCK_L
        col = first + tile  # the tile's first position in the row
        tile_lo, tile_hi = within(lo - col, BLOCK_L), within(hi - col, BLOCK_L)
        mask = (offs >= tile_lo) & (offs < tile_hi)
        x, g = load_gradient_tile(x_ptr + origin + tile, g_ptr + origin + tile, offs, tile_hi, mask, True, OUT, ACC,
                                  VEC, EDGES, ALIGNED, REVERSE)
        if not REVERSE:
            x = joined(x)
            g = joined(g)
        a, b, full_a, full_b = recurrence(x, g, 0, EXCLUSIVE, False)
        if REDUCE:
            tile_a, tile_b = tile_product(x, full_a, last, 0), pick(full_b, last, 0, True)
            chunk_a, chunk_b = affine_combine(chunk_a, chunk_b, tile_a, tile_b)
        else:
            r = b + a * carry
            between = products_to_exit(x, 0, False)
            edge, inside = edge_output(col, length, BLOCK_L, EXCLUSIVE, REVERSE)
            # y is 1 outside the row, set by a select: triton 3.6's interpreter ignores `other` for
            # bf16 loads.
            y_edge = tl.where(inside, tl.load(y_ptr + row * length + edge, mask=inside).to(ACC), 1)
            gx = y_edge * between * r
            if not REVERSE:
                gx = parted(gx, RUN)
            store_vectors(gx_ptr + origin + tile, offs, gx.to(gx_ptr.dtype.element_ty), tile_lo, tile_hi, True, VEC,
                          EDGES, (index == 0) | (index >= n_tiles - 2))
            # The carry passes on through the tile's map, its product from tile_product (32768^2:
            # 6.5e-6; 1.25e-5 from the scan's product, against torch's 9.6e-6).
            carry = pick(full_b, last, 0, True) + tile_product(x, full_a, last, 0) * carry
    if REDUCE:
        out = gx_ptr + row * n_chunks + pid_c + tl.zeros([1], tl.int32)
        tl.store(out, chunk_a)
        tl.store(out + n_rows * n_chunks, chunk_b)


@triton.jit
def in_elements(inner, stride_xo, stride_xm, stride_xl, stride_yo, stride_ym, stride_yl, UNIT: tl.constexpr):
    # The column kernels' sizes and strides, passed in units of UNIT elements (combine.stride_unit),
    # back in elements: the compiler then knows UNIT divides them and loads rows on 16 bytes whole.
    return (inner * UNIT, stride_xo * UNIT, stride_xm * UNIT, stride_xl * UNIT, stride_yo * UNIT, stride_ym * UNIT,
            stride_yl * UNIT)


@triton.jit
def line_offset(line, cols, n_mid, stride_o, stride_m, stride_i):
    # The offset of columns `cols` of line `line` (its outer and mid index) through the strides.
    return (line // n_mid) * stride_o + (line % n_mid) * stride_m + cols.to(tl.int64) * stride_i


@triton.jit
def column_maps(x_at, g_at, x_step, g_step, valid, has_next, OUT: tl.constexpr, ACC: tl.constexpr,
                EXCLUSIVE: tl.constexpr, REVERSE: tl.constexpr):
    # The maps r -> b + a * r of a column tile at x_at and g_at (positions x_step and g_step apart,
    # in the recurrence's order along axis 1): a is x at the neighbour the recurrence comes from, b
    # is g (for an exclusive scan, g there too); positions not `valid` are the identity.
    nxt = valid & has_next
    a = tl.load(x_at + (-x_step if REVERSE else x_step), mask=nxt, other=0).to(OUT).to(ACC)
    if EXCLUSIVE:
        b = tl.load(g_at + (-g_step if REVERSE else g_step), mask=nxt, other=0).to(ACC)
    else:
        b = tl.load(g_at, mask=valid, other=0).to(ACC)
    return tl.where(valid, a, 1), b


@triton.jit
def column_gradient(y_at, gx_at, y_step, a, b, carry, valid, has_y, ACC: tl.constexpr, EXCLUSIVE: tl.constexpr,
                    REVERSE: tl.constexpr):
    # The gradient of a column tile (column_maps' a and b) entered with r = carry, stored at gx_at
    # (y's and gx's positions y_step apart): returns r where the recurrence leaves the tile.
    first = tl.arange(0, a.shape[1])[None, :, None] == 0
    # Fold the carry into the first map, so the scan's b is r itself.
    b = tl.where(first, b + a * carry, b)
    _, r = tl.associative_scan((tl.where(first, 0, a), b), 1, affine_combine)
    # y at the position (exclusive) or beside it on the side the recurrence goes to; 1 outside the
    # line, set by a select: triton 3.6's interpreter ignores `other` for bf16 loads.
    if EXCLUSIVE:
        y_beside = tl.load(y_at, mask=valid, other=1).to(ACC)
    else:
        beside = valid & has_y
        y_beside = tl.where(beside, tl.load(y_at - (-y_step if REVERSE else y_step), mask=beside).to(ACC), 1)
    tl.store(gx_at, (y_beside * r).to(gx_at.dtype.element_ty), mask=valid)
    return pick(r, tl.arange(0, a.shape[1])[None, :, None] == a.shape[1] - 1, 1, True)


@triton.jit
def backward_cols_kernel(
    x_ptr,  # the forward's input, read as (n_lines // n_mid, n_mid, length, inner) through stride_x*
    y_ptr,  # the forward's output, the same through stride_y*
    g_ptr,  # the gradient of the output, laid as y
    gx_ptr,  # the gradient of the input, laid as y, or chunk maps if REDUCE
    maps_ptr,  # (2, n_lines, n_chunks, inner): each chunk's map (a, b), read when n_chunks > 1
    n_lines,  # (outer, mid) pairs
    n_mid,
    length,
    inner_units,  # inner, in units of UNIT elements
    chunk,  # scan positions that one program covers (a multiple of BLOCK_L)
    stride_xo_units,  # x's and y's outer, mid and scan strides in units of UNIT elements
    stride_xm_units,
    stride_xl_units,
    stride_xi,
    stride_yo_units,
    stride_ym_units,
    stride_yl_units,
    stride_yi,
    OUT: tl.constexpr,  # the forward's output dtype: the input is cast to it first, as in the forward
    ACC: tl.constexpr,  # dtype the gradient is computed in
    BLOCK_L: tl.constexpr,  # scan positions per step
    BLOCK_I: tl.constexpr,  # inner positions per program
    RUN: tl.constexpr,  # inner positions side by side in a thread (kernels/cols.py: column_run)
    REDUCE: tl.constexpr,  # write each chunk's map (a, b) instead of the gradient
    BLOCK_C: tl.constexpr,  # chunk maps composed a step
    EXCLUSIVE: tl.constexpr,  # the gradient of the exclusive scan
    REVERSE: tl.constexpr,  # the gradient of the reverse scan
    STAGES: tl.constexpr,  # tiles in flight: above 1, the next tiles' loads start before this one's scan
    X_LIKE_Y: tl.constexpr,  # x has y's strides: y's addresses serve it
    UNIT: tl.constexpr,  # elements that divide inner and the *_units strides (combine.stride_unit)
):
    # Division-free, so exact where inputs are zero:
    #   grad_x[i] = y[i - 1] * r[i],   r[i] = g[i] + x[i + 1] * r[i + 1],   r[length] = 0;
    # for an exclusive scan, y[i] * r[i] with r[i] = g[i + 1] + x[i + 1] * r[i + 1]. A reverse scan
    # mirrors both: the recurrence runs left to right from r[-1] = 0, and y is read one place the
    # other way. Each program walks its chunk in the recurrence's direction in [BLOCK_I // RUN,
    # BLOCK_L, RUN] tiles whose rows are read in that order, so an ordinary scan of the maps
    # r -> b + a * r composes them; the carry is r where the tile is left. Where RUN < BLOCK_I each
    # thread holds RUN whole columns of a tile (the forward's scan_cols_kernel layout) and the scan
    # runs through them within the thread; with RUN = BLOCK_I the lanes split columns and rows.
    # x may lie apart from y, g and gx (layout.turned_view: a transposed input is read as it lies);
    # Triton lays each load along its own contiguous axis and turns the tile between them.
    inner, stride_xo, stride_xm, stride_xl, stride_yo, stride_ym, stride_yl = in_elements(
        inner_units, stride_xo_units, stride_xm_units, stride_xl_units, stride_yo_units, stride_ym_units,
        stride_yl_units, UNIT)
    pid_c = tl.program_id(1)
    n_chunks = tl.num_programs(1)
    line, cols, col_mask, start, end = column_block(tl.program_id(0), pid_c, inner, length, chunk, BLOCK_I, RUN)
    y_base = line_offset(line, cols, n_mid, stride_yo, stride_ym, stride_yi)
    # Where x lies as y, one set of addresses serves both (a second spills where loads are not vectors).
    x_base = y_base if X_LIKE_Y else line_offset(line, cols, n_mid, stride_xo, stride_xm, stride_xi)
    # The carry entering this chunk: the maps of the chunks the recurrence passes first applied to 0,
    # composed on the program's columns in a line.
    lanes = tl.reshape(cols, [BLOCK_I])
    carry = tl.zeros([BLOCK_I], ACC)
    if not REDUCE:
        carry = entering_carry(maps_ptr + (line * n_chunks) * inner + lanes, lanes < inner, n_lines * n_chunks * inner,
                               inner, pid_c, n_chunks, carry, 0, BLOCK_C, REVERSE)
    carry = tl.reshape(carry, cols.shape)
    chunk_a = tl.full(cols.shape, 1, ACC)
    chunk_b = tl.zeros(cols.shape, ACC)
    steps = tl.arange(0, BLOCK_L)[None, :, None]
    last = steps == BLOCK_L - 1
    for k in tl.range(0, tl.cdiv(end - start, BLOCK_L), num_stages=STAGES):
        # This tile's positions in the recurrence's order, whether each is in the chunk, whether
        # the neighbour the recurrence comes from is in the line, and whether y beside it is. The
        # masks compare the rows' numbers in the tile with scalars: through their 64-bit positions
        # LLVM keeps a pointer a row live (kernels/cols.py: scan_cols_kernel).
        if REVERSE:
            base = start + k * BLOCK_L
            pos = base + steps
            in_chunk = steps < end - base
            has_next = (steps > 0) | (base > 0)  # pos >= 1, in 32 bits
            has_y = steps < length - 1 - base
        else:
            base = end - 1 - k * BLOCK_L
            pos = base - steps
            in_chunk = steps <= base - start
            has_next = steps > base + 1 - length
            has_y = steps < base
        valid = in_chunk & col_mask
        y_at = y_base + pos * stride_yl
        x_at = y_at if X_LIKE_Y else x_base + pos * stride_xl
        a, b = column_maps(x_ptr + x_at, g_ptr + y_at, stride_xl, stride_yl, valid, has_next, OUT, ACC, EXCLUSIVE,
                           REVERSE)
        if REDUCE:
            tile_a, tile_b = tl.associative_scan((a, b), 1, affine_combine)
            tile_a, tile_b = pick(tile_a, last, 1, True), pick(tile_b, last, 1, True)
            chunk_a, chunk_b = affine_combine(chunk_a, chunk_b, tile_a, tile_b)
        else:
            carry = column_gradient(y_ptr + y_at, gx_ptr + y_at, stride_yl, a, b, carry, valid, has_y, ACC, EXCLUSIVE,
                                    REVERSE)
    if REDUCE:
        out = gx_ptr + (line * n_chunks + pid_c) * inner + cols
        tl.store(out, chunk_a, mask=col_mask)
        tl.store(out + n_lines * n_chunks * inner, chunk_b, mask=col_mask)


@triton.jit
def backward_chain_cols_kernel(
    x_ptr,  # the forward's input, read as (n_lines // n_mid, n_mid, length, inner) through stride_x*
    y_ptr,  # the forward's output, the same through stride_y*
    g_ptr,  # the gradient of the output, laid as y
    gx_ptr,  # the gradient of the input, laid as y
    state_ptr,  # kernels/lookback.py: chain_state, a counter and two slots of BLOCK_I words a line
    n_lines,  # (outer, mid) pairs
    n_mid,
    length,
    inner_units,  # inner, in units of UNIT elements
    n_tiles,  # tiles of BLOCK_L positions a line
    stride_xo_units,  # x's and y's outer, mid and scan strides in units of UNIT elements
    stride_xm_units,
    stride_xl_units,
    stride_xi,
    stride_yo_units,
    stride_ym_units,
    stride_yl_units,
    stride_yi,
    OUT: tl.constexpr,  # the forward's output dtype: the input is cast to it first, as in the forward
    BLOCK_L: tl.constexpr,  # scan positions per tile
    BLOCK_I: tl.constexpr,  # inner positions per line
    RUN: tl.constexpr,  # inner positions side by side in a thread (kernels/cols.py: column_run)
    EXCLUSIVE: tl.constexpr,  # the gradient of the exclusive scan
    REVERSE: tl.constexpr,  # the gradient of the reverse scan
    CONTIGUOUS: tl.constexpr,  # x lies as y, contiguous (n_lines, length, inner): one address serves all four
    UNIT: tl.constexpr,  # elements that divide inner and the *_units strides (combine.stride_unit)
):
    # backward_cols_kernel's recurrence for lines of columns too few to fill the GPU, in one pass
    # of kernels/lookback.py's chain (scan_chain_cols_kernel): tiles numbered in the recurrence's
    # direction, each composes its maps before it waits, then passes on r through them, rounded
    # once, and only then computes its gradient.
    inner, stride_xo, stride_xm, stride_xl, stride_yo, stride_ym, stride_yl = in_elements(
        inner_units, stride_xo_units, stride_xm_units, stride_xl_units, stride_yo_units, stride_ym_units,
        stride_yl_units, UNIT)
    n_col_blocks = tl.cdiv(inner, BLOCK_I)
    t, tile_line, slots = chain_tile(state_ptr, n_lines * n_col_blocks, n_tiles, BLOCK_I)
    line = (tile_line // n_col_blocks).to(tl.int64)
    lane_cols = tl.arange(0, BLOCK_I // RUN)[:, None, None] * RUN + tl.arange(0, RUN)[None, None, :]
    cols = (tile_line % n_col_blocks) * BLOCK_I + lane_cols
    steps = tl.arange(0, BLOCK_L)[None, :, None]
    # This tile's positions in the recurrence's order (see backward_cols_kernel).
    if REVERSE:
        pos = t.to(tl.int64) * BLOCK_L + steps
        has_next = pos >= 1
        has_y = pos + 1 < length
    else:
        pos = length - 1 - t.to(tl.int64) * BLOCK_L - steps
        has_next = pos + 1 < length
        has_y = pos >= 1
    valid = (pos >= 0) & (pos < length) & (cols < inner)
    if CONTIGUOUS:
        # Without the strides' arithmetic: 237 registers a thread against 254 and 8 bytes of spill
        # (131071 x 8191 dim 0, sm_90).
        y_at = (line * length + pos) * inner + cols
        x_at = y_at
    else:
        y_at = line_offset(line, cols, n_mid, stride_yo, stride_ym, stride_yi) + pos * stride_yl
        x_at = line_offset(line, cols, n_mid, stride_xo, stride_xm, stride_xi) + pos * stride_xl
    a, b = column_maps(x_ptr + x_at, g_ptr + y_at, stride_xl, stride_yl, valid, has_next, OUT, tl.float32, EXCLUSIVE,
                       REVERSE)
    _, tile_b = tl.associative_scan((a, b), 1, affine_combine)
    tile_b = pick(tile_b, steps == BLOCK_L - 1, 1, True)
    # The tile's product of a in float64: float32 products of near-one factors round low more often
    # than high (combine.aggregate_dtype), and r passes through every tile's product along the
    # line, so that bias adds up (fp32 131072 x 8192 dim 0: 1354 eps in float32, torch 948; 26 so).
    tile_a = tl.reduce(a.to(tl.float64), 1, mul_combine, keep_dims=True)
    carry = chain_link(slots, t, n_tiles, tile_a, tile_b, 0, lane_cols, BLOCK_I)
    column_gradient(y_ptr + y_at, gx_ptr + y_at, stride_yl, a, b, carry, valid, has_y, tl.float32, EXCLUSIVE,
                    REVERSE)
    chain_done(slots, t, n_tiles, lane_cols, BLOCK_I)


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
    state_ptr,  # lookback_state (kernels/lookback.py): per tile and per group of WINDOW tiles, a word
    n_rows,
    length,
    tiles_per_row,
    OUT: tl.constexpr,  # the forward's output dtype: the input is cast to it first, as in the forward
    BLOCK_L: tl.constexpr,  # positions per tile
    WINDOW: tl.constexpr,  # tiles per group: the last tile of a group publishes the row's map up to it
    EXCLUSIVE: tl.constexpr,  # the gradient of the exclusive scan
    REVERSE: tl.constexpr,  # the gradient of the reverse scan
    VEC: tl.constexpr,  # elements of a 16-byte vector (combine.vector_elements)
    EDGES: tl.constexpr,  # rows may start or end inside a vector (length is not a multiple of VEC)
    ALIGNED: tl.constexpr,  # x and g start on 16 bytes: whole vectors may be read (combine.aligned)
):
    # The gradient of rows too few to fill the GPU, in one pass of float32 tiles: kernels/lookback.py's
    # deterministic look-back, run from the end where backward_rows_kernel's recurrence starts (the
    # row's end; its start for a reverse scan) with a carry of 0. Every tile publishes its map of the
    # carry (the carry it passes on as a function of the one it receives); the last tile of each
    # group of WINDOW also publishes the map of the row from where the recurrence starts up to that
    # tile. A tile's incoming carry comes from the map of the group before its own composed with the
    # maps of the tiles before it in its group, in a fixed order: the result never depends on
    # timing. Tiles are numbered in the order programs start, in the recurrence's direction, so a
    # tile waits only for tiles that are running or done. A row's tiles are laid on vectors as in
    # backward_rows_kernel.
    row, t, group, tile_words, group_words, _ = lookback_tile(state_ptr, n_rows, tiles_per_row, WINDOW)
    index = t if REVERSE else tiles_per_row - 1 - t  # the tile's place in the row
    origin = vectors_from(row * length, VEC) + index * BLOCK_L
    col = origin - row * length  # the tile's first position in the row
    steps = tl.arange(0, BLOCK_L)
    tile_lo, tile_hi = within(-col, BLOCK_L), within(length - col, BLOCK_L)
    mask = (steps >= tile_lo) & (steps < tile_hi)
    # The tile's map is published before any wait: tiles after it wait for it.
    x, g = load_gradient_tile(x_ptr + origin, g_ptr + origin, steps, tile_hi, mask, True, OUT, tl.float32, VEC,
                              EDGES, ALIGNED, REVERSE)
    edge, inside = edge_output(col, length, BLOCK_L, EXCLUSIVE, REVERSE)
    # y is 1 outside the row, set by a select: triton 3.6's interpreter ignores `other` for bf16 loads.
    y_edge = tl.where(inside, tl.load(y_ptr + row * length + edge, mask=inside).to(tl.float32), 1)
    a, b, full_a, full_b = recurrence(x, g, 0, EXCLUSIVE, not REVERSE)
    leave = steps == (BLOCK_L - 1 if REVERSE else 0)
    # A long row's carry multiplies the products of all its tiles (1-D 2^28: 3e-4 from the scan's
    # products, against torch's 2.5e-4; 7e-6 from tile_product's).
    tile_a = tile_product(x, full_a, leave, 0)
    tile_b = pick(full_b, leave, 0)
    tl.atomic_xchg(tile_words + t, pack_map(tile_a, tile_b), sem="relaxed")
    # The maps of the tiles before this one in its group, composed by a scan in index order (the
    # group's first tile applies first); tiles not before it read as the identity.
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
    # The carry entering the tile: the row's map up to there applied to the carry of 0 where the
    # recurrence starts, its b (so a map's a is never multiplied by that 0). The exclusive products
    # only now: scanned before the wait they hold registers through it (sm_90: 186 a thread, two
    # programs a multiprocessor; 145 and three this way).
    r = b + a * carry_b
    between = products_to_exit(x, 0, not REVERSE)
    store_vectors(gx_ptr + origin, steps, (y_edge * between * r).to(gx_ptr.dtype.element_ty), tile_lo, tile_hi, True,
                  VEC, EDGES, (index == 0) | (index >= tiles_per_row - 2))


def launch_backward(x, y, g, gx, maps, view, out_dtype, plan, reduce, exclusive=False, reverse=False):
    """The gradient of cumprod (or, with `exclusive` and `reverse`, of those scans) into `gx` (or,
    with `reduce`, each chunk's map into `maps`), with the tile sizes of `plan` = (kind, n_chunks,
    chunk, BLOCK_A, BLOCK_L, num_warps). `view` is a layout.turned_view of x (y, g and gx lie as
    its result); the row kinds read only contiguous ones (layout.contiguous_view)."""
    kind, n_chunks, chunk, block_a, block_l, num_warps = plan
    (n_outer, n_mid, length, inner), x_strides, y_strides = view
    n_lines = n_outer * n_mid
    # Chunk maps composed a step: a tile of them would hold registers even where there are none.
    block_c = 1 if n_chunks == 1 else max(1, 1024 // block_a)
    options = dict(OUT=triton_dtype(out_dtype), ACC=triton_dtype(accumulator_dtype(out_dtype)), REDUCE=reduce,
                   BLOCK_C=block_c, BLOCK_L=block_l, EXCLUSIVE=exclusive, REVERSE=reverse, num_warps=num_warps)
    if kind in ("rows", "line"):
        options.update(row_vectors(x, g, length, block_l))
    if kind == "rows":
        grid = (ceil_div(n_lines, block_a), n_chunks)
        backward_rows_kernel[grid](
            x, y, g, maps if reduce else gx, maps, n_lines, length, chunk, BLOCK_R=block_a, **options,
        )
    elif kind == "line":
        backward_line_kernel[(n_lines, n_chunks)](
            x, y, g, maps if reduce else gx, maps, n_lines, length, chunk, RUN=options["VEC"], **options,
        )
    else:
        grid = (n_lines * ceil_div(inner, block_a), n_chunks)
        # The lanes' columns as for a forward tile without stages (kernels/cols.py: column_run): two
        # whole columns a lane where the plan puts 64 on one warp (dispatch.plan_backward), which
        # then keeps four steps in flight.
        run = column_run(block_a, num_warps, 1, False)
        unit, counts = column_units(x, y, inner, x_strides, y_strides)
        backward_cols_kernel[grid](
            x, y, g, maps if reduce else gx, maps, n_lines, n_mid, length, counts[0], chunk, *counts[1:4],
            x_strides[3], *counts[4:], y_strides[3], BLOCK_I=block_a, RUN=run, STAGES=4 if run < block_a else 1,
            X_LIKE_Y=x_strides == y_strides, UNIT=unit, **options,
        )


def launch_backward_lookback(x, y, g, gx, n_rows, length, out_dtype, plan, exclusive=False, reverse=False):
    """The gradient of cumprod (or of its exclusive and reverse scans) over rows of contiguous
    (n_rows, length) tensors into `gx` in one pass, with the tile sizes of `plan` = ("lookback",
    tiles_per_row, BLOCK_L, WINDOW, BLOCK_L, num_warps)."""
    _, _, _, window, block_l, num_warps = plan
    vectors = row_vectors(x, g, length, block_l)
    # Tiles laid from the vector a row's first element is in (combine.line_chunk).
    tiles_per_row = ceil_div(length + line_skew(length, vectors["VEC"]), block_l)
    state = lookback_state(x.device, n_rows, tiles_per_row, window)
    args = dict(x_ptr=x, y_ptr=y, g_ptr=g, gx_ptr=gx, state_ptr=state, n_rows=n_rows, length=length,
                tiles_per_row=tiles_per_row, OUT=triton_dtype(out_dtype), BLOCK_L=block_l, WINDOW=window,
                EXCLUSIVE=exclusive, REVERSE=reverse, **vectors)
    launch_resident(backward_lookback_kernel, (n_rows * tiles_per_row,), args, num_warps, x.device)


def launch_backward_chain(x, y, g, gx, view, out_dtype, plan, exclusive=False, reverse=False):
    """The gradient of cumprod (or of its exclusive and reverse scans) over the scan axis of `view`
    (a layout.turned_view of x; y, g and gx lie as its result) into `gx` in one pass of
    backward_chain_cols_kernel, with the tile sizes of `plan` = ("chain", tiles a line, BLOCK_L,
    BLOCK_I, BLOCK_L, num_warps)."""
    _, n_tiles, _, block_i, block_l, num_warps = plan
    (n_outer, n_mid, length, inner), x_strides, y_strides = view
    n_lines = n_outer * n_mid
    state = chain_state(x.device, n_lines * ceil_div(inner, block_i), block_i)
    contiguous = view == contiguous_view(n_lines, length, inner)
    # Whole columns a lane only where x lies as y (a turned x is read along another axis).
    run = chain_run(block_i, num_warps, (0, *x_strides[2:]), x.element_size()) if contiguous else 1
    unit, counts = column_units(x, y, inner, x_strides, y_strides)
    backward_chain_cols_kernel[(n_lines * ceil_div(inner, block_i) * n_tiles,)](
        x, y, g, gx, state, n_lines, n_mid, length, counts[0], n_tiles, *counts[1:4], x_strides[3], *counts[4:],
        y_strides[3], OUT=triton_dtype(out_dtype), BLOCK_L=block_l, BLOCK_I=block_i, RUN=run, EXCLUSIVE=exclusive,
        REVERSE=reverse, CONTIGUOUS=contiguous, UNIT=unit, num_warps=num_warps)


def column_units(x, y, inner, x_strides, y_strides):
    """combine.in_units of the gradient's column kernels: UNIT, and in its units inner and x's and
    y's outer, mid and scan strides, in the kernels' order."""
    return in_units((inner, *x_strides[:3], *y_strides[:3]), (x.element_size(), y.element_size()))


def row_vectors(x, g, length, block_l):
    """VEC, EDGES and ALIGNED of the row kernels' vector grid (combine.line_chunk) over contiguous
    rows of x and g (the output's dtype) of `length`, in tiles of block_l."""
    vec = vector_elements(x.element_size(), g.element_size(), block=block_l)
    return dict(VEC=vec, EDGES=length % vec != 0, ALIGNED=aligned(x, g))

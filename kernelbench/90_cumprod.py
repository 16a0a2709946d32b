# KernelBench level 1, problem 90: torch.cumprod(x, dim). Generated from the triton_cumprod
# package by `python -m triton_cumprod.kernelbench --write`; edit the package, not this file.
import torch
import torch.nn as nn
import triton
import triton.language as tl


@triton.jit
def mul_combine(a, b):
    # The associative operator of the scan; every kernel family scans and reduces with it.
    return a * b


@triton.jit
def pick(values, where, axis: tl.constexpr, keep_dims: tl.constexpr = False):
    # The entry of each line along `axis` at the one position `where` marks, exact whatever the
    # value (inf, NaN, -0.0): integers OR-ed with zeros (a 64-bit multiply is several instructions
    # an element: int32 -> int64 rows 2.437 -> 2.376 ms), floats a product with ones (OR-ed, rows
    # of 999 ran 0.861 of copy against 0.996, benchmarks/NOTES.md).
    if values.dtype.is_int():
        return tl.reduce(tl.where(where, values, 0), axis, or_combine, keep_dims=keep_dims)
    return tl.reduce(tl.where(where, values, 1), axis, mul_combine, keep_dims=keep_dims)


@triton.jit
def or_combine(a, b):
    return a | b


@triton.jit
def arrival(pid_c, n_chunks, REVERSE: tl.constexpr):
    # The chunk of a split line whose inclusive product is chunk pid_c's carry (the one the scan
    # arrives from), and whether there is one.
    arrive = pid_c + 1 if REVERSE else pid_c - 1
    return arrive, (arrive >= 0) & (arrive < n_chunks)


@triton.jit
def exclusive_combine(p1, e1, p2, e2):
    # A run as (p, e): the product of all of it and of all but its last element.
    return p1 * p2, p1 * e2


@triton.jit
def scan_tile(x, carry, positions, start, axis: tl.constexpr, EXCLUSIVE: tl.constexpr, REVERSE: tl.constexpr):
    # One step of a line's scan over the tile x, whose positions along `axis` are start, start + 1, ...
    # The running product `carry` is folded into the element where the scan enters the tile (its
    # first, or its last for a reverse scan), so the scan continues the line. Returns the outputs and
    # the inclusive scan, from which leaving() takes the next carry. An exclusive scan also carries
    # the product of all but the last element of each run: each output is the product of the
    # elements before it, the entry element's is the carry itself.
    enter = start + x.shape[axis] - 1 if REVERSE else start
    folded = tl.where(positions == enter, x * carry, x)
    if EXCLUSIVE:
        inclusive, before = tl.associative_scan((folded, tl.full(x.shape, 1, x.dtype)), axis, exclusive_combine,
                                                reverse=REVERSE)
        return tl.where(positions == enter, carry, before), inclusive
    inclusive = tl.associative_scan(folded, axis, mul_combine, reverse=REVERSE)
    return inclusive, inclusive


@triton.jit
def leaving(inclusive, positions, start, axis: tl.constexpr, REVERSE: tl.constexpr):
    # The next carry: the inclusive value where the scan leaves the tile (masked elements hold 1), so
    # every step goes on from exactly the value the last one reached. Taken after the tile's store:
    # the widest tiles have no registers to hold the outputs across this reduce.
    leave = start if REVERSE else start + inclusive.shape[axis] - 1
    return pick(inclusive, positions == leave, axis)


@triton.jit
def vectors_from(first, VEC: tl.constexpr):
    # The position of the VEC-element vector that holds `first`: lines walked in tiles laid from
    # there load and store whole 16-byte vectors wherever their sizes and strides fall, and only
    # the vectors a line starts or ends inside take their elements one by one (store_vectors).
    return first // VEC * VEC


@triton.jit
def within(offset, BLOCK: tl.constexpr):
    # A line's bound (start or end) as an offset into a tile of BLOCK, clamped to [0, BLOCK], in 32
    # bits.
    return tl.minimum(tl.maximum(offset, 0), BLOCK).to(tl.int32)


@triton.jit
def store_vectors(ptr, at, values, lo, hi, mask, VEC: tl.constexpr, EDGES: tl.constexpr, edge):
    # tl.store(ptr + at, values) where lo <= at < hi (and `mask`), for a tile at `ptr` that starts on
    # a vector (vectors_from): the vectors wholly inside with 16-byte stores (their bounds are
    # multiples of VEC, which the compiler sees), then, where EDGES and the scalar `edge` say the
    # tile may hold a line's first or last vector, the elements of the vectors it starts or ends
    # inside. Without EDGES, lo and hi are vector boundaries.
    first, last = tl.cdiv(lo, VEC) * VEC, hi // VEC * VEC
    whole = mask & (at < last)
    if EDGES:
        whole = whole & (at >= first)
    tl.store(ptr + at, values, mask=whole)
    if EDGES:
        if edge:
            tl.store(ptr + at, values, mask=mask & (at >= lo) & (at < hi) & ((at < first) | (at >= last)))


@triton.jit
def body_of(line_start, line_end, VEC: tl.constexpr):
    # (first, end) of a line's body: its whole vectors, from the first vector boundary in it to the
    # last (never before the first). The elements before and after it (fewer than VEC each) are
    # its head and tail pieces (piece).
    first = tl.cdiv(line_start, VEC) * VEC
    return first, tl.maximum(line_end // VEC * VEC, first)


@triton.jit
def piece(x_at, stride, col, lo, hi, mask, OUT: tl.constexpr, ACC: tl.constexpr, VEC: tl.constexpr,
          PHASED: tl.constexpr):
    # Positions [lo, hi) of a line inside the vector that starts at `col` (its head, before its
    # body, or its tail, after it) from x at x_at + position * stride: (x cast to OUT and carried in
    # ACC there, 1 elsewhere; where they are). PHASED reads the whole vector where the piece is not
    # empty: it holds an element of x.
    offs = tl.arange(0, VEC)
    first, last = within(lo - col, VEC), within(hi - col, VEC)
    inside = mask & (offs >= first) & (offs < last)
    if PHASED:
        x = tl.load(x_at + col + offs, mask=mask & (first < last), other=1)
    else:
        x = tl.load(x_at + (col + offs) * stride, mask=inside, other=1)
    return tl.where(inside, x.to(OUT).to(ACC), 1), inside


@triton.jit
def scan_piece(y_at, x, inside, col, carry, AXIS: tl.constexpr, EXCLUSIVE: tl.constexpr, REVERSE: tl.constexpr):
    # A piece's scan (piece) on from `carry`, stored at y_at + position: returns the carry past it.
    offs = tl.arange(0, x.shape[AXIS])
    y, inclusive = scan_tile(x, carry, offs, 0, AXIS, EXCLUSIVE, REVERSE)
    tl.store(y_at + col + offs, y.to(y_at.dtype.element_ty), mask=inside)
    return leaving(inclusive, offs, 0, AXIS, REVERSE)


@triton.jit
def mirrored(first, BLOCK: tl.constexpr, RUN: tl.constexpr):
    # The positions [first, first + BLOCK) from the last, as a [BLOCK // RUN, RUN] tile: runs of RUN
    # ascending positions, the runs in descending order. A thread holds whole runs, so a tile read
    # backwards still loads and stores RUN elements (16 bytes) at once.
    runs = BLOCK // RUN - 1 - tl.arange(0, BLOCK // RUN)
    return first + runs[:, None] * RUN + tl.arange(0, RUN)[None, :]


@triton.jit
def turned(runs):
    # Each run of a mirrored() tile in the opposite order: register moves within a thread.
    if runs.shape[1] > 1:
        runs = tl.flip(runs, 1)
    return runs


@triton.jit
def joined(runs):
    # A mirrored() tile as one line in the order its positions run backwards: each run turned
    # around, the runs joined.
    return tl.reshape(turned(runs), [runs.shape[0] * runs.shape[1]])


@triton.jit
def parted(line, RUN: tl.constexpr):
    # joined() undone: a line back into the mirrored() tile of runs of RUN it came from.
    return turned(tl.reshape(line, [line.shape[0] // RUN, RUN]))


@triton.jit
def scan_mirrored(x, carry, EXCLUSIVE: tl.constexpr):
    # The reverse scan of one line's tile x read at mirrored() positions, entering with carry: a
    # forward scan of the runs turned around and joined. triton 3.6's reverse scan costs several
    # times the shuffles of its forward scan (even along an axis a thread holds), and on a tile with
    # a leading axis of one row the joined runs lose their layout: hence one line. Returns the
    # outputs, in x's order, and the inclusive scan, from which leaving_mirrored() takes the next
    # carry (after the tile's store, as leaving()).
    BLOCK: tl.constexpr = x.shape[0] * x.shape[1]
    y, inclusive = scan_tile(joined(x), carry, tl.arange(0, BLOCK), 0, 0, EXCLUSIVE, False)
    return parted(y, x.shape[1]), inclusive


@triton.jit
def leaving_mirrored(inclusive):
    # The next carry ([1]) of scan_mirrored: the inclusive value at the end of the joined runs.
    return pick(inclusive, tl.arange(0, inclusive.shape[0]) == inclusive.shape[0] - 1, 0, True)


@triton.jit
def row_piece(x_rows, y_ptr, stride_xl, body, body_end, row_start, row_end, row_mask, carry, OUT: tl.constexpr,
              ACC: tl.constexpr, VEC: tl.constexpr, PHASED: tl.constexpr, REDUCE: tl.constexpr,
              EXCLUSIVE: tl.constexpr, REVERSE: tl.constexpr, TAIL: tl.constexpr):
    # Each row's head (or TAIL) piece (combine.piece) scanned on from `carry`, or for REDUCE
    # multiplied into it: returns the carry past it.
    if TAIL:
        col, lo, hi = body_end, body_end, row_end
    else:
        col, lo, hi = body - VEC, row_start, tl.minimum(body, row_end)
    # x at a position: x_rows + position (PHASED), else x_rows + (position - row_start) * stride_xl.
    x_at = x_rows if PHASED else x_rows - (row_start * stride_xl)[:, None]
    x, inside = piece(x_at, stride_xl, col[:, None], lo[:, None], hi[:, None], row_mask[:, None], OUT, ACC, VEC,
                      PHASED)
    if REDUCE:
        return carry * tl.reduce(x, 1, mul_combine)
    return scan_piece(y_ptr, x, inside, col[:, None], carry[:, None], 1, EXCLUSIVE, REVERSE)


@triton.jit
def scan_rows_kernel(
    x_ptr,  # input, read as (n_rows, length) through its own strides
    y_ptr,  # output: contiguous (n_rows, length), or (n_rows, n_chunks) chunk products if REDUCE
    prefix_ptr,  # (n_rows, n_chunks) inclusive products of the chunks; read if HAS_PREFIX
    n_rows,
    length,
    chunk,  # positions of the tile grid that one program covers (a multiple of BLOCK_L)
    stride_xr,
    stride_xl,
    x_shift,  # PHASED: x's row r starts (stride_xr - length) * r = x_shift * VEC * r past y's
    OUT: tl.constexpr,  # output dtype: the input is cast to it before the scan, as torch does
    ACC: tl.constexpr,  # dtype the products are computed in (with REDUCE, the chunk products' dtype)
    BLOCK_R: tl.constexpr,  # rows per program
    BLOCK_L: tl.constexpr,  # elements per row and step
    REDUCE: tl.constexpr,  # write the product of each chunk instead of the scan
    HAS_PREFIX: tl.constexpr,  # chunk c starts from the inclusive product of the chunks before it
    STAGES: tl.constexpr,  # tiles in flight: above 1, the next tiles' loads start before this one's scan
    EXCLUSIVE: tl.constexpr,  # each output is the product of the elements before it
    REVERSE: tl.constexpr,  # scan from each row's end
    RUN: tl.constexpr,  # elements a thread stores at once when one row is scanned from its end
    VEC: tl.constexpr,  # elements of a 16-byte vector (combine.vector_elements)
    PHASED: tl.constexpr,  # x is contiguous along rows, 16-byte aligned, its rows VEC-aligned where y's are
    EDGES: tl.constexpr,  # rows may start or end inside a vector (length is not a multiple of VEC)
):
    # Program (r, c) scans rows [r * BLOCK_R, +BLOCK_R) over chunk c of a grid of BLOCK_L steps laid
    # on vector boundaries, carrying each row's running product, so that loads and stores stay 16
    # bytes wide whatever the row length. A row a program (PEEL) walks its whole vectors and takes
    # the elements before the first and after the last apart (scan_piece): a row of BLOCK_L still
    # takes one step. Rows a tile are laid from the vector that holds their first element
    # (combine.vectors_from); the positions outside the row read as 1.
    pid_c = tl.program_id(1)
    rows = tl.program_id(0).to(tl.int64) * BLOCK_R + tl.arange(0, BLOCK_R)
    row_mask = rows < n_rows
    PEEL: tl.constexpr = EDGES and BLOCK_R == 1
    # Positions are offsets into y: chunk c of row r holds [lo, hi) of the row's [body, body_end),
    # laid in steps from `start`; the last chunk runs to body_end whatever the plan's chunks cover.
    row_start = rows * length
    row_end = row_start + length
    if PEEL:
        body, body_end = body_of(row_start, row_end, VEC)
    else:
        body, body_end = vectors_from(row_start, VEC), row_end
    start = body + pid_c.to(tl.int64) * chunk
    first_chunk = pid_c == 0
    last_chunk = pid_c == tl.num_programs(1) - 1
    lo = tl.maximum(start, row_start)[:, None]
    hi = tl.where(last_chunk, body_end, tl.minimum(start + chunk, body_end))[:, None]
    # Steps: a row a program takes exactly those of its body; rows a tile as many as the longest.
    if PEEL:
        n_steps = tl.cdiv(tl.max(hi - start[:, None]), BLOCK_L)
    else:
        span = length + (VEC - 1 if EDGES else 0) - pid_c.to(tl.int64) * chunk
        n_steps = tl.cdiv(tl.where(last_chunk, span, tl.minimum(chunk, span)), BLOCK_L)
    if HAS_PREFIX:
        arrive, arrives = arrival(pid_c, tl.num_programs(1), REVERSE)
        carry = tl.load(prefix_ptr + rows * tl.num_programs(1) + arrive, mask=row_mask & arrives, other=1).to(ACC)
    else:
        carry = tl.full([BLOCK_R], 1, ACC)
    if PHASED:
        x_rows = x_ptr + (rows * x_shift * VEC)[:, None]
    else:
        x_rows = x_ptr + (rows * stride_xr)[:, None]
    if PEEL:
        # The piece the scan meets first: the head, or for a reverse scan the tail.
        if (last_chunk if REVERSE else first_chunk):
            carry = row_piece(x_rows, y_ptr, stride_xl, body, body_end, row_start, row_end, row_mask, carry, OUT, ACC,
                              VEC, PHASED, REDUCE, EXCLUSIVE, REVERSE, REVERSE)
    # One row scanned from its end reads each step backwards in runs and scans it forwards (see
    # scan_mirrored).
    MIRRORED: tl.constexpr = REVERSE and BLOCK_R == 1 and not REDUCE
    for k in tl.range(0, n_steps, num_stages=STAGES):
        step = n_steps - 1 - k if REVERSE else k  # a reverse scan walks from the chunk's end
        col = (start + step * BLOCK_L)[:, None]
        # Offsets in the step, and the row's part of it, as 32-bit numbers: 64-bit positions and
        # bounds an element cost two registers each.
        if MIRRORED:
            offs = mirrored(0, BLOCK_L, RUN)
        else:
            offs = tl.arange(0, BLOCK_L)[None, :]
        if PEEL:
            first, last = 0, within(hi - col, BLOCK_L)  # a body starts on a step
        elif EDGES:
            first, last = within(lo - col, BLOCK_L), within(hi - col, BLOCK_L)
        else:
            # Every row starts on a vector: the same bounds for all of them, which the compiler
            # sees (a tile of strided rows reads along the rows' neighbours).
            first = 0
            last = within(tl.where(last_chunk, length, tl.minimum((pid_c + 1).to(tl.int64) * chunk, length))
                          - pid_c.to(tl.int64) * chunk - step * BLOCK_L, BLOCK_L)
        inside = row_mask[:, None] & (offs >= first) & (offs < last)
        if PHASED:
            # Whole vectors: those past the row's ends hold other rows' elements, dropped below.
            x = tl.load(x_rows + col + offs, mask=row_mask[:, None] & (offs < tl.cdiv(last, VEC) * VEC), other=1)
        else:
            # The step's place in the row, the same for every row where rows start on vectors: a
            # tile of strided rows then reads along the rows' neighbours.
            if EDGES:
                at = col - row_start[:, None]
            else:
                at = pid_c.to(tl.int64) * chunk + step * BLOCK_L
            x = tl.load(x_rows + (at + offs) * stride_xl, mask=inside, other=1)
        x = x.to(OUT).to(ACC)
        if (EDGES and not PEEL) or REVERSE or REDUCE:
            # Outside the row, 1 by a select: elements before it that a tile of rows reads would
            # reach the scan, a reverse scan meets the masked tail first, a chunk's product takes it
            # in, and triton 3.6's interpreter ignores `other` for bf16 loads.
            x = tl.where(inside, x, 1)
        if REDUCE:
            carry = carry * tl.reduce(x, 1, mul_combine)
        elif MIRRORED:
            y, inclusive = scan_mirrored(x, carry, EXCLUSIVE)
            tl.store(y_ptr + col + offs, y.to(OUT), mask=row_mask[:, None] & (offs < last))
            carry = leaving_mirrored(inclusive)
        else:
            y, inclusive = scan_tile(x, carry[:, None], offs, 0, 1, EXCLUSIVE, REVERSE)
            edge = (step == 0) | (step >= n_steps - 2) | (BLOCK_R > 1)
            store_vectors(y_ptr + col, offs, y.to(OUT), first, last, row_mask[:, None], VEC, EDGES and not PEEL, edge)
            if REVERSE:
                carry = leaving(inclusive, offs, 0, 1, REVERSE)
            else:
                # Where the row's body leaves the step: past it, elements may be another row's.
                carry = pick(inclusive, offs == tl.maximum(last, 1) - 1, 1)
    if PEEL:
        # The piece the scan meets last: the tail, or for a reverse scan the head.
        if (first_chunk if REVERSE else last_chunk):
            carry = row_piece(x_rows, y_ptr, stride_xl, body, body_end, row_start, row_end, row_mask, carry, OUT, ACC,
                              VEC, PHASED, REDUCE, EXCLUSIVE, REVERSE, not REVERSE)
    if REDUCE:
        tl.store(y_ptr + rows * tl.num_programs(1) + pid_c, carry, mask=row_mask)


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


@triton.jit
def segmented_combine(p1, s1, p2, s2):
    # A run of a flat array of rows as (p, s): the product of its elements since the last row start
    # in it (all of them where none starts), and whether a row starts in it. Runs combine in the
    # order the scan meets them.
    return tl.where(s2, p2, p1 * p2), s1 | s2


@triton.jit
def segmented_exclusive_combine(p1, e1, s1, p2, e2, s2):
    # The same with e, the product of all but the run's last element since the last row start
    # (combine.exclusive_combine, reset where a row starts).
    return tl.where(s2, p2, p1 * p2), tl.where(s2, e2, p1 * e2), s1 | s2


@triton.jit
def load_or(at, mask, identity, OUT: tl.constexpr, ACC: tl.constexpr):
    # The elements at `at` where `mask`, cast to OUT and then ACC, and `identity` elsewhere, by a
    # select after the casts: triton 3.6's interpreter ignores `other` for bf16 loads and cannot
    # make a bf16 constant.
    return tl.where(mask, tl.load(at, mask=mask).to(OUT).to(ACC), identity)


@triton.jit
def halo_before(start, row_start, HALO: tl.constexpr):
    # The elements of the row of `start` before it (row_start of them): positions and mask.
    at = start - row_start + tl.arange(0, HALO)
    return at, at < start


@triton.jit
def halo_after(end, n_elements, LENGTH: tl.constexpr, HALO: tl.constexpr):
    # The elements of the row of end - 1 from `end` on (never past n_elements): positions and mask.
    last = end - 1
    at = end + tl.arange(0, HALO)
    return at, (at < last - last % LENGTH + LENGTH) & (at < n_elements)


@triton.jit
def scan_flat_tile(x_ptr, y_ptr, start, end, n_elements, OUT: tl.constexpr, ACC: tl.constexpr, LENGTH: tl.constexpr,
                   HALO: tl.constexpr, BLOCK: tl.constexpr, EXCLUSIVE: tl.constexpr, REVERSE: tl.constexpr,
                   FULL: tl.constexpr):
    # Scan elements [start, end) of the flat array on BLOCK lanes (all of them where FULL, which
    # loads and stores unmasked). A row start inside the tile (its end, for REVERSE) resets the scan
    # (segmented_combine); the row the scan enters the tile inside began up to LENGTH - 1 elements
    # before it (ends after it, for REVERSE), and those are read again for the carry.
    lanes = tl.arange(0, BLOCK)
    offs = start + lanes
    # Positions within the row, in 32 bits: start % LENGTH is taken once.
    row_start = (start % LENGTH).to(tl.int32)
    within = (row_start + lanes) % LENGTH
    if FULL:
        x = tl.load(x_ptr + offs).to(OUT).to(ACC)
    else:
        # Past the end, ones (a reverse scan passes them before the tile's last element).
        x = load_or(x_ptr + offs, offs < end, 1, OUT, ACC)
    if REVERSE:
        # The row of the tile's last element runs on to its end past the tile.
        halo_at, in_halo = halo_after(end, n_elements, LENGTH, HALO)
        begins, enter = within == LENGTH - 1, end - 1 - start
    else:
        halo_at, in_halo = halo_before(start, row_start, HALO)
        begins, enter = within == 0, 0
    carry = tl.reduce(load_or(x_ptr + halo_at, in_halo, 1, OUT, ACC), 0, mul_combine)
    x = tl.where(lanes == enter, x * carry, x)
    if EXCLUSIVE:
        before = tl.where(lanes == enter, carry, tl.full([BLOCK], 1, ACC))
        _, y, _ = tl.associative_scan((x, before, begins), 0, segmented_exclusive_combine, reverse=REVERSE)
    else:
        y, _ = tl.associative_scan((x, begins), 0, segmented_combine, reverse=REVERSE)
    if FULL:
        tl.store(y_ptr + offs, y.to(OUT))
    else:
        tl.store(y_ptr + offs, y.to(OUT), mask=offs < end)


@triton.jit
def scan_flat_rows_kernel(
    x_ptr,  # input: contiguous rows of LENGTH elements, read as one flat array
    y_ptr,  # output, laid out as x
    n_elements,
    OUT: tl.constexpr,  # output dtype: the input is cast to it before the scan, as torch does
    ACC: tl.constexpr,  # dtype the products are computed in
    LENGTH: tl.constexpr,  # elements a row
    HALO: tl.constexpr,  # a power of two of at least LENGTH - 1: the elements of the tile's entry row outside it
    BLOCK: tl.constexpr,  # elements a program
    EXCLUSIVE: tl.constexpr,  # each output is the product of the elements before it
    REVERSE: tl.constexpr,  # scan from each row's end
    MASKED: tl.constexpr,  # the last tile ends past n_elements
):
    # Program p scans elements [p * BLOCK, +BLOCK) of the flat array as one tile, whatever the rows:
    # every load and store is a whole 16-byte vector, and every lane holds an element. The last
    # tile masks at the last multiple of 16 (a mask at an odd bound would load element by element:
    # fp32 rows of 3 held 182 registers so, 95 without, sm_90) and scans the few elements past it
    # as a tile of 16 lanes.
    start = tl.program_id(0).to(tl.int64) * BLOCK
    if not MASKED or start + BLOCK <= n_elements:
        scan_flat_tile(x_ptr, y_ptr, start, start + BLOCK, n_elements, OUT, ACC, LENGTH, HALO, BLOCK, EXCLUSIVE,
                       REVERSE, True)
    else:
        body_end = n_elements // 16 * 16
        if start < body_end:
            scan_flat_tile(x_ptr, y_ptr, start, body_end, n_elements, OUT, ACC, LENGTH, HALO, BLOCK, EXCLUSIVE,
                           REVERSE, False)
        if body_end < n_elements:
            scan_flat_tile(x_ptr, y_ptr, body_end, n_elements, n_elements, OUT, ACC, LENGTH, HALO, 16, EXCLUSIVE,
                           REVERSE, False)


@triton.jit
def pack(value):
    # A published float64 as one 64-bit word whose value and flag arrive together: its bits,
    # inverted, so that a word not yet published (0) can be told apart from every value. The one
    # value whose inverted bits are 0, a NaN, is published as the canonical NaN instead.
    value = tl.where(value == value, value, float("nan"))
    return ~value.to(tl.int64, bitcast=True)


@triton.jit
def unpack(word):
    return (~word).to(tl.float64, bitcast=True)


@triton.jit
def lookback_tile(state_ptr, n_rows, tiles_per_row, WINDOW: tl.constexpr, GROUPS: tl.constexpr = 1,
                  WIDTH: tl.constexpr = 1):
    # The tile a program owns and the words of its row it publishes in: (row, t, group, tile_words,
    # group_words, super_words). The state (lookback_state) is a counter and two halves of words:
    # WIDTH words per tile, per group of WINDOW tiles and per super-group of GROUPS groups. Tiles are
    # numbered in the order programs start, from the counter, so a tile waits only for tiles that
    # are running or done: no deadlock, whichever programs the GPU keeps resident. Call k of a
    # state (of one grid) counts from k % 2 * n_tiles, publishes in half k % 2 and zeroes the other
    # half for the next call, a few words a program, so a state kept from call to call needs no
    # zeroing between them.
    n_groups = tl.cdiv(tiles_per_row, WINDOW)
    n_super = tl.cdiv(tiles_per_row, WINDOW * GROUPS)
    n_tiles = tl.cast(n_rows, tl.int64) * tiles_per_row
    half_words = (n_tiles + n_rows * (n_groups + n_super)) * WIDTH
    count = tl.atomic_add(state_ptr, 1)
    parity = (count >= n_tiles).to(tl.int64)
    tile = count - parity * n_tiles
    if count == 2 * n_tiles - 1:
        tl.atomic_add(state_ptr, -2 * n_tiles)  # every program of the call has counted
    half = state_ptr + 1 + parity * half_words
    # A half holds at most 3 * WIDTH words a tile: 4 * WIDTH a program clear the other.
    spare = state_ptr + 1 + (1 - parity) * half_words
    clear = tile + n_tiles * tl.arange(0, 4 * WIDTH)
    tl.store(spare + clear, 0, mask=clear < half_words)
    row = tile // tiles_per_row
    t = tile % tiles_per_row
    group = t // WINDOW
    tile_words = half + row * tiles_per_row * WIDTH
    group_words = half + (n_tiles + row * n_groups) * WIDTH
    super_words = half + (n_tiles + n_rows * n_groups + row * n_super) * WIDTH
    return row, t, group, tile_words, group_words, super_words


@triton.jit
def wait_all(words_ptr, mask, other):
    # The words `mask` selects, once every one is published (not 0); the others read `other`.
    words = tl.load(words_ptr, mask=mask, other=other, volatile=True)
    while tl.max((words == 0).to(tl.int32), None) > 0:
        words = tl.load(words_ptr, mask=mask, other=other, volatile=True)
    return words


@triton.jit
def wait_one(word_ptr):
    # One word, once it is published (not 0).
    word = tl.load(word_ptr, volatile=True)
    while word == 0:
        word = tl.load(word_ptr, volatile=True)
    return word


@triton.jit
def pack_half(value, half):
    # Half `half` (0: low, 1: high) of a published int64 as one word under a tag of 1 above it:
    # every 64-bit value is a product, so no inverted value could mark a word unpublished.
    return ((value >> (32 * half)) & 0xFFFFFFFF) | (1 << 32)


@triton.jit
def publish(word_ptr, value, WORDS: tl.constexpr):
    # `value` (float64: one packed word; int64: two tagged halves) into the WORDS words at word_ptr.
    if WORDS == 1:
        tl.atomic_xchg(word_ptr, pack(value), sem="relaxed")
    else:
        half = tl.arange(0, 2)
        tl.atomic_xchg(word_ptr + half, pack_half(value, half), sem="relaxed")


@triton.jit
def product_published(words_ptr, n, SLOTS: tl.constexpr, WORDS: tl.constexpr):
    # The product, in a fixed order, of the first n of the SLOTS values published from words_ptr
    # on, once every one of them is.
    slots = tl.arange(0, SLOTS)
    if WORDS == 1:
        values = unpack(wait_all(words_ptr + slots, slots < n, pack(tl.full([], 1, tl.float64))))
    else:
        half = tl.arange(0, 2)[None, :]
        words = wait_all(words_ptr + slots[:, None] * 2 + half, slots[:, None] < n,
                         pack_half(tl.full([], 1, tl.int64), half))
        values = tl.sum((words & 0xFFFFFFFF) << (32 * half), 1)
    return tl.reduce(values, 0, mul_combine)


@triton.jit
def value_published(word_ptr, WORDS: tl.constexpr):
    # The value published at word_ptr, once it is.
    if WORDS == 1:
        return unpack(wait_one(word_ptr))
    return product_published(word_ptr, 1, 1, WORDS)


@triton.jit
def scan_lookback_kernel(
    x_ptr,  # input, read as (n_rows, length) through its own strides
    y_ptr,  # output: contiguous (n_rows, length)
    state_ptr,  # lookback_state: words per tile, per group and per super-group, in two halves
    n_rows,
    length,
    stride_xr,
    stride_xl,
    x_shift,  # PHASED: x's row r starts (stride_xr - length) * r = x_shift * VEC * r past y's
    tiles_per_row,
    OUT: tl.constexpr,  # output dtype: the input is cast to it before the scan, as torch does
    ACC: tl.constexpr,  # dtype the scan multiplies in (combine.accumulator_dtype)
    BLOCK_L: tl.constexpr,  # elements per tile
    WINDOW: tl.constexpr,  # tiles per group: the last tile of a group publishes the group's product
    GROUPS: tl.constexpr,  # groups per super-group: its last tile publishes the row's product so far
    EXCLUSIVE: tl.constexpr,  # each output is the product of the elements before it
    REVERSE: tl.constexpr,  # scan from each row's end: tiles are numbered from there
    RUN: tl.constexpr,  # elements a thread stores at once (16 bytes) when it scans from the end
    VEC: tl.constexpr,  # elements of a 16-byte vector (combine.vector_elements)
    PHASED: tl.constexpr,  # x is contiguous along rows, 16-byte aligned, its rows VEC-aligned where y's are
    EDGES: tl.constexpr,  # rows may start or end inside a vector (length is not a multiple of VEC)
    WORDS: tl.constexpr,  # words a published product takes: 1 (float64), 2 (int64: see publish)
):
    # A single pass over rows too few to fill the GPU (Merrill and Garland's decoupled look-back,
    # made deterministic). Every tile publishes the product of its elements; the last tile of each
    # group of WINDOW tiles publishes the group's product; the last tile of each super-group of
    # GROUPS groups publishes the row's inclusive product up to its end. A tile's carry is the
    # inclusive product before its super-group times the products of the groups before its own in
    # the super-group times those of the tiles before it in its group, each multiplied in a fixed
    # order: the result never depends on timing. Only the super-groups' products form a chain, one
    # hop per WINDOW * GROUPS tiles; every other word a tile waits for comes from tiles that started
    # before it and wait on nothing. A row's tiles cover its body, its whole vectors (loads and
    # stores stay 16 bytes wide whatever its length); its first tile also takes the head before the
    # body, its last the tail after it (combine.piece).
    row, t, group, tile_words, group_words, super_words = lookback_tile(state_ptr, n_rows, tiles_per_row, WINDOW,
                                                                        GROUPS, WORDS)
    # Products of tiles and groups in float64 (see combine.aggregate_dtype), of integers in int64
    # (exact modulo 2^64 in any order).
    AGG: tl.constexpr = tl.float64 if WORDS == 1 else tl.int64
    super_group = group // GROUPS
    row_start = row * length
    row_end = row_start + length
    if EDGES:
        body, body_end = body_of(row_start, row_end, VEC)
    else:
        # Rows start and end on vectors: vectors_from says so to the compiler, which otherwise sees
        # multiples of VEC only where length is one of 16 (fp64 1-D 47488622 loaded 8 bytes at a time).
        body, body_end = vectors_from(row_start, VEC), vectors_from(row_end, VEC)
    tile = tiles_per_row - 1 - t if REVERSE else t  # the tile's place in the row
    col = body + tile * BLOCK_L
    if REVERSE:
        # Read backwards in runs and scanned forwards (see scan_mirrored).
        offs = mirrored(0, BLOCK_L, RUN)
    else:
        offs = tl.arange(0, BLOCK_L)
    last = within(body_end - col, BLOCK_L)
    if PHASED:
        x_at = x_ptr + row * x_shift * VEC
        x = tl.load(x_at + col + offs, mask=offs < last, other=1)
    else:
        x_at = x_ptr + row * stride_xr - row_start * stride_xl
        x = tl.load(x_at + (col + offs) * stride_xl, mask=offs < last, other=1)
    x = x.to(OUT).to(ACC)
    if EDGES or REVERSE:
        # Past the body, 1 by a select: a reverse scan meets it first, a tile before the last may
        # hold some of it where the body is shorter than the row, and triton 3.6's interpreter
        # ignores `other` for bf16 loads.
        x = tl.where(offs < last, x, 1)
    total = tl.reduce(x.to(AGG), None, mul_combine)
    body_total = total
    if EDGES:
        head, in_head = piece(x_at, stride_xl, body - VEC, row_start, tl.minimum(body, row_end), tile == 0, OUT,
                              ACC, VEC, PHASED)
        tail, in_tail = piece(x_at, stride_xl, body_end, body_end, row_end, tile == tiles_per_row - 1, OUT,
                              ACC, VEC, PHASED)
        total = tl.reduce(head.to(AGG), 0, mul_combine) * total * tl.reduce(tail.to(AGG), 0, mul_combine)
    publish(tile_words + t * WORDS, total, WORDS)
    in_group = product_published(tile_words + group * WINDOW * WORDS, t - group * WINDOW, WINDOW, WORDS)
    group_product = in_group * total
    if t % WINDOW == WINDOW - 1:
        publish(group_words + group * WORDS, group_product, WORDS)
    in_super = product_published(group_words + super_group * GROUPS * WORDS, group - super_group * GROUPS, GROUPS,
                                 WORDS)
    carry = tl.full([], 1, AGG)
    if super_group > 0:
        carry = value_published(super_words + (super_group - 1) * WORDS, WORDS)
    if t % (WINDOW * GROUPS) == WINDOW * GROUPS - 1:
        publish(super_words + super_group * WORDS, carry * (in_super * group_product), WORDS)
    carry = (carry * in_super * in_group).to(ACC)
    if EDGES:
        carry = scan_piece(y_ptr, tail if REVERSE else head, in_tail if REVERSE else in_head,
                           body_end if REVERSE else body - VEC, carry, 0, EXCLUSIVE, REVERSE)
    if REVERSE:
        y, inclusive = scan_mirrored(x, carry, EXCLUSIVE)
    else:
        y, inclusive = scan_tile(x, carry, offs, 0, 0, EXCLUSIVE, False)
    tl.store(y_ptr + col + offs, y.to(OUT), mask=offs < last)
    if EDGES:
        # The carry where the body leaves the tile, on into the piece after it. Integers multiply
        # exactly in any order: the carry into the body times its product, which leaves the
        # tile's scan dead at its store (int32 -> int64 on sm_90: 212 registers -> 94).
        if WORDS == 2:
            carry = carry * body_total.to(ACC)
        elif REVERSE:
            carry = leaving_mirrored(inclusive)
        else:
            carry = tl.where(last > 0, pick(inclusive, offs == tl.maximum(last, 1) - 1, 0), carry)
        scan_piece(y_ptr, head if REVERSE else tail, in_head if REVERSE else in_tail,
                   body - VEC if REVERSE else body_end, carry, 0, EXCLUSIVE, REVERSE)


@triton.jit
def scan_lookback_cols_kernel(
    x_ptr,  # input, read as (n_outer, length, inner) through its own strides (inner: 1)
    y_ptr,  # output: contiguous (n_outer, length, inner)
    state_ptr,  # lookback_state of WIDTH words an entry: the products of the tile's columns
    n_outer,
    length,
    inner,
    stride_xo,
    stride_xl,
    tiles_per_line,
    OUT: tl.constexpr,  # output dtype: the input is cast to it before the scan, as torch does
    ACC: tl.constexpr,  # dtype the scan multiplies in, as in scan_lookback_kernel
    BLOCK_L: tl.constexpr,  # scan positions per tile
    WINDOW: tl.constexpr,  # tiles per group, as in scan_lookback_kernel
    GROUPS: tl.constexpr,  # groups per super-group, as in scan_lookback_kernel
    EXCLUSIVE: tl.constexpr,  # each output is the product of the elements before it
    REVERSE: tl.constexpr,  # scan from each line's end: tiles are numbered from there
    WIDTH: tl.constexpr,  # inner positions per tile: all of them, rounded up to a power of two
    DENSE: tl.constexpr,  # inner == WIDTH == stride_xl: the input is contiguous
):
    # scan_lookback_kernel for a scan dim followed by a few inner positions ((16M, 4), dim 0): a tile
    # is [BLOCK_L, WIDTH] of one outer index, BLOCK_L * inner elements side by side in memory, and
    # every word it publishes or waits for is a row of WIDTH words, one a column.
    outer, t, group, tile_words, group_words, super_words = lookback_tile(state_ptr, n_outer, tiles_per_line, WINDOW,
                                                                          GROUPS, WIDTH)
    super_group = group // GROUPS
    first = (tiles_per_line - 1 - t if REVERSE else t) * BLOCK_L
    steps = first + tl.arange(0, BLOCK_L)[:, None]
    cols = tl.arange(0, WIDTH)[None, :]
    # A tile of a contiguous input is BLOCK_L * WIDTH elements in a row: strides and a mask the
    # compiler knows let it load 16 bytes at once.
    mask = (steps < length) & (cols < (WIDTH if DENSE else inner))
    at = steps * (WIDTH if DENSE else stride_xl) + cols
    x = tl.load(x_ptr + outer * stride_xo + at, mask=mask, other=1).to(OUT).to(ACC)
    if REVERSE:
        x = tl.where(mask, x, 1)  # as in scan_lookback_kernel
    total = tl.reduce(x.to(tl.float64), 0, mul_combine, keep_dims=True)
    tl.atomic_xchg(tile_words + t * WIDTH + cols, pack(total), sem="relaxed")
    one = pack(tl.full([1, WIDTH], 1, tl.float64))
    ahead = tl.arange(0, WINDOW)[:, None]
    words = wait_all(tile_words + (group * WINDOW + ahead) * WIDTH + cols, ahead < t - group * WINDOW, one)
    in_group = tl.reduce(unpack(words), 0, mul_combine, keep_dims=True)
    group_product = in_group * total
    if t % WINDOW == WINDOW - 1:
        tl.atomic_xchg(group_words + group * WIDTH + cols, pack(group_product), sem="relaxed")
    slots = tl.arange(0, GROUPS)[:, None]
    earlier_groups = wait_all(group_words + (super_group * GROUPS + slots) * WIDTH + cols,
                              slots < group - super_group * GROUPS, one)
    in_super = tl.reduce(unpack(earlier_groups), 0, mul_combine, keep_dims=True)
    carry = tl.full([1, WIDTH], 1, tl.float64)
    if super_group > 0:
        carry = unpack(wait_all(super_words + (super_group - 1) * WIDTH + cols, cols < WIDTH, one))
    if t % (WINDOW * GROUPS) == WINDOW * GROUPS - 1:
        tl.atomic_xchg(super_words + super_group * WIDTH + cols, pack(carry * (in_super * group_product)),
                       sem="relaxed")
    carry = carry * in_super * in_group
    y, _ = scan_tile(x, carry.to(ACC), steps, first, 0, EXCLUSIVE, REVERSE)
    tl.store(y_ptr + (outer * length + steps) * (WIDTH if DENSE else inner) + cols, y.to(OUT), mask=mask)


@triton.jit
def pack_tagged(value, tag):
    # A float32 carry and the number of the tile it is for, as one 64-bit word (tag above the value's
    # bits): a word is read whole, so a reader that sees its tag sees its value.
    return (tag.to(tl.int64) << 32) | value.to(tl.uint32, bitcast=True).to(tl.int64)


@triton.jit
def wait_tagged(words_ptr, tag):
    # The float32 values of the words at words_ptr once every one carries `tag`.
    words = tl.load(words_ptr, volatile=True)
    while tl.max(((words >> 32) != tag).to(tl.int32), None) > 0:
        words = tl.load(words_ptr, volatile=True)
    return words.to(tl.uint32).to(tl.float32, bitcast=True)


@triton.jit
def chain_tile(state_ptr, n_lines, n_tiles, BLOCK_I: tl.constexpr):
    # The tile a program of a chain owns (tile t of `line`) and its line's slots in the state
    # (chain_state): tiles are numbered depth-major in the order programs start, so a tile waits
    # only for tiles that are running or done, and the tiles of all lines at one depth move
    # together. The last program to start resets the counter for the next call.
    count = tl.atomic_add(state_ptr, 1)
    if count == n_lines * n_tiles - 1:
        tl.atomic_add(state_ptr, -n_lines * n_tiles)
    line = count % n_lines
    return count // n_lines, line, state_ptr + 1 + line.to(tl.int64) * 2 * BLOCK_I


@triton.jit
def chain_link(slots, t, n_tiles, map_a, map_b, start: tl.constexpr, lanes, BLOCK_I: tl.constexpr):
    # A tile's link in its line's chain: the carry it receives from tile t - 1 (`start` for the
    # first), after passing on b + a * carry through its own map (a * carry where map_b is None;
    # rounded once, from float64) to tile t + 1. Tile t publishes in slot t % 2, tagged t + 1 (`lanes` index the words): tile t + 1
    # overwrites the slot tile t reads only after tile t has read it.
    carry = tl.full(lanes.shape, start, tl.float32)
    if t > 0:
        carry = wait_tagged(slots + (t - 1) % 2 * BLOCK_I + lanes, t)
    if t < n_tiles - 1:
        passed = map_a.to(tl.float64) * carry.to(tl.float64)
        if map_b is not None:
            passed = map_b.to(tl.float64) + passed
        passed = passed.to(tl.float32)
        tl.atomic_xchg(slots + t % 2 * BLOCK_I + lanes, pack_tagged(passed, t + 1), sem="relaxed")
    return carry


@triton.jit
def chain_done(slots, t, n_tiles, lanes, BLOCK_I: tl.constexpr):
    # The last tile of a line zeroes its slots once it has read them: the next call finds them new.
    if t == n_tiles - 1:
        tl.store(slots + lanes, tl.zeros(lanes.shape, tl.int64))
        tl.store(slots + BLOCK_I + lanes, tl.zeros(lanes.shape, tl.int64))


@triton.jit
def scan_chain_cols_kernel(
    x_ptr,  # input, read as (n_outer, length, inner) through its own strides
    y_ptr,  # output: contiguous (n_outer, length, inner)
    state_ptr,  # chain_state: a counter, then two slots of BLOCK_I words a line
    n_outer,
    length,
    inner_units,  # inner, in units of UNIT elements
    stride_xo_units,  # in units of UNIT elements
    stride_xl_units,  # in units of UNIT elements
    stride_xi,
    n_tiles,  # tiles of BLOCK_L positions a line
    OUT: tl.constexpr,  # output dtype: the input is cast to it before the scan, as torch does
    BLOCK_L: tl.constexpr,  # scan positions per tile
    BLOCK_I: tl.constexpr,  # inner positions per line: the coalesced axis
    RUN: tl.constexpr,  # inner positions side by side in a thread's registers (kernels/cols.py)
    EXCLUSIVE: tl.constexpr,  # each output is the product of the elements before it
    REVERSE: tl.constexpr,  # scan from each line's end: tiles are numbered from there
    UNIT: tl.constexpr,  # elements that divide inner and x's outer and scan strides (combine.stride_unit)
):
    # A single pass over lines of columns too few for one program each to fill the GPU (a tall
    # dim 0): each line of BLOCK_I columns is cut in tiles of BLOCK_L positions, one a program, and
    # tile t takes its carry from tile t - 1 alone (a look-back of one tile: the result never
    # depends on timing; chain_tile, chain_link). A tile reads its elements and their product per
    # column first, waits for the carry, passes on carry times product and only then scans: a hop
    # costs one round trip to L2.
    inner, stride_xo, stride_xl = inner_units * UNIT, stride_xo_units * UNIT, stride_xl_units * UNIT
    n_col_blocks = tl.cdiv(inner, BLOCK_I)
    t, line, slots = chain_tile(state_ptr, n_outer * n_col_blocks, n_tiles, BLOCK_I)
    outer = (line // n_col_blocks).to(tl.int64)
    lanes = tl.arange(0, BLOCK_I // RUN)[:, None, None] * RUN + tl.arange(0, RUN)[None, None, :]
    cols = (line % n_col_blocks) * BLOCK_I + lanes
    order = tl.arange(0, BLOCK_L)[None, :, None]
    first = (n_tiles - 1 - t if REVERSE else t).to(tl.int64) * BLOCK_L
    # The tile's rows in the order the scan meets them (see scan_cols_kernel). 64-bit offsets, as
    # in the version that ran 131072 x 8192 dim 0 at 0.966: one with 32-bit offsets inside the tile
    # compiled to another layout (184 registers against 248) and ran 0.884 (benchmarks/NOTES.md).
    steps = first + (BLOCK_L - 1 - order if REVERSE else order)
    mask = (steps < length) & (cols < inner)
    x = tl.load(x_ptr + outer * stride_xo + cols.to(tl.int64) * stride_xi + steps * stride_xl, mask=mask, other=1)
    # Outside the tensor, 1 by a select: triton 3.6's interpreter ignores `other` for bf16 loads.
    x = tl.where(mask, x.to(OUT).to(tl.float32), 1)
    product = tl.reduce(x.to(tl.float64), 1, mul_combine, keep_dims=True)
    carry = chain_link(slots, t, n_tiles, product, None, 1, lanes, BLOCK_I)
    y, _ = scan_tile(x, carry, order, 0, 1, EXCLUSIVE, False)
    tl.store(y_ptr + (outer * length + steps) * inner + cols, y.to(OUT), mask=mask)
    chain_done(slots, t, n_tiles, lanes, BLOCK_I)


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


def vector_elements(*itemsizes, block=None):
    vec = max(1, 16 // max(itemsizes))
    return vec if block is None else min(vec, block)


def aligned(*tensors):
    return all(t.data_ptr() % 16 == 0 for t in tensors)


def stride_unit(counts, itemsizes):
    unit = 16 // min(itemsizes)
    if all(count % 16 == 0 for count in counts) or any(count % unit for count in counts):
        return 1
    return unit


def in_units(counts, itemsizes):
    unit = stride_unit(counts, itemsizes)
    return unit, [count // unit for count in counts]


def line_skew(length, vec):
    return vec - 1 if length % vec else 0


def x_phase(x, n_rows, length, stride_xr, stride_xl, vec):
    shift = stride_xr - length if n_rows > 1 else 0
    return shift // vec if stride_xl == 1 and shift % vec == 0 and aligned(x) else None


def accumulator_dtype(dtype):
    if dtype == torch.float16 or dtype == torch.bfloat16:
        return torch.float32
    return dtype


def aggregate_dtype(dtype):
    acc = accumulator_dtype(dtype)
    return torch.float64 if acc == torch.float32 else acc


def triton_dtype(dtype):
    return getattr(tl, str(dtype).split(".")[-1])


def launch_rows(x, y, prefix, n_rows, length, stride_xr, stride_xl, out_dtype, plan, reduce, exclusive=False,
                reverse=False):
    _, n_chunks, chunk, block_r, block_l, num_warps, num_stages = plan
    grid = (ceil_div(n_rows, block_r), n_chunks)
    acc = aggregate_dtype(out_dtype) if reduce else accumulator_dtype(out_dtype)
    # Vectors of x, the one tensor read (y's are then whole vectors or more), the same for both
    # passes of a split; none for strided rows, whose tile reads along their neighbours.
    vec = vector_elements(x.element_size(), block=block_l) if stride_xl == 1 else 1
    x_shift = x_phase(x, n_rows, length, stride_xr, stride_xl, vec)
    args = dict(
        x_ptr=x, y_ptr=y, prefix_ptr=y if prefix is None else prefix, n_rows=n_rows, length=length, chunk=chunk,
        stride_xr=stride_xr, stride_xl=stride_xl, x_shift=x_shift or 0, OUT=triton_dtype(out_dtype),
        ACC=triton_dtype(acc), BLOCK_R=block_r, BLOCK_L=block_l, REDUCE=reduce, HAS_PREFIX=prefix is not None,
        STAGES=num_stages, EXCLUSIVE=exclusive, REVERSE=reverse, RUN=min(vec, block_l) if stride_xl == 1 else 1,
        VEC=vec, PHASED=x_shift is not None, EDGES=length % vec != 0,
    )
    return scan_rows_kernel[grid](**args, num_warps=num_warps), grid, args


def launch_cols(x, y, prefix, n_outer, length, inner, strides, out_dtype, plan, reduce, exclusive=False,
                reverse=False):
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
    lanes = 32 * num_warps
    return block_i if num_stages > 1 or reverse or block_i < 2 * lanes else block_i // lanes


def launch_flat(x, y, n_rows, length, out_dtype, plan, exclusive=False, reverse=False):
    args = dict(x_ptr=x, y_ptr=y, n_elements=n_rows * length, **flat_constants(length, out_dtype, plan),
                EXCLUSIVE=exclusive, REVERSE=reverse)
    return launch_tiles(scan_flat_rows_kernel, args, plan[5])


def flat_constants(length, out_dtype, plan):
    return dict(OUT=triton_dtype(out_dtype), ACC=triton_dtype(accumulator_dtype(out_dtype)), LENGTH=length,
                HALO=max(1, 1 << (length - 2).bit_length()), BLOCK=plan[4])


def launch_tiles(kernel, args, num_warps):
    n_elements, block = args["n_elements"], args["BLOCK"]
    args["MASKED"] = n_elements % block != 0
    grid = (ceil_div(n_elements, block),)
    return kernel[grid](**args, num_warps=num_warps), grid, args


def chain_state(device, lines, block_i):
    return torch.zeros(1 + 2 * lines * block_i, dtype=torch.int64, device=device)


def launch_chain(x, y, n_outer, length, inner, strides, out_dtype, plan, exclusive=False, reverse=False):
    _, n_tiles, _, block_i, block_l, num_warps, _ = plan
    lines = n_outer * ceil_div(inner, block_i)
    state = chain_state(x.device, lines, block_i)
    unit, (inner_units, stride_xo_units, stride_xl_units) = in_units((inner, *strides[:2]),
                                                                      (x.element_size(), y.element_size()))
    args = dict(x_ptr=x, y_ptr=y, state_ptr=state, n_outer=n_outer, length=length, inner_units=inner_units,
                stride_xo_units=stride_xo_units, stride_xl_units=stride_xl_units, stride_xi=strides[2],
                n_tiles=n_tiles, OUT=triton_dtype(out_dtype), BLOCK_L=block_l, BLOCK_I=block_i,
                RUN=chain_run(block_i, num_warps, strides, x.element_size()), EXCLUSIVE=exclusive, REVERSE=reverse,
                UNIT=unit)
    grid = (lines * n_tiles,)
    return scan_chain_cols_kernel[grid](**args, num_warps=num_warps), grid, args


def chain_run(block_i, num_warps, strides, itemsize):
    lanes = 32 * num_warps
    if strides[2] == 1 and strides[1] * itemsize % 16 == 0 and block_i >= 2 * lanes:
        return block_i // lanes
    return 1


def lookback_state(device, n_rows, tiles_per_row, window, groups=1, width=1):
    n_groups = ceil_div(tiles_per_row, window)
    n_super = ceil_div(tiles_per_row, window * groups)
    return torch.zeros(1 + 2 * n_rows * (tiles_per_row + n_groups + n_super) * width, dtype=torch.int64,
                       device=device)


def launch_resident(kernel, grid, args, num_warps, device, caps={}):
    options = dict(num_warps=num_warps)
    if device.type == "cuda":
        key = (kernel, num_warps, device, *(args[p.name] for p in kernel.params if p.is_constexpr))
        if key not in caps:
            caps[key] = resident_cap(kernel, grid, args, num_warps, device)
        if caps[key] is not None:
            options["maxnreg"] = caps[key]
    return kernel[grid](**args, **options)


def resident_cap(kernel, grid, args, num_warps, device):
    props = torch.cuda.get_device_properties(device)
    threads = 32 * num_warps
    compiled = kernel.warmup(**args, grid=grid, num_warps=num_warps)
    compiled[grid]  # loads it, which counts its registers
    cap = register_cap(compiled.n_regs, threads, getattr(props, "regs_per_multiprocessor", 65536),
                       getattr(props, "max_threads_per_multi_processor", 2048))
    if cap is None:
        return None
    capped = kernel.warmup(**args, grid=grid, num_warps=num_warps, maxnreg=cap)
    capped[grid]  # the same, capped: its spills
    return cap if capped.n_spills <= 8 else None


def launch_lookback(x, y, n_outer, length, inner, strides, out_dtype, plan, exclusive=False, reverse=False):
    _, tiles_per_line, groups, window, block_l, num_warps, _ = plan
    width = next_power_of_2(inner)
    options = dict(OUT=triton_dtype(out_dtype), ACC=triton_dtype(accumulator_dtype(out_dtype)), BLOCK_L=block_l,
                   WINDOW=window, GROUPS=groups, EXCLUSIVE=exclusive, REVERSE=reverse)
    if inner == 1:
        kernel = scan_lookback_kernel
        width = 1 if out_dtype.is_floating_point else 2  # words a product (see publish)
        vec = vector_elements(x.element_size(), block=block_l)  # as kernels/rows.py: launch_rows
        x_shift = x_phase(x, n_outer, length, strides[0], strides[1], vec)
        args = dict(x_ptr=x, y_ptr=y, state_ptr=None, n_rows=n_outer, length=length, stride_xr=strides[0],
                    stride_xl=strides[1], x_shift=x_shift or 0, tiles_per_row=tiles_per_line, **options,
                    RUN=vec if strides[1] == 1 else 1, VEC=vec, PHASED=x_shift is not None, EDGES=length % vec != 0,
                    WORDS=width)
    else:
        kernel = scan_lookback_cols_kernel
        args = dict(x_ptr=x, y_ptr=y, state_ptr=None, n_outer=n_outer, length=length, inner=inner,
                    stride_xo=strides[0], stride_xl=strides[1], tiles_per_line=tiles_per_line, **options, WIDTH=width,
                    DENSE=dense_columns(inner, strides[1] == inner))
    grid = (n_outer * tiles_per_line,)
    args["state_ptr"] = lookback_state(x.device, n_outer, tiles_per_line, window, groups, width)
    return launch_resident(kernel, grid, args, num_warps, x.device), grid, args


def launch_transposed(x, y, prefix, view, out_dtype, plan, reduce, exclusive=False, reverse=False):
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


def ceil_div(a, b):
    # triton.cdiv and triton.next_power_of_2 cost microseconds a call on the host; these cost nothing.
    return -(-a // b)


def next_power_of_2(n):
    return 1 << max(n - 1, 0).bit_length()


def tile_settings(capability, itemsize):
    row_step, row_values = {1: (2048, 16), 2: (2048, 16), 4: (32768, 128)}.get(itemsize, (4096, 32))
    if capability == (0, 0):
        # TRITON_INTERPRET=1 on the CPU, where a scan costs Python work per element of the tile.
        row_step = 2048
    # Column tiles: fp32 16 KB (64 columns by 64 rows) and 16-bit 8 KB on one warp, each lane two
    # whole columns; 8-byte types, and every reverse scan, 128 columns of 16 bytes a lane (16-bit:
    # 8 KB on one warp; the others 32 rows on a thread's 512 bytes, in three stages).
    reverse_cols = {1: (128, 8 * 1024, 256, 1), 2: (128, 8 * 1024, 256, 1), 8: (128, 32 * 1024, 512, 3)}.get(
        itemsize, (128, 16 * 1024, 512, 3))
    cols = {1: (64, 8 * 1024, 256, 1), 2: (64, 8 * 1024, 256, 1), 8: reverse_cols}.get(
        itemsize, (64, 16 * 1024, 512, 1))
    if capability < (9, 0):
        # sm_89 has 100 KB of shared memory a multiprocessor: at most 64 KB of stages per program.
        cols, reverse_cols = [(*tile[:3], min(tile[3], 64 * 1024 // tile[1])) for tile in (cols, reverse_cols)]
    return dict(row_step=row_step, row_values=row_values, short_tile=2048, cols=cols, reverse_cols=reverse_cols,
                row_stages=3 if itemsize <= 2 else 1,
                split_programs_per_sm=16, split_staged_programs_per_sm=4, backward_split_programs_per_sm=4,
                lookback_step=8192 if itemsize <= 2 else 4096, lookback_window=128, lookback_groups=8,
                lookback_cols_step=4096, lookback_cols_window=128 if itemsize == 4 else 64, lookback_inner=16,
                lookback_thread_bytes=128,
                backward_step=2048, backward_window=64, chain_tile=(32, 128), chain_unaligned_tile=(64, 64),
                chain_few_unaligned_tile=(32, 64), backward_chain_tile=(32, 32), chain_below_warps_per_sm=2,
                chain_unaligned_below_warps_per_sm=16, chain_hop_bytes=1 << 21, transposed_tile=(2048, 32, 4),
                backward_turned_tile=(1024, 32), row_min_step=16 if itemsize <= 4 else 1,
                transposed_deep_tile=(8, 128, 2),
                transposed_deep_below_warps_per_sm=8)


def plan_scan(n_outer, length, inner, unit_stride, n_sm, capability, itemsize, floating=False, exclusive=False,
              reverse=False, skew=0, scan_contiguous=False, x_itemsize=None, packed=True):
    settings = tile_settings(capability, itemsize)
    if exclusive or reverse:
        # 8-byte types in steps of 2048 on 4 warps: 4096 on 8 warps spills in the reverse split's
        # second pass on sm_90 (ptxas keeps 128 registers there).
        settings["row_step"] = min(settings["row_step"], 8192 if itemsize <= 4 else 2048)
        settings["row_values"] //= 4 if itemsize <= 4 else 2
        # A pair scan, or one read backwards, on half the chain's tile: 16-bit columns at 128
        # positions spill on sm_90.
        settings["chain_tile"] = (settings["chain_tile"][0], settings["chain_tile"][1] // 2)
    if inner == 1:
        kind = "rows"
        # Rows whose elements are strided (a transposed input) take a square tile: it reads along
        # the rows' neighbours and the compiler transposes it through shared memory to write rows.
        block_l, block_a = row_tile(n_outer, length, settings, unit_stride, settings["row_min_step"])
        if block_a > 1 and skew:
            wide_l, wide_a = row_tile(n_outer, length + skew, settings, unit_stride, settings["row_min_step"])
            block_l, block_a, span = (wide_l, wide_a, length + skew) if wide_a > 1 else (block_l, 1, length)
        else:
            span = length
        lines = ceil_div(n_outer, block_a)
        if block_a == 1:
            num_warps = min(8, max(1, block_l // (32 * settings["row_values"])))
        else:
            num_warps = short_tile_warps(block_a * block_l, itemsize)
        n_chunks, chunk = split_lines(lines, span, block_l, n_sm, split_programs(settings, settings["row_stages"]))
        # Tiles in flight pay off only where a program walks several steps.
        num_stages = settings["row_stages"] if chunk > block_l else 1
        # Integers from narrower inputs stay split: a tile of the single pass, sized by its 8-byte
        # results, loads too few bytes (int32 -> int64 1-D 145613435 0.43 against the split's 0.46,
        # int16 -> int64 3 x 33554431 0.19 against 0.31; int64 32 x 2^20 0.78 against 0.60; H100,
        # benchmarks/NOTES.md 2026-12-07).
        if unit_stride and n_chunks > 1 and (floating or (x_itemsize or itemsize) == 8):
            # 256 bytes of the tile a thread for a reverse scan (fp32 4096 on 4 warps 0.657, on 2
            # 0.674; forwards 0.727 and 0.680); float64 keeps 128 (at 256 ptxas spills on sm_89 and
            # sm_90).
            kind, num_stages = "lookback", 1
            thread_bytes = settings["lookback_thread_bytes"] * (2 if reverse and itemsize <= 4 else 1)
            if reverse:
                # 16-bit tiles of 8192 read backwards spill (16-20 bytes exclusive, sm_89 and sm_90):
                # they keep 4096.
                settings["lookback_step"] = min(settings["lookback_step"], 4096)
            n_chunks, block_l, block_a, chunk, num_warps = single_pass_plan(length, 1, settings, itemsize, thread_bytes)
    else:
        kind = "cols"
        width, wide_tile_bytes, wide_thread_bytes, stages = settings["reverse_cols" if reverse else "cols"]
        # `width` neighbouring columns a program: each thread then owns whole columns of the tile
        # and scans them in order, as torch does (narrower tiles scan across threads and lose
        # accuracy).
        block_a = min(next_power_of_2(inner), width)
        # Narrower tiles are scanned across threads anyway: one 32 KB step a time on 4 warps ((16M, 4)
        # dim 0: 0.19 on 2 warps, where ptxas spills 1.4 KB a thread; 16 KB in three stages on one
        # warp: 0.12).
        wide = block_a == width
        tile_bytes = wide_tile_bytes if wide else 16 * 1024
        # Lanes that own runs of columns whose rows start off 16 bytes load them an element at a time:
        # 16-bit tiles half as deep (at 64 rows 32-56 bytes of spill, fp16 25 x 26 x 480 x 713 dim 2
        # and 30 x 4000 x 501 dim 1 exclusive, sm_89 and sm_90).
        off_16_bytes = inner * min(itemsize, x_itemsize or itemsize) % 16
        held = element_bytes(itemsize, not (wide and not reverse and unit_stride and off_16_bytes))
        block_l = min(max(16, tile_bytes // (block_a * held)), max(64, 8192 // block_a), next_power_of_2(length))
        lines = tile_lines(n_outer, inner, block_a)
        n_chunks, chunk = split_lines(lines, length, block_l, n_sm, split_programs(settings, stages if wide else 1))
        # A few hundred bytes of the tile a thread: more warps only split the scan across them.
        thread_bytes = wide_thread_bytes if wide else 128
        num_warps = max(1, min(4, block_a * block_l * itemsize // (32 * thread_bytes)))
        # Tiles in flight pay off only where a program walks several steps of them: fp64 141 x 8 x 52
        # x 190 dim 2 (two steps a line) 0.740 in three stages, 0.962 in one (benchmarks/NOTES.md).
        num_stages = stages if wide and chunk >= 2 * stages * block_l else 1
        if floating and unit_stride and inner <= settings["lookback_inner"]:
            # A few columns side by side: the single pass, on tiles of all of them
            # (kernels/lookback.py: scan_lookback_cols_kernel), where lines of such tiles would be
            # cut ((16M, 4) dim 0 fp32 0.571, the split 0.239; bf16 8 columns 0.446, the split 0.112;
            # 4194304 x 16 dim 0 fp32 0.69, the split 0.44-0.58 on an H100, 2026-12-07).
            # Tiles that are not one packed run load an element at a time: 16-bit ones on fp32's
            # warps (on half, 80-556 bytes of spill a thread: bf16 4 x 16777216 x 3 dim 1, fp16
            # 116780 x 5 dim 0; sm_89 and sm_90).
            held = element_bytes(itemsize, dense_columns(inner, packed))
            plan = single_pass_plan(length, next_power_of_2(inner), settings, held)
            if split_lines(n_outer, length, plan[1], n_sm, settings["split_programs_per_sm"])[0] > 1:
                kind, num_stages = "lookback", 1
                n_chunks, block_l, block_a, chunk, num_warps = plan
        chain_i, chain_l = settings["chain_tile"]
        # A chain only where the tiles of one depth move many bytes: a hop costs a round trip to L2.
        heavy_hops = n_outer * inner * chain_l * itemsize >= settings["chain_hop_bytes"]
        line_warps = lines * num_warps
        few = line_warps < settings["chain_below_warps_per_sm"] * n_sm
        # Rows of the tile that do not start on 16 bytes (a contiguous input's inner size is their
        # stride) load a column a lane: a tile a program keeps more of them in flight, where the
        # lines' walks alone hold few warps a multiprocessor (32767 x 32767 dim 0: 512 lines, the
        # chain 0.821, the walk 0.622; 8 x 638 x 301 x 98 dim 2: 10208 lines, 0.450 and 0.719).
        unaligned = (unit_stride and inner * itemsize % 16 and inner >= settings["chain_unaligned_tile"][0]
                     and line_warps < settings["chain_unaligned_below_warps_per_sm"] * n_sm)
        # The chain passes float32 carries (kernels/lookback.py: pack_tagged).
        if floating and itemsize <= 4 and kind == "cols" and heavy_hops and (few or unaligned) and length > chain_l:
            # The single pass of a one-tile look-back (kernels/lookback.py: scan_chain_cols_kernel)
            # instead of a walk a line or a split that reads x twice.
            if unaligned and not few:
                chain_i, chain_l = settings["chain_unaligned_tile"]
            elif off_16_bytes:
                # Rows that start off 16 bytes load an element at a time and hold more registers:
                # half as deep (131071 x 8191 dim 0 at 128 spilled 124 bytes on sm_90, 312 on sm_89).
                chain_i, chain_l = settings["chain_few_unaligned_tile"]
            kind, n_chunks, chunk, block_a, block_l, num_warps, num_stages = (
                "chain", ceil_div(length, chain_l), chain_l, chain_i, chain_l, 1, 1)
        elif kind == "cols" and scan_contiguous and not unit_stride:
            # A transposed input: the tile loads along the scan and the compiler turns it through
            # shared memory to store along inner. Small tiles on 4 warps (8-byte results on 2)
            # beat the wide one-warp tiles 1.3-2.2x (benchmarks/NOTES.md, 2026-12-06); where their
            # lines hold few warps a multiprocessor, narrow deep tiles of 8-byte results hold more
            # bytes in more of them (tile_settings: transposed_deep_tile). Only lines that need no
            # split were measured on deep tiles.
            block_a, block_l, num_warps = (64, 32, 4) if itemsize <= 4 else (32, 32, 2)
            if (itemsize == 8
                    and tile_lines(n_outer, inner, min(block_a, next_power_of_2(inner))) * num_warps
                    < settings["transposed_deep_below_warps_per_sm"] * n_sm
                    and 2 * tile_lines(n_outer, inner, settings["transposed_deep_tile"][0]) > n_sm):
                block_a, block_l, num_warps = settings["transposed_deep_tile"]
            block_a, block_l = min(block_a, next_power_of_2(inner)), min(block_l, next_power_of_2(length))
            n_chunks, chunk = split_lines(tile_lines(n_outer, inner, block_a), length, block_l, n_sm,
                                          split_programs(settings, 1))
            num_stages = 1
    return kind, n_chunks, chunk, block_a, block_l, num_warps, num_stages


def turns_well(sizes, x_strides, y_strides, x_itemsize, y_itemsize):
    x_axis, y_axis = (2 if x_strides[2] == 1 else 3), (2 if y_strides[2] == 1 else 3)
    return sizes[x_axis] * x_itemsize >= 32 or sizes[y_axis] * y_itemsize >= 32


def plan_transposed(lines, length, inner, n_sm, capability, itemsize):
    settings = tile_settings(capability, itemsize)
    elements, width, num_warps = settings["transposed_tile"]
    block_i = min(width, next_power_of_2(inner))
    block_l = min(elements // block_i, next_power_of_2(length))
    n_chunks, chunk = split_lines(tile_lines(lines, inner, block_i), length, block_l, n_sm, split_programs(settings, 1))
    return "transposed", n_chunks, chunk, block_i, block_l, num_warps, 1


def tile_lines(n_outer, inner, block_a):
    return ceil_div(n_outer, block_a) if inner == 1 else n_outer * ceil_div(inner, block_a)


def row_tile(n_rows, length, settings, unit_stride, min_step):
    block_l = min(max(min_step, next_power_of_2(length)), settings["row_step"] if unit_stride else 64)
    while block_l > settings["short_tile"] and 4 * (ceil_div(length, block_l) * block_l - length) > length:
        block_l //= 2
    return block_l, min(max(1, settings["short_tile"] // block_l), next_power_of_2(n_rows))


def takes_flat(n_rows, length):
    return 2 <= length < 16 and n_rows >= 2


def plan_flat(n_rows, length, capability, itemsize, backward=False):
    block = tile_settings(capability, itemsize)["short_tile"]
    if backward:
        # The gradient holds about ten values of each position live: a 16-byte vector a thread, at
        # least 4 values (fp32 rows of 3 on 16 warps: 54 registers, 197 on 2; fp64: 100, 168 on 8;
        # sm_90, no spill). H100, 2026-12-07, of two copies: fp32 2194971 x 9 0.689 on 16 warps,
        # 0.312 on 8; fp16 2955 x 3 x 723 x 7 0.525 on 8, 0.366 on 16 (half a vector a thread).
        num_warps = block // (32 * max(4, 16 // max(itemsize, 2)))
    else:
        num_warps = short_tile_warps(block, itemsize)
    return "flat", 1, length, 1, block, num_warps, 1


def short_tile_warps(elements, itemsize):
    return max(1, min(4, elements * max(itemsize, 4) // 4096))


def element_bytes(itemsize, whole_vectors):
    return itemsize if whole_vectors else max(itemsize, 4)


def dense_columns(inner, packed):
    return packed and inner == next_power_of_2(inner)


def single_pass_plan(length, width, settings, itemsize, thread_bytes=None):
    step, window = (settings["lookback_step"], settings["lookback_window"]) if width == 1 else (
        settings["lookback_cols_step"], settings["lookback_cols_window"])
    n_tiles, block_l, window, groups = lookback_tiles(length, step // width, window // min(width, 4),
                                                      settings["lookback_groups"])
    thread_bytes = thread_bytes or settings["lookback_thread_bytes"]
    return n_tiles, block_l, window, groups, max(1, block_l * width * itemsize // (32 * thread_bytes))


def register_cap(registers, threads, regs_per_sm=65536, threads_per_sm=2048):
    used = ceil_div(registers, 8) * 8
    programs = min(regs_per_sm // (used * threads), threads_per_sm // threads)
    if (programs + 1) * threads > threads_per_sm:
        return None
    return regs_per_sm // ((programs + 1) * threads) // 8 * 8


def lookback_tiles(length, step, window, groups=1):
    n_tiles = ceil_div(length, step)
    window = min(window, next_power_of_2(n_tiles))
    return n_tiles, step, window, min(groups, next_power_of_2(ceil_div(n_tiles, window)))


def split_programs(settings, stages):
    return settings["split_programs_per_sm" if stages == 1 else "split_staged_programs_per_sm"]


def split_lines(lines, length, block_l, n_sm, programs_per_sm):
    n_chunks = 1
    if 2 * lines <= n_sm and length > 2 * block_l:
        n_chunks = min(ceil_div(programs_per_sm * n_sm, lines), ceil_div(length, block_l), 65535)
    chunk = ceil_div(ceil_div(length, n_chunks), block_l) * block_l
    return ceil_div(length, chunk), chunk


def merged_stride(sizes, strides):
    stride = None
    span = None
    for size, step in zip(reversed(sizes), reversed(strides)):
        if size == 1:
            continue
        if stride is None:
            stride = step
        elif step != span:
            return None
        span = step * size
    return 0 if stride is None else stride


def scan_view(x, dim, copy=True):
    sizes = x.shape
    length = sizes[dim]
    n_outer = 1
    for size in sizes[:dim]:
        n_outer *= size
    inner = 1
    for size in sizes[dim + 1:]:
        inner *= size
    stride_o = merged_stride(sizes[:dim], x.stride()[:dim])
    stride_i = merged_stride(sizes[dim + 1:], x.stride()[dim + 1:])
    if stride_o is None or stride_i is None:
        if not copy:
            return None
        x = x.contiguous()
        stride_o, stride_i = length * inner, 1
    return x, n_outer, length, inner, (stride_o, x.stride(dim), stride_i)


def unit_stride(inner, strides):
    return strides[2 if inner > 1 else 1] == 1


def turned_view(x, dim):
    sizes, strides = x.shape, x.stride()
    others = [d for d in range(x.dim()) if d != dim and sizes[d] > 1]
    if not others:
        return None
    after = [d for d in others if d > dim]
    inner = after[-1] if after else min(others, key=lambda d: strides[d])
    if strides[dim] != 1 and strides[inner] != 1:
        return None
    y_strides = [1] * x.dim()
    for d in range(x.dim() - 2, -1, -1):
        y_strides[d] = y_strides[d + 1] * sizes[d + 1]
    merged = []
    for size, x_stride, y_stride in [(sizes[d], strides[d], y_strides[d]) for d in others if d != inner]:
        if merged and merged[-1][1] == x_stride * size and merged[-1][2] == y_stride * size:
            merged[-1] = (merged[-1][0] * size, x_stride, y_stride)
        else:
            merged.append((size, x_stride, y_stride))
    if len(merged) > 2:
        return None
    (n_outer, xo, yo), (n_mid, xm, ym) = [(1, 0, 0)] * (2 - len(merged)) + merged
    return ((n_outer, n_mid, sizes[dim], sizes[inner]), (xo, xm, strides[dim], strides[inner]),
            (yo, ym, y_strides[dim], y_strides[inner]))


def device_traits(device):
    if device.type != "cuda":
        return 4, (0, 0)
    props = torch.cuda.get_device_properties(device)
    return props.multi_processor_count, (props.major, props.minor)


def scan_plan(n_outer, length, inner, unit_stride, out_dtype, device, exclusive=False, reverse=False, x_itemsize=None,
              scan_contiguous=False, packed=True):
    floating = accumulator_dtype(out_dtype).is_floating_point
    vec = vector_elements(x_itemsize or out_dtype.itemsize) if unit_stride else 1
    skew = line_skew(length, vec) if inner == 1 else 0
    return plan_scan(n_outer, length, inner, unit_stride, *device_traits(device), out_dtype.itemsize, floating,
                     exclusive, reverse, skew, scan_contiguous, x_itemsize, packed)


def view_plan(x, n_outer, length, inner, strides, out_dtype, exclusive=False, reverse=False):
    if inner == 1 and strides[1] == 1 and strides[0] == length and takes_flat(n_outer, length):
        return plan_flat(n_outer, length, device_traits(x.device)[1], out_dtype.itemsize)
    return scan_plan(n_outer, length, inner, unit_stride(inner, strides), out_dtype, x.device, exclusive, reverse,
                     x.element_size(), strides[1] == 1, strides[1] == inner)


def scan_3d(x, y, n_outer, length, inner, strides, out_dtype, exclusive=False, reverse=False):
    plan = view_plan(x, n_outer, length, inner, strides, out_dtype, exclusive, reverse)
    return run_plan(x, y, n_outer, length, inner, strides, out_dtype, plan, exclusive, reverse)


def run_plan(x, y, n_outer, length, inner, strides, out_dtype, plan, exclusive=False, reverse=False):
    n_chunks = plan[1]
    if n_chunks == 1 or plan[0] in ("lookback", "chain"):
        return launch_scan(x, y, None, n_outer, length, inner, strides, out_dtype, plan, False, exclusive, reverse)
    agg = aggregate_dtype(out_dtype)
    totals = torch.empty((n_outer, n_chunks, inner), dtype=agg, device=x.device)
    launch_scan(x, totals, None, n_outer, length, inner, strides, out_dtype, plan, True)
    prefix = torch.empty_like(totals)
    scan_3d(totals, prefix, n_outer, n_chunks, inner, totals.stride(), agg, reverse=reverse)
    launch_scan(x, y, prefix, n_outer, length, inner, strides, out_dtype, plan, False, exclusive, reverse)
    return None


def launch_scan(x, y, prefix, n_outer, length, inner, strides, out_dtype, plan, reduce, exclusive=False, reverse=False):
    if plan[0] == "flat":
        return launch_flat(x, y, n_outer, length, out_dtype, plan, exclusive, reverse)
    if plan[0] == "lookback":
        return launch_lookback(x, y, n_outer, length, inner, strides, out_dtype, plan, exclusive, reverse)
    if plan[0] == "transposed":
        return launch_transposed(x, y, prefix, strides, out_dtype, plan, reduce, exclusive, reverse)
    if plan[0] == "chain":
        return launch_chain(x, y, n_outer, length, inner, strides, out_dtype, plan, exclusive, reverse)
    if plan[0] == "rows":
        return launch_rows(x, y, prefix, n_outer, length, strides[0], strides[1], out_dtype, plan, reduce, exclusive,
                           reverse)
    return launch_cols(x, y, prefix, n_outer, length, inner, strides, out_dtype, plan, reduce, exclusive, reverse)


def default_dtype(dtype):
    if dtype.is_floating_point or dtype.is_complex:
        return dtype
    return torch.int64


def cumprod_forward(x, dim, out_dtype, y=None, exclusive=False, reverse=False):
    return run_forward(x, dim, out_dtype, y, exclusive, reverse)[0]


def run_forward(x, dim, out_dtype, y=None, exclusive=False, reverse=False):
    source = x
    if x.is_neg():
        x = x.resolve_neg()  # a negative-bit view's memory holds the values negated
    if y is None:
        y = torch.empty(x.shape, dtype=out_dtype, device=x.device)
    if y.numel() == 0:
        return y, None
    if x.dim() == 0 or x.shape[dim] == 1:
        # A scan of one element is the element (an exclusive one, 1), cast as torch casts.
        return (y.fill_(1) if exclusive else y.copy_(x)), None
    dim %= x.dim()
    view = scan_view(x, dim, copy=False)
    if view is None:
        turned = turned_layout(x, dim, out_dtype)
        if turned is not None:
            launch = scan_turned(x, y, turned, out_dtype, exclusive, reverse)
            return y, (launch if x is source else None)
        view = scan_view(x, dim)
    x, n_outer, length, inner, strides = view
    launch = scan_3d(x, y, n_outer, length, inner, strides, out_dtype, exclusive, reverse)
    return y, (launch if x is source else None)


def turned_layout(x, dim, out_dtype):
    view = turned_view(x, dim)
    if view is None or not turns_well(*view, x.element_size(), out_dtype.itemsize):
        return None
    return view


def scan_turned(x, y, view, out_dtype, exclusive=False, reverse=False):
    n_outer, n_mid, length, inner = view[0]
    plan = plan_transposed(n_outer * n_mid, length, inner, *device_traits(x.device), out_dtype.itemsize)
    return run_plan(x, y, n_outer * n_mid, length, inner, view, out_dtype, plan, exclusive, reverse)


class ModelNew(nn.Module):
    # torch.cumprod(x, dim) computed by the Triton kernels above, for any shape and dim.

    def __init__(self, dim):
        super().__init__()
        self.dim = dim

    def forward(self, x):
        return cumprod_forward(x, self.dim, default_dtype(x.dtype))

import triton
import triton.language as tl

from ..dispatch import ceil_div
from .combine import (accumulator_dtype, aggregate_dtype, arrival, body_of, leaving, leaving_mirrored, mirrored,
                      mul_combine, pick, piece, scan_mirrored, scan_piece, scan_tile, store_vectors, triton_dtype,
                      vector_elements, vectors_from, within, x_phase)


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


def launch_rows(x, y, prefix, n_rows, length, stride_xr, stride_xl, out_dtype, plan, reduce, exclusive=False,
                reverse=False):
    """Scan (or, with `reduce`, take chunk products of) rows of `x` into `y` with the strides and
    tile sizes of `plan` = (kind, n_chunks, chunk, BLOCK_R, BLOCK_L, num_warps, num_stages). Returns
    the launch (compiled kernel, grid, arguments in the kernel's order), for replay.py."""
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

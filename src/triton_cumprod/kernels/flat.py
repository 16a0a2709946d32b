import triton
import triton.language as tl

from ..dispatch import ceil_div
from .backward import cut_recurrence, recurrence
from .combine import accumulator_dtype, mul_combine, pick, triton_dtype


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
def backward_flat_tile(x_ptr, y_ptr, g_ptr, gx_ptr, start, end, n_elements, OUT: tl.constexpr, ACC: tl.constexpr,
                       LENGTH: tl.constexpr, HALO: tl.constexpr, BLOCK: tl.constexpr, EXCLUSIVE: tl.constexpr,
                       REVERSE: tl.constexpr, FULL: tl.constexpr):
    # The gradient over elements [start, end) of the flat array on BLOCK lanes (all of them where
    # FULL), gx = (the product of x before each position in its row) * r. The recurrence for r runs
    # against the scan and is cut where it starts each row (backward.cut_recurrence); the row it
    # enters the tile from continues past the tile, and those elements (a halo) give its carry. The
    # products before each position are a segmented exclusive scan, and the row the scan enters the
    # tile inside takes y beside the tile as its carry.
    lanes = tl.arange(0, BLOCK)
    offs = start + lanes
    row_start = (start % LENGTH).to(tl.int32)
    within = (row_start + lanes) % LENGTH
    if FULL:
        inside = lanes < BLOCK
        x = tl.load(x_ptr + offs).to(OUT).to(ACC)
        g = tl.load(g_ptr + offs).to(ACC)
    else:
        # Past the end, the identity: x = 1, g = 0.
        inside = offs < end
        x = load_or(x_ptr + offs, inside, 1, OUT, ACC)
        g = load_or(g_ptr + offs, inside, 0, OUT, ACC)
    if REVERSE:
        # The scan starts each row at its last element; the recurrence runs from each row's first,
        # and enters the tile from the elements before it in the first element's row.
        begins, cut, enter = within == LENGTH - 1, within == 0, end - 1 - start
        halo_at, in_halo = halo_before(start, row_start, HALO)
        edge = end - EXCLUSIVE
        has_edge = ((row_start + (end - 1 - start)) % LENGTH != LENGTH - 1) & (edge < n_elements)
    else:
        # The recurrence enters the tile at its last lane, through the lanes past `end`.
        begins, cut, enter = within == 0, (within == LENGTH - 1) & inside, 0
        halo_at, in_halo = halo_after(end, n_elements, LENGTH, HALO)
        edge = start - 1 + EXCLUSIVE
        has_edge = row_start != 0
    hx = load_or(x_ptr + halo_at, in_halo, 1, OUT, ACC)
    hg = load_or(g_ptr + halo_at, in_halo, 0, OUT, ACC)
    _, _, _, halo_carry = recurrence(hx, hg, 0, EXCLUSIVE, not REVERSE)
    carry = pick(halo_carry, tl.arange(0, HALO) == (HALO - 1 if REVERSE else 0), 0)
    a, b, _, _ = cut_recurrence(x, g, tl.where(cut, 0, 1).to(ACC), 0, EXCLUSIVE, not REVERSE)
    r = b + a * carry
    # y beside the tile, the product of the entry row's elements before it (1 for the others).
    y_edge = tl.load(y_ptr + edge, mask=has_edge).to(ACC)
    y_edge = tl.where((lanes == enter) & has_edge, y_edge, 1)
    entry = tl.where(lanes == enter, x * y_edge, x)
    _, before, _ = tl.associative_scan((entry, y_edge, begins), 0, segmented_exclusive_combine, reverse=REVERSE)
    gx = (before * r).to(gx_ptr.dtype.element_ty)
    if FULL:
        tl.store(gx_ptr + offs, gx)
    else:
        tl.store(gx_ptr + offs, gx, mask=inside)


@triton.jit
def backward_flat_rows_kernel(
    x_ptr,  # the forward's input: contiguous rows of LENGTH elements, read as one flat array
    y_ptr,  # the forward's output, laid out as x
    g_ptr,  # the gradient of the output, laid out as x
    gx_ptr,  # the gradient of the input, laid out as x
    n_elements,
    OUT: tl.constexpr,  # the forward's output dtype: the input is cast to it first, as in the forward
    ACC: tl.constexpr,  # dtype the gradient is computed in
    LENGTH: tl.constexpr,  # elements a row
    HALO: tl.constexpr,  # a power of two of at least LENGTH - 1: the elements of a row outside the tile
    BLOCK: tl.constexpr,  # elements a program
    EXCLUSIVE: tl.constexpr,  # the gradient of the exclusive scan
    REVERSE: tl.constexpr,  # the gradient of the reverse scan
    MASKED: tl.constexpr,  # the last tile ends past n_elements
):
    # backward_rows_kernel's gradient over the tiles of scan_flat_rows_kernel, the last one cut as
    # there: every access a whole 16-byte vector.
    start = tl.program_id(0).to(tl.int64) * BLOCK
    if not MASKED or start + BLOCK <= n_elements:
        backward_flat_tile(x_ptr, y_ptr, g_ptr, gx_ptr, start, start + BLOCK, n_elements, OUT, ACC, LENGTH, HALO,
                           BLOCK, EXCLUSIVE, REVERSE, True)
    else:
        body_end = n_elements // 16 * 16
        if start < body_end:
            backward_flat_tile(x_ptr, y_ptr, g_ptr, gx_ptr, start, body_end, n_elements, OUT, ACC, LENGTH, HALO,
                               BLOCK, EXCLUSIVE, REVERSE, False)
        if body_end < n_elements:
            backward_flat_tile(x_ptr, y_ptr, g_ptr, gx_ptr, body_end, n_elements, n_elements, OUT, ACC, LENGTH,
                               HALO, 16, EXCLUSIVE, REVERSE, False)


def launch_flat(x, y, n_rows, length, out_dtype, plan, exclusive=False, reverse=False):
    """Scan the contiguous rows of `x` (n_rows of `length`) into `y` with `plan` = (kind, n_chunks,
    chunk, BLOCK_A, BLOCK_L, num_warps, num_stages) of dispatch.plan_flat: BLOCK_L elements a
    program; `exclusive` and `reverse` as forward.scan_3d takes them. Returns the launch (compiled
    kernel, grid, arguments in the kernel's order)."""
    args = dict(x_ptr=x, y_ptr=y, n_elements=n_rows * length, **flat_constants(length, out_dtype, plan),
                EXCLUSIVE=exclusive, REVERSE=reverse)
    return launch_tiles(scan_flat_rows_kernel, args, plan[5])


def launch_backward_flat(x, y, g, gx, n_rows, length, out_dtype, plan, exclusive=False, reverse=False):
    """The gradient of cumprod (or of its exclusive and reverse scans) over the contiguous rows of
    `x` (n_rows of `length`; y its output, g y's gradient) into `gx`, with `plan` as launch_flat
    takes it."""
    args = dict(x_ptr=x, y_ptr=y, g_ptr=g, gx_ptr=gx, n_elements=n_rows * length,
                **flat_constants(length, out_dtype, plan), EXCLUSIVE=exclusive, REVERSE=reverse)
    return launch_tiles(backward_flat_rows_kernel, args, plan[5])


def flat_constants(length, out_dtype, plan):
    """OUT, ACC, LENGTH, HALO and BLOCK of the flat kernels for rows of `length` scanned into
    `out_dtype` under `plan`."""
    return dict(OUT=triton_dtype(out_dtype), ACC=triton_dtype(accumulator_dtype(out_dtype)), LENGTH=length,
                HALO=max(1, 1 << (length - 2).bit_length()), BLOCK=plan[4])


def launch_tiles(kernel, args, num_warps):
    """Launch a flat kernel over args["n_elements"] in tiles of args["BLOCK"]; returns the launch
    (compiled kernel, grid, arguments in the kernel's order)."""
    n_elements, block = args["n_elements"], args["BLOCK"]
    args["MASKED"] = n_elements % block != 0
    grid = (ceil_div(n_elements, block),)
    return kernel[grid](**args, num_warps=num_warps), grid, args

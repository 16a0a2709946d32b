import triton
import triton.language as tl

from ..dispatch import ceil_div
from .backward import exclusive_affine_combine, shifted_affine_combine
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
def scan_flat_rows_kernel(
    x_ptr,  # input: contiguous rows of LENGTH elements, read as one flat array
    y_ptr,  # output, laid out as x
    n_elements,
    first_tile,  # the tile program 0 takes
    OUT: tl.constexpr,  # output dtype: the input is cast to it before the scan, as torch does
    ACC: tl.constexpr,  # dtype the products are computed in
    LENGTH: tl.constexpr,  # elements a row
    HALO: tl.constexpr,  # a power of two of at least LENGTH - 1: the elements of the tile's entry row outside it
    BLOCK: tl.constexpr,  # elements a program
    EXCLUSIVE: tl.constexpr,  # each output is the product of the elements before it
    REVERSE: tl.constexpr,  # scan from each row's end
    MASKED: tl.constexpr,  # a tile may end past n_elements
):
    # Program p scans elements [p * BLOCK, +BLOCK) of the flat array as one tile, whatever the rows:
    # every load and store is a whole 16-byte vector, and every lane holds an element. A row start
    # inside the tile (its end, for REVERSE) resets the scan (segmented_combine); the row the scan
    # enters the tile inside began up to LENGTH - 1 elements before the tile (after it, for
    # REVERSE), and the program reads those again for its carry.
    start = (tl.program_id(0) + first_tile).to(tl.int64) * BLOCK
    lanes = tl.arange(0, BLOCK)
    offs = start + lanes
    # Positions within the row, in 32 bits: start % LENGTH is taken once.
    row_start = (start % LENGTH).to(tl.int32)
    within = (row_start + lanes) % LENGTH
    # Full tiles load unmasked: a mask built from an odd bound would cost the vector width.
    if not MASKED or start + BLOCK <= n_elements:
        x = tl.load(x_ptr + offs).to(OUT).to(ACC)
    else:
        x = tl.load(x_ptr + offs, mask=offs < n_elements, other=1).to(OUT).to(ACC)
    if REVERSE:
        # The row the last lane is in runs on to its end past the tile (never past n_elements).
        last = start + BLOCK - 1
        halo_at = start + BLOCK + tl.arange(0, HALO)
        in_halo = (halo_at < last - last % LENGTH + LENGTH) & (halo_at < n_elements)
        begins, enter = within == LENGTH - 1, BLOCK - 1
    else:
        halo_at = start - row_start + tl.arange(0, HALO)
        in_halo = halo_at < start
        begins, enter = within == 0, 0
    halo = tl.load(x_ptr + halo_at, mask=in_halo, other=1).to(OUT).to(ACC)
    # 1 by a select too: triton 3.6's interpreter ignores `other` for bf16 loads.
    carry = tl.reduce(tl.where(in_halo, halo, 1), 0, mul_combine)
    x = tl.where(lanes == enter, x * carry, x)
    if EXCLUSIVE:
        before = tl.where(lanes == enter, carry, tl.full([BLOCK], 1, ACC))
        _, y, _ = tl.associative_scan((x, before, begins), 0, segmented_exclusive_combine, reverse=REVERSE)
    else:
        y, _ = tl.associative_scan((x, begins), 0, segmented_combine, reverse=REVERSE)
    if not MASKED or start + BLOCK <= n_elements:
        tl.store(y_ptr + offs, y.to(OUT))
    else:
        tl.store(y_ptr + offs, y.to(OUT), mask=offs < n_elements)


@triton.jit
def cut_recurrence(x, g, cut, EXCLUSIVE: tl.constexpr, TO_FIRST: tl.constexpr):
    # backward.recurrence over a flat array of rows: at each position, the map (a, b) from the carry
    # entering the tile to the r (u, for EXCLUSIVE) the gradient there needs, and the carry it
    # passes on given none enters. Nothing enters a row where the recurrence starts it (`cut`): a = 0
    # there parts it from the row before in the recurrence's order.
    keep = tl.where(cut, 0, 1).to(x.dtype)
    if EXCLUSIVE:
        p, q, a, b = tl.associative_scan((x, g, keep, tl.zeros(x.shape, x.dtype)), 0, exclusive_affine_combine,
                                         reverse=TO_FIRST)
        return a, b, q + p * b
    f, a, b = tl.associative_scan((x, keep, g), 0, shifted_affine_combine, reverse=TO_FIRST)
    return a, b, f * b


@triton.jit
def backward_flat_rows_kernel(
    x_ptr,  # the forward's input: contiguous rows of LENGTH elements, read as one flat array
    y_ptr,  # the forward's output, laid out as x
    g_ptr,  # the gradient of the output, laid out as x
    gx_ptr,  # the gradient of the input, laid out as x
    n_elements,
    first_tile,  # the tile program 0 takes
    OUT: tl.constexpr,  # the forward's output dtype: the input is cast to it first, as in the forward
    ACC: tl.constexpr,  # dtype the gradient is computed in
    LENGTH: tl.constexpr,  # elements a row
    HALO: tl.constexpr,  # a power of two of at least LENGTH - 1: the elements of a row outside the tile
    BLOCK: tl.constexpr,  # elements a program
    EXCLUSIVE: tl.constexpr,  # the gradient of the exclusive scan
    REVERSE: tl.constexpr,  # the gradient of the reverse scan
    MASKED: tl.constexpr,  # a tile may end past n_elements
):
    # backward_rows_kernel's gradient, gx = (the product of x before each position in its row) * r,
    # over the tile [p * BLOCK, +BLOCK) of the flat array, as scan_flat_rows_kernel takes it: every
    # access a whole 16-byte vector. The recurrence for r runs against the scan and is cut where
    # each row starts in its order (cut_recurrence); the row it enters the tile from continues past
    # the tile, and the program scans those elements (a halo) for the carry. The products before
    # each position are a segmented exclusive scan, and the row the scan enters the tile inside
    # takes y beside the tile as its carry.
    start = (tl.program_id(0) + first_tile).to(tl.int64) * BLOCK
    lanes = tl.arange(0, BLOCK)
    offs = start + lanes
    row_start = (start % LENGTH).to(tl.int32)
    within = (row_start + lanes) % LENGTH
    if not MASKED or start + BLOCK <= n_elements:
        x = tl.load(x_ptr + offs).to(OUT).to(ACC)
        g = tl.load(g_ptr + offs).to(ACC)
    else:
        # Past the end, the identity: x = 1, g = 0 (by a select: triton 3.6's interpreter ignores
        # `other` for bf16 loads).
        inside = offs < n_elements
        x = tl.where(inside, tl.load(x_ptr + offs, mask=inside).to(OUT).to(ACC), 1)
        g = tl.where(inside, tl.load(g_ptr + offs, mask=inside).to(ACC), 0)
    last = start + BLOCK - 1
    if REVERSE:
        # The scan starts each row at its last element; the recurrence runs from each row's first,
        # and enters the tile from the elements before it in the first lane's row.
        begins, cut, enter = within == LENGTH - 1, within == 0, BLOCK - 1
        halo_at = start - row_start + tl.arange(0, HALO)
        in_halo = halo_at < start
        edge = start + BLOCK - EXCLUSIVE
        has_edge = ((row_start + BLOCK - 1) % LENGTH != LENGTH - 1) & (edge < n_elements)
    else:
        begins, cut, enter = within == 0, within == LENGTH - 1, 0
        halo_at = start + BLOCK + tl.arange(0, HALO)
        in_halo = (halo_at < last - last % LENGTH + LENGTH) & (halo_at < n_elements)
        edge = start - 1 + EXCLUSIVE
        has_edge = row_start != 0
    hx = tl.where(in_halo, tl.load(x_ptr + halo_at, mask=in_halo).to(OUT).to(ACC), 1)
    hg = tl.where(in_halo, tl.load(g_ptr + halo_at, mask=in_halo).to(ACC), 0)
    _, _, halo_carry = cut_recurrence(hx, hg, tl.zeros([HALO], tl.int1), EXCLUSIVE, not REVERSE)
    carry = pick(halo_carry, tl.arange(0, HALO) == (HALO - 1 if REVERSE else 0), 0)
    a, b, _ = cut_recurrence(x, g, cut, EXCLUSIVE, not REVERSE)
    r = b + a * carry
    # y beside the tile, the product of the entry row's elements before it (1 for the others).
    y_edge = tl.load(y_ptr + edge, mask=has_edge).to(ACC)
    y_edge = tl.where((lanes == enter) & has_edge, y_edge, 1)
    entry = tl.where(lanes == enter, x * y_edge, x)
    _, before, _ = tl.associative_scan((entry, y_edge, begins), 0, segmented_exclusive_combine, reverse=REVERSE)
    gx = (before * r).to(gx_ptr.dtype.element_ty)
    if not MASKED or start + BLOCK <= n_elements:
        tl.store(gx_ptr + offs, gx)
    else:
        tl.store(gx_ptr + offs, gx, mask=offs < n_elements)


def launch_flat(x, y, n_rows, length, out_dtype, plan, exclusive=False, reverse=False):
    """Scan the contiguous rows of `x` (n_rows of `length`) into `y` with `plan` = (kind, n_chunks,
    chunk, BLOCK_A, BLOCK_L, num_warps, num_stages) of dispatch.plan_flat: BLOCK_L elements a
    program; `exclusive` and `reverse` as forward.scan_3d takes them. Returns what launch_tiles
    does."""
    args = dict(x_ptr=x, y_ptr=y, n_elements=n_rows * length, first_tile=0, **flat_constants(length, out_dtype),
                BLOCK=plan[4], EXCLUSIVE=exclusive, REVERSE=reverse)
    return launch_tiles(scan_flat_rows_kernel, args, plan[5])


def launch_backward_flat(x, y, g, gx, n_rows, length, out_dtype, plan, exclusive=False, reverse=False):
    """The gradient of cumprod (or of its exclusive and reverse scans) over the contiguous rows of
    `x` (n_rows of `length`; y its output, g y's gradient) into `gx`, with `plan` as launch_flat
    takes it."""
    args = dict(x_ptr=x, y_ptr=y, g_ptr=g, gx_ptr=gx, n_elements=n_rows * length, first_tile=0,
                **flat_constants(length, out_dtype), BLOCK=plan[4], EXCLUSIVE=exclusive, REVERSE=reverse)
    return launch_tiles(backward_flat_rows_kernel, args, plan[5])


def flat_constants(length, out_dtype):
    """OUT, ACC, LENGTH and HALO of the flat kernels for rows of `length` scanned into `out_dtype`."""
    return dict(OUT=triton_dtype(out_dtype), ACC=triton_dtype(accumulator_dtype(out_dtype)), LENGTH=length,
                HALO=max(1, 1 << (length - 2).bit_length()))


def launch_tiles(kernel, args, num_warps):
    """Launch a flat kernel over args["n_elements"] in tiles of args["BLOCK"]. Where the elements
    are a multiple of 16, one launch, returned (compiled kernel, grid, arguments in the kernel's
    order); else the full tiles in one launch compiled without a mask and the last in another, and
    None (a kernel that masks at an odd bound loads one element at a time and held 182 registers to
    95 for fp32 rows of 3, sm_90: `benchmarks/NOTES.md`, 2026-12-07)."""
    n_elements, block = args["n_elements"], args["BLOCK"]
    n_full = n_elements // block
    if n_elements % 16 == 0 or n_full == 0:
        args["MASKED"] = n_elements % block != 0
        grid = (ceil_div(n_elements, block),)
        return kernel[grid](**args, num_warps=num_warps), grid, args
    kernel[(n_full,)](**args, MASKED=False, num_warps=num_warps)
    kernel[(1,)](**{**args, "first_tile": n_full}, MASKED=True, num_warps=num_warps)
    return None

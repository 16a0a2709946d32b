import triton
import triton.language as tl

from ..dispatch import ceil_div
from .combine import accumulator_dtype, mul_combine, triton_dtype


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
    OUT: tl.constexpr,  # output dtype: the input is cast to it before the scan, as torch does
    ACC: tl.constexpr,  # dtype the products are computed in
    LENGTH: tl.constexpr,  # elements a row
    HALO: tl.constexpr,  # a power of two of at least LENGTH - 1: the elements of the tile's entry row outside it
    BLOCK: tl.constexpr,  # elements a program
    EXCLUSIVE: tl.constexpr,  # each output is the product of the elements before it
    REVERSE: tl.constexpr,  # scan from each row's end
):
    # Program p scans elements [p * BLOCK, +BLOCK) of the flat array as one tile, whatever the rows:
    # every load and store is a whole 16-byte vector, and every lane holds an element. A row start
    # inside the tile (its end, for REVERSE) resets the scan (segmented_combine); the row the scan
    # enters the tile inside began up to LENGTH - 1 elements before the tile (after it, for
    # REVERSE), and the program reads those again for its carry.
    start = tl.program_id(0).to(tl.int64) * BLOCK
    lanes = tl.arange(0, BLOCK)
    offs = start + lanes
    # Positions within the row, in 32 bits: start % LENGTH is taken once.
    row_start = (start % LENGTH).to(tl.int32)
    within = (row_start + lanes) % LENGTH
    if start + BLOCK <= n_elements:
        # Full tiles load unmasked: a mask built from an odd bound would cost the vector width.
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
    if start + BLOCK <= n_elements:
        tl.store(y_ptr + offs, y.to(OUT))
    else:
        tl.store(y_ptr + offs, y.to(OUT), mask=offs < n_elements)


def launch_flat(x, y, n_rows, length, out_dtype, plan, exclusive=False, reverse=False):
    """Scan the contiguous rows of `x` (n_rows of `length`) into `y` with `plan` = (kind, n_chunks,
    chunk, BLOCK_A, BLOCK_L, num_warps, num_stages) of dispatch.plan_flat: BLOCK_L elements a
    program; `exclusive` and `reverse` as forward.scan_3d takes them. Returns the launch (compiled
    kernel, grid, arguments in the kernel's order)."""
    block, num_warps = plan[4], plan[5]
    n_elements = n_rows * length
    grid = (ceil_div(n_elements, block),)
    args = dict(x_ptr=x, y_ptr=y, n_elements=n_elements, OUT=triton_dtype(out_dtype),
                ACC=triton_dtype(accumulator_dtype(out_dtype)), LENGTH=length,
                HALO=max(1, 1 << (length - 2).bit_length()), BLOCK=block, EXCLUSIVE=exclusive, REVERSE=reverse)
    return scan_flat_rows_kernel[grid](**args, num_warps=num_warps), grid, args

import torch
import triton
import triton.language as tl

from ..dispatch import ceil_div
from .combine import mul_combine, triton_dtype


@triton.jit
def pack(value):
    # A published float32 as one 64-bit word, so that value and flag arrive together: its bits,
    # and bit 32 set to say it is there. Words not yet published read 0; pack(1.0) = 0x13F800000.
    return value.to(tl.uint32, bitcast=True).to(tl.int64) | 0x100000000


@triton.jit
def unpack(word):
    return (word & 0xFFFFFFFF).to(tl.uint32).to(tl.float32, bitcast=True)


@triton.jit
def scan_lookback_kernel(
    x_ptr,  # input, read as (n_rows, length) through its own strides
    y_ptr,  # output: contiguous (n_rows, length)
    state_ptr,  # int64 zeros: a counter, then a word per tile, then a word per group of WINDOW tiles
    n_rows,
    length,
    stride_xr,
    stride_xl,
    tiles_per_row,
    OUT: tl.constexpr,  # output dtype: the input is cast to it before the scan, as torch does
    BLOCK_L: tl.constexpr,  # elements per tile
    WINDOW: tl.constexpr,  # tiles per group: the last tile of a group publishes its inclusive product
):
    # A single pass over rows too few to fill the GPU (Merrill and Garland's decoupled look-back,
    # made deterministic). Every tile publishes the product of its elements; the last tile of each
    # group of WINDOW also publishes its inclusive product, the row's product up to its end. A tile's
    # carry is always the inclusive product of the group before its own times the products of the
    # tiles before it in its group, multiplied in a fixed order: the result never depends on timing.
    # Tiles are numbered in the order programs start, from a counter, so a tile waits only for tiles
    # that are running or done: no deadlock, whichever programs the GPU keeps resident.
    tile = tl.atomic_add(state_ptr, 1).to(tl.int64)
    row = tile // tiles_per_row
    t = tile % tiles_per_row
    group = t // WINDOW
    n_groups = tl.cdiv(tiles_per_row, WINDOW)
    tile_words = state_ptr + 1 + row * tiles_per_row
    group_words = state_ptr + 1 + n_rows * tiles_per_row + row * n_groups
    steps = tl.arange(0, BLOCK_L)
    cols = t * BLOCK_L + steps
    mask = cols < length
    x = tl.load(x_ptr + row * stride_xr + cols * stride_xl, mask=mask, other=1).to(OUT).to(tl.float32)
    total = tl.reduce(x, 0, mul_combine)
    tl.atomic_xchg(tile_words + t, pack(total), sem="relaxed")
    carry = tl.full([], 1, tl.float32)
    if group > 0:
        word = tl.load(group_words + group - 1, volatile=True)
        while word < 0x100000000:
            word = tl.load(group_words + group - 1, volatile=True)
        carry = unpack(word)
    ahead = tl.arange(0, WINDOW)
    before = ahead < t - group * WINDOW
    words = tl.load(tile_words + group * WINDOW + ahead, mask=before, other=0x13F800000, volatile=True)
    while tl.min(words, 0) < 0x100000000:
        words = tl.load(tile_words + group * WINDOW + ahead, mask=before, other=0x13F800000, volatile=True)
    carry = carry * tl.reduce(unpack(words), 0, mul_combine)
    if t % WINDOW == WINDOW - 1:
        tl.atomic_xchg(group_words + group, pack(carry * total), sem="relaxed")
    # Fold the carry into the tile's first element, so the scan continues the row as in the rows kernel.
    y = tl.associative_scan(tl.where(steps == 0, x * carry, x), 0, mul_combine)
    tl.store(y_ptr + row * length + cols, y.to(OUT), mask=mask)


def launch_lookback(x, y, n_rows, length, stride_xr, stride_xl, out_dtype, plan):
    """Scan rows of `x` into `y` in one pass with the tile sizes of `plan` = ("lookback",
    tiles_per_row, BLOCK_L, WINDOW, BLOCK_L, num_warps)."""
    _, tiles_per_row, _, window, block_l, num_warps = plan
    n_groups = ceil_div(tiles_per_row, window)
    state = torch.zeros(1 + n_rows * (tiles_per_row + n_groups), dtype=torch.int64, device=x.device)
    scan_lookback_kernel[(n_rows * tiles_per_row,)](
        x, y, state, n_rows, length, stride_xr, stride_xl, tiles_per_row,
        OUT=triton_dtype(out_dtype), BLOCK_L=block_l, WINDOW=window, num_warps=num_warps,
    )

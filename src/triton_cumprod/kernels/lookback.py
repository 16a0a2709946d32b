import torch
import triton
import triton.language as tl

from ..dispatch import ceil_div
from .combine import mul_combine, scan_tile, triton_dtype


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
def lookback_tile(state_ptr, n_rows, tiles_per_row, WINDOW: tl.constexpr):
    # The tile a program owns and the words it publishes in: (row, t, group, tile_words,
    # group_words). Tiles are numbered in the order programs start, from a counter (the state's
    # first word), so a tile waits only for tiles that are running or done: no deadlock, whichever
    # programs the GPU keeps resident. After the counter, a word per tile, then a word per group of
    # WINDOW tiles.
    tile = tl.atomic_add(state_ptr, 1).to(tl.int64)
    row = tile // tiles_per_row
    t = tile % tiles_per_row
    group = t // WINDOW
    n_groups = tl.cdiv(tiles_per_row, WINDOW)
    tile_words = state_ptr + 1 + row * tiles_per_row
    return row, t, group, tile_words, state_ptr + 1 + n_rows * tiles_per_row + row * n_groups


@triton.jit
def wait_all(words_ptr, mask, other):
    # The words `mask` selects, once every one is published (not 0); the others read `other`.
    words = tl.load(words_ptr, mask=mask, other=other, volatile=True)
    while tl.max((words == 0).to(tl.int32), 0) > 0:
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
    EXCLUSIVE: tl.constexpr,  # each output is the product of the elements before it
    REVERSE: tl.constexpr,  # scan from each row's end: tiles are numbered from there
):
    # A single pass over rows too few to fill the GPU (Merrill and Garland's decoupled look-back,
    # made deterministic). Every tile publishes the product of its elements; the last tile of each
    # group of WINDOW also publishes its inclusive product, the row's product up to its end. A tile's
    # carry is always the inclusive product of the group before its own times the products of the
    # tiles before it in its group, multiplied in a fixed order: the result never depends on timing.
    row, t, group, tile_words, group_words = lookback_tile(state_ptr, n_rows, tiles_per_row, WINDOW)
    steps = tl.arange(0, BLOCK_L)
    cols = (tiles_per_row - 1 - t if REVERSE else t) * BLOCK_L + steps
    mask = cols < length
    x = tl.load(x_ptr + row * stride_xr + cols * stride_xl, mask=mask, other=1).to(OUT).to(tl.float32)
    if REVERSE:
        # A reverse scan meets the masked tail first: 1 by a select (triton 3.6's interpreter
        # ignores `other` for bf16 loads).
        x = tl.where(mask, x, 1)
    # Products of tiles and groups in float64: see combine.aggregate_dtype.
    total = tl.reduce(x.to(tl.float64), 0, mul_combine)
    tl.atomic_xchg(tile_words + t, pack(total), sem="relaxed")
    # The products of the tiles before this one in its group first: they come from tiles running
    # side by side. Only then the previous group's product, which the chain of groups hands on: the
    # last tile of a group passes it on one multiply after it arrives.
    ahead = tl.arange(0, WINDOW)
    before = ahead < t - group * WINDOW
    words = wait_all(tile_words + group * WINDOW + ahead, before, pack(tl.full([], 1, tl.float64)))
    in_group = tl.reduce(unpack(words), 0, mul_combine)
    carry = tl.full([], 1, tl.float64)
    if group > 0:
        carry = unpack(wait_one(group_words + group - 1))
    carry = carry * in_group
    if t % WINDOW == WINDOW - 1:
        tl.atomic_xchg(group_words + group, pack(carry * total), sem="relaxed")
    y, _ = scan_tile(x, carry.to(tl.float32), steps, 0, 0, EXCLUSIVE, REVERSE)
    tl.store(y_ptr + row * length + cols, y.to(OUT), mask=mask)


def launch_lookback(x, y, n_rows, length, stride_xr, stride_xl, out_dtype, plan, exclusive=False, reverse=False):
    """Scan rows of `x` into `y` in one pass with the tile sizes of `plan` = ("lookback",
    tiles_per_row, BLOCK_L, WINDOW, BLOCK_L, num_warps, 1)."""
    _, tiles_per_row, _, window, block_l, num_warps, _ = plan
    n_groups = ceil_div(tiles_per_row, window)
    state = torch.zeros(1 + n_rows * (tiles_per_row + n_groups), dtype=torch.int64, device=x.device)
    scan_lookback_kernel[(n_rows * tiles_per_row,)](
        x, y, state, n_rows, length, stride_xr, stride_xl, tiles_per_row,
        OUT=triton_dtype(out_dtype), BLOCK_L=block_l, WINDOW=window, EXCLUSIVE=exclusive, REVERSE=reverse,
        num_warps=num_warps,
    )

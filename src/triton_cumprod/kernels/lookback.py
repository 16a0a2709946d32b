import torch
import triton
import triton.language as tl

from ..dispatch import ceil_div
from .combine import mirrored, mul_combine, run_length, scan_mirrored, scan_tile, triton_dtype


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
def lookback_tile(state_ptr, n_rows, tiles_per_row, WINDOW: tl.constexpr, GROUPS: tl.constexpr = 1):
    # The tile a program owns and the words of its row it publishes in: (row, t, group, tile_words,
    # group_words, super_words). Tiles are numbered in the order programs start, from a counter (the
    # state's first word), so a tile waits only for tiles that are running or done: no deadlock,
    # whichever programs the GPU keeps resident. After the counter, a word per tile, then a word per
    # group of WINDOW tiles, then a word per super-group of GROUPS groups (lookback_state).
    tile = tl.atomic_add(state_ptr, 1).to(tl.int64)
    row = tile // tiles_per_row
    t = tile % tiles_per_row
    group = t // WINDOW
    n_groups = tl.cdiv(tiles_per_row, WINDOW)
    n_super = tl.cdiv(tiles_per_row, WINDOW * GROUPS)
    tile_words = state_ptr + 1 + row * tiles_per_row
    group_words = state_ptr + 1 + n_rows * tiles_per_row + row * n_groups
    super_words = state_ptr + 1 + n_rows * (tiles_per_row + n_groups) + row * n_super
    return row, t, group, tile_words, group_words, super_words


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
    state_ptr,  # int64 zeros: a counter, then words per tile, per group and per super-group
    n_rows,
    length,
    stride_xr,
    stride_xl,
    tiles_per_row,
    OUT: tl.constexpr,  # output dtype: the input is cast to it before the scan, as torch does
    BLOCK_L: tl.constexpr,  # elements per tile
    WINDOW: tl.constexpr,  # tiles per group: the last tile of a group publishes the group's product
    GROUPS: tl.constexpr,  # groups per super-group: its last tile publishes the row's product so far
    EXCLUSIVE: tl.constexpr,  # each output is the product of the elements before it
    REVERSE: tl.constexpr,  # scan from each row's end: tiles are numbered from there
    RUN: tl.constexpr,  # elements a thread stores at once (16 bytes) when it scans from the end
):
    # A single pass over rows too few to fill the GPU (Merrill and Garland's decoupled look-back,
    # made deterministic). Every tile publishes the product of its elements; the last tile of each
    # group of WINDOW tiles publishes the group's product; the last tile of each super-group of
    # GROUPS groups publishes the row's inclusive product up to its end. A tile's carry is the
    # inclusive product before its super-group times the products of the groups before its own in
    # the super-group times those of the tiles before it in its group, each multiplied in a fixed
    # order: the result never depends on timing. Only the super-groups' products form a chain, one
    # hop per WINDOW * GROUPS tiles; every other word a tile waits for comes from tiles that started
    # before it and wait on nothing.
    row, t, group, tile_words, group_words, super_words = lookback_tile(state_ptr, n_rows, tiles_per_row, WINDOW,
                                                                        GROUPS)
    super_group = group // GROUPS
    if REVERSE:
        # Read backwards in runs and scanned forwards (see scan_mirrored).
        cols = mirrored((tiles_per_row - 1 - t) * BLOCK_L, BLOCK_L, RUN)
    else:
        cols = t * BLOCK_L + tl.arange(0, BLOCK_L)
    mask = cols < length
    x = tl.load(x_ptr + row * stride_xr + cols * stride_xl, mask=mask, other=1).to(OUT).to(tl.float32)
    if REVERSE:
        # A reverse scan meets the masked tail first: 1 by a select (triton 3.6's interpreter
        # ignores `other` for bf16 loads).
        x = tl.where(mask, x, 1)
    # Products of tiles and groups in float64: see combine.aggregate_dtype.
    total = tl.reduce(x.to(tl.float64), None, mul_combine)
    tl.atomic_xchg(tile_words + t, pack(total), sem="relaxed")
    one = pack(tl.full([], 1, tl.float64))
    ahead = tl.arange(0, WINDOW)
    words = wait_all(tile_words + group * WINDOW + ahead, ahead < t - group * WINDOW, one)
    in_group = tl.reduce(unpack(words), 0, mul_combine)
    group_product = in_group * total
    if t % WINDOW == WINDOW - 1:
        tl.atomic_xchg(group_words + group, pack(group_product), sem="relaxed")
    slots = tl.arange(0, GROUPS)
    earlier_groups = wait_all(group_words + super_group * GROUPS + slots, slots < group - super_group * GROUPS, one)
    in_super = tl.reduce(unpack(earlier_groups), 0, mul_combine)
    carry = tl.full([], 1, tl.float64)
    if super_group > 0:
        carry = unpack(wait_one(super_words + super_group - 1))
    if t % (WINDOW * GROUPS) == WINDOW * GROUPS - 1:
        tl.atomic_xchg(super_words + super_group, pack(carry * (in_super * group_product)), sem="relaxed")
    carry = carry * in_super * in_group
    if REVERSE:
        y, _ = scan_mirrored(x, carry.to(tl.float32), EXCLUSIVE)
    else:
        y, _ = scan_tile(x, carry.to(tl.float32), tl.arange(0, BLOCK_L), 0, 0, EXCLUSIVE, False)
    tl.store(y_ptr + row * length + cols, y.to(OUT), mask=mask)


def lookback_state(device, n_rows, tiles_per_row, window, groups=None):
    """The zeroed int64 words a single pass publishes in (lookback_tile): the counter, a word per
    tile, per group of `window` tiles and, given `groups`, per super-group of `groups` groups."""
    n_groups = ceil_div(tiles_per_row, window)
    n_super = ceil_div(n_groups, groups) if groups else 0
    return torch.zeros(1 + n_rows * (tiles_per_row + n_groups + n_super), dtype=torch.int64, device=device)


def launch_lookback(x, y, n_rows, length, stride_xr, stride_xl, out_dtype, plan, exclusive=False, reverse=False):
    """Scan rows of `x` into `y` in one pass with the tile sizes of `plan` = ("lookback",
    tiles_per_row, GROUPS, WINDOW, BLOCK_L, num_warps, 1)."""
    _, tiles_per_row, groups, window, block_l, num_warps, _ = plan
    state = lookback_state(x.device, n_rows, tiles_per_row, window, groups)
    scan_lookback_kernel[(n_rows * tiles_per_row,)](
        x, y, state, n_rows, length, stride_xr, stride_xl, tiles_per_row,
        OUT=triton_dtype(out_dtype), BLOCK_L=block_l, WINDOW=window, GROUPS=groups, EXCLUSIVE=exclusive,
        REVERSE=reverse, RUN=run_length(x, block_l, stride_xl), num_warps=num_warps,
    )

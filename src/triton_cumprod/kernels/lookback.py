import torch
import triton
import triton.language as tl

from ..dispatch import ceil_div, dense_columns, next_power_of_2, register_cap
from .combine import (accumulator_dtype, body_of, in_units, leaving_mirrored, mirrored, mul_combine, pick, piece,
                      scan_mirrored, scan_piece, scan_tile, triton_dtype, vector_elements, vectors_from, within,
                      x_phase)


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


def chain_state(device, lines, block_i):
    """The zeroed int64 words a chain publishes in (chain_tile): a counter, then two slots of
    `block_i` words a line. A call leaves it as new for the next call on the same stream."""
    return torch.zeros(1 + 2 * lines * block_i, dtype=torch.int64, device=device)


def launch_chain(x, y, n_outer, length, inner, strides, out_dtype, plan, exclusive=False, reverse=False):
    """Scan the middle axis of `x`, read as (n_outer, length, inner) through `strides`, into `y` in
    one pass of scan_chain_cols_kernel with the tile sizes of `plan` = ("chain", tiles a line,
    BLOCK_L, BLOCK_I, BLOCK_L, num_warps, 1). Returns the launch (compiled kernel, grid, arguments
    in the kernel's order), for replay.py: its state is ready for the next call."""
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
    """RUN of scan_chain_cols_kernel: two whole columns a lane where a row of the tile starts on 16
    bytes, else one (its loads are 4 bytes wide either way, and lanes one column apart read whole
    sectors)."""
    lanes = 32 * num_warps
    if strides[2] == 1 and strides[1] * itemsize % 16 == 0 and block_i >= 2 * lanes:
        return block_i // lanes
    return 1


def lookback_state(device, n_rows, tiles_per_row, window, groups=1, width=1):
    """The zeroed int64 words a single pass publishes in (lookback_tile): a counter, then two halves
    of `width` words per tile, per group of `window` tiles and per super-group of `groups` groups.
    A call leaves it ready for the next call of the same grid on the same stream."""
    n_groups = ceil_div(tiles_per_row, window)
    n_super = ceil_div(tiles_per_row, window * groups)
    return torch.zeros(1 + 2 * n_rows * (tiles_per_row + n_groups + n_super) * width, dtype=torch.int64,
                       device=device)


def launch_resident(kernel, grid, args, num_warps, device, caps={}):
    """kernel[grid](**args, num_warps=num_warps), compiled to the registers a thread at which one
    more program fits on a multiprocessor (dispatch.register_cap) where that spills at most 8 bytes
    a thread (16 cost the gradient 0.06): the single passes wait with their tiles in registers. A
    cap changes no arithmetic, so results are bitwise the same; on the CPU (TRITON_INTERPRET=1)
    there is none. `caps` keeps each decision, by kernel, warps, device and constexprs, from call to
    call (the answer file holds no module state, hence a default made once)."""
    options = dict(num_warps=num_warps)
    if device.type == "cuda":
        key = (kernel, num_warps, device, *(args[p.name] for p in kernel.params if p.is_constexpr))
        if key not in caps:
            caps[key] = resident_cap(kernel, grid, args, num_warps, device)
        if caps[key] is not None:
            options["maxnreg"] = caps[key]
    return kernel[grid](**args, **options)


def resident_cap(kernel, grid, args, num_warps, device):
    """The maxnreg launch_resident compiles `kernel` to, or None."""
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
    """Scan the middle axis of `x`, read as (n_outer, length, inner) through `strides`, into `y` in
    one pass with the tile sizes of `plan` = ("lookback", tiles_per_line, GROUPS, WINDOW, BLOCK_L,
    num_warps, 1): rows (inner == 1) by scan_lookback_kernel, a few inner positions of stride 1 by
    scan_lookback_cols_kernel. Returns the launch (compiled kernel, grid, arguments in the kernel's
    order), for replay.py: its state is ready for the next call."""
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

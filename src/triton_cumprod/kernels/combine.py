import torch
import triton
import triton.language as tl


@triton.jit
def mul_combine(a, b):
    # The associative operator of the scan; every kernel family scans and reduces with it.
    return a * b


@triton.jit
def two_product_combine(hi1, lo1, hi2, lo2):
    # Products as float32 pairs hi + lo: the rounding error of hi1 * hi2 is exact by an fma.
    hi = hi1 * hi2
    return hi, tl.fma(hi1, hi2, -hi) + (hi1 * lo2 + lo1 * hi2)


@triton.jit
def wide_product(x, axis: tl.constexpr):
    # The product of float32 x along `axis` as a float64, with float32 units only: a float64
    # reduction converts every element first and holds them (43 more registers a thread in the
    # single-pass gradient). Where hi is 0 or not finite, hi itself: a low part of NaN (inf - inf)
    # or a sum of zeros would lose the value or the sign. The test is a comparison, not hi - hi == 0,
    # which the compiler may contract with the product that made hi into an fma: its rounding error,
    # rarely 0 (on one warp the low part was dropped: 1-D 2^28 gradient 3.3e-4 against 7e-6).
    hi, lo = tl.reduce((x, tl.zeros_like(x)), axis, two_product_combine)
    return tl.where((tl.abs(hi) < float("inf")) & (hi != 0), hi.to(tl.float64) + lo.to(tl.float64), hi)


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
def line_chunk(line_start, length, pid_c, n_chunks, chunk, BLOCK: tl.constexpr, VEC: tl.constexpr,
               EDGES: tl.constexpr):
    # Chunk pid_c of n_chunks of lines of `length` that start at offsets line_start of a contiguous
    # tensor, on a grid of BLOCK steps laid from the vector that holds each line's first element
    # (vectors_from); the last chunk runs to the line's end, however far that skew takes it.
    # Returns (origin, first, lo, hi, n_steps): the grid's first offset (on a vector), the same
    # relative to the line, the chunk's positions [lo, hi) in the line, and the steps to take.
    origin = vectors_from(line_start, VEC) + pid_c.to(tl.int64) * chunk
    first = origin - line_start
    last_chunk = pid_c == n_chunks - 1
    span = length + (VEC - 1 if EDGES else 0) - pid_c.to(tl.int64) * chunk
    n_steps = tl.cdiv(tl.where(last_chunk, span, tl.minimum(chunk, span)), BLOCK)
    hi = tl.where(last_chunk, length, tl.minimum(first + chunk, length))
    return origin, first, tl.maximum(first, 0), hi, n_steps


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


def vector_elements(*itemsizes, block=None):
    """VEC of vectors_from(): the elements of the widest of the types of `itemsizes` bytes (those a
    kernel reads) that fill 16 bytes, so that a vector of any of them lies within one 16-byte word;
    at most `block`, the tile the kernel walks in."""
    vec = max(1, 16 // max(itemsizes))
    return vec if block is None else min(vec, block)


def aligned(*tensors):
    """Whether every tensor starts on a 16-byte boundary: loads may then read whole vectors that a
    line starts or ends inside (the elements outside it are dropped in registers), never past the
    16-byte word of an element of the tensor."""
    return all(t.data_ptr() % 16 == 0 for t in tensors)


def stride_unit(counts, itemsizes):
    """UNIT of the column kernels: the elements of the narrowest type of `itemsizes` that fill 16
    bytes, where that divides every count in `counts` (the sizes and strides their addresses
    multiply) and some count is no multiple of 16; else 1, and those layouts compile as before.
    Triton proves a divisor of an integer argument only for 16, so fp32 rows of 6072 start on 16
    bytes yet load an element at a time (tl.multiple_of on a scalar does not help); a count passed
    as count // UNIT and multiplied back by the constexpr UNIT in the kernel proves UNIT. Only
    whole 16 bytes: 8-byte units ran the gradient of fp32 100001 x 2002 dim 0 at 0.409 of two
    copies against 0.488 (benchmarks/NOTES.md, 2026-12-08)."""
    unit = 16 // min(itemsizes)
    if all(count % 16 == 0 for count in counts) or any(count % unit for count in counts):
        return 1
    return unit


def in_units(counts, itemsizes):
    """(UNIT, counts // UNIT): the sizes and strides `counts` of a column kernel that reads types of
    `itemsizes` bytes, as it takes them (stride_unit)."""
    unit = stride_unit(counts, itemsizes)
    return unit, [count // unit for count in counts]


def line_skew(length, vec):
    """Positions a line of `length` may start past the vector boundary its tiles are laid from
    (vectors_from), on vectors of `vec` elements: 0 where every line of a contiguous tensor starts
    on one. Tiles cover length + skew positions a line."""
    return vec - 1 if length % vec else 0


def x_phase(x, n_rows, length, stride_xr, stride_xl, vec):
    """x_shift of the row kernels' PHASED reads (kernels/rows.py, kernels/lookback.py), or None
    where x's rows cannot be read on the vectors of y's: x contiguous along rows, 16-byte aligned,
    its row r starting (stride_xr - length) * r past y's, a whole number of vectors."""
    shift = stride_xr - length if n_rows > 1 else 0
    return shift // vec if stride_xl == 1 and shift % vec == 0 and aligned(x) else None


def accumulator_dtype(dtype):
    """The dtype a scan producing `dtype` multiplies in: fp32 for the half types, else `dtype` itself."""
    if dtype == torch.float16 or dtype == torch.bfloat16:
        return torch.float32
    return dtype


def aggregate_dtype(dtype):
    """The dtype of the product of a whole chunk or tile of a scan producing `dtype`: float64 where
    the scan multiplies in float32. Products of factors near one, taken in float32, round down more
    often than up (the low part of (1 + a)(1 + b) is the small ab): a chunk of 2048 such factors comes
    out about 5 eps low, and a line of chunks adds that up; a sequential scan drifts away from one and
    does not. float64 keeps that bias below float32's last bit."""
    acc = accumulator_dtype(dtype)
    return torch.float64 if acc == torch.float32 else acc


def triton_dtype(dtype):
    """The triton.language dtype for a torch dtype, to pass as a constexpr."""
    return getattr(tl, str(dtype).split(".")[-1])

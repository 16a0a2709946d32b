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
def pick(values, where, axis: tl.constexpr):
    # The entry of each line along `axis` at the one position `where` marks: a product with ones,
    # so exact, whatever the value (inf, NaN, -0.0).
    return tl.reduce(tl.where(where, values, 1), axis, mul_combine)


@triton.jit
def row_block(pid_r, pid_c, n_rows, length, chunk, BLOCK_R: tl.constexpr):
    # Program (pid_r, pid_c) of a row layout owns rows [pid_r * BLOCK_R, +BLOCK_R) and positions
    # [start, end) of them: (rows, row_mask, start, end).
    rows = pid_r.to(tl.int64) * BLOCK_R + tl.arange(0, BLOCK_R)
    start = pid_c.to(tl.int64) * chunk
    return rows, rows < n_rows, start, tl.minimum(start + chunk, length)


@triton.jit
def scan_rows_kernel(
    x_ptr,  # input, read as (n_rows, length) through its own strides
    y_ptr,  # output: contiguous (n_rows, length), or (n_rows, n_chunks) chunk products if REDUCE
    prefix_ptr,  # (n_rows, n_chunks) inclusive products of the chunks; read if HAS_PREFIX
    n_rows,
    length,
    chunk,  # elements of a row that one program covers (a multiple of BLOCK_L)
    stride_xr,
    stride_xl,
    OUT: tl.constexpr,  # output dtype: the input is cast to it before the scan, as torch does
    ACC: tl.constexpr,  # dtype the products are computed in
    BLOCK_R: tl.constexpr,  # rows per program
    BLOCK_L: tl.constexpr,  # elements per row and step
    REDUCE: tl.constexpr,  # write the product of each chunk instead of the scan
    HAS_PREFIX: tl.constexpr,  # chunk c starts from prefix[:, c - 1] instead of 1
):
    # Program (r, c) scans rows [r * BLOCK_R, +BLOCK_R) over columns [c * chunk, +chunk),
    # walking the chunk BLOCK_L at a time and carrying each row's running product.
    pid_c = tl.program_id(1)
    n_chunks = tl.num_programs(1)
    rows, row_mask, start, end = row_block(tl.program_id(0), pid_c, n_rows, length, chunk, BLOCK_R)
    if HAS_PREFIX:
        carry = tl.load(prefix_ptr + rows * n_chunks + pid_c - 1, mask=row_mask & (pid_c > 0), other=1).to(ACC)
    else:
        carry = tl.full([BLOCK_R], 1, ACC)
    x_rows = x_ptr + rows[:, None] * stride_xr
    y_rows = y_ptr + rows[:, None] * length
    for col in range(start, end, BLOCK_L):
        cols = col + tl.arange(0, BLOCK_L)
        mask = row_mask[:, None] & (cols < end)[None, :]
        x = tl.load(x_rows + cols[None, :] * stride_xl, mask=mask, other=1).to(OUT).to(ACC)
        # Fold the running product into the step's first column, so the scan continues each row;
        # the next carry is the scan's last column (masked columns hold 1), so every step goes on
        # from exactly the value the last one wrote.
        y = tl.associative_scan(tl.where(cols[None, :] == col, x * carry[:, None], x), 1, mul_combine)
        if not REDUCE:
            tl.store(y_rows + cols[None, :], y.to(OUT), mask=mask)
        carry = pick(y, cols[None, :] == col + BLOCK_L - 1, 1)
    if REDUCE:
        tl.store(y_ptr + rows * n_chunks + pid_c, carry, mask=row_mask)


@triton.jit
def column_block(pid, pid_c, inner, length, chunk, BLOCK_I: tl.constexpr):
    # Program (pid, pid_c) of a column layout owns BLOCK_I neighbouring inner positions of one outer
    # index and scan positions [start, end): (outer, cols, col_mask, start, end).
    n_col_blocks = tl.cdiv(inner, BLOCK_I)
    cols = (pid % n_col_blocks) * BLOCK_I + tl.arange(0, BLOCK_I)
    start = pid_c.to(tl.int64) * chunk
    return (pid // n_col_blocks).to(tl.int64), cols, cols < inner, start, tl.minimum(start + chunk, length)


@triton.jit
def scan_cols_kernel(
    x_ptr,  # input, read as (n_outer, length, inner) through its own strides
    y_ptr,  # output: contiguous (n_outer, length, inner), or (n_outer, n_chunks, inner) if REDUCE
    prefix_ptr,  # (n_outer, n_chunks, inner) inclusive products of the chunks; read if HAS_PREFIX
    n_outer,
    length,
    inner,
    chunk,  # scan positions that one program covers (a multiple of BLOCK_L)
    stride_xo,
    stride_xl,
    stride_xi,
    OUT: tl.constexpr,  # output dtype: the input is cast to it before the scan, as torch does
    ACC: tl.constexpr,  # dtype the products are computed in
    BLOCK_L: tl.constexpr,  # scan positions per step
    BLOCK_I: tl.constexpr,  # inner positions per program: the coalesced axis
    REDUCE: tl.constexpr,  # write the product of each chunk instead of the scan
    HAS_PREFIX: tl.constexpr,  # chunk c starts from prefix[:, c - 1] instead of 1
):
    # Program (p, c) owns BLOCK_I neighbouring columns of one outer index and walks scan positions
    # [c * chunk, +chunk) in [BLOCK_L, BLOCK_I] tiles, loading whole cache lines along `inner`.
    pid_c = tl.program_id(1)
    n_chunks = tl.num_programs(1)
    outer, cols, col_mask, start, end = column_block(tl.program_id(0), pid_c, inner, length, chunk, BLOCK_I)
    if HAS_PREFIX:
        prefix = prefix_ptr + (outer * n_chunks + pid_c - 1) * inner + cols
        carry = tl.load(prefix, mask=col_mask & (pid_c > 0), other=1).to(ACC)
    else:
        carry = tl.full([BLOCK_I], 1, ACC)
    x_cols = x_ptr + outer * stride_xo + cols.to(tl.int64) * stride_xi
    y_cols = y_ptr + outer * length * inner + cols
    for pos in range(start, end, BLOCK_L):
        steps = pos + tl.arange(0, BLOCK_L)
        mask = (steps < end)[:, None] & col_mask[None, :]
        x = tl.load(x_cols[None, :] + steps[:, None] * stride_xl, mask=mask, other=1)
        x = x.to(OUT).to(ACC)
        # Fold the running product into the step's first row, so the scan continues each column;
        # the next carry is the scan's last row (masked rows hold 1), so every step goes on from
        # exactly the value the last one wrote.
        y = tl.associative_scan(tl.where(steps[:, None] == pos, x * carry[None, :], x), 0, mul_combine)
        if not REDUCE:
            tl.store(y_cols[None, :] + steps[:, None] * inner, y.to(OUT), mask=mask)
        carry = pick(y, steps[:, None] == pos + BLOCK_L - 1, 0)
    if REDUCE:
        tl.store(y_ptr + (outer * n_chunks + pid_c) * inner + cols, carry, mask=col_mask)


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


def accumulator_dtype(dtype):
    """The dtype a scan producing `dtype` multiplies in: fp32 for the half types, else `dtype` itself."""
    if dtype == torch.float16 or dtype == torch.bfloat16:
        return torch.float32
    return dtype


def triton_dtype(dtype):
    """The triton.language dtype for a torch dtype, to pass as a constexpr."""
    return getattr(tl, str(dtype).split(".")[-1])


def launch_rows(x, y, prefix, n_rows, length, stride_xr, stride_xl, out_dtype, plan, reduce):
    """Scan (or, with `reduce`, take chunk products of) rows of `x` into `y` with the strides and
    tile sizes of `plan` = (kind, n_chunks, chunk, BLOCK_R, BLOCK_L, num_warps)."""
    _, n_chunks, chunk, block_r, block_l, num_warps = plan
    grid = (ceil_div(n_rows, block_r), n_chunks)
    scan_rows_kernel[grid](
        x, y, y if prefix is None else prefix, n_rows, length, chunk, stride_xr, stride_xl,
        OUT=triton_dtype(out_dtype), ACC=triton_dtype(accumulator_dtype(out_dtype)), BLOCK_R=block_r, BLOCK_L=block_l,
        REDUCE=reduce, HAS_PREFIX=prefix is not None, num_warps=num_warps,
    )


def launch_cols(x, y, prefix, n_outer, length, inner, strides, out_dtype, plan, reduce):
    """Scan (or, with `reduce`, take chunk products of) the middle axis of `x` into `y`, with the
    input `strides` and the tile sizes of `plan` = (kind, n_chunks, chunk, BLOCK_I, BLOCK_L, num_warps)."""
    _, n_chunks, chunk, block_i, block_l, num_warps = plan
    grid = (n_outer * ceil_div(inner, block_i), n_chunks)
    scan_cols_kernel[grid](
        x, y, y if prefix is None else prefix, n_outer, length, inner, chunk, *strides,
        OUT=triton_dtype(out_dtype), ACC=triton_dtype(accumulator_dtype(out_dtype)), BLOCK_L=block_l, BLOCK_I=block_i,
        REDUCE=reduce, HAS_PREFIX=prefix is not None, num_warps=num_warps,
    )


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


def ceil_div(a, b):
    # triton.cdiv and triton.next_power_of_2 cost microseconds a call on the host; these cost nothing.
    return -(-a // b)


def next_power_of_2(n):
    return 1 << max(n - 1, 0).bit_length()


def tile_settings(capability, itemsize):
    """Launch settings for a GPU generation and an element size, by name:
    row_step: longest step along a row, in elements; row_values: elements a thread holds of a
    one-row tile (sets its warps); short_tile: elements per tile of short rows, several rows a tile;
    col_tile_bytes: bytes of a column tile (a step of 128 columns); col_thread_bytes: bytes of it a
    thread holds (sets its warps); split_programs_per_sm:
    programs a split scan aims for, per multiprocessor; lookback_step, lookback_window: the tile and
    the tiles a group of the single-pass scan.

    Measured on sm_90 (H200) with benchmarks/sweep.py (see benchmarks/NOTES.md):
    - fp32 rows run best walked in as few steps as possible (up to 32768) at 128 values a thread;
      16-bit types at 2048-element steps of 4 warps; 8-byte types at 4096.
    - Column tiles of 128 columns run best at 32 KB a step (fp32: 64 steps, fp64: 32) and about
      512 bytes of the tile a thread (2 warps): within 1-2 % of the best plan on every layout
      swept; 4 warps cost up to 25 %.
    The same values serve sm_89 (RTX 4090, the prompt's target) until measured there: 128 fp32 values
    a thread fit either register file, and no tile needs more than 64 KB of shared memory, under
    sm_89's 100 KB. A generation that measures differently gets its own branch here.
    """
    row_step, row_values = {1: (2048, 16), 2: (2048, 16), 4: (32768, 128)}.get(itemsize, (4096, 32))
    if capability == (0, 0):
        # TRITON_INTERPRET=1 on the CPU, where a scan costs Python work per element of the tile.
        row_step = 2048
    # 16-bit column tiles: 4 warps measured best (0.53, against 0.33 at 2 warps; not understood).
    col_thread_bytes = 128 if itemsize == 2 else 512
    return dict(row_step=row_step, row_values=row_values, short_tile=2048, col_tile_bytes=32 * 1024,
                col_thread_bytes=col_thread_bytes,
                split_programs_per_sm=4, lookback_step=4096, lookback_window=256)


def plan_scan(n_outer, length, inner, unit_stride, n_sm, capability, itemsize, single_pass=False):
    """Choose the strategy for scanning the middle axis of an (n_outer, length, inner) tensor.

    Returns (kind, n_chunks, chunk, BLOCK_A, BLOCK_L, num_warps): kind is "rows" (inner == 1,
    BLOCK_A rows per program) or "cols" (BLOCK_A inner positions per program); each scan line is
    cut into n_chunks chunks of `chunk` positions, scanned by separate programs when the lines
    alone cannot fill `n_sm` multiprocessors. `unit_stride` says whether the input is contiguous
    along the scan axis, which decides whether a row tile can load along it; `itemsize` is the
    output's element size in bytes. With `single_pass` (the kernels multiply in float32), rows that
    would be cut take "lookback" instead: one pass, n_chunks tiles of BLOCK_L a row, groups of
    BLOCK_A tiles (kernels/lookback.py).
    """
    settings = tile_settings(capability, itemsize)
    if inner == 1:
        kind = "rows"
        # Rows whose elements are strided (a transposed input) take a square tile: it reads along
        # the rows' neighbours and the compiler transposes it through shared memory to write rows.
        block_l = min(next_power_of_2(length), settings["row_step"] if unit_stride else 64)
        # A step that does not divide the row computes on masked lanes: shorter steps while they
        # would pad the row by more than a quarter.
        while block_l > settings["short_tile"] and 4 * (ceil_div(length, block_l) * block_l - length) > length:
            block_l //= 2
        block_a = min(max(1, settings["short_tile"] // block_l), next_power_of_2(n_outer))
        lines = ceil_div(n_outer, block_a)
        if block_a == 1:
            num_warps = min(8, max(1, block_l // (32 * settings["row_values"])))
        else:
            num_warps = max(1, min(4, block_a * block_l // 1024))
        n_chunks, chunk = split_lines(lines, length, block_l, n_sm, settings["split_programs_per_sm"])
        if single_pass and unit_stride and n_chunks > 1:
            kind = "lookback"
            block_l = settings["lookback_step"]
            n_chunks = ceil_div(length, block_l)
            chunk, block_a = block_l, min(settings["lookback_window"], next_power_of_2(n_chunks))
            num_warps = max(1, block_l // (32 * 64))
    else:
        kind = "cols"
        # 128 neighbouring columns a program: a warp's 32 threads then each own whole columns of
        # the tile and scan them in order, as torch does (narrower tiles scan across threads and
        # lose accuracy).
        block_a = min(next_power_of_2(inner), 128)
        block_l = min(max(16, settings["col_tile_bytes"] // (block_a * itemsize)), max(64, 8192 // block_a),
                      next_power_of_2(length))
        lines = n_outer * ceil_div(inner, block_a)
        n_chunks, chunk = split_lines(lines, length, block_l, n_sm, settings["split_programs_per_sm"])
        # A few hundred bytes of the tile a thread: more warps only split the scan across them.
        num_warps = max(1, min(4, block_a * block_l * itemsize // (32 * settings["col_thread_bytes"])))
    return kind, n_chunks, chunk, block_a, block_l, num_warps


def split_lines(lines, length, block_l, n_sm, programs_per_sm):
    """(n_chunks, chunk): how to cut each line of `length` so that `lines` of them fill `n_sm`
    multiprocessors. Only lines that fill at most half the SMs are cut: a program per SM nearly
    saturates memory, and a split reads the input twice."""
    n_chunks = 1
    if 2 * lines <= n_sm and length > 2 * block_l:
        n_chunks = min(ceil_div(programs_per_sm * n_sm, lines), ceil_div(length, block_l), 65535)
    chunk = ceil_div(ceil_div(length, n_chunks), block_l) * block_l
    return ceil_div(length, chunk), chunk


def merged_stride(sizes, strides):
    """The stride of the dims `sizes` read as one flattened dim, or None when they are not evenly
    spaced in memory. Dims of size 1 never matter; no dims at all read as stride 0."""
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


def scan_view(x, dim):
    """Read `x` as (n_outer, length, inner) around `dim`: returns the tensor to read (x itself, or a
    contiguous copy when the dims before or after `dim` do not merge), the three sizes and its three
    strides over them."""
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
        x = x.contiguous()
        stride_o, stride_i = length * inner, 1
    return x, n_outer, length, inner, (stride_o, x.stride(dim), stride_i)


def device_traits(device):
    """(multiprocessor count, compute capability) of `device`. Tensors on the CPU only reach the
    kernels under TRITON_INTERPRET=1, which runs programs one by one: 4 small SMs keep grids small."""
    if device.type != "cuda":
        return 4, (0, 0)
    props = torch.cuda.get_device_properties(device)
    return props.multi_processor_count, (props.major, props.minor)


def scan_plan(n_outer, length, inner, unit_stride, out_dtype, device):
    """dispatch.plan_scan's plan for writing `out_dtype` on `device`: rows take the single pass
    where the kernels multiply in float32 (kernels/lookback.py)."""
    single_pass = accumulator_dtype(out_dtype) == torch.float32
    return plan_scan(n_outer, length, inner, unit_stride, *device_traits(device), out_dtype.itemsize, single_pass)


def scan_3d(x, y, n_outer, length, inner, strides, out_dtype):
    """Write the cumulative product of `x`, read as (n_outer, length, inner) through `strides`, over
    its middle axis into the contiguous `y`. Lines too few to fill the GPU are cut into chunks: one
    pass takes each chunk's product, a scan of those products gives each chunk its starting carry,
    and a second pass scans the chunks. Every product is taken in a fixed order: results are
    bitwise reproducible. Rows multiplied in float32 take a single pass instead (kernels/lookback.py)."""
    plan = scan_plan(n_outer, length, inner, strides[1] == 1, out_dtype, x.device)
    n_chunks = plan[1]
    prefix = None
    if n_chunks > 1 and plan[0] != "lookback":
        acc = accumulator_dtype(out_dtype)
        totals = torch.empty((n_outer, n_chunks, inner), dtype=acc, device=x.device)
        launch_scan(x, totals, None, n_outer, length, inner, strides, out_dtype, plan, True)
        prefix = torch.empty_like(totals)
        scan_3d(totals, prefix, n_outer, n_chunks, inner, totals.stride(), acc)
    launch_scan(x, y, prefix, n_outer, length, inner, strides, out_dtype, plan, False)


def launch_scan(x, y, prefix, n_outer, length, inner, strides, out_dtype, plan, reduce):
    if plan[0] == "lookback":
        launch_lookback(x, y, n_outer, length, strides[0], strides[1], out_dtype, plan)
    elif plan[0] == "rows":
        launch_rows(x, y, prefix, n_outer, length, strides[0], strides[1], out_dtype, plan, reduce)
    else:
        launch_cols(x, y, prefix, n_outer, length, inner, strides, out_dtype, plan, reduce)


def default_dtype(dtype):
    """torch.cumprod's result dtype when no dtype= is given: int64 for integers and bool."""
    if dtype.is_floating_point or dtype.is_complex:
        return dtype
    return torch.int64


def cumprod_forward(x, dim, out_dtype, y=None):
    """torch.cumprod(x, dim, dtype=out_dtype), for `x` of any shape and strides and `dim` already
    checked, written into `y` (contiguous, of x's shape and out_dtype) or a new tensor."""
    if x.is_neg():
        x = x.resolve_neg()  # a negative-bit view's memory holds the values negated
    if y is None:
        y = torch.empty(x.shape, dtype=out_dtype, device=x.device)
    if y.numel() == 0:
        return y
    if x.dim() == 0 or x.shape[dim] == 1:
        # A scan of one element is the element, cast as torch casts.
        return y.copy_(x)
    x, n_outer, length, inner, strides = scan_view(x, dim % x.dim())
    scan_3d(x, y, n_outer, length, inner, strides, out_dtype)
    return y


class ModelNew(nn.Module):
    """torch.cumprod(x, dim) computed by the Triton kernels above, for any shape and dim."""

    def __init__(self, dim):
        super().__init__()
        self.dim = dim

    def forward(self, x):
        return cumprod_forward(x, self.dim, default_dtype(x.dtype))

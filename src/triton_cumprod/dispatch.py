def ceil_div(a, b):
    # triton.cdiv and triton.next_power_of_2 cost microseconds a call on the host; these cost nothing.
    return -(-a // b)


def next_power_of_2(n):
    return 1 << max(n - 1, 0).bit_length()


def tile_settings(capability, itemsize):
    """Launch settings for a GPU generation and an element size: (longest row step, elements per
    tile of short rows, elements per column tile, programs per SM a split scan aims for).

    Measured on sm_90 (H200) with benchmarks/sweep.py. The same values serve sm_89 (RTX 4090, the
    prompt's target) until measured there: a row step of 8192 fp32 is 64 values a thread at 4 warps,
    inside either register file, and no tile needs more than 32 KB of shared memory, under sm_89's
    100 KB. A generation that measures differently gets its own branch here.
    """
    row_step = {1: 2048, 2: 2048, 4: 8192}.get(itemsize, 4096)
    return row_step, 2048, 4096, 4


def plan_scan(n_outer, length, inner, unit_stride, n_sm, capability, itemsize):
    """Choose the strategy for scanning the middle axis of an (n_outer, length, inner) tensor.

    Returns (kind, n_chunks, chunk, BLOCK_A, BLOCK_L, num_warps): kind is "rows" (inner == 1,
    BLOCK_A rows per program) or "cols" (BLOCK_A inner positions per program); each scan line is
    cut into n_chunks chunks of `chunk` positions, scanned by separate programs when the lines
    alone cannot fill `n_sm` multiprocessors. `unit_stride` says whether the input is contiguous
    along the scan axis, which decides whether a row tile can load along it; `itemsize` is the
    output's element size in bytes.
    """
    row_step, short_tile, col_tile, split_programs_per_sm = tile_settings(capability, itemsize)
    if inner == 1:
        kind = "rows"
        # Rows whose elements are strided (a transposed input) take a square tile: it reads along
        # the rows' neighbours and the compiler transposes it through shared memory to write rows.
        block_l = min(next_power_of_2(length), row_step if unit_stride else 64)
        block_a = min(max(1, short_tile // block_l), next_power_of_2(n_outer))
        lines = ceil_div(n_outer, block_a)
    else:
        kind = "cols"
        # Long columns amortise a program's start over more steps: they take wider tiles.
        block_a = min(next_power_of_2(inner), 128 if length >= 16384 else 64)
        block_l = min(max(64, col_tile // block_a), next_power_of_2(length))
        lines = n_outer * ceil_div(inner, block_a)
    # Four warps for long lines; tiles of short rows take one warp per 1024 elements.
    num_warps = 4 if kind == "cols" or block_a == 1 else max(1, min(4, block_a * block_l // 1024))
    n_chunks, chunk = split_lines(lines, length, block_l, n_sm, split_programs_per_sm)
    return kind, n_chunks, chunk, block_a, block_l, num_warps


def split_lines(lines, length, block_l, n_sm, programs_per_sm):
    """(n_chunks, chunk): how to cut each line of `length` so that `lines` of them fill `n_sm`
    multiprocessors. Only fewer lines than SMs are cut: one pass more over the input costs less
    than idle SMs."""
    n_chunks = 1
    if lines < n_sm and length > 2 * block_l:
        n_chunks = min(ceil_div(programs_per_sm * n_sm, lines), ceil_div(length, block_l), 65535)
    chunk = ceil_div(ceil_div(length, n_chunks), block_l) * block_l
    return ceil_div(length, chunk), chunk


def plan_backward(n_outer, length, inner, n_sm, capability, itemsize):
    """Tile sizes for the gradient of a scan over the middle axis of a contiguous (n_outer, length,
    inner) tensor: (n_chunks, chunk, BLOCK_I, BLOCK_L, num_warps). A program owns BLOCK_I inner
    positions (one line when inner == 1) and walks BLOCK_L positions of them a step."""
    _, _, col_tile, split_programs_per_sm = tile_settings(capability, itemsize)
    block_i = min(next_power_of_2(inner), 64)
    block_l = min(max(16, col_tile // 2 // block_i), next_power_of_2(length))
    lines = n_outer * ceil_div(inner, block_i)
    n_chunks, chunk = split_lines(lines, length, block_l, n_sm, split_programs_per_sm)
    return n_chunks, chunk, block_i, block_l, 4

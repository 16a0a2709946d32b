import triton


def tile_settings(capability):
    """Launch settings per GPU generation, measured with benchmarks/sweep.py: (longest row step,
    elements per tile of short rows, elements per column tile, programs per SM a split scan aims
    for). A row step of 8192 fp32 is 64 values a thread at 4 warps: it fits the register file of
    sm_89 (RTX 4090) as well as sm_90 (H200), and no tile uses more than 32 KB of shared memory."""
    if capability >= (9, 0):
        return 8192, 2048, 8192, 4
    return 8192, 2048, 8192, 4


def plan_scan(n_outer, length, inner, unit_stride, n_sm, capability):
    """Choose the strategy for scanning the middle axis of an (n_outer, length, inner) tensor.

    Returns (kind, n_chunks, chunk, BLOCK_A, BLOCK_L, num_warps): kind is "rows" (inner == 1,
    BLOCK_A rows per program) or "cols" (BLOCK_A inner positions per program); each scan line is
    cut into n_chunks chunks of `chunk` positions, scanned by separate programs when the lines
    alone cannot fill `n_sm` multiprocessors. `unit_stride` says whether the input is contiguous
    along the scan axis, which decides whether a row tile can load along it.
    """
    row_step, short_tile, col_tile, split_programs_per_sm = tile_settings(capability)
    if inner == 1:
        kind = "rows"
        # Rows whose elements are strided (a transposed input) take a square tile: it reads along
        # the rows' neighbours and the compiler transposes it through shared memory to write rows.
        block_l = min(triton.next_power_of_2(length), row_step if unit_stride else 64)
        block_a = min(max(1, short_tile // block_l), triton.next_power_of_2(n_outer))
        lines = triton.cdiv(n_outer, block_a)
    else:
        kind = "cols"
        block_a = min(triton.next_power_of_2(inner), 128)
        block_l = min(col_tile // block_a, triton.next_power_of_2(length))
        lines = n_outer * triton.cdiv(inner, block_a)
    num_warps = 4 if block_a * block_l > short_tile else max(1, block_a * block_l // 1024)
    n_chunks = 1
    if lines < n_sm and length > 2 * block_l:
        # Fewer lines than SMs: one pass more over the input costs less than idle SMs.
        n_chunks = min(triton.cdiv(split_programs_per_sm * n_sm, lines), triton.cdiv(length, block_l), 65535)
    chunk = triton.cdiv(triton.cdiv(length, n_chunks), block_l) * block_l
    n_chunks = triton.cdiv(length, chunk)
    return kind, n_chunks, chunk, block_a, block_l, num_warps

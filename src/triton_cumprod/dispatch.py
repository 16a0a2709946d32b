def ceil_div(a, b):
    # triton.cdiv and triton.next_power_of_2 cost microseconds a call on the host; these cost nothing.
    return -(-a // b)


def next_power_of_2(n):
    return 1 << max(n - 1, 0).bit_length()


def tile_settings(capability, itemsize):
    """Launch settings for a GPU generation and an element size, by name: row_step: longest step
    along a row, in elements; row_values: elements a thread holds of a one-row tile (sets its
    warps); short_tile: elements per tile of short rows, several rows a tile; cols, reverse_cols: a
    wide column tile, for forward and reverse scans, as (columns, bytes of a step, bytes of a step a
    thread holds (sets the warps), steps in flight); row_stages: a row walk's steps in flight (above
    1, Triton's pipeliner loads the next tiles through shared memory while one is scanned);
    split_programs_per_sm: programs a split scan aims for, per multiprocessor, where its tiles are
    not pipelined; split_staged_programs_per_sm: where they are (their stages hold shared memory: 2
    programs of fp64's 96 KB fit a multiprocessor); backward_split_programs_per_sm: the gradient's
    split; lookback_step, lookback_window, lookback_groups: the tile, the tiles a group and the
    groups a super-group of the single-pass scan of rows; lookback_cols_step, lookback_cols_window:
    the tile and the tiles a group where it scans a few columns side by side; lookback_inner: the
    most inner positions the single pass takes in one tile (a scan dim followed by a few);
    lookback_thread_bytes: bytes of a single pass's tile a thread (sets its warps); backward_step,
    backward_window: the tile and the tiles a group of the single-pass gradient; chain_tile:
    (columns, positions) of a tile of the column chain (one warp, a column a lane), taken where
    column lines put fewer than chain_below_warps_per_sm warps on each multiprocessor and the tiles
    of one depth hold at least chain_hop_bytes; chain_unaligned_tile: the chain's tile where the
    tile's rows do not start on 16 bytes (inner sizes that are not a multiple of a vector), taken
    where column lines put fewer than chain_unaligned_below_warps_per_sm warps on each
    multiprocessor; chain_few_unaligned_tile: the chain's tile where such rows' lines are few;
    transposed_tile: (elements, columns, warps) of a kernels/transposed.py tile:
    2048 elements 32 columns wide, on 4 warps; transposed_deep_tile: (columns, positions, warps) of
    a column tile over a transposed input (scanned along its contiguous dim) with 8-byte results,
    where 32-column tiles' lines put fewer than transposed_deep_below_warps_per_sm warps on each
    multiprocessor; backward_turned_tile: (elements, columns) of a gradient's column tile over an
    x contiguous along the scan (autograd.gradient_view), which Triton turns through shared
    memory: 1024 elements 32 wide, 80 registers a thread against 250 on 2048 64 wide (sm_90);
    backward_chain_tile: the gradient chain's tile; row_min_step: the narrowest row tile.

    transposed_tile, H100, 2026-12-07 (benchmarks/NOTES.md), 32 columns against 64: fp32 88 x 20 x
    208 x 75 dim 1 transposed 0.419 / 0.332, 555 x 189 x 145 dim 0 sliced 0.895 / 0.721; fp16 25 x
    26 x 480 x 713 dim 0 sliced on tiles of 4096 0.895 / 0.834 (16-bit keeps 2048: 4096 walked
    backwards takes 221-254 registers); 8-byte results, 2048 on 4 warps against 1024 on 2: fp64 5 x
    3115 x 190 x 41 dim 1 0.475 / 0.443, 387 x 207 x 5 x 114 dim 3 0.867 / 0.720. Three steps in
    flight won only on two 2-D layouts this kernel does not take.

    Deep tiles for transposed inputs (H100, 2026-12-07, benchmarks/NOTES.md), 8 x 128 on 2 warps
    against 32 x 32: fp64 13375 x 6072 dim 0 0.831 / 0.387, int32 -> int64 0.417 / 0.208. float32
    results ran faster on 16 x 256 (fp32 13376 x 6080 0.908 against the chain's 0.827) but multiply
    across the lanes in float32 there, 365 eps against torch's 91: they keep the chain and the 64 x
    32 tile. Branch 0f24baf's deep tiles in float64 lost to the chain on fp32 13376 x 6080 (0.775
    against 0.829), 8191 x 8193 (0.382 / 0.450) and 30001 x 2000 (0.260 / 0.326), and won on 125 x
    1072 x 117 dim 1 (0.534 / 0.419).

    Rows of 8 or fewer take tiles 16 positions wide for results of 4 bytes or less: narrower tiles
    load element by element and spill up to 5 KB a thread on sm_90 (fp32 6000000 x 3 0.275 of copy
    against 0.010, 4000000 x 8 0.995 against 0.651); 8-byte results run faster on tiles as narrow
    as the row (fp64 4000000 x 5 0.386 on 8 positions, 0.344 on 16; int32 -> int64 6000000 x 3
    0.137 on 4, 0.125 on 16: H100, 2026-12-07).

    Measured on sm_90 (H200) with benchmarks/sweep.py (see benchmarks/NOTES.md):
    - fp32 rows run best walked in as few steps as possible (up to 32768) at 128 values a thread;
      16-bit types at 2048-element steps of 4 warps; 8-byte types at 4096.
    - fp32 and 16-bit column tiles run best 64 columns wide on one warp, each lane owning two whole
      columns (kernels/cols.py: column_run), 64 rows a step, no stages: fp32 64 x 4096 x 1024 0.929
      (128 columns in three stages: 0.896), dim 0 of 32768^2 0.947 (0.935), 8 x 65536 x 4096 0.941
      (0.929), bf16 dim 0 of 32768^2 0.711 (0.533). fp64 keeps 128 columns, 32 rows a step, three
      steps in flight on two warps: dim 0 of 16384^2 0.952 (in runs: 0.865). Reverse scans keep
      that layout for every type (fp32 dim 0 of 32768^2 0.943; in runs, which a tile walked
      backwards holds whole in registers: 0.740 on a quarter of the tile).
    - 16-bit rows walked in several steps gain a little from three steps in flight (0.953, 0.946).
    - The single pass: 128 bytes of a tile a thread, groups of 128 tiles (16-bit and 8-byte
      types until 2026-12-07: 64) in super-groups of 8 groups: 1-D 2^28 fp32
      0.753-0.770, 16 x 2^24 0.770-0.783, bf16 0.637 (groups of 64 in super-groups of 64: 0.724,
      0.735, 0.640; groups of 32: 0.59; one chain of groups of 256: 0.660, 0.595). The gradient's
      chain: groups of 64 tiles of 2048 under the register cap (kernels/lookback.py:
      launch_resident): 1-D 2^28 0.748 (groups of 128: 0.739, 32: 0.378; 4096-element tiles in
      groups of 256, 128, 64: 0.714-0.717, 0.726, 0.728); exclusive / reverse / both 0.616 / 0.797
      / 0.748 (groups of 256: 0.589 / 0.751 / 0.731). Super-groups of 16 groups of 256: 0.492
      against 0.631 (before the cap).
    - The rows' single pass on an H100 (2026-12-07): 16-bit tiles of 8192 (read backwards: 4096,
      see plan_scan) in groups of 128 (fp16 1-D 54439559 0.748, bf16 183300540 0.741; tiles of
      4096 in groups of 64: 0.691, 0.684), 8-byte types in groups of 128 (fp64 47488622 0.853,
      int64 100000007 0.797; in groups of 64: 0.810, 0.779). A few columns keep theirs: bf16 4 x
      16777216 x 3 dim 1 on tiles of 8192 0.157, of 4096 0.185.
    The same values serve sm_89 (RTX 4090, the prompt's target) until measured there, with stages
    capped to its 100 KB of shared memory: 128 fp32 values a thread fit either register file. A
    generation that measures differently gets its own branch here.
    """
    row_step, row_values = {1: (2048, 16), 2: (2048, 16), 4: (32768, 128)}.get(itemsize, (4096, 32))
    if capability == (0, 0):
        # TRITON_INTERPRET=1 on the CPU, where a scan costs Python work per element of the tile.
        row_step = 2048
    # Column tiles: fp32 16 KB (64 columns by 64 rows) and 16-bit 8 KB on one warp, each lane two
    # whole columns; 8-byte types, and every reverse scan, 128 columns of 16 bytes a lane (16-bit:
    # 8 KB on one warp; the others 32 rows on a thread's 512 bytes, in three stages).
    reverse_cols = {1: (128, 8 * 1024, 256, 1), 2: (128, 8 * 1024, 256, 1), 8: (128, 32 * 1024, 512, 3)}.get(
        itemsize, (128, 16 * 1024, 512, 3))
    cols = {1: (64, 8 * 1024, 256, 1), 2: (64, 8 * 1024, 256, 1), 8: reverse_cols}.get(
        itemsize, (64, 16 * 1024, 512, 1))
    if capability < (9, 0):
        # sm_89 has 100 KB of shared memory a multiprocessor: at most 64 KB of stages per program.
        cols, reverse_cols = [(*tile[:3], min(tile[3], 64 * 1024 // tile[1])) for tile in (cols, reverse_cols)]
    return dict(row_step=row_step, row_values=row_values, short_tile=2048, cols=cols, reverse_cols=reverse_cols,
                row_stages=3 if itemsize <= 2 else 1,
                split_programs_per_sm=16, split_staged_programs_per_sm=4, backward_split_programs_per_sm=4,
                lookback_step=8192 if itemsize <= 2 else 4096, lookback_window=128, lookback_groups=8,
                lookback_cols_step=4096, lookback_cols_window=128 if itemsize == 4 else 64, lookback_inner=16,
                lookback_thread_bytes=128,
                backward_step=2048, backward_window=64, chain_tile=(32, 128), chain_unaligned_tile=(64, 64),
                chain_few_unaligned_tile=(32, 64), backward_chain_tile=(32, 32), chain_below_warps_per_sm=2,
                chain_unaligned_below_warps_per_sm=16, chain_hop_bytes=1 << 21, transposed_tile=(2048, 32, 4),
                backward_turned_tile=(1024, 32), row_min_step=16 if itemsize <= 4 else 1,
                transposed_deep_tile=(8, 128, 2),
                transposed_deep_below_warps_per_sm=8)


def plan_scan(n_outer, length, inner, unit_stride, n_sm, capability, itemsize, floating=False, exclusive=False,
              reverse=False, skew=0, scan_contiguous=False, x_itemsize=None, packed=True):
    """Choose the strategy for scanning the middle axis of an (n_outer, length, inner) tensor.

    Returns (kind, n_chunks, chunk, BLOCK_A, BLOCK_L, num_warps, num_stages): kind is "rows" (inner == 1,
    BLOCK_A rows per program) or "cols" (BLOCK_A inner positions per program); each scan line is
    cut into n_chunks chunks of `chunk` positions, scanned by separate programs when the lines
    alone cannot fill `n_sm` multiprocessors. `unit_stride` says whether the input is contiguous
    along the axis a tile loads along: the scan axis where inner == 1 (a row tile can load along
    it), else the inner one; `itemsize` is the output's element size in bytes, `x_itemsize` the
    input's (None: the same). Rows that would be cut take "lookback" instead where the kernels
    multiply in floating point (`floating`) or the input's elements are 8 bytes: one pass, n_chunks
    tiles of BLOCK_L a row, groups of BLOCK_A tiles, super-groups of `chunk` groups
    (kernels/lookback.py). Where they multiply in floating point, so do lines of up to
    `lookback_inner` contiguous inner positions, in tiles of BLOCK_L positions of all of them, and
    columns may take the chain. An `exclusive` scan (a pair
    scan) and a `reverse` one (read backwards, kernels/rows.py) take one-row steps of at most 8192
    at a quarter of the values a thread: on the prompt's shape 0.952 / 0.951 / 0.950 (exclusive /
    reverse / both) in steps of 8192 on 8 warps, against 0.907 / 0.911 / 0.897 in 16384 and 0.810
    for reverse in one 32768-element step (benchmarks/NOTES.md); the widest pair scans spill.
    Row tiles are laid on 16-byte vectors (kernels/rows.py): a tile of several rows covers `skew`
    positions more than a row (combine.line_skew); a row a program, and the single pass, take the
    elements before a row's first vector boundary and after its last apart. `scan_contiguous`: the
    input is contiguous along the scan axis, not along inner (a transposed input). `packed`: each
    scan position's inner positions follow the last one's in memory (the scan stride is inner).
    """
    settings = tile_settings(capability, itemsize)
    if exclusive or reverse:
        # 8-byte types in steps of 2048 on 4 warps: 4096 on 8 warps spills in the reverse split's
        # second pass on sm_90 (ptxas keeps 128 registers there).
        settings["row_step"] = min(settings["row_step"], 8192 if itemsize <= 4 else 2048)
        settings["row_values"] //= 4 if itemsize <= 4 else 2
        # A pair scan, or one read backwards, on half the chain's tile: 16-bit columns at 128
        # positions spill on sm_90.
        settings["chain_tile"] = (settings["chain_tile"][0], settings["chain_tile"][1] // 2)
    if inner == 1:
        kind = "rows"
        # Rows whose elements are strided (a transposed input) take a square tile: it reads along
        # the rows' neighbours and the compiler transposes it through shared memory to write rows.
        block_l, block_a = row_tile(n_outer, length, settings, unit_stride, settings["row_min_step"])
        if block_a > 1 and skew:
            wide_l, wide_a = row_tile(n_outer, length + skew, settings, unit_stride, settings["row_min_step"])
            block_l, block_a, span = (wide_l, wide_a, length + skew) if wide_a > 1 else (block_l, 1, length)
        else:
            span = length
        lines = ceil_div(n_outer, block_a)
        if block_a == 1:
            num_warps = min(8, max(1, block_l // (32 * settings["row_values"])))
        else:
            num_warps = short_tile_warps(block_a * block_l, itemsize)
        n_chunks, chunk = split_lines(lines, span, block_l, n_sm, split_programs(settings, settings["row_stages"]))
        # Tiles in flight pay off only where a program walks several steps.
        num_stages = settings["row_stages"] if chunk > block_l else 1
        # Integers from narrower inputs stay split: a tile of the single pass, sized by its 8-byte
        # results, loads too few bytes (int32 -> int64 1-D 145613435 0.43 against the split's 0.46,
        # int16 -> int64 3 x 33554431 0.19 against 0.31; int64 32 x 2^20 0.78 against 0.60; H100,
        # benchmarks/NOTES.md 2026-12-07).
        if unit_stride and n_chunks > 1 and (floating or (x_itemsize or itemsize) == 8):
            # 256 bytes of the tile a thread for a reverse scan (fp32 4096 on 4 warps 0.657, on 2
            # 0.674; forwards 0.727 and 0.680); float64 keeps 128 (at 256 ptxas spills on sm_89 and
            # sm_90).
            kind, num_stages = "lookback", 1
            thread_bytes = settings["lookback_thread_bytes"] * (2 if reverse and itemsize <= 4 else 1)
            if reverse:
                # 16-bit tiles of 8192 read backwards spill (16-20 bytes exclusive, sm_89 and sm_90):
                # they keep 4096.
                settings["lookback_step"] = min(settings["lookback_step"], 4096)
            n_chunks, block_l, block_a, chunk, num_warps = single_pass_plan(length, 1, settings, itemsize, thread_bytes)
    else:
        kind = "cols"
        width, wide_tile_bytes, wide_thread_bytes, stages = settings["reverse_cols" if reverse else "cols"]
        # `width` neighbouring columns a program: each thread then owns whole columns of the tile
        # and scans them in order, as torch does (narrower tiles scan across threads and lose
        # accuracy).
        block_a = min(next_power_of_2(inner), width)
        # Narrower tiles are scanned across threads anyway: one 32 KB step a time on 4 warps ((16M, 4)
        # dim 0: 0.19 on 2 warps, where ptxas spills 1.4 KB a thread; 16 KB in three stages on one
        # warp: 0.12).
        wide = block_a == width
        tile_bytes = wide_tile_bytes if wide else 16 * 1024
        # Lanes that own runs of columns whose rows start off 16 bytes load them an element at a time:
        # 16-bit tiles half as deep (at 64 rows 32-56 bytes of spill, fp16 25 x 26 x 480 x 713 dim 2
        # and 30 x 4000 x 501 dim 1 exclusive, sm_89 and sm_90).
        off_16_bytes = inner * min(itemsize, x_itemsize or itemsize) % 16
        held = element_bytes(itemsize, not (wide and not reverse and unit_stride and off_16_bytes))
        block_l = min(max(16, tile_bytes // (block_a * held)), max(64, 8192 // block_a), next_power_of_2(length))
        lines = tile_lines(n_outer, inner, block_a)
        n_chunks, chunk = split_lines(lines, length, block_l, n_sm, split_programs(settings, stages if wide else 1))
        # A few hundred bytes of the tile a thread: more warps only split the scan across them.
        thread_bytes = wide_thread_bytes if wide else 128
        num_warps = max(1, min(4, block_a * block_l * itemsize // (32 * thread_bytes)))
        # Tiles in flight pay off only where a program walks several steps of them: fp64 141 x 8 x 52
        # x 190 dim 2 (two steps a line) 0.740 in three stages, 0.962 in one (benchmarks/NOTES.md).
        num_stages = stages if wide and chunk >= 2 * stages * block_l else 1
        if floating and unit_stride and inner <= settings["lookback_inner"]:
            # A few columns side by side: the single pass, on tiles of all of them
            # (kernels/lookback.py: scan_lookback_cols_kernel), where lines of such tiles would be
            # cut ((16M, 4) dim 0 fp32 0.571, the split 0.239; bf16 8 columns 0.446, the split 0.112;
            # 4194304 x 16 dim 0 fp32 0.69, the split 0.44-0.58 on an H100, 2026-12-07).
            # Tiles that are not one packed run load an element at a time: 16-bit ones on fp32's
            # warps (on half, 80-556 bytes of spill a thread: bf16 4 x 16777216 x 3 dim 1, fp16
            # 116780 x 5 dim 0; sm_89 and sm_90).
            held = element_bytes(itemsize, dense_columns(inner, packed))
            plan = single_pass_plan(length, next_power_of_2(inner), settings, held)
            if split_lines(n_outer, length, plan[1], n_sm, settings["split_programs_per_sm"])[0] > 1:
                kind, num_stages = "lookback", 1
                n_chunks, block_l, block_a, chunk, num_warps = plan
        chain_i, chain_l = settings["chain_tile"]
        # A chain only where the tiles of one depth move many bytes: a hop costs a round trip to L2.
        heavy_hops = n_outer * inner * chain_l * itemsize >= settings["chain_hop_bytes"]
        line_warps = lines * num_warps
        few = line_warps < settings["chain_below_warps_per_sm"] * n_sm
        # Rows of the tile that do not start on 16 bytes (a contiguous input's inner size is their
        # stride) load a column a lane: a tile a program keeps more of them in flight, where the
        # lines' walks alone hold few warps a multiprocessor (32767 x 32767 dim 0: 512 lines, the
        # chain 0.821, the walk 0.622; 8 x 638 x 301 x 98 dim 2: 10208 lines, 0.450 and 0.719).
        unaligned = (unit_stride and inner * itemsize % 16 and inner >= settings["chain_unaligned_tile"][0]
                     and line_warps < settings["chain_unaligned_below_warps_per_sm"] * n_sm)
        # The chain passes float32 carries (kernels/lookback.py: pack_tagged).
        if floating and itemsize <= 4 and kind == "cols" and heavy_hops and (few or unaligned) and length > chain_l:
            # The single pass of a one-tile look-back (kernels/lookback.py: scan_chain_cols_kernel)
            # instead of a walk a line or a split that reads x twice.
            if unaligned and not few:
                chain_i, chain_l = settings["chain_unaligned_tile"]
            elif off_16_bytes:
                # Rows that start off 16 bytes load an element at a time and hold more registers:
                # half as deep (131071 x 8191 dim 0 at 128 spilled 124 bytes on sm_90, 312 on sm_89).
                chain_i, chain_l = settings["chain_few_unaligned_tile"]
            kind, n_chunks, chunk, block_a, block_l, num_warps, num_stages = (
                "chain", ceil_div(length, chain_l), chain_l, chain_i, chain_l, 1, 1)
        elif kind == "cols" and scan_contiguous and not unit_stride:
            # A transposed input: the tile loads along the scan and the compiler turns it through
            # shared memory to store along inner. Small tiles on 4 warps (8-byte results on 2)
            # beat the wide one-warp tiles 1.3-2.2x (benchmarks/NOTES.md, 2026-12-06); where their
            # lines hold few warps a multiprocessor, narrow deep tiles of 8-byte results hold more
            # bytes in more of them (tile_settings: transposed_deep_tile). Only lines that need no
            # split were measured on deep tiles.
            block_a, block_l, num_warps = (64, 32, 4) if itemsize <= 4 else (32, 32, 2)
            if (itemsize == 8
                    and tile_lines(n_outer, inner, min(block_a, next_power_of_2(inner))) * num_warps
                    < settings["transposed_deep_below_warps_per_sm"] * n_sm
                    and 2 * tile_lines(n_outer, inner, settings["transposed_deep_tile"][0]) > n_sm):
                block_a, block_l, num_warps = settings["transposed_deep_tile"]
            block_a, block_l = min(block_a, next_power_of_2(inner)), min(block_l, next_power_of_2(length))
            n_chunks, chunk = split_lines(tile_lines(n_outer, inner, block_a), length, block_l, n_sm,
                                          split_programs(settings, 1))
            num_stages = 1
    return kind, n_chunks, chunk, block_a, block_l, num_warps, num_stages


def turns_well(sizes, x_strides, y_strides, x_itemsize, y_itemsize):
    """Whether kernels/transposed.py should scan a layout.turned_view of these sizes and strides
    rather than a contiguous copy of x (which moves every element twice): where x's contiguous axis
    or the result's spans a 32-byte sector, so that its tiles load or store whole sectors. fp16 117
    x 47975 x 7 dim 2 transposed, whose result's axis spans 14 bytes: 0.343 of copy on an H100
    against 0.094 through the copy (benchmarks/NOTES.md, 2026-12-07); where neither axis spans a
    sector nothing was measured, and the copy stays."""
    x_axis, y_axis = (2 if x_strides[2] == 1 else 3), (2 if y_strides[2] == 1 else 3)
    return sizes[x_axis] * x_itemsize >= 32 or sizes[y_axis] * y_itemsize >= 32


def plan_transposed(lines, length, inner, n_sm, capability, itemsize):
    """(kind, n_chunks, chunk, BLOCK_I, BLOCK_L, num_warps, num_stages) of kernels/transposed.py over
    `lines` lines of `length` scan positions by `inner` positions, for `itemsize`-byte results: a
    tile of transposed_tile's elements, BLOCK_I of inner wide (narrower where inner is), on its
    warps; lines too few to fill the GPU are cut as plan_scan cuts them."""
    settings = tile_settings(capability, itemsize)
    elements, width, num_warps = settings["transposed_tile"]
    block_i = min(width, next_power_of_2(inner))
    block_l = min(elements // block_i, next_power_of_2(length))
    n_chunks, chunk = split_lines(tile_lines(lines, inner, block_i), length, block_l, n_sm, split_programs(settings, 1))
    return "transposed", n_chunks, chunk, block_i, block_l, num_warps, 1


def tile_lines(n_outer, inner, block_a):
    """Lines of tiles side by side: tiles of BLOCK_A rows where inner == 1, else of BLOCK_A inner
    positions of each outer index."""
    return ceil_div(n_outer, block_a) if inner == 1 else n_outer * ceil_div(inner, block_a)


def row_tile(n_rows, length, settings, unit_stride, min_step):
    """(BLOCK_L, BLOCK_R) of a row tile over rows of `length`: a step of up to row_step (64 where the
    rows are strided) and at least `min_step`, shortened while it would pad the row by more than a
    quarter (masked lanes still compute), and as many rows as fill a short tile."""
    block_l = min(max(min_step, next_power_of_2(length)), settings["row_step"] if unit_stride else 64)
    while block_l > settings["short_tile"] and 4 * (ceil_div(length, block_l) * block_l - length) > length:
        block_l //= 2
    return block_l, min(max(1, settings["short_tile"] // block_l), next_power_of_2(n_rows))


def takes_flat(n_rows, length):
    """Whether contiguous rows of `length` (n_rows of them) take kernels/flat.py: rows shorter than
    16, which tiles of rows hold in tiles 16 wide (a lane in 2-8 idle), for every scan, exclusive
    and reverse too: fp32 6000000 x 3 1.04 of copy against 0.28, fp64 4000000 x 5 1.02 against
    0.39, int32 -> int64 rows of 10 0.68 against 0.35 (H100, benchmarks/NOTES.md 2026-12-07); rows
    of 16 fill such tiles (fp32 2000000 x 16: 0.99 either way)."""
    return 2 <= length < 16 and n_rows >= 2


def plan_flat(n_rows, length, capability, itemsize, backward=False):
    """The plan of kernels/flat.py for contiguous rows of `length` (n_rows of them, takes_flat) with
    results of `itemsize` bytes: ("flat", 1, length, 1, BLOCK, num_warps, 1), BLOCK elements of the
    flat array a program; `backward`, for their gradient."""
    block = tile_settings(capability, itemsize)["short_tile"]
    if backward:
        # The gradient holds about ten values of each position live: a 16-byte vector a thread, at
        # least 4 values (fp32 rows of 3 on 16 warps: 54 registers, 197 on 2; fp64: 100, 168 on 8;
        # sm_90, no spill). H100, 2026-12-07, of two copies: fp32 2194971 x 9 0.689 on 16 warps,
        # 0.312 on 8; fp16 2955 x 3 x 723 x 7 0.525 on 8, 0.366 on 16 (half a vector a thread).
        num_warps = block // (32 * max(4, 16 // max(itemsize, 2)))
    else:
        num_warps = short_tile_warps(block, itemsize)
    return "flat", 1, length, 1, block, num_warps, 1


def short_tile_warps(elements, itemsize):
    """Warps of a tile of several short rows: 128 bytes of it a thread (32 values of up to 4 bytes,
    16 of 8), on at most 4 warps. At 32 values of 8 bytes a thread they spilled on sm_90:
    int32 -> int64 rows of 10 (128 x 16 on 2 warps: 255 registers, 856 bytes of spill; 0.146 of copy
    on an H100), float64 rows of 15 (448), their gradient (840), float64 rows of 32's gradient (508)."""
    return max(1, min(4, elements * max(itemsize, 4) // 4096))


def element_bytes(itemsize, whole_vectors):
    """Register bytes a tile's element of `itemsize` bytes holds: its size where loads read whole
    vectors, else at least 4, since an element loaded alone takes a 32-bit register of its own.
    Tiles sized by it hold as many registers whatever the type (benchmarks/NOTES.md, 2026-12-08)."""
    return itemsize if whole_vectors else max(itemsize, 4)


def dense_columns(inner, packed):
    """Whether a single-pass tile of `inner` columns (kernels/lookback.py: scan_lookback_cols_kernel's
    DENSE) is one packed run of whole vectors: `inner` a power of two, and the scan stride inner
    (`packed`)."""
    return packed and inner == next_power_of_2(inner)


def single_pass_plan(length, width, settings, itemsize, thread_bytes=None):
    """(tiles, BLOCK_L, WINDOW, GROUPS, num_warps) of the single pass (kernels/lookback.py) over
    lines of `length` positions by `width` columns (1 for rows), with tile_settings' `settings`: a
    tile of lookback_step elements, `thread_bytes` of it a thread (registers bound how many tiles a
    multiprocessor holds: fp32 4096 on 4 warps 0.727, on 2 0.680; bf16 on 2 0.636, on 4 0.530).
    Groups of lookback_window tiles shrink with the columns, to a quarter of it at least ((16M, 4)
    dim 0 fp32 at 32 tiles a group 0.571; bf16 8 columns at 16 0.446, at 8 0.356)."""
    step, window = (settings["lookback_step"], settings["lookback_window"]) if width == 1 else (
        settings["lookback_cols_step"], settings["lookback_cols_window"])
    n_tiles, block_l, window, groups = lookback_tiles(length, step // width, window // min(width, 4),
                                                      settings["lookback_groups"])
    thread_bytes = thread_bytes or settings["lookback_thread_bytes"]
    return n_tiles, block_l, window, groups, max(1, block_l * width * itemsize // (32 * thread_bytes))


def register_cap(registers, threads, regs_per_sm=65536, threads_per_sm=2048):
    """The registers a thread (maxnreg) at which one more program of `threads` threads fits on a
    multiprocessor than at `registers` (which the hardware allocates in units of 8), or None where
    the multiprocessor's threads allow no more programs. A single pass holds each tile in registers
    while it waits for the tiles before it, so the programs resident bound how much latency it
    hides: fp32 1-D 2^28 0.767 at 7 programs of 72 registers, 0.793 at 8 of 64 (9 of 56: 0.776);
    its gradient 0.647 at 3 programs of 145, 0.720 at 4 of 128 (5 of 112, spilling: 0.656)."""
    used = ceil_div(registers, 8) * 8
    programs = min(regs_per_sm // (used * threads), threads_per_sm // threads)
    if (programs + 1) * threads > threads_per_sm:
        return None
    return regs_per_sm // ((programs + 1) * threads) // 8 * 8


def lookback_tiles(length, step, window, groups=1):
    """(tiles, BLOCK_L, WINDOW, GROUPS): a single pass's tiles of `step` elements over a row of
    `length`, in groups of up to `window` tiles and super-groups of up to `groups` groups."""
    n_tiles = ceil_div(length, step)
    window = min(window, next_power_of_2(n_tiles))
    return n_tiles, step, window, min(groups, next_power_of_2(ceil_div(n_tiles, window)))


def split_programs(settings, stages):
    """Programs a split scan aims for on each multiprocessor, for tiles of `stages` steps in flight:
    programs of one warp or two need many to fill one (split lines of bf16 9411 x 3928 dim 0, 4
    programs 0.141, 16 0.295; rows of int64 (32, 2^20) 0.450, 0.539), but pipelined stages bound the
    programs resident by shared memory (fp64 7248 x 2941 dim 0: 0.347, 0.238). H200, 2026-12-06,
    benchmarks/NOTES.md."""
    return settings["split_programs_per_sm" if stages == 1 else "split_staged_programs_per_sm"]


def split_lines(lines, length, block_l, n_sm, programs_per_sm):
    """(n_chunks, chunk): how to cut each line of `length` so that `lines` of them fill `n_sm`
    multiprocessors. Only lines that fill at most half the SMs are cut: a program per SM nearly
    saturates memory, and a split reads the input twice."""
    n_chunks = 1
    if 2 * lines <= n_sm and length > 2 * block_l:
        n_chunks = min(ceil_div(programs_per_sm * n_sm, lines), ceil_div(length, block_l), 65535)
    chunk = ceil_div(ceil_div(length, n_chunks), block_l) * block_l
    return ceil_div(length, chunk), chunk


def plan_backward(n_outer, length, inner, n_sm, capability, itemsize, exclusive=False, reverse=False,
                  x_along_inner=True):
    """Tile sizes for the gradient of a scan over the middle axis of a contiguous (n_outer, length,
    inner) tensor: (kind, n_chunks, chunk, BLOCK_A, BLOCK_L, num_warps), read as plan_scan's. Short
    rows take plan_flat's "flat" plan. A "rows" program owns BLOCK_A rows, a "line" program one
    row (rows of a tile or more), a "cols" program BLOCK_A inner positions; all walk BLOCK_L
    positions a step. Rows that would be cut in chunks and whose gradient is computed in float32
    (an output of 4 bytes or less: fp32, fp16, bf16) take "lookback" instead: one pass, n_chunks
    tiles of BLOCK_L a row, groups of BLOCK_A tiles (kernels/backward.py:
    backward_lookback_kernel). `exclusive` and `reverse` name the scan whose gradient it is. Not
    `x_along_inner`, x is contiguous along the scan, not along inner (a turned input,
    autograd.gradient_view), and its column tiles are backward_turned_tile's, across the lanes."""
    if inner == 1 and takes_flat(n_outer, length):
        return plan_flat(n_outer, length, capability, itemsize, backward=True)
    settings = tile_settings(capability, itemsize)
    short_tile, split_programs_per_sm = settings["short_tile"], settings["backward_split_programs_per_sm"]
    if inner == 1 and next_power_of_2(length) < short_tile:
        kind = "rows"
        # The gradient keeps five tiles live (x, g and the scan's three): short_tile (2048) elements
        # a program, as the forward's tiles of several rows, but at least 16 positions wide for
        # every type (fp16 rows of 7 0.346 of two copies on tiles of 16, 0.039 on tiles of 8; fp64
        # rows of 5 0.335 and 0.276: H100, benchmarks/NOTES.md 2026-12-07).
        block_l, block_a = row_tile(n_outer, length, settings, True, 16)
        num_warps = short_tile_warps(block_a * block_l, itemsize)
        lines = ceil_div(n_outer, block_a)
    elif inner == 1:
        # One row a program, steps of half a short tile, 16 values a thread (32 for 16-bit types):
        # the prompt's shape 1.13 of two copies, exclusive / reverse / both 1.02 / 1.13 / 1.09 (2048
        # on 2 warps: 0.93, 1.05, 1.11, 1.04; the rows kernel, two rows of 1024: 0.88); bf16 0.91
        # (2048 on 2: 0.76); fp64 16384^2 0.73 (2048 on 4: 0.67).
        kind, block_a, block_l = "line", 1, short_tile // 2
        num_warps = max(1, block_l // (32 * (32 if itemsize <= 2 else 16)))
        lines = n_outer
    else:
        kind = "cols"
        elements, width = (2048, 64) if x_along_inner else settings["backward_turned_tile"]
        block_a = min(next_power_of_2(inner), width)
        block_l = min(max(16, elements // block_a), next_power_of_2(length))
        num_warps = 4
        lines = n_outer * ceil_div(inner, block_a)
    n_chunks, chunk = split_lines(lines, length, block_l, n_sm, split_programs_per_sm)
    if kind == "cols" and block_a == 64 and itemsize <= 2 and n_chunks == 1 and x_along_inner:
        # 16-bit columns that fill the GPU: one warp, each lane two whole columns (the forward's
        # layout, kernels/cols.py: column_run), 8 rows a step and four steps in flight (bf16 dim 0
        # of 32768^2: 0.646 against 0.468 on 4 warps; fp16 0.66 against 0.47). fp32 keeps the tile
        # across threads: in this layout (its recurrence in float64) it ran 0.686 against 0.857; so
        # do split lines ((1M, 64) fp32 in this layout: 0.255 against 0.446).
        block_l, num_warps = min(8, block_l), 1
    chain_i, chain_l = settings["backward_chain_tile"]
    # A depth of the gradient's tiles moves four tensors (x, g and y in, gx out).
    hop_bytes = 4 * n_outer * inner * chain_l * itemsize
    if (kind == "cols" and itemsize <= 4 and lines < settings["chain_below_warps_per_sm"] * n_sm
            and length > chain_l and hop_bytes >= settings["chain_hop_bytes"]):
        # Lines of columns too few to fill the GPU: the forward's chain (kernels/backward.py:
        # backward_chain_cols_kernel), one warp a tile of a column a lane, 32 x 32: its product
        # of x in float64 spills 104 bytes at 64 deep (sm_90), and 32 x 32 ran as fast or faster
        # but on 65536 x 4096 dim 0 (0.785 of two copies against 0.917; H100, benchmarks/NOTES.md
        # 2026-12-08).
        return "chain", ceil_div(length, chain_l), chain_l, chain_i, chain_l, 1
    if kind == "line" and n_chunks > 1 and itemsize <= 4:
        # Half the forward's look-back tiles, in groups of their own; 32 values a thread: 2048 on
        # 2 warps (1-D 2^28 under the register cap, groups of 64: plain 0.748, on 4096 0.728;
        # before the cap, exclusive 0.605, reverse 0.628, both 0.616, on 4096 0.503, 0.607, 0.604).
        n_tiles, block_l, window, _ = lookback_tiles(length, settings["backward_step"],
                                                     settings["backward_window"])
        return "lookback", n_tiles, block_l, window, block_l, max(1, block_l // (32 * 32))
    return kind, n_chunks, chunk, block_a, block_l, num_warps

"""How much of each layout's time is the host's: the sweep's layouts (bench --sweep N --seed S) whose
copy moves at least MIN_MB, each timed eagerly and as a CUDA graph replay of the same call (the GPU's
time alone), with the host microseconds a call spends issuing its launches.

    python3 benchmarks/graph_gap.py [N] [SEED] [--backward]

Prints per layout: the plan (kind, chunks), the ratio to x.clone() eager and in a graph, and host us.
Where the graph's ratio is well above the eager one, the host path, not the kernels, is what to fix.
"""
import sys
import time

import torch

from triton_cumprod import cumprod
from triton_cumprod.bench import backward_of, draw_sweep, sweep_input

from plan_diff import plan_of
from probe import time_ms

MIN_MB = 64


def plan_label(x, dim):
    plan = plan_of(x, dim)
    return plan[0] if len(plan) == 1 else f"{plan[0]} x{plan[1]}"


def graph_of(fn):
    stream = torch.cuda.Stream()
    stream.wait_stream(torch.cuda.current_stream())
    with torch.cuda.stream(stream):
        for _ in range(3):
            fn()
    torch.cuda.current_stream().wait_stream(stream)
    graph = torch.cuda.CUDAGraph()
    with torch.cuda.graph(graph):
        fn()
    return graph


def host_us(fn, calls=50):
    """Microseconds the host takes to issue a call: the clock stops before the synchronisation,
    unlike bench.host_us_per_call's, which times whole calls of tensors too small to wait on."""
    fn()
    torch.cuda.synchronize()
    start = time.perf_counter()
    for _ in range(calls):
        fn()
    host = (time.perf_counter() - start) / calls * 1e6
    torch.cuda.synchronize()
    return host


def main():
    args = [a for a in sys.argv[1:] if not a.startswith("--")]
    backward = "--backward" in sys.argv
    n, seed = (int(args[0]), int(args[1])) if args else (200, 0)
    copies = 2 if backward else 1  # a gradient is timed against two copies
    for case in draw_sweep(n, seed, backward):
        x = sweep_input(case, "cuda")
        if 2 * x.numel() * x.element_size() < MIN_MB << 20:
            continue
        fn = backward_of(cumprod, x, case.dim)[0] if backward else (lambda: cumprod(x, case.dim))
        t_copy = time_ms(lambda: x.clone())
        t_eager = time_ms(fn)
        try:
            graph = graph_of(fn)
            t_graph = f"{copies * t_copy / time_ms(graph.replay):.3f}"
            del graph
        except Exception as error:  # a call that cannot be captured says so and the sweep goes on
            t_graph = type(error).__name__
        print(f"{str(case.shape):28} dim {case.dim} {case.dtype:9} {case.view:10} {plan_label(x, case.dim):14} "
              f"copy {t_copy * 1e3:7.1f} us  eager {copies * t_copy / t_eager:.3f}  graph {t_graph}  "
              f"host {host_us(fn):6.1f} us", flush=True)
        del x, fn
        torch.cuda.empty_cache()


if __name__ == "__main__":
    main()

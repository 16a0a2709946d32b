"""What every probe in benchmarks/ times with and feeds its kernels. It imports only torch and
triton, so that a probe may run against an earlier commit's src (benchmarks/ab.py)."""
import torch
import triton


def time_ms(fn, rep=100):
    return triton.testing.do_bench(fn, warmup=25, rep=rep, return_mode="median")


def make_probe_input(shape, dtype):
    """Factors within 1e-3 of one (the regime where the scan's order shows in its error), or small
    integers (bench.make_input's)."""
    if dtype.is_floating_point:
        return (1 + (torch.rand(shape, device="cuda") - 0.5) * 1e-3).to(dtype)
    return torch.randint(-3, 4, shape, device="cuda", dtype=dtype)

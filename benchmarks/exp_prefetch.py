import itertools, torch, triton, triton.language as tl
from triton_cumprod.kernels.combine import mul_combine
from triton_cumprod.forward import launch_scan
from triton_cumprod.layout import scan_view

@triton.jit
def rows_prefetch(x_ptr, y_ptr, n_rows, length, stride_xr, BLOCK_L: tl.constexpr):
    row = tl.program_id(0).to(tl.int64)
    x_row = x_ptr + row * stride_xr
    y_row = y_ptr + row * length
    carry = tl.full([1], 1, tl.float32)
    offs = tl.arange(0, BLOCK_L)
    nxt = tl.load(x_row + offs, mask=offs < length, other=1)
    for col in range(0, length, BLOCK_L):
        cols = col + offs
        x = nxt
        nxt = tl.load(x_row + cols + BLOCK_L, mask=cols + BLOCK_L < length, other=1)
        x = tl.where(offs == 0, x * carry, x)
        tl.store(y_row + cols, tl.associative_scan(x, 0, mul_combine), mask=cols < length)
        carry = tl.reduce(x, 0, mul_combine, keep_dims=True)

def t(fn): return triton.testing.do_bench(fn, warmup=25, rep=100, return_mode="median")
x = 1 + (torch.rand((32768, 32768), device="cuda") - 0.5) * 1e-3
y = torch.empty_like(x)
tc = t(lambda: x.clone())
ref = torch.cumprod(x[:4].double(), 1)
print("torch.cumprod ratio", tc / t(lambda: torch.cumprod(x, 1)), flush=True)
for bl, w in itertools.product([2048, 4096, 8192], [4, 8]):
    f = lambda: rows_prefetch[(32768,)](x, y, 32768, 32768, 32768, BLOCK_L=bl, num_warps=w)
    f(); err = ((y[:4].double() - ref).abs() / ref.abs()).max().item()
    print("prefetch", bl, w, f"ratio {tc / t(f):.3f} err {err:.2e}", flush=True)
for st in [1, 2, 3, 4]:
    x3, n_outer, length, inner, strides = scan_view(x, 1)
    for bl, w in [(8192, 4), (4096, 4), (2048, 4)]:
        plan = ("rows", 1, 1 << 40, 1, bl, w)
        from triton_cumprod.kernels.rows import scan_rows_kernel
        f = lambda: scan_rows_kernel[(32768, 1)](x, y, y, 32768, 32768, 1 << 40, 32768, 1, OUT=tl.float32, ACC=tl.float32, BLOCK_R=1, BLOCK_L=bl, REDUCE=False, HAS_PREFIX=False, num_warps=w, num_stages=st)
        print("stages", st, bl, w, f"ratio {tc / t(f):.3f}", flush=True)
del x, y
for shape, dim in [((32768, 32768), 0), ((64, 4096, 1024), 1)]:
    x = 1 + (torch.rand(shape, device="cuda") - 0.5) * 1e-3
    y = torch.empty_like(x)
    tc = t(lambda: x.clone())
    print(shape, dim, "torch.cumprod ratio", tc / t(lambda: torch.cumprod(x, dim)), flush=True)
    x3, n_outer, length, inner, strides = scan_view(x, dim)
    for bi, bl, w in itertools.product([128, 256, 512], [16, 32, 64], [1, 2, 4]):
        plan = ("cols", 1, 1 << 40, bi, bl, w)
        f = lambda: launch_scan(x3, y, None, n_outer, length, inner, strides, torch.float32, plan, False)
        try:
            f(); print("  ", plan[3:], f"ratio {tc / t(f):.3f}", flush=True)
        except Exception as e: print("  ", plan[3:], "failed", type(e).__name__)
    del x, y

"""ops.py: the custom ops pass torch.library.opcheck, and torch.compile(fullgraph=True) traces
triton_cumprod.cumprod (forward and backward) without a graph break."""
import pytest
import torch

from reference import near_one
from triton_cumprod import cumprod


def compile_backend(device):
    # On the CPU, aot_eager: it traces exactly as inductor does but needs no C++ compiler.
    return "inductor" if device == "cuda" else "aot_eager"


@pytest.mark.parametrize("shape,dim,dtype", [((3, 40), 1, torch.float32), ((40, 3), 0, torch.float64),
                                             ((2, 5, 7), -2, torch.float16), ((6,), 0, torch.float32)])
def test_opcheck(shape, dim, dtype, device):
    x = near_one(shape, device=device, seed=1).to(dtype)
    torch.library.opcheck(torch.ops.triton_cumprod.cumprod.default, (x, dim, dtype))
    torch.library.opcheck(torch.ops.triton_cumprod.cumprod.default, (x.clone().requires_grad_(), dim, dtype))
    y = torch.cumprod(x, dim)
    torch.library.opcheck(torch.ops.triton_cumprod.cumprod_backward.default, (x, y, torch.ones_like(y), dim, dtype))


def test_compiles_without_graph_break(device):
    def model(x):
        return cumprod(x * 2, 1).sum(0) + 1

    x = near_one((4, 50), device=device, seed=2)
    compiled = torch.compile(model, fullgraph=True, backend=compile_backend(device))
    torch.testing.assert_close(compiled(x), model(x), rtol=1e-6, atol=0)


def test_compiled_gradient(device):
    def loss(x):
        return (cumprod(x, 1) * torch.arange(30, device=x.device)).sum()

    x = near_one((3, 30), dtype=torch.float64, device=device, seed=3)
    eager = x.clone().requires_grad_()
    loss(eager).backward()
    traced = x.clone().requires_grad_()
    torch.compile(loss, fullgraph=True, backend=compile_backend(device))(traced).backward()
    torch.testing.assert_close(traced.grad, eager.grad, rtol=1e-12, atol=0)


def test_compiles_with_dynamic_shapes(device):
    compiled = torch.compile(lambda x: cumprod(x, -1), fullgraph=True, dynamic=True, backend=compile_backend(device))
    for length in (17, 33):
        x = near_one((2, length), device=device, seed=length)
        torch.testing.assert_close(compiled(x), cumprod(x, -1), rtol=0, atol=0)


def test_traced_graph_calls_the_op(device):
    graphs = []

    def record(gm, example_inputs):
        graphs.append(gm.code)
        return gm

    x = near_one((4, 50), device=device, seed=4)
    torch.compile(lambda t: cumprod(t, 1), fullgraph=True, backend=record)(x)
    assert len(graphs) == 1 and "triton_cumprod.cumprod" in graphs[0]

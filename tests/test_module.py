"""module.py: CumProd as a layer."""
import torch

from reference import assert_identical, near_one
from triton_cumprod import CumProd, cumprod


def test_forward_is_cumprod(device):
    x = near_one((3, 5, 7), device=device, seed=1)
    assert_identical(CumProd(1)(x), cumprod(x, 1))
    assert_identical(CumProd(-1, dtype=torch.float64)(x), cumprod(x, -1, dtype=torch.float64))


def test_in_a_model_with_gradients(device):
    model = torch.nn.Sequential(torch.nn.Linear(6, 6, dtype=torch.float64), CumProd(1)).to(device)
    x = near_one((4, 6), dtype=torch.float64, device=device, seed=2)
    model(x).sum().backward()
    weight = model[0].weight
    expected = torch.autograd.grad(torch.cumprod(model[0](x), 1).sum(), weight)[0]
    torch.testing.assert_close(weight.grad, expected, rtol=1e-10, atol=1e-12)


def test_holds_no_state():
    layer = CumProd(0, dtype=torch.float16)
    assert layer.state_dict() == {} and list(layer.parameters()) == []
    assert repr(layer) == "CumProd(dim=0, dtype=torch.float16)"

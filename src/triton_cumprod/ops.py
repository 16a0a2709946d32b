"""The kernels as torch.library custom ops, triton_cumprod::cumprod and its backward: torch.compile
traces them without a graph break (their fake implementations give the output's shape, dtype and
strides), and autograd differentiates the forward with the Triton backward."""
import torch

from .autograd import cumprod_backward
from .forward import cumprod_forward


@torch.library.custom_op("triton_cumprod::cumprod", mutates_args=())
def cumprod_op(input: torch.Tensor, dim: int, dtype: torch.dtype, exclusive: bool = False,
               reverse: bool = False) -> torch.Tensor:
    """torch.cumprod(input, dim, dtype=dtype) by the kernels; `dtype` is already the result dtype;
    `exclusive` and `reverse` as in api.cumprod."""
    return cumprod_forward(input, dim, dtype, exclusive=exclusive, reverse=reverse)


@cumprod_op.register_fake
def _(input, dim, dtype, exclusive=False, reverse=False):
    return input.new_empty(input.shape, dtype=dtype)


@torch.library.custom_op("triton_cumprod::cumprod_backward", mutates_args=())
def cumprod_backward_op(input: torch.Tensor, output: torch.Tensor, grad: torch.Tensor, dim: int,
                        dtype: torch.dtype, exclusive: bool = False, reverse: bool = False) -> torch.Tensor:
    """The gradient of output = cumprod(input, dim, dtype=dtype, exclusive=..., reverse=...) for the
    output gradient `grad`."""
    return cumprod_backward(input, output, grad, dim, dtype, exclusive, reverse)


@cumprod_backward_op.register_fake
def _(input, output, grad, dim, dtype, exclusive=False, reverse=False):
    return input.new_empty(input.shape)


def setup_context(ctx, inputs, output):
    input, dim, dtype, exclusive, reverse = inputs
    ctx.save_for_backward(input, output)
    ctx.dim, ctx.dtype, ctx.exclusive, ctx.reverse = dim, dtype, exclusive, reverse


def backward(ctx, grad):
    if torch.is_grad_enabled():
        raise RuntimeError(
            "triton_cumprod.cumprod has no double backward (its backward ran with create_graph=True); "
            "use torch.cumprod where higher-order gradients are needed")
    input, output = ctx.saved_tensors
    grad_input = cumprod_backward_op(input, output, grad, ctx.dim, ctx.dtype, ctx.exclusive, ctx.reverse)
    return grad_input, None, None, None, None


cumprod_op.register_autograd(backward, setup_context=setup_context)

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
    if not (exclusive or reverse):
        return cumprod_backward(input, output, grad, dim, dtype)
    return scan_backward(input, output, grad, dim, dtype, exclusive, reverse)


@cumprod_backward_op.register_fake
def _(input, output, grad, dim, dtype, exclusive=False, reverse=False):
    return input.new_empty(input.shape)


def scan_backward(input, output, grad, dim, dtype, exclusive, reverse):
    """The exclusive and reverse scans' gradients from the plain one, through copies. A reverse scan
    is the plain scan of the flipped line. An exclusive output is the inclusive one shifted by one,
    so its gradient is the inclusive gradient for the output gradient shifted back, with the
    inclusive output at j (the exclusive one at j + 1), which is all the plain backward reads."""
    if input.dim() == 0:
        return scan_backward(input.reshape(1), output.reshape(1), grad.reshape(1), 0, dtype, exclusive,
                             reverse).reshape(())
    if reverse:
        input, output, grad = input.flip(dim), output.flip(dim), grad.flip(dim)
    if exclusive:
        output, grad = shift(output, dim, 1, -1), shift(grad, dim, 0, -1)
    grad_input = cumprod_backward(input, output, grad, dim, dtype)
    return grad_input.flip(dim) if reverse else grad_input


def shift(t, dim, fill, step):
    """`t` moved one place along `dim`: t[j - 1] at j for step 1, t[j + 1] at j for step -1, and
    `fill` at the end nothing moves into."""
    n = t.shape[dim]
    if n == 0:
        return t
    edge = torch.full_like(t.narrow(dim, 0, 1), fill)
    if step > 0:
        return torch.cat([edge, t.narrow(dim, 0, n - 1)], dim)
    return torch.cat([t.narrow(dim, 1, n - 1), edge], dim)


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

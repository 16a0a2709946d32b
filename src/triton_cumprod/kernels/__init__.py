"""Triton kernels, one module per family. Each module holds only imports and functions, so that
`triton_cumprod.kernelbench` can copy them verbatim into the single-file KernelBench answer."""

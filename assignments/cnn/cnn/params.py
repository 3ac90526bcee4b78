"""Counting learnable parameters: a fully connected layer against a convolution layer."""


def dense_params(in_features: int, out_features: int, bias: bool = True) -> int:
    """Number of parameters of a fully connected layer (weights, plus one bias per output).

    The lecture's scenario: a 32x32 RGB image into 128 hidden units,
    dense_params(32*32*3, 128) == 393_344.
    """
    raise NotImplementedError("one weight per (input, output) pair, plus one bias per output")


def conv2d_params(
    in_channels: int, out_channels: int, kernel_size: int | tuple[int, int], bias: bool = True
) -> int:
    """Number of parameters of a 2-D convolution layer (filters, plus one bias per filter).

    kernel_size is (kh, kw), or an int k meaning (k, k). The lecture's scenario: 32 filters
    of 3x3 over an RGB image, conv2d_params(3, 32, 3) == 896. It does not depend on the
    image's size: the filters are shared over all positions.
    """
    raise NotImplementedError("each filter has in_channels*kh*kw weights; one bias per filter")

"""Device placement of the MMD kernels, checked on the ``meta`` device (a stand-in for CUDA here:
a tensor created on the CPU and mixed with a ``meta`` one raises, as it would with a GPU one)."""

import torch

from dalib.alignment.mmd import GaussianKernels


# Kills: the diagonal mask of the Gram matrix created on the default (CPU) device instead of the
# input's (a CUDA run would fail with "expected the same device").
def test_gram_follows_the_input_device():
    z = torch.empty(6, 3, device="meta")
    k = GaussianKernels().gram(z)
    assert k.device.type == "meta" and k.shape == (6, 6)
    assert GaussianKernels(sigma2=1.0).gram(z).device.type == "meta"

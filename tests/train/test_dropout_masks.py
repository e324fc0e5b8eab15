"""`keep_mask`, the dropout masks of vectorised runs: the draws of ``bernoulli_``, bit for bit."""

from __future__ import annotations

import pytest
import torch

from dalib.train.run_dropout import bernoulli_is_uniform_below, keep_mask


def _bernoulli(shape: tuple[int, ...], keep: float, gen: torch.Generator) -> torch.Tensor:
    return torch.empty(shape).bernoulli_(keep, generator=gen).div_(keep)


def _same_draws(shapes: list[tuple[int, ...]], keep: float) -> None:
    fast, slow = torch.Generator().manual_seed(11), torch.Generator().manual_seed(11)
    for shape in shapes:
        mask = keep_mask(shape, keep, fast)
        assert mask.dtype == torch.float32 and mask.shape == shape
        assert torch.equal(mask, _bernoulli(shape, keep, slow))
    assert torch.equal(fast.get_state(), slow.get_state())


@pytest.mark.parametrize("keep", [0.5, 0.7, 0.1])
def test_keep_mask_is_bernoulli_bit_for_bit_and_leaves_the_generator_where_bernoulli_does(keep: float) -> None:
    """Kills: a float32 uniform (another stream), the scale 1/keep
    missing or applied as keep, another number of draws (the generator state after)."""
    assert bernoulli_is_uniform_below()  # torch 2.14: the fast path is the one taken
    _same_draws([(64, 256), (7, 3), (1,), (5, 2, 4)], keep)


def test_keep_mask_falls_back_to_bernoulli_where_torch_draws_otherwise(monkeypatch: pytest.MonkeyPatch) -> None:
    """A torch whose ``rand`` stream is not ``bernoulli_``'s (simulated: ``rand`` in float32) is
    detected, and the masks are then drawn by ``bernoulli_`` itself. Kills: the check always
    true, a fallback of another draw."""
    real_rand = torch.rand
    monkeypatch.setattr(torch, "rand", lambda *a, dtype=None, **kw: real_rand(*a, **kw).double())
    bernoulli_is_uniform_below.cache_clear()
    try:
        assert not bernoulli_is_uniform_below()
        _same_draws([(64, 256), (3,)], 0.5)
    finally:
        monkeypatch.undo()
        bernoulli_is_uniform_below.cache_clear()
    assert bernoulli_is_uniform_below()


def test_the_check_compares_generator_states(monkeypatch: pytest.MonkeyPatch) -> None:
    """Equal first masks but a stream that consumes other draws must not pass the check: a
    ``rand`` that draws one number too many after the masks (the bits are equal, the state not)."""
    real_rand = torch.rand

    def rand_one_more(*a, generator=None, **kw):
        out = real_rand(*a, generator=generator, **kw)
        real_rand(1, generator=generator)
        return out

    monkeypatch.setattr(torch, "rand", rand_one_more)
    bernoulli_is_uniform_below.cache_clear()
    try:
        assert not bernoulli_is_uniform_below()
    finally:
        monkeypatch.undo()
        bernoulli_is_uniform_below.cache_clear()

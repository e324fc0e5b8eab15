"""Endless, seeded mini-batch streams over a domain."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import torch
from torch.utils.data import DataLoader

from dalib.data.domain import Domain
from dalib.errors import DalibError


class BatchStream:
    """Endless shuffled batches ``(x, y, idx)`` of one domain, reshuffled each pass.

    In-memory domains are sliced directly (no DataLoader overhead); others go through a
    `DataLoader` with ``num_workers`` workers. ``idx`` (b,) are positions in the domain,
    so per-sample weights can follow the batch. The order depends only on ``generator``.
    """

    def __init__(self, domain: Domain, batch_size: int, generator: torch.Generator,
                 num_workers: int = 0, drop_last: bool = True) -> None:
        self.domain, self.generator = domain, generator
        self.batch_size = min(batch_size, len(domain))
        self.drop_last, self.num_workers = drop_last, num_workers
        self._it: Iterator[tuple[torch.Tensor, torch.Tensor, torch.Tensor]] = iter(())
        self._pass_start: torch.Tensor | None = None  # generator state before the current pass's shuffle
        self._taken = 0  # batches taken from the current pass

    def state_dict(self) -> dict[str, Any]:
        """Where the stream stands: the generator state before the current pass's shuffle and
        the batches taken from that pass (a checkpoint stores it to resume the same batches)."""
        start = self.generator.get_state() if self._pass_start is None else self._pass_start
        return {"generator": start.clone(), "taken": self._taken, "started": self._pass_start is not None,
                "length": len(self.domain)}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Continue from a :meth:`state_dict`: the next batch is the one that followed it."""
        if state["length"] != len(self.domain):
            raise DalibError(f"stream state is for a domain of {state['length']} samples, not {len(self.domain)}; "
                             "resume with the same data")
        self.generator.set_state(state["generator"])
        self._pass_start = state["generator"].clone() if state["started"] else None
        self._taken = int(state["taken"])
        self._it = self._epoch(skip=int(state["taken"])) if state["started"] else iter(())

    def _epoch(self, skip: int = 0) -> Iterator[tuple[torch.Tensor, torch.Tensor, torch.Tensor]]:
        self._pass_start, self._taken = self.generator.get_state(), skip
        order = torch.randperm(len(self.domain), generator=self.generator)
        stop = len(order) - (len(order) % self.batch_size if self.drop_last else 0)
        tensors = self.domain.tensors
        if tensors is not None:
            x, y = tensors
            for i in range(skip * self.batch_size, stop, self.batch_size):
                idx = order[i:i + self.batch_size]
                yield x[idx], y[idx], idx
            return
        batches = [order[i:i + self.batch_size].tolist() for i in range(skip * self.batch_size, stop, self.batch_size)]
        loader = DataLoader(self.domain.dataset, batch_sampler=batches, num_workers=self.num_workers)
        for (xb, yb), idx in zip(loader, batches):
            yield xb, yb, torch.tensor(idx)

    def __iter__(self) -> "BatchStream":
        return self

    def __next__(self) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        for _ in range(2):
            try:
                batch = next(self._it)
                self._taken += 1
                return batch
            except StopIteration:
                self._it = self._epoch()
        raise RuntimeError("empty domain")  # unreachable: Domain guarantees at least one sample


def iterate_in_order(domain: Domain, batch_size: int, num_workers: int = 0) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
    """All samples once, in order, as ``(x, y)`` batches (for evaluation)."""
    tensors = domain.tensors
    if tensors is not None:
        x, y = tensors
        for i in range(0, len(y), batch_size):
            yield x[i:i + batch_size], y[i:i + batch_size]
        return
    yield from DataLoader(domain.dataset, batch_size=batch_size, shuffle=False, num_workers=num_workers)

"""Data-parallel training with ``torchrun`` + DistributedDataParallel (PyTorch DDP).

The trainers call :func:`context` once: outside ``torchrun`` it returns a single-process
context and nothing changes; under ``torchrun`` (``WORLD_SIZE`` > 1 in the environment) it
initialises the process group — ``gloo`` for CPU tensors, ``nccl`` when the trainer's device is
a GPU — and the trainer then

* wraps its module in ``DistributedDataParallel`` (:meth:`DistContext.wrap`; gradients are
  averaged across ranks at every step, parameters start from rank 0's);
* builds the *same global batch order* on every rank from the one seed and gives each rank its
  slice of every batch (:meth:`DistContext.shard`), so one step of ``n`` ranks sees the same
  windows as one step of a single process (per-rank batch = ``batch_size / n``);
* checkpoints, logs and writes files on rank 0 only (:attr:`DistContext.is_main`);
* draws dropout noise from ``seed + rank`` (rank 0 = the single-process stream).

:func:`all_gather_with_grad` gathers embeddings from all ranks *with* gradient, so in-batch
contrastive losses (InfoNCE, Oord et al. 2018; the in-batch negatives of two-tower training)
see every rank's items as negatives, and each rank's embeddings get the gradient from every
rank's loss (``torch.distributed.nn.functional.all_gather``).

Launch (one machine, 2 processes)::

    torchrun --nproc_per_node 2 bench/ddp_check.py --world-check

Several machines: run on each node
``torchrun --nnodes N --node_rank R --nproc_per_node P --rdzv_backend c10d --rdzv_endpoint HOST:29500 script.py``
(the same command and code everywhere; ``HOST`` = node 0's address; set ``GLOO_SOCKET_IFNAME`` /
``NCCL_SOCKET_IFNAME`` to the network interface when nodes have several).
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Any, Sequence

import numpy as np


@dataclass(frozen=True)
class DistContext:
    """Where this process stands in a (possibly single-process) data-parallel job.

    Attributes
    ----------
    rank, world_size, local_rank:
        As set by ``torchrun`` (0, 1, 0 outside it).
    backend:
        ``"gloo"``, ``"nccl"`` or ``None`` (not distributed).
    """

    rank: int = 0
    world_size: int = 1
    local_rank: int = 0
    backend: str | None = None

    @property
    def enabled(self) -> bool:
        """True when more than one process trains."""
        return self.world_size > 1

    @property
    def is_main(self) -> bool:
        """True on rank 0, the only rank that checkpoints, logs and writes files."""
        return self.rank == 0

    def wrap(self, module: Any) -> Any:
        """``DistributedDataParallel(module)`` when distributed, else ``module`` itself."""
        if not self.enabled:
            return module
        from torch.nn.parallel import DistributedDataParallel

        device_ids = [self.local_rank] if self.backend == "nccl" else None
        return DistributedDataParallel(module, device_ids=device_ids)

    def shard(self, batches: Sequence[np.ndarray]) -> list[np.ndarray]:
        """This rank's slice of every global batch, ``batch[rank::world_size]``.

        Batches smaller than ``world_size`` (at most the last one of an epoch) are dropped when
        distributed, so every rank takes the same number of steps and no rank gets an empty batch.
        """
        if not self.enabled:
            return list(batches)
        return [b[self.rank::self.world_size] for b in batches if len(b) >= self.world_size]

    def mean(self, value: float) -> float:
        """Average of a float over ranks (for logging); ``value`` when not distributed."""
        if not self.enabled:
            return value
        import torch
        import torch.distributed as dist

        t = torch.tensor([value], dtype=torch.float64)
        dist.all_reduce(t)
        return float(t.item()) / self.world_size

    def from_main(self, value: float) -> float:
        """Rank 0's value of a float on every rank (decisions such as early stopping must agree)."""
        if not self.enabled:
            return value
        import torch
        import torch.distributed as dist

        t = torch.tensor([value], dtype=torch.float64)
        dist.broadcast(t, src=0)
        return float(t.item())

    def barrier(self) -> None:
        if self.enabled:
            import torch.distributed as dist

            dist.barrier()


def _shutdown() -> None:
    """Destroy the process group at interpreter exit (registered by :func:`context`)."""
    import torch.distributed as dist

    if dist.is_initialized():
        dist.destroy_process_group()


def context(device: str = "cpu") -> DistContext:
    """The process's :class:`DistContext`, initialising the process group under ``torchrun``.

    Parameters
    ----------
    device:
        The trainer's device: ``"cpu"`` → ``gloo``; ``"cuda"`` → ``nccl`` (and the rank's GPU
        ``LOCAL_RANK`` is selected).

    Raises
    ------
    RuntimeError
        If ``WORLD_SIZE`` > 1 but the rendezvous variables (``MASTER_ADDR`` …) are missing — launch
        with ``torchrun``.
    """
    world = int(os.environ.get("WORLD_SIZE", "1"))
    if world <= 1:
        return DistContext()
    import torch
    import torch.distributed as dist

    rank, local_rank = int(os.environ["RANK"]), int(os.environ.get("LOCAL_RANK", "0"))
    backend = "nccl" if str(device).startswith("cuda") else "gloo"
    if not dist.is_initialized():
        if "MASTER_ADDR" not in os.environ:
            raise RuntimeError("WORLD_SIZE > 1 but MASTER_ADDR is not set; launch with torchrun")
        if backend == "nccl":
            torch.cuda.set_device(local_rank)
        dist.init_process_group(backend=backend)
        import atexit

        atexit.register(_shutdown)  # a gloo group left alive at exit can abort the process (SIGABRT)
    return DistContext(rank=rank, world_size=world, local_rank=local_rank, backend=dist.get_backend())


def all_gather_with_grad(tensor: Any) -> Any:
    """Concatenate ``tensor`` ``[b, ...]`` from all ranks along dim 0 → ``[world · b, ...]``, with gradient.

    Rank ``r``'s rows sit at ``[r·b, (r+1)·b)``; every rank must pass the same shape. The
    backward pass sends each rank the gradient of all ranks' losses with respect to its rows.
    Outside a process group this returns ``tensor`` unchanged.
    """
    import torch
    import torch.distributed as dist

    if not (dist.is_available() and dist.is_initialized()) or dist.get_world_size() == 1:
        return tensor
    from torch.distributed.nn.functional import all_gather

    return torch.cat(all_gather(tensor), dim=0)

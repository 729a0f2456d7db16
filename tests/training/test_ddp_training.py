"""DDP under torchrun (2 CPU processes, gloo): identical weights on both ranks, rank-0-only
checkpoints, and all_gather_with_grad's gradient, on a tiny ring dataset."""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
import textwrap

from lmrec.training.distributed import DistContext, all_gather_with_grad, context

SCRIPT = textwrap.dedent("""
    import hashlib, json, os, sys
    from pathlib import Path
    import numpy as np, pandas as pd, torch
    torch.set_num_threads(1)
    from lmrec.data.dataset import RecDataset
    from lmrec.data.splits import leave_one_out
    from lmrec.models import TrainData, create_model
    from lmrec.training.distributed import all_gather_with_grad, context

    out = Path(sys.argv[1])
    ctx = context()
    rng = np.random.default_rng(0)
    rows = [{"user_id": f"u{u}", "item_id": str((s + t) % 12), "timestamp": t}
            for u, s in enumerate(rng.integers(12, size=40)) for t in range(8)]
    items = pd.DataFrame({"title": [f"m{i}" for i in range(12)]}, index=[str(i) for i in range(12)])
    split = leave_one_out(RecDataset("ring", pd.DataFrame(rows), items, text_fields=["title"]))
    vectors = np.random.default_rng(1).normal(size=(12, 8)).astype(np.float32)
    model = create_model("sasrec-text", epochs=3, patience=3, hidden=16, inner=32, batch_size=32, dropout=0.1)
    run_dir = out / f"rank{ctx.rank}"
    run_dir.mkdir(parents=True)
    model.fit(TrainData(split=split, item_vectors=vectors, seed=0, run_dir=run_dir))
    digest = hashlib.sha256(b"".join(v.numpy().tobytes() for v in model.net_.state_dict().values())).hexdigest()
    x = torch.full((2, 3), float(ctx.rank + 1), requires_grad=True)
    g = all_gather_with_grad(x)
    w = torch.arange(g.numel(), dtype=torch.float32).reshape(g.shape)
    (g * w).sum().backward()
    (out / f"rank{ctx.rank}.json").write_text(json.dumps({
        "world": ctx.world_size, "digest": digest, "history": model.history_,
        "gathered": g.detach().tolist(), "grad": x.grad.tolist(),
        "weights_of_my_rows": w[2 * ctx.rank: 2 * ctx.rank + 2].tolist()}))
    torch.distributed.barrier()
    torch.distributed.destroy_process_group()  # a gloo group left alive can abort the process at exit
    # gloo's threads can still abort the interpreter's teardown ("terminate called without an active
    # exception", SIGABRT) after everything above is written: leave without that teardown
    sys.stdout.flush(); sys.stderr.flush()
    os._exit(0)
""")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_single_process_context_is_a_no_op():
    ctx = context()
    assert (ctx.world_size, ctx.rank, ctx.enabled, ctx.is_main) == (1, 0, False, True)
    import numpy as np
    import torch

    batches = [np.arange(4), np.arange(4, 5)]
    assert [b.tolist() for b in ctx.shard(batches)] == [[0, 1, 2, 3], [4]]
    t = torch.ones(2, 3)
    assert all_gather_with_grad(t) is t
    two = DistContext(rank=1, world_size=2)
    assert [b.tolist() for b in two.shard(batches)] == [[1, 3]]      # batch [4] is smaller than the world: dropped


def test_torchrun_two_processes(tmp_path):
    script = tmp_path / "ddp_worker.py"
    script.write_text(SCRIPT)
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    for attempt in range(2):  # a second try with a fresh port if the rendezvous port was taken meanwhile
        for f in tmp_path.glob("rank*"):
            shutil.rmtree(f) if f.is_dir() else f.unlink()
        cmd = [sys.executable, "-m", "torch.distributed.run", "--nproc_per_node", "2", "--master_addr", "127.0.0.1",
               "--master_port", str(_free_port()), str(script), str(tmp_path)]
        proc = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=240)
        if proc.returncode == 0 or "Address already in use" not in proc.stderr:
            break
    assert proc.returncode == 0, proc.stderr[-3000:]
    r0, r1 = (json.loads((tmp_path / f"rank{r}.json").read_text()) for r in (0, 1))
    assert r0["world"] == r1["world"] == 2
    assert r0["digest"] == r1["digest"]                              # DDP kept the replicas identical
    assert r0["history"]["best_epoch"] == r1["history"]["best_epoch"]
    assert (tmp_path / "rank0" / "model" / "model.safetensors").exists()
    assert not (tmp_path / "rank1" / "model").exists()               # only rank 0 checkpoints
    assert r0["gathered"] == [[1.0] * 3, [1.0] * 3, [2.0] * 3, [2.0] * 3]
    for r in (r0, r1):  # each rank's rows get the gradient of both ranks' losses: 2 × their weights
        assert r["grad"] == [[2 * w for w in row] for row in r["weights_of_my_rows"]]

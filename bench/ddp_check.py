"""DDP check: SASRec-text on ml-100k trained by 1 process and by ``torchrun --nproc_per_node 2``.

The trainer (:func:`lmrec.training.trainer.train_sequential`) runs unchanged under torchrun
(:mod:`lmrec.training.distributed`: gloo on CPU, each rank takes its slice of every global
batch, gradients averaged, rank 0 logs and writes). Same seed, same epochs, same global batch.
A second single-process seed gives the seed-to-seed noise the 2-process result is compared with.

Writes ``bench/results/ddp.{json,md}``. Run under the CPU lock::

    flock /tmp/lmrec/cpu.lock .venv/bin/python bench/ddp_check.py --epochs 8

Each worker uses one torch thread per process (2 processes = the machine's 2 cores; the single
process gets 2 threads).
"""

from __future__ import annotations

import argparse
import json
import os
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

RESULTS = Path(__file__).resolve().parent / "results"
DATASET = "ml-100k"
MODEL = "sasrec-text"


def worker(args: argparse.Namespace) -> None:
    """One training process (plain or a torchrun rank): train, evaluate, rank 0 writes JSON."""
    import torch

    from lmrec.pipeline import ExperimentConfig, run_experiment
    from lmrec.training.distributed import context

    ctx = context()
    torch.set_num_threads(1 if ctx.enabled else 2)
    cfg = ExperimentConfig(dataset=DATASET, model=MODEL, seed=args.seed,
                           model_params={"epochs": args.epochs, "patience": args.epochs,
                                         "text_adaptor": "linear", "scores": "dot"})  # the rows' setting, pinned
    t0 = time.perf_counter()
    res = run_experiment(cfg, None)  # no run directory: nothing to write but the result below
    wall = time.perf_counter() - t0
    if ctx.is_main:
        m = res.metrics["metrics"]
        hist = res.model.history_
        out = {"processes": ctx.world_size, "seed": args.seed, "wall_s": round(wall, 1),
               "train_s": hist["train_seconds"], "best_epoch": hist["best_epoch"],
               "valid_curve": [e["valid_ndcg@10"] for e in hist["epochs"]],
               "metrics": {"valid_ndcg@10": m["valid"]["ndcg@10"], "valid_recall@10": m["valid"]["recall@10"],
                           "ndcg@10": m["test"]["ndcg@10"], "recall@10": m["test"]["recall@10"],
                           "mrr@10": m["test"]["mrr@10"]},
               "protocol": res.metrics["protocol"]}
        Path(args.result).write_text(json.dumps(out))


def _port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def launch(processes: int, seed: int, epochs: int, tmp: Path) -> dict:
    result = tmp / f"p{processes}-s{seed}.json"
    me = str(Path(__file__).resolve())
    tail = [me, "--worker", "--seed", str(seed), "--epochs", str(epochs), "--result", str(result)]
    if processes == 1:
        cmd = [sys.executable] + tail
    else:
        cmd = [sys.executable, "-m", "torch.distributed.run", "--nproc_per_node", str(processes),
               "--master_addr", "127.0.0.1", "--master_port", str(_port())] + tail
    env = {**os.environ, "OMP_NUM_THREADS": "1" if processes > 1 else "2"}
    t0 = time.perf_counter()
    subprocess.run(cmd, env=env, check=True)
    out = json.loads(result.read_text())
    out["launch_wall_s"] = round(time.perf_counter() - t0, 1)
    out["command"] = " ".join(["torchrun --nproc_per_node 2" if processes > 1 else "python"] + tail[:1] +
                              tail[2:6])
    return out


def render_markdown(doc: dict) -> str:
    from lmrec.evaluation.results import format_table

    rows = [{"processes": r["processes"], "seed": r["seed"], "epochs": r["epochs"],
             "valid ndcg@10": r["metrics"]["valid_ndcg@10"], "test ndcg@10": r["metrics"]["ndcg@10"],
             "test recall@10": r["metrics"]["recall@10"], "train s": r["train_s"]} for r in doc["rows"]]
    return "\n".join([f"# {doc['table']}", "", f"Command: `{doc['command']}`", "", format_table(rows, list(rows[0])),
                      "", f"**Note.** {doc['note']}", "", f"**Verdict.** {doc['verdict']}", ""])


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--epochs", type=int, default=8)
    p.add_argument("--seeds", type=int, nargs="+", default=[0, 1], help="single-process seeds (first: also DDP)")
    p.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    p.add_argument("--seed", type=int, default=0, help=argparse.SUPPRESS)
    p.add_argument("--result", default=None, help=argparse.SUPPRESS)
    p.add_argument("--out", type=Path, default=RESULTS / "ddp.json")
    args = p.parse_args(argv)
    if args.worker:
        return worker(args)

    from lmrec.evaluation.results import environment_info, write_json_atomic

    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        runs = [(1, s) for s in args.seeds] + [(2, args.seeds[0])]
        for procs, seed in runs:
            r = launch(procs, seed, args.epochs, Path(tmp))
            print(f"{procs} process(es), seed {seed}: {r['metrics']} in {r['train_s']} s", flush=True)
            rows.append({"dataset": DATASET, "model": MODEL,
                         "protocol": "leave-one-out by time; full ranking; history excluded; max_len 50",
                         "seed": seed, "wall_s": r["wall_s"], "metrics": r["metrics"], "processes": procs,
                         "epochs": args.epochs, "train_s": r["train_s"], "best_epoch": r["best_epoch"],
                         "valid_curve": r["valid_curve"], "run_command": r["command"]})
    one = [r for r in rows if r["processes"] == 1]
    two = next(r for r in rows if r["processes"] == 2)
    same_seed = next(r for r in one if r["seed"] == two["seed"])
    noise = max(abs(a["metrics"]["ndcg@10"] - b["metrics"]["ndcg@10"]) for a in one for b in one) if len(one) > 1 else None
    gap = abs(two["metrics"]["ndcg@10"] - same_seed["metrics"]["ndcg@10"])
    verdict = (f"test NDCG@10: 2 processes {two['metrics']['ndcg@10']:.4f} vs 1 process {same_seed['metrics']['ndcg@10']:.4f} "
               f"(same seed), gap {gap:.4f}; seed-to-seed spread of 1 process: "
               f"{'n/a' if noise is None else f'{noise:.4f}'} → "
               + ("within noise" if noise is not None and gap <= max(noise, 0.005) else "outside the measured noise"))
    doc = {"table": "ddp", "command": "python " + " ".join(["bench/ddp_check.py"] + (argv or sys.argv[1:])),
           "note": (f"Shortened: {args.epochs} epochs (patience = epochs) instead of training to early stopping "
                    "(~50 epochs, 3 min per run here), to fit the CPU budget; metrics are therefore below the "
                    "converged ones in core_sequential. Both runs use the same global batch (128; 64 per rank "
                    "under DDP), seed and epochs. Noise = spread between single-process seeds — only as many seeds as "
                    "--seeds gives (2 by default), so it is a rough yardstick, not a confidence interval."),
           "verdict": verdict, "rows": rows, "versions": environment_info()}
    write_json_atomic(args.out, doc)
    args.out.with_suffix(".md").write_text(render_markdown(doc))
    print(verdict)
    print(f"wrote {args.out} and {args.out.with_suffix('.md')}")


if __name__ == "__main__":
    main()

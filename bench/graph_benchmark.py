"""Graph benchmark: LightGCN-ID vs LightGCN-text (AlphaRec recipe) vs SASRec-text, warm and cold items.

Datasets and protocols (full ranking over the whole catalogue, history excluded, the core
pipeline's :func:`lmrec.pipeline.run_experiment` and ``metrics.json`` fields):

* ``ml-1m`` — the CoLaKG implicit train/test split (the only ml-1m interactions available; no
  ratings, no timestamps, one random training interaction per user carved out as validation,
  see ``lmrec.data.splits.given``). Unordered, so SASRec cannot run on it, and the
  ``cold-start-items`` split (built on leave-one-out by time) is undefined; its 623 catalogue
  movies without interactions are never targets.
* ``amazon-unisrec-scientific`` — the UniSRec files' leave-one-out split (``given``), and the
  ``cold-start-items`` split (leave-one-out by order with 10 % of the items removed from
  training) for the cold-start comparison. SASRec-text on the given split is *not rerun*: its
  rows are copied from ``bench/results/core_sequential.json`` (same split, full ranking,
  history excluded), marked ``"source"``.

Every row records time per epoch (training part, seconds), the adjacency's bytes and the
process's peak RSS during the run (``VmHWM``, reset before each run; it includes the dataset
and text vectors held by the process).

Writes ``bench/results/graph.json`` and ``graph.md``.

Usage::

    LMREC_DATA_DIR=../shared/datasets python bench/graph_benchmark.py [--seeds 0] [--scientific-seeds 0 1 2]
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

RESULTS = Path(__file__).resolve().parent / "results"
CORE = RESULTS / "core_sequential.json"
SCIENTIFIC = "amazon-unisrec-scientific"
DATASETS = ["ml-1m", SCIENTIFIC]
METRICS = ["recall@10", "ndcg@10", "recall@20", "ndcg@20", "mrr@10"]
SLICE_METRICS = ["recall@10", "ndcg@10", "recall@20"]

#: Hyper-parameters per (dataset, model), sized for the 2-core budget (see the notes written into the table).
PARAMS = {
    "ml-1m": {
        "lightgcn": {"batch_size": 16384, "lr": 1e-2, "epochs": 40, "patience": 3, "max_train_seconds": 100},
        "lightgcn-text": {"batch_size": 16384, "lr": 2e-3, "epochs": 40, "patience": 3, "max_train_seconds": 100},
    },
    SCIENTIFIC: {
        "lightgcn": {"batch_size": 2048, "lr": 5e-3, "epochs": 200, "patience": 10, "max_train_seconds": 60},
        "lightgcn-text": {"batch_size": 2048, "lr": 1e-3, "epochs": 200, "patience": 10, "max_train_seconds": 60},
        "sasrec-text": {"train_negatives": "train_items", "epochs": 200, "patience": 5, "max_train_seconds": 60,
                        "text_adaptor": "linear", "scores": "dot"},  # the rows' setting, pinned
    },
}
NOTES = [
    "1 seed everywhere (CPU budget: 2 shared cores, about 15 minutes of runs for the whole table).",
    "Epochs are capped by early stopping on validation NDCG@10 (patience in model_config) and by a wall-time "
    "cap (max_train_seconds); 'stopped' says which ended each run. ml-1m uses large batches (16384 pairs) and "
    "few epochs to fit the 2-core budget, so LightGCN-ID is likely under-trained there relative to the paper's "
    "hundreds of epochs.",
    "SASRec-text is not run on ml-1m: the available ml-1m interactions (CoLaKG split) have no order.",
    "Losses follow each paper: LightGCN-ID with BPR (one uniform negative, dot-product scores); LightGCN-text "
    "with InfoNCE over cosine similarities (temperature 0.15, 256 uniform negatives shared by the batch), as "
    "AlphaRec. The ID/text difference therefore includes the loss; loss=infonce/bpr overrides it for an ablation.",
    "Users are all in the training graph on these splits; users without edges would be scored by the mean "
    "final representation of their history items.",
]


def reset_peak_rss() -> bool:
    """Reset this process's ``VmHWM`` (Linux ≥ 4.0); ``False`` when not possible."""
    try:
        with open("/proc/self/clear_refs", "w") as fh:
            fh.write("5")
        return True
    except OSError:
        return False


def protocol_name(dataset: str, split: str) -> str:
    if split == "cold-start-items":
        base = "leave-one-out by order with 10% of items cold (no training interaction)"
    elif dataset == SCIENTIFIC:
        base = "given split (UniSRec files, leave-one-out)"
    else:
        base = "given split (CoLaKG implicit train/test; 1 random train item per user as valid)"
    return f"{base}; full ranking; history excluded"


def _slices(test_slices: dict) -> dict:
    out = {}
    for name in ("warm_items", "cold_items"):
        s = test_slices.get(name, {})
        out[name] = {"n_cases": s.get("n_cases", 0), "n_targets": s.get("n_targets", 0),
                     **{k: round(v, 5) for k, v in s.get("metrics", {}).items() if k in SLICE_METRICS}}
    return out


def reused_sasrec_rows() -> list[dict]:
    """SASRec-text rows of the core table on the same Scientific split and protocol (history excluded)."""
    if not CORE.exists():
        return []
    doc = json.loads(CORE.read_text())
    rows = []
    for r in doc["rows"]:
        if r["dataset"] == SCIENTIFIC and r["model"] == "sasrec-text" and "history excluded" in r["protocol"]:
            rows.append({
                "dataset": SCIENTIFIC, "model": "sasrec-text", "protocol": protocol_name(SCIENTIFIC, "auto"),
                "seed": r["seed"], "wall_s": r["wall_s"],
                "metrics": {k: v for k, v in r["metrics"].items() if k in METRICS},
                "slices": {"cold_items": r.get("cold_items", {})},
                "source": f"reused from {CORE.relative_to(RESULTS.parent.parent)} (not rerun; command: {doc['command']})",
                "note": "copied from the core table: recall@20/ndcg@20 and the warm slice were not recorded there",
            })
    return rows


def run(datasets: list[str], seeds: list[int], scientific_seeds: list[int], cold: bool,
        runs_dir: Path | None) -> dict:
    import torch

    from lmrec.data.registry import load_dataset
    from lmrec.evaluation.results import environment_info
    from lmrec.pipeline import ExperimentConfig, encode_items, run_experiment

    torch.set_num_threads(2)
    rows, stats, splits = [], {}, {}
    for name in datasets:
        ds = load_dataset(name)
        stats[name] = ds.statistics()
        t0 = time.perf_counter()
        vectors, report = encode_items(ds, ExperimentConfig(dataset=name, model="lightgcn-text"))
        print(f"[{name}] text vectors {vectors.shape} in {time.perf_counter() - t0:.1f}s", flush=True)
        jobs = [("auto", m, s) for m in ("lightgcn", "lightgcn-text")
                for s in (scientific_seeds if name == SCIENTIFIC else seeds)]
        if cold and name == SCIENTIFIC:
            jobs += [("cold-start-items", m, seeds[0]) for m in ("lightgcn", "lightgcn-text", "sasrec-text")]
        for split, model, seed in jobs:
            cfg = ExperimentConfig(dataset=name, model=model, split=split, seed=seed, cold_frac=0.1,
                                   model_params=dict(PARAMS[name][model]))
            reset_peak_rss()
            out_dir = runs_dir / f"{name.replace('/', '_')}-{split}-{model}-{seed}" if runs_dir else None
            res = run_experiment(cfg, out_dir, dataset=ds, item_vectors=vectors, encode_report=report)
            m, hist = res.metrics, res.model.history_
            splits[f"{name} / {split}"] = m["split"]
            row = {
                "dataset": name, "model": model, "protocol": protocol_name(name, split), "seed": seed,
                "wall_s": round(m["wall_s"], 1),
                "metrics": {k: round(m["metrics"]["test"][k], 5) for k in METRICS},
                "slices": _slices(m["slices"]["test"]),
                "valid_ndcg@10": round(m["metrics"]["valid"]["ndcg@10"], 5),
                "best_epoch": hist.get("best_epoch"), "epochs_run": len(hist.get("epochs", [])),
                "stopped": hist.get("stopped"), "train_s": hist.get("train_seconds"),
                "seconds_per_epoch": hist.get("seconds_per_epoch", round(
                    sum(e["seconds"] for e in hist["epochs"]) / max(1, len(hist["epochs"])), 3)),
                "adjacency_bytes": hist.get("adjacency_bytes"), "n_edges": hist.get("n_edges"),
                "loss": hist.get("loss", "softmax-ce"),
                "peak_rss_bytes": _peak_rss(),
                "model_config": m["model"],
            }
            rows.append(row)
            print(f"[{name}|{split}] {model:14s} seed {seed}  ndcg@10 {row['metrics']['ndcg@10']:.4f}  "
                  f"recall@20 {row['metrics']['recall@20']:.4f}  cold r@10 "
                  f"{row['slices']['cold_items'].get('recall@10', float('nan')):.4f} "
                  f"(n={row['slices']['cold_items']['n_cases']})  {row['seconds_per_epoch']}s/epoch  "
                  f"{row['epochs_run']} epochs ({row['stopped']})  {row['wall_s']}s", flush=True)
        if name == SCIENTIFIC:
            rows += reused_sasrec_rows()
    return {"rows": rows, "dataset_statistics": stats, "splits": splits, "versions": environment_info()}


def _peak_rss() -> int:
    from lmrec.models.lightgcn import peak_rss_bytes

    return peak_rss_bytes()


def render_markdown(doc: dict) -> str:
    from collections import defaultdict

    import numpy as np

    from lmrec.evaluation.results import format_table

    lines = [f"# {doc['table']}", "", f"Command: `{doc['command']}`", ""]
    lines += [f"Rows updated by: `{u['command']}`" for u in doc.get("updates", [])]
    lines += ["", "Notes:", ""]
    lines += [f"- {n}" for n in doc["notes"]] + [""]
    groups = defaultdict(list)
    for r in doc["rows"]:
        groups[(r["dataset"], r["protocol"], r["model"])].append(r)
    by_table = defaultdict(list)

    def fmt(vals):
        vals = np.array([v for v in vals if v is not None], dtype=float)
        if not len(vals):
            return "—"
        return f"{vals.mean():.4f}" + (f" ± {vals.std():.4f}" if len(vals) > 1 else "")

    for (ds, proto, model), rs in groups.items():
        row = {"model": model + (" (reused)" if rs[0].get("source") else ""),
               "seeds": ",".join(str(r["seed"]) for r in rs)}
        for k in ("ndcg@10", "recall@10", "recall@20", "ndcg@20"):
            row[k] = fmt([r["metrics"].get(k) for r in rs])
        warm = [r["slices"].get("warm_items", {}) for r in rs]
        cold = [r["slices"].get("cold_items", {}) for r in rs]
        row["warm ndcg@10"] = fmt([w.get("ndcg@10") for w in warm])
        n_cold = cold[0].get("n_cases", 0)
        row["cold recall@10 (n)"] = f"{fmt([c.get('recall@10') for c in cold])} (n={n_cold})" if n_cold else "—"
        row["cold ndcg@10"] = fmt([c.get("ndcg@10") for c in cold]) if n_cold else "—"
        spe = [r.get("seconds_per_epoch") for r in rs if r.get("seconds_per_epoch") is not None]
        row["s/epoch"] = f"{np.mean(spe):.1f}" if spe else "—"
        row["epochs"] = ",".join(str(r.get("epochs_run", "—")) for r in rs)
        adj = rs[0].get("adjacency_bytes")
        row["adj MiB"] = f"{adj / 2**20:.1f}" if adj else "—"
        rss = [r.get("peak_rss_bytes") for r in rs if r.get("peak_rss_bytes")]
        row["peak RSS MiB"] = f"{max(rss) / 2**20:.0f}" if rss else "—"
        row["wall_s"] = f"{np.mean([r['wall_s'] for r in rs]):.0f}"
        by_table[(ds, proto)].append(row)
    cols = ["model", "seeds", "ndcg@10", "recall@10", "recall@20", "ndcg@20", "warm ndcg@10", "cold recall@10 (n)",
            "cold ndcg@10", "s/epoch", "epochs", "adj MiB", "peak RSS MiB", "wall_s"]
    for (ds, proto), rows in by_table.items():
        lines += [f"## {ds} — {proto}", "", format_table(rows, cols), ""]
    reused = [r for r in doc["rows"] if r.get("source")]
    if reused:
        lines += [f"Rows marked (reused): {reused[0]['source']}.", ""]
    lines += ["s/epoch: training part of an epoch (validation excluded); adj MiB: the sparse CSR "
              "D^-1/2 A D^-1/2 (row pointers, column indices, values); peak RSS: the process during the run "
              "(dataset and text vectors included); wall_s: training + evaluation, text encoding excluded "
              "(cached).", ""]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> None:
    from lmrec.evaluation.results import write_json_atomic

    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--datasets", nargs="+", default=DATASETS)
    ap.add_argument("--seeds", nargs="+", type=int, default=[0], help="seeds on ml-1m and for the cold split")
    ap.add_argument("--scientific-seeds", nargs="*", type=int, default=[0, 1, 2],
                    help="seeds on the Scientific given split (none: only its cold-start split)")
    ap.add_argument("--no-cold", action="store_true", help="skip the Scientific cold-start-items split")
    ap.add_argument("--runs-dir", type=Path, default=None, help="also write each run directory (metrics.json …)")
    ap.add_argument("--out", type=Path, default=RESULTS / "graph.json")
    ap.add_argument("--update", action="store_true",
                    help="merge into an existing --out: rows with the same dataset, model, protocol and seed are "
                         "replaced, others kept (the command is recorded under 'updates')")
    args = ap.parse_args(argv)
    if not os.environ.get("LMREC_DATA_DIR"):
        sys.exit("set LMREC_DATA_DIR (e.g. ../shared/datasets)")
    result = run(args.datasets, args.seeds, args.scientific_seeds, not args.no_cold, args.runs_dir)
    command = "python bench/graph_benchmark.py " + " ".join(argv if argv is not None else sys.argv[1:])
    doc = {"table": "Graph recommendation on text features: LightGCN-ID vs LightGCN-text (AlphaRec) vs SASRec-text",
           "command": command.strip(), "notes": NOTES, "hyper_parameters": PARAMS, **result}
    if args.update and args.out.exists():
        old = json.loads(args.out.read_text())
        key = lambda r: (r["dataset"], r["model"], r["protocol"], r["seed"])  # noqa: E731
        new_keys = {key(r) for r in result["rows"]}
        rows = [r for r in old["rows"] if key(r) not in new_keys] + result["rows"]
        order = {d: i for i, d in enumerate(DATASETS)}
        rows.sort(key=lambda r: (order.get(r["dataset"], 99), r["protocol"], r["model"], r["seed"]))
        old.setdefault("updates", []).append({"command": command.strip(), "versions": result["versions"]})
        old["dataset_statistics"].update(result["dataset_statistics"])
        old["splits"].update(result["splits"])
        old.update(rows=rows, notes=NOTES, hyper_parameters=PARAMS)
        doc = old
    args.out.parent.mkdir(parents=True, exist_ok=True)
    write_json_atomic(args.out, doc)
    tmp = args.out.with_suffix(".md.tmp")
    tmp.write_text(render_markdown(doc))
    os.replace(tmp, args.out.with_suffix(".md"))
    print(f"wrote {args.out} and {args.out.with_suffix('.md')}")


if __name__ == "__main__":
    main()

"""Core benchmark: Pop / Embedding-KNN / SASRec-ID / SASRec-text / SASRec-text+ID.

Datasets and protocols:

* ``ml-100k``, ``ml-latest-small`` — leave-one-out by time, full ranking, history excluded;
* ``amazon-unisrec-scientific`` — the UniSRec paper's protocol: the RecBole atomic files as
  given (leave-one-out), max sequence length 50, full ranking. RecBole's full-sort evaluation
  of sequential models keeps history items among the candidates, so the paper comparison is
  reported that way (``history kept``); the history-excluded numbers of the same trained
  model are reported beside it. Early stopping uses the paper protocol on valid.

Writes ``bench/results/core_sequential.json`` (shape of the developers' guide, checked by
``../shared/tools/check-results``) and ``core_sequential.md``.

Usage::

    LMREC_DATA_DIR=../shared/datasets python bench/core_benchmark.py [--seeds 0 1 2] [--datasets ...]
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

RESULTS = Path(__file__).resolve().parent / "results"
MODELS = ["pop", "embknn", "sasrec-id", "sasrec-text", "sasrec-text-id"]
#: The table's SASRec rows were measured with the linear text adaptor and dot-product scores; pinned since
#: ``sasrec-text`` defaults to the MLP adaptor with cosine scores (``lmrec.models.registry.NAME_DEFAULTS``).
PINNED = {"text_adaptor": "linear", "scores": "dot"}
DATASETS = ["ml-100k", "ml-latest-small", "amazon-unisrec-scientific"]
PAPER_DATASET = "amazon-unisrec-scientific"
METRICS = ["recall@10", "ndcg@10", "mrr@10", "recall@50", "ndcg@50"]

#: Published numbers on the same Scientific files (RecBole full sort, history kept).
REFERENCES = [
    {"model": "SASRec (ID)", "source": "UniSRec (Hou et al., KDD 2022) Table 2",
     "metrics": {"recall@10": 0.1080, "ndcg@10": 0.0553, "recall@50": 0.2042, "ndcg@50": 0.0760}},
    {"model": "SASRec on frozen BERT text", "source": "VQ-Rec (Hou et al., WWW 2023) Table 2",
     "metrics": {"recall@10": 0.0994, "ndcg@10": 0.0561}},
    {"model": "UniSRec (text only)", "source": "UniSRec Table 2",
     "metrics": {"recall@10": 0.1188, "ndcg@10": 0.0641, "recall@50": 0.2394, "ndcg@50": 0.0903}},
]


def protocol_name(dataset: str, exclude_history: bool, split_name: str = "auto", cold_frac: float = 0.1) -> str:
    if split_name == "cold-start-items":
        split = f"leave-one-out by time with {cold_frac:.0%} of items cold (no training interaction)"
    elif dataset == PAPER_DATASET:
        split = "given split (UniSRec files, leave-one-out)"
    else:
        split = "leave-one-out by time"
    hist = "history excluded" if exclude_history else "history kept (RecBole full sort)"
    return f"{split}; full ranking; {hist}; max_len 50"


def run(datasets: list[str], models: list[str], seeds: list[int], max_train_seconds: float,
        multi_seed: set[tuple[str, str]] | None = None, params: dict | None = None,
        split: str = "auto", cold_frac: float = 0.1) -> dict:
    """Train and evaluate every (dataset, model); several seeds only for trained models and,
    when ``multi_seed`` is given, only for those ``(dataset, model)`` pairs."""
    from lmrec.data.registry import load_dataset
    from lmrec.evaluation.ranking import evaluate_ranking
    from lmrec.evaluation.results import environment_info
    from lmrec.pipeline import ExperimentConfig, encode_items, run_experiment

    rows, stats = [], {}
    for name in datasets:
        ds = load_dataset(name)
        stats[name] = ds.statistics()
        paper = name == PAPER_DATASET and split == "auto"
        base = dict(dataset=name, split=split, cold_frac=cold_frac)
        t0 = time.perf_counter()
        vectors, report = encode_items(ds, ExperimentConfig(model="embknn", **base))
        encode_s = time.perf_counter() - t0
        print(f"[{name}] encoded {vectors.shape} in {encode_s:.1f}s", flush=True)
        for model in models:
            trained = model.startswith("sasrec")
            several = trained and (multi_seed is None or (name, model) in multi_seed)
            for seed in (seeds if several else seeds[:1]):
                mp = {"max_train_seconds": max_train_seconds, **PINNED, **(params or {})} if trained else {}
                cfg = ExperimentConfig(model=model, seed=seed, exclude_history=not paper, model_params=mp, **base)
                res = run_experiment(cfg, None, dataset=ds, item_vectors=vectors, encode_report=report)
                protocols = [(not paper, res.metrics)]
                if paper:  # same trained model, history-excluded protocol beside the paper one
                    t1 = time.perf_counter()
                    other = evaluate_ranking(res.model.score, res.split.test, res.split.n_items, ks=cfg.ks,
                                             exclude_history=True, item_slices=res.split.item_slices())
                    protocols.append((True, {"metrics": {"test": other["metrics"]}, "slices": {"test": other["slices"]},
                                             "wall_s": res.metrics["wall_s"] + time.perf_counter() - t1}))
                for excl, m in protocols:
                    test = m["metrics"]["test"]
                    cold = m["slices"]["test"].get("cold_items", {})
                    row = {
                        "dataset": name, "model": model, "protocol": protocol_name(name, excl, split, cold_frac), "seed": seed,
                        "wall_s": round(m["wall_s"], 1),
                        "metrics": {k: round(test[k], 5) for k in METRICS},
                        "cold_items": {"n_cases": cold.get("n_cases", 0),
                                       **{k: round(v, 5) for k, v in cold.get("metrics", {}).items()
                                          if k in ("recall@10", "ndcg@10")}},
                        "best_epoch": res.model.history_.get("best_epoch"),
                        "stopped": res.model.history_.get("stopped"),
                        "train_s": res.model.history_.get("train_seconds"),
                        "model_config": res.metrics["model"],
                    }
                    rows.append(row)
                    print(f"[{name}] {model:15s} seed {seed} {'excl' if excl else 'kept'}  "
                          + "  ".join(f"{k} {row['metrics'][k]:.4f}" for k in METRICS)
                          + f"  cold r@10 {row['cold_items'].get('recall@10', float('nan')):.4f}"
                          f"  ({row['wall_s']}s)", flush=True)
    return {"rows": rows, "dataset_statistics": stats, "versions": environment_info()}


def render_markdown(doc: dict) -> str:
    from collections import defaultdict

    import numpy as np

    from lmrec.evaluation.results import format_table

    lines = [f"# {doc['table']}", "", f"Command: `{doc['command']}`", ""]
    lines += [f"Rows updated by: `{u['command']}`" for u in doc.get("updates", [])]
    lines += ["",
             "Mean ± std over seeds where several were run; wall time is per run (encoding excluded, "
             "training + evaluation on 2 CPU cores). `stop`: why training ended per seed (`patience` = early "
             "stopping on validation, `time` = the `--max-train-seconds` cap: not converged). Each row trained "
             "with the model defaults of its day (recorded in its `model_config`); the converged comparison with "
             "the RecBole recipe, 3 seeds and paired intervals is `text_vs_id.md`.", ""]
    groups = defaultdict(list)
    for r in doc["rows"]:
        groups[(r["dataset"], r["protocol"], r["model"])].append(r)
    by_table = defaultdict(list)
    for (ds, proto, model), rs in groups.items():
        row = {"model": model, "seeds": ",".join(str(r["seed"]) for r in rs)}
        for k in METRICS:
            vals = np.array([r["metrics"][k] for r in rs])
            row[k] = f"{vals.mean():.4f}" + (f" ± {vals.std():.4f}" if len(vals) > 1 else "")
        cold = [r["cold_items"].get("recall@10") for r in rs if r["cold_items"].get("n_cases")]
        row["cold recall@10"] = f"{np.mean(cold):.4f} (n={rs[0]['cold_items']['n_cases']})" if cold else "—"
        stops = [r.get("stopped") for r in rs]
        row["stop"] = ",".join(str(x) for x in stops) if any(stops) else "—"
        row["wall_s"] = f"{np.mean([r['wall_s'] for r in rs]):.0f}"
        by_table[(ds, proto)].append(row)
    cols = ["model", "seeds", *METRICS, "cold recall@10", "stop", "wall_s"]
    for (ds, proto), rows in by_table.items():
        lines += [f"## {ds} — {proto}", "", format_table(rows, cols), ""]
        if ds == PAPER_DATASET and "history kept" in proto:
            lines += ["Published reference numbers on the same files and protocol:", "",
                      format_table([{"model": r["model"], "source": r["source"],
                                     **{k: r["metrics"].get(k) for k in METRICS}} for r in doc["references"]],
                                   ["model", "source", *METRICS]), ""]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> None:
    from lmrec.evaluation.results import write_json_atomic

    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--datasets", nargs="+", default=DATASETS)
    ap.add_argument("--models", nargs="+", default=MODELS)
    ap.add_argument("--seeds", nargs="+", type=int, default=[0])
    ap.add_argument("--max-train-seconds", type=float, default=0.0,
                    help="optional wall-time cap per SASRec run, 0 = none (the default: rows converge by early "
                         "stopping; a row records whether it stopped by time)")
    ap.add_argument("--render-only", action="store_true", help="rewrite the markdown of --out from its JSON")
    ap.add_argument("--multi-seed", nargs="*", default=None, metavar="DATASET:MODEL",
                    help="run all --seeds only for these pairs (default: every trained model)")
    ap.add_argument("--split", default="auto", help="auto (the paper protocol) or cold-start-items")
    ap.add_argument("--cold-frac", type=float, default=0.1)
    ap.add_argument("--title", default="Core sequential recommendation: ID vs text item representations")
    ap.add_argument("--out", type=Path, default=RESULTS / "core_sequential.json")
    ap.add_argument("--update", action="store_true",
                    help="replace only the rows of the datasets × models run now in an existing --out file "
                         "(the command is recorded under 'updates')")
    args = ap.parse_args(argv)
    if args.render_only:
        import json

        args.out.with_suffix(".md").write_text(render_markdown(json.loads(args.out.read_text())))
        print(f"wrote {args.out.with_suffix('.md')}")
        return
    if not os.environ.get("LMREC_DATA_DIR"):
        sys.exit("set LMREC_DATA_DIR (e.g. ../shared/datasets)")
    multi = {tuple(p.split(":", 1)) for p in args.multi_seed} if args.multi_seed is not None else None
    result = run(args.datasets, args.models, args.seeds, args.max_train_seconds, multi, split=args.split,
                 cold_frac=args.cold_frac)
    command = "python bench/core_benchmark.py " + " ".join(argv if argv is not None else sys.argv[1:])
    if args.update and args.out.exists():
        import json

        doc = json.loads(args.out.read_text())
        redone = {(r["dataset"], r["model"]) for r in result["rows"]}
        order = list(dict.fromkeys(r["dataset"] for r in doc["rows"] + result["rows"]))
        doc["rows"] = [r for r in doc["rows"] if (r["dataset"], r["model"]) not in redone] + result["rows"]
        doc["rows"].sort(key=lambda r: (order.index(r["dataset"]), MODELS.index(r["model"]) if r["model"] in MODELS
                                        else len(MODELS), r["protocol"], r["seed"]))
        doc.setdefault("updates", []).append({"command": command, "versions": result["versions"]})
        doc["dataset_statistics"].update(result["dataset_statistics"])
        write_json_atomic(args.out, doc)
        args.out.with_suffix(".md").write_text(render_markdown(doc))
        print(f"updated {args.out} and {args.out.with_suffix('.md')}")
        return
    doc = {"table": args.title,
           "command": command,
           "references": REFERENCES if args.split == "auto" and PAPER_DATASET in args.datasets else [], **result}
    args.out.parent.mkdir(parents=True, exist_ok=True)
    write_json_atomic(args.out, doc)
    args.out.with_suffix(".md").write_text(render_markdown(doc))
    print(f"wrote {args.out} and {args.out.with_suffix('.md')}")


if __name__ == "__main__":
    main()

"""Quality–size table: bytes per item vs NDCG@10 / Recall@10 for compressed item text vectors.

For each dataset the item vectors (all-MiniLM-L6-v2, 384-d fp32, from the embedding cache) are
compressed by one transform of :mod:`lmrec.features` — fp16, int8, PCA, BERT-whitening,
Matryoshka-style truncation, (O)PQ — **fitted on the training items only** (the split's warm
items) and applied to every item; the decoded float32 vectors then feed the unchanged models
(:func:`lmrec.pipeline.run_experiment`), so the only difference between rows is the
compression.

Protocols are those of ``bench/core_benchmark.py``: ``amazon-unisrec-scientific`` with the
UniSRec files and RecBole full sort (history kept), ``ml-latest-small`` leave-one-out by time,
full ranking, history excluded.

Embedding-KNN has no training, so every setting is run. SASRec-text costs minutes per run on
the 2-core machine, so it runs on a subset of settings with a fixed epoch budget (no early
stopping; the best validation epoch is kept) and one seed; the row's ``note`` says so.

Usage::

    LMREC_DATA_DIR=../shared/datasets python bench/compression.py [--sasrec-epochs 12 …]
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

RESULTS = Path(__file__).resolve().parent / "results"
DATASETS = ["amazon-unisrec-scientific", "ml-latest-small"]
PAPER_DATASET = "amazon-unisrec-scientific"
METRICS = ["recall@10", "ndcg@10", "recall@50", "ndcg@50"]

#: setting name → (method, create_transform kwargs); "fp32" is the uncompressed baseline.
SETTINGS = {
    "fp32-384": (None, {}),
    "fp16-384": ("fp16", {}),
    "int8-384": ("int8", {}),
    "pca-128": ("pca", {"dim": 128}),
    "pca-64": ("pca", {"dim": 64}),
    "whiten-128": ("whiten", {"dim": 128}),
    "truncate-128": ("truncate", {"dim": 128}),
    "truncate-64": ("truncate", {"dim": 64}),
    "opq-32B": ("pq", {"n_bytes": 32}),
    "opq-16B": ("pq", {"n_bytes": 16}),
}
SASREC_SETTINGS = {
    "amazon-unisrec-scientific": ["fp32-384", "int8-384", "pca-64", "truncate-64", "opq-32B"],
    "ml-latest-small": ["fp32-384", "int8-384", "pca-64", "opq-32B"],
}
#: Fixed SASRec-text epoch budget per dataset (one epoch ≈ 4 s on Scientific, ≈ 11 s on ml-latest-small here;
#: the early-stopped core benchmark runs peaked at epochs 27–54 and 5 respectively).
SASREC_EPOCHS = {"amazon-unisrec-scientific": 12, "ml-latest-small": 5}


def compress(vectors, train_rows, setting: str):
    """Fit the setting's transform on ``vectors[train_rows]``; return the decoded float32
    vectors of every item and facts about the transform."""
    import numpy as np

    from lmrec.features import create_transform

    method, kwargs = SETTINGS[setting]
    if method is None:
        return vectors, {"method": "none", "bytes_per_item": 4.0 * vectors.shape[1], "dim": vectors.shape[1],
                         "fit_s": 0.0}
    t0 = time.perf_counter()
    t = create_transform(method, **kwargs).fit(vectors[train_rows])
    fit_s = time.perf_counter() - t0
    out = t.transform(vectors)
    info = {"method": method, "transform": repr(t), "bytes_per_item": t.bytes_per_item, "dim": t.dim_out,
            "fit_s": round(fit_s, 2)}
    if out.shape[1] == vectors.shape[1]:
        num = (out * vectors).sum(1)
        den = np.linalg.norm(out, axis=1) * np.linalg.norm(vectors, axis=1)
        ok = den > 0
        info["mean_cosine_to_fp32"] = round(float(np.mean(num[ok] / den[ok])), 5)
    return out, info


def run(datasets: list[str], settings: list[str], sasrec_settings: dict[str, list[str]],
        sasrec_epochs: dict[str, int], seed: int) -> dict:
    import torch

    from core_benchmark import protocol_name
    from lmrec.data.registry import load_dataset
    from lmrec.data.splits import make_split
    from lmrec.evaluation.ranking import evaluate_ranking
    from lmrec.evaluation.results import environment_info
    from lmrec.pipeline import ExperimentConfig, encode_items, run_experiment

    torch.set_num_threads(2)
    rows, stats = [], {}
    for name in datasets:
        ds = load_dataset(name)
        stats[name] = ds.statistics()
        paper = name == PAPER_DATASET
        vectors, report = encode_items(ds, ExperimentConfig(dataset=name, model="embknn"))
        train_rows = make_split(ds, "auto", seed=seed).warm_items
        print(f"[{name}] {vectors.shape} vectors; transforms fitted on {int(train_rows.sum())} training items",
              flush=True)
        for setting in settings:
            vec, info = compress(vectors, train_rows, setting)
            models = ["embknn"] + (["sasrec-text"] if setting in sasrec_settings.get(name, []) else [])
            for model in models:
                epochs = sasrec_epochs.get(name, 10)
                # linear adaptor, dot scores pinned (the rows' setting; sasrec-text's name defaults came later)
                mp = ({"epochs": epochs, "patience": epochs, "text_adaptor": "linear", "scores": "dot"}
                      if model == "sasrec-text" else {})
                cfg = ExperimentConfig(dataset=name, model=model, seed=seed, exclude_history=not paper, model_params=mp)
                res = run_experiment(cfg, None, dataset=ds, item_vectors=vec, encode_report=report)
                protocols = [(not paper, res.metrics["metrics"]["test"], res.metrics["wall_s"])]
                if paper:  # same trained model under the history-excluded protocol, as in core_benchmark.py
                    t1 = time.perf_counter()
                    other = evaluate_ranking(res.model.score, res.split.test, res.split.n_items, ks=cfg.ks,
                                             exclude_history=True)
                    protocols.append((True, other["metrics"], res.metrics["wall_s"] + time.perf_counter() - t1))
                for excl, test, wall in protocols:
                    row = {"dataset": name, "model": model, "protocol": protocol_name(name, excl), "seed": seed,
                           "wall_s": round(wall, 1), "setting": setting,
                           "bytes_per_item": info["bytes_per_item"], "dim": info["dim"],
                           "metrics": {k: round(test[k], 5) for k in METRICS},
                           "compression": info, "model_config": res.metrics["model"]}
                    if model == "sasrec-text":
                        hist = res.model.history_
                        row.update(best_epoch=hist.get("best_epoch"), train_s=hist.get("train_seconds"),
                                   note=f"fixed budget of {epochs} epochs (no early stopping; best valid epoch kept), "
                                        "1 seed — shorter than the core benchmark's early-stopped runs")
                    rows.append(row)
                    print(f"[{name}] {setting:13s} {model:12s} {'excl' if excl else 'kept'} "
                          f"{info['bytes_per_item']:7.0f} B/item  "
                          + "  ".join(f"{k} {row['metrics'][k]:.4f}" for k in ("recall@10", "ndcg@10"))
                          + f"  ({row['wall_s']}s)", flush=True)
    return {"rows": rows, "dataset_statistics": stats, "versions": environment_info()}


def render_markdown(doc: dict) -> str:
    from lmrec.evaluation.results import format_table

    lines = [f"# {doc['table']}", "", f"Command: `{doc['command']}`", "", doc["note"], ""]
    for ds, proto in dict.fromkeys((r["dataset"], r["protocol"]) for r in doc["rows"]):
        rs = [r for r in doc["rows"] if r["dataset"] == ds and r["protocol"] == proto]
        lines += [f"## {ds} — {proto}", ""]
        base = {r["model"]: r["metrics"]["ndcg@10"] for r in rs if r["setting"] == "fp32-384"}
        table = []
        for r in rs:
            rel = r["metrics"]["ndcg@10"] / base[r["model"]] if base.get(r["model"]) else None
            table.append({"model": r["model"], "setting": r["setting"], "bytes/item": int(r["bytes_per_item"]),
                          "dim": r["dim"], "recall@10": f"{r['metrics']['recall@10']:.4f}",
                          "ndcg@10": f"{r['metrics']['ndcg@10']:.4f}",
                          "ndcg@10 vs fp32": f"{rel:.1%}" if rel is not None else "—",
                          "cos to fp32": r["compression"].get("mean_cosine_to_fp32", "—"),
                          "fit_s": f"{r['compression']['fit_s']:.1f}", "wall_s": f"{r['wall_s']:.1f}"})
        table.sort(key=lambda t: (t["model"] != "embknn", -t["bytes/item"], t["setting"]))
        lines += [format_table(table, list(table[0])), ""]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> None:
    from lmrec.evaluation.results import write_json_atomic

    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--datasets", nargs="+", default=DATASETS)
    ap.add_argument("--settings", nargs="+", default=list(SETTINGS), choices=list(SETTINGS))
    ap.add_argument("--sasrec-settings", nargs="*", default=None, metavar="DATASET:SETTING",
                    help="SASRec-text runs (default: a subset per dataset, see SASREC_SETTINGS; none: no SASRec)")
    ap.add_argument("--sasrec-epochs", nargs="*", default=None, metavar="DATASET:EPOCHS",
                    help="fixed SASRec-text epoch budget per dataset (default: SASREC_EPOCHS)")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--out", type=Path, default=RESULTS / "compression.json")
    ap.add_argument("--plot-only", action="store_true", help="Redraw OUT.png from the existing --out JSON.")
    args = ap.parse_args(argv)
    if args.plot_only:
        _plot(args.out)
        return
    if not os.environ.get("LMREC_DATA_DIR"):
        sys.exit("set LMREC_DATA_DIR (e.g. ../shared/datasets)")
    if args.sasrec_settings is None:
        sas = SASREC_SETTINGS
    else:
        sas = {}
        for p in args.sasrec_settings:
            ds, setting = p.split(":", 1)
            sas.setdefault(ds, []).append(setting)
    epochs = dict(SASREC_EPOCHS)
    for p in args.sasrec_epochs or []:
        ds, e = p.split(":", 1)
        epochs[ds] = int(e)
    t0 = time.perf_counter()
    result = run(args.datasets, args.settings, sas, epochs, args.seed)
    note = ("Transforms are fitted on the training items of the split only and applied to every item; models "
            "use the decoded float32 vectors (bytes/item is what a catalog stores: 4·dim for fp32 projections, "
            "2·dim fp16, dim int8, the code size for OPQ). Embedding-KNN: every setting. SASRec-text: a subset of "
            f"settings, a fixed epoch budget per dataset ({', '.join(f'{k}: {v}' for k, v in epochs.items())}; "
            "best validation epoch kept, no early stopping) and one seed, to fit the 2-core CPU budget — its fp32 row is therefore below the "
            "early-stopped numbers of core_sequential.md; compare rows within this table. all-MiniLM-L6-v2 is "
            "not Matryoshka-trained, so truncation is expected to lose more than PCA at the same size. "
            "Parametric whitening (UniSRec) equals BERT-whitening until a model trains it, so it has no row. "
            "ml-latest-small has only 610 test cases: Embedding-KNN's recall@10 of 0.0147 is 9 hits, so its "
            "differences there are a few hits each (noise-level); Scientific (8 442 cases) is the informative one.")
    doc = {"table": "Compression of item text vectors: bytes per item vs recommendation quality",
           "command": "python bench/compression.py " + " ".join(argv if argv is not None else sys.argv[1:]),
           "note": note, "total_wall_s": round(time.perf_counter() - t0, 1), **result}
    args.out.parent.mkdir(parents=True, exist_ok=True)
    write_json_atomic(args.out, doc)
    args.out.with_suffix(".md").write_text(render_markdown(doc))
    print(f"wrote {args.out} and {args.out.with_suffix('.md')}")
    _plot(args.out)


def _plot(out: Path) -> None:
    """Quality vs bytes per item from the JSON at ``out`` → ``out.png`` (needs matplotlib)."""
    import json

    sys.path.insert(0, str(Path(__file__).resolve().parent))
    from _plots import plot_compression

    plot_compression(json.loads(out.read_text()), out.with_suffix(".png"))


if __name__ == "__main__":
    main()

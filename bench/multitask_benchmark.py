"""Multi-task benchmark: joint ranking + rating model vs the two single-task models.

One model family (:class:`lmrec.models.multitask.MultiTask`: shared text-derived user and item
representations) trained three ways — jointly (``w_rank = w_rating = 1``), ranking only, and
rating only — on data with both signals. Reference rows: ``pop`` (ranking) and the training
mean rating (rating).

Split and protocol (no leakage):

* leave-one-out by time per user (users with < 3 interactions stay in training only): the last
  interaction → test, the second-last → valid, the rest → train;
* ranking: the core pipeline's full-ranking evaluation (:func:`lmrec.pipeline.evaluate_model`)
  of the held-out item, history excluded, NDCG@10 / Recall@10;
* rating: RMSE / MAE on the **same held-out (user, item, rating) triples** — the rating of each
  user's test item, predicted from the user's history (train + valid items) — so neither task
  ever trains on a test interaction. Valid triples drive early stopping of the rating-only model;
  the joint and ranking models early-stop on valid NDCG@10 (as every ranking model here).
  Ratings are averaged when a pair was rated twice; the split report counts held-out pairs that
  also occur in training (0 on these datasets).

Writes ``bench/results/multitask.json`` and ``multitask.md``.

Usage::

    LMREC_DATA_DIR=../shared/datasets python bench/multitask_benchmark.py [--datasets ml-100k] [--seeds 0]
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

RESULTS = Path(__file__).resolve().parent / "results"
DATASETS = ["ml-100k", "amazon2018-raw/Gift_Cards"]
VARIANTS = [  # (row name, MultiTask parameters)
    ("multitask (joint)", {"task": "joint", "rank_weight": 1.0, "rating_weight": 1.0}),
    ("ranking only", {"task": "ranking"}),
    ("rating only", {"task": "rating"}),
]
COMMON = {"epochs": 100, "patience": 5, "batch_size": 1024, "lr": 2e-3, "max_train_seconds": 40}
PROTOCOL = ("leave-one-out by time; ranking: full ranking, history excluded; rating: RMSE on the held-out "
            "test (user, item, rating) triples")


def run(datasets: list[str], seeds: list[int], common: dict | None = None) -> dict:
    import numpy as np
    import torch

    from lmrec.data.registry import load_dataset
    from lmrec.data.splits import make_split
    from lmrec.evaluation.results import environment_info
    from lmrec.models import TrainData, create_model
    from lmrec.models.multitask import evaluate_rating, split_ratings
    from lmrec.pipeline import ExperimentConfig, encode_items, evaluate_model
    from lmrec.seed import seed_everything

    torch.set_num_threads(2)
    rows, stats, splits = [], {}, {}
    for name in datasets:
        ds = load_dataset(name)
        stats[name] = ds.statistics()
        cfg = ExperimentConfig(dataset=name, model="multitask", split="leave-one-out")
        vectors, _ = encode_items(ds, cfg)
        for seed in seeds:
            split = make_split(ds, "leave-one-out", seed=seed)
            ratings = split_ratings(ds, split)
            splits[name] = {**split.describe(), "ratings": ratings.report}
            seed_cfg = ExperimentConfig(dataset=name, model="multitask", split="leave-one-out", seed=seed)
            # reference rows: popularity ranking, training-mean rating
            t0 = time.perf_counter()
            pop = create_model("pop").fit(TrainData(split=split, seed=seed))
            ranked = evaluate_model(pop, split, seed_cfg)["test"]
            train_mean = float(np.nanmean(np.concatenate(ratings.train)))
            mean_rating = evaluate_rating(lambda u, h, i: np.full(len(u), train_mean), split.test, ratings.test)
            rows.append(_row(name, "pop / training-mean rating", seed, time.perf_counter() - t0, ranked, mean_rating,
                             {"note": "reference: popularity ranking and the mean training rating"}))
            for label, params in VARIANTS:
                seed_everything(seed)
                t0 = time.perf_counter()
                model = create_model("multitask", **params, **(common or COMMON))
                model.fit(TrainData(split=split, item_vectors=vectors, seed=seed), ratings=ratings)
                ranked = evaluate_model(model, split, seed_cfg)["test"] if params["task"] != "rating" else None
                rated = (evaluate_rating(model.predict_rating, split.test, ratings.test)
                         if params["task"] != "ranking" else None)
                h = model.history_
                rows.append(_row(name, label, seed, time.perf_counter() - t0, ranked, rated, {
                    "best_epoch": h["best_epoch"], "epochs_run": len(h["epochs"]), "stopped": h["stopped"],
                    "train_s": h["train_seconds"], "task_weights": h["task_weights"],
                    "seconds_per_epoch": round(h["train_seconds"] / max(1, len(h["epochs"])), 2),
                    "model_config": {"name": "multitask", **model.config}}))
                r = rows[-1]["metrics"]
                print(f"[{name}] {label:20s} seed {seed}  ndcg@10 {r.get('ndcg@10', float('nan')):.4f}  "
                      f"rmse {r.get('rmse', float('nan')):.4f}  {len(h['epochs'])} epochs ({h['stopped']})  "
                      f"{rows[-1]['wall_s']}s", flush=True)
    return {"rows": rows, "dataset_statistics": stats, "splits": splits, "versions": environment_info()}


def _row(dataset: str, model: str, seed: int, wall: float, ranked: dict | None, rated: dict | None,
         extra: dict) -> dict:
    metrics: dict[str, float] = {}
    if ranked is not None:
        metrics.update({k: round(ranked["metrics"][k], 5) for k in ("ndcg@10", "recall@10", "ndcg@20", "recall@20")})
    if rated is not None and rated["rmse"] is not None:
        metrics.update(rmse=round(rated["rmse"], 5), mae=round(rated["mae"], 5))
    return {"dataset": dataset, "model": model, "protocol": PROTOCOL, "seed": seed, "wall_s": round(wall, 1),
            "metrics": metrics, "n_rated_test": None if rated is None else rated["n_ratings"], **extra}


def render_markdown(doc: dict) -> str:
    from lmrec.evaluation.results import format_table

    lines = [f"# {doc['table']}", "", f"Command: `{doc['command']}`", "", f"Protocol: {PROTOCOL}.", ""]
    lines += [f"- {n}" for n in doc["notes"]] + [""]
    for ds in dict.fromkeys(r["dataset"] for r in doc["rows"]):
        rows = []
        for r in doc["rows"]:
            if r["dataset"] != ds:
                continue
            m = r["metrics"]
            rows.append({"model": r["model"], "seed": r["seed"],
                         **{k: (f"{m[k]:.4f}" if k in m else "—") for k in ("ndcg@10", "recall@10", "rmse", "mae")},
                         "epochs": r.get("epochs_run", "—"), "stopped": r.get("stopped", "—"),
                         "wall_s": f"{r['wall_s']:.0f}"})
        sp = doc["splits"].get(ds, {})
        lines += [f"## {ds}", "", format_table(rows, list(rows[0])), "",
                  f"{sp.get('n_test_cases', '?')} test cases, {sp.get('ratings', {}).get('n_test_rated', '?')} rated "
                  f"test triples, {sp.get('ratings', {}).get('n_test_pairs_also_in_train', '?')} held-out pairs also "
                  "in training.", ""]
    lines += ["'—': the metric does not apply (that head is not trained in a single-task model).", ""]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> None:
    from lmrec.evaluation.results import write_json_atomic

    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--datasets", nargs="+", default=DATASETS)
    ap.add_argument("--seeds", nargs="+", type=int, default=[0])
    ap.add_argument("--epochs", type=int, default=COMMON["epochs"], help="max epochs per variant")
    ap.add_argument("--max-train-seconds", type=float, default=COMMON["max_train_seconds"],
                    help="wall-time cap per variant in seconds (0: none; use an epoch budget for equal training)")
    ap.add_argument("--out", type=Path, default=RESULTS / "multitask.json")
    args = ap.parse_args(argv)
    common = dict(COMMON, epochs=args.epochs, max_train_seconds=args.max_train_seconds)
    if not os.environ.get("LMREC_DATA_DIR"):
        sys.exit("set LMREC_DATA_DIR (e.g. ../shared/datasets)")
    result = run(args.datasets, args.seeds, common)
    command = "python bench/multitask_benchmark.py " + " ".join(argv if argv is not None else sys.argv[1:])
    doc = {"table": "Multi-task (ranking + rating) vs single-task models on shared text representations",
           "command": command.strip(),
           "notes": [f"{len(args.seeds)} seed(s); hyper-parameters {common} for every variant (a wall-time cap per "
                     "run, seconds, for the 2-core budget; 'stopped' says whether early stopping or the cap ended "
                     "it).",
                     "Item text: the default all-MiniLM-L6-v2 vectors of the dataset's default text fields."],
           **result}
    args.out.parent.mkdir(parents=True, exist_ok=True)
    write_json_atomic(args.out, doc)
    tmp = args.out.with_suffix(".md.tmp")
    tmp.write_text(render_markdown(doc))
    os.replace(tmp, args.out.with_suffix(".md"))
    print(f"wrote {args.out} and {args.out.with_suffix('.md')}")


if __name__ == "__main__":
    main()

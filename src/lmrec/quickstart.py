"""``lmrec quickstart``: the main job end to end on MovieLens, in a few minutes on 2 CPU cores.

1. find MovieLens in the data directory (ml-100k, else ml-latest-small), or download ml-100k;
2. encode the movie texts (title + genres) with the packaged all-MiniLM-L6-v2 (cached);
3. split with ``cold-start-items`` (leave-one-out, 10 % of movies removed from training);
4. train Pop, Embedding-KNN, SASRec-ID and SASRec-text (a fixed epoch budget with early
   stopping, so the numbers do not depend on machine load); full-ranking evaluation
   (history excluded);
5. print one comparison table (overall, warm-item and cold-item targets) and the
   recommendations of one user with titles.

Items without usable text (empty, or a placeholder such as ml-100k's movie titled "unknown")
follow the empty/placeholder-text policy (:func:`lmrec.pipeline.unrecommendable_items`): the
output says how many there are and never lists one as a recommendation.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Callable

PREFERRED = ("ml-100k", "ml-latest-small")
MODELS = ("pop", "embknn", "sasrec-id", "sasrec-text", "sasrec-text-id")


def find_movielens(data_dir: str | None, echo: Callable[[str], None]) -> tuple[Path, str]:
    """Data directory and dataset name to use; downloads ml-100k when none is found."""
    from lmrec.data.download import download_dataset
    from lmrec.data.registry import find_datasets

    root = Path(data_dir or os.environ.get("LMREC_DATA_DIR") or "data")
    names = {d.name for d in find_datasets(root)} if root.exists() else set()
    for name in PREFERRED:
        if name in names:
            return root, name
    echo(f"no MovieLens data in {root}; downloading ml-100k …")
    download_dataset("ml-100k", root)
    return root, "ml-100k"


def text_policy_line(text_report: dict) -> str:
    """One line on the empty/placeholder-text policy from an encode report's ``"text"`` block
    (:class:`lmrec.data.text.TextReport`): how many items it covers and a few placeholder examples."""
    n_empty, n_ph = int(text_report["n_empty"]), int(text_report.get("n_placeholder", 0))
    examples = ", ".join(f"{i} {t!r}" for i, t in list(text_report.get("placeholder_examples", {}).items())[:3])
    return (f"empty/placeholder-text policy: {n_empty} item(s) without usable text ({n_ph} placeholder"
            f"{': ' + examples if examples else ''}) → zero vector, never recommended unless seen in training "
            "by a model that learns from behaviour")


def run_quickstart(data_dir: str | None, out: Path, *, seed: int = 0, epochs: int = 40,
                   max_train_seconds: float = 0.0, echo: Callable[[str], None] = print) -> dict[str, dict]:
    """Run the quickstart; returns ``{model: metrics.json payload}``."""
    from lmrec.data.registry import load_dataset
    from lmrec.evaluation.results import format_table
    from lmrec.pipeline import ExperimentConfig, encode_items, load_run, recommend_for_user, run_experiment

    root, name = find_movielens(data_dir, echo)
    ds = load_dataset(name, root)
    s = ds.statistics()
    echo(f"dataset {name}: {s['n_users']} users, {s['n_items']} items, {s['n_interactions']} interactions "
         f"(text: {', '.join(s['text_fields'])})")
    base = dict(dataset=name, data_dir=str(root), split="cold-start-items", seed=seed, cold_frac=0.1)
    vectors, report = encode_items(ds, ExperimentConfig(model="embknn", **base), show_progress=True)
    t = report["text"]
    echo(f"encoded {vectors.shape[0]} items × {vectors.shape[1]} dims with {report['encoder'].get('model', 'encoder')} "
         f"in {report['wall_s']} s (empty texts: {t['n_empty']}, truncated: {t['n_truncated']})")
    echo(text_policy_line(t))
    results, rows = {}, []
    for model in MODELS:
        # A few-minute demo: MovieLens histories are long, so every position of 128 windows per step
        # (lmrec's earlier defaults); the default recipe's 2048 windows make one step per epoch here.
        params = {"max_train_seconds": max_train_seconds, "epochs": epochs, "patience": 5,
                  "train_negatives": "train_items", "train_target": "all-positions", "batch_size": 128,
                  "lr": 2e-3, "init": "torch"} \
            if model.startswith("sasrec") else {}
        echo(f"\n== {model}")
        cfg = ExperimentConfig(model=model, model_params=params, **base)
        res = run_experiment(cfg, out / model, show_progress=True, dataset=ds, item_vectors=vectors,
                             encode_report=report)
        results[model] = res.metrics
        test = res.metrics["metrics"]["test"]
        sl = res.metrics["slices"]["test"]
        rows.append({
            "model": model, "recall@10": round(test["recall@10"], 4), "ndcg@10": round(test["ndcg@10"], 4),
            "mrr@10": round(test["mrr@10"], 4),
            "warm ndcg@10": round(sl["warm_items"]["metrics"]["ndcg@10"], 4) if "warm_items" in sl else None,
            "cold recall@10": round(sl["cold_items"]["metrics"]["recall@10"], 4) if "cold_items" in sl else None,
            "cold ndcg@10": round(sl["cold_items"]["metrics"]["ndcg@10"], 4) if "cold_items" in sl else None,
            # cases whose (last item -> target) pair never occurs in training: no pair for an ID model to memorise
            "unseen-transition recall@10": round(sl["unseen_transition"]["metrics"]["recall@10"], 4)
            if sl.get("unseen_transition", {}).get("n_cases") else None,
            "wall_s": f"{res.metrics['wall_s']:.1f}",
        })
        hist = res.model.history_
        if hist:
            echo(f"best epoch {hist['best_epoch']} of {len(hist['epochs'])}, stopped by {hist['stopped']}")
    split = res.split.describe()
    echo(f"\n## {name}: full ranking over {ds.n_items} items, history excluded, seed {seed}")
    echo(f"split: cold-start-items ({split['n_cold_items']} cold items, "
         f"{split['n_test_targets_cold']} of {split['n_test_cases']} test targets cold)\n")
    echo(format_table(rows, list(rows[0])))
    run = load_run(out / "sasrec-text", str(root))
    user = ds.user_map.external(int(run.split.test.users[0]))
    echo(f"\nTop 10 for user {user} (SASRec-text; 'cold' = never seen in training):")
    from lmrec.data.splits import user_sequences

    seq = user_sequences(ds)[0][ds.user_map.index(user)]
    titles = ds.item_titles()
    echo("  recently watched: " + " | ".join(titles[i] for i in seq[-5:]))
    recs = recommend_for_user(run, user, 10)
    echo(format_table([{**r, "score": round(r["score"], 3), "cold": "cold" if r["cold"] else ""} for r in recs],
                      ["rank", "title", "score", "cold"]))
    n_out = int(run.unrecommendable.sum()) if run.unrecommendable is not None else 0
    echo(f"({n_out} item(s) without usable text left out of every list: the empty/placeholder-text policy)")
    echo(f"\nruns written to {out}/<model>/metrics.json")
    return results

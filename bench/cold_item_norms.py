"""Why memorising models rank new items lower: the norm of their item rows (issue 13, cold-start items).

On the ``NAME+cold-start-items`` keys of ``bench/text_vs_id.py`` the models that can memorise
items (text + ID, the MLP text adaptor) lose on cold targets against the linear text adaptor.
This script reads the saved runs of that bench (``.cache/bench/models/``; machine-local, made
by ``bench/text_vs_id.py``) and, per run:

* measures the mean L2 norm of the item rows the scores are computed with
  (``net.item_table()``, ``[n_items, hidden]``) over warm and over cold items;
* ranks the test cases twice (full ranking, the run's own history protocol): as trained, and
  with every cold item's row multiplied by one factor per run, ``mean warm norm / mean cold
  norm`` (no training; the Transformer still reads the unchanged rows).

If cold items lose because their rows are shorter, the rescaled ranking gets their targets back;
whether the whole ranking gains is the paired interval over all test cases. Writes
``bench/results/cold_item_norms.{json,md}``::

    LMREC_DATA_DIR=../shared/datasets python bench/cold_item_norms.py \\
        --datasets amazon-unisrec-scientific+cold-start-items --variants sasrec-text sasrec-text@mlp --seeds 0 1 2
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent
sys.path.insert(0, str(ROOT))

from text_vs_id import MODELS_DIR, RESULTS, slug  # noqa: E402

OUT = RESULTS / "cold_item_norms.json"
SCORINGS = ("as trained", "cold rows rescaled to the warm mean norm")


def norms_and_ranks(run, rescale: bool) -> tuple[dict, dict]:
    """Warm / cold mean row norms and the test ranking of one saved SASRec run.

    Returns ``(norms, evaluation)``: ``norms`` = ``{"norm_warm", "norm_cold", "scale"}`` (floats;
    ``scale`` is the factor applied to cold rows when ``rescale``, else 1.0) and the
    :func:`lmrec.evaluation.ranking.evaluate_ranking` result with warm / cold slices and
    per-case metrics.
    """
    import torch

    from lmrec.evaluation.ranking import evaluate_ranking
    from lmrec.training.sequences import left_pad

    net, split = run.model.net_, run.split
    net.eval()
    cold = torch.from_numpy(~split.warm_items)
    with torch.inference_mode():
        table = net.item_table()
        norms = table[1:split.n_items + 1].norm(dim=1)
        norm_warm, norm_cold = float(norms[~cold].mean()), float(norms[cold].mean())
        scale = norm_warm / norm_cold if rescale else 1.0
        rows = table[1:split.n_items + 1] * torch.where(cold, scale, 1.0)[:, None]

    def score(users: np.ndarray, histories: list[np.ndarray]) -> np.ndarray:
        with torch.inference_mode():
            seq = torch.from_numpy(left_pad(histories, run.model.config["max_len"]))
            return (net(seq, table)[:, -1] @ rows.T).float().numpy()

    ev = evaluate_ranking(score, split.test, split.n_items, ks=(10,), exclude_history=run.config.exclude_history,
                          item_slices=split.item_slices(), return_per_case=True)
    return {"norm_warm": norm_warm, "norm_cold": norm_cold, "scale": scale}, ev


def measure(dataset: str, variant: str, seed: int) -> tuple[list[dict], np.ndarray]:
    """The two rows (one per :data:`SCORINGS`) of one saved run and the paired per-case recall@10
    differences (rescaled − as trained, ``float64 [n_test_cases]``).

    Raises
    ------
    FileNotFoundError
        If the run is not saved (the message gives the bench command that makes it).
    """
    from lmrec.pipeline import load_run

    path = MODELS_DIR / slug(dataset, variant, seed)
    if not (path / "model" / "config.json").exists():
        raise FileNotFoundError(f"{path}: no saved run; make it with python bench/text_vs_id.py --datasets {dataset} "
                                f"--variants {variant} --seeds {seed}")
    run = load_run(path)
    rows, per_case = [], []
    for scoring in SCORINGS:
        t0 = time.perf_counter()
        norms, ev = norms_and_ranks(run, rescale=scoring != SCORINGS[0])
        slices = {s: ev["slices"].get(s, {}) for s in ("cold_items", "warm_items")}
        rows.append({
            "dataset": dataset, "model": variant, "scoring": scoring, "seed": seed,
            "protocol": f"{run.split.name}; full ranking; history "
                        f"{'excluded' if run.config.exclude_history else 'kept'}",
            "wall_s": round(time.perf_counter() - t0, 1),
            "metrics": {k: round(float(ev["metrics"][k]), 5) for k in ("recall@10", "ndcg@10")},
            **{s: {"n_cases": v.get("n_cases", 0), "recall@10": round(float(v.get("metrics", {}).get("recall@10", 0)), 5)}
               for s, v in slices.items()},
            **{k: round(v, 4) for k, v in norms.items()},
        })
        per_case.append(np.asarray(ev["per_case"]["recall@10"], dtype=np.float64))
    return rows, per_case[1] - per_case[0]


def render(doc: dict) -> str:
    """Markdown: per dataset and variant, the seed means of both scorings and the paired interval."""
    out = [f"# {doc['table']}", "", f"Command: `{doc['command']}`", "",
           "Norms: mean L2 norm of the score-side item rows, warm / cold. R@10 columns: all / cold / warm test cases "
           "(means of the seeds' values, so cold / warm differ slightly from text_vs_id.md's pooled slices). "
           "Δ: rescaled − as trained, recall@10 over all test cases, paired bootstrap 95 % interval over the cases "
           "of every seed.", "",
           "| dataset | model | seeds | norm warm / cold | R@10 as trained | R@10 cold rows rescaled | Δ R@10 |",
           "| :-- | :-- | --: | :-- | :-- | :-- | :-- |"]
    for s in doc["summary"]:
        out.append(f"| {s['dataset']} | {s['model']} | {s['seeds']} | {s['norm_warm']:.3f} / {s['norm_cold']:.3f} | "
                   f"{' / '.join(f'{x:.4f}' for x in s['as trained'])} | "
                   f"{' / '.join(f'{x:.4f}' for x in s['rescaled'])} | "
                   f"{s['delta']:+.4f} [{s['low']:+.4f}, {s['high']:+.4f}] |")
    if doc.get("missing"):
        out += ["", "No saved run (skipped): " + "; ".join(f"{m['dataset']} {m['model']} seed {m['seed']}"
                                                           for m in doc["missing"]) + "."]
    return "\n".join(out) + "\n"


def summarise(rows: list[dict], deltas: dict) -> list[dict]:
    """Seed means per (dataset, model) and the paired interval of the rescaled ranking."""
    from lmrec.evaluation.significance import paired_interval

    out = []
    for key in dict.fromkeys((r["dataset"], r["model"]) for r in rows):
        mine = [r for r in rows if (r["dataset"], r["model"]) == key]

        def means(scoring):
            sel = [r for r in mine if r["scoring"] == scoring]
            return [float(np.mean([r[part]["recall@10"] for r in sel])) for part in ("metrics", "cold_items", "warm_items")]

        diff = np.concatenate([deltas[(*key, r["seed"])] for r in mine if r["scoring"] == SCORINGS[0]])
        ci = paired_interval(diff, np.zeros_like(diff))
        first = [r for r in mine if r["scoring"] == SCORINGS[0]]
        out.append({"dataset": key[0], "model": key[1], "seeds": len(first),
                    "norm_warm": float(np.mean([r["norm_warm"] for r in first])),
                    "norm_cold": float(np.mean([r["norm_cold"] for r in first])),
                    "as trained": means(SCORINGS[0]), "rescaled": means(SCORINGS[1]),
                    "delta": float(ci["diff"]), "low": float(ci["low"]), "high": float(ci["high"])})
    return out


def main(argv: list[str] | None = None) -> None:
    import torch

    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--datasets", nargs="+", required=True, help="text_vs_id dataset keys (NAME+cold-start-items)")
    ap.add_argument("--variants", nargs="+", required=True, help="text_vs_id variants with saved runs")
    ap.add_argument("--seeds", nargs="+", type=int, default=[0, 1, 2])
    ap.add_argument("--threads", type=int, default=2)
    args = ap.parse_args(argv)
    torch.set_num_threads(args.threads)
    rows, deltas, missing = [], {}, []
    for dataset in args.datasets:
        for variant in args.variants:
            for seed in args.seeds:
                try:
                    r, d = measure(dataset, variant, seed)
                except FileNotFoundError as exc:  # not every variant runs on every dataset: say so, go on
                    print(f"skipped: {exc}", flush=True)
                    missing.append({"dataset": dataset, "model": variant, "seed": seed})
                    continue
                rows += r
                deltas[(dataset, variant, seed)] = d
                print(json.dumps(r[0]["metrics"]), json.dumps(r[1]["metrics"]), dataset, variant, seed, flush=True)
    doc = {"table": "Cold-start items: norms of item rows and cold rows rescaled at inference (issue 13)",
           "command": "python bench/cold_item_norms.py " + " ".join(sys.argv[1:] if argv is None else argv),
           "rows": rows, "summary": summarise(rows, deltas), "missing": missing,
           "versions": {"torch": torch.__version__, "numpy": np.__version__}}
    from lmrec.evaluation.results import write_json_atomic

    write_json_atomic(OUT, doc)
    tmp = OUT.with_suffix(".md.tmp")
    tmp.write_text(render(doc))
    os.replace(tmp, OUT.with_suffix(".md"))
    print(render(doc))


if __name__ == "__main__":
    main()

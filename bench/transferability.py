"""Transferability from item texts: how close each source domain is to each target domain.

Runs :func:`lmrec.transfer_report.build_transfer_report` (what ``lmrec transfer-report`` runs)
on the Amazon domains of the shared data and writes ``bench/results/transferability.{json,md,png}``:
one row per (source, target) pair with source ≠ target, ``metrics`` = centroid cosine of the
mean L2-normalised item vectors, unbiased RBF MMD² (median bandwidth, ≤ 2,000 items per side,
seeded; Gretton et al., JMLR 2012), share of target items whose nearest source item has cosine
≥ 0.8, and the mean nearest-source cosine. Items are encoded with the default encoder
(all-MiniLM-L6-v2) through the embedding cache, exactly as ``lmrec train`` encodes them.

    LMREC_DATA_DIR=../shared/datasets python bench/transferability.py
    python bench/transferability.py --plot-only        # redraw the PNG from the committed JSON

``--pretrained DIR`` (a ``lmrec pretrain`` UniSRec directory) adds the MoE expert usage per
domain; ``--gains FILE`` a gain column from a results JSON whose rows name their ``source``.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path

TARGETS = ["amazon-unisrec-scientific", "amazon-food-kitchen-llmcdsr:food", "amazon-food-kitchen-llmcdsr:kitchen"]
SOURCES = TARGETS + ["amazon-lcrec/Scientific"]
OUT = Path(__file__).resolve().parent / "results" / "transferability.json"
METRICS = ("centroid_cosine", "mmd_rbf", "nn_close_share", "nn_mean_cosine")


def _usage_note(usage: dict) -> str:
    pre = usage["pretraining"]
    cfg = pre["config"]
    return (f"Expert usage: MoE gate (eval mode) of the UniSRec pre-training in {usage['pretrained']}, made with "
            f"`lmrec pretrain --domains {','.join(pre['source_datasets'] or [])} --target amazon-unisrec-scientific "
            f"--max-users-per-domain {pre['max_users_per_domain']} --epochs {cfg['epochs']} --max-train-seconds "
            f"{cfg['max_train_seconds']:g} --seed {cfg['seed']}` ({pre['epochs_run']} epochs ran within the time "
            f"cap; {pre['wall_s']} s in all). Usage is the mean gate weight per expert over each domain's "
            "whole catalogue.")


def to_doc(report: dict, command: str) -> dict:
    """The results document (checker shape) of a report from ``build_transfer_report``."""
    from lmrec.evaluation.results import environment_info

    model = str(report["encoder"].get("model", "text encoder")).rsplit("/", 1)[-1]
    rows = [{"dataset": p["target"], "model": f"source={p['source']}",
             "protocol": f"item-text similarity ({model})", "seed": report["settings"]["seed"],
             "wall_s": p["wall_s"], "metrics": {k: round(float(p[k]), 5) for k in METRICS},
             "n_source_items": p["n_source"], "n_target_items": p["n_target"],
             "n_source_empty": p["n_source_empty"], "n_target_empty": p["n_target_empty"],
             "mmd_bandwidth": round(p["mmd_bandwidth"], 5), "nn_backend": p["nn_backend"]}
            for p in report["pairs"]]
    return {"table": "Transferability from item texts: source → target similarity (Amazon domains)",
            "command": command, "rows": rows,
            "notes": ["No published numbers exist for these scores on these domains; the table describes the "
                      "data, it does not rank models.",
                      "amazon-lcrec/Scientific and amazon-unisrec-scientific hold the same products "
                      "(lmrec.data.multidomain.check_domain_overlap refuses the pair for pre-training): the "
                      "pair is the 'same domain' reference point.",
                      "The existing transfer tables (leave_one_domain_out, transfer_scientific) pre-train on "
                      "five source domains at once and their rows name no single source, so no per-pair gain "
                      "column can be filled from them.",
                      "wall_s: the similarity scores of the pair (item vectors come from the embedding cache; "
                      f"the whole report took {report['wall_s']} s including loading and encoding)."]
            + ([_usage_note(report["expert_usage"])] if report.get("expert_usage") else []),
            "report": report, "versions": environment_info()}


def to_markdown(doc: dict) -> str:
    from lmrec.transfer_report import render_transfer_markdown

    lines = [f"# {doc['table']}", "", f"Command: `{doc['command']}`", ""]
    lines += [f"Note: {n}" for n in doc["notes"]] + [""]
    return "\n".join(lines) + "\n" + render_transfer_markdown(doc["report"])


def write(doc: dict, out: Path) -> None:
    from lmrec.evaluation.results import write_json_atomic
    from lmrec.transfer_report import plot_transfer_heatmap

    write_json_atomic(out, doc)
    md = out.with_suffix(".md")
    tmp = md.with_name(f".{md.name}.tmp")
    tmp.write_text(to_markdown(doc), encoding="utf-8")
    tmp.replace(md)
    plot_transfer_heatmap(doc["report"], out.with_suffix(".png"))
    print(f"wrote {out}, {md.name}, {out.with_suffix('.png').name}", flush=True)


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    ap.add_argument("--targets", default=",".join(TARGETS))
    ap.add_argument("--sources", default=",".join(SOURCES))
    ap.add_argument("--gains", default=None, help="Results JSON whose rows name a 'source'/'sources'.")
    ap.add_argument("--baseline-model", default=None)
    ap.add_argument("--pretrained", default=None, help="`lmrec pretrain` UniSRec directory (expert usage).")
    ap.add_argument("--threshold", type=float, default=0.8)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--out", type=Path, default=OUT)
    ap.add_argument("--plot-only", action="store_true", help="Redraw OUT.png from the existing --out JSON.")
    args = ap.parse_args(argv)
    if args.plot_only:
        from lmrec.transfer_report import plot_transfer_heatmap

        plot_transfer_heatmap(json.loads(args.out.read_text())["report"], args.out.with_suffix(".png"))
        return
    if not os.environ.get("LMREC_DATA_DIR"):
        sys.exit("set LMREC_DATA_DIR to the shared datasets folder")
    from lmrec.transfer_report import build_transfer_report

    report = build_transfer_report(args.targets.split(","), args.sources.split(","), gains=args.gains,
                                   baseline_model=args.baseline_model, pretrained=args.pretrained,
                                   threshold=args.threshold, seed=args.seed)
    command = "python bench/transferability.py " + " ".join(argv if argv is not None else sys.argv[1:])
    write(to_doc(report, command.strip()), args.out)


if __name__ == "__main__":
    main()

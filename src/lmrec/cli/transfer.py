"""``lmrec pretrain`` / ``finetune`` / ``transfer`` / ``transfer-report``: thin wrappers of
:mod:`lmrec.transfer` and :mod:`lmrec.transfer_report`."""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer

from lmrec.cli._common import USER_ERRORS, DataDir, fail as _fail


def _print_metrics(result: dict) -> None:
    from lmrec.evaluation.results import format_table

    m = result["metrics"]
    rows = [{"split": p, **{k: round(v, 4) for k, v in m[p].items()
                            if k.split("@")[0] in ("recall", "ndcg") and k.endswith(("@10", "@50"))}}
            for p in ("valid", "test")]
    typer.echo(format_table(rows, list(rows[0])))


def pretrain(domains: str = typer.Option(..., "--domains", help="Comma-separated source dataset names."),
             out: Path = typer.Option(..., "--out", help="Directory for the pre-trained model."),
             model: str = typer.Option("unisrec", help="unisrec | zesrec"),
             target: Optional[str] = typer.Option(None, help="Dataset to transfer to later: refuse sources of its "
                                                             "domain, remove shared items."),
             encoder: Optional[str] = typer.Option(None, help="Encoder name or local path."),
             data_dir: Optional[str] = DataDir,
             max_users_per_domain: Optional[int] = typer.Option(None, help="Sample at most this many users per domain."),
             epochs: int = typer.Option(100, help="Epoch cap (early stopping usually ends sooner)."),
             patience: int = typer.Option(10, help="Stop after N epochs without a better held-out NDCG@10 (0 = off)."),
             valid_users: int = typer.Option(500, help="Held-out users per source domain (≤ 10 % of its users; "
                                                       "0 = no validation)."),
             checkpoint: Optional[Path] = typer.Option(None, "--checkpoint",
                                                       help="Resumable checkpoint, written after every epoch; rerun "
                                                            "the same command to resume."),
             max_train_seconds: float = typer.Option(0.0, help="Wall-time budget in seconds (0 = none)."),
             seed: int = typer.Option(0, help="Seed for everything.")) -> None:
    """Pre-train UniSRec (or ZESRec) on several domains at once, to convergence on held-out source
    users; writes OUT/config.json + weights."""
    from lmrec.transfer import run_pretrain

    try:
        path = run_pretrain([d.strip() for d in domains.split(",") if d.strip()], out, model=model, target=target,
                            encoder=encoder, data_dir=data_dir, max_users_per_domain=max_users_per_domain,
                            epochs=epochs, patience=patience, valid_users=valid_users, checkpoint=checkpoint,
                            max_train_seconds=max_train_seconds, seed=seed, echo=typer.echo)
    except USER_ERRORS as exc:
        _fail(exc)
    typer.echo(f"wrote {path}")


def finetune(from_dir: Path = typer.Option(..., "--from", help="Directory written by `lmrec pretrain`."),
             dataset: str = typer.Option(..., "--dataset", help="Target dataset."),
             mode: str = typer.Option("inductive", help="inductive (text only) | transductive (text + ID)"),
             train_transformer: bool = typer.Option(False, "--train-transformer",
                                                    help="Also train the Transformer (default: frozen, as UniSRec)."),
             out: Optional[Path] = typer.Option(None, "--out", help="Run directory for metrics.json and the model."),
             encoder: Optional[str] = typer.Option(None, help="Must be the pre-training encoder."),
             data_dir: Optional[str] = DataDir,
             include_history: bool = typer.Option(False, "--include-history",
                                                  help="Keep history items as candidates (RecBole full sort)."),
             train_fraction: float = typer.Option(1.0, help="Share of target training users kept (few-shot)."),
             epochs: int = typer.Option(100, help="Max epochs."),
             max_train_seconds: float = typer.Option(0.0, help="Training time budget in seconds (0 = none)."),
             seed: int = typer.Option(0, help="Seed for everything.")) -> None:
    """Fine-tune a pre-trained UniSRec on a target dataset and evaluate it."""
    from lmrec.transfer import run_finetune

    try:
        res = run_finetune(from_dir, dataset, mode=mode, train_transformer=train_transformer, out=out,
                           encoder=encoder, data_dir=data_dir, include_history=include_history, seed=seed,
                           train_fraction=train_fraction, epochs=epochs, max_train_seconds=max_train_seconds,
                           show_progress=True)
    except USER_ERRORS as exc:
        _fail(exc)
    _print_metrics(res)
    if out is not None:
        typer.echo(f"wrote {out / 'metrics.json'}")


def transfer(from_dir: Path = typer.Option(..., "--from", help="Directory written by `lmrec pretrain`."),
             dataset: str = typer.Option(..., "--dataset", help="Target dataset (never trained on)."),
             out: Optional[Path] = typer.Option(None, "--out", help="Run directory for metrics.json."),
             encoder: Optional[str] = typer.Option(None, help="Must be the pre-training encoder."),
             data_dir: Optional[str] = DataDir,
             include_history: bool = typer.Option(False, "--include-history",
                                                  help="Keep history items as candidates (RecBole full sort).")) -> None:
    """Zero-shot evaluation on a new domain: no target training data is read (asserted)."""
    from lmrec.transfer import run_transfer

    try:
        res = run_transfer(from_dir, dataset, out=out, encoder=encoder, data_dir=data_dir,
                           include_history=include_history)
    except USER_ERRORS as exc:
        _fail(exc)
    _print_metrics(res)
    typer.echo("target training data read: 0 times (zero-shot)")
    if out is not None:
        typer.echo(f"wrote {out / 'metrics.json'}")


def transfer_report(targets: str = typer.Option(..., "--targets", help="Comma-separated target dataset names."),
                    sources: str = typer.Option(..., "--sources", help="Comma-separated source dataset names "
                                                                       "(pairs with source = target are skipped)."),
                    out: Path = typer.Option(..., "--out", help="Directory for transfer_report.{json,md} and "
                                                                "transfer_heatmap.png."),
                    gains: Optional[Path] = typer.Option(None, "--gains", help="Results JSON whose rows name a "
                                                         "'source'/'sources': the gain column."),
                    gain_metric: str = typer.Option("ndcg@10", "--gain-metric", help="Metric of the gain."),
                    baseline_model: Optional[str] = typer.Option(None, "--baseline-model",
                                                                 help="Model of the baseline rows in --gains "
                                                                      "(needed when several qualify)."),
                    pretrained: Optional[Path] = typer.Option(None, "--pretrained",
                                                              help="`lmrec pretrain` UniSRec directory: per-domain "
                                                                   "MoE expert usage."),
                    encoder: Optional[str] = typer.Option(None, help="Encoder name or local path (default: "
                                                                     "all-MiniLM-L6-v2)."),
                    data_dir: Optional[str] = DataDir,
                    cache_dir: Optional[str] = typer.Option(None, help="Embedding cache (default $LMREC_CACHE_DIR)."),
                    threshold: float = typer.Option(0.8, help="Cosine at which a target item's nearest source "
                                                              "item counts as close."),
                    seed: int = typer.Option(0, help="Seed of the MMD subsample.")) -> None:
    """Source → target matrix of item-text similarity (centroid cosine, MMD, nearest-neighbour share),
    transfer gains and MoE expert usage; writes OUT/transfer_report.{json,md} and a heat-map PNG."""
    from lmrec.transfer_report import run_transfer_report

    try:
        _, paths = run_transfer_report(targets.split(","), sources.split(","), out, gains=gains,
                                       gain_metric=gain_metric, baseline_model=baseline_model,
                                       pretrained=pretrained, encoder=encoder, data_dir=data_dir,
                                       cache_dir=cache_dir, threshold=threshold, seed=seed, echo=typer.echo)
    except USER_ERRORS as exc:
        _fail(exc)
    for kind in ("json", "md", "png"):
        if paths[kind] is not None:
            typer.echo(f"wrote {paths[kind]}")
    if paths["png"] is None:
        typer.echo("note: heat-map skipped: matplotlib is not installed (pip install 'lmrec[bench]')", err=True)

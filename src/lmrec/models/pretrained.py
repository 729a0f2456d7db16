"""A pre-trained transfer model on disk: config + weights + the identity of its text encoder.

Directory layout (cf. Hugging Face ``save_pretrained`` / ``from_pretrained``)::

    config.json         {"kind": "unisrec" | "zesrec", "config": {...architecture...},
                         "text_dim", "encoder": {identity}, "encoder_hash", "pretraining": {...}}
    model.safetensors   weights (domain-independent: no item table is stored)

A model trained on vectors of one text encoder is meaningless on another encoder's vectors,
so :meth:`PretrainedModel.from_pretrained` refuses, with a message naming both encoders, to
load for a different encoder.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

KINDS = ("unisrec", "zesrec")
FORMAT_VERSION = 1


class EncoderMismatchError(ValueError):
    """The pre-trained model was trained on another text encoder's vectors."""


@dataclass
class PretrainedModel:
    """Weights of a multi-domain pre-training and what is needed to reuse them.

    Attributes
    ----------
    kind:
        ``"unisrec"`` or ``"zesrec"``.
    config:
        Architecture hyper-parameters (JSON-serialisable).
    state:
        ``{name: torch.Tensor}`` weights.
    text_dim:
        Size of the text vectors it expects.
    encoder:
        ``TextEncoder.identity()`` of the encoder whose vectors it was trained on.
    encoder_hash:
        ``TextEncoder.identity_hash()`` of that encoder.
    pretraining:
        Report of the pre-training (domains, epochs, losses, wall time, overlap checks).
    path:
        Directory it was loaded from / saved to (``None`` in memory).
    """

    kind: str
    config: dict[str, Any]
    state: dict[str, Any]
    text_dim: int
    encoder: dict[str, Any]
    encoder_hash: str
    pretraining: dict[str, Any] = field(default_factory=dict)
    path: Path | None = None

    def save_pretrained(self, path: str | os.PathLike) -> Path:
        """Write ``config.json`` and ``model.safetensors`` into ``path`` (each atomically)."""
        from lmrec.evaluation.results import write_json_atomic
        from lmrec.training.checkpoint import save_state

        path = Path(path)
        path.mkdir(parents=True, exist_ok=True)
        save_state(path / "model.safetensors", self.state)
        write_json_atomic(path / "config.json", {
            "format_version": FORMAT_VERSION, "kind": self.kind, "config": self.config, "text_dim": self.text_dim,
            "encoder": self.encoder, "encoder_hash": self.encoder_hash, "pretraining": self.pretraining})
        self.path = path
        return path

    @classmethod
    def from_pretrained(cls, path: str | os.PathLike, encoder=None) -> "PretrainedModel":
        """Load from ``path``; with ``encoder`` (a ``TextEncoder``), check it is the training encoder.

        Raises
        ------
        FileNotFoundError
            If ``path`` has no ``config.json`` / ``model.safetensors``.
        EncoderMismatchError
            (a ``ValueError``) If ``encoder`` differs from the encoder of the pre-training.
        ValueError
            For an unknown kind or format version.
        """
        from lmrec.training.checkpoint import load_state

        path = Path(path)
        cfg_path = path / "config.json"
        if not cfg_path.is_file():
            raise FileNotFoundError(f"no pre-trained model at {path} (missing config.json); create one with "
                                    "`lmrec pretrain --domains A,B --out DIR`")
        cfg = json.loads(cfg_path.read_text())
        if cfg.get("kind") not in KINDS or cfg.get("format_version") != FORMAT_VERSION:
            raise ValueError(f"{cfg_path}: not an lmrec pre-trained model (kind {cfg.get('kind')!r}, "
                             f"format {cfg.get('format_version')!r})")
        model = cls(kind=cfg["kind"], config=cfg["config"], state=load_state(path / "model.safetensors"),
                    text_dim=int(cfg["text_dim"]), encoder=cfg["encoder"], encoder_hash=cfg["encoder_hash"],
                    pretraining=cfg.get("pretraining", {}), path=path)
        if encoder is not None:
            model.check_encoder(encoder)
        return model

    def check_encoder(self, encoder) -> None:
        """Raise :class:`EncoderMismatchError` unless ``encoder`` has the training encoder's identity."""
        if encoder.identity_hash() != self.encoder_hash:
            theirs = encoder.identity()
            raise EncoderMismatchError(
                f"{self.path or 'pre-trained model'} was trained on vectors of encoder "
                f"{self.encoder.get('model')!r} (identity {self.encoder_hash}, dim {self.text_dim}); it cannot be "
                f"used with encoder {theirs.get('model')!r} (identity {encoder.identity_hash()}, dim "
                f"{theirs.get('dim')}). Use the same --encoder as for `lmrec pretrain`, or pre-train again")

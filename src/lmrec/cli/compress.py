"""``lmrec compress``: fit a compression transform on training items and encode an item table."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Optional

import typer


def compress(method: str = typer.Option(..., "--method",
                                        help="pca | whiten | param-whiten | pq | truncate | int8 | fp16"),
             out: Path = typer.Option(..., "--out", help="Directory for transform/ and codes.npy."),
             dim: Optional[int] = typer.Option(None, "--dim", help="Output dimension (pca, whiten, truncate)."),
             n_bytes: Optional[int] = typer.Option(None, "--bytes", help="Bytes per item (pq; default 32)."),
             vectors: Optional[Path] = typer.Option(None, "--vectors",
                                                    help="float32 [n_items, dim] .npy (e.g. from `lmrec encode --out`)."),
             fit_mask: Optional[Path] = typer.Option(None, "--fit-mask",
                                                     help="bool [n_items] .npy: rows to fit on (with --vectors; "
                                                          "default all rows)."),
             dataset: Optional[str] = typer.Option(None, "--dataset",
                                                   help="Use this dataset's cached item vectors; fit on the items "
                                                        "of its training split."),
             data_dir: Optional[str] = typer.Option(None, "--data-dir", help="Data directory (default: $LMREC_DATA_DIR)."),
             encoder: Optional[str] = typer.Option(None, help="Encoder for --dataset (default all-MiniLM-L6-v2)."),
             param: list[str] = typer.Option([], "--param", help="Transform hyper-parameter key=value (repeatable)."),
             overwrite: bool = typer.Option(False, "--overwrite", help="Replace an existing --out.")) -> None:
    """Fit a transform on training items only, then write OUT/transform/ and OUT/codes.npy."""
    import numpy as np

    from lmrec.cli._common import USER_ERRORS, fail as _fail, parse_params as _parse_params, refuse_existing
    from lmrec.features import compress_vectors

    try:
        refuse_existing(out, overwrite)
        if (vectors is None) == (dataset is None):
            raise ValueError("pass exactly one of --vectors FILE.npy or --dataset NAME")
        if dataset is not None:
            if fit_mask is not None:
                raise ValueError("--fit-mask applies to --vectors; with --dataset the training items are used")
            from lmrec.data.registry import load_dataset
            from lmrec.data.splits import make_split
            from lmrec.pipeline import ExperimentConfig, encode_items

            ds = load_dataset(dataset, data_dir)
            x, _ = encode_items(ds, ExperimentConfig(dataset=dataset, model="embknn", data_dir=data_dir,
                                                     encoder=encoder))
            rows = make_split(ds, "auto").warm_items
        else:
            x = np.load(vectors, allow_pickle=False)
            rows = np.load(fit_mask, allow_pickle=False) if fit_mask is not None else None
        _, codes, report = compress_vectors(x, method, dim=dim, n_bytes=n_bytes, fit_rows=rows, out_dir=out,
                                            **_parse_params(param))
    except USER_ERRORS as exc:
        _fail(exc)
    typer.echo(json.dumps(report, indent=2))
    typer.echo(f"wrote {out / 'transform'} and {out / 'codes.npy'} ({codes.dtype} {list(codes.shape)}); "
               f"decode with lmrec.features.load_transform(...).decode(np.load(codes.npy))")

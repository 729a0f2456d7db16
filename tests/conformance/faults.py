"""Helpers of the conformance suite: the fault dataset writer, the model list, fast hyper-parameters.

See ``conftest.py`` for the table of fault cases this dataset holds.
"""

from __future__ import annotations

import json
import math
import os
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")

DATASET = "faults"
FORMATS = ("csv", "parquet", "jsonl")

#: Hyper-parameters that keep every model at about a second on 2 cores; each model gets the
#: subset its constructor accepts (so new models need no entry here).
FAST: dict[str, Any] = {"epochs": 1, "patience": 1, "hidden": 16, "inner": 32, "n_layers": 1, "batch_size": 32,
                        "out_dim": 16, "mlp_hidden": 16, "n_negatives": 8, "n_experts": 2, "max_len": 10,
                        "samples_per_user": 2}

NORMAL_TITLES = [
    "Space Opera Saga", "Spy Thriller Deluxe", "Garden Tools Set", "Vintage Road Bicycle", "Wireless Headphones",
    "Cast Iron Skillet", "Mountain Hiking Boots", "Acoustic Guitar Strings", "Yoga Mat Premium", "Coffee Grinder",
    "Chess Board Classic", "Watercolor Paint Kit", "Desk Lamp LED", "Camping Tent Large", "The Unknown Soldier",
    "Baking Flour Organic", "Running Shoes Light", "Science Fiction Novel", "Puzzle Thousand Pieces",
    "Tea Kettle Steel",
]
NORMAL_IDS = ["0", "007", "7", "100000"] + [str(i) for i in range(12, 28)]
CATEGORIES = [["Books", "Sci-Fi"], ["Movies"], ["Garden", "Outdoor"], ["Sports"], ["Electronics"]]
SPECIAL_RING = ["html-1", "html-2", "cafe-nfc", "cafe-nfd", "mug-a", "mug-b", "thai-1", "thai-2", "long",
                "nan-title"]
RING = NORMAL_IDS + SPECIAL_RING                    # 30 items users walk through in order
PLACEHOLDER_WARM = ["ph-unknown", "ph-none", "ph-dash"]   # only ``ph-user`` interacts with them
PLACEHOLDER_COLD = ["ph-na", "ph-punct", "ph-empty"]      # never interacted with
PLACEHOLDERS = PLACEHOLDER_WARM + PLACEHOLDER_COLD
ONLY_TEST = "only-test"
RING_USERS = ["0", "007", "7"] + [f"u{i}" for i in range(3, 14)]
ONLY_TEST_USERS = ["u3", "u4"]
THAI = ["thai-1", "thai-2"]


def _item_rows() -> list[dict[str, Any]]:
    """Item records with Python values (lists, dicts, None, NaN) — the Parquet/JSONL truth."""
    rows = []
    for k, (iid, title) in enumerate(zip(NORMAL_IDS, NORMAL_TITLES)):
        rows.append({"item_id": iid, "title": title, "category": CATEGORIES[k % len(CATEGORIES)],
                     "year": float(1990 + k), "description": None,
                     "attrs": {"color": ["red", "blue", "green"][k % 3], "size": "L"}})
    special = {
        "html-1": {"title": "Tom &amp; Jerry <b>Collection</b>", "category": ["Kids"]},
        "html-2": {"title": "Fish &amp;amp; Chips Cookbook", "category": ["Books"]},
        "cafe-nfc": {"title": "Caf\u00e9 Cr\u00e8me Cups", "category": ["Kitchen"]},
        "cafe-nfd": {"title": "Cafe\u0301 Cre\u0300me Cups", "category": ["Kitchen"]},
        "mug-a": {"title": "Blue Ceramic Mug", "category": ["Kitchen"]},
        "mug-b": {"title": "Blue Ceramic Mug", "category": ["Kitchen"]},
        "thai-1": {"title": "ชุดเครื่องครัว"},
        "thai-2": {"title": "หนังสือการ์ตูน"},
        "long": {"title": "Encyclopedia", "category": ["Books"],
                 "description": " ".join(f"chapter {i} covers history" for i in range(750))},
        "nan-title": {"title": None, "category": ["Garden"], "year": math.nan},
        "ph-unknown": {"title": "unknown"},
        "ph-none": {"title": "none"},
        "ph-dash": {"title": "-"},
        "ph-na": {"title": "n/a"},
        "ph-punct": {"title": "???"},
        "ph-empty": {"title": None},
        ONLY_TEST: {"title": "Brand New Gadget", "category": ["Electronics"], "year": 2026.0},
    }
    for iid, fields in special.items():
        rows.append({"item_id": iid, "title": None, "category": None, "year": math.nan, "description": None,
                     "attrs": None, **fields})
    return rows


def _interaction_rows() -> list[dict[str, Any]]:
    rng = np.random.default_rng(0)
    rows: list[dict[str, Any]] = []
    t = 1_000_000
    for n, user in enumerate(RING_USERS):
        start = int(rng.integers(len(RING)))
        seq = [RING[(start + j) % len(RING)] for j in range(7)]
        if user in ONLY_TEST_USERS:
            seq.append(ONLY_TEST)
        for item in seq:
            t += 60
            rows.append({"user_id": user, "item_id": item, "timestamp": t, "rating": float(1 + (t // 60) % 5)})
    for j, item in enumerate(["12", "13", "14", "15", "16"]):       # five interactions in the same second
        rows.append({"user_id": "tied", "item_id": item, "timestamp": 2_000_000, "rating": 4.0})
    rows.append({"user_id": "short1", "item_id": "12", "timestamp": 2_000_100, "rating": 5.0})
    for j, item in enumerate(["13", "14"]):
        rows.append({"user_id": "short2", "item_id": item, "timestamp": 2_000_200 + j, "rating": 3.0})
    for j, item in enumerate(PLACEHOLDER_WARM):
        rows.append({"user_id": "ph-user", "item_id": item, "timestamp": 2_000_300 + j, "rating": 2.0})
    rows[5]["rating"] = math.nan                                    # one missing rating
    return rows


def render_for_csv(value: Any) -> Any:
    """What a CSV table holds for a list/dict value: its rendered text (lmrec's rendering rules)."""
    if isinstance(value, list):
        return ", ".join(value)
    if isinstance(value, dict):
        return "; ".join(f"{k}: {v}" for k, v in value.items())
    return value


def write_faults(root: Path, fmt: str = "parquet", *, items: list[dict] | None = None,
                 interactions: list[dict] | None = None, name: str = DATASET) -> Path:
    """Write the fault dataset as a generic table folder ``root/name`` (``fmt``: csv, parquet or
    jsonl for both tables) and return ``root`` (the data directory)."""
    items = _item_rows() if items is None else items
    interactions = _interaction_rows() if interactions is None else interactions
    folder = root / name
    folder.mkdir(parents=True, exist_ok=True)
    inter = pd.DataFrame(interactions)
    ext = {"csv": "csv", "parquet": "parquet", "jsonl": "jsonl"}[fmt]
    if fmt == "csv":
        inter.to_csv(folder / f"events.{ext}", index=False)
        pd.DataFrame([{k: render_for_csv(v) for k, v in r.items()} for r in items]).to_csv(
            folder / f"items.{ext}", index=False)
    elif fmt == "parquet":
        inter.to_parquet(folder / f"events.{ext}", index=False)
        pd.DataFrame(items).to_parquet(folder / f"items.{ext}", index=False)
    else:
        inter.to_json(folder / f"events.{ext}", orient="records", lines=True)
        with open(folder / f"items.{ext}", "w", encoding="utf-8") as fh:
            for r in items:
                clean = {k: (None if isinstance(v, float) and math.isnan(v) else v) for k, v in r.items()}
                fh.write(json.dumps(clean, ensure_ascii=False) + "\n")
    (folder / "lmrec.json").write_text(json.dumps({
        "format": "table", "interactions": f"events.{ext}",
        "columns": {"user_id": "user_id", "item_id": "item_id", "timestamp": "timestamp", "rating": "rating"},
        "items": f"items.{ext}", "item_id": "item_id",
        "text_fields": ["title", "category", "year", "description", "attrs"]}))
    return root


def registered_models() -> list[str]:
    """Every name ``lmrec models`` lists, read from the registry at collection time."""
    from lmrec.models.registry import MODELS

    return list(MODELS)


def fast_params(model: str) -> dict[str, Any]:
    """The :data:`FAST` hyper-parameters ``model`` accepts."""
    from lmrec.models.registry import model_parameters

    accepted = set(model_parameters(model))
    return {k: v for k, v in FAST.items() if k in accepted}


def external_ids(items, ds) -> list[str]:
    return [ds.item_map.external(int(i)) for i in items]




def experiment_config(model: str, data_dir: Path, encoder_dir: Path, cache: Path, **extra):
    from lmrec.pipeline import ExperimentConfig

    return ExperimentConfig(dataset=DATASET, model=model, data_dir=str(data_dir), encoder=str(encoder_dir),
                            cache_dir=str(cache), model_params=fast_params(model), **extra)

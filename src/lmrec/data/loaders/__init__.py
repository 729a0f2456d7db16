"""One loader per source format; each returns a :class:`lmrec.data.dataset.RecDataset`.

=====================  ==========================================  ===========================
format                 files                                       loader
=====================  ==========================================  ===========================
MovieLens (GroupLens)  ml-100k ``u.*``, ml-1m ``*.dat``,            :func:`load_movielens`
                       ml-latest ``*.csv``
Amazon 2018 raw        ``{Category}_5.json.gz`` (+ ``meta_…``)      :func:`load_amazon2018`
RecBole / UniSRec      ``X.text``, ``X.*2index``, ``X.*.inter``     :func:`load_recbole`
LC-Rec JSON            ``X.item.json``, ``X.inter.json``            :func:`load_lcrec`
own tables             CSV / TSV / Parquet, or ``lmrec.json``       :func:`load_table`,
                                                                    :func:`load_table_folder`
=====================  ==========================================  ===========================

:mod:`lmrec.data.registry` finds these formats in a data folder and picks the loader by name.
"""

from lmrec.data.loaders.amazon2018 import amazon2018_categories, load_amazon2018
from lmrec.data.loaders.generic import load_table, load_table_folder
from lmrec.data.loaders.lcrec import lcrec_datasets, load_lcrec
from lmrec.data.loaders.movielens import (detect_movielens_layout, load_ml1m, load_ml100k,
                                          load_ml_latest, load_movielens)
from lmrec.data.loaders.recbole import load_recbole, recbole_datasets

__all__ = [
    "amazon2018_categories", "detect_movielens_layout", "lcrec_datasets", "load_amazon2018",
    "load_lcrec", "load_ml100k", "load_ml1m", "load_ml_latest", "load_movielens", "load_recbole",
    "load_table", "load_table_folder", "recbole_datasets",
]

"""Transforms of item vectors fitted on training items only (one file each), sklearn-style:
``fit(train_vectors)`` → ``transform`` / ``encode`` / ``decode`` → ``save`` / :func:`load_transform`.

* :class:`PCA` — project to ``d`` principal directions;
* :class:`Whitening` — BERT-whitening (Su et al., 2021), optionally to ``k`` dims;
* :class:`ParametricWhitening` — UniSRec's learnable ``(x − b) W`` layer;
* :class:`ProductQuantizer` — faiss OPQ + PQ codes (VQ-Rec: 32 bytes per item);
* :class:`Truncate` — Matryoshka-style truncation + renormalisation;
* :class:`ScalarQuantizer` — ``fp16`` / ``int8`` per-dimension quantization.

faiss is imported only by :class:`ProductQuantizer` when it is fitted or loaded.
"""

from lmrec.features._artifact import ArtifactCorruptError
from lmrec.features.base import VectorTransform
from lmrec.features.parametric_whitening import ParametricWhitening
from lmrec.features.pca import PCA
from lmrec.features.pq import ProductQuantizer
from lmrec.features.registry import METHODS, compress_vectors, create_transform, load_transform
from lmrec.features.scalar_quant import ScalarQuantizer
from lmrec.features.truncate import Truncate
from lmrec.features.whitening import Whitening

__all__ = ["VectorTransform", "load_transform", "ArtifactCorruptError", "PCA", "Whitening", "ParametricWhitening",
           "ProductQuantizer", "Truncate", "ScalarQuantizer", "METHODS", "create_transform", "compress_vectors"]

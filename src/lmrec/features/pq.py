"""Product quantization of item vectors (optionally after an OPQ rotation), with faiss.

References: Jégou, Douze & Schmid, "Product Quantization for Nearest Neighbor Search", TPAMI
2011; Ge, He, Ke & Sun, "Optimized Product Quantization", CVPR 2014. VQ-Rec (Hou et al.,
"Learning Vector-Quantized Item Representation for Transferable Sequential Recommenders",
WWW 2023) stores each item as 32 OPQ codes of 8 bits = 32 bytes; that is the default here.

The codebooks are learned on training items; codes of new items come from the saved codebooks
(``faiss.index_factory(dim, "OPQ{M},PQ{M}x{nbits}")`` used as a standalone codec through
``sa_encode`` / ``sa_decode``).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from lmrec.features.base import VectorTransform, check_vectors


def _faiss():
    try:
        import faiss
    except ImportError:  # pragma: no cover - depends on the environment
        raise ImportError("product quantization needs faiss: pip install 'lmrec[ann]' (faiss-cpu)") from None
    return faiss


class ProductQuantizer(VectorTransform):
    """(O)PQ codec: ``M`` sub-quantizers of ``2**nbits`` codewords each.

    Parameters
    ----------
    n_subquantizers:
        ``M``; the input dimension must be divisible by it.
    nbits:
        Bits per sub-quantizer code (8 → one byte each).
    opq:
        Learn an OPQ rotation before quantizing (better codes, slower fit).
    opq_niter:
        Alternating OPQ iterations (faiss default 50; 25 halves the fit time on a 2-core CPU).

    Attributes
    ----------
    codec_:
        The trained faiss codec (``IndexPreTransform(OPQMatrix, IndexPQ)`` or ``IndexPQ``).

    Raises
    ------
    ValueError
        From :meth:`fit` when the dimension is not divisible by ``M`` or there are fewer than
        ``2**nbits`` training vectors (k-means needs at least one vector per codeword).
    """

    name = "pq"

    def __init__(self, n_subquantizers: int = 32, nbits: int = 8, opq: bool = True, opq_niter: int = 25):
        if int(n_subquantizers) < 1 or not 1 <= int(nbits) <= 16:
            raise ValueError(f"PQ needs n_subquantizers ≥ 1 and 1 ≤ nbits ≤ 16, got {n_subquantizers}, {nbits}")
        super().__init__(n_subquantizers=int(n_subquantizers), nbits=int(nbits), opq=bool(opq),
                         opq_niter=int(opq_niter))

    @property
    def factory_string(self) -> str:
        m, b = self.params["n_subquantizers"], self.params["nbits"]
        return (f"OPQ{m}," if self.params["opq"] else "") + f"PQ{m}x{b}"

    def fit(self, x: np.ndarray) -> "ProductQuantizer":
        x = check_vectors(x, "training vectors")
        n, dim = x.shape
        m, nbits = self.params["n_subquantizers"], self.params["nbits"]
        if dim % m:
            raise ValueError(f"PQ: input dimension {dim} is not divisible by {m} sub-quantizers")
        if n < 2 ** nbits:
            raise ValueError(f"PQ with {nbits}-bit codes needs at least {2 ** nbits} training vectors "
                             f"(one per codeword), got {n}; lower nbits or use int8/PCA")
        faiss = _faiss()
        codec = faiss.index_factory(dim, self.factory_string)
        pq_index = faiss.downcast_index(codec.index if self.params["opq"] else codec)
        # small catalogs are allowed (≥ 1 vector per codeword); faiss would print a warning per sub-quantizer
        pq_index.pq.cp.min_points_per_centroid = 1
        pq_index.do_polysemous_training = False  # only for Hamming-filtered search, which lmrec does not use
        opq_pq = None
        if self.params["opq"]:
            opq = faiss.downcast_VectorTransform(codec.chain.at(0))
            opq.niter = self.params["opq_niter"]
            opq_pq = faiss.ProductQuantizer(dim, m, nbits)  # the PQ OPQ alternates with, quiet as above
            opq_pq.cp.min_points_per_centroid = 1
            opq.pq = opq_pq
        codec.train(x)
        if opq_pq is not None:
            opq.pq = None  # the Python object owning it goes away after fit
        self.codec_ = codec
        self.dim_in_ = dim
        return self

    def encode(self, x: np.ndarray) -> np.ndarray:
        """``uint8 [n, bytes_per_item]`` PQ codes (one byte per sub-quantizer at 8 bits)."""
        x = self._check_input(x)
        return np.asarray(self.codec_.sa_encode(x), dtype=np.uint8)

    def decode(self, codes: np.ndarray) -> np.ndarray:
        """``float32 [n, dim]`` reconstruction from the codebooks (and inverse OPQ rotation)."""
        self._check_fitted()
        codes = np.ascontiguousarray(codes, dtype=np.uint8)
        size = self.codec_.sa_code_size()
        if codes.ndim != 2 or codes.shape[1] != size:
            raise ValueError(f"PQ codes must have shape [n, {size}], got {codes.shape}")
        return np.asarray(self.codec_.sa_decode(codes), dtype=np.float32)

    @property
    def dim_out(self) -> int:
        return int(self.dim_in_)

    @property
    def bytes_per_item(self) -> float:
        return float(self.params["n_subquantizers"] * self.params["nbits"] / 8)

    def _extra_config(self) -> dict[str, Any]:
        return {"faiss_factory": self.factory_string, "faiss_version": _faiss().__version__}

    def _writers(self) -> dict[str, Any]:
        return {"codec.faiss": lambda p: _faiss().write_index(self.codec_, str(p))}

    def _load_state(self, path: Path, config: dict[str, Any]) -> None:
        self.codec_ = _faiss().read_index(str(path / "codec.faiss"))

"""ANN retrieval over item vectors (faiss): exact, HNSW and IVF-PQ behind one interface.

faiss is imported only when an index is built or loaded (``pip install 'lmrec[ann]'``).
"""

from lmrec.index.ann import KINDS, METRICS, AnnIndex, IndexCorruptError

__all__ = ["AnnIndex", "IndexCorruptError", "KINDS", "METRICS"]

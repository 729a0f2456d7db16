"""lmrec: pretrained language models as feature encoders for recommender systems.

Heavy dependencies (torch, sentence-transformers, transformers) are imported lazily inside
the functions that need them, so ``import lmrec`` and ``lmrec --help`` stay instant.
"""

__version__ = "0.1.0"

"""Scale-out: catalog encoding streamed in one process or on Ray, and DDP training helpers.

:func:`stream_encode` (one process, bounded memory) and
:func:`lmrec.scale.ray_encode.ray_encode` (Ray Data actor pool; import it from its module, Ray is
heavy) write the same resumable Parquet shards (:mod:`lmrec.scale.shards`);
:func:`read_embeddings` reads them back.
"""

from lmrec.scale.shards import ShardCorruptError, TextSpec, read_embeddings
from lmrec.scale.stream_encode import EncodeReport, stream_encode

__all__ = ["stream_encode", "read_embeddings", "EncodeReport", "ShardCorruptError", "TextSpec"]

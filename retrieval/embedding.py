"""Embedding layer: two calls, embed queries and embed passages, backed by sentence-transformers.

INTERFACE CONTRACT (retrieval.index and retrieval.search code against this):

    embedder = load_embedder(settings)      # builds the offline e5 model on first use, never downloads
    embedder.model_name                     # str, recorded in bundle manifests and the cache key
    embedder.dimension                      # int (384 for e5-small)
    embedder.embed_queries(["..."])         # np.ndarray (n, dimension) float32, L2-normalised
    embedder.embed_passages(["..."], batch_size=32, show_progress=False)  # same shape rules
    embedder.needs_segmented_input          # bool: PhoBERT-like models want underthesea-segmented text
"""
from __future__ import annotations


def load_embedder(settings):
    raise NotImplementedError

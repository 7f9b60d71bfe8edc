"""Dense vectors in a faiss index (exact inner product by default; the index type is a setting).

INTERFACE CONTRACT:

    passage_text_for_embedding(passage) -> str  # exactly what is embedded (and cached) per passage
    dense = DenseIndex.build(vectors, index_type="Flat")   # vectors: (n, d) float32, bundle order
    dense.save(bundle_dir / "dense")
    dense = DenseIndex.load(bundle_dir / "dense")
    dense.search(query_vector, k) -> list[tuple[int, float]]   # (row in bundle order, cosine)

`index_type` is a faiss.index_factory string ("Flat", "HNSW32", "IVF16,Flat" …), always with the
inner-product metric; vectors are L2-normalised, so scores are cosines.
"""
from __future__ import annotations

import json
from pathlib import Path

import faiss
import numpy as np

from retrieval.textproc import normalize
from retrieval.types import Passage

FORMAT_VERSION = 1
INDEX_FILE = "index.faiss"


def passage_text_for_embedding(passage: Passage) -> str:
    """Heading path (document title first) then the text, NFC-normalised and stripped."""
    heading = " > ".join(h for h in passage.heading_path if h) or passage.doc_title
    if passage.code and passage.code not in heading:
        heading = f"{passage.code} {heading}"
    return normalize(f"{heading}\n{passage.text}")


class DenseIndex:
    """A faiss index over passage vectors, rows in bundle order."""

    def __init__(self, index: faiss.Index, index_type: str):
        self._index = index
        self.index_type = index_type

    @property
    def count(self) -> int:
        return int(self._index.ntotal)

    @property
    def dimension(self) -> int:
        return int(self._index.d)

    @classmethod
    def build(cls, vectors: np.ndarray, index_type: str = "Flat") -> "DenseIndex":
        vectors = np.ascontiguousarray(vectors, dtype=np.float32)
        if vectors.ndim != 2:
            raise ValueError(f"vectors must be 2-D (n, d), got shape {vectors.shape}")
        index = faiss.index_factory(vectors.shape[1], index_type, faiss.METRIC_INNER_PRODUCT)
        if not index.is_trained:
            index.train(vectors)
        if len(vectors):
            index.add(vectors)
        return cls(index, index_type)

    def save(self, path: Path) -> None:
        path = Path(path)
        path.mkdir(parents=True, exist_ok=True)
        faiss.write_index(self._index, str(path / INDEX_FILE))
        meta = {
            "format_version": FORMAT_VERSION,
            "index_type": self.index_type,
            "metric": "inner_product",
            "dimension": self.dimension,
            "count": self.count,
        }
        (path / "meta.json").write_text(json.dumps(meta, indent=2), encoding="utf-8")

    @classmethod
    def load(cls, path: Path) -> "DenseIndex":
        path = Path(path)
        meta = json.loads((path / "meta.json").read_text(encoding="utf-8"))
        if meta.get("format_version") != FORMAT_VERSION:
            raise ValueError(f"{path}: dense index format {meta.get('format_version')} is not {FORMAT_VERSION}")
        index = faiss.read_index(str(path / INDEX_FILE))
        if index.ntotal != meta["count"] or index.d != meta["dimension"]:
            raise ValueError(f"{path}: index holds {index.ntotal}x{index.d}, manifest says {meta['count']}x{meta['dimension']}")
        return cls(index, meta["index_type"])

    def search(self, query_vector: np.ndarray, k: int) -> list[tuple[int, float]]:
        if k <= 0 or self.count == 0:
            return []
        query = np.ascontiguousarray(np.asarray(query_vector, dtype=np.float32).reshape(1, -1))
        scores, rows = self._index.search(query, min(k, self.count))
        return [(int(r), float(s)) for r, s in zip(rows[0], scores[0]) if r >= 0]

    def vector(self, row: int) -> np.ndarray:
        """The stored vector of one passage (for 'related passages')."""
        try:
            return self._index.reconstruct(int(row))
        except RuntimeError:
            # IVF indexes can only look vectors up by id once they keep a direct map.
            ivf = faiss.try_extract_index_ivf(self._index)
            if ivf is None:
                raise
            ivf.make_direct_map()
            return self._index.reconstruct(int(row))

"""Dense vectors in a faiss index (exact inner product by default; the index type is a setting).

INTERFACE CONTRACT:

    passage_text_for_embedding(passage) -> str  # exactly what is embedded (and cached) per passage
    dense = DenseIndex.build(vectors, index_type="Flat")   # vectors: (n, d) float32, bundle order
    dense.save(bundle_dir / "dense")
    dense = DenseIndex.load(bundle_dir / "dense")
    dense.search(query_vector, k) -> list[tuple[int, float]]   # (row in bundle order, cosine)
"""

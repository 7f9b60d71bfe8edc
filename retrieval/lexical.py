"""BM25 over underthesea-segmented words plus a diacritic-folded field (bm25s).

INTERFACE CONTRACT (retrieval.index builds and saves it; retrieval.search loads and queries it):

    lex = LexicalIndex.build(passages)          # list[Passage] in bundle order
    lex.save(bundle_dir / "lexical")
    lex = LexicalIndex.load(bundle_dir / "lexical")
    lex.search(query_analysis, k) -> list[tuple[int, float]]   # (row in bundle order, score)
"""

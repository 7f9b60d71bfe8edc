"""The real corpus/ folder: it loads cleanly and covers what the bot promises to answer."""
from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

import pytest

from retrieval.documents import CorpusError, load_corpus

REPO_ROOT = Path(__file__).resolve().parents[2]
CORPUS_DIR = REPO_ROOT / "corpus"
EVAL_FILE = REPO_ROOT / "tests" / "eval" / "questions.jsonl"

# Every requirement sub-clause of TCVN ISO 9001:2015 (issue 3).
REQUIRED_CLAUSES = """
4.1 4.2 4.3 4.4
5.1.1 5.1.2 5.2.1 5.2.2 5.3
6.1 6.2 6.3
7.1.1 7.1.2 7.1.3 7.1.4 7.1.5 7.1.5.1 7.1.5.2 7.1.6 7.2 7.3 7.4
7.5.1 7.5.2 7.5.3 7.5.3.1 7.5.3.2
8.1 8.2.1 8.2.2 8.2.3 8.2.4 8.3.1 8.3.2 8.3.3 8.3.4 8.3.5 8.3.6 8.4.1 8.4.2 8.4.3
8.5.1 8.5.2 8.5.3 8.5.4 8.5.5 8.5.6 8.6 8.7.1 8.7.2
9.1.1 9.1.2 9.1.3 9.2.1 9.2.2 9.3.1 9.3.2 9.3.3
10.1 10.2 10.3
""".split()


@pytest.fixture(scope="module")
def corpus():
    try:
        return load_corpus(CORPUS_DIR)
    except CorpusError as exc:
        pytest.fail("corpus/ has problems:\n" + "\n".join(exc.problems))


def _standard_clauses(corpus) -> set[str]:
    return {p.clause for p in corpus.passages if p.kind == "standard" and p.clause}


def _covered(clause: str, clauses: set[str]) -> bool:
    return any(c == clause or c.startswith(clause + ".") for c in clauses)


def test_corpus_loads_without_warnings(corpus):
    assert corpus.warnings == (), "\n".join(corpus.warnings)


def test_every_required_2015_clause_has_its_own_passage(corpus):
    have = _standard_clauses(corpus)
    missing = [c for c in REQUIRED_CLAUSES if c not in have]
    assert not missing, f"clauses without a passage: {missing}"
    for p in corpus.passages:
        if p.clause in REQUIRED_CLAUSES:
            assert len(p.text) >= 80, f"{p.id} is too short to answer from ({len(p.text)} characters)"


def test_ids_are_unique_and_every_passage_is_citable(corpus):
    duplicates = [i for i, n in Counter(p.id for p in corpus.passages).items() if n > 1]
    assert not duplicates
    for p in corpus.passages:
        assert p.text.strip(), p.id
        assert p.citation.strip() and p.doc_title in p.citation, p.id
        assert p.source_path and p.source_line >= 1, p.id
        if p.kind == "standard" and p.clause:
            assert p.citation.startswith(f"{p.doc_title} — Điều {p.clause} "), p.citation


def test_procedures_have_versions_and_one_current_edition_per_code(corpus):
    procedures = [d for d in corpus.documents.values() if d.kind == "procedure"]
    assert procedures
    for doc in procedures:
        assert doc.code and doc.version and doc.effective_date, doc.doc_id
    current = Counter(d.code for d in procedures if d.status == "active")
    assert all(n == 1 for n in current.values()), current
    assert {d.code for d in procedures} == set(current), "a procedure code has no current edition"


def test_correspondence_points_at_existing_2015_clauses(corpus):
    have = _standard_clauses(corpus)
    assert corpus.correspondence, "the 2008 -> 2015 table is empty"
    wrong = [
        (row.clause_2008, ref) for row in corpus.correspondence for ref in row.clauses_2015 if ref not in have
    ]
    assert not wrong, f"2008 rows pointing at clauses the standard does not have: {wrong}"
    assert all(item.clause in have for item in corpus.new_in_2015)


def test_faq_and_glossary_are_present(corpus):
    assert sum(1 for p in corpus.passages if p.kind == "faq") >= 10
    terms = {g.term.upper() for g in corpus.glossary}
    assert {"HTQLCL", "TTHC", "UBND"} <= terms


def test_eval_labels_name_clauses_the_corpus_has(corpus):
    if not EVAL_FILE.exists():
        pytest.skip("tests/eval/questions.jsonl is not written yet")
    have = _standard_clauses(corpus)
    unknown = []
    for number, line in enumerate(EVAL_FILE.read_text(encoding="utf-8").splitlines(), 1):
        if not line.strip():
            continue
        item = json.loads(line)
        unknown += [(number, c) for c in item.get("expected_clauses", []) if not _covered(c, have)]
    assert not unknown, f"eval lines naming clauses the corpus lacks (line, clause): {unknown}"


def test_built_index_holds_the_whole_corpus(built_index, corpus):
    from retrieval.index import IndexBundle, current_bundle_path

    bundle = IndexBundle.load(current_bundle_path(built_index.index_dir))
    assert [p.id for p in bundle.passages] == [p.id for p in corpus.passages]
    assert bundle.manifest["corpus_hash"] == corpus.corpus_hash
    assert bundle.manifest["model"] and bundle.dense.count == len(corpus.passages)

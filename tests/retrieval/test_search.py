"""The one search entry point on the real corpus (and a tiny one for hot swap), with the real model."""
from __future__ import annotations

import threading
import time

import numpy as np
import pytest

from retrieval.dense import DenseIndex
from retrieval.search import RELOAD_CHECK_SECONDS, Searcher


@pytest.fixture(scope="module")
def searcher(built_index, embedder) -> Searcher:
    return Searcher.from_settings(built_index, embedder=embedder)


def _clauses(result, n=3):
    return [h.passage.clause or ",".join(h.passage.iso_refs) for h in result.hits[:n]]


# ------------------------------------------------------------------ clause references


@pytest.mark.parametrize(
    "query, clause",
    [
        ("điều 7.5.3 yêu cầu gì", "7.5.3"),
        ("muc 8.5.1 noi gi", "8.5.1"),
        ("clause 9.2", "9.2"),
        ("7.1.6", "7.1.6"),
        ("khoản 6.1 nói về cái gì vậy", "6.1"),
    ],
)
def test_a_named_clause_comes_first_with_its_citation(searcher, query, clause):
    result = searcher.search(query, k=5)
    assert result.answered
    first = result.hits[0].passage
    assert first.kind == "standard" and first.clause == clause
    assert first.citation.startswith(f"TCVN ISO 9001:2015 — Điều {clause} ")


def test_a_named_parent_clause_is_followed_by_its_subclauses(searcher):
    result = searcher.search("điều 7.5.3", k=4)
    assert [h.passage.clause for h in result.hits[:3]] == ["7.5.3", "7.5.3.1", "7.5.3.2"]
    assert [p.clause for p in searcher.clause("7.5.3")] == ["7.5.3", "7.5.3.1", "7.5.3.2"]


def test_a_2008_clause_goes_through_the_correspondence_table(searcher):
    result = searcher.search("điều 4.2.3 bản 2008 tương ứng với điều nào của bản 2015", k=5)
    assert result.answered
    first = result.hits[0].passage
    assert first.kind == "correspondence" and "4.2.3" in first.section
    mapped = set(first.iso_refs)
    assert mapped and all(c.startswith("7.5") for c in mapped)
    assert any(note.startswith("2008:4.2.3 -> ") for note in result.notes)
    # The 2015 clauses it maps to follow.
    assert {h.passage.clause for h in result.hits[1:4]} & mapped

    direct = searcher.clause("4.2.3", edition=2008)
    assert direct.answered and direct.notes == result.notes
    assert direct.hits[0].passage.id == first.id


# ------------------------------------------------------------------ how staff really type


def test_a_query_without_diacritics_finds_what_the_accented_one_finds(searcher):
    accented = searcher.search("kiểm soát thông tin dạng văn bản", k=3)
    folded = searcher.search("kiem soat thong tin dang van ban", k=3)
    assert folded.answered and accented.answered
    assert folded.normalized_query == "kiểm soát thông tin dạng văn bản"
    assert folded.hits[0].passage.id == accented.hits[0].passage.id
    assert any(c.startswith("7.5") for c in _clauses(folded))


def test_chat_abbreviations_are_understood(searcher):
    result = searcher.search("hs đánh giá nội bộ lưu bn năm vậy ae", k=3)
    assert result.answered
    assert "hồ sơ" in result.normalized_query and "bao nhiêu" in result.normalized_query
    assert any(h.passage.code == "QT-03" or "9.2" in h.passage.iso_refs for h in result.hits)


def test_glossary_acronyms_reach_the_right_clause(searcher):
    result = searcher.search("ĐGNB phải làm mấy lần một năm", k=3)
    assert result.answered
    assert any("9.2" in (h.passage.clause, *h.passage.iso_refs) for h in result.hits)


# ------------------------------------------------------------------ deciding to answer


@pytest.mark.parametrize(
    "query",
    [
        "thời tiết Hà Nội ngày mai thế nào",
        "cong thuc nau pho bo",
        "Who won the last FIFA World Cup?",
        "giá vàng hôm nay bao nhiêu",
    ],
)
def test_out_of_scope_questions_are_declined_with_suggestions(searcher, query):
    result = searcher.search(query, k=5)
    assert not result.answered
    assert result.suggestions and all(s.strip() for s in result.suggestions)


@pytest.mark.parametrize(
    "query",
    [
        "chính sách chất lượng cần có những nội dung gì",
        "tiep nhan ho so tai bo phan mot cua gom nhung buoc nao",
        "có bắt buộc sổ tay chất lượng nữa không",
    ],
)
def test_questions_the_corpus_answers_are_answered(searcher, query):
    result = searcher.search(query, k=5)
    assert result.answered and not result.suggestions


# ------------------------------------------------------------------ superseded procedures


def test_superseded_procedures_are_never_cited_as_current(searcher):
    superseded = {p.doc_id for p in searcher._live.passages if p.status == "superseded"}
    assert superseded, "the corpus should hold an old procedure version"
    for query in (
        "quy trình kiểm soát tài liệu",
        "phê duyệt tài liệu trong bao nhiêu ngày",
        "QT-01 kiểm soát tài liệu mục đích",
        "thoi gian luu phieu de nghi ban hanh tai lieu",
    ):
        result = searcher.search(query, k=10)
        assert result.hits
        assert not {h.passage.doc_id for h in result.hits} & superseded, query
    assert all(p.status != "superseded" for p in searcher.procedures())


def test_an_old_version_asked_for_by_name_is_labelled_replaced(searcher):
    result = searcher.search("quy trình kiểm soát tài liệu lần ban hành 02 cũ quy định gì", k=10)
    old = [h for h in result.hits if h.passage.status == "superseded"]
    assert old
    assert all("đã được thay thế" in h.passage.citation for h in old)


# ------------------------------------------------------------------ best sentence


def test_each_hit_carries_the_sentence_that_answers(searcher):
    result = searcher.search("thời gian lưu báo cáo đánh giá nội bộ", k=3)
    assert result.answered
    for hit in result.hits:
        assert hit.best_sentence
        assert " ".join(hit.best_sentence.split()) in " ".join(hit.passage.text.split())
    assert "thời gian lưu" in result.hits[0].best_sentence.lower()


def test_browsing_calls(searcher):
    p = searcher.get_passage("tcvn-iso-9001-2015#9.2")
    assert p is not None and p.clause == "9.2"
    assert searcher.get_passage("no-such#1") is None
    doc = searcher.document_passages("tcvn-iso-9001-2015")
    assert doc[0].doc_id == "tcvn-iso-9001-2015" and len(doc) > 50
    assert all(p.kind == "faq" for p in searcher.faq_entries()) and searcher.faq_entries()
    related = searcher.related("tcvn-iso-9001-2015#9.2", k=5)
    assert 0 < len(related) <= 5 and all(r.id != p.id for r in related)
    assert any(r.code == "QT-03" for r in related)


# ------------------------------------------------------------------ hot swap


NEW_PROCEDURE = """\
---
id: qt-09-phong-chay
title: Phòng cháy chữa cháy tại trụ sở
kind: procedure
source: Quy trình mẫu
code: QT-09
version: "01"
effective_date: 2025-01-01
iso_refs: ["7.1.4"]
---
## 1. Mục đích

Quy định việc kiểm tra bình chữa cháy tại trụ sở ủy ban mỗi tháng một lần.
"""


def test_a_running_searcher_swaps_in_a_new_bundle(tiny_corpus, model_data_dir, embedder, write_corpus):
    from retrieval.index import reindex
    from retrieval.settings import load_settings

    settings = load_settings(
        ISOBOT_DATA_DIR=str(model_data_dir),
        ISOBOT_CORPUS_DIR=str(tiny_corpus),
        DATABASE_URL=f"sqlite:///{model_data_dir / 'isobot.db'}",
    )
    # A fresh install: no bundle yet, so the searcher builds one.
    searcher = Searcher.from_settings(settings, embedder=embedder)
    first_bundle = searcher.bundle_path
    assert searcher.get_passage("qt-09-phong-chay#1") is None

    errors: list[BaseException] = []
    stop = threading.Event()

    def keep_searching():
        while not stop.is_set():
            try:
                searcher.search("kiểm tra bình chữa cháy", k=3)
            except BaseException as exc:  # noqa: BLE001 - the test reports any failure
                errors.append(exc)
                return

    workers = [threading.Thread(target=keep_searching) for _ in range(2)]
    for w in workers:
        w.start()
    try:
        write_corpus(tiny_corpus, {"procedures/qt-09-phong-chay.md": NEW_PROCEDURE})
        reindex(settings, progress=False, embedder=embedder)
        deadline = time.monotonic() + 30
        while searcher.bundle_path == first_bundle and time.monotonic() < deadline:
            time.sleep(RELOAD_CHECK_SECONDS / 2)
            searcher.search("kiểm tra bình chữa cháy", k=3)
    finally:
        stop.set()
        for w in workers:
            w.join()
    assert not errors
    assert searcher.bundle_path != first_bundle
    result = searcher.search("kiểm tra bình chữa cháy mấy lần", k=3)
    assert result.hits[0].passage.id == "qt-09-phong-chay#1"
    assert searcher.get_passage("qt-09-phong-chay#1") is not None


# ------------------------------------------------------------------ the faiss index type is a setting


@pytest.mark.parametrize("index_type", ["Flat", "HNSW32", "IVF4,Flat"])
def test_dense_index_types_round_trip(tmp_path, index_type):
    rng = np.random.default_rng(7)
    vectors = rng.normal(size=(200, 16)).astype(np.float32)
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    DenseIndex.build(vectors, index_type).save(tmp_path / "dense")
    dense = DenseIndex.load(tmp_path / "dense")
    assert dense.index_type == index_type and dense.count == 200 and dense.dimension == 16
    row, score = dense.search(vectors[42], 3)[0]
    assert row == 42 and score == pytest.approx(1.0, abs=1e-4)
    assert np.allclose(dense.vector(42), vectors[42], atol=1e-5)


def test_an_faq_highlight_comes_from_the_answer_not_the_repeated_question(searcher):
    result = searcher.search("có bắt buộc sổ tay chất lượng nữa không", k=5)
    faq = [h for h in result.hits if h.passage.kind == "faq"]
    assert faq
    for hit in faq:
        assert hit.best_sentence.rstrip(" ?") != hit.passage.title.rstrip(" ?")

"""Evaluation: DESIGN.md's matching rules and metrics, and the `isobot eval` / `isobot ask` commands."""
from __future__ import annotations

import argparse
import json

import pytest

from retrieval.evaluation import (
    EvalFormatError,
    Outcome,
    Question,
    load_questions,
    matches,
    summarize,
)
from retrieval.types import Passage

CLAUSE = Passage(
    id="std#7.5.3", doc_id="std", doc_title="TCVN ISO 9001:2015", kind="standard",
    text="Kiểm soát thông tin dạng văn bản.", section="7.5.3", clause="7.5.3", iso_refs=("7.5.3",),
)
PROCEDURE = Passage(
    id="qt-03#7", doc_id="qt-03", doc_title="Đánh giá nội bộ", kind="procedure", code="QT-03",
    text="Báo cáo đánh giá nội bộ (BM-03-04): Thư ký ISO lưu, thời gian lưu 5 năm.", section="7", iso_refs=("9.2",),
)


def q(**kw) -> Question:
    return Question(id=kw.pop("id", "t"), question=kw.pop("question", "?"), **kw)


def test_clause_matches_itself_and_its_parent_not_a_sibling_or_child():
    assert matches(CLAUSE, q(expected_clauses=("7.5.3",)))
    assert matches(CLAUSE, q(expected_clauses=("7.5",)))
    assert not matches(CLAUSE, q(expected_clauses=("7.5.2",)))
    assert not matches(CLAUSE, q(expected_clauses=("7.5.3.1",)))
    # "7.5" must not match "7.50"-like prefixes.
    assert not matches(CLAUSE, q(expected_clauses=("7.",)))


def test_iso_refs_count_as_clauses():
    assert matches(PROCEDURE, q(expected_clauses=("9",)))
    assert not matches(PROCEDURE, q(expected_clauses=("9.3",)))


def test_terms_match_case_and_diacritic_insensitively_all_of_one_group():
    assert matches(PROCEDURE, q(expected_terms=(("THỜI GIAN LƯU", "5 nam"),)))
    assert not matches(PROCEDURE, q(expected_terms=(("5 năm", "10 năm"),)))
    assert matches(PROCEDURE, q(expected_terms=(("10 năm",), ("bm-03-04",))))


def _outcome(style, *, no_answer=False, answered=True, first=1, latency=10.0):
    return Outcome(
        question=q(style=style, kind="out_of_scope" if no_answer else "clause", expect_no_answer=no_answer),
        answered=answered,
        first_match=first,
        latency_ms=latency,
    )


def test_metrics_follow_the_design_definitions():
    outcomes = [
        _outcome("formal", first=1),
        _outcome("formal", first=3),
        _outcome("no_diacritics", first=0),
        _outcome("no_diacritics", first=2, answered=False),  # declined: no hit, false no-answer
        _outcome("formal", no_answer=True, answered=False, first=0),
        _outcome("formal", no_answer=True, answered=True, first=0),
    ]
    m = summarize(outcomes)
    assert set(m) == {
        "n", "hit@1", "hit@3", "hit@5", "mrr@10", "no_answer_accuracy", "false_no_answer_rate",
        "by_style", "by_kind", "latency_ms",
    }
    assert m["n"] == 6
    assert m["hit@1"] == 0.25 and m["hit@3"] == 0.5 and m["hit@5"] == 0.5
    assert m["mrr@10"] == round((1 + 1 / 3) / 4, 4)
    assert m["no_answer_accuracy"] == 0.5
    assert m["false_no_answer_rate"] == 0.25
    assert m["by_style"]["no_diacritics"]["hit@3"] == 0.0
    assert m["by_style"]["formal"]["n"] == 4
    assert m["by_kind"]["out_of_scope"]["hit@3"] is None
    assert m["latency_ms"] == {"p50": 10.0, "p95": 10.0}


def test_a_broken_line_is_reported_with_file_and_line(tmp_path):
    path = tmp_path / "q.jsonl"
    path.write_text('{"id": "a", "question": "x"}\n\n{"id": "b"\n', encoding="utf-8")
    with pytest.raises(EvalFormatError, match=r"q\.jsonl:3:"):
        load_questions(path)


# ---------------------------------------------------------------- the commands, on the real corpus

QUESTIONS = [
    {"id": "e1", "question": "điều 7.5.3 yêu cầu gì", "expected_clauses": ["7.5.3"], "expected_terms": [],
     "expect_no_answer": False, "kind": "clause", "style": "formal"},
    {"id": "e2", "question": "danh gia noi bo dinh ky the nao", "expected_clauses": ["9.2"], "expected_terms": [],
     "expect_no_answer": False, "kind": "clause", "style": "no_diacritics"},
    {"id": "e3", "question": "công thức nấu phở bò ngon", "expected_clauses": [], "expected_terms": [],
     "expect_no_answer": True, "kind": "out_of_scope", "style": "formal"},
]


def test_eval_command_prints_the_design_json(built_index, embedder, tmp_path, capsys):
    from bot.cli_retrieval import cmd_eval

    path = tmp_path / "questions.jsonl"
    path.write_text("\n".join(json.dumps(x, ensure_ascii=False) for x in QUESTIONS), encoding="utf-8")
    code = cmd_eval(argparse.Namespace(file=str(path), json=True, mode="hybrid+restore"), built_index)
    assert code == 0
    metrics = json.loads(capsys.readouterr().out)
    assert metrics["n"] == 3
    assert metrics["hit@3"] == 1.0
    assert metrics["no_answer_accuracy"] == 1.0
    assert set(metrics["by_style"]) == {"formal", "no_diacritics"}
    assert metrics["latency_ms"]["p50"] > 0

    code = cmd_eval(argparse.Namespace(file=str(path), json=True, mode="all"), built_index)
    assert code == 0
    by_mode = json.loads(capsys.readouterr().out)
    assert set(by_mode) == {"lexical", "dense", "hybrid", "hybrid+restore"}


def test_ask_command_json_has_exactly_the_design_keys(built_index, embedder, capsys):
    from bot.cli_retrieval import cmd_ask

    code = cmd_ask(argparse.Namespace(question=["kiểm", "soát", "tài", "liệu"], json=True, k=3), built_index)
    assert code == 0
    out = json.loads(capsys.readouterr().out)
    assert set(out) == {"query", "answered", "results"}
    assert out["answered"] is True and len(out["results"]) == 3
    first = out["results"][0]
    assert set(first) == {
        "rank", "passage_id", "doc_id", "doc_title", "kind", "clause", "section", "iso_refs", "citation", "text", "score",
    }
    assert first["rank"] == 1 and first["citation"]

    code = cmd_ask(argparse.Namespace(question=["kiem", "soat", "tai", "lieu"], json=False, k=2), built_index)
    human = capsys.readouterr().out
    assert code == 0 and "Hiểu là: kiểm soát tài liệu" in human and "1. " in human


def test_ask_on_a_fresh_install_with_a_broken_corpus_says_where(tiny_corpus, model_data_dir, write_corpus, capsys):
    from bot.cli_retrieval import cmd_ask
    from retrieval.settings import load_settings

    write_corpus(tiny_corpus, {"procedures/hong.md": "---\ntitle: Thiếu id\nkind: procedure\n---\n## 1. Mục đích\n\nVăn bản.\n"})
    settings = load_settings(
        ISOBOT_DATA_DIR=str(model_data_dir),
        ISOBOT_CORPUS_DIR=str(tiny_corpus),
        DATABASE_URL=f"sqlite:///{model_data_dir / 'isobot.db'}",
    )
    code = cmd_ask(argparse.Namespace(question=["sổ", "tay"], json=True, k=3), settings)
    err = capsys.readouterr().err
    assert code == 1
    assert "hong.md:" in err
    assert not (model_data_dir / "index" / "CURRENT").exists()

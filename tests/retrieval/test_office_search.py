"""Agencies' Word and PDF procedures answer their own questions, end to end.

A tmp corpus (the tiny standard/FAQ corpus plus generated .docx/.pdf files) is reindexed with
`isobot reindex` and the real offline model, then asked through the real Searcher and
`isobot ask --json`. Every fact asked about exists only in the generated files.
"""
from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests import office_fixtures as fx
from tests.conftest import TINY_CORPUS_FILES, _write_corpus


def _env(data_dir: Path, corpus_dir: Path) -> dict:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("ISOBOT_", "DATABASE_URL", "EMBEDDING_MODEL"))}
    env.update(ISOBOT_DATA_DIR=str(data_dir), ISOBOT_CORPUS_DIR=str(corpus_dir), HF_HUB_OFFLINE="1",
               TRANSFORMERS_OFFLINE="1", LOG_LEVEL="WARNING")
    return env


def isobot(*args: str, data_dir: Path, corpus_dir: Path, cwd: Path) -> subprocess.CompletedProcess:
    """Run the `isobot` command the way an admin does (from a folder without a .env)."""
    return subprocess.run([sys.executable, "-m", "bot.cli", *args], capture_output=True, text=True,
                          env=_env(data_dir, corpus_dir), cwd=cwd, timeout=900)


def write_office_corpus(root: Path) -> Path:
    corpus = _write_corpus(root, TINY_CORPUS_FILES)
    procedures = corpus / "procedures"
    fx.write_qt09(procedures / "qt-09.docx")
    fx.write_qt09(procedures / "qt-09-2020.docx", version="01", effective="15/06/2020", sections=fx.QT09_SECTIONS_V1)
    fx.write_qt10_pdf(procedures / "qt-10.pdf")
    (procedures / "qt-10.yaml").write_text('iso_refs: ["7.5.3"]\nsource: Văn phòng UBND xã Bình An\n', encoding="utf-8")
    fx.write_legacy_docx(procedures / "qt-11.docx", encoding="tcvn3")
    return corpus


@pytest.fixture(scope="module")
def office_index(tmp_path_factory, embedding_settings):
    """(settings, reindex --json summary, human summary of a second run, Searcher) for the office corpus."""
    from retrieval.settings import DEFAULT_MODEL, load_settings

    root = tmp_path_factory.mktemp("office")
    corpus = write_office_corpus(root / "corpus")
    data_dir = root / "var"
    (data_dir / "models").mkdir(parents=True)
    (data_dir / "models" / DEFAULT_MODEL).symlink_to((embedding_settings.models_dir / DEFAULT_MODEL).resolve())
    first = isobot("reindex", "--json", "--quiet", data_dir=data_dir, corpus_dir=corpus, cwd=root)
    assert first.returncode == 0, first.stderr
    summary = json.loads(first.stdout)
    # The admin replaces the PDF with a corrected print: the second run reports it as changed.
    fx.write_qt10_pdf(corpus / "procedures" / "qt-10.pdf", running_header="UBND xã Bình An — QT-10 — bản in lại")
    second = isobot("reindex", "--quiet", data_dir=data_dir, corpus_dir=corpus, cwd=root)
    assert second.returncode == 0, second.stderr
    settings = load_settings(ISOBOT_DATA_DIR=str(data_dir), ISOBOT_CORPUS_DIR=str(corpus))
    from retrieval.search import Searcher

    return settings, summary, second.stdout, Searcher.from_settings(settings), root


def test_reindex_summary_lists_each_office_file(office_index):
    _settings, summary, human, _searcher, _root = office_index
    details = {d["path"]: d for d in summary["details"]}
    assert details["procedures/qt-09.docx"]["version"] == "02"
    assert details["procedures/qt-09.docx"]["sections"] == ["1", "2", "3", "4.1", "4.2", "4.3", "5"]
    assert details["procedures/qt-09-2020.docx"]["status"] == "superseded"
    assert details["procedures/qt-10.pdf"]["sections"] == ["1", "2", "3.B1", "3.B2", "3.B3", "4", "5"]
    assert any("TCVN3" in w for w in details["procedures/qt-11.docx"]["warnings"])
    assert summary["added"] == len(summary["details"]) == summary["documents"]
    # Second run, human form: only the replaced PDF changed.
    assert "~ procedures/qt-10.pdf [qt-10]: 7 mục, lần ban hành 01" in human
    assert "qt-09.docx" not in human.split("Cảnh báo")[0]


QUESTIONS = [
    # (question, passage id, citation pieces)
    ("Phản ánh, kiến nghị của người dân được trả lời trong bao lâu?", "qt-09#4.3",
     ("QT-09", "lần ban hành 02", "hiệu lực 01/03/2024", "Mục 4.3")),
    ("Sổ theo dõi phản ánh kiến nghị phải lưu mấy năm?", "qt-09#5", ("QT-09", "lần ban hành 02", "Mục 5")),
    ("văn bản ký sau 16 giờ 30 thì khi nào được phát hành", "qt-10#3.B3", ("QT-10", "lần ban hành 01", "Mục 3.B3")),
    ("ai giữ chìa khóa tủ cất con dấu", "qt-10#4", ("QT-10", "hiệu lực 15/04/2024", "Mục 4")),
    ("sổ đăng ký văn bản đi lưu bao lâu", "qt-10#5", ("QT-10", "lần ban hành 01", "Mục 5")),
    ("Chủ tịch xã tiếp công dân vào ngày nào trong tuần?", "qt-11#2", ("QT-11", "lần ban hành 03", "Mục 2")),
    ("tiep cong dan dinh ky vao thu may", "qt-11#2", ("QT-11", "Mục 2")),
]


@pytest.mark.parametrize("question, passage_id, pieces", QUESTIONS, ids=[q[1] + ":" + q[0][:20] for q in QUESTIONS])
def test_office_procedures_answer_their_own_questions(office_index, question, passage_id, pieces):
    _settings, _summary, _human, searcher, _root = office_index
    result = searcher.search(question, k=5)
    assert result.answered
    top = result.hits[0].passage
    assert top.id == passage_id, [h.passage.id for h in result.hits]
    for piece in pieces:
        assert piece in top.citation
    assert "đã được thay thế" not in top.citation


def test_superseded_version_is_never_cited_as_current(office_index):
    _settings, _summary, _human, searcher, _root = office_index
    result = searcher.search("trả lời phản ánh kiến nghị trong vòng bao nhiêu ngày làm việc", k=10)
    for hit in result.hits:
        p = hit.passage
        if p.doc_id == "qt-09-2020":
            assert p.status == "superseded" and "đã được thay thế" in p.citation
    assert result.hits[0].passage.doc_id == "qt-09"
    assert all(p.doc_id != "qt-09-2020" for p in searcher.procedures())


def test_ask_json_cites_code_version_and_section(office_index):
    settings, _summary, _human, _searcher, root = office_index
    done = isobot("ask", "--json", "-k", "3", "ai phân loại phản ánh kiến nghị và mất mấy ngày",
                  data_dir=settings.data_dir, corpus_dir=settings.corpus_dir, cwd=root)
    assert done.returncode == 0, done.stderr
    answer = json.loads(done.stdout)
    assert answer["answered"]
    first = answer["results"][0]
    assert first["passage_id"] == "qt-09#4.2" and first["section"] == "4.2"
    assert first["citation"] == (
        "QT-09 Tiếp nhận và xử lý phản ánh, kiến nghị của người dân (lần ban hành 02, hiệu lực 01/03/2024) — Mục 4.2")
    assert "Công chức Văn phòng - Thống kê | Phân loại phản ánh, kiến nghị | 01 ngày làm việc" in first["text"]


def test_scanned_pdf_stops_the_reindex_and_names_the_file(tmp_path, embedding_settings):
    corpus = _write_corpus(tmp_path / "corpus", TINY_CORPUS_FILES)
    fx.write_image_only_pdf(corpus / "procedures" / "qt-12-ban-quet.pdf")
    data_dir = tmp_path / "var"
    done = isobot("reindex", "--quiet", data_dir=data_dir, corpus_dir=corpus, cwd=tmp_path)
    assert done.returncode == 1
    assert f"{corpus / 'procedures' / 'qt-12-ban-quet.pdf'}:1:" in done.stderr
    assert "không có lớp chữ" in done.stderr
    as_json = isobot("reindex", "--json", "--quiet", data_dir=data_dir, corpus_dir=corpus, cwd=tmp_path)
    problems = json.loads(as_json.stdout)["problems"]
    assert len(problems) == 1 and "qt-12-ban-quet.pdf:1:" in problems[0]
    assert not (data_dir / "index" / "CURRENT").exists()  # nothing half-built went live

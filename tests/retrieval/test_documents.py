"""Loading and validating corpus folders: what admins see when a file is right or wrong."""
from __future__ import annotations

import datetime as dt

import pytest

from retrieval.documents import CorpusError, load_corpus


def test_tiny_corpus_passages_have_ids_paths_and_citations(tiny_corpus, write_corpus, tiny_corpus_files):
    corpus = load_corpus(tiny_corpus)
    by_id = {p.id: p for p in corpus.passages}

    clause = by_id["tcvn-iso-9001-2015#7.5.3"]
    assert clause.clause == "7.5.3" and clause.iso_refs == ("7.5.3",)
    assert clause.heading_path == (
        "TCVN ISO 9001:2015",
        "Hỗ trợ",
        "Thông tin dạng văn bản",
        "Kiểm soát thông tin dạng văn bản",
    )
    assert clause.citation == "TCVN ISO 9001:2015 — Điều 7.5.3 Kiểm soát thông tin dạng văn bản"
    assert clause.text.startswith("Thông tin dạng văn bản phải sẵn có")
    assert clause.source_path == "standard/tcvn-iso-9001-2015.md"
    lines = (tiny_corpus / clause.source_path).read_text(encoding="utf-8").splitlines()
    assert lines[clause.source_line - 1].startswith("#### 7.5.3")

    # Headings with sub-clauses and no text of their own are only ancestors, never passages.
    assert "tcvn-iso-9001-2015#7" not in by_id and "tcvn-iso-9001-2015#7.5" not in by_id

    step = by_id["qt-01#5.2"]
    assert step.kind == "procedure" and step.clause == ""
    assert step.iso_refs == ("7.5.3",) and step.version == "03" and step.effective_date == "2024-03-01"
    assert step.citation == "QT-01 Kiểm soát tài liệu (lần ban hành 03, hiệu lực 01/03/2024) — Mục 5.2"
    assert by_id["qt-01#1"].heading_path == ("Kiểm soát tài liệu", "Mục đích")

    faq = by_id["faq-chuyen-doi#sotay"]
    assert faq.kind == "faq" and faq.heading_path[-1] == "Sổ tay chất lượng còn bắt buộc không?"
    assert "không còn bắt buộc" in faq.text and faq.iso_refs == ("7.5.1",)

    row = by_id["correspondence#2008-4.2.3"]  # a table without an id is named after its file
    assert row.kind == "correspondence" and row.iso_refs == ("7.5.3",)
    assert row.citation.endswith("— Điều 4.2.3 Kiểm soát tài liệu (bản 2008)")
    assert row.text.startswith("Điều 4.2.3 Kiểm soát tài liệu (TCVN ISO 9001:2008) tương ứng với điều 7.5.3")
    assert corpus.correspondence[0].clauses_2015 == ("7.5.3",)
    assert corpus.glossary[0].term == "HTQLCL"
    assert corpus.glossary[0].means == ("hệ thống quản lý chất lượng",)
    assert set(corpus.documents) == {"tcvn-iso-9001-2015", "qt-01", "faq-chuyen-doi", "correspondence"}
    assert corpus.warnings == ()


def test_passage_order_and_corpus_hash_are_stable(tiny_corpus, write_corpus, tiny_corpus_files):
    first, second = load_corpus(tiny_corpus), load_corpus(tiny_corpus)
    assert [p.id for p in first.passages] == [p.id for p in second.passages]
    assert first.corpus_hash == second.corpus_hash
    write_corpus(tiny_corpus, {"procedures/qt-01.md": tiny_corpus_files['procedures/qt-01.md'].replace("ký ban hành", "ký duyệt")})
    third = load_corpus(tiny_corpus)
    assert third.corpus_hash != first.corpus_hash
    assert third.documents["qt-01"].content_hash != first.documents["qt-01"].content_hash
    assert third.documents["tcvn-iso-9001-2015"].content_hash == first.documents["tcvn-iso-9001-2015"].content_hash


def test_malformed_corpus_lists_every_problem_with_file_and_line(tiny_corpus, write_corpus, tiny_corpus_files):
    write_corpus(
        tiny_corpus,
        {
            # bad YAML: an unclosed list opened on line 3, noticed on line 4
            "regulations/broken.md": "---\nid: broken\ntitle: [unclosed\nkind: regulation\n---\n## 1. A\ntext\n",
            # missing kind, unknown kind elsewhere
            "regulations/nokind.md": "---\nid: nokind\ntitle: Không có loại\n---\n## 1. Mục\nNội dung.\n",
            "regulations/badkind.md": "---\nid: badkind\ntitle: Sai loại\nkind: memo\n---\n## 1. Mục\nNội dung.\n",
            # procedure without version, with a bad date, an empty heading and a duplicate section
            "procedures/qt-09.md": (
                "---\nid: qt-09\ntitle: Quy trình lỗi\nkind: procedure\ncode: QT-09\n"
                "effective_date: 2024-02-30\n---\n## 1. Mục đích\nA.\n## 2. Phạm vi\n\n## 1. Lại mục đích\nB.\n"
            ),
            # same id as the real procedure
            "procedures/copy.md": tiny_corpus_files['procedures/qt-01.md'],
            # a YAML file of no known shape
            "transition/other.yaml": "foo: 1\nbar: [1, 2]\n",
        },
    )
    with pytest.raises(CorpusError) as caught:
        load_corpus(tiny_corpus)
    problems = caught.value.problems
    text = "\n".join(problems)

    def has(rel: str, line: int, fragment: str) -> bool:
        return any(p.startswith(f"{tiny_corpus / rel}:{line}: ") and fragment in p for p in problems)

    assert has("regulations/broken.md", 4, "bắt đầu ở dòng 3"), text
    assert has("regulations/nokind.md", 2, "thiếu trường bắt buộc 'kind'"), text
    assert has("regulations/badkind.md", 4, "kind 'memo' không hợp lệ"), text
    assert has("procedures/qt-09.md", 2, "thiếu trường bắt buộc 'version'"), text
    assert has("procedures/qt-09.md", 6, "ngày '2024-02-30' không hợp lệ"), text
    assert has("transition/other.yaml", 1, "không đúng dạng"), text
    # copy.md sorts before qt-01.md, so the real file is reported as the duplicate
    assert any("id 'qt-01' trùng với" in p for p in problems), text
    assert len(problems) >= 7


def test_structure_problems_point_at_the_heading_line(tmp_path, write_corpus, tiny_corpus_files):
    corpus_dir = write_corpus(
        tmp_path / "c",
        {
            "regulations/r.md": (
                "---\nid: r\ntitle: Quy chế\nkind: regulation\nsource: x\n---\n"
                "## 1. Phạm vi\nÁp dụng cho xã.\n## 2. Trách nhiệm\n\n## 1. Phạm vi khác\nLặp lại.\n"
            )
        },
    )
    with pytest.raises(CorpusError) as caught:
        load_corpus(corpus_dir)
    problems = caught.value.problems
    assert any(p.startswith(f"{corpus_dir / 'regulations/r.md'}:9: ") and "không có nội dung" in p for p in problems)
    assert any(p.startswith(f"{corpus_dir / 'regulations/r.md'}:11: ") and "xuất hiện hai lần" in p for p in problems)


def test_newest_unsuperseded_version_is_current_and_others_superseded(tiny_corpus, write_corpus, tiny_corpus_files):
    old = tiny_corpus_files['procedures/qt-01.md'].replace("id: qt-01", "id: qt-01-v02").replace('"03"', '"02"').replace("2024-03-01", "01/06/2019")
    older_marked = (
        tiny_corpus_files['procedures/qt-01.md'].replace("id: qt-01", "id: qt-01-v01")
        .replace('"03"', '"01"')
        .replace("2024-03-01", "2015-01-01\nstatus: superseded")
    )
    write_corpus(tiny_corpus, {"procedures/qt-01-v02.md": old, "procedures/qt-01-v01.md": older_marked})
    corpus = load_corpus(tiny_corpus)
    status = {doc_id: d.status for doc_id, d in corpus.documents.items() if d.kind == "procedure"}
    assert status == {"qt-01": "active", "qt-01-v02": "superseded", "qt-01-v01": "superseded"}
    assert corpus.documents["qt-01-v02"].effective_date == "2019-06-01"
    old_step = next(p for p in corpus.passages if p.id == "qt-01-v02#5.2")
    assert old_step.status == "superseded" and "đã được thay thế" in old_step.citation
    assert next(p for p in corpus.passages if p.id == "qt-01#5.2").status == "active"


def test_marking_the_newest_superseded_makes_the_previous_one_current(tiny_corpus, write_corpus, tiny_corpus_files):
    newest_withdrawn = tiny_corpus_files['procedures/qt-01.md'].replace("2024-03-01", "2024-03-01\nstatus: superseded")
    old = tiny_corpus_files['procedures/qt-01.md'].replace("id: qt-01", "id: qt-01-v02").replace('"03"', '"02"').replace("2024-03-01", "2019-06-01")
    write_corpus(tiny_corpus, {"procedures/qt-01.md": newest_withdrawn, "procedures/qt-01-v02.md": old})
    docs = load_corpus(tiny_corpus).documents
    assert docs["qt-01"].status == "superseded" and docs["qt-01-v02"].status == "active"


def test_two_active_versions_on_the_same_day_are_a_problem(tiny_corpus, write_corpus, tiny_corpus_files):
    twin = tiny_corpus_files['procedures/qt-01.md'].replace("id: qt-01", "id: qt-01-bis").replace('"03"', '"04"')
    write_corpus(tiny_corpus, {"procedures/qt-01-bis.md": twin})
    with pytest.raises(CorpusError) as caught:
        load_corpus(tiny_corpus)
    assert any("QT-01" in p and "cùng ngày 2024-03-01" in p for p in caught.value.problems)


def test_future_effective_date_of_the_current_version_is_a_warning(tiny_corpus, write_corpus, tiny_corpus_files):
    corpus = load_corpus(tiny_corpus, today=dt.date(2024, 1, 1))
    assert any("chưa tới" in w and "qt-01.md" in w for w in corpus.warnings)


def test_yaml_keeps_version_and_clause_strings(tmp_path, write_corpus, tiny_corpus_files):
    # Unquoted 03 and 7.10 must not turn into the numbers 3 and 7.1.
    text = tiny_corpus_files['procedures/qt-01.md'].replace('"03"', "03").replace('["7.5.3"]', "[7.10, 8.5.1]")
    corpus = load_corpus(write_corpus(tmp_path / "c", {"p.md": text}))
    passage = corpus.passages[0]
    assert passage.version == "03" and passage.iso_refs == ("7.10", "8.5.1")


def test_text_before_first_numbered_heading_and_unnumbered_headings_stay_searchable(tmp_path, write_corpus, tiny_corpus_files):
    text = (
        "---\nid: tin-1\ntitle: Tin chuyển đổi\nkind: news\nsource: Cổng thông tin\n---\n"
        "# Tin chuyển đổi\n\nTỉnh hoàn thành chuyển đổi.\n\n## Chi tiết\n\nCác xã đã áp dụng.\n\n"
        "```\n## 3. not a heading inside code\n```\n"
    )
    corpus = load_corpus(write_corpus(tmp_path / "c", {"news/tin-1.md": text}))
    (passage,) = corpus.passages
    assert passage.id == "tin-1#intro" and passage.section == ""
    assert "Tỉnh hoàn thành chuyển đổi." in passage.text and "Chi tiết" in passage.text
    assert "## 3. not a heading" in passage.text
    assert not passage.text.startswith("Tin chuyển đổi")
    assert passage.citation == "Tin chuyển đổi"


def test_sidecar_yaml_is_not_a_problem_and_unknown_files_are_warnings(tiny_corpus, write_corpus, tiny_corpus_files):
    (tiny_corpus / "procedures" / "qt-05.pdf").write_bytes(b"%PDF-1.4 not really")
    write_corpus(tiny_corpus, {"procedures/qt-05.yaml": "id: qt-05\ntitle: X\n", "notes.txt": "ghi chú"})
    try:
        import retrieval.ingest  # noqa: F401
    except ModuleNotFoundError:
        corpus = load_corpus(tiny_corpus)
        assert any("qt-05.pdf:1: định dạng chưa hỗ trợ" in w for w in corpus.warnings)
    else:
        # A real importer rejects this fake PDF (or its incomplete metadata) with a located problem.
        with pytest.raises(CorpusError) as caught:
            load_corpus(tiny_corpus)
        assert any("qt-05.pdf:" in p for p in caught.value.problems)
        (tiny_corpus / "procedures" / "qt-05.pdf").unlink()
        (tiny_corpus / "procedures" / "qt-05.yaml").unlink()
        corpus = load_corpus(tiny_corpus)
    assert any("notes.txt:1: định dạng chưa hỗ trợ" in w for w in corpus.warnings)


def test_correspondence_pointing_outside_the_standard_is_warned(tiny_corpus, write_corpus, tiny_corpus_files):
    write_corpus(
        tiny_corpus,
        {"transition/correspondence.yaml": "rows:\n  - clause_2008: '8.2.2'\n    title_2008: Đánh giá nội bộ\n"
         "    clauses_2015: ['9.2']\n  - clause_2008: '5.5.3'\n    title_2008: Trao đổi thông tin nội bộ\n"
         "    clauses_2015: ['7.4']\n"},
    )
    corpus = load_corpus(tiny_corpus)
    assert [w for w in corpus.warnings if "không có trong tài liệu tiêu chuẩn" in w] == [
        f"{tiny_corpus / 'transition/correspondence.yaml'}:5: điều 7.4 của bản 2015 không có trong tài liệu tiêu chuẩn"
    ]


def test_yaml_mixing_glossary_and_correspondence_is_a_problem(tiny_corpus, write_corpus, tiny_corpus_files):
    write_corpus(tiny_corpus, {"glossary.yaml": tiny_corpus_files["glossary.yaml"] + "rows:\n  - clause_2008: '4.2'\n"})
    with pytest.raises(CorpusError) as caught:
        load_corpus(tiny_corpus)
    (problem,) = caught.value.problems
    assert problem.startswith(f"{tiny_corpus / 'glossary.yaml'}:1: ") and "không đúng dạng" in problem

"""Office procedures (Word, PDF, legacy encodings) as an admin drops them into corpus/procedures/."""
from __future__ import annotations

import datetime as dt
import unicodedata

import pytest
from hypothesis import given, settings, strategies as st

from retrieval.documents import CorpusError, load_corpus
from retrieval.ingest import IngestError, parse_office_file
from retrieval.ingest.legacy_encodings import (
    TCVN3, UNICODE, VNI, detect_encoding, tcvn3_to_unicode, unicode_to_tcvn3, unicode_to_vni, vni_to_unicode,
)
from retrieval.ingest.repair import join_hyphenated, merge_wrapped_lines, rejoin_split_syllables, remove_page_furniture
from retrieval.ingest.structure import Block, find_title, metadata_fields, split_sections, tidy_title
from retrieval.ingest.syllables import is_syllable
from tests import office_fixtures as fx

TODAY = dt.date(2026, 11, 25)
SENTENCE = "Người đứng đầu cơ quan phê duyệt quy trình; hồ sơ được lưu trữ ít nhất 05 năm tại Văn phòng."

# --- legacy encodings -------------------------------------------------------------------------

VIETNAMESE_LOWER = "aăâbcdđeêghiklmnoôơpqrstuưvxy" + "àảãáạằẳẵắặầẩẫấậèẻẽéẹềểễếệìỉĩíịòỏõóọồổỗốộờởỡớợùủũúụừửữứựỳỷỹýỵ"
ASCII_TEXT = "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789 .,;:-()/"


@settings(max_examples=300, deadline=None)
@given(st.text(alphabet=VIETNAMESE_LOWER + "ĂÂÊÔƠƯĐ" + ASCII_TEXT, max_size=60))
def test_tcvn3_round_trip_for_every_letter_the_table_has(text):
    assert tcvn3_to_unicode(unicode_to_tcvn3(text)) == text


@settings(max_examples=300, deadline=None)
@given(st.text(alphabet=VIETNAMESE_LOWER + VIETNAMESE_LOWER.upper() + ASCII_TEXT, max_size=60))
def test_vni_round_trip_for_upper_and_lower_case(text):
    text = unicodedata.normalize("NFC", text)
    assert vni_to_unicode(unicode_to_vni(text)) == text


def test_tcvn3_and_vni_tables_match_text_typed_in_those_fonts():
    # Strings as they show when a legacy file is opened without its font.
    assert tcvn3_to_unicode("Quy tr×nh kiÓm so¸t tµi liÖu") == "Quy trình kiểm soát tài liệu"
    assert tcvn3_to_unicode("§iÒu 5. Tr¸ch nhiÖm cña ng­êi ®øng ®Çu") == "Điều 5. Trách nhiệm của người đứng đầu"
    assert tcvn3_to_unicode("môc ®Ých", capitals_font=True) == "MỤC ĐÍCH"  # text set in .VnTimeH
    assert vni_to_unicode("Coäng hoøa xaõ hoäi chuû nghóa Vieät Nam") == "Cộng hòa xã hội chủ nghĩa Việt Nam"
    assert vni_to_unicode("Ñoäc laäp - Töï do - Haïnh phuùc") == "Độc lập - Tự do - Hạnh phúc"
    assert unicode_to_tcvn3(SENTENCE) != SENTENCE and unicode_to_vni(SENTENCE) != SENTENCE


def test_detection_tells_the_encodings_apart_and_leaves_other_languages_alone():
    assert detect_encoding(unicode_to_tcvn3(SENTENCE)) == TCVN3
    assert detect_encoding(unicode_to_vni(SENTENCE)) == VNI
    assert detect_encoding(SENTENCE) == UNICODE
    assert detect_encoding("Phòng và bàn là của tôi") == UNICODE  # Unicode using only Latin-1 letters
    assert detect_encoding("Le café est à côté de l'hôtel, très élégant") == UNICODE
    assert detect_encoding("Mã số QT-05, lần ban hành 02") == UNICODE


def test_syllables():
    for word in ("điều", "khoản", "người", "quốc", "giữ", "hoà", "hòa", "thuỷ", "NGHIÊNG"):
        assert is_syllable(word), word
    for word in ("điề", "ISO", "UBND", "mơc", "maõ", "cuả", "tcvn"):
        assert not is_syllable(word), word


# --- repair -----------------------------------------------------------------------------------


def test_syllables_split_by_pdf_extraction_are_rejoined_but_real_words_stay_apart():
    assert rejoin_split_syllables("ĐIỀ U KHO ẢN CHUNG") == "ĐIỀU KHOẢN CHUNG"
    assert rejoin_split_syllables("Trách nhiệ m của bộ phậ n một cửa") == "Trách nhiệm của bộ phận một cửa"
    kept = "cho ý kiến, theo ảnh chụp, do ủy ban, cho ăn, kho lưu trữ"
    assert rejoin_split_syllables(kept) == kept


def test_printed_lines_are_joined_into_paragraphs_but_lists_and_rows_stay():
    lines = ["Công chức Văn phòng - Thống", "kê phân loại phản ánh trong", "07 ngày làm việc, báo cáo",
             "UBND xã kết quả.", "Các kênh tiếp nhận:", "- hộp thư góp ý", "- đường dây nóng",
             "Tên hồ sơ | Nơi lưu", "Sổ theo dõi | Văn phòng"]
    assert merge_wrapped_lines(lines) == [
        "Công chức Văn phòng - Thống kê phân loại phản ánh trong 07 ngày làm việc, báo cáo UBND xã kết quả.",
        "Các kênh tiếp nhận:", "- hộp thư góp ý", "- đường dây nóng", "Tên hồ sơ | Nơi lưu", "Sổ theo dõi | Văn phòng"]


def test_hyphenation_and_page_furniture():
    assert join_hyphenated(["the quality docu-", "mentation"]) == ["the quality documentation"]
    assert join_hyphenated(["theo quy trình QT-", "05 hiện hành"]) == ["theo quy trình QT-05 hiện hành"]
    assert join_hyphenated(["phát triển kinh tế-", "xã hội"]) == ["phát triển kinh tế-xã hội"]
    bodies = [[f"Nội dung riêng {word} của trang này." for word in words.split()]
              for words in ("một hai ba bốn", "năm sáu bảy tám", "chín mười mươi trăm")]
    pages = [["QT-10 Quản lý con dấu", *body, f"Trang {i}/3"] for i, body in enumerate(bodies, start=1)]
    cleaned, removed = remove_page_furniture(pages)
    assert cleaned == bodies
    assert removed == ["QT-10 Quản lý con dấu", "Trang 1/3"]


# --- header fields ----------------------------------------------------------------------------


@pytest.mark.parametrize("line, expected", [
    ("Mã số: QT-05", {"code": "QT-05"}),
    ("Mã hiệu: QT.05   Lần ban hành/sửa đổi: 02/00", {"code": "QT.05", "version": "02"}),
    ("MÃ SỐ QT 07 - Phiên bản: 2.1 - Ngày hiệu lực: 1/3/2024",
     {"code": "QT-07", "version": "2.1", "effective_date": "2024-03-01"}),
    ("Ngày có hiệu lực: ngày 05 tháng 6 năm 2023", {"effective_date": "2023-06-05"}),
    ("Ngày ban hành: 31/12/2019 Trang: 2/7", {"issued_date": "2019-12-31"}),
    ("Ngày hiệu lực: 31/02/2024", {}),  # not a real date
    ("Quy trình này thay thế lần ban hành trước và áp dụng cho mọi bộ phận", {}),
])
def test_header_fields_in_the_wordings_agencies_use(line, expected):
    assert metadata_fields(line) == expected


def test_numbered_headings_must_continue_the_numbering_and_start_with_a_capital():
    texts = ["1. Mục đích", "Nội dung.", "2. Thời hạn", "Hồ sơ được giải quyết trong", "3 ngày làm việc.",
             "1. Nhận hồ sơ;", "II. Không phải phần La Mã", "3. Trách nhiệm", "Bước 1: Tiếp nhận", "Nhận.",
             "Bước 3: Bỏ qua bước 2 nên không phải đề mục", "Bước 2: Thẩm định", "Xem xét.", "3.1 Lãnh đạo", "Ký."]
    sections, first = split_sections([Block(t, i + 1) for i, t in enumerate(texts)])
    assert first == 0
    assert [(s.number, s.title) for s in sections if s.number] == [
        ("1", "Mục đích"), ("2", "Thời hạn"), ("3", "Trách nhiệm"), ("3.B1", "Bước 1: Tiếp nhận"),
        ("3.B2", "Bước 2: Thẩm định"), ("3.1", "Lãnh đạo")]
    assert "3 ngày làm việc." in sections[2].text and "II. Không phải phần La Mã" in sections[2].text


def test_word_headings_without_numbers_continue_the_numbering(tmp_path):
    import docx
    from docx.oxml import OxmlElement
    from docx.oxml.ns import qn

    document = docx.Document()
    document.add_paragraph("1. Mục đích", style="Heading 1")
    document.add_paragraph("Quy định việc lưu trữ hồ sơ.")
    document.add_paragraph("Phạm vi áp dụng", style="Heading 1")  # numbered by nothing in the text
    document.add_paragraph("Mọi bộ phận.")
    document.add_paragraph("Trách nhiệm lưu trữ", style="Heading 2")
    document.add_paragraph("Văn thư.")
    custom = document.add_paragraph("Hồ sơ")  # a custom style marks headings by outline level only
    outline = OxmlElement("w:outlineLvl")
    outline.set(qn("w:val"), "0")
    custom._p.get_or_add_pPr().append(outline)
    document.add_paragraph("Sổ lưu trữ.")
    path = tmp_path / "hd-01.docx"
    document.save(str(path))
    (tmp_path / "hd-01.yaml").write_text("kind: regulation\ntitle: Hướng dẫn lưu trữ\n", encoding="utf-8")
    doc = parse_office_file(path)
    assert [(s.number, s.title) for s in doc.sections] == [
        ("1", "Mục đích"), ("2", "Phạm vi áp dụng"), ("2.1", "Trách nhiệm lưu trữ"), ("3", "Hồ sơ")]


def test_a_repeated_heading_number_stays_text_with_a_note():
    blocks = [Block("1. Mục đích", 1, heading_level=1), Block("Nội dung.", 2),
              Block("1. Mục đích", 3, heading_level=1), Block("Bản chép lại.", 4), Block("2. Phạm vi", 5), Block("Xã.", 6)]
    notes: list[str] = []
    sections, _ = split_sections(blocks, notes)
    assert [s.number for s in sections if s.number] == ["1", "2"]
    assert "Bản chép lại." in sections[1].text
    assert notes == ["đề mục 1 lặp lại (lần đầu ở đoạn/trang 1); giữ làm nội dung của mục trước"]


def test_titles_lose_the_procedure_word_and_capitals_but_keep_acronyms():
    assert find_title(["UBND XÃ BÌNH AN", "QUY TRÌNH", "TIẾP NHẬN HỒ SƠ TẠI BỘ PHẬN MỘT CỬA UBND XÃ"]) == (
        "Tiếp nhận hồ sơ tại bộ phận một cửa UBND xã")
    assert find_title(["Quy trình này quy định cách tiếp nhận hồ sơ", "QUY TRÌNH LƯU TRỮ"]) == "Lưu trữ"
    assert find_title(["Hướng dẫn công việc: Lưu trữ hồ sơ TTHC"]) == "Hướng dẫn công việc: Lưu trữ hồ sơ TTHC"
    assert tidy_title("QT-05: KIỂM SOÁT TÀI LIỆU THEO TCVN ISO 9001:2015", code="QT-05") == (
        "Kiểm soát tài liệu theo TCVN ISO 9001:2015")


# --- Word -------------------------------------------------------------------------------------


def test_word_procedure_header_table_sections_and_tables(tmp_path):
    doc = parse_office_file(fx.write_qt09(tmp_path / "procedures" / "qt-09.docx"))
    meta = doc.metadata
    assert (meta["code"], meta["version"], meta["effective_date"]) == ("QT-09", "02", "2024-03-01")
    assert meta["title"] == "Tiếp nhận và xử lý phản ánh, kiến nghị của người dân"
    assert meta["kind"] == "procedure" and meta["id"] == "qt-09"
    assert meta["iso_refs"] == ["9.1.2"]  # 'Điều 9.1.2 của TCVN ISO 9001:2015' in section 3
    by_number = {s.number: s for s in doc.sections}
    assert list(by_number) == ["", "1", "2", "3", "4", "4.1", "4.2", "4.3", "5"]
    # Before '1. Mục đích': the note on what this version replaces stays; letterhead, header fields
    # and the approval block (names, positions, signatures) do not.
    assert by_number[""].text.startswith("Quy trình này thay thế lần ban hành trước")
    assert not any(w in by_number[""].text for w in ("Trần Thị Mai", "Chữ ký", "UBND XÃ", "QT-09"))
    # The numbered list inside 4.1 stays its text instead of becoming sections 1 and 2 again.
    assert "1. Hộp thư góp ý đặt tại trụ sở" in by_number["4.1"].text
    # Tables are kept as one readable line per row, the header row first.
    lines = by_number["4.2"].text.split("\n")
    assert "Trách nhiệm | Nội dung công việc | Thời gian" in lines
    assert "Bộ phận chuyên môn | Xác minh, đề xuất cách giải quyết | 04 ngày làm việc" in lines
    assert "Sổ theo dõi phản ánh, kiến nghị | Văn phòng - Thống kê | 05 năm" in by_number["5"].text
    # The header table is metadata, not a passage of its own.
    assert not any("Mã số" in s.text or "UBND XÃ BÌNH AN" in s.text for s in doc.sections)
    assert doc.warnings == ()


@pytest.mark.parametrize("encoding, expected", [("tcvn3", TCVN3), ("vni", VNI)])
def test_legacy_word_procedure_is_converted_to_unicode(tmp_path, encoding, expected):
    path = fx.write_legacy_docx(tmp_path / "procedures" / f"qt-11-{encoding}.docx", encoding=encoding)
    raw = path.read_bytes()
    assert "thứ Năm".encode() not in raw  # really stored in the legacy encoding
    doc = parse_office_file(path)
    assert doc.encoding == expected
    meta = doc.metadata
    # Header fields in Word's page header, typed in the legacy font too.
    assert (meta["code"], meta["version"], meta["effective_date"]) == ("QT-11", "03", "2024-01-10")
    assert meta["title"] == "Tiếp công dân"
    sections = {s.number: s for s in doc.sections}
    assert [(n, s.title) for n, s in sections.items()] == [
        ("1", "Mục đích"), ("2", "Lịch tiếp công dân"), ("3", "Sổ tiếp công dân")]
    assert "tiếp công dân định kỳ vào sáng thứ Năm hằng tuần" in sections["2"].text
    # 'ư' is TCVN3's soft-hyphen byte, which Word keeps as <w:softHyphen/>: it must survive.
    assert "sổ được lưu tại bộ phận Tư pháp - Hộ tịch trong 10 năm" in sections["3"].text
    assert any(("TCVN3" if encoding == "tcvn3" else "VNI") in w and "Unicode" in w for w in doc.warnings)


def test_sidecar_fills_what_the_document_does_not_say_and_disagreements_are_reported(tmp_path):
    folder = tmp_path / "procedures"
    fx.write_qt09(folder / "qt-09-cu.docx", sections=fx.QT09_SECTIONS_V1, header=False, auto_numbered=True)
    (folder / "qt-09-cu.yaml").write_text(
        'id: qt-09-ban-cu\ntitle: Tiếp nhận phản ánh, kiến nghị\ncode: QT-09\nversion: "01"\n'
        "effective_date: 15/06/2020\niso_refs: [\"9.1.2\"]\nsource: Văn phòng UBND xã\n", encoding="utf-8")
    old = parse_office_file(folder / "qt-09-cu.docx")
    meta = old.metadata
    # Headings numbered by Word's automatic numbering, not typed: numbered as printed.
    assert [(s.number, s.title) for s in old.sections] == [("1", "Mục đích"), ("2", "Trả lời người phản ánh")]
    assert meta["id"] == "qt-09-ban-cu" and meta["version"] == "01" and meta["effective_date"] == "15/06/2020"
    assert meta["iso_refs"] == ["9.1.2"] and meta["source"] == "Văn phòng UBND xã"

    fx.write_qt09(folder / "qt-09.docx")
    (folder / "qt-09.yaml").write_text('version: "01"\nsource: Văn phòng\n', encoding="utf-8")
    doc = parse_office_file(folder / "qt-09.docx")
    assert doc.metadata["version"] == "02"  # the file itself is newer than its stale sidecar
    assert any("Lần ban hành" in w and "'02'" in w and "'01'" in w for w in doc.warnings)


def test_issue_date_stands_in_for_a_missing_effective_date_unless_the_sidecar_has_one(tmp_path):
    fields = ["Mã số: QT-09", "Lần ban hành: 02", "Ngày ban hành: 01/02/2023"]
    path = fx.write_qt09(tmp_path / "qt-09.docx", fields=fields)
    doc = parse_office_file(path)
    assert doc.metadata["effective_date"] == "2023-02-01"
    assert any("dùng ngày ban hành 01/02/2023" in w for w in doc.warnings)
    (tmp_path / "qt-09.yaml").write_text("effective_date: 15/02/2023\n", encoding="utf-8")
    doc = parse_office_file(path)
    assert doc.metadata["effective_date"] == "15/02/2023" and not doc.warnings


def test_procedure_without_code_or_dates_says_what_to_add(tmp_path):
    path = fx.write_qt09(tmp_path / "procedures" / "phan-anh.docx", header=False)
    with pytest.raises(IngestError) as caught:
        parse_office_file(path)
    reason = caught.value.reason
    assert "'Mã số', 'Lần ban hành', 'Ngày hiệu lực'" in reason and "phan-anh.yaml" in reason
    (tmp_path / "procedures" / "phan-anh.yaml").write_text(
        'code: QT-09\nversion: "02"\neffective_date: 2024-03-01\n', encoding="utf-8")
    assert parse_office_file(path).metadata["code"] == "QT-09"


# --- PDF --------------------------------------------------------------------------------------


def test_text_pdf_first_page_fields_steps_and_repairs(tmp_path):
    doc = parse_office_file(fx.write_qt10_pdf(tmp_path / "procedures" / "qt-10.pdf"))
    meta = doc.metadata
    assert (meta["code"], meta["version"], meta["effective_date"]) == ("QT-10", "01", "2024-04-15")
    assert meta["title"] == "Quản lý con dấu và phát hành văn bản"
    sections = {s.number: s for s in doc.sections}
    assert list(sections) == ["1", "2", "3", "3.B1", "3.B2", "3.B3", "4", "5"]
    # Table columns (layout extraction) become one line per row.
    assert sections["5"].text.split("\n") == [
        "Tên hồ sơ | Nơi lưu | Thời gian lưu", "Sổ đăng ký văn bản đi | Văn thư | 05 năm",
        "Sổ giao nhận con dấu | Văn phòng - Thống kê | Vĩnh viễn"]
    assert sections["3.B2"].title == "Bước 2: Đóng dấu và vào sổ" and sections["3.B2"].line == 2  # page 2
    assert sections["4"].title == "Lưu giữ con dấu"  # 'LƯU GIỮ CON DẤ U' rejoined and sentence-cased
    text = "\n".join(s.text for s in doc.sections)
    assert "Trách nhiệm giữ con dấu thuộc về văn thư" in text
    # Printed lines are joined back into sentences; running header and page numbers are gone.
    assert "văn bản sai thể thức" in sections["3.B1"].text and "\n" not in sections["3.B1"].text
    assert "Trang" not in text and "UBND xã Bình An —" not in text


@pytest.mark.parametrize("encode, expected", [(unicode_to_tcvn3, TCVN3), (unicode_to_vni, VNI)])
def test_pdf_printed_from_a_legacy_font_document_is_converted(tmp_path, encode, expected):
    doc = parse_office_file(fx.write_qt10_pdf(tmp_path / "qt-10.pdf", encode=encode))
    assert doc.encoding == expected
    assert doc.metadata["title"] == "Quản lý con dấu và phát hành văn bản"  # TCVN3 capitals restored
    sections = {s.number: s for s in doc.sections}
    assert list(sections) == ["1", "2", "3", "3.B1", "3.B2", "3.B3", "4", "5"]
    assert "Sổ đăng ký văn bản đi | Văn thư | 05 năm" in sections["5"].text
    # TCVN3's 'ư' is a soft hyphen in the text layer; it must not be cleaned away before conversion.
    assert "văn bản ký sau 16 giờ 30 được phát hành trước 9 giờ sáng" in sections["3.B3"].text


def test_image_only_pdf_is_an_error_naming_the_file_and_the_reason(tmp_path):
    path = fx.write_image_only_pdf(tmp_path / "procedures" / "qt-12-ban-quet.pdf")
    with pytest.raises(IngestError) as caught:
        parse_office_file(path)
    assert caught.value.path == path
    assert "qt-12-ban-quet.pdf" in str(caught.value) and "không có lớp chữ" in caught.value.reason


def test_damaged_files_are_errors_not_crashes(tmp_path):
    (tmp_path / "hong.docx").write_bytes(b"PK\x03\x04 not a zip")
    (tmp_path / "hong.pdf").write_bytes(b"%PDF-1.4\n garbage")
    (tmp_path / "cu.docx").write_bytes(b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + bytes(504))
    with pytest.raises(IngestError, match=r"cu\.docx: .*\(\.doc\).*lưu lại dạng \.docx"):
        parse_office_file(tmp_path / "cu.docx")
    for name in ("hong.docx", "hong.pdf"):
        with pytest.raises(IngestError) as caught:
            parse_office_file(tmp_path / name)
        assert caught.value.reason


# --- through the corpus loader ----------------------------------------------------------------


def test_corpus_with_office_files_marks_the_older_version_superseded(tiny_corpus):
    folder = tiny_corpus / "procedures"
    fx.write_qt09(folder / "qt-09.docx")
    fx.write_qt09(folder / "qt-09-2020.docx", version="01", effective="15/06/2020", sections=fx.QT09_SECTIONS_V1)
    fx.write_qt10_pdf(folder / "qt-10.pdf")
    fx.write_legacy_docx(folder / "qt-11.docx")
    corpus = load_corpus(tiny_corpus, today=TODAY)
    docs = corpus.documents
    assert docs["qt-09"].status == "active" and docs["qt-09-2020"].status == "superseded"
    assert docs["qt-10"].sections == ("1", "2", "3.B1", "3.B2", "3.B3", "4", "5")
    assert docs["qt-11"].version == "03" and any("TCVN3" in w for w in docs["qt-11"].warnings)
    step = next(p for p in corpus.passages if p.id == "qt-10#3.B2")
    assert step.citation == "QT-10 Quản lý con dấu và phát hành văn bản (lần ban hành 01, hiệu lực 15/04/2024) — Mục 3.B2"
    assert step.heading_path == ("Quản lý con dấu và phát hành văn bản", "Trình tự thực hiện", "Bước 2: Đóng dấu và vào sổ")
    old = next(p for p in corpus.passages if p.doc_id == "qt-09-2020" and p.section == "2")
    assert old.status == "superseded" and "đã được thay thế" in old.citation


def test_scanned_pdf_in_the_corpus_is_reported_by_name(tiny_corpus):
    fx.write_image_only_pdf(tiny_corpus / "procedures" / "qt-12-ban-quet.pdf")
    with pytest.raises(CorpusError) as caught:
        load_corpus(tiny_corpus, today=TODAY)
    (problem,) = caught.value.problems
    assert "qt-12-ban-quet.pdf:1:" in problem and "không có lớp chữ" in problem


def test_detection_over_the_real_corpus_paragraphs(capsys):
    """Every corpus paragraph, typed in TCVN3 or VNI, is recognised (short headings may stay ambiguous)."""
    from tests.conftest import CORPUS_DIR

    paragraphs = [p.strip() for path in sorted(CORPUS_DIR.rglob("*.md"))
                  for p in path.read_text(encoding="utf-8").split("\n\n") if len(p.split()) >= 3]
    assert all(detect_encoding(p) == UNICODE for p in paragraphs)
    for name, encode in ((TCVN3, unicode_to_tcvn3), (VNI, unicode_to_vni)):
        encoded = [encode(p) for p in paragraphs if encode(p) != p]
        right = sum(detect_encoding(e) == name for e in encoded)
        with capsys.disabled():
            print(f"\n{name}: {right}/{len(encoded)} corpus paragraphs detected")
        assert right >= 0.98 * len(encoded)

"""Vietnamese text processing and query understanding, on real text (no index needed)."""
from __future__ import annotations

import unicodedata

from hypothesis import given
from hypothesis import strategies as st

from retrieval.textproc import (
    fold,
    folded_tokens,
    has_diacritics,
    normalize,
    segmented_tokens,
    sentences,
)
from retrieval.types import CorrespondenceRow, GlossaryEntry, Passage
from retrieval.understanding import (
    DiacriticRestorer,
    QueryUnderstanding,
    content_tokens,
    expand_abbreviations,
)


def test_one_tone_mark_style_for_corpus_and_queries():
    assert normalize("hoà thuận, thuý, khoẻ, tuỳ, uỷ ban") == "hòa thuận, thúy, khỏe, tùy, ủy ban"
    # Closed syllables and qu- are the same in both styles and must not move.
    assert normalize("hoàng quý thuế khuyến") == "hoàng quý thuế khuyến"


def test_nfd_input_and_whitespace_become_nfc_single_spaced():
    nfd = unicodedata.normalize("NFD", "Kiểm soát   tài liệu\n")
    out = normalize(nfd)
    assert out == "Kiểm soát tài liệu"
    assert unicodedata.is_normalized("NFC", out)


def test_fold_removes_every_mark_including_d_bar():
    assert fold("Đánh giá nội bộ ĐỊNH KỲ") == "danh gia noi bo dinh ky"
    assert not has_diacritics("danh gia noi bo")
    assert has_diacritics("đánh giá")


def test_segmentation_joins_multi_syllable_words():
    tokens = segmented_tokens("Kiểm soát thông tin dạng văn bản như thế nào?")
    assert "kiểm_soát" in tokens and "văn_bản" in tokens
    assert "?" not in tokens


def test_clause_numbers_stay_one_token():
    assert "7.5.3" in segmented_tokens("Điều 7.5.3 yêu cầu gì")
    assert "7.5.3" in folded_tokens("Điều 7.5.3 yêu cầu gì")


def test_folded_tokens_have_syllables_and_pairs():
    tokens = folded_tokens("Kiểm soát tài liệu")
    assert {"kiem", "soat", "tai", "lieu", "kiem_soat", "tai_lieu"} <= set(tokens)


def test_question_words_are_dropped_but_content_words_kept():
    kept = content_tokens(folded_tokens("tài liệu của cơ quan như thế nào"))
    assert "nhu" not in kept and "the_nao" not in kept
    # "cua" is both "của" and "cửa" (một cửa): it must survive.
    assert "cua" in content_tokens(folded_tokens("bộ phận một cửa"))
    assert "tai_lieu" in kept


def test_sentences_split_lists_but_keep_record_lines_whole():
    text = "Mục đích của quy trình. Áp dụng cho mọi phòng:\n- Phiếu đề nghị (BM-01-01): lưu 3 năm\n- Sổ theo dõi"
    parts = sentences(text)
    assert "Phiếu đề nghị (BM-01-01): lưu 3 năm" in parts
    assert parts[0] == "Mục đích của quy trình."
    assert "Sổ theo dõi" in parts


def test_chat_abbreviations_expand_as_whole_words():
    assert expand_abbreviations("ko dc j") == "không được gì"
    assert expand_abbreviations("ntn la dung, hs luu bn nam") == "như thế nào la dung, hồ sơ luu bao nhiêu nam"
    # Inside a word or a code nothing changes.
    assert expand_abbreviations("kho QT-01 v02") == "kho QT-01 v02"


def test_restorer_uses_the_corpus_vocabulary_and_context():
    restorer = DiacriticRestorer(
        [
            "Kiểm soát tài liệu bên ngoài. Tài liệu được phê duyệt.",
            "Tái đánh giá nhà cung cấp. Lưu hồ sơ đánh giá nội bộ.",
            "Tại bộ phận một cửa, cán bộ tiếp nhận hồ sơ.",
        ]
    )
    assert restorer.restore("kiem soat tai lieu") == "kiểm soát tài liệu"
    assert restorer.restore("tai bo phan mot cua") == "tại bộ phận một cửa"
    # Words the corpus never saw are left alone.
    assert restorer.restore("luu ho so xyz") == "lưu hồ sơ xyz"


def _understanding() -> QueryUnderstanding:
    passages = [
        Passage(id=f"std#{c}", doc_id="std", doc_title="TCVN ISO 9001:2015", kind="standard", text=t, section=c, clause=c)
        for c, t in [
            ("7.5.3", "Kiểm soát thông tin dạng văn bản được duy trì và lưu giữ."),
            ("7.1.6", "Tri thức của tổ chức cần được xác định và duy trì."),
            ("8.5", "Sản xuất và cung cấp dịch vụ."),
            ("9.2", "Đánh giá nội bộ theo kế hoạch."),
        ]
    ]
    rows = [CorrespondenceRow("4.2.3", "Kiểm soát tài liệu", ("7.5.2", "7.5.3")), CorrespondenceRow("8.5", "Cải tiến", ("10",))]
    glossary = [GlossaryEntry("HTQLCL", ("hệ thống quản lý chất lượng",)), GlossaryEntry("internal audit", ("đánh giá nội bộ",))]
    return QueryUnderstanding(passages, rows, glossary)


def test_explicit_clause_references_in_every_form():
    qu = _understanding()
    assert qu.analyse("điều 7.5.3 yêu cầu gì").clause_refs == ("7.5.3",)
    assert qu.analyse("muc 8.5 noi gi").clause_refs == ("8.5",)
    assert qu.analyse("clause 9.2 requirements").clause_refs == ("9.2",)
    assert qu.analyse("7.1.6").clause_refs == ("7.1.6",)
    assert qu.analyse("khoản 7.5.3").clause_refs == ("7.5.3",)
    # Not clauses: a decree number, a date, the standard's year.
    assert qu.analyse("Nghị định 13/2023/NĐ-CP ngày 01.03.2024 và ISO 9001:2015").clause_refs == ()


def test_2008_references_go_to_the_correspondence_table():
    qu = _understanding()
    a = qu.analyse("điều 4.2.3 bản 2008 tương ứng điều nào bản 2015")
    assert a.refs_2008 == ("4.2.3",) and a.clause_refs == ()
    # A number only the 2008 edition has is a 2008 reference even without saying so.
    assert qu.analyse("4.2.3 la gi").refs_2008 == ("4.2.3",)
    # A number both editions have is 2015 unless the 2008 edition is named.
    assert qu.analyse("muc 8.5").refs_2008 == ()
    assert qu.analyse("muc 8.5 ISO 9001:2008").refs_2008 == ("8.5",)


def test_glossary_expansion_matches_with_or_without_marks():
    qu = _understanding()
    assert "hệ thống quản lý chất lượng" in qu.analyse("htqlcl la gi").expansions
    assert "đánh giá nội bộ" in qu.analyse("What is an internal audit?").expansions


def test_old_version_requests_are_recognised():
    qu = _understanding()
    assert qu.analyse("quy trình kiểm soát tài liệu bản cũ").wants_superseded
    assert qu.analyse("QT-01 lần ban hành 02").wants_superseded
    assert not qu.analyse("quy trình kiểm soát tài liệu").wants_superseded


def test_unaccented_query_is_restored_but_english_is_not():
    qu = _understanding()
    assert qu.analyse("danh gia noi bo").restored == "đánh giá nội bộ"
    english = qu.analyse("what does clause 9.2 require")
    assert not english.was_restored


vietnamese_text = st.text(
    alphabet=st.sampled_from(list("aăâeêioôơuưyđAĂÂEÊIOÔƠUƯYĐbcdghklmnpqrstvx .,\n") + ["\u0300", "\u0301", "\u0303", "\u0309", "\u0323"]),
    max_size=60,
)


@given(vietnamese_text)
def test_normalize_is_idempotent_and_folding_ignores_it(text):
    once = normalize(text)
    assert normalize(once) == once
    assert fold(once) == " ".join(fold(text).split())

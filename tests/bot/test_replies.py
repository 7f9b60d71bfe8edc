"""Reply formatting: every message Telegram would accept, citations bold, best sentence underlined."""
from __future__ import annotations

from hypothesis import given, settings as hsettings, strategies as st

from bot import replies
from retrieval.types import Hit, Passage, SearchResult
from tests.bot.emulator import TEXT_LIMIT, parse_html, utf16_len

CLAUSE = Passage(
    id="tcvn-iso-9001-2015#7.5.3",
    doc_id="tcvn-iso-9001-2015",
    doc_title="TCVN ISO 9001:2015",
    kind="standard",
    section="7.5.3",
    heading_path=("7 Hỗ trợ", "7.5 Thông tin dạng văn bản", "Kiểm soát thông tin dạng văn bản"),
    clause="7.5.3",
    text=("Thông tin dạng văn bản phải sẵn có khi cần. Nó phải được bảo vệ thích đáng, tránh mất tính "
          "toàn vẹn. Việc phân phối, truy cập, lưu trữ và huỷ bỏ phải được kiểm soát."),
)


def _result(*passages: Passage, best: str = "") -> SearchResult:
    hits = tuple(Hit(p, i + 1, 1.0 / (i + 1), best) for i, p in enumerate(passages))
    return SearchResult("q", "q", True, hits)


def test_answer_has_bold_citation_and_underlined_best_sentence():
    reply = replies.render_answer(_result(CLAUSE, best="Nó phải được bảo vệ thích đáng, tránh mất tính toàn vẹn."), "7")
    text = reply.chunks[0]
    assert "<b>TCVN ISO 9001:2015 — Điều 7.5.3 Kiểm soát thông tin dạng văn bản</b>" in text
    assert "<u>Nó phải được bảo vệ thích đáng, tránh mất tính toàn vẹn.</u>" in text
    parse_html(text)
    data = [b.callback_data for row in reply.keyboard.inline_keyboard for b in row]
    assert "full|tcvn-iso-9001-2015#7.5.3" in data and "fb|7|1" in data and "fb|7|-1" in data


def test_corpus_markup_is_escaped_not_interpreted():
    nasty = Passage(id="x#1", doc_id="x", doc_title="Tài liệu <b> & \"mẫu\"", kind="regulation", section="1",
                    text="Dùng thẻ <script>alert(1)</script> & ký hiệu < 5 và > 3. Câu *đậm* _nghiêng_ `mã`.")
    reply = replies.render_answer(_result(nasty, best="Câu *đậm* _nghiêng_ `mã`."), "1")
    plain, _ = parse_html(reply.chunks[0])
    assert "<script>alert(1)</script> & ký hiệu < 5" in plain
    assert "Tài liệu <b> & \"mẫu\"" in plain


def test_snippet_is_trimmed_around_the_best_sentence_at_word_boundaries():
    words = " ".join(f"từ{i}" for i in range(400))
    text = f"{words}. Câu quan trọng nhất nằm ở giữa đoạn. {words}."
    out = replies.snippet_html(text, "Câu quan trọng nhất nằm ở giữa đoạn.", limit=300)
    assert out.startswith("…") and out.endswith("…")
    assert "<u>Câu quan trọng nhất nằm ở giữa đoạn.</u>" in out
    plain = replies.to_plain_text(out)
    assert len(plain) <= 302
    # No word cut in half at either end.
    assert plain[1:].split(" ")[0].startswith("từ") and plain[:-1].split(" ")[-1].startswith("từ")


def test_not_answered_is_honest_and_cites_nothing():
    result = SearchResult("nấu phở", "nấu phở", False, (), suggestions=("Kiểm soát thông tin dạng văn bản",))
    reply = replies.render_answer(result, "3")
    text = "\n".join(reply.chunks)
    assert "chưa tìm thấy" in text and "điều 7.5.3" in text
    assert "• Kiểm soát thông tin dạng văn bản" in text
    assert "<b>" not in text and reply.keyboard is None


def test_long_full_text_splits_on_boundaries_under_the_limit():
    paragraphs = [f"Đoạn {i}: " + "nội dung & <chi tiết> " * 40 for i in range(40)]
    long_clause = Passage(id="d#1", doc_id="d", doc_title="Quy định dài", kind="regulation", section="1",
                          text="\n\n".join(paragraphs))
    reply = replies.render_passages_full([CLAUSE, long_clause, CLAUSE])
    assert len(reply.chunks) > 3
    rebuilt = []
    for chunk in reply.chunks:
        plain, _ = parse_html(chunk)
        assert utf16_len(plain) <= TEXT_LIMIT
        rebuilt.append(plain)
    joined = "\n".join(rebuilt)
    for p in paragraphs:
        assert p.split(":")[0] + ":" in joined
    assert joined.count("Điều 7.5.3") == 2


@hsettings(max_examples=60, deadline=None)
@given(st.text(alphabet=st.sampled_from(list("ab <>&;\"'*_`[]\n😀🇻🇳đươ")), min_size=1, max_size=6000),
       st.text(alphabet=st.sampled_from(list("ab <>&đ")), max_size=40))
def test_any_corpus_text_yields_valid_messages(text, title):
    passage = Passage(id="p#1", doc_id="p", doc_title=title or "t", kind="procedure", code="QT-09", section="2",
                      heading_path=(title or "t",), text=text)
    best = text[len(text) // 3: len(text) // 2]
    for reply in (replies.render_answer(_result(passage, passage, passage, passage, best=best), "1"),
                  replies.render_passages_full([passage])):
        for chunk in reply.chunks:
            plain, _ = parse_html(chunk)
            assert utf16_len(plain) <= TEXT_LIMIT


def test_faq_pages_have_navigation():
    entries = [Passage(id=f"faq#{i}", doc_id="faq", doc_title="Hỏi đáp", kind="faq", section=f"faq-{i}",
                       heading_path=(f"Câu hỏi số {i}?",), text="Trả lời.") for i in range(14)]
    first = replies.render_faq_page(entries, 0)
    assert "trang 1/3" in first.chunks[0]
    nav = [b.callback_data for b in first.keyboard.inline_keyboard[-1]]
    assert nav == ["faq|1"]
    last = replies.render_faq_page(entries, 2)
    assert [b.callback_data for b in last.keyboard.inline_keyboard[-1]] == ["faq|1"]
    assert "13. Câu hỏi số 12?" in last.chunks[0]


def test_procedures_list_shows_code_version_date_and_skips_superseded():
    current = Passage(id="qt-01#1", doc_id="qt-01", doc_title="Kiểm soát tài liệu", kind="procedure", code="QT-01",
                      version="03", effective_date="2024-03-01", section="1", text="…")
    old = Passage(id="qt-01-v02#1", doc_id="qt-01-v02", doc_title="Kiểm soát tài liệu", kind="procedure",
                  code="QT-01", version="02", effective_date="2020-01-01", status="superseded", section="1", text="…")
    text = replies.render_procedures([old, current]).chunks[0]
    assert "QT-01 – Kiểm soát tài liệu (lần ban hành 03, hiệu lực 01/03/2024)" in text
    assert "lần ban hành 02" not in text


def test_mapping_notes_are_phrased_in_vietnamese_and_diagnostics_hidden():
    result = SearchResult("4.2.3 2008", "4.2.3 2008", True, (Hit(CLAUSE, 1, 1.0),),
                          notes=("2008:4.2.3 -> 7.5.2, 7.5.3", "debug: dense=0.81"))
    text = replies.render_answer(result, "5").chunks[0]
    assert "<i>Điều 4.2.3 của bản 2008 nay tương ứng với điều 7.5.2, 7.5.3 của bản 2015.</i>" in text
    assert "debug" not in text and "->" not in text


def test_wrapped_lines_are_joined_but_lists_and_paragraphs_kept():
    text = ("Bản 2008 có 8 điều, trong đó phần yêu cầu\nnằm ở các điều 4 đến 8.\n\n"
            "Các hoạt động sau:\n- phân phối, truy cập;\n- lưu trữ và bảo quản,\n  kể cả giữ cho dễ đọc;\n1. bước một")
    assert replies.reflow(text) == (
        "Bản 2008 có 8 điều, trong đó phần yêu cầu nằm ở các điều 4 đến 8.\n\n"
        "Các hoạt động sau:\n- phân phối, truy cập;\n- lưu trữ và bảo quản, kể cả giữ cho dễ đọc;\n1. bước một"
    )
    assert replies.reflow("Bảng:\nMã | Tên\nBM-01 | Sổ theo dõi") == "Bảng:\nMã | Tên\nBM-01 | Sổ theo dõi"
    passage = Passage(id="f#1", doc_id="f", doc_title="Hỏi đáp", kind="faq", text=text)
    out = replies.snippet_html(passage.text, "Bản 2008 có 8 điều, trong đó phần yêu cầu nằm ở các điều 4 đến 8.")
    assert out.startswith("<u>Bản 2008 có 8 điều, trong đó phần yêu cầu nằm ở các điều 4 đến 8.</u>")

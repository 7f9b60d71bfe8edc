"""Property-based bad input through the real handlers over the emulator.

Hypothesis generates messages people (or broken clients) could send: random Unicode, control
characters, right-to-left text, huge numbers, HTML/Markdown/SQL-looking strings, 4,000+ and
10,000-character texts, only whitespace. Each example sends a batch at once, from different
users, and checks that every message gets a reply Telegram accepts (the emulator parses HTML like
Telegram) and that no handler raised. The same for button presses with forged callback data and
for inline queries. Derandomized, so CI runs the same examples every time.
"""
from __future__ import annotations

import itertools
import logging
import string

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.bot import conftest as e2e

MESSAGES_BATCH = 25
MESSAGE_EXAMPLES = 40  # 40 x 25 = 1,000 messages
PRESS_BATCH = 20
PRESS_EXAMPLES = 10
INLINE_BATCH = 10
INLINE_EXAMPLES = 10
REPLY_TIMEOUT = 120

_USER_IDS = itertools.count(81_000_000)

TEMPLATES = [
    "<b>{}</b>", "<i>{}", "</b>{}", "<a href='javascript:alert(1)'>{}</a>", "&{};", "&amp;{}&lt;", "<{}>",
    "<script>{}</script>", "*{}*", "_{}_", "`{}`", "```{}```", "[{}](http://x.y)", "~~{}~~", "||{}||",
    "'; DROP TABLE questions; --{}", "\" OR 1=1 -- {}", "{} UNION SELECT * FROM users", "%s%d{}%n",
    "{{{}}}", "${{{}}}", "\\{}\\", "điều {}", "/dieu {}", "/start {}", "/allow {}", "@isobot_fuzz_bot {}",
]

_no_surrogates = st.characters(exclude_categories=("Cs",))
_control = st.characters(min_codepoint=0, max_codepoint=31) | st.sampled_from("\x7f\u0085\u2028\u2029\ufeff\u200b\u200e\u200f")
_rtl = st.characters(min_codepoint=0x0590, max_codepoint=0x06FF) | st.sampled_from("\u202e\u202b\u2067\u061c")
_whitespace = st.sampled_from(" \t\n\r\u00a0\u1680\u2000\u2003\u2009\u200a\u3000\u205f")
_words = st.sampled_from(["kiểm soát", "tài liệu", "đánh giá", "nội bộ", "rủi ro", "hồ sơ", "điều 7.5.3", "ISO", "k", "ko", "dc"])

MESSAGE = st.one_of(
    st.text(_no_surrogates, min_size=1, max_size=300),
    st.text(_control | _no_surrogates, min_size=1, max_size=50),
    st.text(_rtl | _words.map(lambda w: w[0]), min_size=1, max_size=120),
    st.integers(min_value=-(10**80), max_value=10**80).map(str),
    st.floats(allow_nan=True, allow_infinity=True).map(repr),
    st.builds(lambda t, s: t.format(s), st.sampled_from(TEMPLATES), st.text(_no_surrogates, max_size=40)),
    st.builds(lambda t, w: t.format(w), st.sampled_from(TEMPLATES), _words),
    st.text(_whitespace, min_size=1, max_size=40),
    st.builds(lambda s, n: (s * (n // max(1, len(s)) + 1))[:n], st.text(_no_surrogates, min_size=1, max_size=30),
              st.integers(min_value=4000, max_value=4096)),
    st.builds(lambda s: (s + " ") * (10_000 // (len(s) + 1) + 1), st.text(string.ascii_letters + "<>&*_", min_size=1, max_size=9)),
    st.lists(_words, min_size=1, max_size=12).map(" ".join),
)

CALLBACK_DATA = st.builds(
    lambda kind, rest: f"{kind}{rest}"[:64],
    st.sampled_from(["more|", "full|", "doc|", "rel|", "fb|", "faq|", "", "x|"]),
    st.text(string.printable + "đĐ|-", max_size=70),
).filter(lambda d: 1 <= len(d.encode("utf-8")) <= 64)

FUZZ = settings(derandomize=True, database=None, deadline=None, print_blob=True,
                suppress_health_check=list(HealthCheck))


class _Errors(logging.Handler):
    """Every ERROR record any thread logs while the fuzzing runs."""

    def __init__(self):
        super().__init__(logging.ERROR)
        self.records: list[logging.LogRecord] = []

    def emit(self, record):
        self.records.append(record)

    def summary(self) -> list[str]:
        return [f"{r.name}: {r.getMessage()} {r.exc_info[1]!r}" if r.exc_info else f"{r.name}: {r.getMessage()}"
                for r in self.records]


@pytest.fixture(scope="module")
def fuzz_bot(tmp_path_factory, real_searcher):
    # Every message comes from a user of its own: the flood guard is tested elsewhere.
    harness = e2e._make_harness(tmp_path_factory, real_searcher, "fuzz", username="isobot_fuzz_bot",
                                ACCESS_MODE="open")
    errors = _Errors()
    logging.getLogger().addHandler(errors)
    harness.errors_logged = errors
    yield harness
    logging.getLogger().removeHandler(errors)
    harness.stop()
    harness.emulator.stop()


def _fresh_user(emulator):
    return emulator.user(next(_USER_IDS), "Thử")


def _assert_clean(bot, mark):
    refused = [(c.method, c.status, c.response.get("description")) for c in bot.emulator.calls(mark)
               if c.status >= 400 and c.method != "setMyCommands"]  # start-up menus are not under test
    assert not refused, refused
    assert not bot.errors_logged.records, bot.errors_logged.summary()
    assert bot.crashed is None


def test_generated_messages_all_get_a_reply_telegram_accepts(fuzz_bot):
    bot = fuzz_bot
    sent: list[str] = []

    @settings(FUZZ, max_examples=MESSAGE_EXAMPLES)
    @given(batch=st.lists(MESSAGE, min_size=MESSAGES_BATCH, max_size=MESSAGES_BATCH))
    def every_message_is_answered(batch):
        mark = bot.emulator.mark()
        chats = []
        for text in batch:
            user = _fresh_user(bot.emulator)
            chat = bot.emulator.private_chat(user)
            bot.emulator.send_text(user, chat, text)
            chats.append(chat["id"])
        for chat_id, text in zip(chats, batch):
            try:
                bot.emulator.wait_for(lambda c, cid=chat_id: c.method == "sendMessage" and c.chat_id == cid,
                                      mark, timeout=REPLY_TIMEOUT)
            except AssertionError:
                raise AssertionError(f"no reply to {text[:200]!r}") from None
        _assert_clean(bot, mark)
        sent.extend(batch)

    every_message_is_answered()
    assert len(sent) >= 1000
    kinds = {"long": sum(len(t) >= 4000 for t in sent), "blank": sum(not t.strip() for t in sent),
             "html": sum("<" in t or "&" in t for t in sent), "control": sum(any(ord(ch) < 32 for ch in t) for t in sent)}
    assert all(kinds.values()), kinds  # the generator really produced every kind


def test_forged_button_presses_get_an_answer_and_no_exception(fuzz_bot):
    bot = fuzz_bot
    user = _fresh_user(bot.emulator)
    chat = bot.emulator.private_chat(user)
    _, (answer,) = bot.ask(user, chat, "đánh giá nội bộ")
    message = answer.response["result"]
    pressed: list[str] = []

    @settings(FUZZ, max_examples=PRESS_EXAMPLES)
    @given(batch=st.lists(CALLBACK_DATA, min_size=PRESS_BATCH, max_size=PRESS_BATCH))
    def every_press_is_answered(batch):
        mark = bot.emulator.mark()
        ids = [bot.emulator.press(_fresh_user(bot.emulator), message, data) for data in batch]
        for qid, data in zip(ids, batch):
            try:
                bot.emulator.wait_for(lambda c, q=qid: c.method == "answerCallbackQuery"
                                      and c.params.get("callback_query_id") == q, mark, timeout=REPLY_TIMEOUT)
            except AssertionError:
                raise AssertionError(f"no answer to the button {data!r}") from None
        _assert_clean(bot, mark)
        pressed.extend(batch)

    every_press_is_answered()
    assert len(pressed) >= PRESS_BATCH * PRESS_EXAMPLES // 2


def test_generated_inline_queries_get_valid_results(fuzz_bot):
    bot = fuzz_bot
    asked: list[str] = []

    @settings(FUZZ, max_examples=INLINE_EXAMPLES)
    @given(batch=st.lists(MESSAGE.map(lambda t: t[:256]), min_size=INLINE_BATCH, max_size=INLINE_BATCH))
    def every_query_is_answered(batch):
        mark = bot.emulator.mark()
        ids = [bot.emulator.inline(_fresh_user(bot.emulator), text) for text in batch]
        for qid, text in zip(ids, batch):
            try:
                bot.emulator.wait_for(lambda c, q=qid: c.method == "answerInlineQuery"
                                      and c.params.get("inline_query_id") == q, mark, timeout=REPLY_TIMEOUT)
            except AssertionError:
                raise AssertionError(f"no inline answer to {text!r}") from None
        _assert_clean(bot, mark)
        asked.extend(batch)

    every_query_is_answered()
    assert len(asked) == INLINE_BATCH * INLINE_EXAMPLES

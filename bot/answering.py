"""The one answering path shared by Telegram, inline mode and the terminal chat.

question text -> checks -> Searcher.search -> log via Database -> Reply (bot.replies).
Everything here is synchronous; the Telegram handlers call it through asyncio.to_thread so a
slow search never blocks other chats.
"""
from __future__ import annotations

import hashlib
import itertools
import logging
import re
import threading
import time
from collections import OrderedDict, deque
from dataclasses import dataclass
from pathlib import Path

from bot import messages as msg
from bot import replies
from bot.database import DatabaseUnavailable
from retrieval.types import Passage, SearchResult

log = logging.getLogger(__name__)

MAX_QUESTION_CHARS = 1000
RESULTS_PER_PAGE = 3
RESULTS_FETCHED = 9  # three pages of "Xem thêm kết quả"
ANSWER_CACHE_SIZE = 5000
SWAP_WAIT_SECONDS = 5.0
SEARCHER_RETRY_SECONDS = 10.0
# Questions that could not be logged while the database was down wait here (oldest dropped first).
UNLOGGED_LIMIT = 1000
UNLOGGED_FLUSH_BATCH = 50
_WORD = re.compile(r"\w", re.UNICODE)


class SearchUnavailable(RuntimeError):
    """No index bundle can be loaded yet (fresh install before the first reindex)."""


@dataclass(frozen=True)
class Answer:
    """The outcome of one question: what was searched, what the user sees, how to refer to it later."""

    ref: str  # question id from the database, or a local "t<n>" when the database is down
    query: str
    reply: replies.Reply
    result: SearchResult | None = None
    question_id: int | None = None


class Answerer:
    """Answers questions and browsing requests from the live Searcher; logs questions to the Database."""

    def __init__(self, settings, database, searcher=None, searcher_factory=None):
        self.settings = settings
        self.database = database
        self._searcher = searcher
        self._searcher_factory = searcher_factory
        self._searcher_failed_at = 0.0
        self._lock = threading.Lock()
        self._answers: OrderedDict[str, Answer] = OrderedDict()
        self._refs: dict[str, str] = {}
        self._local_ids = itertools.count(1)
        self._unlogged: deque[tuple] = deque()
        self.unlogged_dropped = 0

    # ------------------------------------------------------------ searcher lifecycle
    def searcher(self):
        """The live Searcher, created on first use; hot-swaps a newer index bundle when one appears."""
        with self._lock:
            if self._searcher is None:
                if time.monotonic() - self._searcher_failed_at < SEARCHER_RETRY_SECONDS and self._searcher_failed_at:
                    raise SearchUnavailable("index not available")
                try:
                    self._searcher = self._make_searcher()
                except Exception as exc:  # a missing or broken bundle must not take the bot down
                    self._searcher_failed_at = time.monotonic()
                    log.error("search index unavailable: %s", exc)
                    raise SearchUnavailable(str(exc)) from exc
            searcher = self._searcher
        # Cheap: the Searcher itself looks at the CURRENT pointer at most about once a second.
        self.reload()
        return searcher

    def _make_searcher(self):
        if self._searcher_factory is not None:
            return self._searcher_factory(self.settings)
        from retrieval.search import Searcher

        return Searcher.from_settings(self.settings)

    def swap_to_current(self) -> bool:
        """After a reindex in this process: make sure the answers come from the new bundle right away."""
        from retrieval.index import current_bundle_path

        deadline = time.monotonic() + SWAP_WAIT_SECONDS
        while True:
            with self._lock:
                searcher = self._searcher
            if searcher is None:
                return self.reload()
            current = current_bundle_path(self.settings.index_dir)
            if current is None or Path(current) == Path(searcher.bundle_path):
                return True
            if self.reload():
                return True
            if time.monotonic() > deadline:
                return False
            # The Searcher checks the pointer at most about once a second.
            time.sleep(0.25)

    def reload(self) -> bool:
        """Swap in a newer bundle if one was built (after /reindex or a cron rebuild)."""
        with self._lock:
            searcher = self._searcher
        if searcher is None:
            try:
                self.searcher()
                return True
            except SearchUnavailable:
                return False
        try:
            swapped = bool(searcher.maybe_reload())
        except Exception:
            log.exception("reloading the index bundle failed; keeping the current one")
            return False
        if swapped:
            log.info("swapped in a new index bundle")
        return swapped

    # ------------------------------------------------------------ questions
    def answer(self, text: str, *, user_id: int | None, chat_id: int | None, source: str) -> Answer:
        """Answer one free-text question and log it; never raises for bad input or a down database."""
        query = (text or "").strip()
        problem = self._problem_with(query)
        if problem:
            return Answer(ref="", query=query, reply=replies.Reply((replies.plain(problem),)))
        try:
            searcher = self.searcher()
        except SearchUnavailable:
            return Answer(ref="", query=query, reply=replies.Reply((replies.plain(msg.SEARCH_UNAVAILABLE),)))
        started = time.perf_counter()
        result = searcher.search(query, k=RESULTS_FETCHED)
        latency_ms = (time.perf_counter() - started) * 1000.0
        question_id = self._log_question(user_id, chat_id, query, result, latency_ms, source)
        ref = str(question_id) if question_id is not None else f"t{next(self._local_ids)}"
        reply = replies.render_answer(result, ref, 0, RESULTS_PER_PAGE, self.passage_ref)
        answer = Answer(ref=ref, query=query, reply=reply, result=result, question_id=question_id)
        with self._lock:
            self._answers[ref] = answer
            while len(self._answers) > ANSWER_CACHE_SIZE:
                self._answers.popitem(last=False)
        return answer

    @staticmethod
    def _problem_with(query: str) -> str | None:
        if not query:
            return msg.EMPTY_QUESTION
        if len(query) > MAX_QUESTION_CHARS:
            return msg.TOO_LONG_QUESTION.format(length=len(query), limit=MAX_QUESTION_CHARS)
        if not _WORD.search(query):
            return msg.NO_WORDS_QUESTION
        return None

    def _log_question(self, user_id, chat_id, query, result: SearchResult, latency_ms, source) -> int | None:
        record = (
            user_id,
            chat_id,
            query,
            result.normalized_query,
            bool(result.answered),
            [h.passage.id for h in result.hits] if result.answered else [],
            latency_ms,
            source,
        )
        try:
            question_id = self.database.log_question(*record)
        except DatabaseUnavailable as exc:
            # The user still gets the answer; the log entry waits for the database to come back.
            log.error("could not log a question (kept to log later): %s", exc)
            self._keep_unlogged(record)
            return None
        self._flush_unlogged()
        return question_id

    def _keep_unlogged(self, record: tuple) -> None:
        with self._lock:
            self._unlogged.append(record)
            if len(self._unlogged) > UNLOGGED_LIMIT:
                self._unlogged.popleft()
                self.unlogged_dropped += 1
                log.error("question log backlog full: %d question(s) lost from the log so far", self.unlogged_dropped)

    def _flush_unlogged(self) -> None:
        """Log a batch of questions kept while the database was down (their time is when logged)."""
        for _ in range(UNLOGGED_FLUSH_BATCH):
            with self._lock:
                if not self._unlogged:
                    return
                record = self._unlogged.popleft()
            try:
                self.database.log_question(*record)
            except DatabaseUnavailable:
                with self._lock:
                    self._unlogged.appendleft(record)
                return
        log.info("logged questions kept while the database was down; %d still waiting", len(self._unlogged))

    def more(self, ref: str, offset: int) -> replies.Reply:
        """The next page of results for an earlier question."""
        with self._lock:
            answer = self._answers.get(ref)
        if answer is None or answer.result is None:
            return replies.Reply((replies.plain(msg.RESULTS_EXPIRED),))
        return replies.render_answer(answer.result, ref, offset, RESULTS_PER_PAGE, self.passage_ref)

    def feedback(self, ref: str, user_id: int, value: int) -> bool:
        """Store 👍 (+1) / 👎 (-1) for a logged question; False when it cannot be stored."""
        if not ref.isdigit():
            return False
        try:
            self.database.record_feedback(int(ref), user_id, 1 if value > 0 else -1)
        except DatabaseUnavailable as exc:
            log.error("could not record feedback: %s", exc)
            return False
        return True

    # ------------------------------------------------------------ passage references
    def passage_ref(self, passage_id: str) -> str:
        """A passage id short enough for callback data (ids over the limit get a hash key)."""
        if len(passage_id.encode("utf-8")) <= 50:
            return passage_id
        key = "h:" + hashlib.sha1(passage_id.encode("utf-8")).hexdigest()[:20]
        with self._lock:
            self._refs[key] = passage_id
        return key

    def resolve_passage(self, ref: str) -> Passage | None:
        with self._lock:
            passage_id = self._refs.get(ref, ref)
        try:
            return self.searcher().get_passage(passage_id)
        except SearchUnavailable:
            return None

    # ------------------------------------------------------------ browsing
    def full_text(self, ref: str) -> replies.Reply:
        """The whole clause (with its sub-clauses) or the whole section of a passage."""
        passage = self.resolve_passage(ref)
        if passage is None:
            return replies.Reply((replies.plain(msg.PASSAGE_GONE),))
        passages = [passage]
        if passage.kind == "standard" and passage.clause:
            passages = list(self.searcher().clause(passage.clause)) or [passage]
        return replies.render_passages_full(passages)

    def document(self, ref: str) -> replies.Reply:
        """A whole procedure, section by section."""
        passage = self.resolve_passage(ref)
        if passage is None:
            return replies.Reply((replies.plain(msg.PASSAGE_GONE),))
        passages = self.searcher().document_passages(passage.doc_id) or [passage]
        return replies.render_passages_full(passages)

    def related(self, ref: str) -> replies.Reply:
        passage = self.resolve_passage(ref)
        if passage is None:
            return replies.Reply((replies.plain(msg.PASSAGE_GONE),))
        related = self.searcher().related(passage.id, k=5)
        return replies.render_related(passage, related, self.passage_ref)

    def clause(self, number: str, edition: int = 2015) -> replies.Reply:
        """/dieu: a 2015 clause in full, or what a 2008 clause became."""
        try:
            searcher = self.searcher()
        except SearchUnavailable:
            return replies.Reply((replies.plain(msg.SEARCH_UNAVAILABLE),))
        if edition == 2008:
            result = searcher.clause(number, edition=2008)
            if not result.hits:
                return replies.Reply((replies.plain(msg.DIEU_2008_NOT_FOUND.format(clause=number)),))
            return replies.render_correspondence(number, result)
        passages = list(searcher.clause(number))
        if not passages:
            return replies.Reply((replies.plain(msg.DIEU_NOT_FOUND.format(clause=number)),))
        return replies.render_passages_full(passages)

    def faq_page(self, page: int) -> replies.Reply:
        try:
            entries = self.searcher().faq_entries()
        except SearchUnavailable:
            return replies.Reply((replies.plain(msg.SEARCH_UNAVAILABLE),))
        return replies.render_faq_page(entries, page, self.passage_ref)

    def procedures(self) -> replies.Reply:
        try:
            procedures = self.searcher().procedures()
        except SearchUnavailable:
            return replies.Reply((replies.plain(msg.SEARCH_UNAVAILABLE),))
        return replies.render_procedures(procedures, self.passage_ref)

"""`isobot reindex`: rebuild the search index from the corpus folder and report what changed."""
from __future__ import annotations

import json
import logging
import sys

from retrieval.documents import CorpusError
from retrieval.index import ReindexBusy, ReindexSummary, reindex

log = logging.getLogger(__name__)

EXIT_OK, EXIT_CORPUS, EXIT_FAILED, EXIT_BUSY = 0, 1, 2, 3


def _number(value: float) -> str:
    return f"{value:.1f}".replace(".", ",")


def format_summary(summary: ReindexSummary) -> str:
    """The admin-facing report of one reindex, in Vietnamese."""
    lines = []
    if summary.unchanged:
        lines.append(
            f"Tài liệu không thay đổi: giữ nguyên chỉ mục {summary.build_id} "
            f"({summary.documents} tài liệu, {summary.passages} đoạn; {_number(summary.seconds)} giây)."
        )
    else:
        lines.append(f"Đã dựng chỉ mục {summary.build_id} trong {_number(summary.seconds)} giây.")
        lines.append(
            f"Tài liệu: {summary.documents} (thêm {summary.added}, sửa {summary.changed}, xóa {summary.removed}); "
            f"{summary.passages} đoạn; nhúng mới {summary.embedded} đoạn."
        )
    for detail in summary.details:
        mark = "+" if detail.change == "added" else "~"
        about = [f"{len(detail.sections)} mục"]
        if detail.version:
            about.append(f"lần ban hành {detail.version}")
        if detail.status == "superseded":
            about.append("đã được thay thế")
        lines.append(f"  {mark} {detail.path} [{detail.doc_id}]: {', '.join(about)}")
    for doc_id in summary.removed_ids:
        lines.append(f"  - {doc_id}")
    if summary.warnings:
        lines.append(f"Cảnh báo ({len(summary.warnings)}):")
        lines.extend(f"  {w}" for w in summary.warnings)
    return "\n".join(lines)


def run_reindex(settings, *, full: bool, as_json: bool, progress: bool, one_line_errors: bool = False) -> int:
    """Run one reindex and print its outcome; returns the exit code (0 ok, 1 bad corpus, 2 failed, 3 busy)."""
    # Library start-up chatter (CPU feature probing, model paths) buries the summary admins read.
    for name in ("faiss.loader", "sentence_transformers"):
        logging.getLogger(name).setLevel(logging.WARNING)
    try:
        summary = reindex(settings, progress=progress, full=full)
    except ReindexBusy as exc:
        print(f"isobot reindex: {exc}", file=sys.stderr)
        return EXIT_BUSY
    except CorpusError as exc:
        if as_json:
            print(json.dumps({"error": "corpus", "problems": exc.problems}, ensure_ascii=False, indent=2))
        if one_line_errors:
            print(
                f"isobot reindex: kho tài liệu có {len(exc.problems)} lỗi, chỉ mục hiện hành giữ nguyên; "
                f"lỗi đầu tiên: {exc.problems[0]} (chạy 'isobot reindex' để xem tất cả)",
                file=sys.stderr,
            )
        else:
            print(f"Kho tài liệu có {len(exc.problems)} lỗi; chỉ mục hiện hành giữ nguyên:", file=sys.stderr)
            for problem in exc.problems:
                print(problem, file=sys.stderr)
        return EXIT_CORPUS
    except Exception as exc:  # any build failure: the live bundle is untouched, say why in one line
        log.debug("reindex failed", exc_info=True)
        reason = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        if as_json:
            print(json.dumps({"error": "failed", "reason": reason}, ensure_ascii=False))
        print(f"isobot reindex: dựng chỉ mục thất bại, chỉ mục hiện hành giữ nguyên: {reason}", file=sys.stderr)
        return EXIT_FAILED
    if as_json:
        print(json.dumps(summary.as_json(), ensure_ascii=False, indent=2))
    else:
        print(format_summary(summary))
    return EXIT_OK


def cmd_reindex(args, settings) -> int:
    """Rebuild the index bundle; `--json` for scripts, `--full` to embed everything again."""
    return run_reindex(
        settings,
        full=bool(getattr(args, "full", False)),
        as_json=bool(getattr(args, "json", False)),
        progress=not getattr(args, "quiet", False),
    )

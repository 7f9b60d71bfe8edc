"""`isobot ask` and `isobot eval`: thin shells over retrieval.search and retrieval.evaluation."""
from __future__ import annotations

import json
import sys
from pathlib import Path

from retrieval.evaluation import EvalFormatError, evaluate, load_questions, summarize
from retrieval.search import MODES, Searcher


def _open_searcher(settings, progress: bool) -> Searcher | None:
    """The live searcher, or None after printing why there is none (bad corpus, busy reindex …)."""
    from retrieval.documents import CorpusError
    from retrieval.embedding import EmbeddingModelError
    from retrieval.index import BundleError, ReindexBusy

    try:
        return Searcher.from_settings(settings, progress=progress)
    except CorpusError as exc:
        print("isobot: chưa có chỉ mục và kho tài liệu có lỗi:", file=sys.stderr)
        for problem in exc.problems:
            print(f"  {problem}", file=sys.stderr)
    except (ReindexBusy, BundleError, EmbeddingModelError) as exc:
        print(f"isobot: {exc}", file=sys.stderr)
    return None


def result_json(result) -> dict:
    """DESIGN.md's `isobot ask --json` shape."""
    return {
        "query": result.query,
        "answered": result.answered,
        "results": [
            {
                "rank": h.rank,
                "passage_id": h.passage.id,
                "doc_id": h.passage.doc_id,
                "doc_title": h.passage.doc_title,
                "kind": h.passage.kind,
                "clause": h.passage.clause,
                "section": h.passage.section,
                "iso_refs": list(h.passage.iso_refs),
                "citation": h.passage.citation,
                "text": h.passage.text,
                "score": h.score,
            }
            for h in result.hits
        ],
    }


def _print_result(result) -> None:
    print(f"Câu hỏi: {result.query}")
    if result.normalized_query and result.normalized_query != result.query:
        print(f"Hiểu là: {result.normalized_query}")
    for note in result.notes:
        print(f"Ghi chú: {note}")
    if not result.answered:
        print("Chưa tìm thấy nội dung đủ tin cậy để trả lời câu hỏi này.")
        if result.suggestions:
            print("Bạn có thể hỏi về: " + "; ".join(result.suggestions))
        return
    for hit in result.hits:
        print(f"\n{hit.rank}. {hit.passage.citation}")
        if hit.best_sentence:
            print(f"   » {hit.best_sentence}")
    print(f"\n({result.latency_ms:.0f} ms)")


def cmd_ask(args, settings) -> int:
    question = " ".join(args.question).strip()
    if not question:
        print("isobot ask: câu hỏi trống", file=sys.stderr)
        return 2
    searcher = _open_searcher(settings, progress=not args.json)
    if searcher is None:
        return 1
    result = searcher.search(question, k=max(1, args.k))
    if args.json:
        print(json.dumps(result_json(result), ensure_ascii=False, indent=2))
    else:
        _print_result(result)
    return 0


def _fmt(value) -> str:
    return "-" if value is None else f"{value:.3f}" if isinstance(value, float) else str(value)


def _print_table(by_mode: dict[str, dict]) -> None:
    modes = list(by_mode)
    width = max(16, *(len(m) + 2 for m in modes))
    keys = ["n", "hit@1", "hit@3", "hit@5", "mrr@10", "no_answer_accuracy", "false_no_answer_rate"]
    print("".ljust(22) + "".join(m.rjust(width) for m in modes))
    for key in keys:
        print(key.ljust(22) + "".join(_fmt(by_mode[m][key]).rjust(width) for m in modes))
    for key in ("p50", "p95"):
        print(f"latency {key} ms".ljust(22) + "".join(_fmt(by_mode[m]["latency_ms"][key]).rjust(width) for m in modes))
    for group in ("by_style", "by_kind"):
        names = sorted({name for m in modes for name in by_mode[m][group]})
        print(f"\n{group} (hit@3; no-answer accuracy for out_of_scope)")
        for name in names:
            cells = []
            for m in modes:
                metrics = by_mode[m][group].get(name, {})
                value = metrics.get("hit@3")
                if value is None:
                    value = metrics.get("no_answer_accuracy")
                cells.append(_fmt(value).rjust(width))
            n = next((by_mode[m][group][name]["n"] for m in modes if name in by_mode[m][group]), 0)
            print(f"  {name} (n={n})".ljust(22) + "".join(cells))


def cmd_eval(args, settings) -> int:
    path = Path(args.file)
    if not path.exists():
        print(f"isobot eval: {path}: không có tệp này", file=sys.stderr)
        return 2
    try:
        questions = load_questions(path)
    except EvalFormatError as exc:
        print(f"isobot eval: {exc}", file=sys.stderr)
        return 2
    searcher = _open_searcher(settings, progress=not args.json)
    if searcher is None:
        return 1
    modes = list(MODES) if args.mode == "all" else [args.mode]
    by_mode = {mode: summarize(evaluate(searcher, questions, mode)) for mode in modes}
    if args.json:
        payload = by_mode if args.mode == "all" else by_mode[args.mode]
        print(json.dumps(payload, ensure_ascii=False, indent=2))
    else:
        print(f"{path}: {len(questions)} câu hỏi")
        _print_table(by_mode)
    return 0

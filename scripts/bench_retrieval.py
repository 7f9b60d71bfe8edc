"""Retrieval benchmark: warm query latency and throughput, bare query-embedding time, reindex times,
and how build time and latency grow on a synthetic corpus ten times larger.

    .venv/bin/python scripts/bench_retrieval.py                       # everything (several minutes)
    .venv/bin/python scripts/bench_retrieval.py --skip-10x            # only the real corpus
    .venv/bin/python scripts/bench_retrieval.py --questions tests/eval/questions.jsonl

Queries are the eval questions (or a built-in sample). Every measurement runs in this process
after a warm-up; the query-embedding cache is emptied before each query so the pipeline figure
includes the embedding. Builds go to temporary data folders (the model folder is linked, not
rebuilt); the live var/ is never touched.
"""
from __future__ import annotations

import argparse
import re
import shutil
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from retrieval.embedding import load_embedder  # noqa: E402
from retrieval.index import reindex  # noqa: E402
from retrieval.search import Searcher  # noqa: E402
from retrieval.settings import DEFAULT_MODEL, load_settings  # noqa: E402

SAMPLE_QUERIES = [
    "kiểm soát thông tin dạng văn bản như thế nào",
    "kiem soat tai lieu ben ngoai nhu the nao",
    "điều 7.5.3 yêu cầu gì",
    "điều 4.2.3 bản 2008 tương ứng điều nào bản 2015",
    "con can so tay chat luong ko",
    "hồ sơ trễ hạn thì xử lý sao",
    "thời gian lưu hồ sơ đánh giá nội bộ là bao lâu",
    "what must the quality policy include?",
    "thời tiết Hà Nội hôm nay",
    "ai phê duyệt tài liệu",
]


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    position = (len(ordered) - 1) * q
    low = int(position)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (position - low)


def load_queries(path: str | None) -> list[str]:
    if not path:
        return SAMPLE_QUERIES
    from retrieval.evaluation import load_questions

    return [q.question for q in load_questions(path)]


def data_dir_with_model(root: Path, models_dir: Path) -> Path:
    data_dir = root / "var"
    (data_dir / "models").mkdir(parents=True)
    (data_dir / "models" / DEFAULT_MODEL).symlink_to((models_dir / DEFAULT_MODEL).resolve(), target_is_directory=True)
    return data_dir


def settings_for(data_dir: Path, corpus_dir: Path, base):
    return load_settings(
        ISOBOT_DATA_DIR=str(data_dir),
        ISOBOT_CORPUS_DIR=str(corpus_dir),
        EMBEDDING_MODEL=base.embedding_model,
        DATABASE_URL=f"sqlite:///{data_dir / 'isobot.db'}",
        FAISS_INDEX_TYPE=base.faiss_index_type,
    )


def synthetic_corpus(source: Path, target: Path, copies: int) -> None:
    """The real corpus plus (copies - 1) renamed copies of every Markdown document.

    Titles change, so every copied passage embeds to a new text (no cache hits); copies of the
    standard become regulations so that clause numbers stay unique.
    """
    shutil.copytree(source, target)
    for path in sorted(source.rglob("*.md")):
        text = path.read_text(encoding="utf-8")
        for n in range(2, copies + 1):
            copy = re.sub(r"(?m)^id:\s*(\S+)", rf"id: \g<1>-copy-{n}", text, count=1)
            copy = re.sub(r"(?m)^title:\s*(.+)$", rf"title: \g<1> (bản sao {n})", copy, count=1)
            copy = re.sub(r"(?m)^code:\s*(\S+)", rf"code: \g<1>-S{n}", copy, count=1)
            copy = re.sub(r"(?m)^kind:\s*standard\b", "kind: regulation", copy, count=1)
            out = target / path.relative_to(source).with_name(f"{path.stem}-copy-{n}.md")
            out.write_text(copy, encoding="utf-8")


def measure_queries(searcher: Searcher, queries: list[str], rounds: int) -> dict:
    for q in queries[:5]:
        searcher.search(q)
    latencies = []
    started = time.perf_counter()
    for _ in range(rounds):
        for q in queries:
            searcher.forget_query_vectors()
            t = time.perf_counter()
            searcher.search(q, k=5)
            latencies.append((time.perf_counter() - t) * 1000)
    wall = time.perf_counter() - started
    return {
        "n": len(latencies),
        "p50": percentile(latencies, 0.5),
        "p95": percentile(latencies, 0.95),
        "mean": sum(latencies) / len(latencies),
        "qps": len(latencies) / wall,
    }


def measure_embedding(embedder, queries: list[str], rounds: int) -> dict:
    embedder.embed_queries(queries[:5])
    latencies = []
    for _ in range(rounds):
        for q in queries:
            t = time.perf_counter()
            embedder.embed_queries([q])
            latencies.append((time.perf_counter() - t) * 1000)
    return {
        "n": len(latencies),
        "p50": percentile(latencies, 0.5),
        "p95": percentile(latencies, 0.95),
        "mean": sum(latencies) / len(latencies),
    }


def build(settings, embedder, *, full: bool) -> tuple[float, object]:
    t = time.perf_counter()
    summary = reindex(settings, progress=False, full=full, embedder=embedder)
    return time.perf_counter() - t, summary


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--questions", help="JSON Lines eval file whose questions are the queries")
    parser.add_argument("--rounds", type=int, default=1, help="passes over the queries (default 1)")
    parser.add_argument("--copies", type=int, default=10, help="size of the synthetic corpus (default 10x)")
    parser.add_argument("--skip-10x", action="store_true", help="skip the synthetic large corpus")
    args = parser.parse_args(argv)

    base = load_settings()
    embedder = load_embedder(base)
    queries = load_queries(args.questions)
    print(f"model {embedder.model_name}, faiss {base.faiss_index_type}, {len(queries)} queries x {args.rounds}")

    with tempfile.TemporaryDirectory(prefix="isobot-bench-") as tmp:
        tmp = Path(tmp)
        settings = settings_for(data_dir_with_model(tmp / "real", base.models_dir), Path(base.corpus_dir), base)
        seconds_full, summary = build(settings, embedder, full=True)
        print(
            f"\nreindex, real corpus: {summary.passages} passages, full build {seconds_full:.1f} s "
            f"({summary.embedded} embedded, {summary.passages / seconds_full:.1f} passages/s)"
        )
        seconds_same, again = build(settings, embedder, full=False)
        print(f"reindex, unchanged corpus: {seconds_same:.2f} s, {again.embedded} embedded")

        searcher = Searcher.from_settings(settings, embedder=embedder)
        pipeline = measure_queries(searcher, queries, args.rounds)
        bare = measure_embedding(embedder, queries, args.rounds)
        print("\nwarm, in process         p50 ms   p95 ms  mean ms   queries/s")
        print(f"full pipeline          {pipeline['p50']:8.1f} {pipeline['p95']:8.1f} {pipeline['mean']:8.1f} {pipeline['qps']:11.1f}")
        print(f"query embedding only   {bare['p50']:8.1f} {bare['p95']:8.1f} {bare['mean']:8.1f}")
        print(f"pipeline beyond embed  {pipeline['p50'] - bare['p50']:8.1f} {'':8} {pipeline['mean'] - bare['mean']:8.1f}")

        if not args.skip_10x:
            corpus = tmp / "corpus-x"
            synthetic_corpus(Path(base.corpus_dir), corpus, args.copies)
            big = settings_for(data_dir_with_model(tmp / "big", base.models_dir), corpus, base)
            seconds_big, big_summary = build(big, embedder, full=True)
            print(
                f"\nreindex, {args.copies}x corpus: {big_summary.passages} passages, full build {seconds_big:.1f} s "
                f"({big_summary.embedded} embedded, {big_summary.passages / seconds_big:.1f} passages/s)"
            )
            seconds_big_same, big_again = build(big, embedder, full=False)
            print(f"reindex, {args.copies}x unchanged: {seconds_big_same:.2f} s, {big_again.embedded} embedded")
            big_searcher = Searcher.from_settings(big, embedder=embedder)
            big_pipeline = measure_queries(big_searcher, queries, args.rounds)
            print(
                f"query at {args.copies}x: p50 {big_pipeline['p50']:.1f} ms, p95 {big_pipeline['p95']:.1f} ms, "
                f"{big_pipeline['qps']:.1f} queries/s"
            )
    return 0


if __name__ == "__main__":
    sys.exit(main())

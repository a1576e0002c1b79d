"""A campaign over the targets: per-target reports, determinism, its time budget."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from fuzzing import campaign
from fuzzing.campaign import fuzz_decoders


def test_fuzz_decoders_reports_per_target_and_unavailable(tmp_path: Path) -> None:
    report = fuzz_decoders(["zmq-envelope", "cuc-time", "not-a-target"], 30, tmp_path, 7, max_executions=400)
    assert set(report.targets) == {"zmq-envelope", "cuc-time"}
    assert "not-a-target" in report.unavailable
    for t in report.targets.values():
        assert t.executions >= 400 and t.lines > 0 and t.corpus_size >= 1
    assert report.lines > 0 and "protocols/capture/zmq_framing.py" in report.files
    assert report.findings == []
    assert "total:" in report.render()
    assert any((tmp_path / "corpus" / "zmq-envelope").iterdir())


def test_built_in_engine_is_deterministic_for_a_seed(tmp_path: Path) -> None:
    a = fuzz_decoders(["cds-time"], 30, tmp_path / "a", 11, max_executions=300)
    b = fuzz_decoders(["cds-time"], 30, tmp_path / "b", 11, max_executions=300)
    assert sorted(p.name for p in (tmp_path / "a" / "corpus" / "cds-time").iterdir()) == sorted(
        p.name for p in (tmp_path / "b" / "corpus" / "cds-time").iterdir()
    )
    assert a.targets["cds-time"].arcs == b.targets["cds-time"].arcs


def test_atheris_engine_when_installed(tmp_path: Path) -> None:
    pytest.importorskip("atheris")
    report = fuzz_decoders(["zmq-envelope"], 2, tmp_path, 1, engine="atheris")
    t = report.targets["zmq-envelope"]
    assert t.engine == "atheris" and t.executions > 0 and t.lines > 0
    assert not t.notes, t.notes


def test_engine_module_exports_the_documented_api() -> None:
    assert callable(campaign.fuzz_decoders) and callable(campaign.reproduce)


# ------------------------------------------------------------------ budgets, progress, interrupts


def test_seconds_is_the_whole_campaigns_budget(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    from fuzzing.__main__ import main

    status = main(["decoders", "--seconds", "3", "--seed", "1", "--out", str(tmp_path)], prog="paleblue fuzz")
    report = json.loads((tmp_path / "report.json").read_text())
    names = list(report["targets"])
    assert status == 0 and len(names) > 10 and not report["interrupted"]
    spent = sum(t["seconds"] for t in report["targets"].values())
    # Each target gets a share of what is left: the campaign keeps to its budget, bar the seeds of
    # a target whose share is already spent (before: 3 s each, over 70 s in all).
    assert spent < 3 + 15, spent
    progress = [line for line in capsys.readouterr().err.splitlines() if line.startswith("[")]
    assert len(progress) == len(names) and progress[-1].startswith(f"[{len(names)}/{len(names)}]")


def test_seconds_per_target_keeps_the_old_meaning(tmp_path: Path) -> None:
    report = fuzz_decoders(["cuc-time", "cds-time"], 0.5, tmp_path, 3, total=False)
    assert all(t.seconds >= 0.5 for t in report.targets.values())
    report = fuzz_decoders(["cuc-time", "cds-time"], 0.5, tmp_path, 3, total=True)
    assert sum(t.seconds for t in report.targets.values()) < 0.5 + 2

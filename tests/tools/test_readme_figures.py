"""README's figure tables are what the code computes today (tools/readme_figures.py)."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def _module():
    spec = importlib.util.spec_from_file_location("readme_figures", ROOT / "tools" / "readme_figures.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules.setdefault("readme_figures", module)
    spec.loader.exec_module(module)
    return module


def test_readme_figures_are_current() -> None:
    figures = _module()
    text = figures.README.read_text()
    assert "<!-- figures:optical-navigation -->" in text and "<!-- figures:fuzz-targets -->" in text
    assert figures.regenerate(text) == text, "README.md figures are stale: run `make docs-figures`"


def test_a_stale_figure_is_detected() -> None:
    figures = _module()
    stale = "shows the <!-- figures:fuzz-targets -->27<!-- /figures:fuzz-targets --> targets"
    assert figures.regenerate(stale) != stale

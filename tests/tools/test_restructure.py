"""tools/restructure.py on a small tree: every kind of reference follows its module, twice is once.

(The script is run once on the real tree and may then be deleted, with this test.)
"""

from __future__ import annotations

import importlib.util
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]

FILES = {
    "pyproject.toml": "[tool.ruff]\nline-length = 110\n# data: protocols/channels/*.toml\n",
    "protocols/__init__.py": "",
    "protocols/errors.py": "class DecodeError(Exception):\n    pass\n",
    "protocols/crc.py": "def crc16(data: bytes) -> int:\n    return 0\n",
    "protocols/pus.py": "from . import crc\nfrom .errors import DecodeError\n\nHEADER = crc.crc16(b'')\n",
    "protocols/pus_services.py": "from .pus import HEADER\n",
    "protocols/space_packet.py": (
        "def late():\n    from protocols import packet_run  # it builds on this module\n\n"
        "    return packet_run\n"
    ),
    "protocols/packet_run.py": "from protocols.space_packet import late\n",
    "protocols/channel_file.py": (
        "from importlib import resources\n\n"
        'def folder():\n    return resources.files("protocols") / "channels"\n'
    ),
    "protocols/channels/__init__.py": '"""Channel files (see :mod:`protocols.channel_file`)."""\n',
    "protocols/channels/a.toml": "name = 'a'\n",
    "protocols/mission_db.py": "from pathlib import Path\n\nROOT = Path(__file__).resolve().parents[1]\n",
    "protocols/zmq_curve.py": "",
    "emulator/__init__.py": "",
    "emulator/probe.py": (
        "import protocols.crc as c\nimport protocols.pus\n"
        "from protocols import (\n    crc,\n    errors,\n    pus_services as ps,  # services\n)\n"
        "from protocols.pus import HEADER\n\n"
        "X = (c, protocols.pus.HEADER, crc, errors, ps, HEADER)\n"
    ),
    "tests/__init__.py": "",
    "tests/protocols/__init__.py": "",
    "tests/protocols/test_crc.py": (
        "from pathlib import Path\n\nROOT = Path(__file__).resolve().parents[2]\n\n\n"
        'def test_patch(monkeypatch):\n    monkeypatch.setattr("protocols.crc.crc16", len)\n'
    ),
    "tests/protocols/test_pus_services.py": "",
    "tests/protocols/test_errors.py": "",
    "tests/other/test_uses.py": 'NAME = "tests.protocols.test_crc"\nPATH = "protocols/crc.py"\n',
    "README.md": "See `protocols/crc.py`, `protocols/channels/` and :mod:`protocols.pus`.\n",
}


def _script():
    spec = importlib.util.spec_from_file_location("restructure", ROOT / "tools" / "restructure.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _git(tree: Path, *args: str) -> str:
    return subprocess.run(["git", *args], cwd=tree, check=True, capture_output=True, text=True).stdout


@pytest.fixture
def tree(tmp_path: Path) -> Path:
    for name, text in FILES.items():
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_text(text)
    _git(tmp_path, "init", "-q")
    _git(tmp_path, "add", "-A")
    _git(tmp_path, "-c", "user.name=t", "-c", "user.email=t@t", "commit", "-qm", "flat")
    return tmp_path


def test_restructure_moves_and_rewrites_then_changes_nothing(tree: Path, capsys) -> None:
    script = _script()
    assert script.main([str(tree), "--no-ruff"]) == 0
    printed = capsys.readouterr().out
    assert "unplaced: zmq_curve" in printed and "unplaced test" not in printed
    read = lambda name: (tree / name).read_text()  # noqa: E731

    assert not (tree / "protocols" / "crc.py").exists()
    assert (tree / "protocols/coding/__init__.py").read_text().startswith('"""Synchronization')
    assert read("protocols/pus/pus.py").startswith(
        "from protocols.coding import crc\nfrom protocols.errors import DecodeError\n"
    )
    assert read("protocols/pus/pus_services.py") == "from protocols.pus.pus import HEADER\n"
    assert "from protocols.packets import packet_run  # it builds" in read(
        "protocols/packets/space_packet.py"
    )
    assert 'resources.files("protocols.link") / "channels"' in read("protocols/link/channel_file.py")
    assert (tree / "protocols/link/channels/a.toml").is_file()
    assert ":mod:`protocols.link.channel_file`" in read("protocols/link/channels/__init__.py")
    assert "parents[2]" in read("protocols/mdb/mission_db.py")

    probe = read("emulator/probe.py")
    assert "import protocols.coding.crc as c\nimport protocols.pus.pus\n" in probe
    assert "from protocols.coding import crc  # services\nfrom protocols import errors\n" in probe
    assert "from protocols.pus import pus_services as ps\n" in probe
    assert "from protocols.pus.pus import HEADER\n" in probe
    assert "protocols.pus.pus.HEADER" in probe

    moved = read("tests/protocols/coding/test_crc.py")
    assert "parents[3]" in moved and '"protocols.coding.crc.crc16"' in moved
    assert (tree / "tests/protocols/coding/__init__.py").is_file()
    assert (tree / "tests/protocols/pus/test_pus_services.py").is_file()
    assert (tree / "tests/protocols/test_errors.py").is_file()
    uses = read("tests/other/test_uses.py")
    assert '"tests.protocols.coding.test_crc"' in uses and '"protocols/coding/crc.py"' in uses
    assert read("pyproject.toml").endswith("# data: protocols/link/channels/*.toml\n")
    assert read("README.md") == (
        "See `protocols/coding/crc.py`, `protocols/link/channels/` and :mod:`protocols.pus.pus`.\n"
    )

    _git(tree, "add", "-A")
    _git(tree, "-c", "user.name=t", "-c", "user.email=t@t", "commit", "-qm", "layered")
    assert script.main([str(tree), "--no-ruff"]) == 0
    assert _git(tree, "status", "--porcelain") == ""
    check = "import emulator.probe as p, protocols; assert p.X[1] == 0; print(protocols.__file__)"
    done = subprocess.run([sys.executable, "-c", check], cwd=tree, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    assert Path(done.stdout.strip()) == tree / "protocols" / "__init__.py"

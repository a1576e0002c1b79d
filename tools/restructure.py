"""Move protocols/' flat modules into one subpackage per layer, and every reference with them.

Usage: ``python tools/restructure.py TREE`` (TREE: a git checkout of paleblue). Run once on the
merged tree; a second run changes nothing. What it does, in order:

1. relative imports inside ``protocols/`` that touch a moving module become absolute;
2. ``git mv`` of each module in :data:`MAPPING` into ``protocols/<layer>/`` (an ``__init__.py``
   naming the layer and its standard is written where none exists; an existing package such as
   ``protocols/mdb/`` is merged into); modules absent from the tree are skipped, and any module of
   ``protocols/`` that is neither mapped nor kept at the top is printed as ``unplaced: NAME``;
3. ``git mv`` of ``tests/protocols/test_<module>*.py`` into ``tests/protocols/<layer>/``, so the
   tests keep mirroring the package (``Path(__file__).parents[N]`` in a moved file gains one level);
4. every reference in the tree's text files is rewritten: ``from protocols import crc``,
   ``from protocols.crc import x``, ``import protocols.crc``, ``protocols.crc.x``, the string
   ``"protocols.crc"`` (mock, monkeypatch, importlib), paths ``protocols/crc.py`` and
   ``protocols/channels/``, ``resources.files("protocols") / "channels"``, and ``tests.protocols.``
   module names of moved tests;
5. ``ruff check --fix --select I`` sorts the imports it touched.

Only the standard library; nothing here is imported by the package.
"""

from __future__ import annotations

import argparse
import io
import json
import re
import shutil
import subprocess
import sys
import tokenize
from pathlib import Path

# layer -> (modules or data packages moved into protocols/<layer>/, docstring of its __init__.py)
LAYERS: dict[str, tuple[tuple[str, ...], str]] = {
    "coding": (
        ("crc", "reed_solomon", "randomizer", "cadu", "cltu"),
        "Synchronization and channel coding: CRC-16, Reed-Solomon, the pseudo-randomizer, CADUs\n"
        "(CCSDS 131.0-B, TM Synchronization and Channel Coding) and CLTUs (CCSDS 231.0-B, TC).",
    ),
    "link": (
        (
            "tm_frame",
            "aos_frame",
            "uslp_frame",
            "tc_frame",
            "clcw",
            "frame_trailer",
            "frame_packets",
            "channel_config",
            "channel_file",
            "frame_view",
            "channels",
        ),
        "Space data link layer: TM (CCSDS 132.0-B), AOS (CCSDS 732.0-B) and USLP (CCSDS 732.1-B)\n"
        "transfer frames, TC frames and the CLCW (CCSDS 232.0-B), packets in frame data fields, and\n"
        "the physical channel configuration with its shipped channel files (``channels/``).",
    ),
    "packets": (
        ("space_packet", "packet_run", "apids", "time_code", "header_layouts"),
        "Space packets (CCSDS 133.0-B-2): primary header, stream decoding, packet runs, the APIDs,\n"
        "and the time codes they carry (CCSDS 301.0-B-4, CUC and CDS).",
    ),
    "pus": (
        ("pus", "pus_services"),
        "Packet utilization standard (ECSS-E-ST-70-41C, PUS-C): TM and TC secondary headers and the\n"
        "services paleblue's platform speaks.",
    ),
    "image": (
        ("image_transport", "image_file", "image_compression", "image_products", "image_metadata"),
        "Images from probe to ground: segments over a private PUS service (128), image files for\n"
        "CFDP, CCSDS 121.0-B lossless compression, the declared image metadata, and the products.",
    ),
    "mdb": (
        ("mission_db", "calibration", "xtce", "ccsdspy_export"),
        "The mission database: housekeeping layouts, calibrations, events and telecommands, and its\n"
        "exports (XTCE 1.2, OMG/CCSDS 660.0-B, and ccsdspy packet definitions).",
    ),
    "capture": (
        ("recording", "zmq_framing"),
        "How passes travel between processes and are kept: the ZeroMQ message framing and the\n"
        "recording format (paleblue's own formats; no CCSDS standard).",
    ),
}
STAYS = frozenset({"errors", "atomic_file", "skipped", "cfdp", "sdls"})
MAPPING: dict[str, str] = {name: layer for layer, (names, _) in LAYERS.items() for name in names}

TEXT_SUFFIXES = frozenset({".py", ".md", ".toml", ".txt", ".cfg", ".ini", ".yml", ".yaml", ".sh", ".rst"})
TEXT_NAMES = frozenset({"Makefile", "run", "MANIFEST.in"})
SKIP_PREFIXES = ("tests/fixtures/",)
SELF = ("tools/restructure.py", "tests/tools/test_restructure.py")  # hold the old names on purpose
IDENT = r"[A-Za-z_]\w*"


def git(tree: Path, *args: str) -> str:
    return subprocess.run(["git", *args], cwd=tree, check=True, capture_output=True, text=True).stdout


def is_module(path: Path) -> bool:
    return path.suffix == ".py" or (path.is_dir() and path.name != "__pycache__")


def present(tree: Path, name: str) -> Path | None:
    """Where a mapped name is in protocols/ before the move (module file or package directory)."""
    for candidate in (tree / "protocols" / f"{name}.py", tree / "protocols" / name):
        if candidate.is_file() or (candidate.is_dir() and candidate.name != MAPPING.get(name)):
            return candidate
    return None


# ---------------------------------------------------------------------------------------------
# 1. relative imports inside protocols/


RELATIVE = re.compile(
    rf"^(?P<indent>[ \t]*)from[ \t]+(?P<dots>\.+)(?P<mod>{IDENT}(?:\.{IDENT})*)?[ \t]+import\b", re.M
)


def absolutize(tree: Path, moving: set[str]) -> list[str]:
    changed = []
    for path in sorted((tree / "protocols").rglob("*.py")):
        rel = path.relative_to(tree)
        package = list(rel.parent.parts)
        file_moves = len(package) == 1 and path.stem in moving
        text = path.read_text(encoding="utf-8")

        def repl(
            m: re.Match[str], package: list[str] = package, file_moves: bool = file_moves, text: str = text
        ) -> str:
            up = len(m["dots"]) - 1
            base = package[: len(package) - up] if up else package
            target = ".".join([*base, *([m["mod"]] if m["mod"] else [])])
            parts = target.split(".")
            touches = len(parts) >= 2 and parts[0] == "protocols" and parts[1] in moving
            if target == "protocols":
                rest = text[m.end() : m.end() + 400].split("\n")[0]
                touches = any(re.search(rf"\b{name}\b", rest) for name in moving) or "(" in rest
            if not (touches or file_moves):
                return m[0]
            return f"{m['indent']}from {target} import"

        new = RELATIVE.sub(repl, text)
        if new != text:
            path.write_text(new, encoding="utf-8")
            changed.append(str(rel))
    return changed


# ---------------------------------------------------------------------------------------------
# 2. and 3. moves


def move(tree: Path, source: Path, target: Path) -> None:
    """``git mv``; a file git does not track yet is renamed and added."""
    try:
        git(tree, "mv", str(source.relative_to(tree)), str(target.relative_to(tree)))
    except subprocess.CalledProcessError:
        shutil.move(source, target)
        git(tree, "add", str(target.relative_to(tree)))


def write_init(path: Path, doc: str) -> None:
    path.write_text(f'"""{doc}"""\n', encoding="utf-8")


def move_modules(tree: Path) -> tuple[set[str], list[str]]:
    """Moves what is still flat; returns the names moved now and the log lines."""
    moved_now: set[str] = set()
    log = []
    for layer, (names, doc) in LAYERS.items():
        for name in names:
            source = present(tree, name)
            if source is None:
                continue
            target_dir = tree / "protocols" / layer
            target = target_dir / source.name
            if target.exists():
                log.append(f"conflict: {source.relative_to(tree)} and {target.relative_to(tree)} both exist")
                continue
            target_dir.mkdir(exist_ok=True)
            init = target_dir / "__init__.py"
            if not init.exists():
                write_init(init, doc)
                git(tree, "add", str(init.relative_to(tree)))
            move(tree, source, target)
            moved_now.add(name)
            log.append(f"moved: {source.relative_to(tree)} -> {target.relative_to(tree)}")
    return moved_now, log


def placed_names(tree: Path) -> dict[str, str]:
    """Every mapped name that is now in its layer: name -> layer."""
    placed = {}
    for name, layer in MAPPING.items():
        base = tree / "protocols" / layer
        if (base / f"{name}.py").is_file() or (base / name).is_dir():
            placed[name] = layer
    return placed


def unplaced(tree: Path) -> list[str]:
    names = []
    for entry in sorted((tree / "protocols").iterdir()):
        if entry.name in ("__init__.py", "__pycache__") or entry.name.startswith("."):
            continue
        if entry.is_file() and entry.suffix != ".py":
            continue
        name = entry.stem if entry.is_file() else entry.name
        if name in STAYS or (entry.is_dir() and name in LAYERS) or name in MAPPING:
            continue
        names.append(name)
    return names


def test_target(stem: str, placed: dict[str, str]) -> str | None:
    """The module a test file tests: test_NAME.py or test_NAME_more.py, the longest NAME."""
    if not stem.startswith("test_"):
        return None
    subject = stem[len("test_") :]
    best = None
    for name in placed:
        if (subject == name or subject.startswith(name + "_")) and (best is None or len(name) > len(best)):
            best = name
    return best


PARENTS = re.compile(r"(Path\(__file__\)(?:\.resolve\(\)|\.absolute\(\))?\.parents\[)(\d+)\]")


def move_tests(tree: Path, placed: dict[str, str]) -> tuple[dict[str, str], list[str]]:
    """Moves tests/protocols/test_*.py of placed modules; returns {old module: new module}."""
    renamed: dict[str, str] = {}
    log = []
    tests = tree / "tests" / "protocols"
    if not tests.is_dir():
        return renamed, log
    packages = (tests / "__init__.py").exists()
    for path in sorted(tests.glob("test_*.py")):
        name = test_target(path.stem, placed)
        if name is None:
            subject = path.stem[len("test_") :]
            if not any(subject == s or subject.startswith(s + "_") for s in STAYS):
                log.append(f"unplaced test: {path.relative_to(tree)}")
            continue
        layer = placed[name]
        target_dir = tests / layer
        target = target_dir / path.name
        if target.exists():
            log.append(f"conflict: {path.relative_to(tree)} and {target.relative_to(tree)} both exist")
            continue
        target_dir.mkdir(exist_ok=True)
        if packages and not (target_dir / "__init__.py").exists():
            (target_dir / "__init__.py").write_text("", encoding="utf-8")
            git(tree, "add", str((target_dir / "__init__.py").relative_to(tree)))
        move(tree, path, target)
        text = target.read_text(encoding="utf-8")
        new = PARENTS.sub(lambda m: f"{m[1]}{int(m[2]) + 1}]", text)
        if new != text:
            target.write_text(new, encoding="utf-8")
        renamed[f"tests.protocols.{path.stem}"] = f"tests.protocols.{layer}.{path.stem}"
        log.append(f"moved: {path.relative_to(tree)} -> {target.relative_to(tree)}")
    # tests moved by an earlier run still need their references rewritten
    for path in sorted(tests.glob("*/test_*.py")):
        layer = path.parent.name
        if layer in LAYERS:
            renamed.setdefault(f"tests.protocols.{path.stem}", f"tests.protocols.{layer}.{path.stem}")
    return renamed, log


def bump_moved_module_paths(tree: Path, moved_now: set[str], placed: dict[str, str]) -> list[str]:
    """A moved module that finds files from ``__file__`` is one directory deeper: say where."""
    notes = []
    for name in sorted(moved_now):
        path = tree / "protocols" / placed[name] / f"{name}.py"
        if not path.is_file():
            continue
        text = path.read_text(encoding="utf-8")
        new = PARENTS.sub(lambda m: f"{m[1]}{int(m[2]) + 1}]", text)
        if new != text:
            path.write_text(new, encoding="utf-8")
            notes.append(f"adjusted: {path.relative_to(tree)} Path(__file__).parents[N] + 1")
        for number, line in enumerate(new.splitlines(), 1):
            if re.search(r"__file__|__package__|resources\.files\(__name__", line) and not PARENTS.search(
                line
            ):
                notes.append(f"check: {path.relative_to(tree)}:{number}: {line.strip()}")
    return notes


# ---------------------------------------------------------------------------------------------
# 4. references


FROM_PROTOCOLS = re.compile(
    r"^(?P<indent>[ \t]*)from[ \t]+protocols[ \t]+import[ \t]+"
    r"(?:\((?P<paren>[^()]*)\)|(?P<line>[^\n]*))(?P<eol>[^\n]*)",
    re.M,
)


def split_names(body: str) -> tuple[list[tuple[str, str | None]], list[str]]:
    comments = re.findall(r"#[^\n]*", body)
    body = re.sub(r"#[^\n]*", "", body).replace("\\\n", " ")
    names = []
    for item in body.split(","):
        words = item.split()
        if not words:
            continue
        if len(words) == 3 and words[1] == "as":
            names.append((words[0], words[2]))
        else:
            names.append((words[0], None))
    return names, comments


def rewrite_from_protocols(text: str, placed: dict[str, str]) -> str:
    def repl(m: re.Match[str]) -> str:
        body = m["paren"] if m["paren"] is not None else m["line"]
        names, comments = split_names(body)
        if m["paren"] is not None:
            comments += re.findall(r"#[^\n]*", m["eol"])
        if not any(name in placed for name, _ in names):
            return m[0]
        groups: dict[str, list[str]] = {}
        for name, alias in names:
            module = f"protocols.{placed[name]}" if name in placed else "protocols"
            groups.setdefault(module, []).append(f"{name} as {alias}" if alias else name)
        indent = m["indent"]
        lines = [f"{indent}from {module} import {', '.join(items)}" for module, items in groups.items()]
        if comments:
            lines[0] += "  " + "  ".join(comments)
        return "\n".join(lines)

    return FROM_PROTOCOLS.sub(repl, text)


def submodules(tree: Path, layer: str) -> set[str]:
    base = tree / "protocols" / layer
    return {p.stem for p in base.glob("*.py") if p.stem != "__init__"} | {
        p.name for p in base.iterdir() if p.is_dir() and p.name != "__pycache__"
    }


def rewrite_dotted(text: str, placed: dict[str, str], moved_now: set[str], tree: Path) -> str:
    """``protocols.NAME`` -> ``protocols.LAYER.NAME`` wherever it is written (code, strings, docs)."""
    for name, layer in placed.items():
        if name != layer:
            text = re.sub(rf"(?<![\w.])protocols\.{name}(?!\w)", f"protocols.{layer}.{name}", text)
            continue
        # protocols/pus/pus.py: ``protocols.pus`` is both the package and, before the move, the module
        inside = submodules(tree, layer)

        def from_stmt(m: re.Match[str], inside: set[str] = inside, layer: str = layer) -> str:
            names, _ = split_names(m["paren"] if m["paren"] is not None else m["line"])
            if names and all(n in inside for n, _ in names):
                return m[0]
            return m[0].replace(f"protocols.{layer}", f"protocols.{layer}.{layer}", 1)

        text = re.sub(
            rf"^[ \t]*from[ \t]+protocols\.{layer}[ \t]+import[ \t]+"
            r"(?:\((?P<paren>[^()]*)\)|(?P<line>[^\n]*))",
            from_stmt,
            text,
            flags=re.M,
        )

        def use(
            m: re.Match[str], inside: set[str] = inside, layer: str = layer, now: bool = name in moved_now
        ) -> str:
            attribute = m["attr"]
            if attribute is not None:
                return m[0] if attribute in inside else f"protocols.{layer}.{layer}.{attribute}"
            return f"protocols.{layer}.{layer}" if now else m[0]

        text = re.sub(
            rf"(?<![\w.])(?<!from )protocols\.{layer}(?>\.(?P<attr>{IDENT}))?(?!\w)(?![ \t]+import\b)",
            use,
            text,
        )
    return text


def rewrite_paths(text: str, placed: dict[str, str], tree: Path) -> str:
    for name, layer in placed.items():
        if (tree / "protocols" / layer / name).is_dir():
            text = re.sub(rf"(?<![\w/.])protocols/{name}(?![\w.-])", f"protocols/{layer}/{name}", text)
            text = re.sub(
                rf"""(files\(\s*["']protocols)(["']\s*\)\s*(?:/\s*|\.joinpath\(\s*)["']{name}["'])""",
                rf"\1.{layer}\2",
                text,
            )
        else:
            text = re.sub(rf"(?<![\w/.])protocols/{name}\.py\b", f"protocols/{layer}/{name}.py", text)
    return text


def rewrite_tests(text: str, renamed: dict[str, str]) -> str:
    for old, new in renamed.items():
        text = re.sub(rf"(?<![\w.]){re.escape(old)}(?!\w)", new, text)
        old_path, new_path = old.replace(".", "/") + ".py", new.replace(".", "/") + ".py"
        text = re.sub(rf"(?<![\w/.]){re.escape(old_path)}", new_path, text)
    return text


def text_files(tree: Path) -> list[Path]:
    listed = git(tree, "ls-files", "-co", "--exclude-standard").splitlines()
    files = []
    for rel in listed:
        if rel in SELF or rel.startswith(SKIP_PREFIXES):
            continue
        path = tree / rel
        if not path.is_file():
            continue
        if path.suffix in TEXT_SUFFIXES or path.name in TEXT_NAMES:
            files.append(path)
    return files


def rewrite_tree(
    tree: Path, placed: dict[str, str], moved_now: set[str], renamed: dict[str, str]
) -> list[str]:
    changed = []
    for path in text_files(tree):
        try:
            text = path.read_text(encoding="utf-8")
        except UnicodeDecodeError:
            continue
        new = rewrite_dotted(text, placed, moved_now, tree)
        if path.suffix == ".py":
            new = rewrite_from_protocols(new, placed)
        new = rewrite_paths(new, placed, tree)
        new = rewrite_tests(new, renamed)
        if new != text:
            path.write_text(new, encoding="utf-8")
            changed.append(str(path.relative_to(tree)))
    return changed


# ---------------------------------------------------------------------------------------------
# pyproject and ruff


def check_pyproject(tree: Path, placed: dict[str, str]) -> list[str]:
    path = tree / "pyproject.toml"
    if not path.is_file():
        return ["check: no pyproject.toml"]
    text = path.read_text(encoding="utf-8")
    if (
        re.search(r"find\s*=\s*\{[^}]*[\"']protocols\*[\"']", text)
        or "[tool.setuptools.packages.find]" in text
    ):
        return ["pyproject: packages found by setuptools (protocols* includes the new subpackages)"]
    listed = re.search(r"packages\s*=\s*\[(?P<body>[^\]]*)\]", text)
    if not listed:
        return ["check: pyproject declares packages in a way this script does not know"]
    have = re.findall(r"[\"']([\w.]+)[\"']", listed["body"])
    wanted = {f"protocols.{layer}" for layer in placed.values()}
    wanted |= {
        f"protocols.{layer}.{name}"
        for name, layer in placed.items()
        if (tree / "protocols" / layer / name / "__init__.py").is_file()
    }
    wanted = sorted(wanted)
    missing = [p for p in wanted if p not in have]
    if not missing:
        return []
    body = listed["body"].rstrip()
    sep = "" if body.endswith(",") or not body else ","
    new_body = body + sep + "".join(f' "{p}",' for p in missing)
    path.write_text(text[: listed.start("body")] + new_body + text[listed.end("body") :], encoding="utf-8")
    return [f"pyproject: added {', '.join(missing)} to packages"]


def ruff_command(tree: Path) -> list[str]:
    candidates = [tree / ".venv" / "bin" / "ruff", Path(sys.executable).with_name("ruff")]
    exe = next((str(c) for c in candidates if c.is_file()), None) or shutil.which("ruff")
    return [exe] if exe else [sys.executable, "-m", "ruff"]


def line_length(tree: Path) -> int:
    config = tree / "pyproject.toml"
    found = re.search(r"^line-length\s*=\s*(\d+)", config.read_text() if config.is_file() else "", re.M)
    return int(found[1]) if found else 88


def long_lines(tree: Path, files: list[str]) -> list[tuple[str, int]]:
    result = subprocess.run(
        [*ruff_command(tree), "check", "--select", "E501", "--output-format", "json", *files],
        cwd=tree,
        capture_output=True,
        text=True,
    )
    found = json.loads(result.stdout or "[]")
    return sorted({(str(Path(f["filename"]).relative_to(tree)), f["location"]["row"]) for f in found})


def split_point(text: str, start: int, limit: int, fstring: bool) -> int | None:
    """The last space of ``text[start:]`` that ends a part before ``limit`` (outside f-string braces)."""
    depth, best = 0, None
    for i in range(start, len(text)):
        char = text[i]
        if fstring and char in "{}":
            depth += 1 if char == "{" else -1
        if i >= limit:
            break
        if char == " " and depth == 0 and i > start:
            best = i + 1
    return best


def shorten(path: Path, rows: set[int], limit: int) -> bool:
    """Breaks the long lines that references made longer: strings split, comments and docstrings wrapped."""
    text = path.read_text(encoding="utf-8")
    lines = text.split("\n")
    tokens = list(tokenize.generate_tokens(io.StringIO(text).readline))
    depth, edits = 0, {}
    for token in tokens:
        if token.type == tokenize.OP and token.string in "([{":
            depth += 1
        elif token.type == tokenize.OP and token.string in ")]}":
            depth -= 1
        row = token.start[0]
        if token.type == tokenize.STRING and token.start[0] == token.end[0] and row in rows:
            literal = token.string
            prefix = re.match(r"[A-Za-z]*", literal)[0]
            quote = literal[len(prefix)]
            if literal[len(prefix) :].startswith(quote * 3):
                continue
            cut = split_point(literal, len(prefix) + 1, limit - token.start[1] - 1, "f" in prefix.lower())
            if cut is None:
                continue
            indent = " " * (token.start[1] if depth else token.start[1] + 4)
            first, second = literal[:cut] + quote, prefix + quote + literal[cut:]
            joined = f"{first}\n{indent}{second}" if depth else f"(\n{indent}{first}\n{indent}{second}\n)"
            line = lines[row - 1]
            edits[row] = line[: token.start[1]] + joined + line[token.end[1] :]
            rows.discard(row)
        elif token.type == tokenize.STRING and token.start[0] != token.end[0]:
            for inner in range(token.start[0] + 1, token.end[0] + 1):
                if inner in rows:
                    line = lines[inner - 1]
                    lead = line[: len(line) - len(line.lstrip())]
                    cut = split_point(line, len(lead), limit, False)
                    if cut is not None:
                        edits[inner] = line[:cut].rstrip() + "\n" + lead + line[cut:]
                    rows.discard(inner)
        elif token.type == tokenize.COMMENT and row in rows and not lines[row - 1][: token.start[1]].strip():
            line = lines[row - 1]
            lead = line[: token.start[1]] + "# "
            cut = split_point(line, len(lead), limit, False)
            if cut is not None:
                edits[row] = line[:cut].rstrip() + "\n" + lead + line[cut:]
            rows.discard(row)
    if not edits:
        return False
    for row, replacement in edits.items():
        lines[row - 1] = replacement
    path.write_text("\n".join(lines), encoding="utf-8")
    return True


def tidy(tree: Path, changed: list[str]) -> list[str]:
    """isort the tree, then format the rewritten modules and break the lines they made too long."""
    command = ruff_command(tree)
    run = {"cwd": tree, "capture_output": True, "text": True}
    fixed = subprocess.run([*command, "check", "--fix", "--select", "I", "--quiet", "."], **run)
    lines = [f"ruff check --fix --select I: exit {fixed.returncode}"]
    modules = [f for f in changed if f.endswith(".py") and (tree / f).is_file()]
    limit = line_length(tree)
    for _ in range(3):
        if modules:
            subprocess.run([*command, "format", "--quiet", *modules], **run)
        rows: dict[str, set[int]] = {}
        for name, row in long_lines(tree, modules):
            rows.setdefault(name, set()).add(row)
        if not any([shorten(tree / name, found, limit) for name, found in rows.items()]):
            break
    checked = subprocess.run([*command, "check", "--quiet", "."], **run)
    lines.append(f"ruff check .: exit {checked.returncode}")
    lines += [f"  {line}" for line in checked.stdout.splitlines()[:40]]
    return lines


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("tree", type=Path, help="a git checkout of paleblue")
    parser.add_argument("--no-ruff", action="store_true", help="do not run ruff at the end")
    args = parser.parse_args(argv)
    tree = args.tree.resolve()
    if not (tree / "protocols").is_dir() or not (tree / ".git").exists():
        print(f"restructure: {tree} is not a git checkout of paleblue", file=sys.stderr)
        return 2

    moving = {name for name in MAPPING if present(tree, name) is not None}
    report = [f"absolute import: {f}" for f in absolutize(tree, moving)]
    moved_now, log = move_modules(tree)
    report += log
    placed = placed_names(tree)
    renamed, log = move_tests(tree, placed)
    report += log
    report += bump_moved_module_paths(tree, moved_now, placed)
    changed = rewrite_tree(tree, placed, moved_now, renamed)
    report += [f"rewritten: {f}" for f in changed]
    report += check_pyproject(tree, placed)
    report += [f"unplaced: {name}" for name in unplaced(tree)]
    if not args.no_ruff:
        report += tidy(tree, changed)
    print("\n".join(report) if report else "nothing to do")
    return 0


if __name__ == "__main__":
    sys.exit(main())

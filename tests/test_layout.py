"""The package's shape: no import circles; the CLI group imports no command module."""

import ast
import pathlib

import embedkit

ROOT = pathlib.Path(embedkit.__file__).parent


def _imports():
    mods = {}
    for p in ROOT.rglob("*.py"):
        rel = p.relative_to(ROOT.parent).with_suffix("")
        mods[".".join(rel.parts[:-1] if rel.name == "__init__" else rel.parts)] = p
    graph = {m: set() for m in mods}
    for m, p in mods.items():
        pkg = m if p.name == "__init__.py" else m.rsplit(".", 1)[0]
        for n in ast.walk(ast.parse(p.read_text(encoding="utf-8"))):
            if isinstance(n, ast.ImportFrom):
                base = n.module or ""
                if n.level:
                    parts = pkg.split(".")
                    base = ".".join(parts[: len(parts) - n.level + 1] + ([base] if base else []))
                cands = [base] + [f"{base}.{a.name}" for a in n.names]
            elif isinstance(n, ast.Import):
                cands = [a.name for a in n.names]
            else:
                continue
            graph[m] |= {c for c in cands if c in mods and c != m and not m.startswith(c + ".")}
    return graph


def test_no_import_circles():
    graph = _imports()
    cycles = []

    def walk(u, path, seen):
        for v in sorted(graph[u]):
            if v in path:
                cycles.append(path[path.index(v):] + [v])
            elif v not in seen:
                seen.add(v)
                walk(v, path + [v], seen)

    seen = set()
    for m in sorted(graph):
        if m not in seen:
            seen.add(m)
            walk(m, [m], seen)
    assert cycles == []


def test_cli_group_imports_no_command_module():
    graph = _imports()
    assert not {m for m in graph["embedkit.cli.app"] if m.startswith("embedkit.cli.")}
    for family in ("store", "words", "sentences", "media"):
        assert "embedkit.cli.app" in graph[f"embedkit.cli.{family}"]
        assert "embedkit.cli" not in graph[f"embedkit.cli.{family}"]


def test_design_layout_exists():
    for area in ("text", "vision", "audio", "train", "store", "apps", "analysis", "evaluate", "serve",
                 "scale", "cli"):
        assert (ROOT / area / "__init__.py").is_file(), area

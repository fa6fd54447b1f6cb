"""The docs that show the layout name real code: every ``file:function`` of the event trace at the top of
docs/ARCHITECTURE.md exists (Python via its syntax tree, Java by its method declaration), and every path in the
README's "What is where" table is in the repository."""

from __future__ import annotations

import ast
import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
DOC = ROOT / "docs" / "ARCHITECTURE.md"
README = ROOT / "README.md"
JAVA = ROOT / "jvm" / "src" / "main" / "java" / "omniseq" / "flink"
REF = re.compile(r"`([\w/.]+\.(?:py|java|sql))(?::([\w.]+))?`")


def trace_rows() -> list[str]:
    text = DOC.read_text()
    section = text.split("## One event", 1)[1].split("\n## ", 1)[0]
    return [line for line in section.splitlines() if re.match(r"\| \d+ \|", line)]


def source_file(name: str) -> Path:
    return JAVA / name if name.endswith(".java") and "/" not in name else ROOT / name


def _names(node: ast.stmt) -> list[str]:
    """The names a statement defines: a function or class, or the targets of a constant."""
    if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
        return [node.name]
    if isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name):
        return [node.target.id]
    if isinstance(node, ast.Assign):
        return [t.id for t in node.targets if isinstance(t, ast.Name)]
    return []


def python_defines(path: Path, dotted: str) -> bool:
    body: list[ast.stmt] = ast.parse(path.read_text()).body
    for part in dotted.split("."):
        node = next((n for n in body if part in _names(n)), None)
        if node is None:
            return False
        body = node.body if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef) else []
    return True


def java_defines(path: Path, method: str) -> bool:
    declaration = (
        rf"^\s*(?:(?:public|protected|private|static|final|synchronized)\s+)*[\w<>\[\], .]+\s+{method}\s*\("
    )
    return re.search(declaration, path.read_text(), re.M) is not None


DEFINES = {".py": python_defines, ".java": java_defines}


def test_the_trace_has_one_screen_of_steps() -> None:
    rows = trace_rows()
    assert 10 <= len(rows) <= 20, len(rows)
    assert "producer" in rows[0] or "replay" in rows[0]
    assert "/recommend" in rows[-1] or "recommend" in rows[-1]


def test_every_trace_reference_exists() -> None:
    missing = []
    for row in trace_rows():
        for file_name, function in REF.findall(row):
            path = source_file(file_name)
            if not path.is_file():
                missing.append(f"{file_name} (no such file)")
            elif function and not DEFINES[path.suffix](path, function):
                missing.append(f"{file_name}:{function}")
    assert not missing, f"docs/ARCHITECTURE.md's trace names code that does not exist: {missing}"


def test_the_checker_sees_a_missing_function(tmp_path: Path) -> None:
    module = tmp_path / "m.py"
    module.write_text("class A:\n    def f(self) -> None: ...\n\ndef g() -> None: ...\n\nC: int = 1\n")
    assert python_defines(module, "A.f") and python_defines(module, "g") and python_defines(module, "C")
    assert not python_defines(module, "A.g") and not python_defines(module, "h")
    java = tmp_path / "X.java"
    java.write_text(
        "class X {\n    public void processElement(Row r) {}\n    void flush() throws IOException {}\n}\n"
    )
    assert java_defines(java, "processElement") and java_defines(java, "flush")
    assert not java_defines(java, "close")


def test_every_path_of_the_readme_table_exists() -> None:
    section = README.read_text().split("## What is where", 1)[1].split("\n## ", 1)[0]
    paths = [
        p
        for p in re.findall(r"`([\w*./-]+)`", section)
        if not p.startswith("/") and ("/" in p or p.endswith((".py", ".yml")))
    ]
    assert len(paths) > 20, paths
    missing = [p for p in paths if not any(ROOT.glob(p.rstrip("/")))]
    assert not missing, f"README's 'What is where' names paths that do not exist: {missing}"
    layers = ["feature_repo", "omniseq", "pipeline", "models", "serving", "lifecycle", "cli", "bench"]
    assert all(f"`{layer}/" in section for layer in layers), "every layer has a row"

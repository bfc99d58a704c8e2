"""The architecture a newcomer sees holds in the code: dependencies point one way
(`config/` <- `index/` <- `qa/` <- `benchmarks/`), and only the HTTP layer and the command
line reach the API package."""

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def _imports(path: Path) -> set[str]:
    """Every module a file imports, at any depth (function-local imports count too)."""
    found = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            found |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.add(node.module)
    return found


def _modules(folder: str) -> list[Path]:
    return sorted((ROOT / folder).rglob("*.py"))


def _offenders(folders: list[str], packages: list[str], allowed: tuple[str, ...] = ()) -> list[str]:
    """"file imports module" for each import of one of `packages` (or a module inside one)
    by a file of `folders`, except the files whose path starts with one of `allowed`."""
    out = []
    for folder in folders:
        for path in _modules(folder):
            name = path.relative_to(ROOT).as_posix()
            if name.startswith(allowed):
                continue
            out += [f"{name} imports {m}" for m in _imports(path)
                    if any(m == p or m.startswith(p + ".") for p in packages)]
    return out


def test_index_never_imports_the_service_layer():
    assert _offenders(["index"], ["qa"]) == []


def test_config_imports_neither_index_nor_qa():
    assert _offenders(["config"], ["index", "qa"]) == []


def test_only_the_http_layer_and_the_command_line_import_the_api_package():
    assert _offenders(["qa", "index", "config", "benchmarks"], ["qa.api"],
                      allowed=("qa/api/", "qa/cli.py")) == []


def test_the_checker_sees_function_level_imports(tmp_path):
    module = tmp_path / "m.py"
    module.write_text("def f():\n    from qa.api.app import create_app\n    import qa.service\n")
    assert _imports(module) == {"qa.api.app", "qa.service"}

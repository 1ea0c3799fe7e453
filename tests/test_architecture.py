"""The built-ins live by the public contract: no module reaches into another module's private
names (``_x``), whether by ``from m import _x`` or ``m._x`` on an imported module."""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = {"core": "ftp", "plugins": "ftp.plugins", "privacy": "ftp.privacy"}


def _module_name(path: Path, root: Path) -> str:
    folder, *rest = path.relative_to(root).with_suffix("").parts
    name = ".".join([PACKAGES[folder], *rest])
    return name.removesuffix(".__init__")


def _private(name: str) -> bool:
    return name.startswith("_") and not name.startswith("__")


def _violations(path: Path, root: Path = ROOT) -> list[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    me, found = _module_name(path, root), []
    imported: dict[str, str] = {}  # local name -> module it stands for
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("ftp"):
            for alias in node.names:
                if _private(alias.name) and node.module != me:
                    found.append(f"{me}:{node.lineno} imports {node.module}.{alias.name}")
                imported[alias.asname or alias.name] = f"{node.module}.{alias.name}"
        elif isinstance(node, ast.Import):
            for alias in node.names:
                if alias.name.startswith("ftp"):
                    imported[alias.asname or alias.name] = alias.name
    for node in ast.walk(tree):
        if (isinstance(node, ast.Attribute) and _private(node.attr)
                and isinstance(node.value, ast.Name) and node.value.id in imported):
            target = imported[node.value.id]
            if target != me:
                found.append(f"{me}:{node.lineno} uses {target}.{node.attr}")
    return found


def test_no_module_uses_another_modules_private_names():
    violations = [v for folder in PACKAGES for path in sorted((ROOT / folder).rglob("*.py"))
                  for v in _violations(path)]
    assert violations == [], "\n".join(violations)


def test_the_check_sees_a_violation(tmp_path):
    """The test above catches `methods._load` as dpo used it, and `from m import _x`."""
    folder = tmp_path / "plugins" / "training"
    folder.mkdir(parents=True)
    (folder / "dpo.py").write_text("from ftp.plugins.training import methods\n"
                                   "from ftp.plugins.data.formats import _BUILTIN\n"
                                   "methods._load(None)\n")
    assert _violations(folder / "dpo.py", tmp_path) == [
        "ftp.plugins.training.dpo:2 imports ftp.plugins.data.formats._BUILTIN",
        "ftp.plugins.training.dpo:3 uses ftp.plugins.training.methods._load"]

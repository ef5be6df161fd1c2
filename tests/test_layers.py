"""The layer contract, read from the sources (every import, including those inside functions):

* services are framework-free and never reach up: no atlas_app.ui, atlas_app.api, atlas_app.cli, Reflex or Starlette;
* the UI reaches data only through services: no atlas_app.db, atlas_app.models, SQLModel or SQLAlchemy, and no
  HTTP routes (atlas_app.api);
* models import nothing from services, ui, api or cli;
* the API never imports the UI; atlas_app/web_session.py, shared by both, uses the standard library and the
  settings only (no web framework, nothing of either layer).
"""

from __future__ import annotations

import ast
import sys
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parent.parent / "atlas_app"

UPPER = ("atlas_app.ui", "atlas_app.api", "atlas_app.cli", "atlas_app.atlas_app")
FRAMEWORKS = ("reflex", "reflex_base", "starlette", "fastapi")
DATA = ("atlas_app.db", "atlas_app.models", "sqlmodel", "sqlalchemy")

RULES = {
    "services": UPPER + FRAMEWORKS,
    "ui": DATA + ("atlas_app.api", "atlas_app.cli", "atlas_app.atlas_app"),
    "models": ("atlas_app.services",) + UPPER + FRAMEWORKS,
    "api": ("atlas_app.ui", "atlas_app.cli"),
}


def imports_of(source: str, module: str) -> set[str]:
    """Every module named by an import statement in ``source`` (the code of ``module``), resolving relative imports
    and ``from package import submodule``."""
    names: set[str] = set()
    package = module.rsplit(".", 1)[0]
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                parts = package.split(".")
                base = ".".join(parts[: len(parts) - node.level + 1] + ([base] if base else []))
            names.add(base)
            names.update(f"{base}.{alias.name}" for alias in node.names)
    return names


def within(name: str, prefix: str) -> bool:
    return name == prefix or name.startswith(prefix + ".")


def modules(layer: str):
    for path in sorted((PACKAGE / layer).rglob("*.py")):
        rel = path.relative_to(PACKAGE.parent).with_suffix("")
        name = ".".join(rel.parts).removesuffix(".__init__")
        yield name, path.read_text(encoding="utf-8")


def violations(layer: str) -> list[str]:
    found = []
    for name, source in modules(layer):
        for imported in sorted(imports_of(source, name)):
            for forbidden in RULES[layer]:
                if within(imported, forbidden):
                    found.append(f"{name} imports {imported}")
    return found


@pytest.mark.parametrize("layer", sorted(RULES))
def test_layer_imports_only_what_it_may(layer):
    assert list(modules(layer)), f"no modules found under atlas_app/{layer}"
    assert violations(layer) == []


def test_the_shared_web_session_uses_the_standard_library_and_the_settings_only():
    source = (PACKAGE / "web_session.py").read_text(encoding="utf-8")
    names = imports_of(source, "atlas_app.web_session")
    ours = {name for name in names if name.split(".")[0] == "atlas_app"}
    assert {name.rsplit(".", 1)[0] if name.endswith(".get_settings") else name for name in ours} <= {
        "atlas_app.settings"}, ours
    top = {name.split(".")[0] for name in names - ours}
    assert top <= set(sys.stdlib_module_names) | {"__future__"}, top


def test_the_walker_sees_every_form_of_import():
    """The contract is only as good as the reading: nested, aliased, relative and from-package imports count."""
    source = """
import sqlalchemy.orm as orm
from atlas_app import db
from ..api.web import same_origin
def later():
    from atlas_app.models import Client
"""
    seen = imports_of(source, "atlas_app.ui.staff.page")
    assert {"sqlalchemy.orm", "atlas_app.db", "atlas_app.ui.api.web", "atlas_app.models"} <= seen
    assert "atlas_app.api.web" in imports_of("from ...api.web import x", "atlas_app.ui.staff.page")

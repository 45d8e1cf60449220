"""`ocpi.admin_api.dashboard` uses its siblings' public functions only (issue 15): a private helper of
another module may change without notice, so reaching into one is refused here."""

from __future__ import annotations

import ast
from pathlib import Path

import ocpi.admin_api.dashboard as dashboard


def test_dashboard_uses_no_private_names_of_other_modules() -> None:
    tree = ast.parse(Path(dashboard.__file__).read_text())
    private: list[str] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom):
            private += [a.name for a in node.names if a.name.startswith("_") and a.name != "__future__"]
        if isinstance(node, ast.Attribute) and node.attr.startswith("_") and not node.attr.startswith("__"):
            # `self._x` is the module's own business; `module._x` is a sibling's private.
            if not (isinstance(node.value, ast.Name) and node.value.id == "self"):
                private.append(node.attr)
    assert private == []

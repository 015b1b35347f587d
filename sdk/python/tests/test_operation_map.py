"""operation-map.json matches openapi/openapi.json and the SDK; live tests cover the API."""

from __future__ import annotations

import inspect
import json
import re
from pathlib import Path
from typing import Any, Dict, List

import pytest

import stacyvm

TESTS = Path(__file__).parent
SDK_ROOT = TESTS.parent
OPENAPI = json.loads((SDK_ROOT.parents[1] / "openapi" / "openapi.json").read_text())
MAP = json.loads((SDK_ROOT / "operation-map.json").read_text())

#: Where a mapped name's owner lives, for the sync SDK and its async twin.
OWNERS: Dict[str, List[type]] = {
    "Client": [stacyvm.Client, stacyvm.AsyncClient],
    "Client.templates": [stacyvm.TemplateManager, stacyvm.AsyncTemplateManager],
    "Sandbox": [stacyvm.Sandbox, stacyvm.AsyncSandbox],
}


def _operation_ids() -> List[str]:
    return [
        op["operationId"]
        for item in OPENAPI["paths"].values()
        for method, op in item.items()
        if isinstance(op, dict) and "operationId" in op
    ]


def test_map_covers_the_document() -> None:
    ops = _operation_ids()
    mapped, excluded = MAP["operations"], MAP["excluded"]
    assert sorted(set(mapped) | set(excluded)) == sorted(ops)
    assert not set(mapped) & set(excluded)
    assert all(isinstance(r, str) and r.strip() for r in excluded.values())


@pytest.mark.parametrize("operation_id", sorted(MAP["operations"]))
def test_mapped_method_exists(operation_id: str) -> None:
    owner, _, name = MAP["operations"][operation_id].rpartition(".")
    for cls in OWNERS[owner]:
        assert callable(getattr(cls, name, None)), f"{cls.__name__}.{name} is missing"


def _public_methods(cls: type) -> List[str]:
    return sorted(
        name
        for name, member in inspect.getmembers(cls)
        if not name.startswith("_") and (inspect.isfunction(member) or inspect.iscoroutinefunction(member))
    )


@pytest.mark.parametrize(
    ("cls", "source"),
    [
        (stacyvm.Client, "test_live_client.py"),
        (stacyvm.TemplateManager, "test_live_client.py"),
        (stacyvm.Sandbox, "test_live_sandbox.py"),
        (stacyvm.AsyncClient, "test_live_async.py"),
        (stacyvm.AsyncTemplateManager, "test_live_async.py"),
        (stacyvm.AsyncSandbox, "test_live_async.py"),
    ],
    ids=lambda v: v.__name__ if isinstance(v, type) else v,
)
def test_live_tests_call_every_public_method(cls: Any, source: str) -> None:
    text = (TESTS / source).read_text()
    uncalled = [m for m in _public_methods(cls) if not re.search(rf"\.{m}\(", text)]
    assert not uncalled, f"{source} never calls {cls.__name__}.{', '.join(uncalled)}"

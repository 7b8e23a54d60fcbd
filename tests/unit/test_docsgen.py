"""The configuration reference in docs/operations.md is what the settings model generates."""
from __future__ import annotations

import re

from tests.support.paths import REPO

from minewatch import docsgen
from minewatch.config import Settings


def _keys(model, prefix=""):
    import inspect
    import typing

    from pydantic import BaseModel

    for name, f in model.model_fields.items():
        t = f.annotation
        if inspect.isclass(t) and issubclass(t, BaseModel):
            yield from _keys(t, f"{prefix}{name}.")
            continue
        yield prefix + name
        inner = [a for a in typing.get_args(t) if inspect.isclass(a) and issubclass(a, BaseModel)]
        if inner:
            yield from _keys(inner[0], f"{prefix}{name}{'[]' if typing.get_origin(t) is tuple else ''}.")


def test_the_doc_is_equal_to_the_generated_reference():
    doc = (REPO / "docs" / "operations.md").read_text(encoding="utf-8")
    assert docsgen.rewrite(doc) == doc, "run: python -m minewatch.docsgen --write docs/operations.md"


def test_every_key_has_a_type_a_default_and_a_meaning():
    ref = docsgen.reference()
    cells = [[c.strip() for c in re.split(r"(?<!\\)\|", ln)[1:6]] for ln in ref.splitlines() if ln.startswith("| `")]
    rows = {c[0].strip("`"): c[1:] for c in cells}
    assert set(rows) == set(_keys(Settings))
    for key, (typ, default, meaning, env) in rows.items():
        assert typ and default and meaning and env.startswith("`MINEWATCH_"), key
    assert rows["run.timezone"][1] == "`Asia/Shanghai`"
    assert rows["assess.thresholds"][1] == "the packaged `minewatch/data/thresholds.yaml`"
    assert rows["catalog.url"][3] == "`MINEWATCH_CATALOG__URL`"

"""A seed paper's claim as an experiment measured it, kept as data: each experiment builds its
claims as :class:`Claim` objects, renders its report's sentences from them and writes them as
JSON (``docs/supervised/<name>_claims.json``); ``python -m scripts.make_report`` reads them back
and renders every claim side by side (``docs/data/claims.json`` holds that list)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, NamedTuple

__all__ = ["CONCLUSIONS", "Claim", "bullet", "from_json", "read_claims", "to_json",
           "write_claims"]


class Claim(NamedTuple):
    """A seed paper's claim as an experiment measured it: the numbers, the verdict (agrees,
    differs, partly, ... so far, not measured yet) and, where it does not agree, why."""

    text: str
    measured: str
    verdict: str
    why: str = ""


CONCLUSIONS = {"agrees": "Holds.", "partly": "Partly holds.", "differs": "Does not hold."}
"""The sentence a report's bullet ends with for a verdict whose claim has no ``why``."""


def bullet(claim: Claim) -> str:
    """A report's bullet for ``claim``: ``- **text.** measured why`` (no full stop after the
    text when ``measured`` opens with a parenthesis; ``why`` defaults to the verdict's sentence
    of :data:`CONCLUSIONS`, so that "Holds." is never stored as a why)."""
    stop = "" if claim.measured.startswith("(") else "."
    parts = [f"- **{claim.text}{stop}**", claim.measured, claim.why or CONCLUSIONS[claim.verdict]]
    return " ".join(part for part in parts if part)


def to_json(claim: Claim) -> dict[str, str]:
    return claim._asdict()


def from_json(data: dict[str, Any]) -> Claim:
    """The claim of a :func:`to_json` dict; a ``ValueError`` names a missing or unknown field."""
    if set(data) - set(Claim._fields) or not {"text", "measured", "verdict"} <= set(data):
        raise ValueError(f"a claim has the fields {Claim._fields}, got {sorted(data)}")
    return Claim(**data)


def write_claims(path: Path, claims: list[Claim]) -> None:
    """Writes ``claims`` to ``path`` as a JSON list (UTF-8, one field per line)."""
    path.write_text(json.dumps([to_json(c) for c in claims], ensure_ascii=False, indent=1) + "\n")


def read_claims(path: Path) -> list[Claim]:
    """The claims :func:`write_claims` wrote to ``path``."""
    return [from_json(item) for item in json.loads(path.read_text())]

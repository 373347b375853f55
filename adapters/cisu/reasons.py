"""Why a wire message was refused: machine codes, JSON-like paths and French explanations."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

_IDENTIFIER = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


@dataclass(frozen=True)
class Reason:
    """One problem found in a message.

    `code` is stable (kebab-case) for machines, `path` is a JSON-path-like location ('' when global),
    `message` is for French-speaking operators. `line` (XML only) and `detail` (the original
    validator text, in English) are extras that do not take part in equality.
    """

    code: str
    path: str
    message: str
    line: int | None = field(default=None, compare=False)
    detail: str = field(default="", compare=False)


class InvalidMessage(Exception):
    """The wire message cannot be accepted; `reasons` says why (never empty).

    The identifiers that could still be read are kept so that a quarantine can show them.
    """

    def __init__(
        self,
        reasons: Iterable[Reason],
        *,
        encoding: str | None = None,
        distribution_id: str | None = None,
        sender_id: str | None = None,
        kind: str | None = None,
    ) -> None:
        self.reasons: tuple[Reason, ...] = tuple(reasons) or (
            Reason("envelope", "", "message refusé sans motif précis"),
        )
        self.encoding = encoding
        self.distribution_id = distribution_id
        self.sender_id = sender_id
        self.kind = kind
        super().__init__("; ".join(f"{r.path or '$'}: {r.message}" for r in self.reasons[:5]))

    def __reduce__(self) -> tuple[Callable[..., InvalidMessage], tuple[object, ...]]:
        # picklable despite the keyword-only constructor (process pools, queues)
        return (
            _rebuild_invalid_message,
            (self.reasons, self.encoding, self.distribution_id, self.sender_id, self.kind),
        )

    @property
    def codes(self) -> frozenset[str]:
        return frozenset(r.code for r in self.reasons)


def _rebuild_invalid_message(
    reasons: list[Reason], encoding: str | None, distribution_id: str | None, sender_id: str | None, kind: str | None
) -> InvalidMessage:
    return InvalidMessage(
        reasons, encoding=encoding, distribution_id=distribution_id, sender_id=sender_id, kind=kind
    )


def json_path(parts: Iterable[str | int], root: str = "$") -> str:
    """['content', 0, 'jsonContent'] -> '$.content[0].jsonContent' (bracket-quoted odd keys)."""
    out = [root]
    for part in parts:
        if isinstance(part, int):
            out.append(f"[{part}]")
        elif len(part) <= 100 and _IDENTIFIER.match(part):
            out.append(f".{part}")
        else:
            escaped = field_name(part, 100).replace("\\", "\\\\").replace("'", "\\'")
            out.append(f"['{escaped}']")
    return "".join(out)


_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f]")


def field_name(name: object, limit: int = 60) -> str:
    """A field name the sender wrote (an unknown or duplicate key), shortened and without control characters.

    Reasons name fields, never values; a hostile key must not make a reason long or unprintable."""
    text = _CONTROL.sub("?", name if isinstance(name, str) else repr(name))
    return text if len(text) <= limit else text[: limit - 1] + "…"

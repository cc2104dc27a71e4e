"""Durations as people write them in settings: ``90s``, ``15m``, ``12h``, ``7d``,
``2w``, ``1y``, or a bare number of seconds.

Vigie's server reads its retention settings with the same grammar, so a value
means the same on both sides; ``tests/cases/durations.json`` holds the cases both
parsers are tested against. The collector installs alone, so it has its own copy
of the rule rather than importing the server's.
"""

from __future__ import annotations

import math
import re

UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 7 * 86400, "y": 365 * 86400}
EXAMPLES = "90s, 15m, 12h, 7d, 2w"
# ASCII digits only: Python's \d would also take "٣" or "３".
GRAMMAR = re.compile(r"\s*(\d+(?:\.\d+)?)\s*([smhdwy]?)\s*", re.ASCII | re.IGNORECASE)
FOREVER = "forever"


class DurationError(ValueError):
    """The text is not a duration; the message says what one looks like."""


def parse_duration(text: str | float, allow_forever: bool = False) -> float | None:
    """Seconds in ``text``, or None for ``forever`` (only if ``allow_forever``).

    A number without a unit is seconds. Units are case-insensitive; spaces
    around the number and the unit are allowed. Zero, negative, non-finite or
    anything else raises DurationError."""
    examples = EXAMPLES + (", or forever" if allow_forever else "")
    if isinstance(text, bool):
        raise DurationError(f"{text!r} is not a duration (e.g. {examples})")
    if isinstance(text, int | float):
        # A number from a config file: seconds, as a bare number in text.
        seconds = float(text)
    else:
        if not isinstance(text, str):
            raise DurationError(f"{text!r} is not a duration (e.g. {examples})")
        if text.strip().lower() == FOREVER:
            if allow_forever:
                return None
            raise DurationError(f"{text!r}: this setting needs a limit (e.g. {EXAMPLES})")
        match = GRAMMAR.fullmatch(text)
        if match is None:
            raise DurationError(f"{text!r} is not a duration (e.g. {examples})")
        number, unit = match.groups()
        seconds = float(number) * UNITS[unit.lower() or "s"]
    if not (seconds > 0 and math.isfinite(seconds)):
        raise DurationError(
            f"{text!r} is not a duration: it must be more than zero and finite (e.g. {examples})"
        )
    return seconds


def format_duration(seconds: float | None) -> str:
    """``seconds`` for a person: in the largest of d, h, m that divides it
    (``7d``, not ``1w``, as the defaults are written), else in seconds."""
    if seconds is None:
        return FOREVER
    for unit in ("d", "h", "m"):
        size = UNITS[unit]
        if seconds >= size and seconds % size == 0:
            return f"{int(seconds // size)}{unit}"
    if seconds == int(seconds):
        return f"{int(seconds)}s"
    # Never an exponent (1e+06s is not a duration); a microsecond is precise enough.
    return f"{seconds:.6f}".rstrip("0").rstrip(".") + "s"

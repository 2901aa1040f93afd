"""One-line errors that name the parameter and the allowed values."""
from __future__ import annotations

import math


class ConfigError(ValueError):
    """A parameter has a wrong name, type or value."""


class DataMissingError(FileNotFoundError):
    """Real data is absent or corrupt; the message says how to get it."""


def check_choice(param: str, value, allowed) -> None:
    if value not in allowed:
        raise ConfigError(f"{param}={value!r} is not one of: {', '.join(map(str, allowed))}")


def check_number(param: str, value, *, lo=None, hi=None, lo_open=False, hi_open=False,
                 integer=False) -> None:
    """Check ``value`` is a (finite) number in the interval; bools are not numbers here."""
    kind = "an int" if integer else "a number"
    ok_type = isinstance(value, int) if integer else isinstance(value, (int, float))
    if isinstance(value, bool) or not ok_type or (not integer and not math.isfinite(value)):
        raise ConfigError(f"{param} must be {kind}, got {value!r}")
    below = lo is not None and (value <= lo if lo_open else value < lo)
    above = hi is not None and (value >= hi if hi_open else value > hi)
    if below or above:
        left = "(" if lo_open else "["
        right = ")" if hi_open else "]"
        rng = f"{left}{'-inf' if lo is None else lo}, {'inf' if hi is None else hi}{right}"
        raise ConfigError(f"{param}={value!r} is out of range; allowed: {rng}")

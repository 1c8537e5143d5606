"""A small TOML writer for resolved scenario dicts (``tomllib`` only reads).

Covers what scenarios hold: strings, booleans, integers, floats (with ``inf`` and
``nan``), arrays of those (nested too) and tables, written as ``[dotted.tables]``
after the plain keys of each level.  ``tomllib.loads(dumps(d)) == d`` for such dicts.
"""

import math
import re

__all__ = ["dumps", "dumps_value"]

_BARE_KEY = re.compile(r"^[A-Za-z0-9_-]+$")


def toml_key(key):
    return key if _BARE_KEY.match(key) else _string(key)


def _string(text):
    out = ['"']
    for ch in text:
        if ch in '"\\':
            out.append("\\" + ch)
        elif ch == "\n":
            out.append("\\n")
        elif ch == "\t":
            out.append("\\t")
        elif ord(ch) < 0x20 or ord(ch) == 0x7F:
            out.append(f"\\u{ord(ch):04x}")
        else:
            out.append(ch)
    out.append('"')
    return "".join(out)


def _value(value):
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        if math.isnan(value):
            return "nan"
        if math.isinf(value):
            return "inf" if value > 0 else "-inf"
        return repr(value)
    if isinstance(value, str):
        return _string(value)
    if isinstance(value, list | tuple):
        return "[" + ", ".join(_value(v) for v in value) + "]"
    if isinstance(value, dict):
        return "{ " + ", ".join(f"{toml_key(k)} = {_value(v)}" for k, v in value.items()) + " }"
    raise TypeError(f"cannot write {type(value).__name__} as TOML")


def dumps_value(value):
    """One TOML value: a scalar, an array or an inline table (for hand-laid-out files)."""
    return _value(value)


def dumps(data, header=""):
    """TOML text of a dict (``header``: comment lines put first)."""
    lines = [f"# {line}" if line else "#" for line in header.splitlines()]

    def table(node, path):
        plain = [(k, v) for k, v in node.items() if not isinstance(v, dict)]
        nested = [(k, v) for k, v in node.items() if isinstance(v, dict)]
        if path and (plain or not nested):
            if lines:
                lines.append("")
            lines.append("[" + ".".join(toml_key(p) for p in path) + "]")
        lines.extend(f"{toml_key(k)} = {_value(v)}" for k, v in plain)
        for k, v in nested:
            table(v, (*path, k))

    table(data, ())
    return "\n".join(lines) + "\n"

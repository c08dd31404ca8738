"""The xl.cfg file format (xl.cfg(5)): parse it into ordered settings and write it back.

A file is a sequence of ``KEY = VALUE`` settings, one per line (a list may span lines), with
``#`` comments. A VALUE is a string in double or single quotes, a number, or a list
``[ VALUE, VALUE, ... ]`` of strings or numbers (a trailing comma allowed). A setting may end
with ``;``. This module knows the syntax only; what the keys mean is in :mod:`virtkit_xen.native`.
"""

from __future__ import annotations

import re

from virtkit.sdk.errors import ErrorCode, ErrorDomain, VirtError

__all__ = ["Scalar", "Value", "format_config", "format_value", "parse_config"]

Scalar = str | int
Value = Scalar | list[Scalar]

_KEY = re.compile(r"[A-Za-z_][A-Za-z0-9_.]*")
_NUM = re.compile(r"0[xX][0-9a-fA-F]+|-?[0-9]+")


def _syntax(line: int, message: str) -> VirtError:
    return VirtError(ErrorCode.CONF_SYNTAX, f"xl.cfg line {line}: {message}", ErrorDomain.XENXL)


class _Lexer:
    def __init__(self, text: str) -> None:
        self.text = text
        self.pos = 0
        self.line = 1

    def skip(self, newlines: bool) -> None:
        """Skip blanks and comments; newlines too when ``newlines``."""
        t = self.text
        while self.pos < len(t):
            c = t[self.pos]
            if c == "#":
                while self.pos < len(t) and t[self.pos] != "\n":
                    self.pos += 1
            elif c in " \t\r":
                self.pos += 1
            elif c == "\n" and newlines:
                self.line += 1
                self.pos += 1
            else:
                return

    def peek(self) -> str:
        return self.text[self.pos] if self.pos < len(self.text) else ""

    def scalar(self) -> Scalar:
        t, c = self.text, self.peek()
        if c in "\"'":
            end = self.pos + 1
            out = []
            while True:
                if end >= len(t) or t[end] == "\n":
                    raise _syntax(self.line, "unterminated string")
                if t[end] == "\\" and c == '"' and end + 1 < len(t):
                    nxt = t[end + 1]
                    out.append({"n": "\n", "t": "\t"}.get(nxt, nxt))
                    end += 2
                    continue
                if t[end] == c:
                    break
                out.append(t[end])
                end += 1
            self.pos = end + 1
            return "".join(out)
        m = _NUM.match(t, self.pos)
        if m and not re.match(r"[A-Za-z0-9_.]", t[m.end():m.end() + 1] or " "):
            self.pos = m.end()
            return int(m.group(0), 0)
        raise _syntax(self.line, f"expected a string, a number or a list, found {c!r}"
                      if c else "expected a value, found the end of the file")

    def value(self) -> Value:
        if self.peek() != "[":
            return self.scalar()
        self.pos += 1
        items: list[Scalar] = []
        while True:
            self.skip(newlines=True)
            if self.peek() == "]":
                self.pos += 1
                return items
            items.append(self.scalar())
            self.skip(newlines=True)
            c = self.peek()
            if c == ",":
                self.pos += 1
            elif c != "]":
                raise _syntax(self.line, "expected ',' or ']' in a list"
                              if c else "unterminated list")


def parse_config(text: str) -> dict[str, Value]:
    """The settings of an xl.cfg file, in file order (a key set twice keeps its last value, as
    xl does). Raises ``CONF_SYNTAX`` naming the line for a malformed file."""
    lx = _Lexer(text)
    out: dict[str, Value] = {}
    while True:
        lx.skip(newlines=True)
        if lx.pos >= len(text):
            return out
        m = _KEY.match(text, lx.pos)
        if not m:
            raise _syntax(lx.line, f"expected a setting name, found {lx.peek()!r}")
        key = m.group(0)
        lx.pos = m.end()
        lx.skip(newlines=False)
        if lx.peek() != "=":
            raise _syntax(lx.line, f"expected '=' after '{key}'")
        lx.pos += 1
        lx.skip(newlines=False)
        value = lx.value()
        lx.skip(newlines=False)
        if lx.peek() == ";":
            lx.pos += 1
            lx.skip(newlines=False)
        if lx.peek() not in ("\n", ""):
            raise _syntax(lx.line, f"unexpected {lx.peek()!r} after the value of '{key}'")
        out.pop(key, None)
        out[key] = value


def _quote(s: str) -> str:
    if "\n" in s:
        raise VirtError(ErrorCode.CONFIG_UNSUPPORTED,
                        f"xl.cfg cannot hold a newline in a value: {s!r}", ErrorDomain.XENXL)
    if '"' not in s:
        return f'"{s}"'
    if "'" not in s:
        return f"'{s}'"
    return '"' + s.replace("\\", "\\\\").replace('"', '\\"') + '"'


def format_value(v: Value) -> str:
    """One value as xl.cfg writes it."""
    if isinstance(v, bool):
        return "1" if v else "0"
    if isinstance(v, int):
        return str(v)
    if isinstance(v, str):
        return _quote(v)
    return "[ " + ", ".join(format_value(x) for x in v) + " ]" if v else "[ ]"


def format_config(settings: dict[str, Value]) -> str:
    """An xl.cfg file holding ``settings`` in order, one per line."""
    for key in settings:
        if not _KEY.fullmatch(key):
            raise VirtError(ErrorCode.CONFIG_UNSUPPORTED, f"'{key}' is not an xl.cfg key",
                            ErrorDomain.XENXL)
    return "".join(f"{k} = {format_value(v)}\n" for k, v in settings.items())

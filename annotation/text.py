"""Text hygiene at the service boundary: one walk over any JSON-like value that users send.

Every write path runs its input through `clean` before validating it, so every stored text has `\\n` newlines,
and nothing that one database stores but another refuses (NUL bytes), that cannot be encoded as UTF-8 (unpaired
surrogates) or that JSON cannot carry (NaN, Infinity) reaches the database and breaks later reads.
"""

import json
import math
import re
from typing import Any

import orjson

from annotation.errors import InvalidInput

MAX_DEPTH = 32
# The largest integer every JSON reader (JavaScript included) holds exactly.
MAX_INTEGER = 2**53
MAX_NUMBER_CHARS = 100

_REFUSED = re.compile("[\x00\ud800-\udfff]")
_NEWLINES = re.compile("\r\n?")


def _path(field: str, key) -> str:
    if isinstance(key, int):
        return f"{field}[{key}]"
    return f"{field}.{key}" if field else str(key)


def _refuse(field: str, problem: str) -> None:
    raise InvalidInput(f"{field or 'The input'} {problem}.", field=field or None)


def clean_text(text: str, field: str = "") -> str:
    """`text` with `\\r\\n` and `\\r` made `\\n`; InvalidInput naming `field` if it holds NUL or a lone surrogate."""
    if refused := _REFUSED.search(text):
        char = refused.group()
        what = "a NUL character" if char == "\x00" else f"an unpaired surrogate (U+{ord(char):04X})"
        _refuse(field, f"contains {what} at position {refused.start()}")
    return _NEWLINES.sub("\n", text) if "\r" in text else text


def replace_refused(text: str) -> str:
    """`text` with every character `clean_text` refuses made U+FFFD: for what a model wrote, which is shown as it
    came rather than refused."""
    return _REFUSED.sub("\ufffd", text)


def clean(value: Any, field: str = "", *, depth: int = 0) -> Any:
    """`value` with every string cleaned by `clean_text`; InvalidInput naming the field that holds a refused
    character, a non-finite or out-of-range number, or nesting deeper than MAX_DEPTH."""
    if isinstance(value, str):
        return clean_text(value, field)
    if isinstance(value, bool) or value is None:
        return value
    if isinstance(value, int):
        if abs(value) > MAX_INTEGER:
            _refuse(field, f"is a number out of range (at most {MAX_INTEGER} either side of zero)")
        return value
    if isinstance(value, float):
        if not math.isfinite(value):
            _refuse(field, "is not a finite number (NaN and Infinity are not JSON)")
        return value
    if isinstance(value, dict | list | tuple):
        if depth >= MAX_DEPTH:
            _refuse(field, f"is nested more than {MAX_DEPTH} levels deep")
        if isinstance(value, dict):
            for key in value:
                if isinstance(key, str):
                    clean_text(key, field)
            return {key: clean(item, _path(field, key), depth=depth + 1) for key, item in value.items()}
        return [clean(item, _path(field, i), depth=depth + 1) for i, item in enumerate(value)]
    return value


def clean_fields(**values: Any) -> list[Any]:
    """Each keyword's value cleaned under its own name, in order: `a, b = clean_fields(a=a, b=b)`."""
    return [clean(value, name) for name, value in values.items()]


def _bounded_int(digits: str) -> int:
    if len(digits) > MAX_NUMBER_CHARS:
        raise InvalidInput(f"a number has {len(digits)} digits; the limit is {MAX_NUMBER_CHARS}")
    return int(digits)


# Digits become "0", brackets "[", everything else a space: one C pass that finds long numbers and counts nesting.
_SHAPE = bytes(c if c in b"0[" else ord(" ") for c in bytes.maketrans(b"0123456789{", b"0000000000["))
# The shortest run of digits that can be an integer over MAX_INTEGER (2**53 has 16 digits).
_LONG_NUMBER = b"0" * len(str(MAX_INTEGER))


def _is_plain(document: str | bytes) -> bool:
    """Whether `clean` is sure to return orjson's parse of `document` unchanged: no escape that can make a
    carriage return or NUL (orjson itself refuses raw control characters and lone surrogates), no number long enough
    to leave the exact range, and too few brackets to nest past MAX_DEPTH. A false "no" costs only speed."""
    raw = document.encode("utf-8", "surrogatepass") if isinstance(document, str) else document
    if b"\\" in raw and (b"\\r" in raw or b"\\u000" in raw):
        return False
    shape = raw.translate(_SHAPE)
    long_number = shape.count(b"0") >= len(_LONG_NUMBER) and _LONG_NUMBER in shape
    return not long_number and shape.count(b"[") <= MAX_DEPTH


def loads(document: str | bytes) -> Any:
    """Parse JSON and `clean` the result; raise InvalidInput (never RecursionError or a bare ValueError) on junk.
    Plain documents (nearly all) take orjson without the walk; anything else, and anything orjson refuses, takes
    the standard parser and `clean`, so the result and every message are the same either way. UTF-8 bytes give
    what their text gives."""
    if _is_plain(document):
        try:
            return orjson.loads(document)
        except orjson.JSONDecodeError:
            pass
    if isinstance(document, bytes):
        try:
            document = document.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise InvalidInput(f"not UTF-8 (byte {exc.start})") from None
    try:
        value = json.loads(document, parse_int=_bounded_int, parse_constant=float)
    except RecursionError:
        raise InvalidInput(f"JSON nested more than {MAX_DEPTH} levels deep") from None
    except json.JSONDecodeError as exc:
        where = f"column {exc.colno}" if exc.lineno == 1 else f"line {exc.lineno} column {exc.colno}"
        raise InvalidInput(f"invalid JSON: {exc.msg.removesuffix(' at')} at {where}") from None
    return clean(value)


def _decode_stored(raw: bytes) -> str:
    return raw.decode("utf-8", "surrogatepass")


def sqlite_reads_stored_surrogates(sender, connection, **kwargs) -> None:
    """SQLite stored lone surrogates before text hygiene refused them, and hands them back (from JSON lookups) as
    bytes that strict UTF-8 refuses, a 500 on every read that touches one: decode them back to the same text."""
    if connection.vendor == "sqlite":
        connection.connection.text_factory = _decode_stored

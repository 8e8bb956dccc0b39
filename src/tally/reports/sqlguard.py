"""A `sql` report's query: one read-only SELECT, checked before it is saved and run.

The check is a lexer, not a parser: it finds the statements and the first keyword outside
strings, quoted names and comments. The store then runs the query with ClickHouse's
`readonly` setting, so a statement this check let through still cannot write.
"""

from __future__ import annotations

import re

from tally.errors import ValidationFailed

MAX_QUERY_CHARS = 20_000
_TOKEN = re.compile(
    r"""'(?:[^'\\]|\\.|'')*'|"(?:[^"\\]|\\.|"")*"|`(?:[^`\\]|\\.)*`|--[^\n]*|\#[^\n]*|/\*.*?\*/|;""",
    re.S,
)
_FIRST_WORD = re.compile(r"\s*\(*\s*([A-Za-z]+)")
_SETTINGS = re.compile(r"\bSETTINGS\b|\bINTO\s+OUTFILE\b|\bFORMAT\b", re.I)


def _code(query: str) -> tuple[str, int]:
    """The query with strings, names and comments blanked, and its count of `;`."""
    parts, last, semicolons = [], 0, 0
    for match in _TOKEN.finditer(query):
        parts.append(query[last : match.start()])
        token = match.group(0)
        if token == ";":  # noqa: S105 - a lexer's token, not a password
            semicolons += 1
            parts.append(";")
        elif token[0] in "'\"`":
            parts.append("''")  # a value or a name: not code
        else:
            parts.append(" ")
        last = match.end()
    parts.append(query[last:])
    return "".join(parts), semicolons


def check_select(query: str, field: str = "source.query") -> str:
    """The query without a trailing `;`; ValidationFailed unless it is one SELECT."""
    if len(query) > MAX_QUERY_CHARS:
        raise ValidationFailed(field, "too_long", f"at most {MAX_QUERY_CHARS} characters")
    code, semicolons = _code(query)
    stripped = code.strip()
    if stripped.endswith(";"):
        semicolons -= 1
        stripped = stripped[:-1]
    if semicolons > 0:
        raise ValidationFailed(field, "several_statements", "one SELECT statement only")
    word = _FIRST_WORD.match(stripped)
    if word is None or word.group(1).upper() not in ("SELECT", "WITH"):
        raise ValidationFailed(field, "not_select", "the query must be a SELECT (or WITH … SELECT)")
    if _SETTINGS.search(stripped):
        # Tally sets the limits and the output format; the query may not override them.
        raise ValidationFailed(
            field, "not_allowed", "SETTINGS, FORMAT and INTO OUTFILE are set by Tally"
        )
    text = query.rstrip()
    return text[:-1].rstrip() if text.endswith(";") else text

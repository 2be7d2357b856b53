"""Take the SQL query out of a model's reply.

Order of preference (`extract_sql`):
1. the first fenced block tagged sql/sqlite (```sql ... ```), else the first untagged fenced block
   whose text starts with SELECT or WITH;
2. the first inline code span (`SELECT ...`) that starts with SELECT or WITH;
3. the first SELECT/WITH in running text whose statement parses and that starts a line or reads a
   table (FROM), so "I will select the rows" is not taken for a query.
A `<think>...</think>` part is skipped. Code (1, 2) ends at its first `;` outside quotes and comments
and is kept as written otherwise (a cut-off query stays broken and is scored as such). Running text
(3) also ends at a blank line or a sentence-ending full stop, and trailing prose is cut by dropping
lines, then words, from the end until sqlglot parses what is left. A trailing semicolon is never
kept. The empty string means no query was found.
"""

from __future__ import annotations

import re

import sqlglot

from ragtune.sql.parsing import PARSE_ERRORS

_FENCE = re.compile(r"```[ \t]*([A-Za-z0-9_+-]*)[^\n]*\n(.*?)(?:```|\Z)", re.DOTALL)
_INLINE = re.compile(r"(?<!`)`([^`\n]+)`(?!`)")
_START = re.compile(r"\b(SELECT|WITH)\b", re.IGNORECASE)
_THINK = re.compile(r"<think>.*?(</think>|\Z)", re.DOTALL | re.IGNORECASE)
_SQL_TAGS = {"sql", "sqlite", "sqlite3", "postgresql", "mysql", "tsql", "plsql"}


def extract_sql(reply: str) -> str:
    """The SQL query in a model reply (see the module docstring), or "" when there is none."""
    if not reply:
        return ""
    text = _THINK.sub("", reply)
    fenced = _fenced(text)
    if fenced is not None:
        return _code_statement(fenced)
    for match in _INLINE.finditer(text):
        code = match.group(1).strip()
        if _START.match(code):
            return _code_statement(code)
    for match in _START.finditer(text):
        at_line_start = not text[:match.start()].strip(" \t").rpartition("\n")[2].strip()
        statement = _prose_statement(text[match.start():])
        if statement and (at_line_start or _has_from(statement)):
            return statement
    return ""


def _code_statement(code: str) -> str:
    """The first statement of a code block or span: up to its first `;`, nothing else removed."""
    body = _strip_leading_comments(code)
    return body[:_statement_end(body, prose=False)].strip()


def _prose_statement(text: str) -> str:
    """The statement starting `text` with trailing prose cut, or "" when no prefix of it parses."""
    candidate = text[:_statement_end(text, prose=True)].strip()
    return _longest_parsing_prefix(candidate)


def _has_from(sql: str) -> bool:
    """Whether the query reads a table (a SELECT in running text without FROM is likely prose)."""
    try:
        return sqlglot.parse_one(sql, read="sqlite").find(sqlglot.exp.From) is not None
    except PARSE_ERRORS:
        return False


def _fenced(text: str) -> str | None:
    """The body of the first sql-tagged fence, else of the first untagged fence holding a query."""
    blocks = [(m.group(1).lower(), m.group(2)) for m in _FENCE.finditer(text)]
    for tag, body in blocks:
        if tag in _SQL_TAGS and body.strip():
            return body
    for tag, body in blocks:
        stripped = _strip_leading_comments(body)
        if not tag and _START.match(stripped):
            return stripped
    return None


def _strip_leading_comments(text: str) -> str:
    """Text without leading blank lines and `--` / `/* */` comments."""
    text = text.lstrip()
    while text.startswith(("--", "/*")):
        end = text.find("\n") if text.startswith("--") else text.find("*/")
        if end < 0:
            return ""
        text = text[end + (1 if text.startswith("--") else 2):].lstrip()
    return text


def _statement_end(text: str, prose: bool) -> int:
    """Index of the first `;` outside quotes/comments (with `prose`, also of a blank line or a
    sentence-ending full stop), or len(text)."""
    i, n = 0, len(text)
    while i < n:
        ch = text[i]
        if ch in "'\"`":
            j = text.find(ch, i + 1)
            i = n if j < 0 else j + 1
            continue
        if text.startswith("--", i):
            j = text.find("\n", i)
            i = n if j < 0 else j + 1
            continue
        if ch == ";":
            return i
        if prose and ch == "." and (i + 1 == n or (text[i + 1] in " \t\n" and text[i + 1:].lstrip()[:1].isupper())):
            return i  # a sentence ends: "... FROM singer. This lists ..."
        if prose and ch == "\n" and text[i + 1:].lstrip(" \t").startswith("\n"):
            return i
        i += 1
    return n


def _parses(sql: str) -> bool:
    try:
        tree = sqlglot.parse_one(sql, read="sqlite")
    except PARSE_ERRORS:
        return False
    return isinstance(tree, (sqlglot.exp.Query, sqlglot.exp.Subquery))


def _longest_parsing_prefix(candidate: str) -> str:
    """The longest prefix (whole lines first, then words of the last line) that parses as a query."""
    lines = candidate.splitlines()
    for end in range(len(lines), 0, -1):
        text = "\n".join(lines[:end]).strip()
        if _parses(text):
            return text
    words = lines[0].split() if lines else []
    for end in range(len(words), 0, -1):
        text = " ".join(words[:end]).rstrip(".,:")
        if _parses(text):
            return text
    return ""

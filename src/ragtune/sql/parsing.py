"""The errors sqlglot raises on text it cannot read, model-written SQL included.

Model-written SQL is hostile input: besides ParseError and TokenError, sqlglot raises ValueError on some
malformed literals and RecursionError on deeply nested expressions (`SELECT ((((...1...))))` a few thousand
levels deep, which small models do write when they loop). Every parse of text ragtune did not write catches
`PARSE_ERRORS`, so one such reply is an unparsed example, never a crashed run.
"""

from __future__ import annotations

import sqlglot

__all__ = ["PARSE_ERRORS"]

PARSE_ERRORS: tuple[type[BaseException], ...] = (sqlglot.errors.ParseError, sqlglot.errors.TokenError, ValueError,
                                                 RecursionError)

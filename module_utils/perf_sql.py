"""Just enough SQL reading to tell which columns a statement filters and sorts on, per table.

Used by the index-candidate check on pg_stat_statements' normalized texts ($1 for constants).
It is not a SQL parser: it finds the tables after FROM / JOIN / UPDATE (with aliases and schemas)
and the column references inside WHERE, JOIN ... ON and ORDER BY, and attributes each column to a
table of the same subquery (parentheses are scopes), which is what decides whether an index helps.
"""

from __future__ import annotations

import re

_TOKEN = re.compile(
    r"""
    (?P<comment>--[^\n]*|/\*.*?\*/)          # comments: skipped
    | (?P<dollar>\$(?P<tag>[A-Za-z_]*)\$.*?\$(?P=tag)\$)  # dollar-quoted string: skipped
    | (?P<quoted>"(?:[^"]|"")+")             # "camelCase" identifier
    | (?P<string>[EeNnBbXxUu]?&?'(?:[^'\\]|''|\\.)*')  # string literal (E'..\'..' too): skipped
    | (?P<param>\$\d+)                       # normalized constant
    | (?P<word>[A-Za-z_][A-Za-z0-9_$]*)      # keyword or bare identifier
    | (?P<number>\d+(?:\.\d+)?)
    | (?P<dot>\.)
    | (?P<comma>,)
    | (?P<open>\()
    | (?P<close>\))
    | (?P<other>\S)
    """,
    re.VERBOSE | re.DOTALL,
)

_CLAUSE_END = {
    "group",
    "having",
    "limit",
    "offset",
    "fetch",
    "for",
    "union",
    "intersect",
    "except",
    "returning",
    "window",
    "order",
    "where",
    "join",
    "inner",
    "left",
    "right",
    "full",
    "cross",
    "natural",
    "on",
    "using",
    "set",
    "values",
    "select",
    "from",
}
_NOT_ALIAS = _CLAUSE_END | {"as", "lateral", "only", "tablesample", "with"}
_NOT_COLUMN = {
    "and",
    "or",
    "not",
    "is",
    "null",
    "in",
    "any",
    "all",
    "some",
    "between",
    "like",
    "ilike",
    "similar",
    "to",
    "true",
    "false",
    "asc",
    "desc",
    "nulls",
    "first",
    "last",
    "case",
    "when",
    "then",
    "else",
    "end",
    "exists",
    "interval",
    "current_date",
    "current_timestamp",
    "now",
    "select",
    "from",
    "distinct",
    "by",
    "collate",
    "coalesce",
    "lower",
    "upper",
    "cast",
    "as",
    "escape",
    "date",
    "timestamp",
    "timestamptz",
    "text",
    "int",
    "integer",
    "bigint",
    "numeric",
    "varchar",
    "boolean",
    "array",
    "row",
    "at",
    "time",
    "zone",
}


def tokenize(statement):
    """(kind, value, scope) triples. Quoted identifiers keep their case, bare words are folded as PostgreSQL
    does; comments and string literals are dropped. ``scope`` is the index of the innermost open parenthesis
    (-1 at the top), so a subquery's tables and columns share a scope; ``parents`` maps a scope to the
    scope around it."""
    tokens, parents, stack = [], {-1: None}, [-1]
    for match in _TOKEN.finditer(statement or ""):
        kind = match.lastgroup
        text = match.group(kind)
        if kind in ("comment", "dollar", "string"):
            continue
        if kind == "close":
            if len(stack) > 1:
                stack.pop()
            continue
        if kind == "open":
            scope = len(tokens)
            parents[scope] = stack[-1]
            tokens.append(("open", text, stack[-1]))
            stack.append(scope)
            continue
        if kind == "quoted":
            tokens.append(("ident", text[1:-1].replace('""', '"'), stack[-1]))
        elif kind == "word":
            tokens.append(("word", text.lower(), stack[-1]))
        else:
            tokens.append((kind, text, stack[-1]))
    return tokens, parents


def _is_name(token):
    return token[0] in ("ident", "word")


def _read_qualified_name(tokens, index):
    """[schema.]table at index -> ((schema or None, table), next index)."""
    parts = [tokens[index][1]]
    index += 1
    while index + 1 < len(tokens) and tokens[index][0] == "dot" and _is_name(tokens[index + 1]):
        parts.append(tokens[index + 1][1])
        index += 2
    schema = parts[-2] if len(parts) > 1 else None
    return (schema, parts[-1]), index


def _table_refs(tokens):
    """[(alias or table name, (schema, table), scope)] for every table after FROM / JOIN / UPDATE,
    comma-separated FROM lists included. INSERT targets are not filtered, so they are not read."""
    refs = []
    index = 0
    while index < len(tokens):
        kind, value, _ = tokens[index]
        starts = kind == "word" and value in ("from", "join", "update")
        if starts or (kind == "comma" and _in_from(tokens, index)):
            index = _read_table_ref(tokens, index + 1, refs)
            continue
        index += 1
    return refs


def _in_from(tokens, index):
    """True when a comma at index separates tables of a FROM list of its own scope."""
    scope = tokens[index][2]
    for back in range(index - 1, -1, -1):
        kind, value, token_scope = tokens[back]
        if token_scope != scope:
            continue
        if kind == "word" and value in ("from", "select", "where", "by", "set", "values", "on"):
            return value == "from"
    return False


def _read_table_ref(tokens, index, refs):
    while index < len(tokens) and tokens[index][:2] == ("word", "only"):
        index += 1
    if index >= len(tokens) or not _is_name(tokens[index]) or tokens[index][1] in ("select", "lateral"):
        return index
    scope = tokens[index][2]
    name, index = _read_qualified_name(tokens, index)
    alias = name[1]
    if index < len(tokens) and tokens[index][:2] == ("word", "as"):
        index += 1
    if index < len(tokens) and _is_name(tokens[index]) and tokens[index][1] not in _NOT_ALIAS:
        alias = tokens[index][1]
        index += 1
    refs.append((alias, name, scope))
    return index


def referenced_tables(statement):
    """{alias_or_name: table} for every table the statement reads (any scope)."""
    tokens, _ = tokenize(statement)
    tables = {}
    for alias, (_, table), _ in _table_refs(tokens):
        tables[table] = table
        tables[alias] = table
    return tables


def _clause_spans(tokens):
    """Yield (clause, start, end) for WHERE, ON and ORDER BY regions, each ending at the next clause word
    of its own scope (a subquery inside is part of the region; its tokens carry their own scope)."""
    index = 0
    while index < len(tokens):
        kind, value, scope = tokens[index]
        clause = None
        if kind == "word" and value in ("where", "on"):
            clause, start = ("filter", index + 1)
        elif (
            kind == "word"
            and value == "order"
            and index + 1 < len(tokens)
            and tokens[index + 1][:2]
            == (
                "word",
                "by",
            )
        ):
            clause, start = ("sort", index + 2)
        if clause is None:
            index += 1
            continue
        end = start
        while end < len(tokens):
            end_kind, end_value, end_scope = tokens[end]
            if end_scope == scope and end_kind == "word" and end_value in _CLAUSE_END:
                break
            if end_scope != scope and not _inside(end_scope, scope, tokens):
                break
            end += 1
        yield clause, scope, start, end
        index = start


def _inside(scope, outer, tokens):
    """True when ``scope`` is ``outer`` or nested in it (scopes are indexes of open parentheses)."""
    while scope is not None and scope != -1:
        if scope == outer:
            return True
        scope = tokens[scope][2]
    return outer == -1


def column_references(statement):
    """[(qualifier or None, column, clause, descending, scope)] for columns used to filter or sort."""
    tokens, _ = tokenize(statement)
    return _column_references(tokens)


def _column_references(tokens):
    references = []
    for clause, clause_scope, start, end in _clause_spans(tokens):
        index = start
        while index < end:
            token = tokens[index]
            following = tokens[index + 1] if index + 1 < end else None
            if token[2] != clause_scope and _has_own_tables(tokens, token[2]):
                index += 1  # a subquery's own columns are read when its own WHERE is reached
                continue
            if not _is_name(token) or (token[0] == "word" and token[1] in _NOT_COLUMN):
                index += 1
                continue
            if following and following[0] == "open":  # a function name, not a column
                index += 1
                continue
            qualifier, column = None, token[1]
            if following and following[0] == "dot" and index + 2 < end and _is_name(tokens[index + 2]):
                qualifier, column = token[1], tokens[index + 2][1]
                index += 2
            descending = clause == "sort" and index + 1 < end and tokens[index + 1][:2] == ("word", "desc")
            references.append((qualifier, column, clause, descending, clause_scope))
            index += 1
    return references


def _has_own_tables(tokens, scope):
    return any(kind == "word" and value == "from" and token_scope == scope for kind, value, token_scope in tokens)


def _tables_in_scope(refs, scope, tokens):
    """Tables a column of ``scope`` may belong to: those of its own scope, else of the nearest scope around it
    that has tables (a correlated subquery, or parentheses that are not a subquery)."""
    while True:
        here = [ref for ref in refs if ref[2] == scope]
        if here or scope == -1:
            return here
        scope = tokens[scope][2]


def columns_used_on(statement, table, table_columns, schema=None):
    """The columns of ``table`` that ``statement`` filters or sorts on: {column: {"filter": bool, "sort": bool,
    "descending": bool}}. ``table_columns`` is the table's real column list, so words that merely look like
    identifiers are ignored; a column is attributed to a table of its own subquery only, and a table
    qualified with another schema than ``schema`` is another table."""
    tokens, _ = tokenize(statement)
    refs = [ref for ref in _table_refs(tokens) if ref[1][0] in (None, schema) or schema is None]
    found = {}
    for qualifier, column, clause, descending, scope in _column_references(tokens):
        if column not in table_columns:
            continue
        candidates = _tables_in_scope(refs, scope, tokens)
        if qualifier is not None:
            candidates = [ref for ref in refs if ref[0] == qualifier]
        if not any(ref[1][1] == table for ref in candidates):
            continue
        # Unqualified in a join of several tables: PostgreSQL requires it to be unambiguous, so it is ours
        # when this table has it (the caller passes this table's real columns).
        usage = found.setdefault(column, {"filter": False, "sort": False, "descending": False})
        usage["filter"] |= clause == "filter"
        usage["sort"] |= clause == "sort"
        usage["descending"] |= descending
    return found

"""Just enough SQL reading to tell which columns a statement filters and sorts on.

Used by the index-candidate check on pg_stat_statements' normalized texts ($1 for constants).
It is not a SQL parser: it finds the tables after FROM / JOIN (with their aliases) and the column
references inside WHERE, JOIN ... ON and ORDER BY, which is what decides whether an index helps.
"""

from __future__ import annotations

import re

_TOKEN = re.compile(
    r"""
    (?P<quoted>"(?:[^"]|"")+")           # "camelCase" identifier
    | (?P<string>'(?:[^']|'')*')         # string literal: skipped
    | (?P<param>\$\d+)                   # normalized constant
    | (?P<word>[A-Za-z_][A-Za-z0-9_$]*)  # keyword or bare identifier
    | (?P<number>\d+(?:\.\d+)?)
    | (?P<dot>\.)
    | (?P<comma>,)
    | (?P<open>\()
    | (?P<close>\))
    | (?P<other>\S)
    """,
    re.VERBOSE,
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
}
_NOT_ALIAS = _CLAUSE_END | {"as", "lateral", "only", "tablesample", "with", "select", "from"}
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
    """(kind, value) pairs; quoted identifiers keep their case, bare words are folded as PostgreSQL does."""
    tokens = []
    for match in _TOKEN.finditer(statement or ""):
        kind = match.lastgroup
        text = match.group(kind)
        if kind == "quoted":
            tokens.append(("ident", text[1:-1].replace('""', '"')))
        elif kind == "word":
            tokens.append(("word", text.lower()))
        elif kind != "string":
            tokens.append((kind, text))
    return tokens


def _is_name(token):
    return token[0] in ("ident", "word")


def _read_qualified_name(tokens, index):
    """schema.table or table starting at index -> (name, next index)."""
    name = tokens[index][1]
    index += 1
    while index + 1 < len(tokens) and tokens[index][0] == "dot" and _is_name(tokens[index + 1]):
        name = tokens[index + 1][1]
        index += 2
    return name, index


def referenced_tables(statement):
    """{alias_or_name: table} for every table after FROM / JOIN (including comma-separated lists)."""
    tokens = tokenize(statement)
    tables = {}
    index = 0
    while index < len(tokens):
        kind, value = tokens[index]
        starts_table = kind == "word" and value in ("from", "join", "update", "into")
        if starts_table or (kind == "comma" and _in_from(tokens, index)):
            index = _read_table_ref(tokens, index + 1, tables)
            continue
        index += 1
    return tables


def _in_from(tokens, index):
    """True when a comma at index separates tables of a FROM list (nearest clause keyword is FROM)."""
    depth = 0
    for back in range(index - 1, -1, -1):
        kind, value = tokens[back]
        if kind == "close":
            depth += 1
        elif kind == "open":
            if depth == 0:
                return False
            depth -= 1
        elif depth == 0 and kind == "word" and value in ("from", "select", "where", "by", "set", "values"):
            return value == "from"
    return False


def _read_table_ref(tokens, index, tables):
    if index >= len(tokens) or not _is_name(tokens[index]) or tokens[index][1] in ("select", "lateral"):
        return index
    table, index = _read_qualified_name(tokens, index)
    tables[table] = table
    if index < len(tokens) and tokens[index] == ("word", "as"):
        index += 1
    if index < len(tokens) and _is_name(tokens[index]) and tokens[index][1] not in _NOT_ALIAS:
        tables[tokens[index][1]] = table
        index += 1
    return index


def _clause_spans(tokens):
    """Yield (clause, start, end) for WHERE, ON and ORDER BY regions at any nesting level."""
    index = 0
    while index < len(tokens):
        kind, value = tokens[index]
        clause = None
        if kind == "word" and value in ("where", "on"):
            clause, start = ("filter", index + 1)
        elif kind == "word" and value == "order" and index + 1 < len(tokens) and tokens[index + 1] == ("word", "by"):
            clause, start = ("sort", index + 2)
        if clause is None:
            index += 1
            continue
        end = start
        while end < len(tokens) and not (tokens[end][0] == "word" and tokens[end][1] in _CLAUSE_END):
            end += 1
        yield clause, start, end
        index = end


def column_references(statement):
    """[(qualifier or None, column, clause, descending)] for columns used to filter or sort."""
    tokens = tokenize(statement)
    references = []
    for clause, start, end in _clause_spans(tokens):
        index = start
        while index < end:
            token = tokens[index]
            following = tokens[index + 1] if index + 1 < end else None
            if not _is_name(token) or token[1] in _NOT_COLUMN and token[0] == "word":
                index += 1
                continue
            if following and following[0] == "open":  # a function name, not a column
                index += 1
                continue
            qualifier, column = None, token[1]
            if following and following[0] == "dot" and index + 2 < end and _is_name(tokens[index + 2]):
                qualifier, column = token[1], tokens[index + 2][1]
                index += 2
            descending = clause == "sort" and index + 1 < end and tokens[index + 1] == ("word", "desc")
            references.append((qualifier, column, clause, descending))
            index += 1
    return references


def columns_used_on(statement, table, table_columns):
    """The columns of ``table`` that ``statement`` filters or sorts on: {column: {"filter": bool, "sort": bool,
    "descending": bool}}. ``table_columns`` is the table's real column list, so words that merely look like
    identifiers are ignored, and a column of another table in a join is not attributed to this one."""
    tables = referenced_tables(statement)
    if table not in tables.values():
        return {}
    # An unqualified column in a join is unambiguous (PostgreSQL refuses it otherwise), so a column
    # that exists in this table and is not qualified by another table's alias is this table's.
    aliases = {alias for alias, name in tables.items() if name == table}
    found = {}
    for qualifier, column, clause, descending in column_references(statement):
        if column not in table_columns:
            continue
        if qualifier is not None and qualifier not in aliases:
            continue
        usage = found.setdefault(column, {"filter": False, "sort": False, "descending": False})
        usage["filter"] |= clause == "filter"
        usage["sort"] |= clause == "sort"
        usage["descending"] |= descending
    return found

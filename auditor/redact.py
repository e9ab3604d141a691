"""Credentials out of every text auditor shows: one masking rule for messages, logs, reports and evidence.

:func:`mask_credentials` replaces with ``***``

* the password of every URL in the text, whatever its scheme
  (``postgresql://user:***@host/db``), percent-encoded or written raw, even
  when it holds ``@``, ``:``, ``/``, ``?`` or ``#``;
* the value of every ``password=`` / ``passwd=`` / ``pwd=`` keyword (libpq
  conninfo, URL query strings, ``PGPASSWORD=``, ``MYSQL_PWD=``), quoted or not;
* the passwords of the ``known`` URLs wherever they appear, as written and
  percent-decoded (a library may echo a password outside of any URL).

It errs on the side of hiding: the user info of a URL runs to its last
``@``, so a URL whose path or query holds an ``@`` (after a ``user:`` or a
``host:port``) loses its host in the shown text, never a password.

>>> mask_credentials("cannot open postgresql://app:s3cr/t@db.example/audit and sftp://u:p%40ss@backup:22/repo")
'cannot open postgresql://app:***@db.example/audit and sftp://u:***@backup:22/repo'
>>> mask_credentials("invalid connection option in: host=db port=5432 password='pa ss' user=app")
'invalid connection option in: host=db port=5432 password=*** user=app'
"""

from __future__ import annotations

import re
import urllib.parse
from typing import Any, Iterable

MASK = "***"

_SCHEME = re.compile(r"[A-Za-z][A-Za-z0-9+.-]*://")
_URL_END = re.compile(r"[\s\"'<>`]")  # a URL in a message ends at white space or a quote
_KEYWORD = re.compile(
    r"(?i)(?<![A-Za-z0-9])((?:[A-Za-z0-9]+_)?(?:pg|ssl)?(?:password|passwd|pwd))(\s*=\s*)('(?:[^'\\]|\\.)*'?|\"(?:[^\"\\]|\\.)*\"?|[^\s&#;,'\"]+)"
)
_SPLITS = "/?#@:&="
MIN_PIECE = 4  # shorter pieces of a password are not masked on their own (they would blank out ordinary words)
_MAYBE = re.compile(r"(?i)://|(?:passw(?:or)?d|pwd)\s*=")  # cheap test: the URL and keyword rules below need one of these


def mask_credentials(text: str, known: Iterable[str] = ()) -> str:
    """``text`` with every credential it carries replaced by ``***`` (see the module's docstring)."""
    secrets = [s for location in known for s in url_passwords(location)]
    for secret in secrets:
        text = text.replace(secret, MASK)
    if not _MAYBE.search(text):
        return text
    return _KEYWORD.sub(lambda m: m.group(1) + m.group(2) + MASK, _mask_urls(text))


def mask_in_place(value: Any) -> Any:
    """A JSON document (dicts, lists, strings) the caller owns, with :func:`mask_credentials`
    applied to every string in it, keys included: strings are replaced where they stand,
    so a fleet-sized run document is not copied a second time. Returns ``value``."""
    stack = [value]
    while stack:
        node = stack.pop()
        if type(node) is dict:
            if any(type(k) is str and _MAYBE.search(k) for k in node):
                items = [(mask_credentials(k) if type(k) is str else k, v) for k, v in node.items()]
                node.clear()
                node.update(items)
            pairs: Any = node.items()
        elif type(node) is list:
            pairs = enumerate(node)
        else:
            continue
        for key, item in list(pairs):
            kind = type(item)
            if kind is str:
                if _MAYBE.search(item):
                    node[key] = mask_credentials(item)
            elif kind is dict or kind is list:
                stack.append(item)
    return value


def url_passwords(location: str) -> list[str]:
    """Every password a URL carries (user info and ``password=``), as written and percent-decoded, longest first."""
    found: list[str] = []
    m = _SCHEME.match(location)
    if m:
        userinfo = _userinfo(location[m.end():])
        if userinfo is not None and ":" in userinfo:
            found.append(userinfo.split(":", 1)[1])
    found += [k.group(3).strip("'\"") for k in _KEYWORD.finditer(location)]
    found += [urllib.parse.unquote(p) for p in found]
    # libpq may split a raw password at its / ? # @ : and echo a piece of it (as a port, a database name)
    found += [piece for p in found for sep in _SPLITS for piece in p.split(sep) if len(piece) >= MIN_PIECE]
    return sorted({p for p in found if p and p != MASK}, key=len, reverse=True)


def _mask_urls(text: str) -> str:
    out: list[str] = []
    pos = 0
    for m in _SCHEME.finditer(text):
        if m.start() < pos:  # inside a URL already handled
            continue
        end = _URL_END.search(text, m.end())
        stop = end.start() if end else len(text)
        nested = _SCHEME.search(text, m.end(), stop)  # a second URL glued to the first (a query value)
        if nested:
            stop = nested.start()
        rest = text[m.end():stop]
        userinfo = _userinfo(rest)
        out.append(text[pos:m.end()])
        if userinfo is not None and ":" in userinfo:
            out.append(userinfo.split(":", 1)[0] + ":" + MASK + rest[len(userinfo):])
        else:
            out.append(rest)
        pos = stop
    out.append(text[pos:])
    return "".join(out)


def _userinfo(rest: str) -> str | None:
    """The user info of what follows ``scheme://`` (None without an ``@``): up to its last ``@``.

    A password may hold a raw ``@``, ``/``, ``?`` or ``#`` (libpq then reads
    part of it as a host, a port or a database), so the first ``/`` cannot
    be trusted to end it; an ``@`` in a path or a query hides the host too.
    """
    at = rest.rfind("@")
    return rest[:at] if at >= 0 else None

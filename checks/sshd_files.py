"""sshd's settings read from its configuration files (a server audited through ``root_dir``).

``sshd -T`` judges the sshd of the machine the commands run on; an image or
a container root has no running sshd of its own, and ``sshd -T -f FILE``
would resolve ``Include`` paths (always absolute) on this machine. So under
``root_dir`` the files are read and parsed here, every path inside root_dir,
as OpenSSH's servconf.c reads them:

* a line is ``Keyword value...`` or ``Keyword=value``; ``#`` starts a
  comment (a whole line, or after a blank outside double quotes);
* for most keywords the first value obtained is used; a few accumulate
  (``ListenAddress``, ``HostKey``, ``AcceptEnv``...);
* ``Include`` takes paths and glob(3) patterns (relative ones are under
  /etc/ssh), expanded in lexical order; a pattern matching nothing is no
  error (sshd ignores it, and so do we, but it is recorded); the included
  lines are read where the Include stands, in the Match block in force
  there, and a Match block opened in an included file ends with that file;
* ``ChallengeResponseAuthentication`` is ``KbdInteractiveAuthentication``
  (an alias since OpenSSH 8.7);
* ``Match`` blocks: which connections they apply to is not known here, so
  every Match block's settings are kept apart (``match``) and the controls
  judge them as well as the global value (conservatively: any block that
  could apply counts).

The result maps lower-case keywords to values as ``sshd -T`` prints them
(the global settings only), plus the key ``#config`` (no keyword starts with
``#``) describing where each came from. Keywords the files do not set are
absent: sshd's defaults depend on its version, which is not run; the
controls say which default they assume, if any.

>>> parsed = parse_sshd_files("/etc/ssh/sshd_config", "PermitRootLogin no\\npermitrootlogin yes\\nMatch User bob\\n  PermitRootLogin=yes\\n", lambda p: [], lambda p: None)
>>> parsed["permitrootlogin"], parsed["#config"]["match"][0]["settings"]
(['no'], {'permitrootlogin': ['yes']})
"""

from __future__ import annotations

import posixpath
import re
from typing import Any, Callable

from auditor.errors import CollectError
from auditor.model import Reason

META = "#config"
SSH_DIR = "/etc/ssh"
MAX_DEPTH = 16  # servconf.c's limit on nested Include
MAX_FILES = 256
ACCUMULATE = frozenset({"listenaddress", "port", "hostkey", "hostcertificate", "acceptenv", "setenv", "allowusers", "denyusers", "allowgroups", "denygroups", "subsystem"})
ALIASES = {"challengeresponseauthentication": "kbdinteractiveauthentication", "dsaauthentication": "pubkeyauthentication"}
_GLOB = re.compile(r"[*?\[]")
_KEYWORD = re.compile(r"^[A-Za-z][A-Za-z0-9]*$")


def split_line(line: str, where: str) -> tuple[str, list[str]] | None:
    """One configuration line → (lower-case keyword, arguments), or None for a blank or comment line."""
    text = line.strip()
    if not text or text.startswith("#"):
        return None
    m = re.match(r"([^\s=]+)\s*(?:=\s*|\s+|$)", text)
    if m is None or not _KEYWORD.match(m.group(1)):
        raise CollectError(Reason.PARSE_ERROR, f"{where}: not a configuration line: {text[:80]!r}")
    keyword, rest = m.group(1).lower(), text[m.end():]
    args: list[str] = []
    i = 0
    while i < len(rest):
        c = rest[i]
        if c in " \t":
            i += 1
        elif c == "#":
            break  # a comment to the end of the line
        elif c == '"':
            end = rest.find('"', i + 1)
            if end < 0:
                raise CollectError(Reason.PARSE_ERROR, f"{where}: unbalanced quote in {text[:80]!r}")
            args.append(rest[i + 1 : end])
            i = end + 1
        else:
            j = i
            while j < len(rest) and rest[j] not in " \t":
                j += 1
            args.append(rest[i:j])
            i = j
    if not args:
        raise CollectError(Reason.PARSE_ERROR, f"{where}: {m.group(1)} has no value")
    return ALIASES.get(keyword, keyword), args


def include_path(token: str) -> str:
    """An Include argument as sshd resolves it: relative paths are under /etc/ssh."""
    return posixpath.normpath(token if token.startswith("/") else posixpath.join(SSH_DIR, token))


def has_glob(path: str) -> bool:
    return bool(_GLOB.search(path))


def glob_matches(pattern: str, names: list[str]) -> list[str]:
    """The names in one folder that glob(3) matches with ``pattern`` (a name pattern), sorted; a leading dot is matched only literally."""
    import fnmatch

    out = [n for n in names if fnmatch.fnmatchcase(n, pattern) and (not n.startswith(".") or pattern.startswith("."))]
    return sorted(out)


def parse_sshd_files(
    main: str,
    text: str,
    expand: Callable[[str], list[str]],
    read: Callable[[str], str | None],
    root: str = "",
) -> dict[str, Any]:
    """The main file's ``text`` and every file it includes → keyword map plus ``#config``.

    ``root`` is the server's root_dir (``main`` is already under it): an
    Include path is resolved as sshd would, then put under ``root`` (``..``
    cannot leave it). ``expand(pattern)`` gives the existing files such a
    pattern (perhaps with glob characters) names, in the order sshd reads
    them; ``read(path)`` a file's text (None if it vanished).
    """
    settings: dict[str, list[str]] = {}
    where: dict[str, str] = {}
    blocks: list[dict[str, Any]] = []
    files: list[str] = []
    unmatched: list[dict[str, str]] = []

    def visit(path: str, body: str, depth: int, block: dict[str, Any] | None) -> None:
        if len(files) >= MAX_FILES:
            raise CollectError(Reason.PARSE_ERROR, f"more than {MAX_FILES} sshd configuration files included; stopped at {path}")
        files.append(path)
        current = block  # a Match opened in this file ends with it
        for number, line in enumerate(body.splitlines(), 1):
            here = f"{path}:{number}"
            split = split_line(line, here)
            if split is None:
                continue
            keyword, args = split
            if keyword == "match":
                current = {"criteria": " ".join(args), "where": here, "settings": {}, "set_at": {}}
                blocks.append(current)
                continue
            if keyword == "include":
                if depth + 1 > MAX_DEPTH:
                    raise CollectError(Reason.PARSE_ERROR, f"{here}: Include nested deeper than {MAX_DEPTH} levels (sshd refuses this configuration)")
                for token in args:
                    pattern = root + include_path(token)
                    found = expand(pattern)
                    if not found:
                        unmatched.append({"include": token, "where": here})
                    for included in found:
                        content = read(included)
                        if content is None:
                            unmatched.append({"include": included, "where": here})
                            continue
                        visit(included, content, depth + 1, current)
                continue
            value = " ".join(args)
            target, at = (settings, where) if current is None else (current["settings"], current["set_at"])
            if keyword in ACCUMULATE:
                target.setdefault(keyword, []).append(value)
                at.setdefault(keyword, here)
            elif keyword not in target:  # the first value obtained is used
                target[keyword] = [value]
                at[keyword] = here

    visit(main, text, 0, None)
    meta = {
        "source": "files",
        "root_dir": root,
        "files": files,
        "where": where,
        "match": [{"criteria": b["criteria"], "where": b["where"], "settings": b["settings"], "set_at": b["set_at"]} for b in blocks],
        "unmatched_includes": unmatched,
    }
    return {**settings, META: meta}

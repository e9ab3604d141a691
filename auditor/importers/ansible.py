"""``auditor import ansible PATH``: an Ansible inventory (INI or YAML, a file or a folder) as servers.

Read here, without Ansible: the rules follow ansible-core's own ``ini`` and
``yaml`` inventory plugins and its ``host_group_vars`` vars plugin, and the
tests compare the result with ``ansible-inventory --list`` on the same files.

* **Sources.** A file (``.yml``/``.yaml``/``.json``: YAML syntax, anything
  else: INI syntax) or a folder, whose files are read in name order
  (hidden files, backups and ``group_vars``/``host_vars`` skipped). Host
  patterns ``web[01:03].example.se`` and ``host:port`` are expanded as
  Ansible does. An executable inventory script is never run (a note).
* **Variables.** Per host, with Ansible's precedence: the inventory's group
  variables (``all``, then each group by depth, ``ansible_group_priority``
  and name), ``group_vars/all``, ``group_vars/<group>`` in the same order,
  the inventory's host variables, ``host_vars/<host>``; ``group_vars`` and
  ``host_vars`` are read beside the inventory file (or inside the folder).
* **Connection variables → server keys.** ``ansible_host`` → ``host``
  (default: the inventory name), ``ansible_port`` → ``port``,
  ``ansible_user`` → ``user``, ``ansible_ssh_private_key_file`` →
  ``key_file``, ``-J``/``ProxyJump``/``ProxyCommand ssh -W`` in
  ``ansible_ssh_common_args``/``ansible_ssh_extra_args`` → ``proxy_jump``,
  ``ansible_become`` (with the sudo method) → ``sudo``,
  ``ansible_connection: local`` → ``connection: local``.
* **Groups.** Each Ansible group (but ``all`` and ``ungrouped``) becomes a
  group of the inventory with every host in it or in its children.
* **Never copied.** Passwords (``ansible_password``,
  ``ansible_become_password``...) and vault-encrypted values (``!vault``
  and ``$ANSIBLE_VAULT`` files): the server gets a placeholder comment and a
  note instead. A host whose address, port or jump host cannot be known
  (a vaulted ``ansible_host``, a Jinja template, a multi-hop ProxyJump) is
  not imported, with the reason, rather than imported wrong.
"""

from __future__ import annotations

import ast
import os
import re
import shlex
import string
from dataclasses import dataclass, field
from typing import Any, Iterable

import yaml

from ..errors import InputError, Problem
from . import Imported, ImportedServer, Skipped, group_name_ok, read_text, safe_name, setting_problem
from .jump import jump_setting, proxy_from_args

YAML_EXTS = (".yml", ".yaml", ".json")
IGNORED_EXTS = (".pyc", ".pyo", ".swp", ".bak", "~", ".rpm", ".md", ".txt", ".rst", ".orig", ".cfg", ".retry")
SECRET_VARS = ("ansible_password", "ansible_ssh_pass", "ansible_ssh_password", "ansible_become_password", "ansible_become_pass", "ansible_sudo_pass",
               "ansible_ssh_private_key_passphrase")
TRUE = {"yes", "on", "1", "true", "y", "t"}
FALSE = {"no", "off", "0", "false", "n", "f", ""}


@dataclass(frozen=True)
class Vaulted:
    """A ``!vault`` value: never decrypted, never copied."""

    where: str


@dataclass
class _Group:
    name: str
    vars: dict[str, Any] = field(default_factory=dict)
    children: list[str] = field(default_factory=list)
    parents: list[str] = field(default_factory=list)
    hosts: list[str] = field(default_factory=list)
    priority: int = 1

    def set_var(self, key: str, value: Any) -> None:
        """As Ansible's Group.set_variable: ansible_group_priority sets the priority and is no variable."""
        if key == "ansible_group_priority":
            try:
                self.priority = int(value)
            except (TypeError, ValueError):
                pass
            return
        self.vars[key] = value


@dataclass
class _Host:
    name: str
    source: str
    vars: dict[str, Any] = field(default_factory=dict)


class _Tree:
    """What the inventory sources declare, merged as Ansible merges several sources."""

    def __init__(self) -> None:
        self.groups: dict[str, _Group] = {"all": _Group("all"), "ungrouped": _Group("ungrouped")}
        self.hosts: dict[str, _Host] = {}
        self.notes: list[str] = []

    def group(self, name: str) -> _Group:
        if name not in self.groups:
            self.groups[name] = _Group(name)
        return self.groups[name]

    def add_child(self, parent: str, child: str) -> None:
        p, c = self.group(parent), self.group(child)
        if child not in p.children:
            p.children.append(child)
        if parent not in c.parents:
            c.parents.append(parent)

    def add_host(self, name: str, group: str, source: str, port: int | None, variables: dict[str, Any]) -> None:
        host = self.hosts.get(name)
        if host is None:
            host = self.hosts[name] = _Host(name, source)
        g = self.group(group)
        if name not in g.hosts:
            g.hosts.append(name)
        if port is not None:
            host.vars["ansible_port"] = port
        host.vars.update(variables)

    # -- after every source is read ----------------------------------------------------

    def ancestors(self, group: str) -> set[str]:
        seen: set[str] = set()
        todo = list(self.groups[group].parents)
        while todo:
            g = todo.pop()
            if g not in seen:
                seen.add(g)
                todo += self.groups[g].parents
        return seen

    def reconcile(self) -> None:
        """Top groups become children of ``all``; hosts in no group but ``all`` are ``ungrouped``."""
        for name, g in self.groups.items():
            if name != "all" and not g.parents:
                self.add_child("all", name)
        in_group = {h for name, g in self.groups.items() if name not in ("all", "ungrouped") for h in g.hosts}
        for h in self.hosts:
            if h not in in_group and h not in self.groups["ungrouped"].hosts:
                self.groups["ungrouped"].hosts.append(h)

    def depth(self, group: str, _seen: frozenset[str] = frozenset()) -> int:
        if group == "all" or group in _seen:
            return 0
        return 1 + max((self.depth(p, _seen | {group}) for p in self.groups[group].parents), default=0)

    def host_groups(self, host: str) -> list[str]:
        """The groups of ``host`` (with their ancestors), but ``all``, in Ansible's order: depth, priority, name."""
        direct = [name for name, g in self.groups.items() if host in g.hosts]
        every = set(direct)
        for g in direct:
            every |= self.ancestors(g)
        every.discard("all")
        return sorted(every, key=lambda g: (self.depth(g), self.groups[g].priority, g))

    def members(self, group: str) -> list[str]:
        """Hosts of ``group`` and of its descendants, in declaration order."""
        out: list[str] = []
        todo, seen = [group], set()
        while todo:
            g = todo.pop(0)
            if g in seen:
                continue
            seen.add(g)
            out += [h for h in self.groups[g].hosts if h not in out]
            todo += self.groups[g].children
        return out


# -- YAML with Ansible's tags -------------------------------------------------------------


class _Loader(yaml.SafeLoader):
    filename = "<yaml>"


def _vault(loader: _Loader, node: yaml.Node) -> Vaulted:
    return Vaulted(f"{loader.filename}:{node.start_mark.line + 1}")


def _unsafe(loader: _Loader, node: yaml.Node) -> Any:
    if isinstance(node, yaml.ScalarNode):
        return loader.construct_scalar(node)
    if isinstance(node, yaml.SequenceNode):
        return loader.construct_sequence(node, deep=True)
    return loader.construct_mapping(node, deep=True)  # type: ignore[arg-type]


class _Lines(dict):  # type: ignore[type-arg]
    """A mapping with the line of each key."""

    lines: dict[Any, int]


def _mapping(loader: _Loader, node: yaml.MappingNode) -> _Lines:
    loader.flatten_mapping(node)
    out = _Lines()
    out.lines = {}
    for k, v in node.value:
        key = loader.construct_object(k, deep=True)
        if isinstance(key, (list, dict)):
            raise yaml.constructor.ConstructorError(None, None, "a mapping key must be a plain value", k.start_mark)
        out[key] = loader.construct_object(v, deep=True)  # a key given twice: the last wins, as in Ansible
        out.lines[key] = k.start_mark.line + 1
    return out


_Loader.add_constructor("!vault", _vault)
_Loader.add_constructor("!vault-encrypted", _vault)
_Loader.add_constructor("!unsafe", _unsafe)
_Loader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _mapping)


def _load_yaml(path: str, label: str, text: str) -> Any:
    loader = _Loader(text)
    loader.filename = label
    try:
        return loader.get_single_data()
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        what = " ".join(x for x in (exc.context, exc.problem) if x)
        raise InputError(Problem(path, mark.line + 1 if mark else None, mark.column + 1 if mark else None, f"not valid YAML: {what}")) from None
    except yaml.YAMLError as exc:
        raise InputError(Problem(path, None, None, f"not valid YAML: {exc}")) from None
    finally:
        loader.dispose()


def _is_vault_file(text: str) -> bool:
    return text.lstrip().startswith("$ANSIBLE_VAULT;")


# -- host patterns ---------------------------------------------------------------------

_BRACKETED_PORT = re.compile(r"^\[(.+)\]:([0-9]+)$")
_HOST_PORT = re.compile(r"^((?:[^:\[\]]|\[[^\]]*\])*):([0-9]+)$")


def expand_pattern(pattern: str) -> tuple[list[str], int | None]:
    """``web[01:03].example.se:2222`` → ([web01..., web02..., web03...], 2222), as Ansible expands it.

    >>> expand_pattern("db[a:c]:2222")
    (['dba', 'dbb', 'dbc'], 2222)
    """
    port = None
    for regex in (_BRACKETED_PORT, _HOST_PORT):
        m = regex.match(pattern)
        if m:
            pattern, port = m.group(1), int(m.group(2))
    return (_expand_ranges(pattern) if "[" in pattern else [pattern]), port


def _expand_ranges(line: str) -> list[str]:
    head, _, rest = line.partition("[")
    nrange, sep, tail = rest.partition("]")
    if not sep:
        raise ValueError(f"host range {line!r} has no closing ']'")
    bounds = nrange.split(":")
    if len(bounds) not in (2, 3):
        raise ValueError("host range must be begin:end or begin:end:step")
    beg, end = bounds[0] or "0", bounds[1]
    if len(bounds) == 3 and bounds[2] and not bounds[2].isdigit():
        raise ValueError(f"range [{nrange}]: the step must be a whole number")
    step = int(bounds[2]) if len(bounds) == 3 and bounds[2] and int(bounds[2]) > 0 else 1
    if not end:
        raise ValueError("host range must specify end value")
    if beg[0] == "0" and len(beg) > 1 and len(beg) != len(end):
        raise ValueError("host range must specify equal-length begin and end formats")
    width = len(beg) if beg[0] == "0" and len(beg) > 1 else 0
    seq: Iterable[str]
    if beg in string.ascii_letters and end in string.ascii_letters and not beg.isdigit():
        i, j = string.ascii_letters.index(beg), string.ascii_letters.index(end)
        if i > j:
            raise ValueError("host range must have begin <= end")
        seq = list(string.ascii_letters[i : j + 1 : step])
    elif beg.isdigit() and end.isdigit():
        seq = [str(n).zfill(width) for n in range(int(beg), int(end) + 1, step)]
    else:
        raise ValueError(f"range [{nrange}]: expected numbers or single letters, e.g. [01:10] or [a:f]")
    out: list[str] = []
    for item in seq:
        name = f"{head}{item}{tail}"
        out += _expand_ranges(name) if "[" in name else [name]
    return out


# -- INI ----------------------------------------------------------------------------------

_SECTION = re.compile(r"^\[([^:\]\s]+)(?::(\w+))?\]\s*(?:#.*)?$")
_GROUPNAME = re.compile(r"^([^:\]\s]+)\s*(?:#.*)?$")


def _ini_value(v: str) -> Any:
    try:
        value = ast.literal_eval(v)
    except (ValueError, SyntaxError, MemoryError, RecursionError, TypeError):
        return v
    if value is ... or isinstance(value, complex):
        return v
    return value


def parse_ini(tree: _Tree, path: str, text: str, label: str) -> None:
    group, state = "ungrouped", "hosts"
    pending: dict[str, tuple[int, str, list[str]]] = {}  # group → (line, state, parents): declared before being defined
    for n, raw in enumerate(text.splitlines(), 1):
        line = raw.strip()
        if not line or line[0] in "#;":
            continue

        def bad(message: str, line_no: int = n) -> InputError:
            return InputError(Problem(path, line_no, None, message))

        m = _SECTION.match(line)
        if m:
            group, state = m.group(1), m.group(2) or "hosts"
            if state not in ("hosts", "children", "vars"):
                raise bad(f"section [{group}:{state}] has unknown type {state!r}; expected [{group}], [{group}:children] or [{group}:vars]")
            if group not in tree.groups:
                if state == "vars" and group not in pending:
                    pending[group] = (n, "vars", [])
                tree.group(group)
            if group in pending and state != "vars":
                if pending[group][1] == "children":
                    _add_pending(tree, group, pending)
                else:
                    del pending[group]
            continue
        if line.startswith("[") and line.endswith("]"):
            raise bad(f"invalid section {line!r}; expected [group], [group:children] or [group:vars] without spaces")
        if state == "hosts":
            try:
                tokens = shlex.split(line, comments=True)
            except ValueError as exc:
                raise bad(f"cannot read the host line ({exc}); expected HOST [key=value ...]") from None
            if not tokens:
                continue
            try:
                names, port = expand_pattern(tokens[0])
            except ValueError as exc:
                raise bad(f"host pattern {tokens[0]!r}: {exc}") from None
            variables: dict[str, Any] = {}
            for t in tokens[1:]:
                if "=" not in t:
                    raise bad(f"expected key=value host variable after the host name, found {t!r}")
                k, v = t.split("=", 1)
                variables[k] = _ini_value(v)
            for name in names:
                tree.add_host(name, group, f"{label}:{n} [{group}]", port, variables)
        elif state == "vars":
            if "=" not in line:
                raise bad(f"expected key=value in [{group}:vars], found {line!r}")
            k, v = (e.strip() for e in line.split("=", 1))
            tree.group(group).set_var(k, _ini_value(v))
        else:
            m = _GROUPNAME.match(line)
            if not m:
                raise bad(f"expected a group name in [{group}:children], found {line!r}")
            child = m.group(1)
            if child not in tree.groups:
                if child in pending:
                    pending[child][2].append(group)
                else:
                    pending[child] = (n, "children", [group])
            else:
                tree.add_child(group, child)
    for g, (n, st, parents) in pending.items():
        if st == "vars":
            raise InputError(Problem(path, n, None, f"section [{g}:vars] is for group {g!r}, which is never defined; add a [{g}] section or fix the name"))
        raise InputError(Problem(path, n, None, f"section [{parents[-1]}:children] names group {g!r}, which is never defined; add a [{g}] section or fix the name"))


def _add_pending(tree: _Tree, group: str, pending: dict[str, tuple[int, str, list[str]]]) -> None:
    for parent in pending[group][2]:
        tree.add_child(parent, group)
        if parent in pending and pending[parent][1] == "children":
            _add_pending(tree, parent, pending)
    del pending[group]


# -- YAML inventory -------------------------------------------------------------------------


def parse_yaml(tree: _Tree, path: str, text: str, label: str) -> None:
    data = _load_yaml(path, label, text)
    if data is None:
        tree.notes.append(f"{label} is empty")
        return
    if not isinstance(data, dict):
        raise InputError(Problem(path, 1, None, "expected a mapping of group names (usually 'all:') at the top of a YAML inventory"))
    if "plugin" in data:
        raise InputError(Problem(path, data.lines.get("plugin") if isinstance(data, _Lines) else None, None,
                                 "this is an inventory plugin configuration (plugin:); auditor does not run plugins. "
                                 "Save what it produces with `ansible-inventory -i FILE --list -y --output hosts.yml` and import that"))
    for name, body in data.items():
        _yaml_group(tree, path, label, str(name), body, _line(data, name))


def _line(mapping: Any, key: Any) -> int | None:
    return mapping.lines.get(key) if isinstance(mapping, _Lines) else None


def _yaml_group(tree: _Tree, path: str, label: str, name: str, body: Any, line: int | None) -> str | None:
    if not isinstance(body, (dict, type(None))):
        tree.notes.append(f"{label}:{line}: {name!r} skipped: not a group definition (a mapping with hosts:, children:, vars:), as Ansible skips it")
        return None
    tree.group(name)
    if body is None:
        return name
    for section in ("vars", "children", "hosts"):
        if section in body:
            if isinstance(body[section], str):
                body[section] = {body[section]: None}
            if not isinstance(body[section], (dict, type(None))):
                raise InputError(Problem(path, _line(body, section), None, f"{name}.{section}: expected a mapping, found {type(body[section]).__name__}"))
    for key, value in body.items():
        if value is None:
            continue
        if key == "vars":
            for k, v in value.items():
                tree.group(name).set_var(str(k), v)
        elif key == "children":
            for child, child_body in value.items():
                made = _yaml_group(tree, path, label, str(child), child_body, _line(value, child))
                if made:
                    tree.add_child(name, made)
        elif key == "hosts":
            for pattern, host_vars in value.items():
                if host_vars is not None and not isinstance(host_vars, dict):
                    raise InputError(Problem(path, _line(value, pattern), None, f"{name}.hosts.{pattern}: expected a mapping of host variables or nothing, found {type(host_vars).__name__}"))
                try:
                    names, port = expand_pattern(str(pattern))
                except ValueError as exc:
                    raise InputError(Problem(path, _line(value, pattern), None, f"host pattern {pattern!r}: {exc}")) from None
                for h in names:
                    tree.add_host(h, name, f"{label}:{_line(value, pattern)} [{name}]", port, dict(host_vars or {}))
        else:
            tree.notes.append(f"{label}:{_line(body, key)}: key {key!r} of group {name!r} skipped; only hosts:, children: and vars: are read (as in Ansible)")
    return name


# -- sources and vars files -----------------------------------------------------------------


def _sources(path: str) -> tuple[list[str], str]:
    """The inventory files to read, and the folder holding group_vars/ and host_vars/."""
    if os.path.isdir(path):
        files = []
        for entry in sorted(os.listdir(path)):
            full = os.path.join(path, entry)
            if entry.startswith(".") or entry in ("group_vars", "host_vars") or entry.endswith(IGNORED_EXTS) or not os.path.isfile(full):
                continue
            files.append(full)
        return files, path
    if not os.path.exists(path):
        raise InputError(Problem(path, None, None, "not found; expected an Ansible inventory file (INI or YAML) or a folder of them"))
    return [path], os.path.dirname(path) or "."


def _vars_files(base: str, kind: str, name: str) -> list[str]:
    stem = os.path.join(base, kind, name)
    for candidate in (stem, *(stem + e for e in YAML_EXTS)):
        if os.path.isdir(candidate):
            return _dir_files(candidate)
        if os.path.isfile(candidate):
            return [candidate]
    return []


def _dir_files(folder: str) -> list[str]:
    out: list[str] = []
    for entry in sorted(os.listdir(folder)):
        if entry.startswith(".") or entry.endswith("~"):
            continue
        full, ext = os.path.join(folder, entry), os.path.splitext(entry)[1]
        if os.path.isdir(full) and not ext:
            out += _dir_files(full)
        elif os.path.isfile(full) and (not ext or ext in YAML_EXTS):
            out.append(full)
    return out


class _VarsFiles:
    """group_vars/ and host_vars/ beside the inventory, each file read once."""

    def __init__(self, base: str):
        self.base = base
        self.cache: dict[str, dict[str, Any]] = {}
        self.encrypted: dict[str, str] = {}  # "group web" → file

    def vars(self, kind: str, name: str) -> dict[str, Any]:
        merged: dict[str, Any] = {}
        for f in _vars_files(self.base, kind, name):
            merged.update(self._read(f, f"{kind[:-5]} {name}"))
        return merged

    def _read(self, path: str, entity: str) -> dict[str, Any]:
        if path in self.cache:
            return self.cache[path]
        label = path
        text = read_text(path, "a YAML file of variables")
        data: Any = {}
        if _is_vault_file(text):
            self.encrypted[entity] = label
        else:
            data = _load_yaml(path, label, text) or {}
            if not isinstance(data, dict):
                raise InputError(Problem(path, 1, None, f"expected a mapping of variable names to values, found {type(data).__name__}"))
        self.cache[path] = data
        return data


# -- connection variables → server settings ---------------------------------------------------


def _boolean(value: Any) -> bool | None:
    if isinstance(value, bool):
        return value
    text = str(value).strip().lower()
    return True if text in TRUE else False if text in FALSE else None


def _templated(value: Any) -> bool:
    return isinstance(value, str) and ("{{" in value or "{%" in value)


def server_of(name: str, hv: dict[str, Any], host_names: set[str]) -> tuple[dict[str, Any], list[str], list[str], str | None]:
    """(settings, notes, placeholders, reason not imported) for one host's merged variables."""
    settings: dict[str, Any] = {}
    notes: list[str] = []
    placeholders: list[str] = []

    def first(*keys: str) -> tuple[str | None, Any]:
        for k in keys:
            if k in hv and hv[k] is not None:
                return k, hv[k]
        return None, None

    connection = hv.get("ansible_connection", "ssh")
    if isinstance(connection, Vaulted) or connection not in ("ssh", "paramiko", "smart", "local"):
        return {}, [], [], f"ansible_connection {connection!r} is not SSH (ssh, paramiko) or local"
    if connection == "local":
        settings["connection"] = "local"
    else:
        key, host = first("ansible_host", "ansible_ssh_host")
        if isinstance(host, Vaulted):
            return {}, [], [], f"{key} is vault-encrypted ({host.where}); its value is not copied, so the address is unknown"
        if _templated(host):
            return {}, [], [], f"{key} is a Jinja template ({host!r}); auditor does not evaluate templates"
        host = str(host) if host is not None else name
        problem = setting_problem("host", host)
        if problem:
            return {}, [], [], f"address {host!r}: {problem}"
        settings["host"] = host
        key, port = first("ansible_port", "ansible_ssh_port")
        if port is not None:
            if isinstance(port, Vaulted) or _templated(port) or not str(port).strip().isdigit() or setting_problem("port", int(str(port))):
                return {}, [], [], f"{key} {port if not isinstance(port, Vaulted) else 'vault-encrypted'!r} is not a port number 1-65535"
            if int(str(port)) != 22:
                settings["port"] = int(str(port))
        args = " ".join(str(hv[k]) for k in ("ansible_ssh_common_args", "ansible_ssh_extra_args") if isinstance(hv.get(k), str))
        if any(isinstance(hv.get(k), Vaulted) for k in ("ansible_ssh_common_args", "ansible_ssh_extra_args")):
            return {}, [], [], "its ssh arguments are vault-encrypted; whether it needs a jump host is unknown"
        if args:
            jump, problem = proxy_from_args(args)
            if problem:
                return {}, [], [], problem
            if jump:
                settings["proxy_jump"] = jump_setting(jump, host_names)
    for setting, keys in (("user", ("ansible_user", "ansible_ssh_user")), ("key_file", ("ansible_ssh_private_key_file", "ansible_private_key_file"))):
        key, value = first(*keys)
        if value is None or (settings.get("connection") == "local"):
            continue
        if isinstance(value, Vaulted):
            placeholders.append(f"{setting}: <vault-encrypted {key} from {value.where}; not copied>")
            notes.append(f"{key} is vault-encrypted: not copied; set {setting} here")
            continue
        if _templated(value):
            placeholders.append(f"{setting}: <Jinja template {value!r} in {key}; not evaluated>")
            continue
        problem = setting_problem(setting, str(value))
        if problem:
            notes.append(f"{key} {str(value)!r} left out: {problem}")
            continue
        settings[setting] = str(value)
    key, become = first("ansible_become", "ansible_sudo")
    if isinstance(become, Vaulted):
        placeholders.append(f"sudo: <vault-encrypted {key} from {become.where}; not copied>")
    elif become is not None:
        on = _boolean(become)
        method = hv.get("ansible_become_method", "sudo")
        if on is None:
            notes.append(f"{key} {become!r} is not a boolean; sudo left out")
        elif on and method != "sudo":
            notes.append(f"ansible_become_method is {method!r}; auditor escalates with sudo -n only, so sudo is left out")
        elif on:
            settings["sudo"] = True
            user = hv.get("ansible_become_user", "root")
            if user != "root":
                notes.append(f"ansible_become_user is {user!r}; auditor's sudo reads run as root (see `auditor sudoers`)")
    for secret in SECRET_VARS:
        if secret in hv:
            notes.append(f"{secret} is set in Ansible: not copied (auditor logs in with a key; sudo runs with -n, see docs/ssh-account.md)")
    return settings, notes, placeholders, None


# -- the import -------------------------------------------------------------------------------


def import_ansible(path: str) -> Imported:
    files, base = _sources(path)
    tree = _Tree()
    for label in files:
        f = label
        text = read_text(f, "an Ansible inventory (INI or YAML)")
        if text.startswith("#!"):
            tree.notes.append(f"{label} is an inventory script: not run. Save its output with `ansible-inventory -i {label} --list -y --output hosts.yml` and import that")
            continue
        if _is_vault_file(text):
            tree.notes.append(f"{label} is vault-encrypted: not read (its contents are never copied)")
            continue
        if f.endswith(YAML_EXTS):
            parse_yaml(tree, f, text, label)
        else:
            parse_ini(tree, f, text, label)
    if not files:
        raise InputError(Problem(path, None, None, "the folder holds no inventory file"))
    tree.reconcile()
    vf = _VarsFiles(base)
    return _build(tree, vf, path)


def _build(tree: _Tree, vf: _VarsFiles, path: str) -> Imported:
    taken: set[str] = set()
    names = {h: safe_name(h, taken) for h in tree.hosts}
    servers: list[ImportedServer] = []
    skipped: list[Skipped] = []
    merged = {h: _host_vars(tree, vf, h) for h in tree.hosts}
    imported: set[str] = set()
    for h, host in tree.hosts.items():
        member_of = tree.host_groups(h)
        settings, notes, placeholders, reason = server_of(h, merged[h], set(tree.hosts))
        for entity, file in vf.encrypted.items():
            kind, _, who = entity.partition(" ")
            if (kind == "group" and (who in member_of or who == "all")) or (kind == "host" and who == h):
                notes.append(f"{file} is vault-encrypted: its variables were not read (never copied); settings it holds are missing here")
        if reason:
            skipped.append(Skipped(h, host.source, reason))
            continue
        jump = settings.get("proxy_jump")
        if jump in tree.hosts:
            settings["proxy_jump"] = names[jump]
        if names[h] != h:
            notes.append(f"Ansible name {h!r} written as {names[h]!r} (inventory names allow letters, digits, '.', '_', '-')")
        shown = [g for g in member_of if g != "ungrouped"]
        source = f"{host.source}" + (f"; Ansible groups: {', '.join(shown)}" if shown else "")
        servers.append(ImportedServer(names[h], source, settings, tuple(notes), tuple(placeholders)))
        imported.add(h)
    # a server whose jump host was not imported, or is itself behind a jump host, cannot be reached as written
    by_name = {s.name: s for s in servers}
    final: list[ImportedServer] = []
    for s in servers:
        jump = s.settings.get("proxy_jump")
        hop = by_name.get(jump) if isinstance(jump, str) else None
        if isinstance(jump, str) and jump in names.values() and hop is None:
            skipped.append(Skipped(s.name, s.source, f"its jump host {jump!r} was not imported"))
        elif hop is not None and hop.settings.get("proxy_jump"):
            skipped.append(Skipped(s.name, s.source, f"its jump host {jump!r} is itself behind a jump host; auditor reaches a server through one jump host"))
        else:
            final.append(s)
    kept = {s.name for s in final}
    groups: dict[str, tuple[str, ...]] = {}
    taken_groups: set[str] = set()
    notes = list(tree.notes)
    for g in tree.groups:
        if g in ("all", "ungrouped"):
            continue
        members = tuple(names[h] for h in tree.members(g) if names[h] in kept)
        gname = g if group_name_ok(g) and g not in taken_groups else safe_name(g, set(taken_groups))
        if gname != g:
            notes.append(f"Ansible group {g!r} written as {gname!r}")
        taken_groups.add(gname)
        groups[gname] = members
    return Imported(origin=f"Ansible inventory {path}", servers=tuple(final), groups=groups, skipped=tuple(skipped), notes=tuple(notes))


def _host_vars(tree: _Tree, vf: _VarsFiles, host: str) -> dict[str, Any]:
    """Ansible's variable precedence for one host (hash_behaviour=replace)."""
    groups = tree.host_groups(host)
    out: dict[str, Any] = {}
    out.update(tree.groups["all"].vars)
    for g in groups:
        out.update(tree.groups[g].vars)
    out.update(vf.vars("group_vars", "all"))
    for g in groups:
        out.update(vf.vars("group_vars", g))
    out.update(tree.hosts[host].vars)
    out.update(vf.vars("host_vars", host))
    return out

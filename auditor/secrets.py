"""References to secrets, resolved only when a connection is opened.

An inventory never holds a secret itself: it holds ``${ENV_VAR}`` or
``{file: /path/to/secret}``. A :class:`SecretRef` knows where the value is
and prints as that reference, never as the value.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from typing import Any

from .errors import CollectError
from .model import Reason
from .yamlsrc import MISSING, Checker, describe

ENV_RE = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)\}")


@dataclass(frozen=True)
class SecretRef:
    kind: str  # "env" | "file"
    name: str  # variable name or file path
    where: str = ""  # file:line of the reference

    def __repr__(self) -> str:
        return f"SecretRef({self.describe()})"

    __str__ = __repr__

    def describe(self) -> str:
        return f"${{{self.name}}}" if self.kind == "env" else f"file {self.name}"

    def reveal(self) -> str:
        """The secret's value. Call only to hand it to a connection."""
        if self.kind == "env":
            value = os.environ.get(self.name)
            if value is None:
                raise CollectError(Reason.CONFIG_ERROR, f"environment variable {self.name} is not set (referenced at {self.where})")
            return value
        try:
            with open(self.name, encoding="utf-8") as fh:
                return fh.read().rstrip("\r\n")
        except OSError as exc:
            raise CollectError(Reason.CONFIG_ERROR, f"cannot read secret file {self.name} (referenced at {self.where}): {exc.strerror}") from None


def secret(check_exists: bool = True):
    """Validator for a secret reference; a literal secret is refused."""

    def v(value: Any, path: str, pos: tuple[int, int], chk: Checker) -> Any:
        where = f"{chk.filename}:{pos[0]}"
        ref: SecretRef | None = None
        if isinstance(value, str):
            m = ENV_RE.fullmatch(value.strip())
            if m:
                ref = SecretRef("env", m.group(1), where)
            else:
                chk.add(pos, f"{path}: secrets cannot be written into the inventory; expected '${{ENV_VAR}}' or {{file: /path/to/secret}}, found a literal string")
                return MISSING
        elif isinstance(value, dict) and set(value) == {"file"} and isinstance(value["file"], str):
            ref = SecretRef("file", os.path.expanduser(value["file"]), where)
        elif isinstance(value, dict) and set(value) == {"env"} and isinstance(value["env"], str):
            ref = SecretRef("env", value["env"], where)
        else:
            chk.add(pos, f"{path}: expected '${{ENV_VAR}}', {{env: VAR}} or {{file: /path/to/secret}}, found {describe(value)}")
            return MISSING
        if check_exists:
            if ref.kind == "env" and ref.name not in os.environ:
                chk.add(pos, f"{path}: environment variable {ref.name} is not set; export it before running (the value is read only when connecting)")
            elif ref.kind == "file" and not os.path.isfile(ref.name):
                chk.add(pos, f"{path}: secret file {ref.name} does not exist")
        return ref

    return v

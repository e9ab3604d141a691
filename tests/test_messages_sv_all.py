"""Every control of the registry gives its finding messages in Swedish too, and is walked by a test.

The walks are in test_messages_sv.py (SSH, shadow, location), test_messages_sv_hosts.py
(sudo, files, ports, keys, passwords, backups) and test_messages_sv_services.py (TLS,
databases, AWS); this file checks that together they cover every bundled control, so a
new control cannot be added without its Swedish messages and their test.
"""

from __future__ import annotations

from auditor.registry import Registry

import test_messages_sv as base
import test_messages_sv_hosts as hosts
import test_messages_sv_services as services


def test_every_bundled_control_is_walked_in_both_languages() -> None:
    registry = Registry.load(entry_points=False)
    bundled = {c.id for c in registry.controls.values() if c.module.startswith("checks.")}
    walked = set(base.TRANSLATED)
    walked |= {c.id for c in registry.controls.values() if c.module in hosts.MODULES}
    walked |= {c.id for c in registry.controls.values() if c.module in services.MODULES and c.module not in services.UNTRANSLATED_MODULES}
    assert not services.UNTRANSLATED_MODULES, f"modules still without Swedish messages: {sorted(services.UNTRANSLATED_MODULES)}"
    assert not bundled - walked, f"controls whose Swedish messages no test walks: {sorted(bundled - walked)}"

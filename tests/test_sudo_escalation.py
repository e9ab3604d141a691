"""checks/sudo_escalation.py: which sudoers commands make their holder root.

Every case is judged four ways: without NOEXEC, with the NOEXEC tag, with a
``Defaults noexec`` in scope, and with an EXEC tag overriding that Defaults
(which is the same as no NOEXEC).
"""

from __future__ import annotations

from typing import Any

import pytest

from checks.sudo_escalation import ANY, Arg, Args, noexec_in_force, parse_args, program_name, root_reason

NOPASSWD = {"PASSWD": False}
MODES: dict[str, tuple[dict[str, bool], bool, bool]] = {  # name → (tags, noexec by Defaults, NOEXEC in force)
    "plain": (NOPASSWD, False, False),
    "noexec-tag": ({"PASSWD": False, "EXEC": False}, False, True),
    "defaults-noexec": (NOPASSWD, True, True),
    "exec-tag-beats-defaults": ({"PASSWD": False, "EXEC": True}, True, False),
}

# (class, command, root without NOEXEC, root with NOEXEC, fragment every reason must contain)
CASES: list[tuple[str, str, bool, bool, str]] = [
    # always root: NOEXEC does not help
    ("all", "ALL", True, True, "every command"),
    ("directory", "/usr/bin/", True, True, "every program in that directory"),
    ("shell-any-args", "/bin/bash", True, True, "bash with any arguments"),
    ("shell-wildcard", "/bin/sh -c *", True, True, "sh with any arguments"),
    ("shell-no-args-reads-input", '/bin/dash ""', True, True, "reads commands from your input"),
    ("busybox", "/usr/bin/busybox *", True, True, "busybox with any arguments"),
    ("interpreter-versioned", "/usr/bin/python3.11 *", True, True, "python3.11 with any arguments can run any code in-process"),
    ("interpreter-perl-versioned", "/usr/bin/perl5.36", True, True, "perl5.36 with any arguments"),
    ("interpreter-cwd-imports", "/usr/bin/python3 -m http.server", True, True, "directory you run sudo in"),
    ("interpreter-relative-script", "/usr/bin/ruby tool.rb", True, True, "runs tool.rb from the directory you run sudo in"),
    ("awk-any", "/usr/bin/awk *", True, True, "awk with any arguments"),
    ("gdb-interactive", "/usr/bin/gdb -p 1", True, True, "interactive"),
    ("editor-fixed-file", "/usr/bin/vim /etc/hosts", True, True, "vim can open and write any file"),
    ("editor-debian-alternative", "/usr/bin/vim.tiny /etc/motd", True, True, "open and write any file"),
    ("editor-nano", "/bin/nano /etc/motd", True, True, "open and write any file"),
    ("sudoedit-wildcard", "sudoedit /etc/*", True, True, "sudoedit with wildcards"),
    ("sudo-e-wildcard", "/usr/bin/sudo -e /etc/*", True, False, "sudoedit with wildcards"),  # the inner sudo cannot start the editor under NOEXEC
    ("controller-systemctl", "/usr/bin/systemctl *", True, True, "systemctl with any arguments"),
    ("controller-docker", "/usr/bin/docker", True, True, "host's / mounted"),
    ("controller-apt", "/usr/bin/apt-get install *", True, True, "apt-get with any arguments"),
    ("controller-crontab-stdin", "/usr/bin/crontab -", True, True, "root's crontab from your input"),
    ("controller-at", "/usr/bin/at now", True, True, "reads a job from your input"),
    ("controller-modprobe", "/sbin/modprobe *", True, True, "kernel module"),
    ("controller-passwd-root", "/usr/bin/passwd", True, True, "root's"),
    ("program-path-glob", "/usr/bin/py*", True, True, "/usr/bin/py* can name"),
    ("program-path-regex", "^/usr/s?bin/.*$", True, True, "pattern for the program path"),
    # writers: with free arguments root, NOEXEC does not stop a write
    ("writer-find", "/usr/bin/find *", True, True, "-fprintf"),
    ("writer-find-after-fixed-start", "/usr/bin/find /srv *", True, True, "-fprintf"),
    ("writer-tee", "/usr/bin/tee *", True, True, "tee with any arguments can write any file"),
    ("writer-cp", "/bin/cp * /srv/backup/", True, True, "overwrite any file"),
    ("writer-tar", "/bin/tar *", True, True, "tar with any arguments"),
    ("writer-sed", "/bin/sed *", True, True, "-i, w"),
    ("writer-dd", "/bin/dd *", True, True, "of="),
    ("writer-chmod", "/bin/chmod *", True, True, "setuid"),
    ("writer-less-from-pipe", "/usr/bin/less *", True, True, "-o with input from a pipe"),
    ("writer-ssh-keygen", "/usr/bin/ssh-keygen *", True, True, "-D"),
    ("writer-borg-extract", "/usr/bin/borg *", True, True, "borg extract"),
    ("writer-regex-not-literal", "/usr/bin/tee ^/var/log/.*$", True, True, "tee with any arguments"),
    # escapes: root unless NOEXEC stops the exec
    ("escape-env", "/usr/bin/env *", True, False, "env with any arguments can run any program"),
    ("escape-env-fixed-program-with-free-args", "/usr/bin/env LC_ALL\\=C LANG\\=C find *", True, False, "env runs find with any arguments"),  # NOEXEC stops env starting find
    ("escape-env-fixed-shell", "/usr/bin/env /bin/sh", True, False, "env runs sh"),
    ("escape-xargs", "/usr/bin/xargs /bin/sh", True, False, "xargs runs sh with any arguments"),
    ("escape-timeout", "/usr/bin/timeout 10 /bin/bash", True, False, "timeout runs bash"),
    ("escape-nice-wildcard", "/usr/bin/nice *", True, False, "nice with any arguments"),
    ("escape-su-root-shell", "/bin/su root", True, False, "su root starts a root shell"),
    ("escape-sudo-login", "/usr/bin/sudo -i", True, False, "root shell"),
    ("escape-chroot-shell", "/usr/sbin/chroot /srv/jail", True, False, "starts a root shell"),
    ("escape-script-shell", "/usr/bin/script /tmp/session.log", True, False, "starts a root shell"),
    ("escape-pager-less", "/usr/bin/less /var/log/syslog", True, False, "less can run a shell as root (!sh)"),
    ("escape-pager-more", "/bin/more /var/log/syslog", True, False, "!sh"),
    ("escape-pager-man", "/usr/bin/man ls", True, False, "!sh in its pager"),
    ("escape-journalctl", "/bin/journalctl -u nginx", True, False, "pager"),
    ("escape-systemctl-status-pager", "/bin/systemctl status nginx", True, False, "pager (less)"),
    ("escape-find-exec-fixed", "/usr/bin/find /srv -name x -exec /bin/sh {} ;", True, False, "find -exec runs sh"),
    ("escape-git-fixed", "/usr/bin/git -C /srv/site pull", True, False, "hooks"),
    ("escape-make-cwd", "/usr/bin/make install", True, False, "Makefile of the directory you run sudo in"),
    ("escape-rsync-wildcard-writes", "/usr/bin/rsync *", True, True, "rsync with any arguments"),
    ("escape-ssh", "/usr/bin/ssh *", True, False, "ProxyCommand"),
    ("escape-zip", "/usr/bin/zip *", True, True, "zip with any arguments"),
    ("escape-tmux", "/usr/bin/tmux", True, False, "start a shell"),
    ("escape-borg-list-free", "/usr/bin/borg list *", True, False, "--rsh"),
    # not root-equivalent
    ("reader-cat", "/usr/bin/cat", False, False, ""),
    ("reader-head-wildcard", "/usr/bin/head *", False, False, ""),
    ("reader-tail", "/usr/bin/tail -n 100 /var/log/syslog", False, False, ""),
    ("reader-ls", "/bin/ls *", False, False, ""),
    ("reader-stat", "/usr/bin/stat *", False, False, ""),
    ("reader-getent", "/usr/bin/getent *", False, False, ""),
    ("reader-id", "/usr/bin/id", False, False, ""),
    ("reader-date", "/bin/date", False, False, ""),
    ("reader-sshd-T", "/usr/sbin/sshd -T", False, False, ""),
    ("reader-borg-list-fixed", "/usr/bin/borg list --bypass-lock /srv/repo", False, False, ""),
    ("reader-borg-info-fixed", "/usr/bin/borg info /srv/repo", False, False, ""),
    ("fixed-find-printf", "/usr/bin/find /etc/shadow /srv/backups -xdev -printf %y\\\\t%p\\\\0", False, False, ""),
    ("fixed-find-exec-harmless", "/usr/bin/find /srv/tmp -mtime +7 -exec /bin/rm -- {} ;", False, False, ""),
    ("fixed-shell-script", "/bin/bash /usr/local/sbin/rotate-logs", False, False, ""),
    ("fixed-python-script", "/usr/bin/python3 /opt/tool/run.py --check", False, False, ""),
    ("fixed-python-isolated-c", "/usr/bin/python3 -I -c import\\ sys", False, False, ""),
    ("fixed-awk-program", "/usr/bin/awk -F: {print\\ $1} /etc/passwd", False, False, ""),
    ("fixed-tee", "/usr/bin/tee /var/log/app/out.log", False, False, ""),
    ("fixed-chown-escaped-colon", "/usr/bin/chown www-data\\:www-data /srv/site", False, False, ""),
    ("escaped-wildcard-is-literal", "/usr/bin/tee /var/log/app/\\*", False, False, ""),
    ("sudoedit-fixed", "sudoedit /etc/hosts", False, False, ""),
    ("systemctl-restart-fixed", "/bin/systemctl restart nginx", False, False, ""),
    ("systemctl-restart-any-unit", "/bin/systemctl restart *", False, False, ""),
    ("systemctl-status-no-pager", "/bin/systemctl --no-pager status nginx", False, False, ""),
    ("journalctl-no-pager", "/bin/journalctl --no-pager -u nginx", False, False, ""),
    ("env-fixed-reader", "/usr/bin/env LC_ALL\\=C LANG\\=C cat -- /etc/shadow", False, False, ""),
    ("env-fixed-reader-free-args", "/usr/bin/env LC_ALL\\=C LANG\\=C cat *", False, False, ""),
    ("env-no-args", '/usr/bin/env ""', False, False, ""),
    ("su-other-account", "/bin/su postgres", False, False, ""),
    ("sudo-other-account", "/usr/bin/sudo -u postgres /bin/sh", False, False, ""),
    ("cat-regex-dropin-reader", "/usr/bin/cat ^-- /etc/sudoers\\.d/[A-Za-z0-9_@+%-]+( /etc/sudoers\\.d/[A-Za-z0-9_@+%-]+)*$", False, False, ""),
    ("find-regex-literal", "/usr/bin/find ^/etc/shadow -printf x$", False, False, ""),
    ("unknown-program-wildcard", "/usr/local/bin/deploy-site *", False, False, ""),
    ("negated", "!/bin/sh", False, False, ""),
]


@pytest.mark.parametrize("mode", sorted(MODES))
@pytest.mark.parametrize("cls, command, plain, with_noexec, fragment", CASES, ids=[c[0] for c in CASES])
def test_verdict_per_class_with_and_without_noexec(cls: str, command: str, plain: bool, with_noexec: bool, fragment: str, mode: str) -> None:
    tags, by_defaults, noexec = MODES[mode]
    reason = root_reason(command, tags, by_defaults)
    expected = with_noexec if noexec else plain
    assert (reason is not None) == expected, f"{cls} {mode}: {reason}"
    if reason is not None:
        assert fragment in reason
        if noexec:
            assert reason.endswith("NOEXEC does not stop that"), reason
        elif plain and not with_noexec:
            assert reason.endswith("(NOEXEC would stop that)"), reason


def test_env_any_is_root_without_noexec() -> None:
    assert root_reason("/usr/bin/env *", NOPASSWD) == "env with any arguments can run any program as root (env /bin/sh) (NOEXEC would stop that)"
    assert root_reason("/usr/bin/env *", {"PASSWD": False, "EXEC": False}) is None


def test_find_any_says_why_noexec_does_not_help() -> None:
    assert root_reason("/usr/bin/find *", {"PASSWD": False, "EXEC": False}) == "find with any arguments can write files as root (-fprintf), NOEXEC does not stop that"
    assert root_reason("/usr/bin/find *", NOPASSWD) == "find with any arguments can run programs (-exec) and write files (-fprintf) as root"
    assert root_reason("/usr/bin/find *", NOPASSWD, noexec_default=True) == root_reason("/usr/bin/find *", {"PASSWD": False, "EXEC": False})


def test_less_fixed_file_needs_noexec() -> None:
    assert root_reason("/usr/bin/less /var/log/syslog", {"PASSWD": False, "EXEC": False}) is None
    assert root_reason("/usr/bin/less /var/log/syslog", NOPASSWD) == "less can run a shell as root (!sh) (NOEXEC would stop that)"


def test_noexec_in_force() -> None:
    assert noexec_in_force({"EXEC": False}) is True
    assert noexec_in_force({}, True) is True
    assert noexec_in_force({"EXEC": True}, True) is False
    assert noexec_in_force(None) is False


@pytest.mark.parametrize(
    "text, expected",
    [
        ("", ANY),
        ('""', Args()),
        ("-T", Args((Arg("-T"),))),
        ("/var/log/*", Args((Arg("/var/log/*", True),))),
        ("/var/log/\\*", Args((Arg("/var/log/*"),))),
        ("a\\,b c\\:d e\\=f %y\\\\t", Args((Arg("a,b"), Arg("c:d"), Arg("e=f"), Arg("%y\\t")))),
        ("^-T$", Args((Arg("-T"),))),
        ("^/etc/shadow -printf x$", Args((Arg("/etc/shadow"), Arg("-printf"), Arg("x")))),
        ("^/etc/[a-z]+$", ANY),
        ("^/etc/\\d$", ANY),
        ("file?", Args((Arg("file?", True),))),
    ],
)
def test_parse_args(text: str, expected: Args) -> None:
    assert parse_args(text) == expected


@pytest.mark.parametrize(
    "path, name",
    [("/usr/bin/python3.11", "python"), ("/usr/bin/perl5.36", "perl"), ("/usr/bin/pip3", "pip"), ("/usr/bin/vim.basic", "vim"),
     ("/usr/bin/lua5.4", "lua"), ("/usr/bin/tclsh8.6", "tclsh"), ("/usr/bin/ssh-keygen", "ssh-keygen"), ("/usr/local/bin/tool2", "tool2")],
)
def test_program_names_drop_version_suffixes(path: str, name: str) -> None:
    assert program_name(path) == name


def test_free_arguments() -> None:
    assert ANY.free and Args((Arg("x"), Arg("*", True))).free
    assert not Args().free and not Args((Arg("-T"),)).free


def test_tables_are_plain_data() -> None:
    from checks import sudo_escalation as se

    tables: dict[str, Any] = {"CONTROLLERS": se.CONTROLLERS, "WRITERS": se.WRITERS, "ESCAPES": se.ESCAPES, "EXEC_EVEN_FIXED": se.EXEC_EVEN_FIXED}
    for name, table in tables.items():
        for program, effect in table.items():
            assert isinstance(effect, tuple) and len(effect) == 2 and all(isinstance(p, str) and p for p in effect), (name, program)
    assert not (se.SHELLS & se.INTERPRETERS)
    assert all(not hasattr(se, attr) for attr in ("control", "collector")), "sudo_escalation holds no controls"

"""Which sudoers commands make their holder root: a pure classification of one Cmnd.

A rule that names a program is as strong as that program. Three ways lead
to root, and NOEXEC (sudo's ``NOEXEC:`` tag or ``Defaults noexec``, which
stops the command from starting other programs) closes only the last:

- the program *is* a way to run anything: ``ALL``, a directory, a shell, an
  interpreter, an editor, or a front end of a root daemon or package manager
  (systemctl, docker, apt, crontab...). NOEXEC does not help: the code runs
  in-process or in another root process;
- the program *writes files* (tee, cp, tar, find ``-fprintf``...): with free
  arguments it can write ``/etc/sudoers.d`` or ``/etc/cron.d``. NOEXEC does
  not help either;
- the program *starts other programs* (env, xargs, a pager's ``!sh``,
  ``find -exec``...): root unless NOEXEC stops the exec.

"Free arguments" means the rule names the program without arguments, or its
arguments hold a sudoers wildcard (``*``, ``?``, ``[``, not escaped by a
backslash; ``*`` matches spaces too, so one wildcard admits every option),
or they are a regular expression (``^...$``, sudo >= 1.9.10) that is not a
plain literal. ``""`` means no arguments at all. With fixed arguments a
program is judged by what those arguments do: a shell running a fixed script
is fine, a shell with no script reads one from its input; ``env LC_ALL=C cat
/etc/shadow`` is ``cat``; a pager is a shell unless NOEXEC.

The tables below are the knowledge; :func:`root_reason` is the whole API.

>>> root_reason("/usr/bin/find *", {"PASSWD": False, "EXEC": False})
'find with any arguments can write files as root (-fprintf), NOEXEC does not stop that'
>>> root_reason("/usr/bin/less /var/log/syslog", {"PASSWD": False, "EXEC": False}) is None
True
>>> root_reason("/usr/bin/env LC_ALL\\\\=C LANG\\\\=C cat *", {"PASSWD": False}) is None
True
"""

from __future__ import annotations

import posixpath
import re
import shlex
from dataclasses import dataclass
from fnmatch import fnmatchcase
from typing import Callable, Mapping, Sequence

from auditor.registry import Text, sv

# -- knowledge -------------------------------------------------------------------------------
# Each entry: program name → (what it can do, as a verb phrase; how, in the sudoers admin's words).

Effect = tuple[str, str]

SHELLS = frozenset({
    "sh", "bash", "rbash", "dash", "zsh", "ksh", "ksh93", "mksh", "pdksh", "lksh", "csh", "tcsh", "fish", "ash",
    "busybox", "yash", "posh", "elvish", "nu", "xonsh",
})
INTERPRETERS = frozenset({
    "python", "pypy", "perl", "ruby", "irb", "php", "node", "nodejs", "deno", "bun", "lua", "luajit", "tclsh", "wish",
    "expect", "awk", "gawk", "mawk", "nawk", "gdb", "pwsh", "julia", "R", "Rscript", "guile", "erl", "jshell", "jrunscript",
    "groovy", "cpan",
})
INTERPRETER_HOW = "-c, -e or a script of yours"  # how an interpreter with free arguments runs code
NO_REPL = frozenset({"awk", "gawk", "mawk", "nawk"})  # without a program they do nothing
CWD_IMPORTS = frozenset({"python", "pypy"})  # -c / -m put the caller's directory first on sys.path
EDITORS: dict[str, str] = {  # editor → how it gets at any file
    **{n: ":e /etc/sudoers, :w" for n in ("vi", "vim", "nvim", "gvim", "view", "rview", "rvim", "vimdiff", "ex", "vipw", "vigr", "visudo")},
    "ed": "e /etc/sudoers, w", "red": "w in the directory you run sudo in",
    "nano": "^R, ^O", "rnano": "^O in the directory you run sudo in", "pico": "^R, ^O", "micro": "open, save",
    "emacs": "C-x C-f, C-x C-s", "joe": "^K E, ^K D", "jed": "open, save", "mcedit": "open, save",
    "ftp": "get over /etc/sudoers",
}

# Front ends of root daemons, package managers and account tools: with free
# arguments they get any command run by another root process.
CONTROLLERS: dict[str, Effect] = {
    "systemctl": ("start any command as a service", "systemctl link, start"),
    "systemd-run": ("run any command through systemd", "systemd-run"),
    "service": ("run any init script", "service"),
    "docker": ("start a container with the host's / mounted", "run -v /:/host"),
    "podman": ("start a container with the host's / mounted", "run -v /:/host"),
    "nerdctl": ("start a container with the host's / mounted", "run -v /:/host"),
    "ctr": ("start a container with the host's / mounted", "ctr run --mount"),
    "kubectl": ("start a privileged pod", "kubectl run --overrides"),
    "apt": ("install a package of your own, whose scripts run as root", "apt install ./x.deb"),
    "apt-get": ("install a package of your own, whose scripts run as root", "apt-get install ./x.deb"),
    "dpkg": ("install a package of your own", "dpkg -i"),
    "yum": ("install a package of your own", "yum install ./x.rpm"),
    "dnf": ("install a package of your own", "dnf install ./x.rpm"),
    "rpm": ("install a package of your own", "rpm -i"),
    "zypper": ("install a package of your own", "zypper install ./x.rpm"),
    "pip": ("install a package of your own into the system Python", "pip install"),
    "snap": ("install a snap of your own", "snap install --devmode"),
    "crontab": ("schedule any command as root", "crontab -"),
    "at": ("schedule any command as root", "at now"),
    "mount": ("mount your own files over any directory", "mount --bind"),
    "insmod": ("load any kernel module", "insmod"),
    "modprobe": ("load any kernel module", "modprobe -d"),
    "passwd": ("set any password, root's among them", "passwd root"),
    "chpasswd": ("set any password, root's among them", "chpasswd"),
    "usermod": ("put any account in any group", "usermod -aG sudo"),
    "useradd": ("create a second uid-0 account", "useradd -o -u 0"),
    "adduser": ("put any account in any group", "adduser you sudo"),
    "gpasswd": ("put any account in any group", "gpasswd -a you sudo"),
}

# Programs that write files: with free arguments they write /etc/sudoers.d or
# /etc/cron.d as root, and NOEXEC cannot stop a write.
WRITERS: dict[str, Effect] = {
    "tee": ("write any file", "tee /etc/sudoers.d/x"),
    "cp": ("overwrite any file", "cp over /etc/sudoers"),
    "mv": ("replace any file", "mv over /etc/shadow"),
    "dd": ("write any file", "of="),
    "install": ("put any file in place with any owner and mode", "install -m 4755"),
    "ln": ("put a link to your own file in place of any file", "ln -sf"),
    "chmod": ("make any file writable or setuid", "chmod u+s"),
    "chown": ("give you any file", "chown you /etc/sudoers.d"),
    "chgrp": ("give your group any file", "chgrp you /etc/sudoers.d"),
    "truncate": ("empty any file", "truncate -s0 /etc/shadow"),
    "rsync": ("overwrite any file", "rsync into /etc"),
    "tar": ("overwrite any file", "tar -x -C /"),
    "cpio": ("overwrite any file", "cpio -i"),
    "sed": ("write any file", "-i, w"),
    "sort": ("write any file", "-o"),
    "shuf": ("write any file", "-o"),
    "uniq": ("write any file", "uniq IN OUT"),
    "split": ("write files anywhere", "split IN /etc/cron.d/x"),
    "find": ("write files", "-fprintf"),
    "zip": ("write files anywhere", "--out"),
    "unzip": ("overwrite any file", "unzip -d /"),
    "wget": ("overwrite any file", "-O"),
    "curl": ("overwrite any file", "-o"),
    "openssl": ("write any file", "enc -out"),
    "git": ("overwrite any file", "git --work-tree=/ checkout"),
    "ssh-keygen": ("load a library of yours into itself", "-D"),
    "iconv": ("write any file", "-o"),
    "xxd": ("write any file", "xxd -r"),
    "patch": ("write any file", "patch"),
    "scp": ("overwrite any file", "scp to /etc"),
    "less": ("write any file", "-o with input from a pipe"),
    "sqlite3": ("write any file", ".output"),
    "socat": ("write any file", "FILE:"),
    "nmap": ("run Lua code of yours in-process", "--script"),
    "sshd": ("start a login server with your own settings", "-f, -o"),
    "borg": ("extract any file with any owner and mode", "borg extract, a setuid shell among them"),
    "restic": ("restore any file with any owner and mode", "restic restore --target /, a setuid shell among them"),
}

# Programs that start other programs: with free arguments they are root
# unless NOEXEC stops the exec.
ESCAPES: dict[str, Effect] = {
    "find": ("run programs", "-exec"),
    "tar": ("run programs", "--to-command, --checkpoint-action"),
    "rsync": ("run programs", "-e"),
    "zip": ("run programs", "-TT"),
    "ssh": ("run programs", "-o ProxyCommand"),
    "scp": ("run programs", "-S"),
    "sftp": ("run programs", "-S"),
    "git": ("run programs", "hooks, core.pager"),
    "make": ("run any command", "--eval"),
    "socat": ("run programs", "EXEC:"),
    "nmap": ("run programs", "os.execute in --script"),
    "sed": ("run programs", "the e command"),
    "sort": ("run programs", "--compress-program"),
    "split": ("run programs", "--filter"),
    "wget": ("run programs", "--use-askpass"),
    "tcpdump": ("run programs", "-z"),
    "openvpn": ("run programs", "--up"),
    "mail": ("run a shell", "~!"),
    "mailx": ("run a shell", "~!"),
    "mutt": ("run a shell", "!"),
    "psql": ("run a shell", "\\!"),
    "mysql": ("run a shell", "\\!"),
    "mariadb": ("run a shell", "\\!"),
    "sqlite3": ("run a shell", ".shell"),
    "rlwrap": ("run any program", "rlwrap /bin/sh"),
    "valgrind": ("run any program", "valgrind /bin/sh"),
    "dmesg": ("run a shell", "!sh in its pager"),
}

# Programs that start another program even with fixed arguments: a shell
# from a pager prompt, hooks and pagers of git, windows of screen.
EXEC_EVEN_FIXED: dict[str, Effect] = {
    "less": ("run a shell", "!sh"),
    "more": ("run a shell", "!sh"),
    "most": ("run a shell", "!sh"),
    "pg": ("run a shell", "!sh"),
    "man": ("run a shell", "!sh in its pager"),
    "journalctl": ("run a shell", "!sh in its pager"),
    "git": ("run programs", "its pager's !sh, hooks, core.fsmonitor"),
    "screen": ("start a shell", "a new window"),
    "tmux": ("start a shell", "a new window"),
}
PAGER_OFF: dict[str, frozenset[str]] = {  # fixed arguments that keep the pager closed
    "journalctl": frozenset({"--no-pager", "-f", "--follow"}),
    "man": frozenset({"-P", "--pager"}),
}

# Programs whose danger lies in some subcommands: with a fixed, listed first
# argument and free arguments after it, they can do only what that subcommand
# does (None: nothing root-equivalent; an effect: runs programs, NOEXEC stops it).
SUBCOMMANDS: dict[str, tuple[frozenset[str], Effect | None]] = {
    "borg": (frozenset({"list", "info"}), ("run programs", "--rsh, --remote-path")),
    "restic": (frozenset({"snapshots", "ls", "stats"}), ("run programs", "-o sftp.command, --password-command")),
    "systemctl": (frozenset({"start", "stop", "restart", "reload", "try-restart", "reload-or-restart", "is-active", "is-enabled", "is-failed"}), None),
}


@dataclass(frozen=True)
class Runner:
    """How a program that runs another one (``env CMD``, ``timeout 5 CMD``) finds it in its arguments."""

    values: frozenset[str] = frozenset()  # options followed by a value
    positionals: int = 0  # operands before the program (timeout's DURATION, chroot's NEWROOT)
    command: frozenset[str] = frozenset()  # options whose value is a shell command line (su -c)
    split: frozenset[str] = frozenset()  # options whose value is split into the command (env -S)
    shell: frozenset[str] = frozenset()  # options that start a shell (sudo -s)
    edit: frozenset[str] = frozenset()  # options that make it sudoedit (sudo -e)
    nothing: frozenset[str] = frozenset()  # options after which nothing is run (ionice -p, sudo -l)
    user: frozenset[str] = frozenset()  # options naming the account it runs as (sudo -u)
    user_operand: bool = False  # first operand is the account, the rest go to its shell (su root)
    program_operand: bool = True  # operands are a program (script's operand is its log file)
    bare_shell: bool = False  # with no program it starts a shell (chroot, unshare)
    assignments: bool = False  # NAME=VALUE operands are skipped (env)
    appends_input: bool = False  # the program gets more arguments from input (xargs)


def _f(*items: str) -> frozenset[str]:
    return frozenset(items)


RUNNERS: dict[str, Runner] = {
    "env": Runner(values=_f("-u", "--unset", "-C", "--chdir"), split=_f("-S", "--split-string"), assignments=True),
    "nice": Runner(values=_f("-n", "--adjustment")),
    "ionice": Runner(values=_f("-c", "--class", "-n", "--classdata"), nothing=_f("-p", "--pid", "-P", "--pgid", "-u", "--uid")),
    "timeout": Runner(values=_f("-s", "--signal", "-k", "--kill-after"), positionals=1),
    "nohup": Runner(),
    "xargs": Runner(values=_f("-a", "--arg-file", "-d", "--delimiter", "-E", "-I", "-L", "-n", "--max-args", "-P", "--max-procs", "-s", "--max-chars"), appends_input=True),
    "stdbuf": Runner(values=_f("-i", "-o", "-e", "--input", "--output", "--error")),
    "chroot": Runner(values=_f("--userspec", "--groups"), positionals=1, bare_shell=True),
    "taskset": Runner(positionals=1, nothing=_f("-p", "--pid")),
    "chrt": Runner(values=_f("-T", "-P", "-D", "--sched-runtime", "--sched-period", "--sched-deadline"), positionals=1, nothing=_f("-p", "--pid")),
    "setsid": Runner(),
    "strace": Runner(values=_f("-o", "--output", "-e", "-p", "-s", "-u", "-E", "-a", "-b", "-I", "-O", "-S", "-X", "-P")),
    "ltrace": Runner(values=_f("-o", "--output", "-e", "-p", "-s", "-u", "-a", "-A", "-D", "-F", "-l", "-L", "-n", "-x")),
    "time": Runner(values=_f("-o", "--output", "-f", "--format")),
    "watch": Runner(values=_f("-n", "--interval", "-q", "--equexit")),
    "flock": Runner(values=_f("-w", "--timeout", "-E", "--conflict-exit-code"), command=_f("-c", "--command"), positionals=1),
    "su": Runner(values=_f("-s", "--shell", "-g", "--group", "-G", "--supp-group", "-w", "--whitelist-environment"),
                 command=_f("-c", "--command", "--session-command"), user_operand=True, bare_shell=True),
    "runuser": Runner(values=_f("-s", "--shell", "-g", "--group", "-G", "--supp-group", "-w", "--whitelist-environment"),
                      command=_f("-c", "--command", "--session-command"), user=_f("-u", "--user"), user_operand=True, bare_shell=True),
    "setpriv": Runner(values=_f("--reuid", "--regid", "--ruid", "--rgid", "--euid", "--egid", "--groups", "--inh-caps", "--ambient-caps",
                                "--bounding-set", "--securebits", "--pdeathsig", "--selinux-label", "--apparmor-profile", "--landlock-access", "--landlock-rule")),
    "unshare": Runner(values=_f("--map-user", "--map-group", "--map-users", "--map-groups", "-S", "--setuid", "-G", "--setgid", "-R", "--root",
                                "-w", "--wd", "--propagation", "--setgroups"), bare_shell=True),
    "nsenter": Runner(values=_f("-t", "--target", "-S", "--setuid", "-G", "--setgid"), bare_shell=True),
    "sudo": Runner(values=_f("-u", "--user", "-g", "--group", "-C", "--close-from", "-D", "--chdir", "-h", "--host", "-p", "--prompt", "-r", "--role",
                             "-t", "--type", "-U", "--other-user", "-T", "--command-timeout", "-R", "--chroot"),
                   user=_f("-u", "--user"), shell=_f("-s", "--shell", "-i", "--login"), edit=_f("-e", "--edit"),
                   nothing=_f("-l", "--list", "-v", "--validate", "-K", "--remove-timestamp", "-V", "--version")),
    "doas": Runner(values=_f("-u"), user=_f("-u"), shell=_f("-s"), nothing=_f("-C")),
    "pkexec": Runner(values=_f("--user"), user=_f("--user"), bare_shell=True),
    "script": Runner(values=_f("-E", "--echo", "-B", "--log-io", "-I", "--log-in", "-O", "--log-out", "-T", "--log-timing", "-m", "--logging-format"),
                     command=_f("-c", "--command"), program_operand=False, bare_shell=True),
}
ROOT_NAMES = frozenset({"root", "#0", "0"})

_KNOWN = SHELLS | INTERPRETERS | set(EDITORS) | set(CONTROLLERS) | set(WRITERS) | set(ESCAPES) | set(EXEC_EVEN_FIXED) | set(RUNNERS) | {"sudoedit"}
_VERSIONED = re.compile(r"^(?P<name>[A-Za-z][A-Za-z_-]*?)[-_]?\d+(\.\d+)*[a-z]?$")
_WILD = frozenset("*?[")
_REGEX_META = frozenset(".[](){}*+?|^$")
_SUDOERS_ESCAPED = frozenset(",:=\\ ")


# -- reading a command ------------------------------------------------------------------------


@dataclass(frozen=True)
class Arg:
    """One argument of a sudoers command, unescaped; ``wild`` if it holds a wildcard."""

    text: str
    wild: bool = False


@dataclass(frozen=True)
class Args:
    """What a rule lets the program be given: ``free`` if anything at all, else exactly ``items`` (wildcards marked)."""

    items: tuple[Arg, ...] = ()
    unlimited: bool = False  # no argument list in the rule, or a regular expression

    @property
    def free(self) -> bool:
        return self.unlimited or any(a.wild for a in self.items)

    def texts(self) -> list[str]:
        return [a.text for a in self.items]


ANY = Args(unlimited=True)


def split_args(text: str) -> tuple[Arg, ...]:
    """Arguments as sudoers reads them: split at blanks, ``\\x`` is a literal x, ``* ? [`` are wildcards."""
    out: list[Arg] = []
    buf: list[str] = []
    wild, i = False, 0
    while i <= len(text):
        c = text[i] if i < len(text) else " "
        if c == "\\" and i + 1 < len(text):
            buf.append(text[i + 1])
            i += 2
            continue
        if c.isspace():
            if buf:
                out.append(Arg("".join(buf), wild))
            buf, wild = [], False
        else:
            wild = wild or c in _WILD
            buf.append(c)
        i += 1
    return tuple(out)


def _regex_literal(body: str) -> str | None:
    """The one string an anchored regex body matches, or None if it can match more than one."""
    out, i = [], 0
    while i < len(body):
        c = body[i]
        if c == "\\":
            if i + 1 >= len(body):
                return None
            n = body[i + 1]
            if n not in _REGEX_META and n not in _SUDOERS_ESCAPED and n != "/":
                return None  # \d, \s, \w... are classes
            out.append(n)
            i += 2
            continue
        if c in _REGEX_META:
            return None
        out.append(c)
        i += 1
    return "".join(out)


def parse_args(text: str) -> Args:
    """A rule's argument text → :class:`Args` (``""`` is no arguments; a non-literal regex is free)."""
    text = text.strip()
    if not text:
        return ANY
    if text == '""':
        return Args()
    if text.startswith("^") and text.endswith("$") and len(text) > 1:
        literal = _regex_literal(text[1:-1])
        if literal is None:
            return ANY
        return Args(tuple(Arg(t) for t in literal.split()))
    return Args(split_args(text))


def _split_command(command: str) -> tuple[str, str]:
    """``/usr/bin/find /srv -x`` → (``/usr/bin/find``, ``/srv -x``); the path may hold escaped blanks."""
    i = 0
    while i < len(command) and not command[i].isspace():
        i += 2 if command[i] == "\\" else 1
    return command[:i], command[i:].strip()


def program_name(path: str) -> str:
    """The name a table knows a program by: basename, without a Debian ``.tiny`` or a version suffix (``python3.11`` → python)."""
    base = posixpath.basename(path)
    for candidate in (base, base.split(".", 1)[0]):
        if candidate in _KNOWN:
            return candidate
        m = _VERSIONED.match(candidate)
        if m and m.group("name") in _KNOWN:
            return m.group("name")
    return base


# -- the same knowledge in Swedish -------------------------------------------------------------
# What a program can do (the verbs of the tables above) and the "how" hints that are words rather than
# commands; a hint not listed here is a command line and reads the same in both languages.

VERBS_SV: dict[str, str] = {
    "run any command": "köra vilket kommando som helst",
    "run any code in-process": "köra vilken kod som helst i sin egen process",
    "open and write any file": "öppna och skriva vilken fil som helst",
    "edit any file": "redigera vilken fil som helst",
    "start any command as a service": "starta vilket kommando som helst som en tjänst",
    "run any command through systemd": "köra vilket kommando som helst via systemd",
    "run any init script": "köra vilket init-skript som helst",
    "start a container with the host's / mounted": "starta en container med värdens / monterad",
    "start a privileged pod": "starta en privilegierad pod",
    "install a package of your own, whose scripts run as root": "installera ett eget paket, vars skript körs som root",
    "install a package of your own": "installera ett eget paket",
    "install a package of your own into the system Python": "installera ett eget paket i systemets Python",
    "install a snap of your own": "installera ett eget snap-paket",
    "schedule any command as root": "schemalägga vilket kommando som helst som root",
    "mount your own files over any directory": "montera egna filer över vilken katalog som helst",
    "load any kernel module": "ladda vilken kärnmodul som helst",
    "set any password, root's among them": "sätta vilket lösenord som helst, även roots",
    "put any account in any group": "lägga vilket konto som helst i vilken grupp som helst",
    "create a second uid-0 account": "skapa ett andra konto med uid 0",
    "write any file": "skriva vilken fil som helst",
    "overwrite any file": "skriva över vilken fil som helst",
    "replace any file": "ersätta vilken fil som helst",
    "put any file in place with any owner and mode": "placera vilken fil som helst med valfri ägare och valfria rättigheter",
    "put a link to your own file in place of any file": "ersätta vilken fil som helst med en länk till en egen fil",
    "make any file writable or setuid": "göra vilken fil som helst skrivbar eller setuid",
    "give you any file": "ge dig vilken fil som helst",
    "give your group any file": "ge din grupp vilken fil som helst",
    "empty any file": "tömma vilken fil som helst",
    "write files anywhere": "skriva filer var som helst",
    "write files": "skriva filer",
    "load a library of yours into itself": "ladda ett eget bibliotek i sig själv",
    "run Lua code of yours in-process": "köra egen Lua-kod i sin egen process",
    "start a login server with your own settings": "starta en inloggningsserver med egna inställningar",
    "extract any file with any owner and mode": "packa upp vilken fil som helst med valfri ägare och valfria rättigheter",
    "restore any file with any owner and mode": "återställa vilken fil som helst med valfri ägare och valfria rättigheter",
    "run programs": "köra program",
    "run a shell": "starta ett skal",
    "run any program": "köra vilket program som helst",
    "start a shell": "starta ett skal",
}
HOWS_SV: dict[str, str] = {
    "w in the directory you run sudo in": "w i katalogen där du kör sudo",
    "^O in the directory you run sudo in": "^O i katalogen där du kör sudo",
    "open, save": "öppna, spara",
    "get over /etc/sudoers": "get över /etc/sudoers",
    "cp over /etc/sudoers": "cp över /etc/sudoers",
    "mv over /etc/shadow": "mv över /etc/shadow",
    "rsync into /etc": "rsync till /etc",
    "scp to /etc": "scp till /etc",
    "-o with input from a pipe": "-o med indata från en pipe",
    "borg extract, a setuid shell among them": "borg extract, även ett setuid-skal",
    "restic restore --target /, a setuid shell among them": "restic restore --target /, även ett setuid-skal",
    "os.execute in --script": "os.execute i --script",
    "the e command": "kommandot e",
    "!sh in its pager": "!sh i dess pager",
    "its pager's !sh, hooks, core.fsmonitor": "dess pagers !sh, hooks, core.fsmonitor",
    "a new window": "ett nytt fönster",
    "-c, -e or a script of yours": "-c, -e eller ett eget skript",
}
SCOPES_SV = {"": "", "with any arguments": "med valfria argument", "with wildcards": "med jokertecken"}


def _how_sv(how: str) -> str:
    return HOWS_SV.get(how, how)


# -- judging ----------------------------------------------------------------------------------


def _same(text: str) -> Text:
    """A subject that is only a command line: the same in both languages."""
    return sv(text, text)


@dataclass(frozen=True)
class Verdict:
    """Why a command is root (``subject`` ``predicate``, each in English and Swedish), and whether NOEXEC would have stopped it."""

    subject: Text  # "find with any arguments"
    predicate: Text  # "can write files as root (-fprintf)"
    noexec_stops: bool

    @property
    def text(self) -> str:
        return f"{self.subject.en} {self.predicate.en}"

    @property
    def text_sv(self) -> str:
        return f"{self.subject.sv} {self.predicate.sv}"

    def via(self, runner: str) -> "Verdict":
        """The same danger reached through a runner: ``env runs find ..., which can ...`` (the runner's exec is what NOEXEC stops)."""
        return Verdict(sv(f"{runner} runs {self.subject.en},", f"{runner} kör {self.subject.sv},"),
                       sv(f"which {self.predicate.en}", f"som {self.predicate.sv}"), True)


def _can(prog: str, scope: str, effects: Sequence[Effect], noexec_stops: bool) -> Verdict:
    subject = sv(f"{prog} {scope}", f"{prog} {SCOPES_SV[scope]}") if scope else _same(prog)
    root = any("root" in verb for verb, _ in effects)
    as_root = "" if root else " as root"
    as_root_sv = "" if root else " som root"
    if len(effects) == 1:
        verb, how = effects[0]
        return Verdict(subject, sv(f"can {verb}{as_root} ({how})", f"kan {VERBS_SV[verb]}{as_root_sv} ({_how_sv(how)})"), noexec_stops)
    return Verdict(subject, sv("can " + " and ".join(f"{verb} ({how})" for verb, how in effects) + as_root,
                               "kan " + " och ".join(f"{VERBS_SV[verb]} ({_how_sv(how)})" for verb, how in effects) + as_root_sv), noexec_stops)


def _scope(args: Args) -> str:
    return "with any arguments" if args.free else ""


_READS_INPUT = sv("reads commands from your input and runs them as root", "läser kommandon från din inmatning och kör dem som root")


def _runs_from_cwd(name: str) -> Text:
    return sv(f"runs {name} from the directory you run sudo in, as root", f"kör {name} från katalogen där du kör sudo, som root")


def _code_given(name: str, args: Args) -> Text | None:
    """For a shell or interpreter with fixed arguments: None if they run fixed code, else what is wrong."""
    shell = name in SHELLS
    interactive = {"-", "-i", "--interactive"} | ({"-s"} if shell else set())
    code_flags = ("-c",) if shell else ("-c", "-e", "-E", "-r", "-m", "-f")
    texts = args.texts()
    for i, t in enumerate(texts):
        if t in interactive:
            return _READS_INPUT
        if t.startswith("-") and (t[:2] in code_flags or t in ("--command", "--eval")):
            if name in CWD_IMPORTS and t[:2] in ("-c", "-m") and not {"-I", "-P"} & set(texts[:i]):
                return sv("imports modules from the directory you run sudo in, as root (-c, -m without -I)",
                          "importerar moduler från katalogen där du kör sudo, som root (-c, -m utan -I)")
            if t == "-f" and i + 1 < len(texts) and not texts[i + 1].startswith("/"):
                return _runs_from_cwd(texts[i + 1])
            return None
        if not t.startswith("-"):
            if name in NO_REPL or t.startswith("/"):
                return None  # awk's first operand is its program text; an absolute path is a fixed script
            return _runs_from_cwd(t)
    return None if name in NO_REPL else _READS_INPUT


def _find_exec(args: Args, noexec: bool, depth: int) -> Verdict | None:
    """find with fixed arguments: what its -exec/-ok runs ({} is a found name, so a wildcard)."""
    if noexec:
        return None
    items = list(args.items)
    for i, a in enumerate(items):
        if a.text in ("-exec", "-execdir", "-ok", "-okdir") and i + 1 < len(items):
            inner: list[Arg] = []
            for b in items[i + 2:]:
                if b.text in (";", "+"):
                    break
                inner.append(Arg("*", True) if "{}" in b.text else b)
            got = _judge(items[i + 1].text, Args(tuple(inner)), noexec, depth + 1) if not items[i + 1].wild else None
            if got is not None:
                return got.via(f"find {a.text}")
    return None


def _systemctl(args: Args, noexec: bool, depth: int) -> Verdict | None:
    texts = args.texts()
    verb = next((t for t in texts if not t.startswith("-")), "list-units")
    if noexec:
        return None
    if verb == "edit":
        return Verdict(_same("systemctl edit"), sv("can write any file as root in an editor", "kan skriva vilken fil som helst som root i en editor"), True)
    if "--no-pager" not in texts and (verb in ("status", "show", "cat", "help", "list-dependencies") or verb.startswith("list-")):
        return Verdict(_same(f"systemctl {verb}"), sv("shows its output in a pager (less), which can run a shell as root (!sh)",
                                                      "visar sin utdata i en pager (less), som kan starta ett skal som root (!sh)"), True)
    return None


def _crontab(args: Args, noexec: bool, depth: int) -> Verdict | None:
    texts = args.texts()
    if "-" in texts:
        return Verdict(_same("crontab -"), sv("installs root's crontab from your input", "installerar roots crontab från din inmatning"), False)
    if "-e" in texts and not noexec:
        return Verdict(_same("crontab -e"), sv("edits root's crontab in an editor", "redigerar roots crontab i en editor"), True)
    return None


def _at(args: Args, noexec: bool, depth: int) -> Verdict | None:
    if any(t in ("-f", "-l", "-d", "-r", "-c", "-V") or t.startswith("-f") for t in args.texts()):
        return None
    return Verdict(_same(" ".join(["at", *args.texts()])), sv("reads a job from your input and runs it as root", "läser ett jobb från din inmatning och kör det som root"), False)


def _make(args: Args, noexec: bool, depth: int) -> Verdict | None:
    texts = args.texts()
    if noexec or any(t in ("-C", "-f", "--directory", "--file", "--makefile") or t.startswith(("-C", "-f", "--directory=", "--file=", "--makefile=")) for t in texts):
        return None
    return Verdict(_same(" ".join(["make", *args.texts()])), sv("runs the Makefile of the directory you run sudo in, as root",
                                                              "kör Makefile i katalogen där du kör sudo, som root"), True)


def _passwd(args: Args, noexec: bool, depth: int) -> Verdict | None:
    texts = args.texts()
    if any(t in ("-S", "--status", "-l", "--lock", "-e", "--expire", "-a", "--all") for t in texts):
        return None
    users = [t for t in texts if not t.startswith("-")]
    if not users or users[-1] in ROOT_NAMES:
        return Verdict(_same(" ".join(["passwd", *args.texts()])), sv("sets root's password", "sätter roots lösenord"), False)
    return None


FIXED_ARGS: dict[str, Callable[[Args, bool, int], Verdict | None]] = {
    "find": _find_exec, "systemctl": _systemctl, "crontab": _crontab, "at": _at, "make": _make, "passwd": _passwd,
}


def _run_via(runner_name: str, runner: Runner, args: Args, noexec: bool, depth: int) -> Verdict | None:
    """What a runner (env, timeout, su, sudo...) runs with these arguments."""
    if noexec:
        return None  # it would exec the program, which NOEXEC refuses
    anything = _can(runner_name, "with any arguments", [("run any program", f"{runner_name} /bin/sh")], True)
    if args.unlimited:
        return anything
    items = list(args.items)
    user: str | None = None
    shell = False
    i = 0
    while i < len(items):
        a = items[i]
        t = a.text
        if a.wild:
            return anything  # a wildcard before the program can be any program (* matches blanks)
        if t == "--":
            i += 1
            break
        if t.startswith("-"):
            name, eq, attached = t.partition("=") if t.startswith("--") else (t, "", "")
            value: Arg | None = Arg(attached) if eq else None
            takes = name in runner.values or name in runner.command or name in runner.split
            if takes and value is None:
                if i + 1 >= len(items):
                    return None
                value = items[i + 1]
                i += 1
            if value is not None and value.wild:
                return anything
            if name in runner.nothing:
                return None
            if name in runner.edit:
                return _as(user, _judge("sudoedit", Args(tuple(items[i + 1:])), noexec, depth + 1), runner_name)
            if name in runner.shell:
                shell = True
            if name in runner.user and value is not None:
                user = value.text
            if name in runner.command and value is not None:
                return _as(user, _judge("sh", Args((Arg("-c"), value)), noexec, depth + 1), runner_name)
            if name in runner.split and value is not None:
                try:
                    items[i + 1:i + 1] = [Arg(word) for word in shlex.split(value.text)]
                except ValueError:
                    return anything
            i += 1
            continue
        if runner.assignments and "=" in t and not t.startswith("/"):
            i += 1
            continue
        break
    rest = items[i:]
    positionals = runner.positionals
    while positionals and rest:
        if rest[0].wild:
            return anything
        rest, positionals = rest[1:], positionals - 1
    if runner.user_operand and user is None and rest and not rest[0].text.startswith("-"):
        user, rest = rest[0].text, rest[1:]
        if rest:  # su root ARGS: the arguments go to root's shell
            return _as(user, _judge("sh", Args(tuple(rest)), noexec, depth + 1), runner_name)
    if user is not None and user not in ROOT_NAMES:
        return None  # it runs as another account, not root
    if not runner.program_operand:
        rest = []  # its operands are files (script's log), not a program
    if not rest:
        if shell or runner.bare_shell:
            return Verdict(_same(" ".join([runner_name, *args.texts()])), sv("starts a root shell", "startar ett skal som root"), True)
        return None
    program = rest[0]
    if program.wild:
        return anything
    inner = Args(tuple(rest[1:]) + ((Arg("*", True),) if runner.appends_input else ()))
    return _as(user, _judge(program.text, inner, noexec, depth + 1), runner_name)


def _as(user: str | None, got: Verdict | None, runner_name: str) -> Verdict | None:
    if got is None or (user is not None and user not in ROOT_NAMES):
        return None
    return got.via(runner_name)


def _judge(path: str, args: Args, noexec: bool, depth: int = 0) -> Verdict | None:
    """The verdict on one program with these arguments under this NOEXEC (None: not root)."""
    if depth > 8:
        return Verdict(_same(path), sv("nests runners too deeply to judge", "kedjar för många program som startar varandra för att kunna bedömas"), False)
    name, shown, free = program_name(path), posixpath.basename(path), args.free
    if name in SHELLS or name in INTERPRETERS:
        if free:
            verb, how = ("run any command", f"{shown} -c") if name in SHELLS else ("run any code in-process", INTERPRETER_HOW)
            return _can(shown, "with any arguments", [(verb, how)], False)
        if name == "gdb" and not {"-batch", "--batch"} & set(args.texts()):
            return Verdict(_same(" ".join([shown, *args.texts()])), sv("is interactive: it can run any command as root (shell, python)",
                                                                       "är interaktiv: den kan köra vilket kommando som helst som root (shell, python)"), False)
        wrong = _code_given(name, args)
        if wrong is None:
            return None
        if args.texts():
            return Verdict(_same(" ".join([shown, *args.texts()])), wrong, False)
        return Verdict(sv(f"{shown} without arguments", f"{shown} utan argument"), wrong, False)
    if name in EDITORS:
        return _can(shown, _scope(args), [("open and write any file", EDITORS[name])], False)
    if name == "sudoedit":
        return _can(shown, "with wildcards", [("edit any file", "/etc/sudoers, /etc/shadow")], False) if free else None
    if name in RUNNERS:
        return _run_via(shown, RUNNERS[name], args, noexec, depth)
    if free and name in SUBCOMMANDS and args.items and not args.items[0].wild and args.items[0].text in SUBCOMMANDS[name][0]:
        effect = SUBCOMMANDS[name][1]
        if effect is None or noexec:
            return None
        return _can(f"{shown} {args.items[0].text}", "with any arguments", [effect], True)
    if free:
        if name in CONTROLLERS:
            return _can(shown, "with any arguments", [CONTROLLERS[name]], False)
        if name in WRITERS:
            effects = [WRITERS[name]] if noexec or name not in ESCAPES else [ESCAPES[name], WRITERS[name]]
            return _can(shown, "with any arguments", effects, False)
        if name in ESCAPES and not noexec:
            return _can(shown, "with any arguments", [ESCAPES[name]], True)
    if name in EXEC_EVEN_FIXED and not noexec:
        if set(args.texts()) & PAGER_OFF.get(name, frozenset()):
            return None
        return _can(shown, _scope(args), [EXEC_EVEN_FIXED[name]], True)
    if not free and name in FIXED_ARGS:
        return FIXED_ARGS[name](args, noexec, depth)
    return None


def _glob_matches(pattern: str) -> list[str]:
    """Known programs a wildcard program name can stand for (``/usr/bin/py*`` → python...)."""
    base = posixpath.basename(pattern)
    return sorted((n for n in _KNOWN if fnmatchcase(n, base) or fnmatchcase(n + "3", base)), key=lambda n: (n not in SHELLS, n))


def noexec_in_force(tags: Mapping[str, bool] | None, noexec_default: bool = False) -> bool:
    """NOEXEC tag, else ``Defaults noexec`` unless an EXEC tag overrides it."""
    exec_tag = (tags or {}).get("EXEC")
    return exec_tag is False or (noexec_default and exec_tag is not True)


def root_reason(command: str, tags: Mapping[str, bool] | None = None, noexec_default: bool = False) -> str | None:
    """Why ``command`` (a sudoers Cmnd as the parser stores it) makes its holder root; None if it does not.

    ``tags`` are the rule's tags for it (``{"EXEC": False}`` is NOEXEC);
    ``noexec_default`` says whether a ``Defaults noexec`` applies to it.
    """
    reason = root_reason_text(command, tags, noexec_default)
    return None if reason is None else reason.en


def root_reason_text(command: str, tags: Mapping[str, bool] | None = None, noexec_default: bool = False) -> Text | None:
    """:func:`root_reason` in English and Swedish."""
    command = command.strip()
    noexec = noexec_in_force(tags, noexec_default)
    if command.startswith("!"):
        return None  # a negated command is a denial, not a grant
    if command == "ALL":
        return _finish(Verdict(_same("ALL"), sv("is every command as root", "är alla kommandon som root"), False), noexec)
    path, rest = _split_command(command)
    if path.endswith("/"):
        return _finish(Verdict(_same(path), sv("allows every program in that directory with any arguments, shells among them",
                                               "tillåter alla program i katalogen med valfria argument, även skal"), False), noexec)
    if path.startswith("^") or any(c in _WILD for c in posixpath.dirname(path)):
        return _finish(Verdict(_same(path), sv("is a pattern for the program path, which can name a shell",
                                               "är ett mönster för programmets sökväg, som kan ange ett skal"), False), noexec)
    if any(c in _WILD for c in path):
        for candidate in _glob_matches(path):
            got = _judge(candidate, parse_args(rest), noexec)
            if got is not None:
                return _finish(Verdict(sv(f"{path} can name {candidate}:", f"{path} kan ange {candidate}:"), sv(got.text, got.text_sv), got.noexec_stops), noexec)
        return None
    got = _judge(path.replace("\\", ""), parse_args(rest), noexec)
    return _finish(got, noexec) if got is not None else None


def _finish(got: Verdict, noexec: bool) -> Text:
    if noexec and not got.noexec_stops:
        return sv(got.text + ", NOEXEC does not stop that", got.text_sv + ", NOEXEC hindrar inte det")
    if not noexec and got.noexec_stops:
        return sv(got.text + " (NOEXEC would stop that)", got.text_sv + " (NOEXEC skulle hindra det)")
    return sv(got.text, got.text_sv)


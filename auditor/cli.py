"""Command line: ``auditor run | plan | merge | validate | sudoers | controls | verify | render | diff | history | keygen | import | known-hosts``.

Exit codes (also in README and ``auditor --help``):

  0  compliant: every finding passed (or was skipped with a reason)
  1  violations: at least one failed finding at or above --fail-on
  2  bad input or usage: inventory, policy or flags are wrong; nothing audited
  3  could not verify: no violation at/above --fail-on, but some findings are errors
 70  internal error (a bug in auditor; please report it)
130  interrupted (Ctrl-C); the partial report is still written, marked incomplete
143  stopped by SIGTERM (e.g. systemd stopping the unit); the partial report is written, as for 130
"""

from __future__ import annotations

import argparse
import contextlib
import json
import logging
import math
import os
import sys
import traceback
from importlib import resources
from typing import Any, Callable, Mapping, Sequence, TextIO

from . import __version__
from .console import finding_lines, terminal
from .errors import InputError, Problem
from .inventory import load_inventory
from .model import FAMILIES, Severity, Status
from .policy import DEFAULT_POLICY, builtin_policies, load_policy
from .redact import mask_credentials
from .registry import Registry, RegistryError
from .folders import newest_report, point_latest, prune, unusable_out, write_with_free_name
from .integrity import PASSPHRASE_ENV, key_id, load_private_key, write_atomic
from .report import FORMATS, RENDERERS, run_document, write_report
from .report.i18n import LANGUAGES
from .runner import RunOptions, Runner, make_plan
from .signals import StopSignals
from .timeutil import utc_now
from .transports import ConnectOptions
from .yamlsrc import LIMITS_HELP

EXIT_OK, EXIT_VIOLATIONS, EXIT_USAGE, EXIT_UNVERIFIED, EXIT_INTERNAL, EXIT_INTERRUPTED = 0, 1, 2, 3, 70, 130

EXIT_CODES_HELP = """exit codes:
  0    compliant: every finding passed (or was skipped with a reason)
  1    violations: a finding failed at or above --fail-on
  2    bad input or usage: inventory, policy or flags are wrong; nothing was audited
  3    could not verify: no violation at or above --fail-on, but some findings are errors
  70   internal error in auditor (a bug: please report it with the message)
  130  interrupted (Ctrl-C): the partial report is written and marked incomplete
  143  stopped by SIGTERM: as 130
"""

MAIN_HELP = """\
Audit a hosting environment against the promises of its privacy policy.

auditor reads an inventory (servers, web endpoints, mail, databases, backups,
cloud accounts, sub-processors), probes each target read-only, judges the
facts against a policy and writes an evidence report: HTML for people, JSON
for machines, JUnit XML for CI, Markdown for job summaries.

examples:
  auditor run                               audit this machine (bundled inventory)
  auditor run inventories/prod.yaml --policy webbplats-nu --lang sv
  auditor run prod.yaml --only access --limit web1 --fail-on high
  auditor run prod.yaml --waivers waivers.yaml --sign audit.key --keep 30 --baseline previous
  auditor validate prod.yaml                check an inventory without contacting anything
  auditor sudoers prod.yaml > auditor.sudoers
                                            the audit account's exact sudo rules (visudo -cf it)
  auditor controls                          list every control
  auditor verify reports/latest --key audit.key.pub
                                            prove a report folder was not altered
  auditor diff reports/20261101T020000Z reports/latest
                                            what changed between two runs
  auditor history                           pass/fail/error per family over time
"""


def _examples(*lines: str) -> str:
    """An ``examples:`` epilog section; each line an `auditor ...` command (parsed by the tests), ``# what it does`` after it."""
    return "examples:\n" + "".join(f"  {line}\n" for line in lines)


RUN_EXAMPLES = _examples(
    "auditor run                                       # this machine: the bundled inventory, policy baseline-eu",
    "auditor run inventories/example-webbplats-nu.yaml --policy webbplats-nu --lang en",
    "auditor run prod.yaml --only access,tls --limit web1 --fail-on high",
    "auditor run prod.yaml --waivers waivers.yaml --sign /etc/auditor/signing.key --keep 90 --baseline previous   # nightly",
    "auditor run prod.yaml --shard 2/4 --out shard-2 --no-history   # the 2nd of 4 slices of the fleet (then auditor merge)",
)
MERGE_EXAMPLES = _examples(
    "auditor merge shard-1/latest shard-2/latest shard-3/latest --out reports",
    "auditor merge shards/*/2026* --key signing.key.pub --sign signing.key --baseline previous   # nightly, signed",
    "auditor merge shard-*/latest --out merged --format json,md --fail-on high --no-history",
)
VALIDATE_EXAMPLES = _examples(
    "auditor validate                                  # the bundled inventory and policy baseline-eu",
    "auditor validate inventories/example-webbplats-nu.yaml --policy webbplats-nu",
    "auditor validate prod.yaml --waivers waivers.yaml # also the waiver file",
)
VERIFY_EXAMPLES = _examples(
    "auditor verify reports/latest                     # digests, and that the reports render run.json",
    "auditor verify reports/20261121T155320Z --key /etc/auditor/signing.key.pub   # and signed by that key",
)
RENDER_EXAMPLES = _examples(
    "auditor render reports/latest --check             # are the reports the rendering of run.json?",
    "auditor render reports/latest/run.json --lang en --out report-en",
    "auditor render reports/latest --format html,md --out /tmp/rerendered",
)
DIFF_EXAMPLES = _examples(
    "auditor diff reports/20261101T020000Z reports/latest",
    "auditor diff baseline/run.json reports/latest --format md   # a table for a CI job summary",
    "auditor diff reports/baseline reports/latest --fail-on any-violations --min-severity high",
)
HISTORY_EXAMPLES = _examples(
    "auditor history                                   # runs in reports/history.sqlite, newest first",
    "auditor history --inventory production --family access --limit 5",
    "auditor history --history postgresql://audit@db.example.se/audit --json",
)
SUDOERS_EXAMPLES = _examples(
    "auditor sudoers inventories/prod.yaml > auditor.sudoers && visudo -cf auditor.sudoers",
    "auditor sudoers prod.yaml --limit web --user audit  # only the web group, for the account audit",
    "sudo install -o root -g root -m 0440 auditor.sudoers /etc/sudoers.d/auditor   # on each server",
)
KEYGEN_EXAMPLES = _examples(
    "auditor keygen /etc/auditor/signing.key           # signing.key (0600) and signing.key.pub",
    "auditor keygen signing.key --force                # replace an existing pair",
    f"{PASSPHRASE_ENV}=... auditor keygen signing.key   # encrypted with that passphrase",
)
CONTROLS_EXAMPLES = _examples(
    "auditor controls                                  # every control: family, severity, target kinds, title",
    "auditor controls --family access",
    "auditor controls --parameters --json              # policy parameters and their defaults",
)


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> None:  # usage errors: exit 2, one clear line
        self.print_usage(sys.stderr)
        print(f"auditor: error: {message}", file=sys.stderr)
        raise SystemExit(EXIT_USAGE)


PLAN_EXAMPLES = """examples:
  auditor plan plan.json                            # terraform show -json tfplan > plan.json, then judge it
  auditor plan plan.json --inventory prod.yaml --account production --policy webbplats-nu --format junit,md
  auditor plan plan.json --baseline previous --out plan-reports   # fail only on what this change adds
"""

DESCRIPTION = """\
Judge a Terraform (or OpenTofu) plan with the AWS controls of `auditor run`, before it is applied:
the facts are built from the planned resources of PLAN.json, the JSON that `terraform show -json PLANFILE`
writes (format_version 1.x). Findings name each resource by its Terraform address; a value known only after
apply is never a pass (error: decided at apply time). Resources the plan destroys are not judged; replaced
ones are judged as planned. The report folder is that of `auditor run` (run.json, report.html, junit.xml,
summary.md), so `auditor diff` compares two plans and --baseline gates only what a change adds.

The inventory's aws: entry (--inventory, --account) declares what a plan cannot know: which buckets hold
backups (backup_buckets) and bookkeeping records (bookkeeping_buckets)."""


def build_parser() -> argparse.ArgumentParser:
    fmt = argparse.RawDescriptionHelpFormatter
    parser = _Parser(prog="auditor", description=MAIN_HELP, epilog=EXIT_CODES_HELP + "\n" + LIMITS_HELP, formatter_class=fmt)
    parser.add_argument("--version", action="version", version=f"auditor {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)

    run = sub.add_parser(
        "run", help="audit the targets of an inventory and write a report", formatter_class=fmt, epilog=RUN_EXAMPLES + "\n" + EXIT_CODES_HELP,
        description="Probe every target of INVENTORY (read-only), evaluate the policy's controls and write\n"
        "reports/<UTC timestamp>/{run.json, report.html, junit.xml, summary.md, manifest.json}.\n"
        "Without INVENTORY, the bundled inventory audits this machine (run as root for a complete audit).",
    )
    run.add_argument("inventory", nargs="?", help="inventory YAML file (default: the bundled localhost inventory)")
    _policy_arg(run)
    run.add_argument("--only", action="append", default=[], metavar="FAMILY|CONTROL", help=f"run only these families ({', '.join(FAMILIES)}) or control ids (globs allowed); repeat or comma-separate")
    run.add_argument("--limit", action="append", default=[], metavar="TARGET|TAG|GROUP", help="audit only matching targets (name, kind:name, tag or group; globs allowed); repeat or comma-separate")
    run.add_argument("--format", default=",".join(FORMATS), metavar="LIST", help=f"report formats, comma-separated from {', '.join(FORMATS)} (run.json and manifest.json are always written; default: all)")
    run.add_argument("--out", default="reports", metavar="DIR", help="folder that receives the report folder (default: ./reports)")
    run.add_argument("--fail-on", default="low", choices=[*(s.value for s in Severity), "none"], help="lowest severity of a failed finding that makes the exit code 1 (default: low; none: never)")
    run.add_argument("--concurrency", type=_positive_int, default=16, metavar="N", help="targets audited at the same time (default: 16)")
    run.add_argument("--timeout", type=_positive_float, metavar="SECONDS", help="time allowed to each fact collector (default: the collector's own, usually 15-60 s)")
    run.add_argument("--host-timeout", type=_positive_float, default=600.0, metavar="SECONDS", help="total time allowed to one target; what is left when it runs out is reported as error (default: 600)")
    run.add_argument("--connect-timeout", type=_positive_float, default=10.0, metavar="SECONDS", help="time allowed to each SSH connection step: TCP connect, handshake, authentication (default: 10)")
    run.add_argument("--known-hosts", metavar="FILE", help="known_hosts file for servers whose inventory entry names none (default: ~/.ssh/known_hosts); never written to")
    run.add_argument("--trust-on-first-use", action="store_true",
                     help="accept the SSH host key of a server that known_hosts does not list yet (a changed key is always refused); "
                     "every key accepted this way is recorded in the report as not verified")
    run.add_argument("--waivers", metavar="FILE", help="waivers.yaml: accepted exceptions (control, target pattern, justification, approver, expiry); "
                     "checked before anything is contacted; see docs/waivers.md")
    run.add_argument("--lang", choices=LANGUAGES, help="language of the HTML and Markdown reports (default: the policy's language if sv or en, else en)")
    run.add_argument("--sign", metavar="KEY", help="sign the report's manifest with this Ed25519 private key (from `auditor keygen`; "
                     f"an encrypted key reads its passphrase from ${PASSPHRASE_ENV})")
    run.add_argument("--history", metavar="PATH|URL", help="run history database: a SQLite file or a postgresql:// URL (default: OUT/history.sqlite)")
    run.add_argument("--no-history", action="store_true", help="do not record this run in the history database (the report then shows no trend)")
    run.add_argument("--keep", type=_positive_int, metavar="N", help="after writing, keep only the newest N report folders in OUT (older ones are deleted)")
    run.add_argument("--baseline", metavar="DIR|previous",
                     help="compare with an earlier report folder (previous: the newest one in OUT before this run) and exit 1 only on NEW violations "
                     "(3 on new errors); prints the difference")
    run.add_argument("--shard", type=_shard_arg, metavar="I/N",
                     help="audit only the I-th of N stable slices of the selected targets (by a hash of each target id: the same target is always "
                     "in the same shard for the same N, whatever the order of the file); merge the N report folders with `auditor merge`")
    run.add_argument("--quiet", "-q", action="store_true", help="print only the report path and the exit reason")
    run.add_argument("--no-progress", action="store_true", help="no progress line even on a terminal")

    mer = sub.add_parser("merge", help="merge the report folders of `auditor run --shard I/N` into one run", formatter_class=fmt, epilog=MERGE_EXAMPLES + "\n" + EXIT_CODES_HELP,
                         description="Verify each shard's report folder (every digest; the signature with --key), check that the shards are\n"
                         "the N parts of one audit (same inventory digest, policy, options, auditor version and shard count;\n"
                         "each shard once, none missing) and write one report folder OUT/<UTC timestamp> whose findings are\n"
                         "those of the unsharded run. Exit codes as for `auditor run`, judged on the merged run.")
    mer.add_argument("shards", nargs="+", metavar="SHARD_DIR", help="the report folder of each shard (e.g. shard-1/latest)")
    mer.add_argument("--key", metavar="PUB", help="every shard must be signed with this key (the .pub file of `auditor keygen`, or an ssh-ed25519 line)")
    mer.add_argument("--out", default="reports", metavar="DIR", help="folder that receives the merged report folder (default: ./reports)")
    mer.add_argument("--format", default=",".join(FORMATS), metavar="LIST", help=f"report formats, comma-separated from {', '.join(FORMATS)} (default: all)")
    mer.add_argument("--fail-on", default="low", choices=[*(s.value for s in Severity), "none"], help="lowest severity of a failed finding that makes the exit code 1 (default: low; none: never)")
    mer.add_argument("--lang", choices=LANGUAGES, help="language of the HTML and Markdown reports (default: the shards' own)")
    mer.add_argument("--sign", metavar="KEY", help=f"sign the merged report's manifest with this Ed25519 private key (passphrase from ${PASSPHRASE_ENV})")
    mer.add_argument("--history", metavar="PATH|URL", help="run history database: a SQLite file or a postgresql:// URL (default: OUT/history.sqlite)")
    mer.add_argument("--no-history", action="store_true", help="do not record the merged run in the history database")
    mer.add_argument("--keep", type=_positive_int, metavar="N", help="after writing, keep only the newest N report folders in OUT")
    mer.add_argument("--baseline", metavar="DIR|previous", help="compare with an earlier report folder (previous: the newest in OUT) and exit 1 only on NEW violations (3 on new errors)")
    mer.add_argument("--quiet", "-q", action="store_true", help="print only the report path and the exit reason")

    val = sub.add_parser("validate", help="check an inventory (and policy) without contacting any target", formatter_class=fmt, epilog=VALIDATE_EXAMPLES + "\n" + EXIT_CODES_HELP + "\n" + LIMITS_HELP,
                         description="Load and validate INVENTORY and the policy; print every problem with file:line:column.\nExit 0 when valid, 2 when not.")
    val.add_argument("inventory", nargs="?", help="inventory YAML file (default: the bundled localhost inventory)")
    _policy_arg(val)
    val.add_argument("--waivers", metavar="FILE", help="also check this waivers.yaml")

    ver = sub.add_parser("verify", help="check that a report folder was not altered (digests and signature)", formatter_class=fmt, epilog=VERIFY_EXAMPLES,
                         description="Recompute the digest of every file, fact, finding and section of a report folder, check the\n"
                         "signature (manifest.sig) and that the reports are the rendering of run.json. Names every altered item.\n\n"
                         "exit codes: 0 intact (and signed by KEY when --key is given), 1 altered or not signed as required, 2 usage")
    ver.add_argument("folder", metavar="REPORT_DIR", help="a report folder (reports/<timestamp> or reports/latest)")
    ver.add_argument("--key", metavar="PUB", help="the public key the report must be signed with (the .pub file of `auditor keygen`, or an ssh-ed25519 line)")

    ren = sub.add_parser("render", help="re-render the HTML, JUnit and Markdown reports of a stored run.json", formatter_class=fmt, epilog=RENDER_EXAMPLES,
                         description="Render the reports of a stored run again, from run.json alone. With the same auditor version the\n"
                         "result is byte for byte the report written by the run.\n\n"
                         "exit codes: 0 written (or identical with --check), 1 --check found a difference, 2 usage")
    ren.add_argument("run", metavar="RUN", help="run.json, or the report folder holding it")
    ren.add_argument("--out", metavar="DIR", help="folder to write into (default: the folder of RUN; files there are only replaced by identical content unless --lang changes)")
    ren.add_argument("--format", default=",".join(RENDERERS), metavar="LIST", help=f"comma-separated from {', '.join(RENDERERS)} (default: all)")
    ren.add_argument("--lang", choices=LANGUAGES, help="render in this language instead of the run's own")
    ren.add_argument("--check", action="store_true", help="write nothing; compare the renderings with the files in the run's folder")

    dif = sub.add_parser("diff", help="compare two runs: new violations, fixed, still open, new errors", formatter_class=fmt, epilog=DIFF_EXAMPLES,
                         description="Compare two runs (report folders or run.json files), OLD first.\n\n"
                         "exit codes (--fail-on): new-violations (default) 1 when NEW has a violation OLD did not have; new-findings also 3 on new errors;\n"
                         "any-violations 1 when NEW has any violation; never 0. 2 on bad input.")
    dif.add_argument("old", metavar="OLD")
    dif.add_argument("new", metavar="NEW")
    dif.add_argument("--format", choices=("text", "json", "md"), default="text", help="output format (default: text; md suits a CI job summary)")
    dif.add_argument("--fail-on", choices=("new-violations", "new-findings", "any-violations", "never"), default="new-violations", help="what makes the exit code non-zero (default: new-violations)")
    dif.add_argument("--min-severity", choices=[s.value for s in Severity], default="low", help="ignore violations below this severity for the exit code (default: low)")

    his = sub.add_parser("history", help="pass/fail/error per family over the recorded runs", formatter_class=fmt, epilog=HISTORY_EXAMPLES,
                         description="Show the runs recorded in the history database, newest first, with per-family pass/fail/error counts.")
    his.add_argument("--history", metavar="PATH|URL", help="history database (default: reports/history.sqlite)")
    his.add_argument("--inventory", metavar="NAME", help="only runs of this inventory (its name)")
    his.add_argument("--policy", metavar="ID", help="only runs with this policy id")
    his.add_argument("--family", choices=FAMILIES, help="only this family")
    his.add_argument("--limit", type=_positive_int, default=20, metavar="N", help="how many runs (default: 20)")
    his.add_argument("--json", action="store_true", help="machine-readable output")

    sud = sub.add_parser("sudoers", help="print the sudoers drop-in that grants exactly the audit's read commands", formatter_class=fmt,
                         description="Print a sudoers drop-in for the audit account of INVENTORY's servers (those with sudo: true):\n"
                         "the exact commands the audit runs as root (the shared find and cat, sshd -T, backup tools),\n"
                         "NOPASSWD:NOEXEC, one Cmnd_Alias per group of servers whose paths differ, env_keep only where a\n"
                         "backup passphrase needs it. No shell, no env, no wildcard: the audit account cannot become root\n"
                         "through it. Nothing is contacted.",
                         epilog=SUDOERS_EXAMPLES)
    sud.add_argument("inventory", nargs="?", help="inventory YAML file (default: the bundled localhost inventory)")
    sud.add_argument("--user", metavar="NAME", help="the audit account (default: each server's user: from the inventory)")
    sud.add_argument("--limit", action="append", default=[], metavar="TARGET|TAG|GROUP", help="only these servers (as for run)")
    _policy_arg(sud)

    key = sub.add_parser("keygen", help="make an Ed25519 key pair for signing reports", formatter_class=fmt, epilog=KEYGEN_EXAMPLES,
                         description="Write a new Ed25519 private key to PATH (mode 0600) and its public key to PATH.pub.\n"
                         f"With ${PASSPHRASE_ENV} set, the private key is encrypted with it.\n"
                         "Keep the private key on the audit host only; give the .pub file to whoever verifies reports.")
    key.add_argument("path", metavar="PATH", nargs="?", default="auditor-signing.key", help="private key file (default: ./auditor-signing.key)")
    key.add_argument("--force", action="store_true", help="replace an existing key pair")

    ctl = sub.add_parser("controls", help="list the controls, their family, severity and target kinds", formatter_class=fmt, epilog=CONTROLS_EXAMPLES)
    ctl.add_argument("--family", choices=FAMILIES, help="only this family")
    ctl.add_argument("--parameters", action="store_true", help="list the policy parameters with their defaults instead")
    ctl.add_argument("--json", action="store_true", help="machine-readable output")

    from .importers.command import add_parsers

    add_parsers(sub, fmt, _positive_float)  # import, known-hosts
    _add_plan_parser(sub, fmt)
    return parser


def _policy_arg(p: argparse.ArgumentParser) -> None:
    p.add_argument("--policy", default=DEFAULT_POLICY, metavar="NAME|FILE", help=f"policy file, or a built-in policy name ({', '.join(sorted(builtin_policies()))}; default: {DEFAULT_POLICY})")


def _positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a whole number, got {text!r}") from None
    if text.strip().lstrip("+-").startswith("0") and value != 0:
        raise argparse.ArgumentTypeError(f"expected a whole number without a leading zero, got {text!r}")
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected 1 or more, got {value}")
    return value


def _shard_arg(text: str) -> Any:
    from .shard import parse_shard

    try:
        return parse_shard(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def _positive_float(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number of seconds, got {text!r}") from None
    if not math.isfinite(value):
        raise argparse.ArgumentTypeError(f"expected a finite number of seconds, got {text!r}")
    if value <= 0:
        raise argparse.ArgumentTypeError(f"expected more than 0 seconds, got {text}")
    return value


def _split(values: Sequence[str]) -> tuple[str, ...]:
    return tuple(v.strip() for item in values for v in item.split(",") if v.strip())


def default_inventory() -> str:
    return str(resources.files("auditor.inventories") / "localhost.yaml")


def _quiet_library_logs() -> None:
    """Keep libraries' own log records (paramiko's tracebacks from its transport thread) off stderr.

    Every failure they log reaches the user as our own message (a fact with a
    reason); Python's last-resort handler would print theirs too, raw.
    """
    for name in ("paramiko", "paramiko.transport"):
        logger = logging.getLogger(name)
        logger.addHandler(logging.NullHandler())
        logger.propagate = False


class _ReaderMayLeave:
    """stdout (or stderr) for which a reader that goes away (``auditor controls | head -1``) is a normal end.

    The first write or flush that meets a closed pipe points the file
    descriptor at /dev/null (so that nothing fails later, not even the
    interpreter's last flush) and drops the rest of the output quietly. The
    command itself goes on: a run still writes its report and every command
    still exits with its own verdict, never with a made-up one.
    """

    def __init__(self, stream: TextIO):
        self._stream = stream
        self.reader_left = False

    def write(self, text: str) -> int:
        if not self.reader_left:
            try:
                return self._stream.write(text)
            except BrokenPipeError:
                self._discard_from_now_on()
        return len(text)

    def flush(self) -> None:
        if not self.reader_left:
            try:
                self._stream.flush()
            except BrokenPipeError:
                self._discard_from_now_on()

    def _discard_from_now_on(self) -> None:
        self.reader_left = True
        try:
            devnull = os.open(os.devnull, os.O_WRONLY)
            try:
                os.dup2(devnull, self._stream.fileno())
            finally:
                os.close(devnull)
        except (OSError, ValueError, AttributeError):  # not a real file (a test's capture): nothing to redirect
            pass

    def __getattr__(self, name: str) -> Any:
        return getattr(self._stream, name)


def main(argv: Sequence[str] | None = None) -> int:
    _quiet_library_logs()
    stdout, stderr = sys.stdout, sys.stderr
    sys.stdout, sys.stderr = _ReaderMayLeave(stdout), _ReaderMayLeave(stderr)  # type: ignore[assignment]
    try:
        return _main(argv)
    finally:
        sys.stdout.flush()  # here, where a reader that left is still handled (usage and --help too)
        sys.stderr.flush()
        sys.stdout, sys.stderr = stdout, stderr


def _main(argv: Sequence[str] | None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if not args.command:
        parser.print_help()
        return EXIT_USAGE
    stop = StopSignals()
    try:
        if args.command == "run":
            with stop:  # SIGINT and SIGTERM end the run with its report written
                return cmd_run(args, stop)
        from .importers.command import cmd_import, cmd_known_hosts

        command = {"plan": cmd_plan, "import": cmd_import, "known-hosts": cmd_known_hosts, "validate": cmd_validate, "sudoers": cmd_sudoers, "controls": cmd_controls, "verify": cmd_verify, "merge": cmd_merge, "render": cmd_render, "diff": cmd_diff, "history": cmd_history, "keygen": cmd_keygen}
        return command[args.command](args)
    except InputError as exc:
        _print_problems(exc.problems, sys.stderr, audited=args.command in ("run", "validate", "plan"))
        return EXIT_USAGE
    except RegistryError as exc:
        print(f"auditor: a check module is broken: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except KeyboardInterrupt:
        print("auditor: interrupted", file=sys.stderr)
        return stop.exit_code or EXIT_INTERRUPTED
    except Exception:  # noqa: BLE001 - a bug: say so, with the trace
        print("auditor: internal error (this is a bug in auditor; please report it with the text below)", file=sys.stderr)
        print("\n".join(terminal(line) for line in traceback.format_exc().splitlines()), file=sys.stderr)
        return EXIT_INTERNAL


def _print_problems(problems: Sequence[Problem], out: TextIO, audited: bool = True) -> None:
    for p in problems:
        print(f"auditor: error: {terminal(p)}", file=out)
    n = len(problems)
    print(f"auditor: {n} problem{'s' if n != 1 else ''} found{'; nothing was audited' if audited else ''}.", file=out)


def _load(args: argparse.Namespace) -> tuple[Registry, Any, Any]:
    registry = Registry.load()
    inventory_path = args.inventory or default_inventory()
    problems: list[Problem] = []
    inventory = policy = None
    try:
        inventory = load_inventory(inventory_path)
    except InputError as exc:
        problems += exc.problems
    try:
        policy = load_policy(args.policy, registry)
    except InputError as exc:
        problems += exc.problems
    if problems:
        raise InputError(problems)
    return registry, inventory, policy


def cmd_validate(args: argparse.Namespace) -> int:
    registry, inventory, policy = _load(args)
    waivers = None
    if args.waivers:
        from .waivers import load_waivers

        waivers = load_waivers(args.waivers, registry)
    plans, notices = make_plan(registry, inventory, RunOptions())
    kinds: dict[str, int] = {}
    for t in inventory.targets:
        kinds[t.kind] = kinds.get(t.kind, 0) + 1
    print(f"{inventory.path}: valid ({', '.join(f'{n} {k}' for k, n in sorted(kinds.items()))})")
    print(f"policy {policy.id} ({policy.path}): valid, {len(policy.promises)} promises")
    print(f"{sum(len(p.controls) for p in plans)} checks would run on {len(plans)} targets")
    if waivers is not None:
        from datetime import datetime, timezone

        today = datetime.now(timezone.utc).date()
        expired = [w for w in waivers.waivers if w.expired(today)]
        print(f"{args.waivers}: valid, {len(waivers.waivers)} waiver(s){f', {len(expired)} already expired: ' + ', '.join(w.id for w in expired) if expired else ''}")
    for n in notices:
        print(f"note: {terminal(n)}")
    return EXIT_OK


def cmd_sudoers(args: argparse.Namespace) -> int:
    from .sudo_plan import render_inventory, server_commands
    from .transports import Transports

    registry, inventory, _policy = _load(args)
    plans, _ = make_plan(registry, inventory, RunOptions(limit=_split(args.limit)))
    transports = Transports(ConnectOptions(), {t.id: t for t in inventory.targets})
    try:
        servers = server_commands(registry, plans, transports)
    finally:
        transports.close()
    sys.stdout.write(render_inventory(servers, inventory_path=inventory.path, version=__version__, user=args.user))
    return EXIT_OK


def cmd_controls(args: argparse.Namespace) -> int:
    registry = Registry.load()
    if args.parameters:
        rows = [{"name": p.name, "type": p.type.__name__, "default": p.default, "doc": p.doc} for p in sorted(registry.parameters.values(), key=lambda p: p.name)]
        if args.json:
            print(json.dumps(rows, indent=2))
        else:
            for r in rows:
                print(f"{r['name']} ({r['type']}, default {json.dumps(r['default'])})\n    {r['doc']}")
        return EXIT_OK
    controls = sorted((c.info for c in registry.controls.values() if not args.family or c.info.family == args.family), key=lambda i: (i.family, i.id))
    if args.json:
        print(json.dumps([{"id": i.id, "family": i.family, "severity": i.severity.value, "kinds": list(i.kinds), "title": i.title, "facts": list(i.facts), "params": list(i.params)} for i in controls], indent=2))
        return EXIT_OK
    width = max((len(i.id) for i in controls), default=10)
    kw = max((len(",".join(i.kinds)) for i in controls), default=5)
    print(f"{'CONTROL':<{width}}  {'FAMILY':<16}  {'SEVERITY':<8}  {'KINDS':<{kw}}  TITLE")
    for i in controls:
        print(f"{i.id:<{width}}  {i.family:<16}  {i.severity.value:<8}  {','.join(i.kinds):<{kw}}  {i.title}")
    print(f"\n{len(controls)} controls. `auditor controls --parameters` lists the policy parameters they read.")
    return EXIT_OK


class Progress:
    """One updating line on a terminal; nothing when not a TTY."""

    def __init__(self, stream: TextIO, enabled: bool):
        self.stream, self.enabled = stream, enabled

    def __call__(self, done: int, total: int, target: str, counts: Mapping[str, int]) -> None:
        if not self.enabled:
            return
        tally = " ".join(f"{k} {v}" for k, v in counts.items() if v)
        line = f"[{done}/{total}] {terminal(target)[:40]:<40} {tally}"
        self.stream.write("\r\x1b[2K" + line[:160])
        self.stream.flush()

    def finish(self) -> None:
        if self.enabled:
            self.stream.write("\r\x1b[2K")
            self.stream.flush()


def cmd_run(args: argparse.Namespace, stop: StopSignals | None = None) -> int:
    formats = _split([args.format])
    unknown = [f for f in formats if f not in FORMATS]
    if unknown:
        raise InputError([Problem("--format", None, None, f"unknown format {f!r}; choose from {', '.join(FORMATS)}") for f in unknown])
    registry, inventory, policy = _load(args)
    # Everything the user gave is checked before any target is contacted.
    problems: list[Problem] = []
    if args.known_hosts and not os.path.isfile(os.path.expanduser(args.known_hosts)):
        problems.append(Problem("--known-hosts", None, None, f"{args.known_hosts}: file not found"))
    waivers, signing_key, baseline = _run_inputs(args, registry, problems)
    connect = ConnectOptions(connect_timeout=args.connect_timeout, trust_on_first_use=args.trust_on_first_use, known_hosts=args.known_hosts)
    options = RunOptions(concurrency=args.concurrency, timeout=args.timeout, host_timeout=args.host_timeout, only=_split(args.only), limit=_split(args.limit), connect=connect, shard=args.shard)
    make_plan(registry, inventory, options)  # bad --only/--limit: exit 2 before anything is contacted
    progress = Progress(sys.stderr, sys.stderr.isatty() and not args.quiet and not args.no_progress)
    runner = Runner(registry, inventory, policy, options, progress, waivers=waivers)
    with stop.stopping(runner.stop) if stop is not None else contextlib.nullcontext():
        run = runner.run()
    progress.finish()
    return report_run(run, policy, args, formats, signing_key, baseline, stop)


def _run_inputs(args: argparse.Namespace, registry: Registry, problems: list[Problem]) -> tuple[Any, Any, Any]:
    """--out, --waivers, --sign and --baseline, checked before anything is audited (InputError with every problem)."""
    waivers = signing_key = baseline = None
    if (out_problem := unusable_out(args.out)) is not None:
        problems.insert(0, Problem("--out", None, None, out_problem))
    if args.waivers:
        from .waivers import load_waivers

        try:
            waivers = load_waivers(args.waivers, registry)
        except InputError as exc:
            problems += exc.problems
    if args.sign:
        try:
            signing_key = load_private_key(args.sign)
        except InputError as exc:
            problems += exc.problems
    if args.baseline:
        try:
            baseline = _baseline(args.baseline, args.out)
        except InputError as exc:
            problems += exc.problems
    if problems:
        raise InputError(problems)
    return waivers, signing_key, baseline


def report_run(run: Any, policy: Any, args: argparse.Namespace, formats: tuple[str, ...], signing_key: Any, baseline: Any, stop: StopSignals | None = None) -> int:
    """Write a finished run's report folder (history, --keep, --baseline) and return the exit code (shared by run and plan)."""
    lang = args.lang or (policy.language if policy.language in LANGUAGES else "en")
    doc = run_document(run, lang)
    del run  # the document is all that is needed from here on: the model objects go before the reports are rendered
    return _write_and_judge(doc, args, formats, signing_key, baseline, stop)


def _write_and_judge(doc: dict[str, Any], args: argparse.Namespace, formats: tuple[str, ...], signing_key: Any, baseline: dict[str, Any] | None, stop: StopSignals | None = None) -> int:
    """Record, write and judge a run document (of `run` or `merge`): history, report folder, latest, --keep, exit code."""
    history = None if args.no_history else _open_history(args.history or os.path.join(args.out, "history.sqlite"))
    if history is not None:
        doc["trend"] = _history_call(lambda: history.trend(doc["inventory"]["name"], doc["policy"]["id"], before=doc["started_at"]), [])
    stamp = utc_now().strftime("%Y%m%dT%H%M%SZ")
    folder = write_with_free_name(args.out, stamp, lambda name: write_report(doc, args.out, name, formats, signing_key))
    point_latest(args.out, folder)
    if history is not None:
        _history_call(lambda: history.record(doc, os.path.abspath(folder)), None)
        history.close()
    removed = prune(args.out, args.keep, protect=folder) if args.keep else []
    extra = []
    if args.baseline:
        code, why, comparison = _compare_with_baseline(baseline, doc, args)
        extra.append(comparison)
    else:
        code, why = exit_code(doc, args.fail_on)
    if code == EXIT_INTERRUPTED and stop is not None and stop.exit_code is not None:
        code, why = stop.exit_code, f"the run was interrupted ({stop.name}); the report is incomplete"  # 143: SIGTERM
    if removed:
        extra.append(f"pruned {len(removed)} old report folder(s) (--keep {args.keep})")
    if signing_key is not None:
        extra.append(f"signed with key {key_id(signing_key.public_key())}")
    _print_summary(doc, folder, code, why, args.quiet, extra)
    return code


def cmd_merge(args: argparse.Namespace) -> int:
    from .integrity import load_public_key
    from .merge import check_shards, load_shards, merge_documents
    from .report import render_reports

    formats = _split([args.format])
    problems = [Problem("--format", None, None, f"unknown format {f!r}; choose from {', '.join(FORMATS)}") for f in formats if f not in FORMATS]
    if (out_problem := unusable_out(args.out)) is not None:
        problems.append(Problem("--out", None, None, out_problem))
    loaded: dict[str, Any] = {}
    for flag, load in (("key", load_public_key), ("sign", load_private_key), ("baseline", lambda spec: _baseline(spec, args.out))):
        if getattr(args, flag):
            try:
                loaded[flag] = load(getattr(args, flag))
            except InputError as exc:
                problems += exc.problems
    if problems:
        raise InputError(problems)
    shards = load_shards(args.shards, loaded.get("key"), render_reports, __version__)
    check_shards(shards)
    doc = merge_documents(shards)
    if args.lang:
        doc["lang"] = args.lang
    return _write_and_judge(doc, args, formats, loaded.get("sign"), loaded.get("baseline"))


def _add_plan_parser(sub: Any, fmt: Any) -> None:
    p = sub.add_parser("plan", help="judge a Terraform plan (terraform show -json) with the AWS controls, before apply", formatter_class=fmt,
                       description=DESCRIPTION, epilog=PLAN_EXAMPLES + "\n" + EXIT_CODES_HELP)
    p.add_argument("plan", metavar="PLAN.json", help="the output of `terraform show -json PLANFILE` (or `tofu show -json PLANFILE`)")
    p.add_argument("--inventory", metavar="INV", help="inventory whose aws: entry the plan deploys to (declares backup_buckets, bookkeeping_buckets)")
    p.add_argument("--account", metavar="NAME", help="the aws: entry of --inventory the plan deploys to, when it has several")
    _policy_arg(p)
    p.add_argument("--only", action="append", default=[], metavar="FAMILY|CONTROL", help=f"run only these families ({', '.join(FAMILIES)}) or control ids (globs allowed)")
    p.add_argument("--format", default=",".join(FORMATS), metavar="LIST", help=f"report formats, comma-separated from {', '.join(FORMATS)} (default: all)")
    p.add_argument("--out", default="reports", metavar="DIR", help="folder that receives the report folder (default: ./reports)")
    p.add_argument("--fail-on", default="low", choices=[*(s.value for s in Severity), "none"], help="lowest severity of a failed finding that makes the exit code 1 (default: low)")
    p.add_argument("--waivers", metavar="FILE", help="waivers.yaml: accepted exceptions (see docs/waivers.md)")
    p.add_argument("--lang", choices=LANGUAGES, help="language of the HTML and Markdown reports (default: the policy's)")
    p.add_argument("--sign", metavar="KEY", help="sign the report's manifest with this Ed25519 private key (from `auditor keygen`)")
    p.add_argument("--history", metavar="PATH|URL", help="run history database (default: OUT/history.sqlite)")
    p.add_argument("--no-history", action="store_true", help="do not record this run in the history database")
    p.add_argument("--keep", type=int, metavar="N", help="after writing, keep only the newest N report folders in OUT")
    p.add_argument("--baseline", metavar="DIR|previous", help="compare with an earlier report folder and exit 1 only on NEW violations (3 on new errors)")
    p.add_argument("--quiet", "-q", action="store_true", help="print only the report path and the exit reason")


def cmd_plan(args: argparse.Namespace) -> int:
    from .plan.reader import load_plan
    from .plan.run import PlanRunner, plan_inventory, plan_registry

    formats = _split([args.format])
    problems: list[Problem] = [Problem("--format", None, None, f"unknown format {f!r}; choose from {', '.join(FORMATS)}") for f in formats if f not in FORMATS]
    full = Registry.load()  # the policy and waivers name controls of every kind
    registry = plan_registry(full)
    plan = _collected(lambda: load_plan(args.plan), problems)
    inventory = _collected(lambda: load_inventory(args.inventory), problems) if args.inventory else None
    policy = _collected(lambda: load_policy(args.policy, full), problems)
    waivers, signing_key, baseline = _run_inputs(args, full, problems)
    if plan is None or policy is None:  # _run_inputs raised already when any input had a problem
        raise InputError(problems)
    targets = plan_inventory(plan, inventory, args.account)
    options = RunOptions(concurrency=1, only=_split(args.only))
    make_plan(registry, targets, options)  # bad --only: exit 2
    run = PlanRunner(registry, targets, policy, options, plan, waivers=waivers).run()
    return report_run(run, policy, args, formats, signing_key, baseline)


def _collected(load: Any, problems: list[Any]) -> Any:
    """``load()``, or None with its problems added (every input is checked before any is reported)."""
    try:
        return load()
    except InputError as exc:
        problems += exc.problems
        return None


def _baseline(spec: str, out: str) -> dict[str, Any] | None:
    """The run document to compare with; None when ``previous`` finds no earlier run."""
    from .diff import load_run

    if spec == "previous":
        folder = newest_report(out)
        return load_run(folder) if folder else None
    return load_run(spec)


def _compare_with_baseline(baseline: dict[str, Any] | None, doc: dict[str, Any], args: argparse.Namespace) -> tuple[int, str, str]:
    """Exit code, its reason and the difference as text, judged on what is new since ``baseline``."""
    from .diff import diff_exit_code, diff_runs, render_text

    if baseline is None:
        code, why = exit_code(doc, args.fail_on)
        return code, why, "baseline: no earlier report in the output folder; every violation and error counts as new"
    heading = f"compared with run {baseline.get('run_id')} ({baseline.get('started_at')}):"
    d = diff_runs(baseline, doc)
    if not doc["complete"]:
        code, why = EXIT_INTERRUPTED, "the run was interrupted; the report is incomplete"
    else:
        code, why = diff_exit_code(d, "never" if args.fail_on == "none" else "new-findings", "low" if args.fail_on == "none" else args.fail_on)
    return code, why, heading + "\n" + render_text(d).rstrip()


def _open_history(location: str) -> Any:
    from .history import HistoryError, open_history

    try:
        return open_history(location)
    except HistoryError as exc:
        print(f"auditor: warning: run not recorded in the history: {terminal(exc)}", file=sys.stderr)
        return None


def _history_call(call: Callable[[], Any], fallback: Any) -> Any:
    from .history import HistoryError

    try:
        return call()
    except HistoryError as exc:
        print(f"auditor: warning: run not recorded in the history: {terminal(exc)}", file=sys.stderr)
        return fallback


def cmd_verify(args: argparse.Namespace) -> int:
    from .integrity import load_public_key, verify_folder
    from .report import render_reports

    folder = args.folder
    if not os.path.isdir(folder):
        raise InputError(Problem(folder, None, None, "not a folder; expected a report folder such as reports/latest"))
    key = load_public_key(args.key) if args.key else None
    result = verify_folder(folder, key, rerender=render_reports, tool_version=__version__)
    for p in result.problems:
        print(f"ALTERED  {terminal(p)}")
    for n in result.notes:
        print(f"note: {terminal(n)}")
    counts = ", ".join(f"{n} {what}" for what, n in result.checked.items())
    if result.ok:
        signed = f"; signed by {result.signed_by}" if result.signed_by else "; not signed"
        print(f"{folder}: intact ({counts} checked{signed})")
        return EXIT_OK
    print(f"{folder}: NOT intact: {len(result.problems)} problem(s)")
    return EXIT_VIOLATIONS


def cmd_render(args: argparse.Namespace) -> int:
    from .diff import load_run
    from .report import render_reports

    formats = _split([args.format])
    unknown = [f for f in formats if f not in RENDERERS]
    if unknown:
        raise InputError([Problem("--format", None, None, f"unknown format {f!r}; choose from {', '.join(RENDERERS)}") for f in unknown])
    doc = load_run(args.run)
    if args.lang:
        doc["lang"] = args.lang
    source = args.run if os.path.isdir(args.run) else os.path.dirname(os.path.abspath(args.run))
    files = render_reports(doc, formats)
    existing = {name: _read_or_none(os.path.join(source, name)) for name in files}
    if args.check:
        for name, data in files.items():
            print(f"{'same' if existing[name] == data else 'DIFFERENT':<9} {os.path.join(source, name)}")
        return EXIT_OK if all(existing[n] == d for n, d in files.items()) else EXIT_VIOLATIONS
    if not args.out:
        changed = [n for n, data in files.items() if existing[n] is not None and existing[n] != data]
        if changed:
            raise InputError(Problem(args.run, None, None, f"re-rendering would change {', '.join(changed)} in the run's own folder (and break its manifest); pass --out DIR to write elsewhere"))
    out = args.out or source
    os.makedirs(out, exist_ok=True)
    for name, data in files.items():
        write_atomic(os.path.join(out, name), data)
        print(f"wrote {os.path.join(out, name)}")
    return EXIT_OK


def _read_or_none(path: str) -> bytes | None:
    try:
        with open(path, "rb") as fh:
            return fh.read()
    except FileNotFoundError:
        return None


def cmd_diff(args: argparse.Namespace) -> int:
    from .diff import diff_exit_code, diff_runs, load_run, render_json, render_markdown, render_text

    problems: list[Problem] = []
    docs = []
    for path in (args.old, args.new):
        try:
            docs.append(load_run(path))
        except InputError as exc:
            problems += exc.problems
    if problems:
        raise InputError(problems)
    d = diff_runs(docs[0], docs[1])
    render = {"text": render_text, "json": render_json, "md": render_markdown}[args.format]
    sys.stdout.write(render(d))
    code, why = diff_exit_code(d, args.fail_on, args.min_severity)
    print(f"exit {code}: {why}", file=sys.stderr)
    return code


def cmd_history(args: argparse.Namespace) -> int:
    from .history import HistoryError, open_history, render_history_json, render_history_text

    location = args.history or os.path.join("reports", "history.sqlite")
    try:
        with open_history(location, create=False) as history:
            rows = history.runs(inventory=args.inventory, policy=args.policy, limit=args.limit)
    except HistoryError as exc:
        raise InputError(Problem(mask_credentials(location, known=(location,)), None, None, str(exc))) from None
    sys.stdout.write(render_history_json(rows) if args.json else render_history_text(rows, args.family))
    return EXIT_OK


def cmd_keygen(args: argparse.Namespace) -> int:
    from .integrity import generate_keypair

    secret = os.environ.get(PASSPHRASE_ENV)
    private, public, kid = generate_keypair(args.path, secret.encode() if secret else None, force=args.force)
    print(f"private key: {private} (mode 0600{', encrypted with $' + PASSPHRASE_ENV if secret else ', not encrypted'})")
    print(f"public key:  {public}")
    print(f"key id:      {kid}")
    print(f"sign:        auditor run ... --sign {private}")
    print(f"verify:      auditor verify reports/latest --key {public}")
    return EXIT_OK


def exit_code(doc: Mapping[str, Any], fail_on: str) -> tuple[int, str]:
    """The exit code of a run and its reason, which says what is true: failures below
    ``--fail-on`` are counted as such, never called compliant."""
    findings = doc["findings"]
    threshold = None if fail_on == "none" else Severity(fail_on).rank
    failed = [f for f in findings if f["status"] == Status.FAIL.value]
    violations = [f for f in failed if threshold is not None and Severity(f["severity"]).rank >= threshold]
    below = len(failed) - len(violations)
    errors = [f for f in findings if f["status"] == Status.ERROR.value]
    waived = sum(1 for f in findings if f["status"] == Status.WAIVED.value)
    if not doc["complete"]:
        return EXIT_INTERRUPTED, "the run was interrupted; the report is incomplete"
    if violations:
        return EXIT_VIOLATIONS, f"{len(violations)} violation(s) at or above severity {fail_on}" + (f" ({below} more below it)" if below else "")
    if fail_on == "none":
        verdict = f"{len(failed)} failed finding(s), none counted (--fail-on none)" if failed else "no violation"
    else:
        verdict = f"no violation at or above severity {fail_on} ({below} below it)" if below else "no violation"
    if waived:
        verdict += f", {waived} waived"
    if errors:
        return EXIT_UNVERIFIED, f"{len(errors)} finding(s) could not be verified; {verdict}"
    if not findings:
        return EXIT_UNVERIFIED, "no control ran: nothing was verified"
    if failed:
        return EXIT_OK, f"{verdict}; nothing left unverified"
    return EXIT_OK, f"compliant: {verdict}, nothing left unverified"


def _print_summary(doc: Mapping[str, Any], folder: str, code: int, why: str, quiet: bool, extra: Sequence[str] = ()) -> None:
    out = sys.stdout
    if not quiet:
        s = doc["summary"]["by_status"]
        print(f"auditor {doc['tool_version']}: policy {doc['policy']['id']}, inventory {doc['inventory']['name']}, {len(doc['targets'])} target(s), {len(doc['findings'])} finding(s)", file=out)
        print("  " + "  ".join(f"{k} {v}" for k, v in s.items()), file=out)
        for line in finding_lines(doc["findings"]):
            print(line, file=out)
        for n in doc.get("notices", []):
            print(f"  note: {terminal(n)}", file=out)
        waivers = doc.get("waivers")
        if waivers:
            print(f"  waivers ({terminal(waivers.get('file'))}): {len(waivers.get('applied') or [])} applied", file=out)
            for label, key in (("EXPIRED", "expired"), ("UNMATCHED", "unmatched"), ("NOT NEEDED", "not_needed")):
                for w in waivers.get(key) or []:
                    tail = f"expired {w['expires']}, no longer applies" if key == "expired" else ("matches no finding" if key == "unmatched" else "every finding it covers passed")
                    print(f"  {label:<10} waiver {terminal(w['id'])} ({terminal(w['control'])} on {terminal(w['target'])}, {terminal(w['source'])}): {tail}", file=out)
        for text in extra:
            print(text, file=out)
    print(f"report: {os.path.join(folder, 'report.html') if os.path.exists(os.path.join(folder, 'report.html')) else folder}", file=out)
    print(f"exit {code}: {why}", file=out)

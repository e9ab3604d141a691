"""Command line: ``auditor run | validate | controls``.

Exit codes (also in README and ``auditor --help``):

  0  compliant: every finding passed (or was skipped with a reason)
  1  violations: at least one failed finding at or above --fail-on
  2  bad input or usage: inventory, policy or flags are wrong; nothing audited
  3  could not verify: no violation at/above --fail-on, but some findings are errors
 70  internal error (a bug in auditor; please report it)
130  interrupted (Ctrl-C); the partial report is still written, marked incomplete
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import traceback
from importlib import resources
from typing import Any, Mapping, Sequence, TextIO

from . import __version__
from .errors import InputError, Problem
from .inventory import load_inventory
from .model import FAMILIES, Severity, Status
from .policy import DEFAULT_POLICY, builtin_policies, load_policy
from .registry import Registry, RegistryError
from .report import FORMATS, run_document, write_report
from .runner import RunOptions, Runner, make_plan
from .timeutil import utc_now
from .transports import ConnectOptions

EXIT_OK, EXIT_VIOLATIONS, EXIT_USAGE, EXIT_UNVERIFIED, EXIT_INTERNAL, EXIT_INTERRUPTED = 0, 1, 2, 3, 70, 130

EXIT_CODES_HELP = """exit codes:
  0    compliant: every finding passed (or was skipped with a reason)
  1    violations: a finding failed at or above --fail-on
  2    bad input or usage: inventory, policy or flags are wrong; nothing was audited
  3    could not verify: no violation at or above --fail-on, but some findings are errors
  70   internal error in auditor (a bug: please report it with the message)
  130  interrupted (Ctrl-C): the partial report is written and marked incomplete
"""

MAIN_HELP = """\
Audit a hosting environment against the promises of its privacy policy.

auditor reads an inventory (servers, web endpoints, mail, databases, backups,
cloud accounts, sub-processors), probes each target read-only, judges the
facts against a policy and writes an evidence report: HTML for people, JSON
for machines, JUnit XML for CI, Markdown for job summaries.

examples:
  auditor run                               audit this machine (bundled inventory)
  auditor run inventories/prod.yaml --policy webbplats-nu
  auditor run prod.yaml --only access --limit web1 --fail-on high
  auditor validate prod.yaml                check an inventory without contacting anything
  auditor controls                          list every control
"""


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> None:  # usage errors: exit 2, one clear line
        self.print_usage(sys.stderr)
        print(f"auditor: error: {message}", file=sys.stderr)
        raise SystemExit(EXIT_USAGE)


def build_parser() -> argparse.ArgumentParser:
    fmt = argparse.RawDescriptionHelpFormatter
    parser = _Parser(prog="auditor", description=MAIN_HELP, epilog=EXIT_CODES_HELP, formatter_class=fmt)
    parser.add_argument("--version", action="version", version=f"auditor {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)

    run = sub.add_parser(
        "run", help="audit the targets of an inventory and write a report", formatter_class=fmt, epilog=EXIT_CODES_HELP,
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
    run.add_argument("--quiet", "-q", action="store_true", help="print only the report path and the exit reason")
    run.add_argument("--no-progress", action="store_true", help="no progress line even on a terminal")

    val = sub.add_parser("validate", help="check an inventory (and policy) without contacting any target", formatter_class=fmt, epilog=EXIT_CODES_HELP,
                         description="Load and validate INVENTORY and the policy; print every problem with file:line:column.\nExit 0 when valid, 2 when not.")
    val.add_argument("inventory", nargs="?", help="inventory YAML file (default: the bundled localhost inventory)")
    _policy_arg(val)

    ctl = sub.add_parser("controls", help="list the controls, their family, severity and target kinds", formatter_class=fmt)
    ctl.add_argument("--family", choices=FAMILIES, help="only this family")
    ctl.add_argument("--parameters", action="store_true", help="list the policy parameters with their defaults instead")
    ctl.add_argument("--json", action="store_true", help="machine-readable output")
    return parser


def _policy_arg(p: argparse.ArgumentParser) -> None:
    p.add_argument("--policy", default=DEFAULT_POLICY, metavar="NAME|FILE", help=f"policy file, or a built-in policy name ({', '.join(sorted(builtin_policies()))}; default: {DEFAULT_POLICY})")


def _positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a whole number, got {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected 1 or more, got {value}")
    return value


def _positive_float(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number of seconds, got {text!r}") from None
    if value <= 0:
        raise argparse.ArgumentTypeError(f"expected more than 0 seconds, got {text}")
    return value


def _split(values: Sequence[str]) -> tuple[str, ...]:
    return tuple(v.strip() for item in values for v in item.split(",") if v.strip())


def default_inventory() -> str:
    return str(resources.files("auditor.inventories") / "localhost.yaml")


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if not args.command:
        parser.print_help()
        return EXIT_USAGE
    try:
        if args.command == "run":
            return cmd_run(args)
        if args.command == "validate":
            return cmd_validate(args)
        return cmd_controls(args)
    except InputError as exc:
        _print_problems(exc.problems, sys.stderr)
        return EXIT_USAGE
    except RegistryError as exc:
        print(f"auditor: a check module is broken: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except KeyboardInterrupt:
        print("auditor: interrupted", file=sys.stderr)
        return EXIT_INTERRUPTED
    except Exception:  # noqa: BLE001 - a bug: say so, with the trace
        print("auditor: internal error (this is a bug in auditor; please report it with the text below)", file=sys.stderr)
        traceback.print_exc()
        return EXIT_INTERNAL


def _print_problems(problems: Sequence[Problem], out: TextIO) -> None:
    for p in problems:
        print(f"auditor: error: {p}", file=out)
    n = len(problems)
    print(f"auditor: {n} problem{'s' if n != 1 else ''} found; nothing was audited.", file=out)


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
    plans, notices = make_plan(registry, inventory, RunOptions())
    kinds: dict[str, int] = {}
    for t in inventory.targets:
        kinds[t.kind] = kinds.get(t.kind, 0) + 1
    print(f"{inventory.path}: valid ({', '.join(f'{n} {k}' for k, n in sorted(kinds.items()))})")
    print(f"policy {policy.id} ({policy.path}): valid, {len(policy.promises)} promises")
    print(f"{sum(len(p.controls) for p in plans)} checks would run on {len(plans)} targets")
    for n in notices:
        print(f"note: {n}")
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
        line = f"[{done}/{total}] {target[:40]:<40} {tally}"
        self.stream.write("\r\x1b[2K" + line[:160])
        self.stream.flush()

    def finish(self) -> None:
        if self.enabled:
            self.stream.write("\r\x1b[2K")
            self.stream.flush()


def cmd_run(args: argparse.Namespace) -> int:
    formats = _split([args.format])
    unknown = [f for f in formats if f not in FORMATS]
    if unknown:
        raise InputError([Problem("--format", None, None, f"unknown format {f!r}; choose from {', '.join(FORMATS)}") for f in unknown])
    registry, inventory, policy = _load(args)
    if args.known_hosts and not os.path.isfile(os.path.expanduser(args.known_hosts)):
        raise InputError(Problem("--known-hosts", None, None, f"{args.known_hosts}: file not found"))
    connect = ConnectOptions(connect_timeout=args.connect_timeout, trust_on_first_use=args.trust_on_first_use, known_hosts=args.known_hosts)
    options = RunOptions(concurrency=args.concurrency, timeout=args.timeout, host_timeout=args.host_timeout, only=_split(args.only), limit=_split(args.limit), connect=connect)
    make_plan(registry, inventory, options)  # bad --only/--limit: exit 2 before anything is contacted
    progress = Progress(sys.stderr, sys.stderr.isatty() and not args.quiet and not args.no_progress)
    run = Runner(registry, inventory, policy, options, progress).run()
    progress.finish()
    doc = run_document(run)
    folder = _write(doc, args.out, formats)
    code, why = exit_code(doc, args.fail_on)
    _print_summary(doc, folder, code, why, args.quiet)
    return code


def _write(doc: dict[str, Any], out: str, formats: tuple[str, ...]) -> str:
    stamp = utc_now().strftime("%Y%m%dT%H%M%SZ")
    for n in range(1, 100):
        name = stamp if n == 1 else f"{stamp}-{n}"
        try:
            return write_report(doc, out, name, formats)
        except FileExistsError:
            continue
    raise RuntimeError(f"could not find a free report folder name under {out}")


def exit_code(doc: Mapping[str, Any], fail_on: str) -> tuple[int, str]:
    findings = doc["findings"]
    threshold = None if fail_on == "none" else Severity(fail_on).rank
    violations = [f for f in findings if f["status"] == Status.FAIL.value and threshold is not None and Severity(f["severity"]).rank >= threshold]
    errors = [f for f in findings if f["status"] == Status.ERROR.value]
    if not doc["complete"]:
        return EXIT_INTERRUPTED, "the run was interrupted; the report is incomplete"
    if violations:
        return EXIT_VIOLATIONS, f"{len(violations)} violation(s) at or above severity {fail_on}"
    if errors:
        return EXIT_UNVERIFIED, f"{len(errors)} finding(s) could not be verified"
    if not findings:
        return EXIT_UNVERIFIED, "no control ran: nothing was verified"
    return EXIT_OK, "compliant: no violation, nothing left unverified"


def _print_summary(doc: Mapping[str, Any], folder: str, code: int, why: str, quiet: bool) -> None:
    out = sys.stdout
    if not quiet:
        s = doc["summary"]["by_status"]
        print(f"auditor {doc['tool_version']}: policy {doc['policy']['id']}, inventory {doc['inventory']['name']}, {len(doc['targets'])} target(s), {len(doc['findings'])} finding(s)", file=out)
        print("  " + "  ".join(f"{k} {v}" for k, v in s.items()), file=out)
        shown = [f for f in doc["findings"] if f["status"] in ("fail", "error")]
        for f in shown[:30]:
            print(f"  {f['status'].upper():<5} {f['severity']:<8} {f['control']:<32} {f['target']}: {f['message'][:200]}", file=out)
        if len(shown) > 30:
            print(f"  ... and {len(shown) - 30} more in the report", file=out)
        for n in doc.get("notices", []):
            print(f"  note: {n}", file=out)
    print(f"report: {os.path.join(folder, 'report.html') if os.path.exists(os.path.join(folder, 'report.html')) else folder}", file=out)
    print(f"exit {code}: {why}", file=out)

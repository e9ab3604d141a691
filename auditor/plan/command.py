"""``auditor plan PLAN.json``: the AWS controls judge a Terraform plan before it is applied."""

from __future__ import annotations

import argparse
from typing import Any

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


def add_parser(sub: Any, fmt: Any, run_exit_help: str) -> None:
    from ..cli import _policy_arg
    from ..model import FAMILIES, Severity
    from ..report import FORMATS
    from ..report.i18n import LANGUAGES

    p = sub.add_parser("plan", help="judge a Terraform plan (terraform show -json) with the AWS controls, before apply", formatter_class=fmt,
                       description=DESCRIPTION, epilog=PLAN_EXAMPLES + "\n" + run_exit_help)
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
    from ..cli import _run_inputs, _split, report_run
    from ..errors import InputError, Problem
    from ..inventory import load_inventory
    from ..policy import load_policy
    from ..registry import Registry
    from ..report import FORMATS
    from ..runner import RunOptions, make_plan
    from .reader import load_plan
    from .run import PlanRunner, plan_inventory, plan_registry

    formats = _split([args.format])
    problems: list[Problem] = [Problem("--format", None, None, f"unknown format {f!r}; choose from {', '.join(FORMATS)}") for f in formats if f not in FORMATS]
    full = Registry.load()  # the policy and waivers name controls of every kind
    registry = plan_registry(full)
    plan = _collect(lambda: load_plan(args.plan), problems)
    inventory = _collect(lambda: load_inventory(args.inventory), problems) if args.inventory else None
    policy = _collect(lambda: load_policy(args.policy, full), problems)
    waivers, signing_key, baseline = _run_inputs(args, full, problems)
    assert plan is not None and policy is not None
    targets = plan_inventory(plan, inventory, args.account)
    options = RunOptions(concurrency=1, only=_split(args.only))
    make_plan(registry, targets, options)  # bad --only: exit 2
    run = PlanRunner(registry, targets, policy, options, plan, waivers=waivers).run()
    return report_run(run, policy, args, formats, signing_key, baseline)


def _collect(load: Any, problems: list[Any]) -> Any:
    """``load()``, or None with its problems added (every input is checked before any is reported)."""
    from ..errors import InputError

    try:
        return load()
    except InputError as exc:
        problems += exc.problems
        return None

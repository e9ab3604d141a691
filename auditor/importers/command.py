"""The ``auditor import`` and ``auditor known-hosts`` subcommands: arguments and what they do.

cli.py only wires them in (:func:`add_parsers`, :data:`COMMANDS`).
"""

from __future__ import annotations

import argparse
import os
import sys
from typing import Any, Callable

from ..errors import InputError, Problem

EXIT_OK, EXIT_VIOLATIONS, EXIT_UNVERIFIED = 0, 1, 3

IMPORT_HELP = """\
Write an auditor inventory from a description of the fleet you already keep: an Ansible
inventory, an OpenSSH client configuration, or the running instances of AWS EC2. Each
server gets a comment saying where it came from; secrets (passwords, vault-encrypted
values) are never copied. The result is checked with the inventory loader before it is
written, so `auditor validate` accepts it as it is.
"""

ANSIBLE_EXAMPLES = """\
examples:
  auditor import ansible inventory/hosts.ini --out prod.yaml
  auditor import ansible inventory/ --out prod.yaml     a folder: every file, group_vars/, host_vars/
  auditor import ansible hosts.yml | less                  look first (written to stdout)
"""

SSH_EXAMPLES = """\
examples:
  auditor import ssh-config --out fleet.yaml               every Host of ~/.ssh/config (no wildcards)
  auditor import ssh-config ~/.ssh/config.d/prod --host 'web*' --host bastion
  auditor import ssh-config /etc/ssh/ssh_config --host db1.example.se --out db.yaml
"""

AWS_EXAMPLES = """\
examples:
  auditor import aws-ec2 --regions eu-north-1,eu-west-1 --user audit --out aws.yaml
  auditor import aws-ec2 --regions all-enabled --tag env=production --profile audit
  auditor import aws-ec2 --regions eu-north-1 --address public --key-file ~/.ssh/audit_ed25519
"""

KNOWN_HOSTS_HELP = """\
Connect to the SSH port of each server of INVENTORY (a key exchange only: no login) and print
its host keys as known_hosts lines, each with its SHA256 fingerprint. Compare those
fingerprints with what each server prints on its own console (ssh-keygen -lf
/etc/ssh/ssh_host_ed25519_key.pub) before using the lines: this scan alone proves nothing
about who answered. Nothing is written unless --out FILE is given.

exit codes: 0 every server scanned; 1 --out FILE lists another key for a scanned host (nothing
written) or a key differs from its pinned host_key; 2 bad input; 3 some servers could not be scanned
"""

KNOWN_HOSTS_EXAMPLES = """\
examples:
  auditor known-hosts prod.yaml > scanned_known_hosts      # then compare fingerprints out of band
  auditor known-hosts prod.yaml --limit web --out ~/.ssh/auditor_known_hosts
                               # then: auditor run prod.yaml --known-hosts ~/.ssh/auditor_known_hosts
"""


def add_parsers(sub: Any, fmt: type[argparse.HelpFormatter], positive_float: Callable[[str], float]) -> None:
    imp = sub.add_parser("import", help="write an inventory from an Ansible inventory, an ssh config or AWS EC2", formatter_class=fmt,
                         description=IMPORT_HELP, epilog="examples:\n  auditor import ansible hosts.ini --out prod.yaml\n"
                         "  auditor import ssh-config --host 'web*' --out web.yaml\n  auditor import aws-ec2 --regions eu-north-1 --out aws.yaml\n")
    src = imp.add_subparsers(dest="source", metavar="SOURCE", parser_class=sub._parser_class)
    src.required = True

    ans = src.add_parser("ansible", help="an Ansible inventory file (INI or YAML) or folder", formatter_class=fmt, epilog=ANSIBLE_EXAMPLES,
                         description="Servers from an Ansible inventory (INI or YAML; a file or a folder) with its group_vars/ and host_vars/:\n"
                         "ansible_host/port/user/ssh_private_key_file, ProxyJump in ansible_ssh_common_args and ansible_become become\n"
                         "host, port, user, key_file, proxy_jump and sudo; Ansible groups become groups. Ansible is not needed.")
    ans.add_argument("path", metavar="PATH", help="inventory file or folder")
    _out(ans)

    ssh = src.add_parser("ssh-config", help="the hosts of an OpenSSH client configuration", formatter_class=fmt, epilog=SSH_EXAMPLES,
                         description="Servers from an OpenSSH client configuration, read by paramiko's SSHConfig: each Host without wildcards\n"
                         "(HostName, Port, User, IdentityFile, ProxyJump, Match where paramiko supports it; Match exec is never run).")
    ssh.add_argument("file", metavar="FILE", nargs="?", help="ssh_config file (default: ~/.ssh/config)")
    ssh.add_argument("--host", action="append", default=[], metavar="PATTERN", help="only hosts matching PATTERN (glob); a plain name no Host line lists is looked up as `ssh NAME` would; repeatable")
    _out(ssh)

    aws = src.add_parser("aws-ec2", help="the running instances of AWS EC2", formatter_class=fmt, epilog=AWS_EXAMPLES,
                         description="Servers from the running EC2 instances of the given regions (ec2:DescribeInstances, read-only): named by\n"
                         "their Name tag, with their address, region, and the country of that region for the data-location controls.")
    aws.add_argument("--regions", action="append", required=True, metavar="LIST", help="comma-separated region names, or all-enabled; repeatable")
    aws.add_argument("--tag", action="append", default=[], metavar="KEY=VALUE", help="only instances with this tag (repeat: all must match)")
    aws.add_argument("--address", choices=("private", "public", "private-dns", "public-dns"), default="private", help="which address becomes host (default: private)")
    aws.add_argument("--profile", metavar="NAME", help="AWS profile (default: boto3's usual credential chain)")
    aws.add_argument("--endpoint-url", metavar="URL", help="another EC2 endpoint (a local emulator)")
    aws.add_argument("--user", metavar="NAME", help="SSH user to write for every server (EC2 does not know it)")
    aws.add_argument("--key-file", metavar="PATH", help="private key file to write for every server")
    _out(aws)

    kh = sub.add_parser("known-hosts", help="scan the servers' SSH host keys and print them with fingerprints (no login)", formatter_class=fmt,
                        description=KNOWN_HOSTS_HELP, epilog=KNOWN_HOSTS_EXAMPLES)
    kh.add_argument("inventory", metavar="INVENTORY", help="inventory YAML file")
    kh.add_argument("--limit", action="append", default=[], metavar="TARGET|TAG|GROUP", help="only these servers (as for run)")
    kh.add_argument("--timeout", type=positive_float, default=10.0, metavar="SECONDS", help="time allowed to each connection step (default: 10)")
    kh.add_argument("--out", metavar="FILE", help="add the scanned lines to this known_hosts file (atomically; existing lines are kept)")


def _out(p: argparse.ArgumentParser) -> None:
    p.add_argument("--out", metavar="FILE", help="write the inventory to FILE (atomically) instead of stdout")


def cmd_import(args: argparse.Namespace) -> int:
    from . import finish

    if args.source == "ansible":
        from .ansible import import_ansible

        imported = import_ansible(args.path)
    elif args.source == "ssh-config":
        from .ssh_config import default_config, import_ssh_config

        imported = import_ssh_config(args.file or default_config(), args.host)
    else:
        from .aws_ec2 import import_ec2

        regions = [r.strip() for item in args.regions for r in item.split(",") if r.strip()]
        imported = import_ec2(regions, args.tag, args.address, args.profile, args.endpoint_url, args.user, args.key_file)
    return finish(imported, args.out)


def cmd_known_hosts(args: argparse.Namespace) -> int:
    from ..console import terminal
    from ..hostkeys import describe_failures, file_mode, merge, read_existing, render, scan
    from ..integrity import write_atomic
    from ..inventory import load_inventory

    inventory = load_inventory(args.inventory)
    limits = tuple(v.strip() for item in args.limit for v in item.split(",") if v.strip())
    unknown = inventory.unknown_limits(list(limits))
    if unknown:
        raise InputError([Problem("--limit", None, None, f"{u!r} matches no target of {args.inventory}") for u in unknown])
    servers = [t for t in inventory.select(list(limits)) if t.kind == "server" and t.get("connection", "ssh") == "ssh"]
    if not servers:
        raise InputError(Problem(args.inventory, None, None, "no SSH server to scan (servers: with connection ssh)"))
    scans = scan(servers, args.timeout)
    code = EXIT_OK
    for message in describe_failures(scans):
        print(f"auditor: {message}", file=sys.stderr)
        code = EXIT_UNVERIFIED
    from ..transports.ssh import fingerprint

    mismatched = [s for s in scans if s.pinned and s.keys and all(fingerprint(k) != s.pinned for k in s.keys)]
    for s in mismatched:
        print(f"auditor: {s.name}: NO scanned key has the pinned host_key {s.pinned}: possible man-in-the-middle, or the pin is out of date", file=sys.stderr)
    if args.out:
        path = os.path.expanduser(args.out)
        text, conflicts, added = merge(read_existing(path), scans)
        for c in conflicts:
            print(f"auditor: CHANGED {terminal(c)}", file=sys.stderr)
        if conflicts:
            print(f"auditor: {path} not written: it lists other keys for {len(conflicts)} scanned host key(s); find out why before changing it", file=sys.stderr)
            return EXIT_VIOLATIONS
        if added:
            write_atomic(path, text.encode("utf-8"), mode=file_mode(path))
        print(render(scans), end="")
        print(f"auditor: {added} line(s) added to {path}; compare the fingerprints above out of band before trusting them", file=sys.stderr)
    else:
        print(render(scans), end="")
    return EXIT_VIOLATIONS if mismatched else code

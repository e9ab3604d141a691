"""TLS for web targets: HSTS on the https URL, and plain http:// redirecting to https.

One ``GET`` each, read-only, status line and headers only; no redirect is
followed (the auditor connects only to what the inventory names). The plain
URL is the target's ``http_url``, or its URL with ``http://`` on port 80.

A plain-HTTP port that refuses the connection is an answer: nothing serves
plain HTTP, so nothing needs redirecting (pass), provided the HTTPS port of
the same site accepts connections (a site that refuses both is down, which
is no evidence of anything: error). A timeout is never an answer. A site the
inventory names by an ``http://`` URL is served over plain HTTP: HSTS fails
without a request (browsers ignore the header over http://).

>>> redirects_to_https({"status": 301, "headers": [["Location", "https://shop.example.se/"]]})
True
"""

from __future__ import annotations

import re
from typing import Any, Mapping

from auditor.collect import Context
from auditor.errors import CollectError
from auditor.model import Reason, Target
from auditor.registry import Outcome, collector, control, failed, parameter, passed, sv
from auditor.transports.net import Refused, header_values, parse_hsts

HSTS_MIN_AGE = parameter(
    "hsts_min_age", int, 15552000,
    "Smallest Strict-Transport-Security max-age accepted, in seconds (default 180 days).",
)

REDIRECT_STATUSES = (301, 302, 303, 307, 308)


def _record(ctx: Context, which: str) -> dict[str, Any]:
    answer, transcript = ctx.conn.http_get(which, budget=ctx.remaining())
    ctx.evidence.append(transcript.evidence())
    answer.pop("head_lines", None)
    return answer


def plain_url(ctx: Context) -> str | None:
    """The site's http:// URL when the inventory names it so (no TLS to probe), else None."""
    return next((ep.plain_url for ep in ctx.conn.endpoints if ep.plain_url), None)


@collector("tls.hsts", kinds=("web",), transport="net", timeout=30)
def hsts_header(ctx: Context) -> dict[str, Any]:
    plain = plain_url(ctx)
    if plain is not None:
        ctx.record("inventory", ctx.target.source, f"web {ctx.target.name}: url: {plain}\n(served over plain HTTP: no HTTPS answer to read a Strict-Transport-Security header from)")
        return {"url": plain, "plain_http": True, "status": None, "status_line": None, "hsts": [], "parsed": None}
    answer = _record(ctx, "https")
    values = header_values(answer, "Strict-Transport-Security")
    return {"url": answer["url"], "status": answer["status"], "status_line": answer["status_line"], "hsts": values, "parsed": parse_hsts(values[0]) if values else None}


@collector("tls.http_redirect", kinds=("web",), transport="net", timeout=30)
def http_redirect(ctx: Context) -> dict[str, Any]:
    try:
        answer = _record(ctx, "http")
    except Refused as exc:
        return _refused(ctx, exc)
    return {"url": answer["url"], "status": answer["status"], "status_line": answer["status_line"], "location": (header_values(answer, "Location") or [None])[0]}


def _refused(ctx: Context, exc: Refused) -> dict[str, Any]:
    """The plain-HTTP port refused: an answer if the site's HTTPS port is up, else the site is down (error)."""
    http_url = ctx.conn.http["http"].url
    ctx.record("network", f"GET {http_url}", f"# connect: {exc.message}")
    if plain_url(ctx) is not None:  # the site's own (only) URL refuses: it is down
        raise exc
    up, transcript = ctx.conn.tcp_answer("https", budget=ctx.remaining())
    ctx.evidence.append(transcript.evidence())
    if not up:
        raise CollectError(Reason.UNREACHABLE, f"{exc.message}, and the HTTPS port refuses connections too: the site is down, so a closed plain-HTTP port shows nothing")
    return {"url": http_url, "status": None, "status_line": None, "location": None, "listener": False, "refusal": exc.message}


def _problem_sv(problem: str) -> str:
    """A problem :func:`auditor.transports.net.parse_hsts` found, in Swedish (an unknown wording unchanged)."""
    if m := re.fullmatch(r"directive (.+) repeated", problem):
        return f"direktivet {m[1]} upprepas"
    if m := re.fullmatch(r"max-age (.+) is not a number", problem):
        return f"max-age {m[1]} är inte ett tal"
    return {"no max-age directive": "inget max-age-direktiv"}.get(problem, problem)


def _refused_sv(refusal: str) -> str:
    """The net transport's "connection to HOST:PORT refused (nothing listens there)", in Swedish."""
    m = re.fullmatch(r"connection to (.+) refused \(nothing listens there\)", str(refusal))
    return f"anslutningen till {m[1]} avvisades, ingenting lyssnar där" if m else str(refusal)


def redirects_to_https(answer: Mapping[str, Any]) -> bool:
    location = answer.get("location") or (header_values(dict(answer), "Location") or [None])[0]
    return answer.get("status") in REDIRECT_STATUSES and isinstance(location, str) and location.lower().startswith("https://")


_REFS = ("GDPR Art. 32(1)(a)", "RFC 6797", "OWASP HTTP Strict Transport Security Cheat Sheet", "Mozilla Web Security Guidelines")


@control(
    "TLS-WEB-HSTS", family="tls", kinds=("web",), severity="medium", facts=("tls.hsts",), params=("hsts_min_age",), references=_REFS,
    title="Websites tell browsers to use HTTPS only (HSTS)",
    title_sv="Webbplatserna säger åt webbläsare att bara använda HTTPS (HSTS)",
    rationale_sv="Utan Strict-Transport-Security pratar en webbläsare som en gång skickas till http:// (en inskriven adress, en gammal länk, en angripare på nätet) först okrypterat, och sessionen kan fråntas TLS. En lång max-age håller webbläsare på HTTPS mellan besöken.",
    remediation="Send the header Strict-Transport-Security with a max-age of at least the policy's minimum on every HTTPS response.",
    remediation_sv="Skicka huvudet Strict-Transport-Security med en max-age på minst policyns lägsta värde i varje HTTPS-svar.",
    plain="{n} website(s) do not tell browsers to use HTTPS only",
    plain_sv="{n} webbplats(er) säger inte åt webbläsare att bara använda HTTPS",
    rationale="Without Strict-Transport-Security a browser that is sent to http:// once (a typed address, an old link, an attacker on the network) talks "
    "plaintext first, and the session can be stripped of TLS. A long max-age keeps browsers on HTTPS between visits.",
)
def web_hsts(facts: Mapping[str, Any], params: Mapping[str, Any], target: Target) -> Outcome:
    fact = facts["tls.hsts"]
    minimum = params["hsts_min_age"]
    shown = {"url": fact["url"], "status": fact["status"], "header": fact["hsts"], "minimum": minimum}
    if fact.get("plain_http"):
        return failed(sv(f"served over plain HTTP ({fact['url']}): no HTTPS, so no Strict-Transport-Security (browsers ignore it over http://)",
                         f"levereras över okrypterad HTTP ({fact['url']}): ingen HTTPS och därmed ingen Strict-Transport-Security (webbläsare bortser från den över http://)"),
                      **shown, plain_http=True)
    if not fact["hsts"]:
        return failed(sv(f"{fact['url']} sends no Strict-Transport-Security header ({fact['status_line']})",
                         f"{fact['url']} skickar inget Strict-Transport-Security-huvud ({fact['status_line']})"), **shown)
    parsed = fact["parsed"] or {}
    first = fact["hsts"][0]
    extra = sv(f" ({len(fact['hsts'])} headers; browsers use the first)", f" ({len(fact['hsts'])} huvuden; webbläsare använder det första)") if len(fact["hsts"]) > 1 else sv("", "")
    age = parsed.get("max_age")
    if age is None:
        problems = parsed.get("problems", [])
        return failed(sv(f"Strict-Transport-Security '{first}' has no valid max-age ({'; '.join(problems)}){extra.en}",
                         f"Strict-Transport-Security '{first}' saknar giltig max-age ({'; '.join(map(_problem_sv, problems))}){extra.sv}"), **shown)
    days, min_days = f"{age / 86400:.0f}", f"{minimum / 86400:.0f}"
    if age < minimum:
        return failed(sv(f"Strict-Transport-Security max-age is {age} s ({days} days); the policy asks at least {minimum} s ({min_days} days){extra.en}",
                         f"Strict-Transport-Security max-age är {age} s ({days} dagar); policyn kräver minst {minimum} s ({min_days} dagar){extra.sv}"), **shown, max_age=age)
    sub = "; includeSubDomains" if parsed.get("include_subdomains") else ""
    return passed(sv(f"Strict-Transport-Security max-age={age} ({days} days){sub}{extra.en}", f"Strict-Transport-Security max-age={age} ({days} dagar){sub}{extra.sv}"), **shown, max_age=age)


@control(
    "TLS-WEB-HTTP-REDIRECT", family="tls", kinds=("web",), severity="medium", facts=("tls.http_redirect",), references=_REFS,
    title="Plain HTTP redirects to HTTPS",
    title_sv="Okrypterad HTTP skickas vidare till HTTPS",
    rationale_sv="En webbplats som fortfarande levererar sidor över http:// låter besökare (och formulär med personuppgifter) använda den okrypterat; den måste skicka dem vidare till https://-adressen i stället.",
    remediation="Make the http:// site answer every request with a permanent redirect (301 or 308) to the same https:// address.",
    remediation_sv="Låt http://-webbplatsen svara på varje förfrågan med en permanent omdirigering (301 eller 308) till samma https://-adress.",
    plain="{n} website(s) still serve pages over plain HTTP",
    plain_sv="{n} webbplats(er) levererar fortfarande sidor över okrypterad HTTP",
    rationale="A site that still answers pages over http:// lets visitors (and forms with personal data) use it without encryption; "
    "it must send them to the https:// address instead.",
)
def web_http_redirect(facts: Mapping[str, Any], params: Mapping[str, Any], target: Target) -> Outcome:
    fact = facts["tls.http_redirect"]
    shown = {"url": fact["url"], "status": fact["status"], "location": fact["location"]}
    if fact.get("listener") is False:
        return passed(sv(f"no plain-HTTP listener; nothing to redirect ({fact['refusal']}; the HTTPS port accepts connections)",
                         f"ingen tjänst lyssnar på okrypterad HTTP; inget att omdirigera ({_refused_sv(fact['refusal'])}; HTTPS-porten tar emot anslutningar)"),
                      **shown, listener=False, refusal=fact["refusal"])
    if redirects_to_https(fact):
        return passed(sv(f"{fact['url']} redirects ({fact['status']}) to {fact['location']}", f"{fact['url']} omdirigerar ({fact['status']}) till {fact['location']}"), **shown)
    if fact["status"] in REDIRECT_STATUSES:
        return failed(sv(f"{fact['url']} redirects ({fact['status']}) to {fact['location']!r}, which is not an https:// address",
                         f"{fact['url']} omdirigerar ({fact['status']}) till {fact['location']!r}, som inte är en https://-adress"), **shown)
    return failed(sv(f"{fact['url']} answers {fact['status_line']} over plain HTTP instead of redirecting to https://",
                     f"{fact['url']} svarar {fact['status_line']} över okrypterad HTTP i stället för att omdirigera till https://"), **shown)

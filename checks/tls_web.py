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

from typing import Any, Mapping

from auditor.collect import Context
from auditor.errors import CollectError
from auditor.model import Reason, Target
from auditor.registry import Outcome, collector, control, failed, parameter, passed
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
        return failed(f"served over plain HTTP ({fact['url']}): no HTTPS, so no Strict-Transport-Security (browsers ignore it over http://)", **shown, plain_http=True)
    if not fact["hsts"]:
        return failed(f"{fact['url']} sends no Strict-Transport-Security header ({fact['status_line']})", **shown)
    parsed = fact["parsed"] or {}
    first = fact["hsts"][0]
    extra = f" ({len(fact['hsts'])} headers; browsers use the first)" if len(fact["hsts"]) > 1 else ""
    age = parsed.get("max_age")
    if age is None:
        return failed(f"Strict-Transport-Security '{first}' has no valid max-age ({'; '.join(parsed.get('problems', []))}){extra}", **shown)
    if age < minimum:
        return failed(f"Strict-Transport-Security max-age is {age} s ({age / 86400:.0f} days); the policy asks at least {minimum} s ({minimum / 86400:.0f} days){extra}", **shown, max_age=age)
    return passed(f"Strict-Transport-Security max-age={age} ({age / 86400:.0f} days){'; includeSubDomains' if parsed.get('include_subdomains') else ''}{extra}", **shown, max_age=age)


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
        return passed(f"no plain-HTTP listener; nothing to redirect ({fact['refusal']}; the HTTPS port accepts connections)", **shown, listener=False, refusal=fact["refusal"])
    if redirects_to_https(fact):
        return passed(f"{fact['url']} redirects ({fact['status']}) to {fact['location']}", **shown)
    if fact["status"] in REDIRECT_STATUSES:
        return failed(f"{fact['url']} redirects ({fact['status']}) to {fact['location']!r}, which is not an https:// address", **shown)
    return failed(f"{fact['url']} answers {fact['status_line']} over plain HTTP instead of redirecting to https://", **shown)

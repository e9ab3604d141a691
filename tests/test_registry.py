"""The registry guards the catalogue: metadata valid, every control tested and mapped."""

from __future__ import annotations

import glob
import os
import types

import pytest

from auditor.model import FAMILIES
from auditor.policy import builtin_policies, load_policy
from auditor.registry import TEXTS, Registry, RegistryError, collector, control, parameter, passed, text_problems

HERE = os.path.dirname(os.path.abspath(__file__))


@pytest.fixture(scope="module")
def registry():
    return Registry.load(entry_points=False)


def test_every_control_has_complete_metadata(registry):
    assert registry.controls, "no controls found in checks/"
    for c in registry.controls.values():
        info = c.info
        assert info.family in FAMILIES
        assert info.title and info.rationale and info.references, info.id
        assert info.severity.value in ("low", "medium", "high", "critical")
        for fact in info.facts:
            for kind in info.kinds:
                assert (fact, kind) in registry.collectors


def test_every_control_declares_its_texts_in_english_and_swedish(registry):
    """Adding a control touches one module: its title, rationale, remediation and plain-words
    failure come with it, in both languages (the reports read them from the run)."""
    for c in registry.controls.values():
        info = c.info
        for name in TEXTS:
            value = getattr(info, name)
            assert isinstance(value, str) and value.strip(), f"{info.id}: {name}"
        for name in ("title", "rationale", "remediation", "plain"):
            assert getattr(info, name) != getattr(info, f"{name}_sv"), f"{info.id}: {name}_sv is not translated"
        for name in ("plain", "plain_sv"):
            assert "{n}" in getattr(info, name) and getattr(info, name).format(n=3).startswith("3 "), f"{info.id}: {name}"
        assert text_problems(info) == []


def test_control_texts_are_recorded_in_the_run_document(registry):
    from auditor.model import to_jsonable

    recorded = to_jsonable(registry.controls["ACCESS-SSH-PASSWORD-AUTH"].info)
    assert set(TEXTS) <= set(recorded)
    assert recorded["plain_sv"] == "{n} server(ar) tillåter lösenordsinloggning över SSH"


def test_every_control_is_exercised_by_a_test(registry):
    """A control id must appear in a test module other than this one."""
    texts = []
    for path in glob.glob(os.path.join(HERE, "test_*.py")):
        if os.path.basename(path) != "test_registry.py":
            with open(path, encoding="utf-8") as fh:
                texts.append(fh.read())
    corpus = "\n".join(texts)
    untested = [cid for cid in registry.controls if cid not in corpus]
    assert not untested, f"controls without a test: {untested}"


def test_every_control_serves_a_promise_of_the_baseline(registry):
    baseline = load_policy("baseline-eu", registry)
    mapped = {cid for p in baseline.promises for cid in p.controls}
    assert set(registry.controls) <= mapped, f"controls mapped to no baseline promise: {set(registry.controls) - mapped}"


def test_builtin_policies_load(registry):
    for name in builtin_policies():
        policy = load_policy(name, registry)
        assert policy.promises


def _module(**members):
    mod = types.ModuleType("fake_checks")
    mod.__dict__.update(members)
    return mod


@collector("fake.fact", kinds=("server",))
def _fake_fact(ctx):
    return 1


def _meta(**over):
    meta = dict(family="access", kinds=("server",), severity="low", facts=("fake.fact",), title="A fake control title", rationale="A rationale long enough to count.",
                title_sv="En påhittad kontrolltitel", rationale_sv="En motivering som är lång nog att räknas.",
                remediation="Do the fake thing.", remediation_sv="Gör det påhittade.",
                plain="{n} server(s) fail the fake control", plain_sv="{n} server(ar) underkänns av den påhittade kontrollen")
    meta.update(over)
    return meta


@pytest.mark.parametrize(
    "cid, meta, message",
    [
        ("lower-case", {}, "upper case words"),
        ("FAKE-FAMILY", {"family": "nonsense"}, "family 'nonsense'"),
        ("FAKE-KIND", {"kinds": ("toaster",)}, "kinds"),
        ("FAKE-FACT", {"facts": ("no.such_fact",)}, "no collector provides it"),
        ("FAKE-NOFACT", {"facts": ()}, "declares no facts"),
        ("FAKE-PARAM", {"params": ("undeclared",)}, "no module declares"),
        ("FAKE-TITLE", {"title": ""}, "title is missing"),
        ("FAKE-NO-SV-TITLE", {"title_sv": ""}, r"title_sv is missing \(declare it in @control"),
        ("FAKE-NO-SV-RATIONALE", {"rationale_sv": "  "}, "rationale_sv is missing"),
        ("FAKE-NO-REMEDIATION", {"remediation": ""}, "control FAKE-NO-REMEDIATION: remediation is missing"),
        ("FAKE-NO-SV-REMEDIATION", {"remediation_sv": ""}, "remediation_sv is missing"),
        ("FAKE-NO-PLAIN", {"plain": ""}, "control FAKE-NO-PLAIN: plain is missing"),
        ("FAKE-NO-SV-PLAIN", {"plain_sv": ""}, "plain_sv is missing"),
        ("FAKE-PLAIN-NO-N", {"plain": "some servers fail"}, r"plain must contain \{n\}"),
        ("FAKE-PLAIN-SV-NO-N", {"plain_sv": "några servrar"}, r"plain_sv must contain \{n\}"),
        ("FAKE-PLAIN-OTHER", {"plain": "{n} {kind}s fail"}, r"plain may use only the placeholder \{n\}"),
    ],
)
def test_malformed_metadata_is_rejected_at_load(cid, meta, message):
    bad = control(cid, **_meta(**meta))(lambda f, p, t: passed("x"))
    with pytest.raises(RegistryError, match=message):
        Registry([_module(fact=_fake_fact, bad=bad)])


def test_bad_severity_and_duplicate_ids_are_rejected():
    with pytest.raises(RegistryError, match="severity"):
        control("FAKE-SEV", **_meta(severity="urgent"))(lambda f, p, t: passed("x"))
    one = control("FAKE-DUP", **_meta())(lambda f, p, t: passed("x"))
    with pytest.raises(RegistryError, match="declared twice"):
        Registry([_module(fact=_fake_fact, a=one), _module(b=one)])


def test_parameter_defaults_are_type_checked():
    with pytest.raises(RegistryError, match="default of parameter"):
        Registry([_module(p=parameter("fake_limit", int, "ten", "doc"))])


def test_every_parameter_is_documented(registry):
    with open(os.path.join(HERE, "..", "docs", "policy.md"), encoding="utf-8") as fh:
        doc = fh.read()
    missing = [name for name in registry.parameters if f"`{name}`" not in doc]
    assert not missing, f"parameters missing from docs/policy.md: {missing}"

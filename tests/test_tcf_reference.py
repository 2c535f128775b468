"""Cross-check of the TC string codec against the IAB reference library `@iabtechlabtcf/core`.

Node runs `tests/tcf_reference/reference.js` (the library is pinned in its package-lock.json and
installed by scripts/test.sh with `npm ci`). Strings we encode must decode field by field in the
reference; strings the reference encodes must decode in ours to the same model.
"""

from __future__ import annotations

import json
import random
import shutil
import subprocess
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from importlib import resources
from pathlib import Path
from typing import Any

import pytest

from consentgate.tcf import PublisherRestriction, PublisherTC, TCModel, decode, encode

REFERENCE_DIR = Path(__file__).parent / "tcf_reference"
NODE = shutil.which("node")

pytestmark = pytest.mark.skipif(
    NODE is None,
    reason="Node.js is not installed: the cross-check against @iabtechlabtcf/core needs it "
    "(apt-get install nodejs npm)",
)

GVL: dict[str, Any] = json.loads(
    resources.files("consentgate.tcf").joinpath("synthetic_gvl/vendor-list.json").read_text()
)


def run_reference(requests: list[dict[str, Any]]) -> list[dict[str, Any]]:
    if not (REFERENCE_DIR / "node_modules" / "@iabtechlabtcf" / "core").is_dir():
        pytest.fail("the reference library is not installed: npm ci --prefix tests/tcf_reference")
    assert NODE is not None
    done = subprocess.run(
        [NODE, "reference.js"],
        input=json.dumps({"gvl": GVL, "requests": requests}),
        cwd=REFERENCE_DIR,
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    answers: list[dict[str, Any]] = json.loads(done.stdout)
    assert len(answers) == len(requests)
    return answers


def fields_of(model: TCModel) -> dict[str, Any]:
    """Our model in the reference's vocabulary (lists sorted, dates in milliseconds)."""
    pub = model.publisher or PublisherTC()
    return {
        "version": model.version,
        "created": int(model.created.timestamp() * 1000),
        "lastUpdated": int(model.last_updated.timestamp() * 1000),
        "cmpId": model.cmp_id,
        "cmpVersion": model.cmp_version,
        "consentScreen": model.consent_screen,
        "consentLanguage": model.consent_language,
        "vendorListVersion": model.vendor_list_version,
        "policyVersion": model.policy_version,
        "isServiceSpecific": model.is_service_specific,
        "useNonStandardTexts": model.use_non_standard_texts,
        "specialFeatureOptins": sorted(model.special_feature_opt_ins),
        "purposeConsents": sorted(model.purpose_consents),
        "purposeLegitimateInterests": sorted(model.purpose_li_transparency),
        "purposeOneTreatment": model.purpose_one_treatment,
        "publisherCountryCode": model.publisher_country,
        "vendorConsents": sorted(model.vendor_consents),
        "vendorLegitimateInterests": sorted(model.vendor_li),
        "publisherRestrictions": sorted(
            (r.purpose_id, r.restriction_type, sorted(r.vendors))
            for r in model.publisher_restrictions
        ),
        "vendorsDisclosed": sorted(model.disclosed_vendors or ()),
        "publisherConsents": sorted(pub.purpose_consents),
        "publisherLegitimateInterests": sorted(pub.purpose_li_transparency),
        "numCustomPurposes": pub.num_custom_purposes,
        "publisherCustomConsents": sorted(pub.custom_purpose_consents),
        "publisherCustomLegitimateInterests": sorted(pub.custom_purpose_li_transparency),
    }


def reference_fields(answer: dict[str, Any]) -> dict[str, Any]:
    assert "error" not in answer, answer
    got = dict(answer["model"])
    got["publisherRestrictions"] = sorted(
        (r["purposeId"], r["restrictionType"], r["vendors"]) for r in got["publisherRestrictions"]
    )
    return got


def random_ids(rnd: random.Random, top: int, dense: bool) -> frozenset[int]:
    if dense:
        share = rnd.uniform(0.3, 1.0)
        return frozenset(i for i in range(1, top + 1) if rnd.random() < share)
    return frozenset(rnd.sample(range(1, top + 1), k=min(top, rnd.randint(0, 12))))


def random_model(rnd: random.Random) -> TCModel:
    day = datetime(2020, 1, 1, tzinfo=UTC) + timedelta(days=rnd.randint(0, 3000))
    restrictions = tuple(
        PublisherRestriction(purpose, kind, random_ids(rnd, 900, dense=False) or frozenset({7}))
        for purpose, kind in rnd.sample([(p, k) for p in range(1, 12) for k in range(3)], k=2)
    )
    custom = rnd.randint(0, 10)
    return TCModel(
        cmp_id=rnd.randint(2, 4095),
        cmp_version=rnd.randint(0, 4095),
        vendor_list_version=rnd.randint(1, 4095),
        policy_version=rnd.choice([4, 5]),
        created=day,
        last_updated=day + timedelta(days=rnd.randint(0, 30), seconds=rnd.randint(0, 86399)),
        consent_screen=rnd.randint(0, 63),
        consent_language=rnd.choice(["EN", "DE", "FR", "PL"]),
        use_non_standard_texts=rnd.random() < 0.2,
        special_feature_opt_ins=random_ids(rnd, 2, dense=True),
        purpose_consents=random_ids(rnd, 11, dense=True),
        purpose_li_transparency=frozenset({2, 7, 8, 9, 10, 11}) & random_ids(rnd, 11, dense=True),
        purpose_one_treatment=rnd.random() < 0.2,
        publisher_country=rnd.choice(["DE", "FR", "GB", "AA", "CH"]),
        vendor_consents=random_ids(rnd, rnd.choice([30, 1200, 40000]), dense=rnd.random() < 0.5),
        vendor_li=random_ids(rnd, rnd.choice([30, 1200]), dense=rnd.random() < 0.5),
        publisher_restrictions=restrictions if rnd.random() < 0.5 else (),
        disclosed_vendors=random_ids(rnd, rnd.choice([30, 1200]), dense=rnd.random() < 0.5),
        publisher=None
        if rnd.random() < 0.4
        else PublisherTC(
            purpose_consents=random_ids(rnd, 11, dense=True),
            purpose_li_transparency=random_ids(rnd, 11, dense=False),
            num_custom_purposes=custom,
            custom_purpose_consents=random_ids(rnd, custom, dense=True),
            custom_purpose_li_transparency=random_ids(rnd, custom, dense=False),
        ),
    )


def test_our_strings_decode_field_by_field_in_the_reference() -> None:
    rnd = random.Random(20260228)
    models = [random_model(rnd) for _ in range(120)]
    answers = run_reference([{"decode": encode(m)} for m in models])
    for model, answer in zip(models, answers, strict=True):
        assert reference_fields(answer) == fields_of(model)


def test_a_string_with_only_google_decodes_in_the_reference() -> None:
    day = datetime(2026, 3, 2, tzinfo=UTC)
    model = TCModel(
        cmp_id=300,
        cmp_version=1,
        vendor_list_version=1,
        policy_version=5,
        created=day,
        last_updated=day,
        purpose_consents=frozenset({1, 3, 4}),
        purpose_li_transparency=frozenset({2, 7, 9, 10}),
        publisher_country="DE",
        vendor_consents=frozenset({755}),
        vendor_li=frozenset({755}),
        disclosed_vendors=frozenset({755}),
    )
    (answer,) = run_reference([{"decode": encode(model)}])
    assert reference_fields(answer) == fields_of(model)


def reference_spec(rnd: random.Random) -> dict[str, Any]:
    """Choices for the reference encoder, consistent with the synthetic GVL."""
    vendor_ids = [int(v) for v in GVL["vendors"]]
    day = datetime(2026, 1, 1, tzinfo=UTC) + timedelta(days=rnd.randint(0, 400))
    ms = int(day.timestamp() * 1000)
    return {
        "cmpId": rnd.randint(2, 4095),
        "cmpVersion": rnd.randint(0, 4095),
        "consentScreen": rnd.randint(0, 63),
        "publisherCountryCode": rnd.choice(["DE", "IE", "NL"]),
        "purposeOneTreatment": rnd.random() < 0.3,
        "specialFeatureOptins": sorted(random_ids(rnd, 2, dense=True)),
        "purposeConsents": sorted(random_ids(rnd, 11, dense=True)),
        "purposeLegitimateInterests": sorted(random_ids(rnd, 11, dense=True)),
        "vendorConsents": sorted(rnd.sample(vendor_ids, k=rnd.randint(0, len(vendor_ids)))),
        "vendorLegitimateInterests": sorted(rnd.sample(vendor_ids, k=rnd.randint(0, 3))),
        "vendorsDisclosed": sorted(rnd.sample(vendor_ids, k=rnd.randint(0, len(vendor_ids)))),
        "publisherConsents": sorted(random_ids(rnd, 11, dense=True)),
        "publisherLegitimateInterests": sorted(random_ids(rnd, 11, dense=False)),
        "created": ms,
        "lastUpdated": ms,
    }


def test_reference_strings_decode_in_ours_to_the_same_model() -> None:
    rnd = random.Random(755)
    specs = [reference_spec(rnd) for _ in range(60)]
    encoded = run_reference([{"encode": spec} for spec in specs])
    strings = []
    for answer in encoded:
        assert "error" not in answer, answer
        strings.append(answer["tcString"])
    decoded_by_reference = run_reference([{"decode": s} for s in strings])
    for spec, tc_string, answer in zip(specs, strings, decoded_by_reference, strict=True):
        ours = decode(tc_string)
        assert fields_of(ours) == reference_fields(answer)
        # The choices made survive (the reference drops LI for purposes 1 and 3-6 by policy).
        assert sorted(ours.purpose_consents) == spec["purposeConsents"]
        assert ours.purpose_li_transparency == frozenset(spec["purposeLegitimateInterests"]) - {
            1,
            3,
            4,
            5,
            6,
        }
        assert ours.disclosed_vendors == frozenset(spec["vendorsDisclosed"])
        assert ours.vendor_list_version == GVL["vendorListVersion"]
        assert ours.policy_version == GVL["tcfPolicyVersion"]
        # And ours writes it back so that the reference reads the same fields again.
        assert decode(encode(ours)) == ours


def test_reference_rejects_what_ours_rejects_for_cmp_id() -> None:
    rnd = random.Random(1)
    spec = reference_spec(rnd) | {"cmpId": 1}
    (answer,) = run_reference([{"encode": spec}])
    assert "error" in answer
    sample = decode(run_reference([{"encode": reference_spec(rnd)}])[0]["tcString"])
    with pytest.raises(ValueError, match="CmpId"):
        encode(replace(sample, cmp_id=1))


def test_strings_made_from_visitor_choices_decode_in_the_reference() -> None:
    from consentgate.tcf.gvl import load_gvl, synthetic_gvl_path
    from consentgate.tcf.offer import TcfOffer

    offer = TcfOffer.build(
        gvl=load_gvl(synthetic_gvl_path(), ["en"]),
        vendors=[1, 2, 3, 8, 755, 1000],
        cmp_id=300,
        cmp_version=4,
        publisher_country="IE",
    )
    every = frozenset(offer.category_names())
    choices = [
        offer.refine("accept_all", every),
        offer.refine("reject_all", frozenset()),
        offer.refine("save", frozenset({"tcf_p1", "tcf_p3", "tcf_v755", "tcf_o2", "tcf_sf1"})),
    ]
    when = datetime(2026, 3, 2, 15, 30, tzinfo=UTC)
    models = [offer.model(granted, when, "de") for granted in choices]
    answers = run_reference([{"decode": encode(m)} for m in models])
    for model, answer in zip(models, answers, strict=True):
        assert reference_fields(answer) == fields_of(model)
    assert reference_fields(answers[0])["vendorConsents"] == [1, 2, 3, 8, 755, 1000]
    assert reference_fields(answers[1])["purposeConsents"] == []
    assert reference_fields(answers[2])["purposeLegitimateInterests"] == [7, 8, 9, 10]

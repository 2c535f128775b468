"""Google integration: Consent Mode v2 head script, GA4, AdSense and GPT per consent."""

from __future__ import annotations

import json
import re

from consentgate import AdMode, Consent
from consentgate.integrations import inert_scripts, inline_scripts
from consentgate.integrations.google import (
    GPT_LIMITED_URL,
    GPT_URL,
    GoogleConfig,
    GoogleTags,
    builtin_services,
)

ALL = frozenset({"necessary", "functional", "analytics", "advertising"})


def consent(
    granted: frozenset[str] = ALL,
    *,
    regulated: bool = True,
    decided: bool = True,
    ads: AdMode = AdMode.PERSONALIZED,
    gpc_opt_out: bool = False,
) -> Consent:
    return Consent(
        country="DE",
        regulated=regulated,
        decided=decided,
        granted=granted,
        consent_id="x",
        revision=1,
        decided_at=None,
        gpc=gpc_opt_out,
        ads=ads,
        analytics="analytics" in granted,
        show_banner=not decided,
        gpc_opt_out=gpc_opt_out,
    )


def calls(script: str, name: str) -> list[dict[str, object]]:
    pattern = rf"gtag\('consent','{name}',(\{{.*?\}})\);"
    return [json.loads(found) for found in re.findall(pattern, script)]


def test_regulated_default_denies_everything_but_security_and_waits() -> None:
    tags = GoogleTags(GoogleConfig(wait_for_update_ms=700))
    script = tags.head_script(consent(frozenset({"necessary"}), decided=False, ads=AdMode.NONE))
    (default,) = calls(script, "default")
    assert default["wait_for_update"] == 700
    assert default["security_storage"] == "granted"
    assert {k for k, v in default.items() if v == "denied"} == {
        "ad_storage",
        "ad_user_data",
        "ad_personalization",
        "analytics_storage",
        "functionality_storage",
        "personalization_storage",
    }
    assert calls(script, "update") == []


def test_decided_visitor_gets_update_after_default() -> None:
    script = GoogleTags(GoogleConfig()).head_script(consent(frozenset({"necessary", "analytics"})))
    (update,) = calls(script, "update")
    assert script.index("'default'") < script.index("'update'")
    assert update["analytics_storage"] == "granted"
    assert update["ad_storage"] == "denied"


def test_unregulated_default_is_granted_but_gpc_denies_personalization() -> None:
    tags = GoogleTags(GoogleConfig())
    (default,) = calls(tags.head_script(consent(regulated=False, decided=False)), "default")
    assert default["ad_personalization"] == "granted"
    gpc = tags.head_script(consent(regulated=False, decided=False, gpc_opt_out=True))
    (default,) = calls(gpc, "default")
    assert default["ad_personalization"] == "denied"
    assert default["ad_user_data"] == "denied"
    assert default["ad_storage"] == "granted"


def test_redaction_and_passthrough_follow_settings() -> None:
    on = GoogleTags(GoogleConfig(ads_data_redaction=True, url_passthrough=True))
    off = GoogleTags(GoogleConfig(ads_data_redaction=False, url_passthrough=False))
    assert "gtag('set','ads_data_redaction',true)" in on.head_script(consent())
    assert "url_passthrough',true" in on.head_script(consent())
    assert "ads_data_redaction" not in off.head_script(consent())
    assert "url_passthrough" not in off.head_script(consent())


def test_consent_mode_off_emits_no_consent_calls() -> None:
    tags = GoogleTags(GoogleConfig(consent_mode=False, measurement_id="G-TEST12345"))
    assert "gtag('consent'" not in tags.head_script(consent())


def test_nothing_google_configured_means_no_head_script() -> None:
    tags = GoogleTags(GoogleConfig(consent_mode=False))
    assert tags.head_script(consent()) == ""
    assert tags.body_tags(consent()) == ""


def test_ga4_active_only_with_analytics_and_never_anonymize_ip() -> None:
    tags = GoogleTags(GoogleConfig(measurement_id="G-TEST12345"))
    active = tags.body_tags(consent())
    inert = tags.body_tags(consent(frozenset({"necessary"}), ads=AdMode.NON_PERSONALIZED))
    assert '<script src="https://www.googletagmanager.com/gtag/js?id=G-TEST12345" async>' in active
    assert "allow_google_signals:true" in active
    assert 'data-consentgate-src="https://www.googletagmanager.com/gtag/js?id=G-TEST12345"' in inert
    assert 'type="text/plain" data-consentgate-category="analytics"' in inert
    assert "anonymize_ip" not in active + inert


def test_adsense_non_personalized_sets_flag_before_loading() -> None:
    tags = GoogleTags(GoogleConfig(ads_provider="adsense", ads_client="ca-pub-1234567890123456"))
    npa = consent(frozenset({"necessary"}), ads=AdMode.NON_PERSONALIZED)
    assert "requestNonPersonalizedAds=1" in tags.head_script(npa)
    assert '<script src="https://pagead2.googlesyndication.com' in tags.body_tags(npa)
    personal = consent()
    assert "requestNonPersonalizedAds" not in tags.head_script(personal)


def test_adsense_none_keeps_the_loader_inert() -> None:
    tags = GoogleTags(GoogleConfig(ads_provider="adsense", ads_client="ca-pub-1234567890123456"))
    body = tags.body_tags(consent(frozenset({"necessary"}), decided=False, ads=AdMode.NONE))
    assert 'data-consentgate-src="https://pagead2.googlesyndication.com' in body
    assert "<script src=" not in body


def test_gpt_privacy_settings_per_mode() -> None:
    tags = GoogleTags(GoogleConfig(ads_provider="gpt"))
    limited = consent(frozenset({"necessary"}), ads=AdMode.LIMITED)
    assert "setPrivacySettings({limitedAds:true})" in tags.head_script(limited)
    assert f'<script src="{GPT_LIMITED_URL}" async>' in tags.body_tags(limited)
    npa = consent(frozenset({"necessary"}), ads=AdMode.NON_PERSONALIZED)
    assert "setPrivacySettings({nonPersonalizedAds:true})" in tags.head_script(npa)
    assert f'<script src="{GPT_URL}" async>' in tags.body_tags(npa)
    assert "setPrivacySettings" not in tags.head_script(consent())
    none = tags.body_tags(consent(frozenset({"necessary"}), ads=AdMode.NONE))
    assert f'data-consentgate-src="{GPT_URL}"' in none


def test_builtin_services_name_google_and_their_cookies() -> None:
    services = builtin_services(GoogleConfig(measurement_id="G-TEST12345", ads_provider="gpt"))
    assert [s.name for s in services] == ["Google Analytics 4", "Google Ad Manager"]
    assert all(s.vendor == "Google" for s in services)
    assert "_ga" in services[0].cookies
    assert "doubleclick.net" in services[1].hosts


def test_inert_scripts_rewrites_src_and_type() -> None:
    html = '<script type="module" src="/a.js" defer></script><SCRIPT>go()</SCRIPT>'
    inert = inert_scripts(html, "functional")
    assert inert == (
        '<script type="text/plain" data-consentgate-category="functional" '
        'data-consentgate-type="module" data-consentgate-src="/a.js" defer></script>'
        '<script type="text/plain" data-consentgate-category="functional">go()</SCRIPT>'
    )
    assert inline_scripts(inert) == ["go()"]


def test_values_cannot_close_the_script_element() -> None:
    tags = GoogleTags(GoogleConfig(measurement_id="G-TEST12345"))
    assert "</script" not in tags.head_script(consent()).lower()


def test_head_script_stays_well_under_one_kilobyte() -> None:
    tags = GoogleTags(GoogleConfig(ads_provider="gpt", url_passthrough=True))
    decided = consent(frozenset({"necessary"}), ads=AdMode.LIMITED, gpc_opt_out=True)
    script = f"<script>{tags.head_script(decided)}</script>"
    assert len(script.encode()) < 900  # a <meta charset> after it stays in the first 1024 bytes

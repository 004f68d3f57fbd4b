"""The pure rules of segments and consent: the spend band, how a custom value is matched, filter
normalization, consent validation and merging, language tags."""
from __future__ import annotations

from datetime import UTC, datetime

import pytest

from crm.contacts.v1 import contacts_pb2 as pb
from crm_contacts.rules import consent as consent_rules
from crm_contacts.rules import segments as rules
from crm_contacts.rules.records import normalize_language
from crmkit.errors import InvalidArgument


@pytest.mark.parametrize(("text", "low", "high"), [
    ("0-10000", 0, 1_000_000), ("10000-100000", 1_000_000, 10_000_000), ("100000-", 10_000_000, None),
    (" 5 - 6 ", 500, 600),
])
def test_spend_bands_are_whole_yuan_from_inclusive_to_exclusive(text: str, low: int, high: int | None) -> None:
    band = rules.parse_spend_band(text)
    assert band is not None and (band.low_cents, band.high_cents) == (low, high)
    assert rules.parse_spend_band(str(band)) == band  # the stored form reads back the same


@pytest.mark.parametrize("text", ["cheap", "-100", "10000", "100-100", "200-100", "0-", "1.5-3", "1e3-"])
def test_a_malformed_band_names_the_field(text: str) -> None:
    with pytest.raises(InvalidArgument) as refused:
        rules.parse_spend_band(text)
    assert refused.value.field == "filter.spend_band"


def test_custom_values_are_matched_as_canonical_text() -> None:
    assert [rules.custom_value_text(v) for v in (5000.0, 5000, 12.5, True, False, "A", None)] == [
        "5000", "5000", "12.5", "true", "false", "A", None]
    assert rules.custom_value_text("x" * 201) is None  # no filter can name it


def test_normalize_filter_trims_dedupes_and_reads_custom_values_by_type() -> None:
    definitions = {"budget": pb.CustomFieldDefinition(key="budget", type="number")}
    flt = pb.SegmentFilter(regions=[" north ", "north"], levels=["vip"], tags_any=["a", " a "],
                           custom_fields={"budget": "1e3"}, spend_band="100000 - ")
    rules.normalize_filter(flt, definitions)
    assert (list(flt.regions), list(flt.tags_any), dict(flt.custom_fields), flt.spend_band) == (
        ["north"], ["a"], {"budget": "1000"}, "100000-")
    with pytest.raises(InvalidArgument) as refused:
        rules.normalize_filter(pb.SegmentFilter(regions=["x"] * 101), definitions)
    assert refused.value.field == "filter.regions"
    with pytest.raises(InvalidArgument) as orphan:
        rules.normalize_filter(pb.SegmentFilter(spend_of="account"), definitions)
    assert orphan.value.field == "filter.spend_of"


def test_the_spend_year_is_the_business_calendars() -> None:
    assert rules.spend_year(datetime(2026, 12, 31, 16, 0, tzinfo=UTC)) == 2027
    assert rules.spend_year(datetime(2026, 12, 31, 15, 59, tzinfo=UTC)) == 2026


def test_consent_defaults_and_the_fixed_lists() -> None:
    consent = pb.Consent(purpose="marketing_wechat", granted=True)
    consent_rules.normalize_consent(consent)
    assert (consent.lawful_basis, consent.source) == ("consent", "api")
    assert set(consent_rules.LAWFUL_BASES) == {"consent", "contract", "legal_obligation", "vital_interests",
                                               "public_task", "legitimate_interest"}  # GDPR Art. 6(1)
    assert "marketing_email" in consent_rules.PURPOSES


def test_merging_consents_keeps_the_later_decision() -> None:
    def decision(purpose: str, granted: bool, second: int) -> pb.Consent:
        made = pb.Consent(purpose=purpose, granted=granted)
        made.at.FromSeconds(second)
        return made

    survivor = pb.Contact(consents=[decision("marketing_email", True, 10), decision("profiling", True, 50)])
    other = pb.Contact(consents=[decision("marketing_email", False, 20), decision("profiling", False, 5),
                                 decision("analytics", True, 1)])
    assert consent_rules.merge_consents(survivor, other)
    assert [(c.purpose, c.granted) for c in survivor.consents] == [
        ("analytics", True), ("marketing_email", False), ("profiling", True)]
    assert not consent_rules.merge_consents(survivor, pb.Contact())


@pytest.mark.parametrize(("raw", "tag"), [("zh-cn", "zh-CN"), ("EN", "en"), ("zh-hans-cn", "zh-Hans-CN"),
                                          ("en_GB", "en-GB"), ("", "")])
def test_language_tags_are_normalized(raw: str, tag: str) -> None:
    assert normalize_language(raw) == tag


@pytest.mark.parametrize("raw", ["chinese", "z", "zh--CN", "中文"])
def test_a_language_that_is_no_tag_is_refused(raw: str) -> None:
    with pytest.raises(InvalidArgument):
        normalize_language(raw)

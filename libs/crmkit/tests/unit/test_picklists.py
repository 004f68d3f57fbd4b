"""The picklist vocabulary (crmkit.picklists): the built-in values and labels from picklists.proto,
an administrator's change (add, relabel, retire, reorder; never remove), what a write and a
filter may hold, and the durable copy a service keeps (the newest version wins)."""
from __future__ import annotations

import pytest
from sqlalchemy import Column, Integer, LargeBinary, MetaData, String, Table, create_engine
from sqlalchemy.orm import Session

from crm.common.v1.picklists_pb2 import Picklist, PicklistValue
from crm.contacts.v1.contacts_pb2 import Contact
from crmkit import picklists
from crmkit.errors import InvalidArgument
from crmkit.picklist_store import PicklistStore


def _source(document, name="source"):
    return next(p for p in document.picklists if p.name == name)


def _with_webinar(document=None):
    base = document or picklists.defaults()
    values = [PicklistValue(key=v.key) for v in _source(base).values]
    values.append(PicklistValue(key="webinar", label_zh="线上研讨会", label_en="Webinar"))
    return picklists.updated(base, Picklist(name="source", values=values, restricted=True))


def test_the_defaults_are_the_proto_values_with_both_labels():
    document = picklists.defaults()
    assert [p.name for p in document.picklists] == ["source", "industry", "level", "lifecycle_stage"]
    assert [v.key for v in _source(document).values] == list(picklists.SOURCES)
    website = _source(document).values[0]
    assert (website.label_zh, website.label_en, website.built_in) == ("官网", "Website", True)
    assert all(v.label_zh and v.label_en for p in document.picklists for v in p.values)
    assert [v.key for v in _source(document, "level").values] == ["vip", "regular", "prospect"]
    assert not _source(document, "industry").restricted and _source(document, "level").restricted


def test_an_added_value_is_valid_on_a_new_write_and_keeps_its_labels():
    document = _with_webinar()
    vocabulary = picklists.Vocabulary(document)
    vocabulary.check("source", "webinar", "source")
    webinar = _source(document).values[-1]
    assert (webinar.key, webinar.label_zh, webinar.label_en, webinar.built_in) == ("webinar", "线上研讨会", "Webinar", False)
    with pytest.raises(InvalidArgument) as err:
        picklists.DEFAULTS.check("source", "webinar", "source")
    assert err.value.field == "source" and "website, web_form" in err.value.message


def test_a_retired_value_is_refused_on_new_writes_listing_the_active_keys_but_stays_where_it_is():
    document = _with_webinar()
    values = [PicklistValue(key=v.key, retired=v.key in ("webinar", "ads")) for v in _source(document).values]
    vocabulary = picklists.Vocabulary(picklists.updated(document, Picklist(name="source", values=values,
                                                                            restricted=True)))
    with pytest.raises(InvalidArgument) as err:
        vocabulary.check("source", "webinar", "source")
    assert err.value.field == "source" and "'webinar' is retired" in err.value.message
    assert "ads" not in err.value.details["allowed"] and "website" in err.value.details["allowed"]
    vocabulary.check("source", "webinar", "source", before="webinar")  # an update leaving it as it is
    vocabulary.check_filter("source", ["webinar", "ads"], "sources")   # old records stay findable
    with pytest.raises(InvalidArgument):
        vocabulary.check_filter("source", "webniar", "source")


def test_labels_are_renamed_values_reordered_and_blank_labels_keep_theirs():
    base = picklists.defaults()
    values = [PicklistValue(key=v.key) for v in reversed(_source(base, "level").values)]
    values[0].label_en = "Lead customer"
    document = picklists.updated(base, Picklist(name="level", values=values, restricted=True))
    level = _source(document, "level")
    assert [v.key for v in level.values] == ["prospect", "regular", "vip"]
    assert (level.values[0].label_zh, level.values[0].label_en) == ("潜在", "Lead customer")
    assert picklists.Vocabulary(document).active("level") == ("prospect", "regular", "vip")


@pytest.mark.parametrize(("values", "field", "words"), [
    ([PicklistValue(key="vip")], "values", "only retired"),
    ([PicklistValue(key=k) for k in picklists.LEVELS] + [PicklistValue(key="gold", label_zh="金牌")],
     "values[3].label_en", "zh-CN and an en label"),
    ([PicklistValue(key=k) for k in picklists.LEVELS] + [PicklistValue(key="Gold", label_zh="金", label_en="G")],
     "values[3].key", "lower-case"),
    ([PicklistValue(key=k) for k in (*picklists.LEVELS, "vip")], "values[3].key", "twice"),
    ([PicklistValue(key=k, retired=True) for k in picklists.LEVELS], "values", "at least one active"),
])
def test_a_change_that_would_lose_or_garble_a_value_is_refused_naming_it(values, field, words):
    with pytest.raises(InvalidArgument) as err:
        picklists.updated(picklists.defaults(), Picklist(name="level", values=values, restricted=True))
    assert err.value.field == field and words in err.value.message


def test_an_unknown_picklist_is_refused_naming_the_known_ones():
    with pytest.raises(InvalidArgument, match="source, industry, level, lifecycle_stage"):
        picklists.updated(picklists.defaults(), Picklist(name="colour"))


def test_industry_takes_free_text_until_an_administrator_restricts_it():
    picklists.DEFAULTS.check("industry", "半导体设备", "industry")
    values = [PicklistValue(key=v.key) for v in _source(picklists.defaults(), "industry").values]
    restricted = picklists.Vocabulary(picklists.updated(picklists.defaults(), Picklist(
        name="industry", values=values, restricted=True)))
    with pytest.raises(InvalidArgument) as err:
        restricted.check("industry", "半导体设备", "industry")
    assert err.value.field == "industry" and "manufacturing" in err.value.message


def test_check_fields_names_the_record_field_and_lets_an_unchanged_one_pass():
    vocabulary = picklists.Vocabulary(_with_webinar())
    fields = {"source": "source", "level": "level"}
    with pytest.raises(InvalidArgument) as err:
        vocabulary.check_fields(Contact(source="webinar", level="gold"), fields)
    assert err.value.field == "level"
    vocabulary.check_fields(Contact(source="webinar", level="gold"), fields, before=Contact(level="gold"))


def test_a_stored_document_from_an_older_build_gains_the_built_in_values_it_lacks():
    older = picklists.defaults()
    del older.picklists[3]                    # no lifecycle stage yet
    del _source(older).values[-1]             # nor "other"
    document = picklists.completed(older)
    assert [p.name for p in document.picklists] == list(picklists.NAMES)
    assert _source(document).values[-1].key == "other" and _source(document).values[-1].built_in


@pytest.fixture
def store_and_session():
    table = Table("svc_settings", MetaData(), Column("key", String(40), primary_key=True),
                  Column("version", Integer, nullable=False), Column("data", LargeBinary, nullable=False))
    engine = create_engine("sqlite://")
    table.metadata.create_all(engine)
    with Session(engine) as session:
        yield PicklistStore(table), session


def test_a_projection_keeps_the_newest_document_whatever_order_events_come_in(store_and_session):
    store, session = store_and_session
    assert store.current(session) is picklists.DEFAULTS  # nothing heard yet: the defaults
    two = _with_webinar()
    two.version = 2
    one = picklists.defaults()
    one.version = 1
    assert store.apply(session, two) and not store.apply(session, one) and not store.apply(session, two)
    assert store.current(session).version == 2
    store.current(session).check("source", "webinar", "source")
    assert store.current(session) is store.current(session)  # parsed once per version


def test_built_in_sent_back_unchanged_passes_and_a_change_is_refused_naming_the_value():
    document = _with_webinar()
    echoed = [PicklistValue(key=v.key, label_zh=v.label_zh, label_en=v.label_en, retired=v.retired,
                            built_in=v.built_in) for v in _source(document).values]
    assert [v.built_in for v in echoed][-2:] == [True, False]  # "other" is built in, "webinar" is not
    again = picklists.updated(document, Picklist(name="source", values=echoed, restricted=True))
    assert again == document  # nothing changed: the flags as they are pass
    for i, claim in ((0, False), (len(echoed) - 1, True)):  # website "not built in", webinar "built in"
        changed = [PicklistValue.FromString(v.SerializeToString()) for v in echoed]
        changed[i].built_in = claim
        with pytest.raises(InvalidArgument) as err:
            picklists.updated(document, Picklist(name="source", values=changed, restricted=True))
        assert err.value.field == f"values[{i}].built_in" and "read-only" in err.value.message


def test_an_old_stored_document_still_says_built_in_false_for_an_added_value():
    old = _with_webinar()
    for v in _source(old).values:
        if not v.built_in:
            v.ClearField("built_in")  # as a document written before the flag had presence reads
    webinar = _source(picklists.completed(old)).values[-1]
    assert webinar.key == "webinar" and webinar.HasField("built_in") and not webinar.built_in


def test_typed_text_is_mapped_to_the_key_it_names_in_either_language_or_kept():
    vocabulary = picklists.Vocabulary()
    assert vocabulary.match("industry", "  制造业 ") == "manufacturing"
    assert vocabulary.match("industry", "SOFTWARE AND IT") == "software"
    assert vocabulary.match("source", "Trade-show") == "trade_show"
    assert vocabulary.match("industry", "造船") == ""
    assert vocabulary.kept("industry", "造船") == ("造船", "")  # unrestricted: the text is the value
    restricted = picklists.Vocabulary(picklists.updated(picklists.defaults(), Picklist(
        name="industry", restricted=True, values=[PicklistValue(key=k, retired=k == "retail")
                                                  for k in picklists.INDUSTRIES])))
    assert restricted.kept("industry", "Finance") == ("finance", "")
    assert restricted.kept("industry", "造船") == ("", "造船")
    assert restricted.kept("industry", "零售") == ("", "零售")  # retired: not for a new record, kept as typed


def test_a_value_a_service_fills_in_is_never_a_retired_key():
    retired = picklists.Vocabulary(picklists.updated(picklists.defaults(), Picklist(
        name="lifecycle_stage", restricted=True, values=[
            PicklistValue(key="lead", retired=True), PicklistValue(key="prospect", retired=True),
            PicklistValue(key="opportunity", label_zh="商机", label_en="Opportunity"),
            PicklistValue(key="customer"), PicklistValue(key="churned")])))
    assert picklists.DEFAULTS.fill("lifecycle_stage", "prospect") == "prospect"
    assert retired.fill("lifecycle_stage", "prospect") == ""
    assert retired.fill("lifecycle_stage", "prospect", first=True) == "opportunity"  # the admin's order
    assert retired.fill("source", "nope", "other") == "other"

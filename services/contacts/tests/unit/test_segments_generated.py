"""The SQL of segments against a plain Python reading of the same criteria, on contacts generated
by the benchmark's generator (tags, custom values, timelines, spend, consents): random filters
over every dimension, for callers with different visibility, counted and paged."""
from __future__ import annotations

import importlib.util
import random
import sys
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

from crm.contacts.v1 import contacts_pb2 as pb
from crm_contacts.rules.segments import interaction_cutoff, normalize_filter, parse_spend_band
from crm_contacts.rules.visibility import VISIBILITY
from crm_contacts.store import segments as segment_store
from crmkit.auth import Principal
from crmkit.db import Database

BENCH = Path(__file__).parents[2] / "bench" / "segments_bench.py"
CALLERS = (Principal("admin", ("admin",)), Principal("manager.north", ("manager",), "north-sales", "north"),
           Principal("rep.south.3", ("rep",), "south-sales", "south"))


def _bench() -> ModuleType:
    spec = importlib.util.spec_from_file_location("segments_bench", BENCH)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up there
    spec.loader.exec_module(module)
    return module


bench = _bench()


def random_filter(rnd: random.Random) -> pb.SegmentFilter:
    flt = pb.SegmentFilter()
    pick = lambda pool, most=2: rnd.sample([v for v in pool if v], rnd.randrange(1, most + 1))  # noqa: E731
    for _ in range(rnd.randrange(1, 4)):
        dimension = rnd.randrange(12)
        if dimension == 0:
            flt.regions[:] = pick(tuple(bench.REGIONS), 1)
        elif dimension == 1:
            flt.provinces[:] = pick(tuple(bench.CITIES))
        elif dimension == 2:
            flt.cities[:] = pick(tuple(c for cities in bench.CITIES.values() for c in cities), 3)
        elif dimension == 3:
            flt.industries[:] = pick(bench.INDUSTRIES, 3)
        elif dimension == 4:
            flt.levels[:] = pick(bench.LEVELS)
        elif dimension == 5:
            flt.sources[:] = pick(bench.SOURCES)
        elif dimension == 6:
            flt.lifecycle_stages[:] = pick(bench.LIFECYCLE)
        elif dimension == 7:
            flt.tags_all[:] = pick(bench.TAGS[:6])
        elif dimension == 8:
            flt.tags_any[:] = pick(bench.TAGS, 3)
        elif dimension == 9 and rnd.random() < 0.5:
            flt.custom_fields["tier"] = rnd.choice(bench.TIERS)
        elif dimension == 9:
            flt.custom_fields["budget"] = rnd.choice(("5000", "10000.0", "50000", "7"))
        elif dimension == 10:
            flt.no_interaction_days = rnd.choice((30, 90, 365))
        else:
            flt.spend_band = rnd.choice(("0-10000", "10000-100000", "100000-", "5000-30000"))
        if rnd.random() < 0.2:
            flt.consent_purpose = "marketing_email"
    return flt


def expected(made: list[Any], flt: pb.SegmentFilter, principal: Principal) -> list[str]:
    cutoff = interaction_cutoff(bench.NOW, flt.no_interaction_days)
    band = parse_spend_band(flt.spend_band)
    found = []
    for g in made:
        c = g.contact
        place = c.addresses[0]
        checks = [
            VISIBILITY.can_read(principal, c.owner_id, c.team, c.region),
            not flt.regions or c.region in flt.regions,
            not flt.provinces or place.province in flt.provinces,
            not flt.cities or place.city in flt.cities,
            not flt.industries or c.industry in flt.industries,
            not flt.levels or c.level in flt.levels,
            not flt.sources or c.source in flt.sources,
            not flt.lifecycle_stages or c.lifecycle_stage in flt.lifecycle_stages,
            set(flt.tags_all) <= g.tags,
            not flt.tags_any or bool(set(flt.tags_any) & g.tags),
            all(g.custom.get(k) == v for k, v in flt.custom_fields.items()),
            not flt.no_interaction_days or g.last_interaction is None or g.last_interaction < cutoff,
            band is None or (band.low_cents <= g.spend_cents
                             and (band.high_cents is None or g.spend_cents < band.high_cents)),
            not flt.consent_purpose or g.consents.get(flt.consent_purpose) is True,
        ]
        if all(checks):
            found.append(c.id)
    return found  # generated in id order, which is the seq order


@pytest.fixture(scope="module")
def generated(tmp_path_factory: pytest.TempPathFactory) -> Any:
    from crm_contacts.bootstrap import MIGRATIONS
    from crmkit.testing import migrated_database

    db: Database = migrated_database(MIGRATIONS, tmp_path_factory.mktemp("generated"))
    made = bench.generate(db, 1500, seed=11, batch=1500)
    yield db, made
    db.dispose()


def test_random_filters_select_exactly_what_the_criteria_say(generated: Any) -> None:
    db, made = generated
    rnd = random.Random(5)
    definitions = {"tier": pb.CustomFieldDefinition(key="tier", type="choice", choices=list(bench.TIERS)),
                   "budget": pb.CustomFieldDefinition(key="budget", type="number")}
    nonempty = 0
    with db.read() as session:
        for _ in range(80):
            flt = random_filter(rnd)
            normalize_filter(flt, definitions)
            principal = rnd.choice(CALLERS)
            want = expected(made, flt, principal)
            counting = segment_store.conditions(flt, principal, bench.NOW, paging=False)
            assert segment_store.count(session, counting) == len(want), flt
            paging = segment_store.conditions(flt, principal, bench.NOW, paging=True)
            got, token = [], ""
            while True:
                page, token = segment_store.members(session, paging, 97, token, maximum=1000)
                got.extend(c.id for c in page)
                if not token:
                    break
            assert got == want, flt
            nonempty += bool(want)
    assert nonempty > 25  # the filters were not all trivially empty

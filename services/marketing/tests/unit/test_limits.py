"""Marketing's texts are bounded like every service's (crmkit.limits): a campaign field longer
than documented is refused naming it, before anything is saved."""
from __future__ import annotations

import pytest

from crm.marketing.v1.marketing_pb2 import Campaign
from crm_marketing.rules import campaigns
from crmkit import limits
from crmkit.errors import InvalidArgument


@pytest.mark.parametrize(("field", "value"), [
    ("slug", "活" * (limits.MAX_SHORT_TEXT + 1)),
    ("owner_id", "u" * (limits.MAX_SHORT_TEXT + 1)),
    ("description", "x" * (campaigns.MAX_DESCRIPTION + 1)),
])
def test_a_campaign_text_longer_than_documented_is_refused_naming_it(field: str, value: str) -> None:
    campaign = Campaign(name="双十一", type="email")
    setattr(campaign, field, value)
    with pytest.raises(InvalidArgument) as refused:
        campaigns.check(campaign)
    assert refused.value.field == field


def test_a_campaign_within_the_maxima_passes() -> None:
    campaign = Campaign(name="双十一", type="email", description="备" * campaigns.MAX_DESCRIPTION)
    campaigns.check(campaign)
    assert campaign.name == "双十一"

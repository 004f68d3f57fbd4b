"""The purposes a person can consent to: one list for contacts, which records the decisions, and
for every service that acts on them (marketing's waves, forms, sequences, rules and A/B tests), so
a purpose no one can consent to ("newsletter", "Marketing Email") is refused where it is typed
instead of skipping every recipient as no_consent or leaving a form's consent undeliverable."""
from __future__ import annotations

from crmkit.errors import InvalidArgument

# A new purpose is added here (and in contacts.proto's comment), never made up by a caller.
PURPOSES = (
    "marketing_email",      # newsletters, campaigns, nurture mail
    "marketing_sms",
    "marketing_wechat",     # WeChat official-account and template messages
    "marketing_phone",      # sales and marketing calls
    "profiling",            # scoring and segmentation from behaviour (GDPR Art. 22)
    "analytics",            # web and email tracking (opens, clicks, visits)
    "third_party_sharing",  # handing the person's data to partners
)


def check_purpose(value: str, field: str, default: str) -> str:
    """`value` trimmed (`default` when blank), or InvalidArgument naming `field`."""
    purpose = value.strip() or default
    if purpose not in PURPOSES:
        raise InvalidArgument(f"purpose must be one of {', '.join(PURPOSES)}", field=field)
    return purpose

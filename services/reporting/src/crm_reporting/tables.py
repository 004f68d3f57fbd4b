"""Reporting's read models: customers (contact events), opportunities and leads (sales events),
tickets, SLA breaches and CSAT answers (support events), campaigns, send waves, email engagement,
attributed leads and touches (marketing events, and sales' leads and deals). Snapshots are kept
at the newest aggregate version, so redelivered or reordered events converge to the same numbers."""
from __future__ import annotations

from sqlalchemy import (
    BigInteger,
    Boolean,
    Column,
    DateTime,
    Float,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    false,
)

metadata = MetaData()

customers = Table(
    "customer_facts",
    metadata,
    Column("contact_id", String(36), primary_key=True),
    Column("version", Integer, nullable=False),
    Column("owner_id", String(100), nullable=False),
    Column("team", String(100), nullable=False),
    Column("region", String(100), nullable=False),
    Column("source", String(30), nullable=False),
    Column("level", String(20), nullable=False),
    Column("created_day", String(10), nullable=False),
    Column("live", Boolean, nullable=False),
    # When this read model first held the customer: event lag = first_seen_at - the write's ack.
    Column("first_seen_at", DateTime(timezone=True), nullable=True),
    Index("ix_customer_facts_live_region", "live", "region"),
)

customer_tags = Table(
    "customer_tags",
    metadata,
    Column("contact_id", String(36), primary_key=True),
    Column("tag", String(100), primary_key=True),
    Index("ix_customer_tags_tag", "tag"),
)

# -- sales: one row per opportunity and per lead, kept at the newest aggregate version ----------

opportunities = Table(
    "opportunity_facts",
    metadata,
    Column("opportunity_id", String(36), primary_key=True),
    Column("version", Integer, nullable=False),
    Column("owner_id", String(100), nullable=False),
    Column("team", String(100), nullable=False),
    Column("region", String(100), nullable=False),
    Column("stage", String(50), nullable=False),
    Column("status", String(10), nullable=False),          # open | won | lost
    Column("currency_code", String(3), nullable=False),
    Column("amount_units", BigInteger, nullable=False),     # amount * rules.AMOUNT_SCALE
    Column("closed_month", String(7), nullable=False),      # YYYY-MM once won or lost, else ""
    # for attribution: whose deal it is, when it closed, and the campaigns of its first and last touch
    Column("lead_id", String(36), nullable=False, server_default=""),
    Column("contact_id", String(36), nullable=False, server_default=""),
    Column("closed_at", DateTime(timezone=True), nullable=True),
    Column("first_campaign_id", String(36), nullable=False, server_default=""),
    Column("last_campaign_id", String(36), nullable=False, server_default=""),
    # analytics (0005): the days, ISO weeks (their Monday) and quarters (YYYY-Qn) it was created
    # and closed, its expected close, probability, and days from creation to close
    *(Column(f"{when}_{grain}", String(10), nullable=False, server_default="")
      for when in ("created", "closed", "expected") for grain in ("day", "week", "quarter")),
    Column("probability", Integer, nullable=False, server_default="0"),
    Column("cycle_days", Integer, nullable=True),
    Index("ix_opportunity_facts_status", "status"),
    Index("ix_opportunity_facts_owner", "owner_id"),
    Index("ix_opportunity_facts_team", "team"),
    Index("ix_opportunity_facts_region", "region"),
    Index("ix_opportunity_facts_lead", "lead_id"),
    Index("ix_opportunity_facts_contact", "contact_id"),
    # (0008) campaign ROI's joins and monthly attainment's won deals per month, without a scan
    Index("ix_opportunity_facts_first_campaign", "first_campaign_id", "status"),
    Index("ix_opportunity_facts_last_campaign", "last_campaign_id", "status"),
    Index("ix_opportunity_facts_won_month", "status", "closed_month", "team", "owner_id", "currency_code",
          "amount_units"),
)

leads = Table(
    "lead_facts",
    metadata,
    Column("lead_id", String(36), primary_key=True),
    Column("version", Integer, nullable=False),
    Column("owner_id", String(100), nullable=False),
    Column("team", String(100), nullable=False),
    Column("region", String(100), nullable=False),
    Column("source", String(30), nullable=False),
    Column("status", String(20), nullable=False),
    Column("campaign_id", String(36), nullable=False, server_default=""),
    *(Column(f"created_{grain}", String(10), nullable=False, server_default="") for grain in ("day", "week", "quarter")),
    Column("in_pool", Boolean, nullable=False, server_default=false()),   # in its team's public pool now
    # week and day grains read these rows (no lead day rollup: it was as long as the leads), 0011:
    # the window's rows with every catalogue column (an analyst's), a rep's, a manager's
    Index("ix_lead_facts_created", "created_day", "created_week", "source", "status", "owner_id", "team", "region",
          "campaign_id"),
    Index("ix_lead_facts_owner_created", "owner_id", "created_day"),
    Index("ix_lead_facts_team_created", "team", "created_day"),
    Index("ix_lead_facts_region_created", "region", "created_day"),
)

# The public pool (公海): each move of a lead or a customer (account) into or out of its team's
# pool, once per event.
pool_moves = Table(
    "pool_move_facts",
    metadata,
    Column("event_id", String(36), primary_key=True),
    Column("record_id", String(36), nullable=False),   # the lead's or the account's id
    Column("team", String(100), nullable=False),
    Column("region", String(100), nullable=False),
    Column("kind", String(20), nullable=False),       # returned | released | claimed | assigned
    Column("day", String(10), nullable=False),        # YYYY-MM-DD (UTC)
    Index("ix_pool_move_facts_team", "team", "day"),
    Column("record_type", String(20), nullable=False, server_default="lead"),   # lead | account
)

# Customers (accounts) at their newest version, for the size of each team's pool of customers.
account_pool = Table(
    "account_pool_facts",
    metadata,
    Column("account_id", String(36), primary_key=True),
    Column("version", Integer, nullable=False),
    Column("team", String(100), nullable=False),
    Column("region", String(100), nullable=False),
    Column("in_pool", Boolean, nullable=False),
    Index("ix_account_pool_facts_team", "in_pool", "team"),
)

# -- support: one row per ticket at its newest version, each SLA breach once, one CSAT per ticket -

tickets = Table(
    "ticket_facts",
    metadata,
    Column("ticket_id", String(36), primary_key=True),
    Column("version", Integer, nullable=False),
    Column("assignee_id", String(100), nullable=False),
    Column("status", String(20), nullable=False),
    Column("priority", String(20), nullable=False),
    Column("first_response_seconds", BigInteger, nullable=True),   # created -> first response
    Column("resolution_seconds", BigInteger, nullable=True),       # created -> solved
    # analytics (0005)
    Column("team", String(100), nullable=False, server_default=""),
    Column("region", String(100), nullable=False, server_default=""),
    Column("type", String(20), nullable=False, server_default=""),
    Column("channel", String(20), nullable=False, server_default=""),
    *(Column(f"{when}_{grain}", String(10), nullable=False, server_default="")
      for when in ("created", "solved") for grain in ("day", "week", "quarter")),
    # the customer who asked (0008): churn and next-purchase features
    Column("contact_id", String(36), nullable=False, server_default=""),
    Index("ix_ticket_facts_contact", "contact_id"),
)

# A ticket's tags at its newest version: the issues of "top 10 issues" (untagged: its type).
ticket_tags = Table(
    "ticket_tags",
    metadata,
    Column("ticket_id", String(36), primary_key=True),
    Column("tag", String(100), primary_key=True),
    Index("ix_ticket_tags_tag", "tag"),
)

sla_breaches = Table(
    "sla_breach_facts",
    metadata,
    Column("ticket_id", String(36), primary_key=True),
    Column("metric", String(30), primary_key=True),
)

csat_answers = Table(
    "csat_facts",
    metadata,
    Column("ticket_id", String(36), primary_key=True),
    Column("assignee_id", String(100), nullable=False),
    Column("rating", Integer, nullable=False),
    Column("answered_at", DateTime(timezone=True), nullable=False),
    Column("answered_day", String(10), nullable=False),
    Column("answered_week", String(10), nullable=False, server_default=""),
    Column("answered_quarter", String(10), nullable=False, server_default=""),
    Index("ix_csat_facts_day", "answered_day"),
)

# -- marketing: campaigns, send waves, email engagement; leads and touches for attribution ---------

campaigns = Table(
    "campaign_facts",
    metadata,
    Column("campaign_id", String(36), primary_key=True),
    Column("version", Integer, nullable=False),
    Column("name", String(200), nullable=False),
    Column("channel", String(30), nullable=False),          # the campaign's type
    Column("status", String(20), nullable=False),
    Column("owner_id", String(100), nullable=False),
    Column("team", String(100), nullable=False),
    Column("region", String(100), nullable=False),
    Column("start_date", String(10), nullable=False),
    Column("end_date", String(10), nullable=False),
    Column("budget_currency", String(3), nullable=False),
    Column("budget_units", BigInteger, nullable=False),       # amount * rules.AMOUNT_SCALE
    Column("cost_currency", String(3), nullable=False),
    Column("cost_units", BigInteger, nullable=False),
    Column("live", Boolean, nullable=False),                 # false once deleted
    Index("ix_campaign_facts_channel", "channel"),
)

waves = Table(
    "wave_facts",
    metadata,
    Column("wave_id", String(36), primary_key=True),
    Column("version", Integer, nullable=False),
    Column("campaign_id", String(36), nullable=False),
    Column("status", String(20), nullable=False),            # ready | sending | completed | cancelled
    Column("kind", String(20), nullable=False),              # "" | sequence | rule | ab_variant | ab_winner
    Column("recipients", BigInteger, nullable=False),
    Column("delivered", BigInteger, nullable=False),         # the snapshot's (email.sent rows count live)
    Column("failed", BigInteger, nullable=False),
    Column("send_day", String(10), nullable=False),          # started sending, else created (UTC)
    Column("send_week", String(10), nullable=False),         # the Monday of send_day's ISO week
    Index("ix_wave_facts_campaign", "campaign_id"),
    Index("ix_wave_facts_send_day", "send_day"),
)

# One row per (wave, recipient, kind): the delivery and the first open / click / unsubscribe, so a
# redelivered or a repeated engagement never counts twice. A click also writes the open (images off).
email_engagements = Table(
    "email_engagement_facts",
    metadata,
    Column("wave_id", String(36), primary_key=True),
    Column("contact_id", String(36), primary_key=True),
    Column("kind", String(15), primary_key=True),            # sent | opened | clicked | unsubscribed
    Column("campaign_id", String(36), nullable=False),
    Column("first_at", DateTime(timezone=True), nullable=False),
    Column("day", String(10), nullable=False),               # of first_at (UTC)
    Column("week", String(10), nullable=False),              # the Monday of day's ISO week
    Index("ix_email_engagement_facts_campaign", "campaign_id", "kind"),
    Index("ix_email_engagement_facts_kind_day", "kind", "day"),
)

# Leads attributed to a campaign, by how they were reached (sales_lead | form | handover); a lead
# reached several ways is one lead_key (the sales lead id when known).
campaign_leads = Table(
    "campaign_lead_facts",
    metadata,
    Column("campaign_id", String(36), primary_key=True),
    Column("lead_key", String(80), primary_key=True),
    Column("source", String(20), primary_key=True),
    Column("lead_id", String(36), nullable=False),           # "" when sales' lead is not known
    Index("ix_campaign_lead_facts_lead", "lead_id"),
)

# A person's interactions with campaigns, in time order: the lead's campaign, form submissions,
# email clicks, MQL hand-offs. A touch names the lead, the contact or both.
touches = Table(
    "campaign_touches",
    metadata,
    Column("touch_id", String(80), primary_key=True),
    Column("campaign_id", String(36), nullable=False),
    Column("lead_id", String(36), nullable=False),
    Column("contact_id", String(36), nullable=False),
    Column("source", String(20), nullable=False),            # sales_lead | form | click | handover
    Column("at", DateTime(timezone=True), nullable=False),
    Index("ix_campaign_touches_lead", "lead_id"),
    Index("ix_campaign_touches_contact", "contact_id"),
)

# What marketing's hand-offs said about form submissions: the sales lead each one became (a
# submission and its lead are one attributed lead, in whichever order their events come).
submission_leads = Table(
    "submission_lead_links",
    metadata,
    Column("submission_id", String(36), primary_key=True),
    Column("lead_id", String(36), nullable=False),
)

# Which leads and contacts are one person (a converted lead, a deal's lead and contact, a form
# submission naming both): the touches of all of them count for the person's deals.
person_links = Table(
    "lead_contact_links",
    metadata,
    Column("lead_id", String(36), primary_key=True),
    Column("contact_id", String(36), primary_key=True),
    Index("ix_lead_contact_links_contact", "contact_id"),
)


# -- analytics: sales targets, saved queries and dashboards (written through the API) -----------

# A month's target for a rep (rep_id) or a whole team (rep_id ""), in one currency.
sales_targets = Table(
    "sales_targets",
    metadata,
    Column("month", String(7), primary_key=True),
    Column("team", String(100), primary_key=True),
    Column("rep_id", String(100), primary_key=True),
    Column("currency_code", String(3), nullable=False),
    Column("amount_units", BigInteger, nullable=False),
    Column("set_by", String(100), nullable=False),
    Column("updated_at", DateTime(timezone=True), nullable=False),
)

# Saved queries and dashboards: a definition (JSON of the proto) its owner shares or not.
saved_queries = Table(
    "saved_queries",
    metadata,
    Column("id", String(36), primary_key=True),
    Column("name", String(200), nullable=False),
    Column("description", String(2000), nullable=False),
    Column("definition", Text, nullable=False),
    Column("sharing", String(10), nullable=False),
    Column("owner_id", String(100), nullable=False),
    Column("team", String(100), nullable=False),
    Column("version", Integer, nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("updated_at", DateTime(timezone=True), nullable=False),
)

dashboards = Table(
    "dashboards",
    metadata,
    Column("id", String(36), primary_key=True),
    Column("name", String(200), nullable=False),
    Column("description", String(2000), nullable=False),
    Column("definition", Text, nullable=False),
    Column("sharing", String(10), nullable=False),
    Column("owner_id", String(100), nullable=False),
    Column("team", String(100), nullable=False),
    Column("version", Integer, nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("updated_at", DateTime(timezone=True), nullable=False),
)


# -- rollups (0008): the opportunity and customer read models summed by the handlers, so a query
# over a million records reads a few thousand rows. Each row is one combination of keys; a key
# set that sums to nothing is deleted, so a rollup answers exactly what the detail table answers.
# `time_field` "" with `month` "": the all-time rows; `time_field` created / closed / expected with
# `month` YYYY-MM ("" for a record without that time): the rows per month of that time field.

opportunity_rollup = Table(
    "opportunity_rollup",
    metadata,
    Column("time_field", String(10), primary_key=True),
    Column("month", String(7), primary_key=True),
    Column("owner_id", String(100), primary_key=True),
    Column("team", String(100), primary_key=True),
    Column("region", String(100), primary_key=True),
    Column("stage", String(50), primary_key=True),
    Column("status", String(10), primary_key=True),
    Column("currency_code", String(3), primary_key=True),
    Column("probability", Integer, primary_key=True),
    Column("quarter", String(10), nullable=False),            # of month (YYYY-Qn), "" with it
    Column("n", BigInteger, nullable=False),
    Column("amount_units", BigInteger, nullable=False),
    Column("weighted_units", BigInteger, nullable=False),      # sum of amount_units * probability
    Column("probability_sum", BigInteger, nullable=False),
    Column("cycle_days_sum", BigInteger, nullable=False),
    Column("cycle_n", BigInteger, nullable=False),             # records with cycle_days
)

def _times() -> list[Column[str]]:
    return [Column("time_field", String(10), primary_key=True), Column("month", String(7), primary_key=True)]


def _sums(*names: str) -> list[Column[int]]:
    return [Column(name, BigInteger, nullable=False) for name in names]


# Leads per created month (and all-time rows), the same way.
lead_rollup = Table(
    "lead_rollup",
    metadata,
    *_times(),
    *(Column(name, String(size), primary_key=True) for name, size in (
        ("owner_id", 100), ("team", 100), ("region", 100), ("source", 30), ("status", 20), ("campaign_id", 36))),
    Column("quarter", String(10), nullable=False),
    *_sums("n"),
)

# Tickets per created / solved month (and all-time rows) by status, priority and assignee; `solved` 1 once it has a resolution time,
# `breached` 1 once an SLA clock breached. The sums of the times are over the tickets that have them.
# Only what the standard reports and the assignee rule need: more keys made it as long as the
# ticket table (a query by type, channel, team or region reads the detail rows).
_TICKET_KEYS = (("status", 20), ("priority", 20), ("assignee_id", 100))
_TICKET_SUMS = ("n", "resolution_sum", "resolution_n", "first_response_sum", "first_response_n")
ticket_rollup = Table(
    "ticket_rollup",
    metadata,
    *_times(),
    *(Column(name, String(size), primary_key=True) for name, size in _TICKET_KEYS),
    Column("solved", Integer, primary_key=True),
    Column("breached", Integer, primary_key=True),
    Column("quarter", String(10), nullable=False),
    *_sums(*_TICKET_SUMS),
)

# The same per issue: each of a ticket's tags, an untagged ticket under its type (top 10 issues).
ticket_tag_rollup = Table(
    "ticket_tag_rollup",
    metadata,
    *_times(),
    Column("tag", String(100), primary_key=True),
    *(Column(name, String(size), primary_key=True) for name, size in _TICKET_KEYS),
    Column("solved", Integer, primary_key=True),
    Column("breached", Integer, primary_key=True),
    Column("quarter", String(10), nullable=False),
    *_sums(*_TICKET_SUMS),
)

# Live customers: `grain` "" per (owner, team, region, source, level), created_day ""; `grain`
# "day" per (owner, team, region, created day), source and level "".
customer_rollup = Table(
    "customer_rollup",
    metadata,
    Column("grain", String(5), primary_key=True),
    Column("owner_id", String(100), primary_key=True),
    Column("team", String(100), primary_key=True),
    Column("region", String(100), primary_key=True),
    Column("source", String(30), primary_key=True),
    Column("level", String(20), primary_key=True),
    Column("created_day", String(10), primary_key=True),
    Column("n", BigInteger, nullable=False),
)

# Live customers per tag and (owner, team, region).
customer_tag_rollup = Table(
    "customer_tag_rollup",
    metadata,
    Column("tag", String(100), primary_key=True),
    Column("owner_id", String(100), primary_key=True),
    Column("team", String(100), primary_key=True),
    Column("region", String(100), primary_key=True),
    Column("n", BigInteger, nullable=False),
)

# -- rollups of 0009 ---------------------------------------------------------------------------

# Opportunities per day of each time field (no all-time rows, no rows without that time), with the
# day's ISO week (its Monday) and quarter: what a day or week grain, or a window that does not
# start and end on whole months, reads instead of the detail rows.
opportunity_day_rollup = Table(
    "opportunity_day_rollup",
    metadata,
    Column("time_field", String(10), primary_key=True),
    Column("day", String(10), primary_key=True),
    *(Column(name, String(size), primary_key=True) for name, size in (
        ("owner_id", 100), ("team", 100), ("region", 100), ("stage", 50), ("status", 10), ("currency_code", 3))),
    Column("probability", Integer, primary_key=True),
    Column("week", String(10), nullable=False),
    Column("quarter", String(10), nullable=False),
    *_sums("n", "amount_units", "weighted_units", "probability_sum", "cycle_days_sum", "cycle_n"),
    Index("ix_opportunity_day_rollup_day", "time_field", "day"),
)

# Live customers having `tag`, per (owner, team, region) and `grain`: "" by source and level, "day"
# by created day, "tag" by each tag they have (`other_tag`, the tag itself included); the unused
# keys "". What the customer counts with a tag filter read.
tagged_customer_rollup = Table(
    "tagged_customer_rollup",
    metadata,
    Column("tag", String(100), primary_key=True),
    Column("grain", String(5), primary_key=True),
    *(Column(name, String(size), primary_key=True) for name, size in (
        ("owner_id", 100), ("team", 100), ("region", 100), ("source", 30), ("level", 20), ("created_day", 10),
        ("other_tag", 100))),
    Column("n", BigInteger, nullable=False),
)

# Email per (wave, campaign, day): the mails delivered that day (`delivered`) and how many of
# their recipients opened, clicked, unsubscribed since (`*_delivered`, the cohort the open-rate
# report counts), and the first opens, clicks and unsubscribes that happened that day (`opened`,
# `clicked`, `unsubscribed`, with or without a delivery row). `n`: engagement rows behind the row.
email_rollup = Table(
    "email_rollup",
    metadata,
    Column("wave_id", String(36), primary_key=True),
    Column("campaign_id", String(36), primary_key=True),
    Column("day", String(10), primary_key=True),
    Column("week", String(10), nullable=False),
    *_sums("n", "delivered", "opened_delivered", "clicked_delivered", "unsubscribed_delivered", "opened", "clicked",
           "unsubscribed"),
    Index("ix_email_rollup_campaign", "campaign_id", "day"),
)

# Won deals per campaign whose first (`touch` "first") or last ("last") touch it was, and those
# whose first and last touch it both was ("both": counted once among the campaign's deals), per
# currency: the revenue columns of campaign ROI.
campaign_revenue_rollup = Table(
    "campaign_revenue_rollup",
    metadata,
    Column("campaign_id", String(36), primary_key=True),
    Column("touch", String(5), primary_key=True),
    Column("currency_code", String(3), primary_key=True),
    *_sums("n", "amount_units"),
)

# -- rollups of 0010 ---------------------------------------------------------------------------
# CSAT answers per day answered, assignee (what visibility reads) and rating: the CSAT trend and
# custom CSAT queries at every grain. Every answer has a day, so its `time_field` is always
# "answered" and the all-time figures are the sums of every row.
csat_day_rollup = Table(
    "csat_day_rollup",
    metadata,
    Column("time_field", String(10), primary_key=True),
    Column("day", String(10), primary_key=True),
    Column("assignee_id", String(100), primary_key=True),
    Column("rating", Integer, primary_key=True),
    Column("week", String(10), nullable=False),
    Column("quarter", String(10), nullable=False),
    *_sums("n", "rating_sum"),
)

# Tickets per created / solved day, with the keys of their monthly rollup (a ticket without that
# time has no row there): day and week grains, windows on any day. (Leads have no day rollup: per
# owner, source, status and campaign a day holds about one lead, so it would be as long as the
# lead table.)
ticket_day_rollup = Table(
    "ticket_day_rollup",
    metadata,
    Column("time_field", String(10), primary_key=True),
    Column("day", String(10), primary_key=True),
    Column("status", String(20), primary_key=True),
    Column("priority", String(20), primary_key=True),
    Column("assignee_id", String(100), primary_key=True),
    Column("solved", Integer, primary_key=True),
    Column("breached", Integer, primary_key=True),
    Column("week", String(10), nullable=False),
    Column("quarter", String(10), nullable=False),
    *_sums("n", "resolution_sum", "resolution_n", "first_response_sum", "first_response_n"),
)

# -- forecasts (0008): churn risk and next-purchase models, versioned, and their predictions --------

prediction_models = Table(
    "prediction_models",
    metadata,
    Column("kind", String(20), primary_key=True),              # churn | next_purchase
    Column("version", Integer, primary_key=True),
    Column("trained_at", DateTime(timezone=True), nullable=False),
    Column("status", String(20), nullable=False),              # trained | insufficient_data
    Column("reason", String(500), nullable=False),
    Column("definition", Text, nullable=False),                # JSON: features, coefficients, scaling
    Column("evaluation", Text, nullable=False),                # JSON: auc, base_rate, sizes, horizon
)

# The newest trained model's prediction per customer (replaced at each training).
predictions = Table(
    "predictions",
    metadata,
    Column("kind", String(20), primary_key=True),
    Column("contact_id", String(36), primary_key=True),
    Column("model_version", Integer, nullable=False),
    Column("owner_id", String(100), nullable=False),
    Column("team", String(100), nullable=False),
    Column("region", String(100), nullable=False),
    Column("probability", Float, nullable=False),
    Column("reasons", Text, nullable=False),                   # JSON: the largest contributions
    Index("ix_predictions_rank", "kind", "probability"),
)

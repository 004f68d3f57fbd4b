"""Marketing automation shapes (crm.marketing.v1): the automation settings, lead-capture forms and
their submissions (and the public form and submission), sequences and enrolments, event-triggered
rules and web visits, A/B tests, engagement.

Create bodies leave out what marketing sets and update bodies keep only what an update mask may
name, as marketing.proto declares them."""
from __future__ import annotations

from crm.marketing.v1 import marketing_pb2 as pb
from crm_gateway.routing import QueryParam
from crm_gateway.schema import NOT_BLANK
from crm_gateway.schemas import PAGE_PARAMS, REGISTRY

_r = REGISTRY

FORM_STATUSES = ("active", "closed")
SUBMISSION_STATUSES = ("pending", "delivered", "failed", "spam")
SEQUENCE_STATUSES = ("draft", "active", "paused", "archived")
ENROLLMENT_STATUSES = ("active", "completed", "exited")

# -- settings
SETTINGS = _r.message(pb.AutomationSettings)
SETTINGS_PATCH = _r.patch(pb.AutomationSettings, "AutomationSettingsPatch")
# The ranges marketing refuses outside of (rules/settings.py), stated in the document.
for _name in ("open", "click", "visit", "form"):
    _r.schemas["ScoringWeights"]["properties"][_name].update({"minimum": 0, "maximum": 1000})
_settings = _r.schemas["AutomationSettingsPatch"]["properties"]
_settings["half_life_days"].update({"minimum": 0, "maximum": 3650})
_settings["mql_threshold"]["exclusiveMinimum"] = 0
_settings["ab_significance"].update({"exclusiveMinimum": 0, "exclusiveMaximum": 0.5})
for _name in ("form_limit_per_address", "form_limit_per_email", "visit_limit_per_visitor"):
    _settings[_name]["minimum"] = 1
_settings["form_min_seconds"].update({"minimum": 0, "maximum": 600})

# -- forms
FORM = _r.message(pb.Form)
FORM_INPUT = _r.input(pb.Form, required=("name", "fields"))
_r.require_text("FormInput", "name")
FORM_PATCH = _r.patch(pb.Form, "FormPatch")
FORM_PAGE = _r.page(FORM, "FormPage")
FORM_PARAMS = (QueryParam("status", choices=FORM_STATUSES), *PAGE_PARAMS)
SUBMISSION = _r.message(pb.FormSubmission)
SUBMISSION_PAGE = _r.page(SUBMISSION, "FormSubmissionPage")
SUBMISSION_PARAMS = (QueryParam("status", choices=SUBMISSION_STATUSES), *PAGE_PARAMS)

# -- public: the form a visitor sees and what it sends (JSON; the HTML form posts the same keys
# form-encoded, its fields by name, utm_* flat)
PUBLIC_FORM = _r.message(pb.PublicForm)
SUBMISSION_INPUT = _r.input(pb.SubmitFormRequest, "FormSubmissionInput",
                            exclude={"form_id", "visitor_ip", "user_agent"}, required=("values", "form_token"))
SUBMIT_RESULT = _r.message(pb.SubmitFormResponse)
HTML_FORM = {"type": "string", "contentMediaType": "text/html",
             "description": "an HTML page: the form, or what its post answers (thank you, the form with each "
                            "problem by its field)"}

# -- sequences
SEQUENCE = _r.message(pb.Sequence)
SEQUENCE_INPUT = _r.input(pb.Sequence, required=("name", "campaign_id", "steps"))
_r.require_text("SequenceInput", "name", "campaign_id")
SEQUENCE_PATCH = _r.patch(pb.Sequence, "SequencePatch")
SEQUENCE_PAGE = _r.page(SEQUENCE, "SequencePage")
SEQUENCE_PARAMS = (QueryParam("campaign_id", description="the sequences of this campaign"),
                   QueryParam("status", choices=SEQUENCE_STATUSES), *PAGE_PARAMS)
SEQUENCE_STATUS_INPUT = _r.input(pb.ChangeSequenceStatusRequest, "SequenceStatusChange",
                                 exclude={"id", "expected_version"}, required=("status",))
ENROLL_INPUT = _r.input(pb.EnrollContactsRequest, "EnrollContactsInput", exclude={"sequence_id"})
ENROLL_RESULT = _r.message(pb.EnrollContactsResponse)
ENROLLMENT = _r.message(pb.Enrollment)
ENROLLMENT_PAGE = _r.page(ENROLLMENT, "EnrollmentPage")
ENROLLMENT_PARAMS = (QueryParam("status", choices=ENROLLMENT_STATUSES), *PAGE_PARAMS)

# -- event-triggered rules and web visits
RULE = _r.message(pb.AutomationRule)
RULE_INPUT = _r.input(pb.AutomationRule, required=("name", "campaign_id", "trigger"))
_r.require_text("AutomationRuleInput", "name", "campaign_id")
RULE_PATCH = _r.patch(pb.AutomationRule, "AutomationRulePatch")
RULE_PAGE = _r.page(RULE, "AutomationRulePage")
RULE_PARAMS = (QueryParam("campaign_id", description="the rules of this campaign"), *PAGE_PARAMS)
TRACK_INPUT = _r.input(pb.TrackVisitRequest, "PageViewInput", exclude={"visitor_ip", "user_agent"},
                       required=("site_key", "url"))
TRACK_RESULT = _r.message(pb.TrackVisitResponse, name="PageViewResult")

# -- A/B tests
AB_TEST = _r.message(pb.AbTest)
AB_TEST_INPUT = _r.input(pb.AbTest, required=("campaign_id", "template_id", "variants"))
_r.require_text("AbTestInput", "campaign_id", "template_id")
_r.schemas["AbTestInput"]["properties"]["significance"].update({"minimum": 0, "exclusiveMaximum": 0.5})  # 0: default
AB_TEST_PAGE = _r.page(AB_TEST, "AbTestPage")
AB_TEST_PARAMS = (QueryParam("campaign_id", description="the A/B tests of this campaign", pattern=NOT_BLANK,
                             required=True), *PAGE_PARAMS)

# -- engagement
ENGAGEMENT = _r.message(pb.Engagement)

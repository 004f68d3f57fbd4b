"""Marketing shapes (crm.marketing.v1): campaigns with their status, results and invitation lists,
email templates and their preview, send waves and their recipients, and the media types of the
public links in a mail (the unsubscribe page, the open pixel, the click redirect).

Create bodies leave out what marketing sets (status, history, counts, versions) and update bodies
keep only what an update mask may name, as marketing.proto declares them."""
from __future__ import annotations

from crm.marketing.v1 import marketing_pb2 as pb
from crm_gateway.routing import QueryParam
from crm_gateway.schema import NOT_BLANK, JsonSchema
from crm_gateway.schemas import PAGE_PARAMS, REGISTRY

_r = REGISTRY
_PATH_AND_VERSION = {"id", "expected_version"}  # the URL's id; If-Match's version

CAMPAIGN_TYPES = ("webinar", "trade_show", "email", "social", "ads")
CAMPAIGN_STATUSES = ("draft", "scheduled", "active", "completed", "cancelled")
INVITEE_STATUSES = ("invited", "registered", "attended")
RECIPIENT_STATUSES = ("pending", "sending", "sent", "failed", "skipped")
SKIP_REASONS = ("no_consent", "unsubscribed", "suppressed", "no_email", "duplicate_email", "unknown_contact",
                "render_failed", "cancelled", "no_phone", "duplicate_phone")

# support.proto has a StatusChange too (a ticket's): marketing's is named for what it records.
_r.names[pb.StatusChange.DESCRIPTOR.full_name] = "CampaignStatusRecord"

# -- campaigns
CAMPAIGN = _r.message(pb.Campaign)
CAMPAIGN_INPUT = _r.input(pb.Campaign, required=("name", "type"))
CAMPAIGN_PATCH = _r.patch(pb.Campaign, "CampaignPatch")
CAMPAIGN_PAGE = _r.page(CAMPAIGN, "CampaignPage")
CAMPAIGN_PARAMS = (
    QueryParam("status", choices=CAMPAIGN_STATUSES), QueryParam("type", choices=CAMPAIGN_TYPES),
    QueryParam("owner_id"), *PAGE_PARAMS,
)
STATUS_INPUT = _r.input(pb.ChangeCampaignStatusRequest, "CampaignStatusChange", exclude=_PATH_AND_VERSION,
                        required=("status",))
RESULTS = _r.message(pb.CampaignResults)

# -- invitation lists
INVITEE = _r.message(pb.Invitee)
INVITE_INPUT = _r.input(pb.AddInviteesRequest, "InviteesInput", exclude={"campaign_id"}, required=("contact_ids",))
_r.schemas["InviteesInput"]["properties"]["contact_ids"]["minItems"] = 1
_r.schemas["InviteesInput"]["properties"]["contact_ids"]["items"].update(  # a blank id names no one
    {"pattern": NOT_BLANK, "x-pattern-message": "a contact id must not be blank"})
INVITE_RESULT = _r.message(pb.AddInviteesResponse)
INVITEE_PAGE = _r.page(INVITEE, "InviteePage")
INVITEE_PARAMS = (QueryParam("status", choices=INVITEE_STATUSES), *PAGE_PARAMS)
CHECK_IN_INPUT = _r.input(pb.CheckInInviteeRequest, "CheckInInput", exclude={"campaign_id"},
                          required=("check_in_code",))

# -- templates
TEMPLATE = _r.message(pb.Template)
TEMPLATE_INPUT = _r.input(pb.Template, required=("name", "contents"))
_r.require_text("CampaignInput", "name")
_r.enum("CampaignInput", "type", CAMPAIGN_TYPES, empty=False)
_r.enum("CampaignPatch", "type", CAMPAIGN_TYPES, empty=False)
for _name in ("CampaignInput", "CampaignPatch"):
    for _day in ("start_date", "end_date"):  # "" leaves the day open
        _r.schemas[_name]["properties"][_day].update({"pattern": r"^$|^[0-9]{4}-[0-9]{2}-[0-9]{2}$",
                                                      "x-pattern-message": "use a date like 2026-03-31"})
_r.require_text("TemplateInput", "name")
_r.schemas["TemplateInput"]["properties"]["contents"]["minItems"] = 1  # zh-CN, en or both
_r.require_text("TemplateContent", "subject")
TEMPLATE_PATCH = _r.patch(pb.Template, "TemplatePatch")
TEMPLATE_PAGE = _r.page(TEMPLATE, "TemplatePage")
PREVIEW_INPUT = _r.input(pb.PreviewTemplateRequest, "TemplatePreviewInput", exclude={"template_id", "template"},
                         required=("contact_id",))
DRAFT_PREVIEW_INPUT = _r.input(pb.PreviewTemplateRequest, "TemplateDraftPreviewInput", exclude={"template_id"},
                               required=("template", "contact_id"))
PREVIEW = _r.message(pb.PreviewTemplateResponse, name="TemplatePreview")

# -- send waves
WAVE = _r.message(pb.SendWave)
WAVE_INPUT = _r.input(pb.SendWave, exclude={"channel", "sms"}, required=("campaign_id", "template_id"))
_r.require_text("SendWaveInput", "campaign_id", "template_id")
# An sms wave (POST /sms-waves): the provider's template and its variables instead of a mail template.
SMS_WAVE_INPUT = _r.input(pb.SendWave, "SmsWaveInput", exclude={"channel", "template_id", "sender"},
                          required=("campaign_id", "sms"))
_r.require_text("SmsWaveInput", "campaign_id")
_r.require_text(_r.names.get(pb.SmsContent.DESCRIPTOR.full_name, "SmsContent"), "template_code")
_sms = _r.schemas[_r.names.get(pb.SmsContent.DESCRIPTOR.full_name, "SmsContent")]["properties"]
_sms["template_code"].update({"maxLength": 64, "pattern": r"^\s*[A-Za-z0-9_.-]{1,64}\s*$",
                              "x-pattern-message": "the provider's template code, e.g. SMS_123456789"})
_sms["sign_name"]["maxLength"] = 30
_sms["params"].update({"maxProperties": 20, "propertyNames": {"pattern": r"^[A-Za-z_][A-Za-z0-9_]{0,63}$"}})
_sms["params"]["additionalProperties"] = {**_sms["params"].get("additionalProperties", {}), "maxLength": 500}
SMS_REPLY_PAGE = _r.page(_r.message(pb.SmsReplyRecord), "SmsReplyPage")
SMS_REPLY_PARAMS = (QueryParam("phone", description="replies from this number (E.164)",
                               pattern=r"^((\+|00)[0-9]{7,15}|[1-9][0-9]{7,14})$"), *PAGE_PARAMS)
WAVE_PAGE = _r.page(WAVE, "SendWavePage")
WAVE_PARAMS = (QueryParam("campaign_id", description="the campaign whose waves to list", pattern=NOT_BLANK,
                          required=True), *PAGE_PARAMS)
RECIPIENT_PAGE = _r.page(_r.message(pb.Recipient), "RecipientPage")
RECIPIENT_PARAMS = (
    QueryParam("status", choices=RECIPIENT_STATUSES),
    QueryParam("skip_reason", choices=SKIP_REASONS, description="skipped recipients for this reason"),
    *PAGE_PARAMS,
)

# -- the relay's bounces and complaints
MAIL_FEEDBACK_INPUT = _r.input(pb.ReportMailFeedbackRequest, "MailFeedbackInput", required=("feedback",))
MAIL_FEEDBACK_RESULT = _r.message(pb.ReportMailFeedbackResponse, name="MailFeedbackResult")
# What marketing refuses, stated in the document (and checked here first): one address, the kind, a DSN status.
_r.schemas["MailFeedbackInput"]["properties"]["feedback"]["minItems"] = 1
_r.enum("MailFeedback", "kind", ("bounce", "complaint"))
_r.require_text("MailFeedback", "email")
_feedback = _r.schemas["MailFeedback"]["properties"]
_feedback["email"].update({"maxLength": 320, "pattern": r"^\s*[^@\s<>\u0000\u001c-\u001f\u0085]+@[^@\s<>\u0000\u001c-\u001f\u0085]+\s*$",
                           "x-pattern-message": "one email address"})
_feedback["status"].update({"maxLength": 20, "pattern": r"^\s*([245]\.\d{1,3}\.\d{1,3})?\s*$",
                            "x-pattern-message": "a DSN status looks like 5.1.1"})
_feedback["diagnostic"]["maxLength"] = 2000
_feedback["message_id"]["maxLength"] = 200
DSN_BODY = {"message/rfc822": {"schema": {"type": "string", "minLength": 1,
                                          "description": "the relay's delivery status notification, as received"}}}

# -- public: what a mail's links answer
HTML_PAGE: JsonSchema = {"type": "string", "contentMediaType": "text/html",
                         "description": "an HTML page for the reader of the mail"}
PIXEL: JsonSchema = {"type": "string", "contentMediaType": "image/gif",
                     "description": "a transparent 1×1 GIF, whatever the token"}

"""The RPCs of campaigns, invitees, templates, send waves and the links in a mail."""
from __future__ import annotations

from crm.common.v1.ownership_pb2 import ReassignRequest, ReassignResponse
from crm.common.v1.types_pb2 import PageResponse
from crm.marketing.v1 import marketing_pb2 as pb
from crm_marketing.servicer.base import Base
from crm_marketing.usecases import campaigns, feedback, invitees, ownership, sms, templates, tracking, waves
from crmkit.db import UnitOfWork
from crmkit.servicer import Call, Ctx, copy


class CampaignRpcs(Base):

    # -- campaigns
    def CreateCampaign(self, request: pb.CreateCampaignRequest, context: Ctx) -> pb.Campaign:
        return self.write(request, pb.Campaign, lambda uow, call: campaigns.create(
            uow, principal=call.principal, now=call.now, campaign=copy(request.campaign)))

    def Reassign(self, request: ReassignRequest, context: Ctx) -> ReassignResponse:
        return self.write(request, ReassignResponse, lambda uow, call: ownership.reassign(
            uow, principal=call.principal, now=call.now, request=request))

    def GetCampaign(self, request: pb.GetCampaignRequest, context: Ctx) -> pb.Campaign:
        return self.read(lambda s, call: campaigns.get(s, principal=call.principal, campaign_id=request.id))

    def ListCampaigns(self, request: pb.ListCampaignsRequest, context: Ctx) -> pb.ListCampaignsResponse:
        items, token = self.read(lambda s, call: campaigns.list_campaigns(
            s, principal=call.principal, flt=request.filter, page_size=request.page.page_size,
            page_token=request.page.page_token))
        return pb.ListCampaignsResponse(campaigns=items, page=PageResponse(next_page_token=token))

    def UpdateCampaign(self, request: pb.UpdateCampaignRequest, context: Ctx) -> pb.Campaign:
        return self.write(request, pb.Campaign, lambda uow, call: campaigns.update(
            uow, principal=call.principal, now=call.now, patch=copy(request.campaign),
            paths=list(request.update_mask.paths), expected_version=request.expected_version))

    def DeleteCampaign(self, request: pb.DeleteCampaignRequest, context: Ctx) -> pb.DeleteCampaignResponse:
        def delete(uow: UnitOfWork, call: Call) -> pb.DeleteCampaignResponse:
            campaigns.delete(uow, principal=call.principal, now=call.now, campaign_id=request.id,
                             expected_version=request.expected_version)
            return pb.DeleteCampaignResponse()
        return self.write(request, pb.DeleteCampaignResponse, delete)

    def ChangeCampaignStatus(self, request: pb.ChangeCampaignStatusRequest, context: Ctx) -> pb.Campaign:
        return self.write(request, pb.Campaign, lambda uow, call: campaigns.change_status(
            uow, principal=call.principal, now=call.now, campaign_id=request.id, status=request.status,
            reason=request.reason, expected_version=request.expected_version))

    def GetCampaignResults(self, request: pb.GetCampaignResultsRequest, context: Ctx) -> pb.CampaignResults:
        return self.read(lambda s, call: campaigns.results(s, principal=call.principal,
                                                           campaign_id=request.campaign_id))

    # -- invitation lists
    def AddInvitees(self, request: pb.AddInviteesRequest, context: Ctx) -> pb.AddInviteesResponse:
        def add(uow: UnitOfWork, call: Call) -> pb.AddInviteesResponse:
            added, before = invitees.add(uow, principal=call.principal, now=call.now,
                                         campaign_id=request.campaign_id, contact_ids=list(request.contact_ids))
            return pb.AddInviteesResponse(invitees=added, already_invited=before)
        return self.write(request, pb.AddInviteesResponse, add)

    def ListInvitees(self, request: pb.ListInviteesRequest, context: Ctx) -> pb.ListInviteesResponse:
        items, token = self.read(lambda s, call: invitees.list_invitees(
            s, principal=call.principal, campaign_id=request.campaign_id, status=request.status,
            page_size=request.page.page_size, page_token=request.page.page_token))
        return pb.ListInviteesResponse(invitees=items, page=PageResponse(next_page_token=token))

    def RegisterInvitee(self, request: pb.RegisterInviteeRequest, context: Ctx) -> pb.Invitee:
        return self.write(request, pb.Invitee, lambda uow, call: invitees.register(
            uow, principal=call.principal, now=call.now, campaign_id=request.campaign_id,
            contact_id=request.contact_id))

    def CheckInInvitee(self, request: pb.CheckInInviteeRequest, context: Ctx) -> pb.Invitee:
        return self.write(request, pb.Invitee, lambda uow, call: invitees.check_in(
            uow, principal=call.principal, now=call.now, campaign_id=request.campaign_id,
            code=request.check_in_code))

    # -- templates
    def CreateTemplate(self, request: pb.CreateTemplateRequest, context: Ctx) -> pb.Template:
        return self.write(request, pb.Template, lambda uow, call: templates.create(
            uow, principal=call.principal, now=call.now, template=copy(request.template)))

    def GetTemplate(self, request: pb.GetTemplateRequest, context: Ctx) -> pb.Template:
        return self.read(lambda s, call: templates.get(s, principal=call.principal, template_id=request.id))

    def ListTemplates(self, request: pb.ListTemplatesRequest, context: Ctx) -> pb.ListTemplatesResponse:
        items, token = self.read(lambda s, call: templates.list_templates(
            s, principal=call.principal, page_size=request.page.page_size, page_token=request.page.page_token))
        return pb.ListTemplatesResponse(templates=items, page=PageResponse(next_page_token=token))

    def UpdateTemplate(self, request: pb.UpdateTemplateRequest, context: Ctx) -> pb.Template:
        return self.write(request, pb.Template, lambda uow, call: templates.update(
            uow, principal=call.principal, now=call.now, patch=copy(request.template),
            paths=list(request.update_mask.paths), expected_version=request.expected_version))

    def DeleteTemplate(self, request: pb.DeleteTemplateRequest, context: Ctx) -> pb.DeleteTemplateResponse:
        def delete(uow: UnitOfWork, call: Call) -> pb.DeleteTemplateResponse:
            templates.delete(uow, principal=call.principal, now=call.now, template_id=request.id,
                             expected_version=request.expected_version)
            return pb.DeleteTemplateResponse()
        return self.write(request, pb.DeleteTemplateResponse, delete)

    def PreviewTemplate(self, request: pb.PreviewTemplateRequest, context: Ctx) -> pb.PreviewTemplateResponse:
        draft = copy(request.template) if request.HasField("template") else None
        return self.read(lambda s, call: templates.preview(
            s, principal=call.principal, template_id=request.template_id, draft=draft,
            contact_id=request.contact_id, language=request.language, campaign_id=request.campaign_id))

    # -- send waves
    def CreateSendWave(self, request: pb.CreateSendWaveRequest, context: Ctx) -> pb.SendWave:
        def prepare(call: Call) -> waves.Members:
            with self.db.read() as session:
                return waves.prepare(session, self.contacts, principal=call.principal, wave=request.wave,
                                     project=self.projector(call))
        if request.wave.channel.strip().lower() == "sms":
            return self.write_after(request, pb.SendWave, prepare, lambda uow, call, members: sms.create(
                uow, principal=call.principal, now=call.now, wave=copy(request.wave), members=members))
        if request.wave.channel.strip().lower() not in ("", "email"):
            return self.write(request, pb.SendWave, lambda uow, call: sms.refuse_channel(request.wave.channel))
        return self.write_after(request, pb.SendWave, prepare, lambda uow, call, members: waves.create(
            uow, principal=call.principal, now=call.now, wave=copy(request.wave), members=members,
            default_sender=self.default_sender))

    def GetSendWave(self, request: pb.GetSendWaveRequest, context: Ctx) -> pb.SendWave:
        return self.read(lambda s, call: waves.get(s, principal=call.principal, wave_id=request.id))

    def ListSendWaves(self, request: pb.ListSendWavesRequest, context: Ctx) -> pb.ListSendWavesResponse:
        items, token = self.read(lambda s, call: waves.list_waves(
            s, principal=call.principal, campaign_id=request.campaign_id, page_size=request.page.page_size,
            page_token=request.page.page_token))
        return pb.ListSendWavesResponse(waves=items, page=PageResponse(next_page_token=token))

    def StartSendWave(self, request: pb.StartSendWaveRequest, context: Ctx) -> pb.SendWave:
        return self.write(request, pb.SendWave, lambda uow, call: waves.start(
            uow, principal=call.principal, now=call.now, wave_id=request.id,
            expected_version=request.expected_version, mail_enabled=self.mail_enabled,
            sms_enabled=self.sms_enabled))

    def CancelSendWave(self, request: pb.CancelSendWaveRequest, context: Ctx) -> pb.SendWave:
        return self.write(request, pb.SendWave, lambda uow, call: waves.cancel(
            uow, principal=call.principal, now=call.now, wave_id=request.id,
            expected_version=request.expected_version))

    def ListRecipients(self, request: pb.ListRecipientsRequest, context: Ctx) -> pb.ListRecipientsResponse:
        items, token = self.read(lambda s, call: waves.list_recipients(
            s, principal=call.principal, wave_id=request.wave_id, status=request.status,
            reason=request.skip_reason, page_size=request.page.page_size, page_token=request.page.page_token))
        return pb.ListRecipientsResponse(recipients=items, page=PageResponse(next_page_token=token))

    # -- public: the links in a mail
    def Unsubscribe(self, request: pb.UnsubscribeRequest, context: Ctx) -> pb.UnsubscribeResponse:
        def unsubscribe(uow: UnitOfWork, call: Call) -> pb.UnsubscribeResponse:
            masked, already = tracking.unsubscribe(uow, principal=call.principal, now=call.now, key=self.key,
                                                   token=request.token)
            return pb.UnsubscribeResponse(email_masked=masked, already_unsubscribed=already)
        return self.write(request, pb.UnsubscribeResponse, unsubscribe)

    def RecordOpen(self, request: pb.RecordOpenRequest, context: Ctx) -> pb.RecordOpenResponse:
        def record(uow: UnitOfWork, call: Call) -> pb.RecordOpenResponse:
            tracking.record_open(uow, principal=call.principal, now=call.now, key=self.key, token=request.token)
            return pb.RecordOpenResponse()
        return self.write(request, pb.RecordOpenResponse, record)

    def ResolveClick(self, request: pb.ResolveClickRequest, context: Ctx) -> pb.ResolveClickResponse:
        return self.write(request, pb.ResolveClickResponse, lambda uow, call: pb.ResolveClickResponse(
            url=tracking.resolve_click(uow, principal=call.principal, now=call.now, key=self.key,
                                       token=request.token)))

    def ReportSmsEvents(self, request: pb.ReportSmsEventsRequest, context: Ctx) -> pb.ReportSmsEventsResponse:
        replies, receipts = [copy(x) for x in request.replies], [copy(x) for x in request.receipts]
        return self.write(request, pb.ReportSmsEventsResponse, lambda uow, call: sms.report_events(
            uow, principal=call.principal, now=call.now, replies=replies, receipts=receipts))

    def ListSmsReplies(self, request: pb.ListSmsRepliesRequest, context: Ctx) -> pb.ListSmsRepliesResponse:
        items, token = self.read(lambda s, call: sms.list_replies(
            s, principal=call.principal, phone=request.phone, page_size=request.page.page_size,
            page_token=request.page.page_token))
        return pb.ListSmsRepliesResponse(replies=items, page=PageResponse(next_page_token=token))

    def ReportMailFeedback(self, request: pb.ReportMailFeedbackRequest,
                           context: Ctx) -> pb.ReportMailFeedbackResponse:
        items = [copy(item) for item in request.feedback]
        return self.write(request, pb.ReportMailFeedbackResponse, lambda uow, call: feedback.report(
            uow, principal=call.principal, now=call.now, items=items, source=request.source))

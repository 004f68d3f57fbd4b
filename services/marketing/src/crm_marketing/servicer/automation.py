"""The RPCs of automation: settings, lead-capture forms (and their public side), sequences,
event-triggered rules and web visits, A/B tests, engagement."""
from __future__ import annotations

from crm.common.v1.types_pb2 import PageResponse
from crm.marketing.v1 import marketing_pb2 as pb
from crm_marketing.servicer.base import Base
from crm_marketing.usecases import (
    abtests,
    automation_rules,
    automation_settings,
    forms,
    scoring,
    sequences,
    visits,
    waves,
)
from crmkit.db import UnitOfWork
from crmkit.servicer import Call, Ctx, copy


class AutomationRpcs(Base):
    # -- settings
    def GetAutomationSettings(self, request: pb.GetAutomationSettingsRequest, context: Ctx) -> pb.AutomationSettings:
        return self.read(lambda s, call: automation_settings.get(s, principal=call.principal))

    def UpdateAutomationSettings(self, request: pb.UpdateAutomationSettingsRequest,
                                 context: Ctx) -> pb.AutomationSettings:
        return self.write(request, pb.AutomationSettings, lambda uow, call: automation_settings.update(
            uow, principal=call.principal, now=call.now, patch=copy(request.settings),
            paths=list(request.update_mask.paths), expected_version=request.expected_version))

    # -- forms
    def CreateForm(self, request: pb.CreateFormRequest, context: Ctx) -> pb.Form:
        return self.write(request, pb.Form, lambda uow, call: forms.create(
            uow, principal=call.principal, now=call.now, form=copy(request.form)))

    def GetForm(self, request: pb.GetFormRequest, context: Ctx) -> pb.Form:
        return self.read(lambda s, call: forms.get(s, principal=call.principal, form_id=request.id))

    def ListForms(self, request: pb.ListFormsRequest, context: Ctx) -> pb.ListFormsResponse:
        items, token = self.read(lambda s, call: forms.list_forms(
            s, principal=call.principal, status=request.status, page_size=request.page.page_size,
            page_token=request.page.page_token))
        return pb.ListFormsResponse(forms=items, page=PageResponse(next_page_token=token))

    def UpdateForm(self, request: pb.UpdateFormRequest, context: Ctx) -> pb.Form:
        return self.write(request, pb.Form, lambda uow, call: forms.update(
            uow, principal=call.principal, now=call.now, patch=copy(request.form),
            paths=list(request.update_mask.paths), expected_version=request.expected_version))

    def DeleteForm(self, request: pb.DeleteFormRequest, context: Ctx) -> pb.DeleteFormResponse:
        def delete(uow: UnitOfWork, call: Call) -> pb.DeleteFormResponse:
            forms.delete(uow, principal=call.principal, now=call.now, form_id=request.id,
                         expected_version=request.expected_version)
            return pb.DeleteFormResponse()
        return self.write(request, pb.DeleteFormResponse, delete)

    def ListFormSubmissions(self, request: pb.ListFormSubmissionsRequest,
                            context: Ctx) -> pb.ListFormSubmissionsResponse:
        items, token = self.read(lambda s, call: forms.list_submissions(
            s, principal=call.principal, form_id=request.form_id, status=request.status,
            page_size=request.page.page_size, page_token=request.page.page_token))
        return pb.ListFormSubmissionsResponse(submissions=items, page=PageResponse(next_page_token=token))

    def RetryFormSubmission(self, request: pb.RetryFormSubmissionRequest, context: Ctx) -> pb.FormSubmission:
        answer = self.write(request, pb.FormSubmission, lambda uow, call: forms.retry(
            uow, principal=call.principal, now=call.now, submission_id=request.id))
        self.submitted()
        return answer

    def GetPublicForm(self, request: pb.GetPublicFormRequest, context: Ctx) -> pb.PublicForm:
        return self.read(lambda s, call: forms.public_form(s, now=call.now, key=self.key, form_id=request.form_id))

    def SubmitForm(self, request: pb.SubmitFormRequest, context: Ctx) -> pb.SubmitFormResponse:
        answer = self.write(request, pb.SubmitFormResponse, lambda uow, call: forms.submit(
            uow, principal=call.principal, now=call.now, key=self.key, request=copy(request)))
        self.submitted()  # the delivery job runs now rather than at its next interval
        return answer

    # -- sequences
    def CreateSequence(self, request: pb.CreateSequenceRequest, context: Ctx) -> pb.Sequence:
        return self.write(request, pb.Sequence, lambda uow, call: sequences.create(
            uow, principal=call.principal, now=call.now, sequence=copy(request.sequence),
            default_sender=self.default_sender))

    def GetSequence(self, request: pb.GetSequenceRequest, context: Ctx) -> pb.Sequence:
        return self.read(lambda s, call: sequences.get(s, principal=call.principal, sequence_id=request.id))

    def ListSequences(self, request: pb.ListSequencesRequest, context: Ctx) -> pb.ListSequencesResponse:
        items, token = self.read(lambda s, call: sequences.list_sequences(
            s, principal=call.principal, campaign_id=request.campaign_id, status=request.status,
            page_size=request.page.page_size, page_token=request.page.page_token))
        return pb.ListSequencesResponse(sequences=items, page=PageResponse(next_page_token=token))

    def UpdateSequence(self, request: pb.UpdateSequenceRequest, context: Ctx) -> pb.Sequence:
        return self.write(request, pb.Sequence, lambda uow, call: sequences.update(
            uow, principal=call.principal, now=call.now, patch=copy(request.sequence),
            paths=list(request.update_mask.paths), expected_version=request.expected_version,
            default_sender=self.default_sender))

    def DeleteSequence(self, request: pb.DeleteSequenceRequest, context: Ctx) -> pb.DeleteSequenceResponse:
        def delete(uow: UnitOfWork, call: Call) -> pb.DeleteSequenceResponse:
            sequences.delete(uow, principal=call.principal, now=call.now, sequence_id=request.id,
                             expected_version=request.expected_version)
            return pb.DeleteSequenceResponse()
        return self.write(request, pb.DeleteSequenceResponse, delete)

    def ChangeSequenceStatus(self, request: pb.ChangeSequenceStatusRequest, context: Ctx) -> pb.Sequence:
        return self.write(request, pb.Sequence, lambda uow, call: sequences.change_status(
            uow, principal=call.principal, now=call.now, sequence_id=request.id, status=request.status,
            expected_version=request.expected_version, mail_enabled=self.mail_enabled))

    def EnrollContacts(self, request: pb.EnrollContactsRequest, context: Ctx) -> pb.EnrollContactsResponse:
        return self.write(request, pb.EnrollContactsResponse, lambda uow, call: sequences.enroll(
            uow, principal=call.principal, now=call.now, sequence_id=request.sequence_id,
            contact_ids=list(request.contact_ids), wave_id=request.wave_id))

    def ListEnrollments(self, request: pb.ListEnrollmentsRequest, context: Ctx) -> pb.ListEnrollmentsResponse:
        items, token = self.read(lambda s, call: sequences.list_enrollments(
            s, principal=call.principal, sequence_id=request.sequence_id, status=request.status,
            page_size=request.page.page_size, page_token=request.page.page_token))
        return pb.ListEnrollmentsResponse(enrollments=items, page=PageResponse(next_page_token=token))

    def RemoveEnrollment(self, request: pb.RemoveEnrollmentRequest, context: Ctx) -> pb.Enrollment:
        return self.write(request, pb.Enrollment, lambda uow, call: sequences.remove(
            uow, principal=call.principal, now=call.now, sequence_id=request.sequence_id,
            contact_id=request.contact_id))

    # -- event-triggered rules and web visits
    def CreateAutomationRule(self, request: pb.CreateAutomationRuleRequest, context: Ctx) -> pb.AutomationRule:
        answer = self.write(request, pb.AutomationRule, lambda uow, call: automation_rules.create(
            uow, principal=call.principal, now=call.now, rule=copy(request.rule), default_sender=self.default_sender))
        self.rules_changed()
        return answer

    def GetAutomationRule(self, request: pb.GetAutomationRuleRequest, context: Ctx) -> pb.AutomationRule:
        return self.read(lambda s, call: automation_rules.get(s, principal=call.principal, rule_id=request.id))

    def ListAutomationRules(self, request: pb.ListAutomationRulesRequest,
                            context: Ctx) -> pb.ListAutomationRulesResponse:
        items, token = self.read(lambda s, call: automation_rules.list_rules(
            s, principal=call.principal, campaign_id=request.campaign_id, page_size=request.page.page_size,
            page_token=request.page.page_token))
        return pb.ListAutomationRulesResponse(rules=items, page=PageResponse(next_page_token=token))

    def UpdateAutomationRule(self, request: pb.UpdateAutomationRuleRequest, context: Ctx) -> pb.AutomationRule:
        answer = self.write(request, pb.AutomationRule, lambda uow, call: automation_rules.update(
            uow, principal=call.principal, now=call.now, patch=copy(request.rule),
            paths=list(request.update_mask.paths), expected_version=request.expected_version,
            default_sender=self.default_sender))
        self.rules_changed()
        return answer

    def DeleteAutomationRule(self, request: pb.DeleteAutomationRuleRequest,
                             context: Ctx) -> pb.DeleteAutomationRuleResponse:
        def delete(uow: UnitOfWork, call: Call) -> pb.DeleteAutomationRuleResponse:
            automation_rules.delete(uow, principal=call.principal, now=call.now, rule_id=request.id,
                                    expected_version=request.expected_version)
            return pb.DeleteAutomationRuleResponse()
        answer = self.write(request, pb.DeleteAutomationRuleResponse, delete)
        self.rules_changed()
        return answer

    def TrackVisit(self, request: pb.TrackVisitRequest, context: Ctx) -> pb.TrackVisitResponse:
        return self.write(request, pb.TrackVisitResponse, lambda uow, call: visits.track(
            uow, now=call.now, key=self.key, request=copy(request)))

    # -- A/B tests
    def CreateAbTest(self, request: pb.CreateAbTestRequest, context: Ctx) -> pb.AbTest:
        def prepare(call: Call) -> waves.Members:
            with self.db.read() as session:
                return abtests.prepare(session, self.contacts, principal=call.principal, test=request.test,
                                       project=self.projector(call))
        return self.write_after(request, pb.AbTest, prepare, lambda uow, call, members: abtests.create(
            uow, principal=call.principal, now=call.now, test=copy(request.test), members=members,
            default_sender=self.default_sender))

    def GetAbTest(self, request: pb.GetAbTestRequest, context: Ctx) -> pb.AbTest:
        return self.read(lambda s, call: abtests.get(s, principal=call.principal, test_id=request.id))

    def ListAbTests(self, request: pb.ListAbTestsRequest, context: Ctx) -> pb.ListAbTestsResponse:
        items, token = self.read(lambda s, call: abtests.list_tests(
            s, principal=call.principal, campaign_id=request.campaign_id, page_size=request.page.page_size,
            page_token=request.page.page_token))
        return pb.ListAbTestsResponse(tests=items, page=PageResponse(next_page_token=token))

    def StartAbTest(self, request: pb.StartAbTestRequest, context: Ctx) -> pb.AbTest:
        return self.write(request, pb.AbTest, lambda uow, call: abtests.start(
            uow, principal=call.principal, now=call.now, test_id=request.id, expected_version=request.expected_version,
            mail_enabled=self.mail_enabled))

    def CancelAbTest(self, request: pb.CancelAbTestRequest, context: Ctx) -> pb.AbTest:
        return self.write(request, pb.AbTest, lambda uow, call: abtests.cancel(
            uow, principal=call.principal, now=call.now, test_id=request.id, expected_version=request.expected_version))

    # -- engagement
    def GetEngagement(self, request: pb.GetEngagementRequest, context: Ctx) -> pb.Engagement:
        return self.read(lambda s, call: scoring.get(s, principal=call.principal, now=call.now,
                                                     contact_id=request.contact_id))

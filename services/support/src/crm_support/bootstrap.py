"""The composition root of the support service: `spec(**overrides)` describes the service, and
its `compose(db, settings)` builds one process's parts (the servicer, the contacts adapter, the
knowledge-base index, the SLA scheduler and the mail worker). Nothing is built or read from the
environment until then; tests pass a clock, a contacts factory (a fake's address), a mailer
factory and the workers' intervals."""
from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from crm.privacy.v1 import privacy_pb2, privacy_pb2_grpc
from crm.support.v1 import support_pb2, support_pb2_grpc
from crm_support import jobs
from crm_support.ports import ContactsPort, GrpcContacts
from crm_support.search import KbIndex
from crm_support.servicer import SupportServicer
from crm_support.usecases import subject
from crm_support.usecases.notices import Sender
from crmkit.config import ServiceSettings, service_addr
from crmkit.credentials import ServiceCredentials
from crmkit.db import Database
from crmkit.mail import Mailer, mailer_from_settings
from crmkit.service import Components, ServiceSpec
from crmkit.servicer import Clock, system_clock

ContactsFactory = Callable[[ServiceSettings], ContactsPort | None]
MailerFactory = Callable[[ServiceSettings], Mailer | None]
MAIL_INTERVAL = 5.0  # seconds between looks at the mail outbox


def grpc_contacts(settings: ServiceSettings) -> ContactsPort:
    """Contacts at CONTACTS_SERVICE_ADDR, with this service's own credentials for the calls no
    user asked for."""
    return GrpcContacts(service_addr("contacts"), ServiceCredentials(settings.auth))


def smtp_mailer(settings: ServiceSettings) -> Mailer | None:
    """The relay at SMTP_URL, or None (no mail) when it is not set."""
    return mailer_from_settings(settings.mail.smtp_url)


def spec(*, clock: Clock = system_clock, contacts: ContactsFactory | None = None,
         scheduler_interval: float | None = None, mailer: MailerFactory | None = None,
         mail_interval: float = MAIL_INTERVAL) -> ServiceSpec:
    """`scheduler_interval` overrides `settings.scheduler_interval` (SUPPORT_SCHEDULER_INTERVAL)."""
    make_contacts = contacts or grpc_contacts
    make_mailer = mailer or smtp_mailer

    def compose(db: Database, settings: ServiceSettings) -> Components:
        # Workers start before the gRPC server: the index is built when the first search comes.
        kb_index = KbIndex(db, opensearch_url=settings.opensearch_url, data_dir=settings.data_dir / "search" / "kb")
        servicer = SupportServicer(db, clock, make_contacts(settings), kb_index)
        scheduler = jobs.worker(db, clock, scheduler_interval or settings.scheduler_interval)
        sender = Sender(settings.mail.mail_from, settings.mail.public_base_url)
        mail = jobs.MailWorker(db, make_mailer(settings), sender, clock, mail_interval)
        data_subject = subject.servicer(db)
        return Components(
            servicers=[lambda server: support_pb2_grpc.add_SupportServiceServicer_to_server(servicer, server),
                       lambda server: privacy_pb2_grpc.add_DataSubjectServicer_to_server(
                           data_subject, server)],
            workers=[kb_index, scheduler, mail],
            retention=jobs.RETENTION,  # closed tickets' personal data (crmkit.retention)
        )

    return ServiceSpec(
        name="support",
        migrations=Path(__file__).parent / "migrations",
        service_names=[support_pb2.DESCRIPTOR.services_by_name["SupportService"].full_name,
                       privacy_pb2.DESCRIPTOR.services_by_name["DataSubject"].full_name],
        compose=compose,
    )

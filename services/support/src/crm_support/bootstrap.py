"""The composition root of the support service: `spec(**overrides)` describes the service, and
its `compose(db, settings)` builds one process's parts (the servicer, the contacts adapter, the
knowledge-base index, the SLA scheduler and the mail worker). Nothing is built or read from the
environment until then; tests pass a clock, a contacts factory (a fake's address), a mailer
factory and the workers' intervals."""
from __future__ import annotations

import os
from collections.abc import Callable, Mapping
from pathlib import Path

from crm.common.v1 import imports_pb2_grpc
from crm.privacy.v1 import privacy_pb2, privacy_pb2_grpc
from crm.support.v1 import support_pb2, support_pb2_grpc
from crm_support import jobs, sms_jobs
from crm_support.ports import ChannelSender, ContactsPort, GrpcContacts, PlatformSender
from crm_support.rules.channels import ChannelAccount, parse_accounts
from crm_support.search import KbIndex
from crm_support.servicer import SupportServicer
from crm_support.usecases import imports, subject
from crm_support.usecases.notices import Sender
from crmkit.config import ConfigError, ServiceSettings, service_addr
from crmkit.credentials import ServiceCredentials
from crmkit.db import Database
from crmkit.imports import servicer as import_servicer
from crmkit.imports.runner import ImportRunner
from crmkit.mail import Mailer, mailer_from_settings
from crmkit.service import Components, ServiceSpec
from crmkit.servicer import Clock, system_clock
from crmkit.sms import SmsSender, SmsSettings, sender_from_settings

ContactsFactory = Callable[[ServiceSettings], ContactsPort | None]
MailerFactory = Callable[[ServiceSettings], Mailer | None]
MAIL_INTERVAL = 5.0  # seconds between looks at the mail outbox
CHANNEL_INTERVAL = 2.0  # seconds between looks at channel messages and replies (a callback wakes it too)
SenderFactory = Callable[[ServiceSettings], ChannelSender]
SmsFactory = Callable[[ServiceSettings], SmsSender | None]


def channel_accounts(env: Mapping[str, str] | None = None) -> dict[str, ChannelAccount]:
    """SUPPORT_CHANNEL_ACCOUNTS: a JSON list of WeChat / WeCom accounts (their tokens, keys and
    secrets come from a Secret); a wrong entry fails the start naming it."""
    raw = (os.environ if env is None else env).get("SUPPORT_CHANNEL_ACCOUNTS", "")
    try:
        return parse_accounts(raw)
    except ValueError as exc:
        raise ConfigError(f"SUPPORT_CHANNEL_ACCOUNTS: {exc}") from None


def grpc_contacts(settings: ServiceSettings) -> ContactsPort:
    """Contacts at CONTACTS_SERVICE_ADDR, with this service's own credentials for the calls no
    user asked for."""
    return GrpcContacts(service_addr("contacts"), ServiceCredentials(settings.auth))


def smtp_mailer(settings: ServiceSettings) -> Mailer | None:
    """The relay at SMTP_URL, or None (no mail) when it is not set."""
    return mailer_from_settings(settings.mail.smtp_url)


def sms_provider(settings: ServiceSettings) -> SmsSender | None:
    """The SMS provider at SMS_URL (crmkit.sms), or None: ticket SMS then wait, kept."""
    return sender_from_settings(SmsSettings.from_env())


def sms_template() -> str:
    """SUPPORT_SMS_TEMPLATE: the provider's approved template of a ticket update (variables
    number and update); unset, due ticket SMS are marked skipped with that reason."""
    return os.environ.get("SUPPORT_SMS_TEMPLATE", "").strip()


def spec(*, clock: Clock = system_clock, contacts: ContactsFactory | None = None,
         scheduler_interval: float | None = None, mailer: MailerFactory | None = None,
         mail_interval: float = MAIL_INTERVAL, channels: dict[str, ChannelAccount] | None = None,
         channel_sender: SenderFactory | None = None, channel_interval: float = CHANNEL_INTERVAL,
         sms: SmsFactory | None = None, sms_interval: float = sms_jobs.INTERVAL) -> ServiceSpec:
    """`scheduler_interval` overrides `settings.scheduler_interval` (SUPPORT_SCHEDULER_INTERVAL);
    `channels` the WeChat / WeCom accounts (default: SUPPORT_CHANNEL_ACCOUNTS)."""
    make_contacts = contacts or grpc_contacts
    make_mailer = mailer or smtp_mailer
    make_sender = channel_sender or (lambda settings: PlatformSender())

    def compose(db: Database, settings: ServiceSettings) -> Components:
        # Workers start before the gRPC server: the index is built when the first search comes.
        kb_index = KbIndex(db, opensearch_url=settings.opensearch_url, data_dir=settings.data_dir / "search" / "kb")
        accounts = channel_accounts() if channels is None else channels
        contacts_port = make_contacts(settings)
        channel = jobs.channel_worker(db, contacts_port, make_sender(settings), accounts, clock, channel_interval)
        servicer = SupportServicer(db, clock, contacts_port, kb_index, accounts, channel.tick)
        scheduler = jobs.worker(db, clock, scheduler_interval or settings.scheduler_interval)
        sender = Sender(settings.mail.mail_from, settings.mail.public_base_url)
        mail = jobs.MailWorker(db, make_mailer(settings), sender, clock, mail_interval)
        texts = sms_jobs.worker(db, (sms or sms_provider)(settings), clock, template=sms_template(),
                                sign_name=SmsSettings.from_env().sign_name, interval=sms_interval)
        data_subject = subject.servicer(db)
        # ticket imports (crmkit.imports): a batch per transaction, resumed after a restart
        importer = ImportRunner("support-imports", db, clock, kind=imports.KIND, importer=imports.TicketImporter(),
                                backpressure=True)
        import_api = import_servicer.ImportsServicer(db, imports.KIND, clock, wake=importer.wake)
        return Components(
            servicers=[lambda server: support_pb2_grpc.add_SupportServiceServicer_to_server(servicer, server),
                       lambda server: privacy_pb2_grpc.add_DataSubjectServicer_to_server(
                           data_subject, server),
                       lambda server: imports_pb2_grpc.add_ImportsServicer_to_server(import_api, server)],
            workers=[kb_index, scheduler, mail, channel, texts, importer],
            retention=jobs.RETENTION,  # closed tickets' personal data (crmkit.retention)
        )

    return ServiceSpec(
        name="support",
        migrations=Path(__file__).parent / "migrations",
        service_names=[support_pb2.DESCRIPTOR.services_by_name["SupportService"].full_name,
                       privacy_pb2.DESCRIPTOR.services_by_name["DataSubject"].full_name,
                       import_servicer.SERVICE_NAME],
        compose=compose,
    )

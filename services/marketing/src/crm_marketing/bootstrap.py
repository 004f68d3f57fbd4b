"""The composition root of the marketing service: `spec(**overrides)` describes the service, and
its `compose(db, settings)` builds one process's parts (the servicer, the contacts and sales
adapters, the mailer, the handler of the CONTACTS, SALES and SUPPORT streams, the sender, the
scheduler of what is owed to contacts and sales, and the automation worker). Nothing is built or read
from the environment until then; tests pass a clock, a contacts factory, a mailer and intervals.

Settings of its own (read at compose time): MARKETING_SEND_RATE (mails per second, default 200),
MARKETING_TOKEN_SECRET (the key of the tracking tokens; JWT_SECRET when unset),
MARKETING_SENDER_INTERVAL (seconds between looks for waves to send, default 1),
MARKETING_SEND_CONNECTIONS (SMTP connections a sender drives in lockstep, default 16),
MARKETING_SEND_LEASE (seconds a sender's claim on recipients lasts, default 60: how soon the claims of
a sender that died are taken over), MARKETING_SEND_WORKERS (slices of every wave, default 1: a sender
worker each, with its own lease, connections and share of the rate, so replicas share a wave),
MARKETING_SEND_LOG_BATCH (sent marks per transaction with a plain Mailer, default 1: the most mails a
hard crash can leave to be sent twice; the SMTP relay's rounds never send twice), MARKETING_AUTOMATION_INTERVAL (seconds between
looks for due sequence steps and A/B tests to decide, default 5); and crmkit's
SMTP_URL, MAIL_FROM, PUBLIC_BASE_URL (the gateway's address the links in mails point at).
SMS (crmkit.sms): SMS_URL, SMS_ACCESS_KEY_ID, SMS_ACCESS_KEY_SECRET, SMS_SIGN_NAME (unset: sms waves
cannot start) and MARKETING_SMS_RATE (messages per second, default 20).
SALES_SERVICE_ADDR: where form submissions and qualified contacts become leads; unset, they wait
(stored, counted in crm_marketing_delivery_backlog) until a process that has it delivers them."""
from __future__ import annotations

import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace
from datetime import timedelta
from pathlib import Path

from crm.marketing.v1 import marketing_pb2, marketing_pb2_grpc
from crm.privacy.v1 import privacy_pb2, privacy_pb2_grpc
from crm_marketing import handlers, jobs
from crm_marketing.jobs import automation
from crm_marketing.jobs import sms as sms_jobs
from crm_marketing.ports import ContactsPort, GrpcContacts, GrpcSales, Mailer, SalesPort, SmtpRounds
from crm_marketing.rules.tracking import LinkMaker, tracking_key
from crm_marketing.servicer import MarketingServicer
from crm_marketing.usecases import subject
from crmkit.config import ConfigError, ServiceSettings, service_addr
from crmkit.credentials import ServiceCredentials
from crmkit.db import Database
from crmkit.mail import mailer_from_settings
from crmkit.service import Components, ServiceSpec
from crmkit.servicer import Clock, system_clock
from crmkit.sms import SmsSender, SmsSettings, sender_from_settings

MIGRATIONS = Path(__file__).parent / "migrations"
DATA_SUBJECT = privacy_pb2.DESCRIPTOR.services_by_name["DataSubject"].full_name
SERVICE_NAME = marketing_pb2.DESCRIPTOR.services_by_name["MarketingService"].full_name
PUBLIC_PATH = "/api/v1/public"  # the gateway's public routes: /unsubscribe/{t}, /open/{t}, /click/{t}

ContactsFactory = Callable[[ServiceSettings], ContactsPort | None]
MailerFactory = Callable[[ServiceSettings], Mailer | None]
SalesFactory = Callable[[ServiceSettings], SalesPort | None]
SmsFactory = Callable[[ServiceSettings], SmsSender | None]


@dataclass(frozen=True)
class MarketingSettings:
    send_rate: float
    token_secret: str
    sender_interval: float
    send_log_batch: int = 1
    automation_interval: float = 5.0
    send_lease: float = 60.0  # MARKETING_SEND_LEASE: seconds before a dead sender's claims are taken over
    send_workers: int = 1  # MARKETING_SEND_WORKERS: slices of every wave, each a sender worker with its lease

    @classmethod
    def from_env(cls, settings: ServiceSettings, env: Mapping[str, str] | None = None) -> MarketingSettings:
        env = os.environ if env is None else env
        try:
            rate = float(env.get("MARKETING_SEND_RATE", "200"))
            interval = float(env.get("MARKETING_SENDER_INTERVAL", "1"))
            log_batch = int(env.get("MARKETING_SEND_LOG_BATCH", "1"))
            automation = float(env.get("MARKETING_AUTOMATION_INTERVAL", "5"))
        except ValueError:
            raise ConfigError("MARKETING_SEND_RATE, MARKETING_SENDER_INTERVAL, MARKETING_SEND_LOG_BATCH and "
                              "MARKETING_AUTOMATION_INTERVAL are numbers") from None
        if rate <= 0 or interval <= 0 or log_batch < 1 or automation <= 0:
            raise ConfigError("MARKETING_SEND_RATE, MARKETING_SENDER_INTERVAL and MARKETING_AUTOMATION_INTERVAL "
                              "must be positive, MARKETING_SEND_LOG_BATCH at least 1")
        secret = env.get("MARKETING_TOKEN_SECRET") or settings.auth.jwt_secret or ""
        if not secret:
            raise ConfigError("set MARKETING_TOKEN_SECRET (the key of unsubscribe, open and click links)")
        try:
            lease = float(env.get("MARKETING_SEND_LEASE", "60"))
        except ValueError:
            raise ConfigError("MARKETING_SEND_LEASE is seconds") from None
        if lease < 1:
            raise ConfigError("MARKETING_SEND_LEASE must be at least 1 second")
        try:
            workers = int(env.get("MARKETING_SEND_WORKERS", "1"))
        except ValueError:
            raise ConfigError("MARKETING_SEND_WORKERS is a number of sender workers") from None
        if not 1 <= workers <= 16:
            raise ConfigError("MARKETING_SEND_WORKERS must be between 1 and 16")
        return cls(rate, secret, interval, log_batch, automation, lease, workers)


def grpc_contacts(settings: ServiceSettings) -> ContactsPort:
    """Contacts at CONTACTS_SERVICE_ADDR, with this service's own credentials."""
    return GrpcContacts(service_addr("contacts"), ServiceCredentials(settings.auth))


def grpc_sales(settings: ServiceSettings) -> SalesPort | None:
    """Sales at SALES_SERVICE_ADDR, with this service's own credentials; None when it is not set."""
    addr = os.environ.get("SALES_SERVICE_ADDR", "")
    return GrpcSales(addr, ServiceCredentials(settings.auth)) if addr else None


def smtp_mailer(settings: ServiceSettings) -> Mailer | None:
    """SMTP_URL through MARKETING_SEND_CONNECTIONS connections (default 16) in lockstep (SmtpRounds)."""
    if mailer_from_settings(settings.mail.smtp_url) is None:  # logs that mail is off (or where it goes)
        return None
    try:
        connections = int(os.environ.get("MARKETING_SEND_CONNECTIONS", "16"))
    except ValueError:
        raise ConfigError("MARKETING_SEND_CONNECTIONS is a number of SMTP connections") from None
    if not 1 <= connections <= 64:
        raise ConfigError("MARKETING_SEND_CONNECTIONS must be between 1 and 64")
    return SmtpRounds.from_url(settings.mail.smtp_url or "", connections)


def sms_provider(settings: ServiceSettings) -> SmsSender | None:
    """The SMS provider of SMS_URL (crmkit.sms), or None when it is not set."""
    return sender_from_settings(SmsSettings.from_env())


def sms_rate(env: Mapping[str, str] | None = None) -> float:
    env = os.environ if env is None else env
    try:
        rate = float(env.get("MARKETING_SMS_RATE", "20"))
    except ValueError:
        raise ConfigError("MARKETING_SMS_RATE is messages per second") from None
    if rate <= 0:
        raise ConfigError("MARKETING_SMS_RATE must be positive")
    return rate


def spec(*, clock: Clock = system_clock, contacts: ContactsFactory | None = None, mailer: MailerFactory | None = None,
         sales: SalesFactory | None = None, sms: SmsFactory | None = None, send_options: jobs.SendOptions | None = None,
         sender_interval: float | None = None, scheduler_interval: float | None = None,
         automation_interval: float | None = None, env: Mapping[str, str] | None = None) -> ServiceSpec:
    make_contacts = contacts or grpc_contacts
    make_mailer = mailer or smtp_mailer
    make_sales = sales or grpc_sales
    make_sms = sms or sms_provider
    rule_types = handlers.RuleTypes()  # what the consumer hands the handler depends on the rules

    def compose(db: Database, settings: ServiceSettings) -> Components:
        own = MarketingSettings.from_env(settings, env)
        key = tracking_key(own.token_secret)
        links = LinkMaker(settings.mail.public_base_url.rstrip("/") + PUBLIC_PATH, key)
        rule_types.bind(db)
        contacts_port = make_contacts(settings)
        mail = make_mailer(settings)
        texts = make_sms(settings)
        owed = jobs.scheduler(db, contacts_port, clock, scheduler_interval or settings.scheduler_interval,
                              sales=make_sales(settings))
        servicer = MarketingServicer(db, clock, contacts_port, tracking_key=key,
                                     default_sender=settings.mail.mail_from, mail_enabled=mail is not None,
                                     submitted=owed.tick, rules_changed=rule_types.invalidate,
                                     sms_enabled=texts is not None)
        options = send_options or jobs.SendOptions()
        if send_options is None:  # tests give theirs; a process takes the settings
            options = replace(options, rate=own.send_rate, flush_every=own.send_log_batch,
                              lease=timedelta(seconds=own.send_lease))
        # Every replica starts every slice's worker, the slice's lease runs it in one of them; each
        # has its own relay connections and rate / n, so MARKETING_SEND_RATE stays the service's.
        parts = own.send_workers
        senders = [jobs.Sender(db, mail if i == 0 else make_mailer(settings), links, clock,
                               replace(options, rate=options.rate / parts, part=(i, parts)) if parts > 1 else options)
                   for i in range(parts)]
        steps = automation.worker(db, clock, automation_interval or own.automation_interval)
        texter = sms_jobs.SmsWaveSender(db, texts, clock, rate=sms_rate(env), lease=options.lease)
        workers = [*(jobs.SendWorker(sender, sender_interval or own.sender_interval) for sender in senders), owed,
                   steps, sms_jobs.SmsWorker(texter, sender_interval or own.sender_interval)]
        data_subject = subject.servicer(db)
        return Components(
            servicers=[lambda server: marketing_pb2_grpc.add_MarketingServiceServicer_to_server(servicer, server),
                       lambda server: privacy_pb2_grpc.add_DataSubjectServicer_to_server(
                           data_subject, server)],
            handler=handlers.handler(clock, rule_types),
            batch_handler=handlers.batch_handler(clock, rule_types),
            workers=workers,
        )

    return ServiceSpec(name="marketing", migrations=MIGRATIONS, service_names=[SERVICE_NAME, DATA_SUBJECT], compose=compose,
                       consumes=handlers.STREAMS, wants=rule_types.wants)

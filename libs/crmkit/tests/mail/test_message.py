"""crmkit.mail without a network: the MIME message a mail becomes (UTF-8, Chinese names and
subjects, alternatives, custom headers), deterministic Message-IDs, SMTP_URL parsing, the TLS
context and the mail settings."""
from __future__ import annotations

import email
import ssl
from datetime import UTC, datetime
from email.policy import default

import pytest

from crmkit.config import ConfigError, MailSettings, ServiceSettings
from crmkit.mail import (
    InvalidMail,
    MailRejected,
    OutgoingMail,
    SmtpMailer,
    build_message,
    domain_of,
    format_address,
    mailer_from_settings,
    make_message_id,
    message_bytes,
    parse_smtp_url,
    tls_context,
)

MAIL = OutgoingMail(sender="舒纽客服 <support@shuniu.example>", to="张伟 <zhang.wei@customer.example>",
                    subject="您的工单 T-000042 已解决 — 请评价", text="您好，张伟：\n请点击链接评价。\n",
                    message_id="<abc@shuniu.example>", date=datetime(2026, 3, 2, 1, 0, tzinfo=UTC))


def reparse(mail: OutgoingMail) -> email.message.EmailMessage:
    """What a receiver sees: the bytes on the wire parsed back."""
    raw = build_message(mail).as_bytes()
    assert raw.isascii()  # 7-bit clean: any relay takes it, no 8BITMIME needed
    assert b"\r\n" in raw and b"\n" not in raw.replace(b"\r\n", b"")
    return email.message_from_bytes(raw, policy=default)  # type: ignore[return-value]


def test_chinese_names_subject_and_body_arrive_intact() -> None:
    got = reparse(MAIL)
    assert got["From"].addresses[0].display_name == "舒纽客服"
    assert got["From"].addresses[0].addr_spec == "support@shuniu.example"
    assert got["To"].addresses[0].display_name == "张伟"
    assert got["Subject"] == MAIL.subject
    assert got["Message-ID"] == "<abc@shuniu.example>"
    assert got["Date"].datetime == MAIL.date
    assert got.get_content_type() == "text/plain" and got.get_content_charset() == "utf-8"
    assert got.get_content().replace("\r\n", "\n") == MAIL.text  # base64 keeps MIME's CRLF lines
    raw = build_message(MAIL).as_bytes()
    assert b"=?utf-8?" in raw  # encoded words, not raw UTF-8, in the headers


def test_html_makes_multipart_alternative_with_the_text_first() -> None:
    got = reparse(OutgoingMail(sender="a@x.example", to="b@y.example", subject="Hi", text="plain 文本",
                               html="<p>富文本 <b>html</b></p>"))
    assert got.get_content_type() == "multipart/alternative"
    parts = [p.get_content_type() for p in got.iter_parts()]
    assert parts == ["text/plain", "text/html"]
    assert got.get_body(("html",)).get_content() == "<p>富文本 <b>html</b></p>\r\n"  # type: ignore[union-attr]
    assert got.get_body(("plain",)).get_content() == "plain 文本\r\n"  # type: ignore[union-attr]


def test_custom_headers_such_as_one_click_unsubscribe_are_kept() -> None:
    got = reparse(OutgoingMail(
        sender="news@shuniu.example", to="li.na@customer.example", subject="Webinar", text="Join us",
        reply_to="Sales 销售 <sales@shuniu.example>",
        headers={"List-Unsubscribe": "<https://crm.example/u/tok123>, <mailto:unsub@shuniu.example>",
                 "List-Unsubscribe-Post": "List-Unsubscribe=One-Click", "X-Campaign": "c-1"}))
    assert got["List-Unsubscribe"].strip() == "<https://crm.example/u/tok123>, <mailto:unsub@shuniu.example>"
    assert got["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    assert got["X-Campaign"] == "c-1"
    assert got["Reply-To"].addresses[0].display_name == "Sales 销售"
    assert got["Message-ID"].endswith("@shuniu.example>")  # made up from the sender's domain


@pytest.mark.parametrize(("change", "complaint"), [
    ({"to": "not an address"}, "To"),
    ({"to": "a@x.example, b@y.example"}, "To"),
    ({"sender": ""}, "From"),
    ({"subject": "Hi\r\nBcc: victim@x.example"}, "subject"),
    ({"headers": {"X-Ok": "fine\r\nBcc: victim@x.example"}}, "line break"),
    ({"headers": {"Subject": "twice"}}, "Subject"),
    ({"message_id": "no-brackets@x"}, "Message-ID"),
    ({"to": "张伟@customer.example"}, "ASCII"),  # internationalized addresses are not supported
])
def test_a_mail_that_cannot_be_built_says_why(change: dict[str, object], complaint: str) -> None:
    fields = {**MAIL.__dict__, **change}
    with pytest.raises(InvalidMail, match=complaint):
        build_message(OutgoingMail(**fields))  # type: ignore[arg-type]


def test_an_unbuildable_mail_is_a_permanent_rejection_before_any_connection() -> None:
    mailer = SmtpMailer.from_url("smtp://127.0.0.1:9")  # nothing listens there: never dialled
    with pytest.raises(MailRejected) as info:
        mailer.send(OutgoingMail(sender="a@x.example", to="nobody", subject="s", text="t"))
    assert info.value.permanent and info.value.code == 0


def test_format_address_quotes_what_needs_quoting() -> None:
    value = format_address("Wang, Li", "wl@x.example")
    assert value == '"Wang, Li" <wl@x.example>'
    assert reparse(OutgoingMail(sender=value, to="b@y.example", subject="s", text="t"))["From"].addresses[0] \
        .display_name == "Wang, Li"
    assert domain_of("Shuniu <no-reply@CRM.Example>") == "crm.example"


def test_message_ids_are_deterministic_and_distinct() -> None:
    one = make_message_id("campaign-1", "contact-9", domain="shuniu.example")
    assert one == make_message_id("campaign-1", "contact-9", domain="SHUNIU.example")
    assert one != make_message_id("campaign-1", "contact-8", domain="shuniu.example")
    assert one != make_message_id("campaign-1contact-9", domain="shuniu.example")  # parts are separated
    assert one.startswith("<") and one.endswith("@shuniu.example>") and len(one.split("@")[0]) == 33
    with pytest.raises(ValueError):
        make_message_id("x", domain="bad domain")


def test_smtp_urls() -> None:
    plain = parse_smtp_url("smtp://127.0.0.1:1025")
    assert (plain.scheme, plain.host, plain.port, plain.username, plain.timeout) == ("smtp", "127.0.0.1", 1025, "", 30.0)
    relay = parse_smtp_url("smtp+starttls://crm%40shuniu.example:p%40ss%3Aw%2Fd@smtp.example.com:587?timeout=7.5")
    assert (relay.username, relay.password, relay.port, relay.timeout) == ("crm@shuniu.example", "p@ss:w/d", 587, 7.5)
    assert "p@ss" not in repr(relay) and "p@ss" not in relay.url  # the password never reaches a log
    assert parse_smtp_url("smtps://u:p@smtp.example.com").port == 465
    assert parse_smtp_url("smtp+starttls://u:p@smtp.example.com").port == 587
    assert parse_smtp_url("smtp://localhost").port == 25


@pytest.mark.parametrize(("url", "complaint"), [
    ("http://smtp.example.com", "must start with"),
    ("smtp://user:pw@smtp.example.com", "credentials need TLS"),
    ("smtps://", "no host"),
    ("smtp://h:99999", "bad port"),
    ("smtp://h/path", "no path"),
    ("smtp://h?retries=3", "unknown parameter"),
    ("smtp://h?timeout=soon", "timeout"),
])
def test_bad_smtp_urls_fail_at_start_naming_the_problem(url: str, complaint: str) -> None:
    with pytest.raises(ConfigError, match=complaint):
        SmtpMailer.from_url(url)


def test_tls_is_verified() -> None:
    context = tls_context()
    assert context.verify_mode == ssl.CERT_REQUIRED and context.check_hostname
    assert context.minimum_version >= ssl.TLSVersion.TLSv1_2
    assert SmtpMailer.from_url("smtps://u:p@smtp.example.com").context is not None
    assert SmtpMailer.from_url("smtp://127.0.0.1:1025").context is None


def test_mail_settings_are_read_at_start_with_defaults() -> None:
    base = {"DATABASE_URL": "sqlite:///x.db", "NATS_URL": "nats://127.0.0.1:4222", "JWT_SECRET": "s" * 32}
    off = ServiceSettings.from_env("support", base).mail
    assert off.smtp_url is None and "@" in off.mail_from and off.public_base_url == "http://127.0.0.1:8080"
    assert mailer_from_settings(off.smtp_url) is None
    on = MailSettings.from_env({"SMTP_URL": "smtp://127.0.0.1:1025", "MAIL_FROM": "客服 <help@shuniu.example>",
                                "PUBLIC_BASE_URL": "https://crm.shuniu.example/"})
    assert (on.smtp_url, on.public_base_url) == ("smtp://127.0.0.1:1025", "https://crm.shuniu.example")
    assert isinstance(mailer_from_settings(on.smtp_url), SmtpMailer)
    with pytest.raises(ConfigError, match="MAIL_FROM"):
        MailSettings.from_env({"MAIL_FROM": "nobody"})
    with pytest.raises(ConfigError, match="PUBLIC_BASE_URL"):
        MailSettings.from_env({"PUBLIC_BASE_URL": "crm.example"})


def test_the_same_mail_is_the_same_bytes_and_long_subjects_fold() -> None:
    html = OutgoingMail(**{**MAIL.__dict__, "html": "<p>您好</p>"})
    assert message_bytes(html) == message_bytes(html)  # a re-send after a crash is identical
    long = OutgoingMail(**{**MAIL.__dict__, "subject": "Your request about the printer on the third floor " * 3})
    raw = message_bytes(long)
    assert max(len(line) for line in raw.split(b"\r\n")) <= 78
    assert reparse(long)["Subject"] == long.subject
    chinese = OutgoingMail(**{**MAIL.__dict__, "subject": "关于三楼打印机无法连接网络的问题的处理进展通知" * 3})
    assert reparse(chinese)["Subject"] == chinese.subject
    assert max(len(line) for line in message_bytes(chinese).split(b"\r\n")) <= 78

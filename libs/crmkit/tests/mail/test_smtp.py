"""SmtpMailer against a real SMTP server (crmkit.smtp_sink on a free port): delivery, the kept-open
connection and its reconnect, refusals by code, STARTTLS and implicit TLS with a certificate this
test makes (a throwaway CA), login, and the sink as the process `make run` starts."""
from __future__ import annotations

import datetime as dt
import ipaddress
import json
import signal
import smtplib
import ssl
import subprocess
import sys
import threading
from collections.abc import Iterator
from email.message import EmailMessage
from pathlib import Path
from typing import Any

import pytest
from aiosmtpd.controller import Controller
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from crmkit.mail import MailRejected, MailUnavailable, OutgoingMail, SmtpMailer, make_message_id, tls_context
from crmkit.smtp_sink import Keeper
from crmkit.testing import SmtpSink, free_port, port_open, wait_for

LOGIN = ("crm@shuniu.example", "p@ss w:rd/1")
LOGIN_URL = "crm%40shuniu.example:p%40ss%20w%3Ard%2F1"


def mail(n: int = 1, to: str = "张伟 <zhang.wei@customer.example>") -> OutgoingMail:
    return OutgoingMail(sender="舒纽客服 <support@shuniu.example>", to=to, subject=f"工单 T-{n:06d} 已解决",
                        text=f"第 {n} 封", html=f"<p>第 {n} 封</p>",
                        message_id=make_message_id("test", str(n), domain="shuniu.example"))


@pytest.fixture
def sink(tmp_path: Path) -> Iterator[SmtpSink]:
    server = SmtpSink(tmp_path / "mail").start()
    yield server
    server.stop()


def test_mails_arrive_in_order_over_one_kept_open_connection(sink: SmtpSink) -> None:
    mailer = SmtpMailer.from_url(sink.url)
    for n in (1, 2, 3):
        mailer.send(mail(n))
    got = sink.wait_for(3)
    assert [m["Subject"] for m in got] == ["工单 T-000001 已解决", "工单 T-000002 已解决", "工单 T-000003 已解决"]
    assert got[0]["To"].addresses[0].display_name == "张伟"
    assert got[2].get_body(("html",)).get_content().strip() == "<p>第 3 封</p>"
    assert got[0]["Message-ID"] == make_message_id("test", "1", domain="shuniu.example")
    assert len(mailer._open) == 1  # one connection for the three
    mailer.close()
    assert not mailer._open


def test_each_thread_has_its_own_connection(sink: SmtpSink) -> None:
    mailer = SmtpMailer.from_url(sink.url)
    threads = [threading.Thread(target=lambda k=k: [mailer.send(mail(k * 10 + i)) for i in range(5)])
               for k in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(20)
    assert len(sink.wait_for(15)) == 15
    assert len(mailer._open) == 3
    mailer.close()


def test_a_dropped_connection_is_replaced_and_a_dead_relay_is_unavailable(tmp_path: Path) -> None:
    port = free_port()
    first = SmtpSink(tmp_path / "a", port=port).start()
    mailer = SmtpMailer.from_url(first.url)
    mailer.send(mail(1))
    first.stop()  # the kept-open connection dies with it
    with pytest.raises(MailUnavailable):
        mailer.send(mail(2))
    second = SmtpSink(tmp_path / "b", port=port).start()
    try:
        mailer.send(mail(3))  # reconnects by itself
        assert [m["Subject"] for m in second.wait_for(1)] == ["工单 T-000003 已解决"]
        second.stop()
        restarted = SmtpSink(tmp_path / "c", port=port).start()
        mailer.send(mail(4))  # the stale connection is noticed before anything is handed over
        assert len(restarted.wait_for(1)) == 1
        restarted.stop()
    finally:
        mailer.close()


class Picky:
    """Refuses the way relays do: 452 mailbox full (try later), 550 no such user, 554 after DATA."""

    def __init__(self, directory: Path) -> None:
        self.keeper = Keeper(directory)

    async def handle_RCPT(self, server: Any, session: Any, envelope: Any, address: str, options: Any) -> str:
        if address.startswith("full@"):
            return "452 4.2.2 mailbox full"
        if address.startswith("nobody@"):
            return "550 5.1.1 no such user"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        if envelope.rcpt_tos[0].startswith("spam@"):
            return "554 5.7.1 message refused"
        return await self.keeper.handle_DATA(server, session, envelope)


def test_refusals_are_permanent_or_temporary_by_their_code(tmp_path: Path) -> None:
    port = free_port()
    picky = Controller(Picky(tmp_path), hostname="127.0.0.1", port=port)
    picky.start()
    try:
        mailer = SmtpMailer.from_url(f"smtp://127.0.0.1:{port}")
        with pytest.raises(MailRejected) as full:
            mailer.send(mail(1, to="full@customer.example"))
        assert (full.value.permanent, full.value.code) == (False, 452)
        with pytest.raises(MailRejected) as gone:
            mailer.send(mail(2, to="nobody@customer.example"))
        assert (gone.value.permanent, gone.value.code) == (True, 550) and "no such user" in str(gone.value)
        with pytest.raises(MailRejected) as refused:
            mailer.send(mail(3, to="spam@customer.example"))
        assert (refused.value.permanent, refused.value.code) == (True, 554)
        mailer.send(mail(4, to="ok@customer.example"))  # the same connection goes on after a refusal
        assert len(mailer._open) == 1
        assert len(list(tmp_path.glob("*.eml"))) == 1
        mailer.close()
    finally:
        picky.stop()


# -- TLS: a CA and a server certificate for localhost / 127.0.0.1, made here

@pytest.fixture(scope="module")
def certificates(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    tmp = tmp_path_factory.mktemp("tls")
    now = dt.datetime.now(dt.UTC)
    ca_key, key = ec.generate_private_key(ec.SECP256R1()), ec.generate_private_key(ec.SECP256R1())
    ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "crmkit test CA")])
    ca = (x509.CertificateBuilder().subject_name(ca_name).issuer_name(ca_name).public_key(ca_key.public_key())
          .serial_number(x509.random_serial_number()).not_valid_before(now - dt.timedelta(minutes=5))
          .not_valid_after(now + dt.timedelta(days=1))
          .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
          .add_extension(x509.KeyUsage(digital_signature=True, key_cert_sign=True, crl_sign=True,
                                       content_commitment=False, key_encipherment=False, data_encipherment=False,
                                       key_agreement=False, encipher_only=False, decipher_only=False), critical=True)
          .add_extension(x509.SubjectKeyIdentifier.from_public_key(ca_key.public_key()), critical=False)
          .sign(ca_key, hashes.SHA256()))
    leaf = (x509.CertificateBuilder()
            .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "localhost")]))
            .issuer_name(ca_name).public_key(key.public_key()).serial_number(x509.random_serial_number())
            .not_valid_before(now - dt.timedelta(minutes=5)).not_valid_after(now + dt.timedelta(days=1))
            .add_extension(x509.SubjectAlternativeName([x509.DNSName("localhost"),
                                                        x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
                           critical=False)
            .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
            .add_extension(x509.ExtendedKeyUsage([x509.oid.ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
            .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()), critical=False)
            .sign(ca_key, hashes.SHA256()))
    paths = {"ca": tmp / "ca.pem", "cert": tmp / "server.pem", "key": tmp / "server.key"}
    paths["ca"].write_bytes(ca.public_bytes(serialization.Encoding.PEM))
    paths["cert"].write_bytes(leaf.public_bytes(serialization.Encoding.PEM))
    paths["key"].write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                               serialization.NoEncryption()))
    return paths


def server_context(certs: dict[str, Path]) -> ssl.SSLContext:
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(certs["cert"], certs["key"])
    return context


def test_starttls_with_a_verified_certificate_and_a_percent_encoded_login(
        tmp_path: Path, certificates: dict[str, Path]) -> None:
    sink = SmtpSink(tmp_path, tls=server_context(certificates), auth=LOGIN).start()
    trusted = tls_context(cafile=str(certificates["ca"]))
    try:
        mailer = SmtpMailer.from_url(f"smtp+starttls://{LOGIN_URL}@localhost:{sink.port}", context=trusted)
        mailer.send(mail(1))
        assert sink.wait_for(1)[0]["Subject"] == "工单 T-000001 已解决"
        mailer.close()
        with pytest.raises(MailUnavailable, match="refused the login"):
            SmtpMailer.from_url(f"smtp+starttls://crm%40shuniu.example:wrong@localhost:{sink.port}",
                                context=trusted).send(mail(2))
        with pytest.raises(MailUnavailable, match="CERTIFICATE_VERIFY_FAILED"):  # the system trust store
            SmtpMailer.from_url(f"smtp+starttls://{LOGIN_URL}@localhost:{sink.port}").send(mail(3))
        # A login over a plain connection is never tried: the sink requires TLS for AUTH anyway.
        plain = smtplib.SMTP("127.0.0.1", sink.port, timeout=5)
        plain.ehlo()
        with pytest.raises(smtplib.SMTPException):
            plain.login(*LOGIN)
        plain.close()
        assert len(sink.files()) == 1
    finally:
        sink.stop()


@pytest.mark.filterwarnings("ignore:Requiring AUTH while not requiring TLS")  # it is TLS: implicit
def test_smtps_verifies_the_host_name(tmp_path: Path, certificates: dict[str, Path]) -> None:
    sink = SmtpSink(tmp_path, tls=server_context(certificates), implicit_tls=True, auth=LOGIN).start()
    trusted = tls_context(cafile=str(certificates["ca"]))
    try:
        mailer = SmtpMailer.from_url(f"smtps://{LOGIN_URL}@127.0.0.1:{sink.port}", context=trusted)
        mailer.send(mail(1))
        assert len(sink.wait_for(1)) == 1
        mailer.close()
    finally:
        sink.stop()


def test_the_sink_process_keeps_messages_logs_them_and_stops_on_sigterm(tmp_path: Path) -> None:
    port, out = free_port(), tmp_path / "sink.log"
    with out.open("wb") as log:
        proc = subprocess.Popen([sys.executable, "-m", "crmkit.smtp_sink", "--dir", str(tmp_path / "mail"),
                                 "--host", "127.0.0.1", "--port", str(port)], stdout=log, stderr=subprocess.STDOUT)
    try:
        wait_for(lambda: port_open(port), 20, what="the sink")
        msg = EmailMessage()
        msg["From"], msg["To"], msg["Subject"], msg["Message-ID"] = "a@x.example", "b@y.example", "你好", "<m1@x>"
        msg.set_content("正文")
        with smtplib.SMTP("127.0.0.1", port, timeout=5) as client:
            client.send_message(msg)
        files = list((tmp_path / "mail").glob("*.eml"))
        assert len(files) == 1 and files[0].name.endswith(".eml")
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(15) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
    lines = [json.loads(line) for line in out.read_text().splitlines() if line.startswith("{")]
    kept = [line for line in lines if line["msg"] == "message kept"]
    assert len(kept) == 1 and kept[0]["message_id"] == "<m1@x>" and kept[0]["subject"] == "你好"
    assert kept[0]["rcpt_to"] == ["b@y.example"] and kept[0]["file"] == files[0].name
    assert lines[-1]["msg"] == "stopped" and lines[-1]["kept"] == 1


def _replies(sock: Any, count: int) -> list[bytes]:
    """The next `count` reply lines (final lines: "250 ...", not "250-...")."""
    got = b""
    while got.count(b"\r\n") < count or any(line[3:4] == b"-" for line in got.split(b"\r\n")[:count]):
        chunk = sock.recv(65536)
        assert chunk, f"the sink closed the connection after {got!r}"
        got += chunk
        lines = [line for line in got.split(b"\r\n") if line and line[3:4] != b"-"]
        if len(lines) >= count:
            return lines[:count]
    return [line for line in got.split(b"\r\n") if line][:count]


def test_pipelined_commands_are_answered_and_what_arrives_is_kept_byte_for_byte(sink: SmtpSink) -> None:
    import socket

    body = (b"Subject: dots\r\nMessage-ID: <dots@x>\r\n\r\n"
            b".a line that began with a dot\r\nends with a dot.\r\n.\r\nx" + b"y" * 990 + b"\r\n")
    stuffed = b"\r\n".join(b"." + line if line.startswith(b".") else line for line in body.split(b"\r\n"))
    with socket.create_connection((sink.host, sink.port), timeout=5) as s:
        assert _replies(s, 1)[0].startswith(b"220")
        s.sendall(b"EHLO client.example\r\n")
        assert _replies(s, 1)[0].startswith(b"250")
        # RFC 2920: MAIL, RCPT and DATA at once; all three answered, 354 last
        s.sendall(b"MAIL FROM:<a@x.example>\r\nRCPT TO:<b@y.example>\r\nDATA\r\n")
        assert [r[:3] for r in _replies(s, 3)] == [b"250", b"250", b"354"]
        s.sendall(stuffed + b".\r\n")
        assert _replies(s, 1)[0].startswith(b"250")
        # a line over 1,000 octets is refused (500) and nothing is kept; the session goes on
        s.sendall(b"MAIL FROM:<a@x.example>\r\nRCPT TO:<\"odd name\"@y.example>\r\nDATA\r\n")
        assert [r[:3] for r in _replies(s, 3)] == [b"250", b"250", b"354"]
        s.sendall(b"Subject: long\r\n\r\n" + b"z" * 1001 + b"\r\n.\r\n")
        assert _replies(s, 1)[0].startswith(b"500")
        s.sendall(b"QUIT\r\n")
        assert _replies(s, 1)[0].startswith(b"221")
    files = sink.files()
    assert len(files) == 1
    assert files[0].read_bytes() == body  # dots unstuffed, nothing else touched

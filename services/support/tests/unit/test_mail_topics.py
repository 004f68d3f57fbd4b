"""Inbound email parsing and threading references; top issues with jieba."""
from __future__ import annotations

from crm_support.rules import mail, topics

REPLY = (
    "From: =?utf-8?b?546L5by6?= <Wang.Qiang@Example.cn>\r\n"
    "To: support@shuniu.example\r\n"
    "Subject: Re: [T-000042] 打印机无法连接\r\n"
    "Message-ID: <reply-1@example.cn>\r\n"
    "In-Reply-To: <tid.cid@support.shuniu.local>\r\n"
    "References: <first@example.cn> <tid.cid@support.shuniu.local>\r\n"
    "Content-Type: text/plain; charset=utf-8\r\n"
    "\r\n"
    "重启之后还是不行。\r\n"
    "\r\n"
    "在 2026年3月2日 10:00，客服 写道：\r\n"
    "> 请重启打印机\r\n"
).encode()


def test_a_reply_names_its_ticket_and_drops_the_quote() -> None:
    parsed = mail.parse(REPLY)
    assert parsed.sender_email == "wang.qiang@example.cn" and parsed.sender_name == "王强"
    assert parsed.ticket_number == "T-000042"
    assert parsed.references[0] == "<tid.cid@support.shuniu.local>"
    assert parsed.message_id == "<reply-1@example.cn>"
    assert parsed.body == "重启之后还是不行。"
    assert mail.clean_subject(parsed.subject) == "打印机无法连接"


def test_html_only_mail_and_attachments() -> None:
    raw = (
        b"From: a@b.example\r\nSubject: Invoice\r\nMIME-Version: 1.0\r\n"
        b'Content-Type: multipart/mixed; boundary="XX"\r\n\r\n'
        b"--XX\r\nContent-Type: text/html\r\n\r\n<p>Hello<br>the invoice is wrong</p>\r\n"
        b"--XX\r\nContent-Type: application/pdf\r\nContent-Disposition: attachment; filename=inv.pdf\r\n"
        b"Content-Transfer-Encoding: base64\r\n\r\nJVBERi0xLjQK\r\n--XX--\r\n"
    )
    parsed = mail.parse(raw)
    assert parsed.body == "Hello\nthe invoice is wrong"
    assert [(a.file_name, a.content_type, a.size_bytes) for a in parsed.attachments] == [
        ("inv.pdf", "application/pdf", 9)]
    assert parsed.ticket_number == "" and not parsed.auto_reply


def test_auto_replies_are_recognised() -> None:
    raw = b"From: a@b.example\r\nSubject: Out of office\r\nAuto-Submitted: auto-replied\r\n\r\naway"
    assert mail.parse(raw).auto_reply


def test_top_issues_count_each_ticket_once() -> None:
    texts = [
        ("T-1", "发票开错了 发票抬头"),
        ("T-2", "电子发票没有收到"),
        ("T-3", "打印机无法连接"),
        ("T-4", "打印机卡纸"),
        ("T-5", "login fails after password reset"),
        ("T-6", "Cannot login to the portal"),
    ]
    issues = {i.term: i for i in topics.top_issues(texts)}
    assert issues["发票"].tickets == 2 and issues["发票"].samples == ["T-1", "T-2"]
    assert issues["打印机"].tickets == 2
    assert issues["login"].tickets == 2
    assert "the" not in issues and "T-3" not in [s for i in issues.values() if i.tickets > 2 for s in i.samples]

"""An sms wave through the real adapter (crmkit.sms.AliyunSms) into the SMS sink over a socket:
signed requests accepted, each consenting phone texted once with its variables, the sink's
delivery receipts (pushed to a callback, here straight into ReportSmsEvents as the gateway
would) counted as delivered, and a provider that is down pausing the wave without losing it."""
from __future__ import annotations

import json
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from threading import Thread
from typing import Any

from crm.contacts.v1 import contacts_pb2 as cpb
from crm.marketing.v1 import marketing_pb2 as pb
from crm_marketing import bootstrap
from crm_marketing.jobs.sms import SmsWaveSender
from crm_marketing.usecases import campaigns, projection, sms, waves
from crmkit.auth import Principal
from crmkit.sms import AliyunSms, SmsSettings
from crmkit.sms_sink import SmsSinkServer
from crmkit.testing import free_port, migrated_database, wait_for

NOW = datetime(2026, 12, 1, 2, 0, tzinfo=UTC)
MKT = Principal("mkt.1", ("marketing",), "marketing", "east", "市场小李")
PUBLIC = Principal("public-web", ("public",), "", "", "visitor")


def test_a_wave_through_the_sink_over_a_socket(tmp_path: Path) -> None:
    db = migrated_database(bootstrap.spec().migrations, tmp_path)
    pushed: list[dict[str, Any]] = []

    class Callback(BaseHTTPRequestHandler):
        def log_message(self, *args: Any) -> None:
            pass

        def do_POST(self) -> None:
            pushed.extend(json.loads(self.rfile.read(int(self.headers["Content-Length"]))))
            self.send_response(200)
            self.send_header("Content-Length", "2")
            self.end_headers()
            self.wfile.write(b"{}")

    hook = ThreadingHTTPServer(("127.0.0.1", 0), Callback)
    Thread(target=hook.serve_forever, daemon=True).start()
    port = free_port()
    sink = SmsSinkServer(tmp_path / "sms", port=port, key_id="kid", key_secret="ksecret",
                         report_url=f"http://127.0.0.1:{hook.server_address[1]}/reports").start()
    try:
        def write(fn: Any) -> Any:
            with db.unit_of_work() as uow:
                out = fn(uow)
                uow.commit()
                return out

        for key, phone, purpose in (("a", "+8613800138000", "marketing_sms"), ("b", "+8613800138001", "marketing_email")):
            contact = cpb.Contact(id=f"c-{key}", name=f"客户{key}", tags=["vip"], version=1,
                                  phones=[cpb.Phone(number=phone)])
            contact.consents.add(purpose=purpose, granted=True).at.FromDatetime(NOW)
            write(lambda uow, c=contact: projection.apply_contact(uow.session, c, NOW))
        campaign = write(lambda uow: campaigns.create(uow, principal=MKT, now=NOW, campaign=pb.Campaign(
            name="双十二", type="social")))
        request = pb.SendWave(campaign_id=campaign.id, channel="sms", audience=pb.Audience(tags=["vip"]),
                              sms=pb.SmsContent(template_code="SMS_1", sign_name="数牛", params={"name": "{{ name }}"}))
        wave = write(lambda uow: sms.create(uow, principal=MKT, now=NOW, wave=request, members=waves.Members()))
        write(lambda uow: waves.start(uow, principal=MKT, now=NOW, wave_id=wave.id, expected_version=1,
                                      mail_enabled=False, sms_enabled=True))

        down = AliyunSms(SmsSettings(f"http://127.0.0.1:{free_port()}/", "kid", "ksecret", "数牛"))
        assert SmsWaveSender(db, down, lambda: NOW, rate=1000).run_once(NOW) == 0  # paused, nothing lost
        provider = AliyunSms(SmsSettings(sink.url, "kid", "ksecret", "数牛"))
        assert SmsWaveSender(db, provider, lambda: NOW, rate=1000).run_once(NOW) == 1
        assert [(m["phone"], m["params"]) for m in sink.messages()] == [("+8613800138000", {"name": "客户a"})]

        wait_for(lambda: len(pushed) == 1, what="the sink's receipt")
        receipts = [pb.SmsReceipt(phone=r["phone_number"], provider_id=r["biz_id"], out_id=r["out_id"],
                                  success=r["success"], error_code=r["err_code"]) for r in pushed]
        answer = write(lambda uow: sms.report_events(uow, principal=PUBLIC, now=NOW, replies=[], receipts=receipts))
        assert answer.receipts_marked == 1
        with db.read() as session:
            done = waves.get(session, principal=MKT, wave_id=wave.id)
        assert done.status == "completed"
        assert (done.sms_counts.sent, done.sms_counts.delivered, dict(done.sms_counts.skipped)) == (
            1, 1, {"no_consent": 1})
    finally:
        sink.stop()
        hook.shutdown()
        hook.server_close()
        db.dispose()

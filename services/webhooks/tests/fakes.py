"""Fakes at the webhooks service's ports: a resolver answering from a table, a sender that keeps
what it was asked to send and answers what the test says."""
from __future__ import annotations

from dataclasses import dataclass, field

from crm_webhooks.ports import Answer
from crm_webhooks.rules.sealing import SecretBox
from crm_webhooks.rules.targets import Target

BOX = SecretBox("unit-test-webhooks-secret-key-0123456789abcdef")  # the key tests seal secrets with
KEY = b"unit-test-suppression-key-0123456789abcdef"  # the key of the erased people's hashes


@dataclass
class FakeResolver:
    names: dict[str, list[str]] = field(default_factory=lambda: {"erp.example.com": ["93.184.215.14"]})
    calls: int = 0

    def __call__(self, host: str, port: int) -> list[str]:
        self.calls += 1
        if host not in self.names:
            raise ValueError(f"cannot resolve {host}")
        return list(self.names[host])


@dataclass
class Sent:
    target: Target
    address: str
    headers: dict[str, str]
    body: bytes


@dataclass
class FakeSender:
    status: int = 200
    error: OSError | None = None
    sent: list[Sent] = field(default_factory=list)

    def __call__(self, target: Target, address: str, headers: dict[str, str], body: bytes) -> Answer:
        self.sent.append(Sent(target, address, headers, body))
        if self.error is not None:
            raise self.error
        return Answer(self.status, "" if self.status < 300 else "receiver says no")

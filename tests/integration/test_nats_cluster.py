"""NATS as production runs it: three nats-server processes on loopback forming one JetStream
cluster (the shape of deploy/k8s/overlays/production/nats-cluster.conf: routes to all three,
`sync_interval: always`), a stream created by crmkit.bus with NATS_STREAM_REPLICAS=3, and the
stream leader killed (SIGKILL) in the middle of a publish load. Every message JetStream
acknowledged is in the stream afterwards, exactly once, and the killed server catches up when it
comes back."""
from __future__ import annotations

import asyncio
import json
import signal
import subprocess
import time
import urllib.request
from pathlib import Path

import nats
import pytest
from nats.errors import Error as NatsError

from crmkit import bus
from crmkit.testing import free_port, nats_server_binary, port_open, wait_for

pytestmark = pytest.mark.integration

SERVICE = "clustertest"
MESSAGES = 600


class Node:
    def __init__(self, workdir: Path, index: int, ports: list[tuple[int, int, int]]) -> None:
        self.index, self.workdir = index, workdir / f"n{index}"
        self.workdir.mkdir()
        self.client, self.cluster, self.http = ports[index]
        routes = "\n".join(f"    nats-route://127.0.0.1:{cluster}" for _, cluster, _ in ports)
        self.config = self.workdir / "nats.conf"
        self.config.write_text(
            f'server_name: n{index}\nlisten: "127.0.0.1:{self.client}"\nhttp: "127.0.0.1:{self.http}"\n'
            f'jetstream {{\n  store_dir: "{self.workdir / "js"}"\n  sync_interval: always\n}}\n'
            f'cluster {{\n  name: crm-test\n  listen: "127.0.0.1:{self.cluster}"\n  routes: [\n{routes}\n  ]\n}}\n')
        self.proc: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"nats://127.0.0.1:{self.client}"

    def start(self) -> Node:
        log = open(self.workdir / "nats.log", "ab")  # noqa: SIM115 - handed to the child
        self.proc = subprocess.Popen([nats_server_binary(), "-c", str(self.config)], stdout=log, stderr=log)
        wait_for(lambda: port_open(self.client), what=f"nats-server n{self.index}")
        return self

    def kill(self) -> None:
        assert self.proc is not None
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait(10)

    def jsz(self) -> dict:
        with urllib.request.urlopen(f"http://127.0.0.1:{self.http}/jsz?streams=true", timeout=5) as r:
            return json.loads(r.read())

    def healthy(self) -> bool:
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{self.http}/healthz", timeout=2) as r:
                return r.status == 200
        except OSError:
            return False


@pytest.fixture
def cluster(tmp_path):
    ports = [(free_port(), free_port(), free_port()) for _ in range(3)]
    nodes = [Node(tmp_path, i, ports) for i in range(3)]
    for node in nodes:
        node.start()
    wait_for(lambda: all(n.healthy() for n in nodes), 60, what="a JetStream cluster with a meta leader")
    yield nodes
    for node in nodes:
        if node.proc and node.proc.poll() is None:
            node.proc.terminate()
            node.proc.wait(10)


def test_nothing_acknowledged_is_lost_when_the_stream_leader_dies_mid_load(cluster, monkeypatch):
    monkeypatch.setenv("NATS_STREAM_REPLICAS", "3")
    acked, replicas, killed = asyncio.run(_load(cluster))
    assert replicas == 3, "crmkit.bus created the stream with NATS_STREAM_REPLICAS copies"
    assert len(acked) == MESSAGES, "every message was eventually acknowledged (publishes retried)"

    survivors = [n for n in cluster if n is not killed]
    stored = asyncio.run(_read_all([n.url for n in survivors]))
    assert sorted(stored) == sorted(acked), "an acknowledged message is missing or stored twice"

    killed.start()  # back with its file store: it catches up from the others
    wait_for(lambda: _stream_messages(killed) == MESSAGES, 60, what="the restarted server to catch up")


async def _load(nodes: list[Node]) -> tuple[list[str], int, Node]:
    nc = await nats.connect(servers=[n.url for n in nodes], max_reconnect_attempts=-1, reconnect_time_wait=0.2)
    js = nc.jetstream(timeout=2)
    for _ in range(50):  # the meta leader may still be settling right after the cluster formed
        try:
            await bus.ensure_stream(js, SERVICE)
            break
        except NatsError:
            await asyncio.sleep(0.2)
    for _ in range(50):
        info = await js.stream_info(bus.stream_name(SERVICE))
        if info.cluster is not None and info.cluster.leader:
            break
        await asyncio.sleep(0.2)
    replicas = info.config.num_replicas
    assert info.cluster is not None and info.cluster.leader, "a replicated stream has a leader"
    (leader,) = [n for n in nodes if f"n{n.index}" == info.cluster.leader]
    acked: list[str] = []
    killed_at = MESSAGES // 3

    async def publish(i: int) -> None:
        msg_id = f"event-{i}"
        give_up = time.monotonic() + 60  # a stream without a quorum would never answer
        while time.monotonic() < give_up:  # what the outbox relay does: resend, same Nats-Msg-Id
            try:
                await js.publish(f"crm.{SERVICE}.item.created", msg_id.encode(), headers={"Nats-Msg-Id": msg_id})
                if msg_id not in acked:  # a duplicate ack: stored by an attempt whose ack was lost
                    acked.append(msg_id)
                return
            except NatsError:  # timeout, no responders, no stream response, reconnecting…
                await asyncio.sleep(0.1)

    for start in range(0, MESSAGES, 20):
        await asyncio.gather(*(publish(i) for i in range(start, start + 20)))
        if start == killed_at - killed_at % 20:
            leader.kill()  # the stream leader dies with publishes in flight
            await asyncio.gather(*(publish(i) for i in range(start, start + 20)))  # resends are no-ops
    await nc.close()
    return acked, replicas, leader


async def _read_all(urls: list[str]) -> list[str]:
    """Every message of the stream, read by an ordered consumer (retried while the survivors
    elect a new stream leader: a consumer cannot be created until then)."""
    nc = await nats.connect(servers=urls)
    js = nc.jetstream(timeout=5)
    deadline = time.monotonic() + 60
    try:
        while True:
            try:
                info = await js.stream_info(bus.stream_name(SERVICE))
                sub = await js.subscribe(f"crm.{SERVICE}.>", ordered_consumer=True)
                seen = [(await sub.next_msg(timeout=10)).data.decode() for _ in range(info.state.messages)]
                await sub.unsubscribe()
                return seen
            except NatsError:
                if time.monotonic() > deadline:
                    raise
                await asyncio.sleep(0.5)
    finally:
        await nc.close()


def _stream_messages(node: Node) -> int:
    try:
        for account in node.jsz().get("account_details", []):
            for stream in account.get("stream_detail", []):
                if stream["name"] == bus.stream_name(SERVICE):
                    return int(stream["state"]["messages"])
    except OSError:
        pass
    return -1

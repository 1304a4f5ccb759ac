"""Our config writes keep the gateway runnable; our reads survive its own in-place writer."""

from __future__ import annotations

import json
import subprocess
import textwrap
import time

from clawdbot_nb.errors import ParseError
from clawdbot_nb.state import onboarding
from clawdbot_nb.state.agent import AgentState, now_ms
from clawdbot_nb.state.status import models_status
from tests.gateway.conftest import Gateway
from tests.gateway.helpers import (
    HOUR,
    OTHER_TOKEN,
    assert_same_status,
    store_of,
)
from tests.state.fakes import API_KEY, OAUTH_ACCESS, OAUTH_REFRESH, SETUP_TOKEN, write_json


def test_our_config_writes_keep_the_gateway_runnable(gateway: Gateway, capsys, record_property) -> None:
    """The gateway's schema is strict: one key it does not know and every command refuses."""
    agent = AgentState.resolve()
    write_json(gateway.home / ".claude" / ".credentials.json", {"claudeAiOauth": {
        "accessToken": OAUTH_ACCESS, "refreshToken": OAUTH_REFRESH, "expiresAt": now_ms() + 30 * HOUR}})  # fmt: skip
    onboarding.save_api_key(agent, API_KEY)
    onboarding.save_setup_token(agent, SETUP_TOKEN, profile_id="anthropic:work", expires_in="365d")
    onboarding.paste_token(agent, SETUP_TOKEN, provider="anthropic")
    onboarding.import_claude_cli(agent)
    onboarding.set_order(agent, "anthropic", ["anthropic:work"])
    research = AgentState.resolve("research")
    onboarding.paste_token(research, OTHER_TOKEN, provider="anthropic", profile_id="anthropic:research")
    onboarding.remove_profile(agent, "anthropic:work")
    config = json.loads(agent.config_path.read_text())
    config["auth"]["order"] = {"anthropic": ["anthropic:default", "anthropic:manual"]}
    agent.config_path.write_text(json.dumps(config))
    onboarding.save_setup_token(agent, SETUP_TOKEN, profile_id="anthropic:manual")  # moves it to the front
    assert json.loads(agent.config_path.read_text())["auth"]["order"]["anthropic"][0] == "anthropic:manual"
    run = gateway.run("models", "status", "--json")
    assert run.returncode == 0 and "Invalid config" not in run.stdout + run.stderr, run.stdout + run.stderr
    assert_same_status(record_property, gateway, capsys)


# -- our reads while the gateway's own writer rewrites the store in place ---------------------------

GATEWAY_WRITER = textwrap.dedent(
    """
    const { saveJsonFile } = await import(process.argv[1]);
    const fs = await import("node:fs");
    const path = process.argv[2], rounds = Number(process.argv[3]);
    const store = JSON.parse(fs.readFileSync(path, "utf8"));
    console.log("ready");
    for (let n = 0; n < rounds; n++) {
      store.usageStats = { "anthropic:default": { lastUsed: Date.now(), errorCount: 0 } };
      store.lastGood = { anthropic: n % 2 ? "anthropic:default" : "anthropic:manual" };
      saveJsonFile(path, store);  // the gateway's writeFileSync: truncate, then write
      await new Promise((resolve) => setTimeout(resolve, 1));
    }
    console.log(`wrote ${rounds}`);
    """
)


def test_reads_while_the_gateways_writer_rewrites_the_store(gateway: Gateway, record_property) -> None:
    agent = AgentState.resolve()
    onboarding.save_api_key(agent, API_KEY)
    onboarding.paste_token(agent, SETUP_TOKEN, provider="anthropic")
    path = store_of(gateway.state_dir)
    writer_module = (gateway.dist() / "infra" / "json-file.js").as_uri()
    rounds, reads, errors = 3000, 0, []
    with subprocess.Popen(
        [gateway.node(), "--input-type=module", "-e", GATEWAY_WRITER, writer_module, str(path), str(rounds)],
        stdout=subprocess.PIPE,
        text=True,
    ) as writer:
        assert writer.stdout is not None and writer.stdout.readline().strip() == "ready"
        deadline = time.monotonic() + 120
        while writer.poll() is None and time.monotonic() < deadline:
            try:
                report = models_status(agent)
                assert len(report.store.profiles) == 2
                agent.store_file.load()
                agent.store_file.update(lambda store: store.data.setdefault("lastGood", {}))
            except ParseError as error:
                errors.append(str(error))
            reads += 3
        assert writer.wait(timeout=60) == 0
        assert writer.stdout.read().strip() == f"wrote {rounds}"
    assert errors == []
    assert list(path.parent.glob("auth-profiles.json.unreadable-*")) == []
    assert reads > 300
    record_property("interop_reads_during_gateway_writes", reads)
    record_property("interop_gateway_writes", rounds)

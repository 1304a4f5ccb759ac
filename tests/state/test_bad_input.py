"""The reproductions of the careless-user run: each bad file or argument gets one clear line,
exit code 1, and leaves every file as it was; secrets never travel where they do not belong."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from clawdbot_nb import cli
from clawdbot_nb.errors import ClawdbotError, ParseError, UsageError
from clawdbot_nb.state import claude_cli, onboarding
from clawdbot_nb.state.agent import AgentState
from clawdbot_nb.state.config import ClawdbotConfig
from clawdbot_nb.state.redaction import full_secrets
from tests.state.fakes import API_KEY, OAUTH_ACCESS, OAUTH_REFRESH, SETUP_TOKEN, read_json, write_json

ROOT = Path(__file__).resolve().parents[2]


def run(capsys, *argv: str) -> tuple[int, str, str]:
    code = cli.main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def at_rest(path: Path) -> Path:
    """A broken file written a while ago (not one a writer is busy with)."""
    old = time.time() - 60
    os.utime(path, (old, old))
    return path


def files_under(root: Path) -> dict[str, bytes]:
    return {
        str(p.relative_to(root)): p.read_bytes()
        for p in root.rglob("*")
        if p.is_file() and ".unreadable-" not in p.name
    }


# -- files ---------------------------------------------------------------------------------------------


def test_deep_json_is_one_located_line(capsys, agent: AgentState) -> None:
    path = agent.agent_dir / "auth-profiles.json"
    path.parent.mkdir(parents=True)
    path.write_text('{"version": 1, "profiles": ' + "[" * 5000 + "]" * 5000 + "}")
    at_rest(path)
    code, _, err = run(capsys, "models", "status")
    assert code == 1 and err.count("\n") == 1
    assert f"{path}:1:" in err and "nested more than 64 levels" in err and "Fix:" in err


def test_infinity_in_the_claude_login_names_the_file_and_field(
    capsys, agent: AgentState, isolated_home
) -> None:
    login = isolated_home / ".claude" / ".credentials.json"
    login.parent.mkdir()
    login.write_text('{"claudeAiOauth": {"accessToken": "' + OAUTH_ACCESS + '", "expiresAt": Infinity}}')
    code, _, err = run(capsys, "onboard", "--non-interactive", "--auth-choice", "claude-cli")
    assert code == 1 and str(login) in err and "claudeAiOauth.expiresAt is inf" in err
    assert not (agent.agent_dir / "auth-profiles.json").exists()


@pytest.mark.parametrize("value", ["Infinity", "NaN", "-5", "1e400"])
def test_non_finite_cooldown_settings_name_the_field(agent: AgentState, value: str) -> None:
    agent.config_path.parent.mkdir(parents=True)
    agent.config_path.write_text("{auth: {cooldowns: {billingBackoffHours: " + value + "}}}")
    with pytest.raises(ParseError) as info:
        ClawdbotConfig.load(agent.config_path).cooldown_policy  # noqa: B018
    assert str(agent.config_path) in str(info.value) and "auth.cooldowns.billingBackoffHours" in str(
        info.value
    )
    agent.config_path.write_text(
        "{auth: {cooldowns: {billingBackoffHoursByProvider: {anthropic: " + value + "}}}}"
    )
    with pytest.raises(ParseError, match=r"billingBackoffHoursByProvider\.anthropic"):
        ClawdbotConfig.load(agent.config_path).cooldown_policy  # noqa: B018


def test_onboard_checks_the_config_before_writing_the_key(capsys, agent: AgentState) -> None:
    """Before: the key was saved, then the config error came (a half-done onboarding)."""
    write_json(
        agent.config_path,
        {"auth": {"profiles": {"anthropic:old": {"provider": "anthropic", "mode": "webauthn"}}}},
    )
    before = agent.config_path.read_bytes()
    code, _, err = run(
        capsys, "onboard", "--non-interactive", "--auth-choice", "apiKey", "--anthropic-api-key", API_KEY
    )
    assert code == 1 and str(agent.config_path) in err and 'auth.profiles["anthropic:old"].mode' in err
    assert not (agent.agent_dir / "auth-profiles.json").exists()
    assert agent.config_path.read_bytes() == before


def test_a_config_write_that_fails_after_the_store_write_is_undone(agent: AgentState, monkeypatch) -> None:
    onboarding.save_api_key(agent, API_KEY)
    store_before = (agent.agent_dir / "auth-profiles.json").read_bytes()

    def disk_full(path, mutate):
        raise ParseError(
            "cannot write the config (No space left on device)", path=path, fix="free some space"
        )

    monkeypatch.setattr(onboarding, "update_config", disk_full)
    with pytest.raises(ParseError, match="No space left"):
        onboarding.save_setup_token(agent, SETUP_TOKEN, profile_id="anthropic:default")
    assert (agent.agent_dir / "auth-profiles.json").read_bytes() == store_before


def test_piped_into_head_ends_quietly(agent: AgentState) -> None:
    onboarding.save_api_key(agent, API_KEY)
    with subprocess.Popen(
        [sys.executable, "-m", "clawdbot_nb", "models", "status"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        cwd=ROOT,
    ) as child:
        assert child.stdout is not None and child.stderr is not None
        child.stdout.close()  # like `| head -0`: the reader is gone before we write
        err = child.stderr.read().decode()
        assert child.wait(timeout=60) == 141
    assert err == ""


# -- secrets in the wrong places ---------------------------------------------------------------------

SECRET_ARGUMENTS = [
    ["models", "status", "--agent", API_KEY],
    ["models", "auth", "order", "set", "--provider", "anthropic", SETUP_TOKEN],
    ["models", "auth", "order", "get", "--provider", API_KEY],
    ["onboard", "--non-interactive", "--auth-choice", "token", "--token-provider", "anthropic", "--token",
     SETUP_TOKEN, "--token-profile-id", API_KEY],
    ["onboard", "--non-interactive", "--auth-choice", "token", "--token-provider", API_KEY, "--token", SETUP_TOKEN],
    ["onboard", "--non-interactive", "--auth-choice", "token", "--token-provider", "anthropic", "--token",
     SETUP_TOKEN, "--token-expires-in", API_KEY],
    ["models", "auth", "paste-token", "--provider", SETUP_TOKEN],
    ["models", "auth", "paste-token", "--provider", "anthropic", "--expires-in", SETUP_TOKEN],
    ["models", "status", "--probe", "--probe-provider", API_KEY],
    ["models", "status", "--probe", "--probe-profile", "anthropic:x," + SETUP_TOKEN],
]  # fmt: skip


@pytest.mark.parametrize("argv", SECRET_ARGUMENTS, ids=lambda argv: " ".join(a[:20] for a in argv[:6]))
def test_a_secret_passed_to_the_wrong_option_is_refused_masked(capsys, agent: AgentState, argv) -> None:
    onboarding.save_api_key(agent, API_KEY, profile_id="anthropic:x")
    before = files_under(agent.state_dir)
    code, out, err = run(capsys, *argv)
    assert code == 1, err
    assert "looks like a secret" in err and "Fix:" in err and err.count("\n") == 1
    assert full_secrets(out + err) == []
    assert files_under(agent.state_dir) == before  # not saved into the config or its backups


def test_the_profile_to_use_refuses_a_secret(agent: AgentState) -> None:
    from clawdbot_nb.state.selection import auth_candidates

    onboarding.save_api_key(agent, API_KEY)
    with pytest.raises(UsageError) as info:
        auth_candidates(agent, profile_id=SETUP_TOKEN)
    assert SETUP_TOKEN not in str(info.value) and "looks like a secret" in str(info.value)


def test_every_error_message_is_redacted() -> None:
    error = ClawdbotError(f"the server said {API_KEY} was wrong", fix=f"try Bearer {SETUP_TOKEN}")
    assert API_KEY not in str(error) and SETUP_TOKEN not in str(error)
    assert "sk-ant-api03-…WXYZ" in str(error)


def test_reprs_of_state_objects_mask_their_secrets(agent: AgentState, isolated_home, monkeypatch) -> None:
    from clawdbot_nb.state.jsonfile import load_json_object, read_raw
    from clawdbot_nb.state.selection import auth_candidates
    from clawdbot_nb.state.status import models_status

    write_json(isolated_home / ".claude" / ".credentials.json", {"claudeAiOauth": {
        "accessToken": OAUTH_ACCESS, "refreshToken": OAUTH_REFRESH, "expiresAt": 4_000_000_000_000}})  # fmt: skip
    claude_cli.clear_read_cache()
    results = [
        onboarding.save_api_key(agent, API_KEY),
        onboarding.paste_token(agent, SETUP_TOKEN),
        onboarding.import_claude_cli(agent),
    ]
    monkeypatch.setenv("ANTHROPIC_API_KEY", API_KEY)
    store_path = agent.agent_dir / "auth-profiles.json"
    objects = [
        *results,
        agent.store_file.load(),
        *agent.store_file.load().profiles.values(),
        *agent.store_file.load().parsed_profiles().values(),
        claude_cli.read_claude_cli_login(max_age_s=0),
        agent.env_credential("anthropic"),
        *auth_candidates(agent),
        models_status(agent),
        read_raw(store_path, what="store"),
        load_json_object(store_path, what="store"),
    ]
    for thing in objects:
        text = repr(thing) + str(thing)
        for secret in (API_KEY, SETUP_TOKEN, OAUTH_ACCESS, OAUTH_REFRESH):
            assert secret not in text and secret[13:-4] not in text, type(thing).__name__


def test_config_backups_hold_no_secret_and_are_0600(agent: AgentState) -> None:
    for n in range(3):
        onboarding.save_setup_token(agent, SETUP_TOKEN, profile_id=f"anthropic:t{n}")
    backups = sorted(agent.config_path.parent.glob("clawdbot.json.bak*"))
    assert backups and all(oct(b.stat().st_mode & 0o777) == "0o600" for b in backups)
    assert all(full_secrets(b.read_text()) == [] for b in [*backups, agent.config_path])


# -- onboarding checks ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "bad", ["hello", "sk-ant-api03-short", "sk-proj-" + "x" * 60, "sk-ant-api03-" + "x" * 40 + " !"]
)
def test_an_api_key_must_look_like_one(capsys, agent: AgentState, bad: str) -> None:
    onboarding.save_api_key(agent, API_KEY)
    before = files_under(agent.state_dir)
    code, _, err = run(
        capsys, "onboard", "--non-interactive", "--auth-choice", "apiKey", "--anthropic-api-key", bad
    )
    assert code == 1 and "That is not an Anthropic API key: one starts with sk-ant-api03-" in err
    assert bad not in err
    assert files_under(agent.state_dir) == before  # the working key is still there


def test_the_simulators_demo_key_is_a_valid_key(agent: AgentState) -> None:
    from clawdbot_nb import sim

    assert onboarding.save_api_key(agent, sim.DEMO_API_KEY).credential_type == "api_key"
    assert onboarding.paste_token(agent, sim.DEMO_SETUP_TOKEN).credential_type == "token"


def test_replacing_a_profile_says_what_it_replaced(capsys, agent: AgentState) -> None:
    first = onboarding.save_api_key(agent, API_KEY)
    assert first.replaced is None and "replaced" not in str(first)
    second = onboarding.save_setup_token(agent, SETUP_TOKEN, profile_id="anthropic:default")
    assert second.replaced == "api_key sk-ant-api03-…WXYZ"
    assert "it replaced api_key sk-ant-api03-…WXYZ" in str(second) and API_KEY not in str(second)
    code, out, _ = run(
        capsys, "onboard", "--non-interactive", "--auth-choice", "apiKey", "--anthropic-api-key", API_KEY
    )
    assert code == 0 and "it replaced token sk-ant-oat01-…ABCD" in out


def test_profile_ids_are_normalised_on_write_and_read_and_bounded(agent: AgentState) -> None:
    result = onboarding.paste_token(agent, SETUP_TOKEN, profile_id="  Anthropic:Work ")
    assert result.profile_id == "anthropic:Work"
    assert onboarding.set_order(agent, "ANTHROPIC", ["Anthropic:Work"]) == ["anthropic:Work"]
    onboarding.clear_profile_cooldown(agent, " anthropic:Work")
    with pytest.raises(UsageError, match="longer than 128"):
        onboarding.paste_token(agent, SETUP_TOKEN, profile_id="anthropic:" + "w" * 200)
    with pytest.raises(UsageError, match="Invalid profile id"):
        onboarding.paste_token(agent, SETUP_TOKEN, profile_id="anthropic:two words")
    # An id written by another program with another spelling is still found.
    store = read_json(agent.agent_dir / "auth-profiles.json")
    store["profiles"]["Anthropic:Gateway"] = store["profiles"]["anthropic:Work"]
    write_json(agent.agent_dir / "auth-profiles.json", store)
    assert onboarding.remove_profile(agent, "anthropic:Gateway")
    assert "Anthropic:Gateway" not in read_json(agent.agent_dir / "auth-profiles.json")["profiles"]


def test_durations_are_bounded(agent: AgentState) -> None:
    with pytest.raises(UsageError, match="longer than 100 years"):
        onboarding.paste_token(agent, SETUP_TOKEN, expires_in="99999999999d")
    assert not (agent.agent_dir / "auth-profiles.json").exists()


def test_stdin_is_read_bounded(capsys, agent: AgentState, monkeypatch) -> None:
    import io

    class Endless(io.StringIO):
        def isatty(self) -> bool:
            return False

    monkeypatch.setattr(sys, "stdin", Endless("x" * 100_000))
    code, _, err = run(capsys, "models", "auth", "paste-token", "--provider", "anthropic")
    assert code == 1 and "more than 16,384 characters" in err
    assert json.dumps(read_json(agent.config_path) if agent.config_path.exists() else {}) == "{}"


@pytest.mark.parametrize("which", ["store", "config"])
def test_a_lone_surrogate_escape_is_one_clear_line(capsys, agent: AgentState, which: str) -> None:
    """JSON's `\\ud800` is no character: it could be neither shown nor written back as UTF-8."""
    path = agent.agent_dir / "auth-profiles.json" if which == "store" else agent.config_path
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(
        '{"version": 1, "profiles": {"\\ud800": {"type": "api_key", "provider": "anthropic", "key": "k"}}}'
    )
    at_rest(path)
    before = path.read_bytes()
    code, _, err = run(
        capsys, "onboard", "--non-interactive", "--auth-choice", "apiKey", "--anthropic-api-key", API_KEY
    )
    assert code == 1 and str(path) in err and "holds a broken character" in err and err.count("\n") == 1
    assert path.read_bytes() == before

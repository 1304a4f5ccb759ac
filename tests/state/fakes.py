"""Realistic-looking fake secrets and small file helpers for the state tests."""

from __future__ import annotations

import json
from pathlib import Path

# Realistic shapes; every one ends in a distinct 4-character tail so masks can be asserted.
API_KEY = "sk-ant-api03-" + "Qm9vbGVhbkFQSWtleQ" * 5 + "-WXYZ"
SETUP_TOKEN = "sk-ant-oat01-" + "c2V0dXB0b2tlbnNlY3JldA" * 4 + "-ABCD"
OAUTH_ACCESS = "sk-ant-oat01-" + "YWNjZXNzdG9rZW4xMjM0" * 4 + "-ACC1"
OAUTH_REFRESH = "sk-ant-ort01-" + "cmVmcmVzaHRva2VuOTg3" * 4 + "-REF1"


def write_json(path: Path, data: object) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(data, indent=2) + "\n")
    return path


def read_json(path: Path) -> dict:
    return json.loads(path.read_text())


class ScriptedPrompter:
    """A `state.wizard.Prompter` that answers from a script and records what was shown and
    which prompts were hidden (secret)."""

    def __init__(self, *answers: str) -> None:
        self.answers = list(answers)
        self.shown: list[str] = []
        self.secret_prompts: list[str] = []

    def say(self, text: str) -> None:
        self.shown.append(text)

    def ask(self, prompt: str) -> str:
        self.shown.append(prompt)
        return self.answers.pop(0)

    def ask_secret(self, prompt: str) -> str:
        self.secret_prompts.append(prompt)
        return self.answers.pop(0)

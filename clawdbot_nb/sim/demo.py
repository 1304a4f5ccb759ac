"""The demo credentials every default simulator accepts.

They have the real shapes (prefix, 108 characters, trailing `AA`) so format checks pass, but
carry `simDEMO` so nobody mistakes them for real secrets. Never send them to the real API.
"""

from __future__ import annotations

import uuid

__all__ = [
    "CLAUDE_CODE_CLIENT_ID",
    "DEMO_API_KEY",
    "DEMO_OAUTH_ACCESS_TOKEN",
    "DEMO_OAUTH_EXPIRES_IN",
    "DEMO_OAUTH_REFRESH_TOKEN",
    "DEMO_ORGANIZATION_ID",
    "DEMO_SETUP_TOKEN",
    "DEMO_WORKSPACE_ID",
]

DEMO_API_KEY = (
    "sk-ant-api03-simDEMO-zokqkEhPdelR9nCR9d5vNlbQIHeXUOc6g"
    "wldAmOSrsNd2AiSlDZT2zpbuZDjNlrJS-qElMLyR90Rz8L3YsJorAA"
)
DEMO_SETUP_TOKEN = (
    "sk-ant-oat01-simDEMO-setup-BiR14gZnrL6D4RmORJb6HVwNGI-"
    "0cxvxKpWj8dtZ8ybzMhbMil_ri8kjSv8LoQ8spKWUBxjPa67pRGuAA"
)
DEMO_OAUTH_ACCESS_TOKEN = (
    "sk-ant-oat01-simDEMO-access-dVAf6dLUfpyauNrX5sWzogT-bM"
    "oOhZYodR69ENgPZUiMswGMQ7okGZqR6jgwaIeO_7zsQX6fj-njGjAA"
)
DEMO_OAUTH_REFRESH_TOKEN = (
    "sk-ant-ort01-simDEMO-refresh-lR6_Km1uyu1eD1vssG0QKMxOT"
    "USAzE444aEwxguA44kW0WqxqyW13JEYnTKLENhspBg67SVKFi3NXAA"
)
#: The demo OAuth access token lives 8 hours of virtual time, like a Claude Code login.
DEMO_OAUTH_EXPIRES_IN = 8 * 3600

DEMO_ORGANIZATION_ID = str(uuid.uuid5(uuid.NAMESPACE_DNS, "demo.sim.clawdbot-nb"))
DEMO_WORKSPACE_ID = "wrk_default"

#: The OAuth client id of Claude Code, the one the token endpoint accepts by default.
CLAUDE_CODE_CLIENT_ID = "9d1c250a-e61b-44d9-88ed-5944d1962f5e"

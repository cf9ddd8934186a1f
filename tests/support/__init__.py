"""What the tests share, each helper in one place.

- `console`: a console's settings in a temp folder (demo or live) and its database, closed after use
- `mocked_hub`: the Partner API base URL that unit tests mock with `responses`, and a client of it
- `pages`: the whole console or one page in Streamlit's AppTest
- `receiver`: the webhook receiver in this process (uvicorn in a thread) or as a process of its own
- `writer`: the receiver's writer on its own: events, deliveries, a traced opener, what got listed
- `sandbox_hub`: the sandbox hub on real HTTP with a recording receiver
- `stack`: the real three-process stack, as the README's run command starts it
- `servers`: free ports, waiting for a condition, serving an ASGI app with uvicorn in a thread
- `alert_sinks`: where alerts land: an HTTP sink for apprise's JSON target and a local SMTP server
- `alert_conditions`: each alert rule's condition made and cleared, a clock moved by hand, alert settings
- `connect`: the Connect page in a real browser, handing out a link
- `navigation`: the console's sidebar in a real browser, which starts collapsed
"""

from __future__ import annotations

from pathlib import Path

# The project's root folder, where `services/`, `dashboard/` and `pages/` are.
ROOT = Path(__file__).resolve().parents[2]

FIXTURES = ROOT / "tests" / "fixtures"

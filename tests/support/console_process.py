"""The console's web process on its own (`python -m dashboard.server`, as the stack starts it), and a bare
websocket session against it: what an attacker's script sees, without a browser."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import requests
from streamlit.proto.BackMsg_pb2 import BackMsg
from streamlit.proto.ForwardMsg_pb2 import ForwardMsg
from websockets.sync.client import connect

from services.stack.supervisor import stop_process
from tests.support import ROOT
from tests.support.console import LIVE_ENV_KEYS
from tests.support.servers import free_port, wait_for

# How the stack starts the console's web process.
CONSOLE_COMMAND = ("-m", "dashboard.server")


@contextmanager
def console_process(
    data_dir: Path, settings: dict[str, str], command: tuple[str, ...] = CONSOLE_COMMAND, port: int | None = None
) -> Iterator[str]:
    """The console listening on `port` (a free loopback one by default) with `settings` alone; yields its base
    URL. A port known in advance lets single sign-on's redirect_uri name it."""
    port = port or free_port()
    inherited = {key: value for key, value in os.environ.items() if key not in LIVE_ENV_KEYS}
    env = {**inherited, **settings}
    log_path = data_dir / "console.log"
    with log_path.open("w") as log:
        process = subprocess.Popen(
            [sys.executable, *command, "--server.port", str(port), "--server.address", "127.0.0.1"],
            cwd=ROOT,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
    url = f"http://127.0.0.1:{port}"

    def healthy() -> bool:
        if process.poll() is not None:
            raise RuntimeError("the console stopped at start:\n" + log_path.read_text())
        try:
            return requests.get(f"{url}/_stcore/health", timeout=1).status_code == 200
        except requests.RequestException:
            return False

    try:
        wait_for(healthy, timeout=60)
        yield url
    finally:
        stop_process(process, signal.SIGTERM, grace=10)


def session_messages(url: str, path: str = "", query: str = "", headers: dict[str, str] | None = None) -> list:
    """Every ForwardMsg one fresh websocket session receives while the page at `path` runs once."""
    rerun = BackMsg()
    rerun.rerun_script.query_string = query
    rerun.rerun_script.page_name = path
    rerun.rerun_script.context_info.url = f"{url}/{path}" + (f"?{query}" if query else "")
    with connect(
        url.replace("http://", "ws://") + "/_stcore/stream", additional_headers=headers or {}, open_timeout=20
    ) as socket:
        return _run(socket, rerun)


def _elements(messages: list) -> list:
    return [
        m.delta.new_element for m in messages if m.WhichOneof("type") == "delta" and m.delta.HasField("new_element")
    ]


def sign_in_over_websocket(url: str, name: str, password: str, headers: dict[str, str] | None = None) -> list:
    """One password sign-in as a script would send it, no browser: open the sign-in, fill the form, submit it.
    Returns the messages that answered the submission."""
    socket_url = url.replace("http://", "ws://") + "/_stcore/stream"
    with connect(socket_url, additional_headers=headers or {}, open_timeout=20) as socket:
        first = BackMsg()
        first.rerun_script.context_info.url = url + "/"
        shown = _run(socket, first)
        elements = _elements(shown)
        fields = [element.text_input.id for element in elements if element.WhichOneof("type") == "text_input"]
        button = next(element.button.id for element in elements if element.WhichOneof("type") == "button")
        page_hash = next(m.navigation.page_script_hash for m in shown if m.WhichOneof("type") == "navigation")
        submit = BackMsg()
        submit.rerun_script.context_info.url = url + "/"
        submit.rerun_script.page_script_hash = page_hash
        for widget_id, value in zip(fields, (name, password), strict=True):
            state = submit.rerun_script.widget_states.widgets.add()
            state.id = widget_id
            state.string_value = value
        trigger = submit.rerun_script.widget_states.widgets.add()
        trigger.id = button
        trigger.trigger_value = True
        return _run(socket, submit)


def _run(socket, back_message: BackMsg) -> list:
    socket.send(back_message.SerializeToString())
    messages: list[ForwardMsg] = []
    while True:
        message = ForwardMsg()
        message.ParseFromString(socket.recv(timeout=30))
        messages.append(message)
        if message.WhichOneof("type") == "script_finished":
            return messages

"""`demo --ui`: the Dagster UI on the demo's folder, with the demo's sandbox store serving at
the address its warehouse records and the project's variables pointing at both, so Materialize,
the schedules and the export sensor work from the UI at once. Ctrl-C stops both."""

import contextlib
import os
import signal
import subprocess
from datetime import UTC, date, datetime

import psutil

from bigcommerce_sandbox.commands import ui_command
from bigcommerce_sandbox.demo_folder import (
    PROJECT_DIR,
    DemoFolder,
    demo_store,
    first_day,
    serve,
    store_state,
)

SHUTDOWN_SECONDS = 30


def open_ui(folder: DemoFolder, port: int) -> int:
    """Serve the store the demo left and run `dagster dev` until Ctrl-C; then keep what the
    UI's exports wrote to the store for the demo's next run."""
    state = folder.read_state()
    store = demo_store(state, datetime.now(UTC))
    server = serve(store, state["api_port"])
    if server is None:
        return 1
    with server:
        command = ui_command(port)
        print(
            f"Sandbox store {store.store_hash} serving at {server.url}.\n"
            f"Dagster UI on {folder.path}: http://127.0.0.1:{port} (Ctrl-C stops both)",
            flush=True,
        )
        try:
            code = _run_until_interrupted(command, folder.env(store, server.url, first_day(store)))
        finally:
            last_day = date.fromisoformat(state["last_day"])
            folder.write_state(
                store_state(
                    store, server.url, last_day, state["added_orders"], folder.warehouse_label()
                )
            )
    print("Stopped the UI and the sandbox store.")
    return code


def _run_until_interrupted(command: list[str], env: dict[str, str]) -> int:
    """Run `dagster dev` in a session of its own, so that one Ctrl-C, passed on from here,
    stops it (a second one would cut its shutdown short); 0 when it was interrupted and
    stopped in time, 1 when it had to be killed."""
    # SIGINT too: a shell that starts us in the background hands it down ignored, and Python
    # then leaves it so, which would make Ctrl-C (or a test's SIGINT) do nothing. Handled before
    # dagster dev starts, so that it starts with both at their defaults, not ignored.
    previous = {sig: signal.signal(sig, _interrupt) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        process = subprocess.Popen(command, cwd=PROJECT_DIR, env=env, start_new_session=True)
        try:
            return process.wait()
        except KeyboardInterrupt:
            return 0 if _stop(process) else 1
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)


def _interrupt(signum: int, frame: object) -> None:
    raise KeyboardInterrupt


def _stop(process: subprocess.Popen) -> bool:
    """Ctrl-C to `dagster dev`, which stops its webserver, daemon and code server; then SIGTERM
    to what is left of its session (a run it launched), and SIGKILL to what hangs. Whether
    dagster dev stopped by itself within SHUTDOWN_SECONDS."""
    process.send_signal(signal.SIGINT)
    try:
        process.wait(timeout=SHUTDOWN_SECONDS)
        stopped = True
    except subprocess.TimeoutExpired:
        print(f"dagster dev did not stop within {SHUTDOWN_SECONDS} s: killed.", flush=True)
        os.killpg(process.pid, signal.SIGKILL)
        process.wait()
        stopped = False
    left = _session(process.pid)
    for member in left:
        with contextlib.suppress(psutil.NoSuchProcess):
            member.terminate()
    _, hanging = psutil.wait_procs(left, timeout=SHUTDOWN_SECONDS / 3)
    for member in hanging:
        with contextlib.suppress(psutil.NoSuchProcess):
            member.kill()
    psutil.wait_procs(hanging, timeout=SHUTDOWN_SECONDS / 3)
    return stopped


def _session(group: int) -> list[psutil.Process]:
    """The live processes of a process group."""
    members = []
    for candidate in psutil.process_iter():
        with contextlib.suppress(psutil.NoSuchProcess, ProcessLookupError):
            if os.getpgid(candidate.pid) == group and candidate.status() != psutil.STATUS_ZOMBIE:
                members.append(candidate)
    return members

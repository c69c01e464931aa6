"""Helpers shared by the live-pipeline tests: skipping, bounded subprocesses, free ports."""

import ctypes
import os
import signal
import socket
import subprocess
import sys
import time

SKIP = 77  # meson's "skipped" exit status
# How much slower than a plain build this one runs (the sanitizer test setup sets 4): waits and
# timing allowances are multiplied by it.
TIME_SCALE = max(1.0, float(os.environ.get("DFD_TEST_TIME_SCALE", "1")))

SOURCE_ROOT = os.environ.get(
    "DFD_SOURCE_ROOT", os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))))
PIPELINES = os.path.join(SOURCE_ROOT, "pipelines")
CLIP = os.path.join(os.environ.get("DFD_TEST_DATA", os.path.join(SOURCE_ROOT, "tests", "data")),
                    "videos", "liveportrait-d18.mp4")


def log(text):
    print(text, flush=True)


def skip(reason):
    log(f"SKIP: {reason}")
    sys.exit(SKIP)


def fail(reason):
    log(f"FAIL: {reason}")
    sys.exit(1)


def check(condition, what):
    """Prints the assertion and its outcome; exits with a failure when it does not hold."""
    log(f"{'ok  ' if condition else 'FAIL'} {what}")
    if not condition:
        sys.exit(1)


def require_elements(Gst, names, package_hint):
    missing = [n for n in names if Gst.ElementFactory.find(n) is None]
    if missing:
        skip(f"GStreamer elements missing: {', '.join(missing)} ({package_hint})")


def require_plugin(Gst):
    # The project's own plugin is not an optional system component: its absence is a failure.
    if Gst.ElementFactory.find("deepfakedetect") is None:
        fail("deepfakedetect not found (GST_PLUGIN_PATH=" + os.environ.get("GST_PLUGIN_PATH", "")
             + ")")


def free_port(kind=socket.SOCK_STREAM):
    """A port that was free on loopback a moment ago (the caller binds it right away)."""
    with socket.socket(socket.AF_INET, kind) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _die_with_test():
    # A test that dies without its cleanup (a crash, a sanitizer abort) must not leave a server
    # behind: it would hold the test's output pipe open, and meson would wait for it until the
    # timeout. PR_SET_PDEATHSIG = 1.
    ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGTERM)


def start(args, **kwargs):
    """Starts a process in its own process group, so that it and its children can be stopped,
    and that is signalled if the test process dies first."""
    return subprocess.Popen(args, start_new_session=True, preexec_fn=_die_with_test, **kwargs)


def stop(proc, sig=signal.SIGTERM, grace=15):
    """Signals a process started with start(), waits, and kills its group if it hangs."""
    if proc.poll() is None:
        try:
            os.killpg(proc.pid, sig)
        except ProcessLookupError:
            pass
        try:
            proc.wait(grace)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
    return proc.returncode


def read_line(proc, timeout):
    """The first line of a process's stdout, or None when it exits or takes too long."""
    deadline = time.monotonic() + timeout
    os.set_blocking(proc.stdout.fileno(), False)
    data = b""
    while time.monotonic() < deadline:
        chunk = proc.stdout.read()
        if chunk:
            data += chunk
            if b"\n" in data:
                return data.split(b"\n", 1)[0].decode()
        elif proc.poll() is not None:
            return None
        time.sleep(0.1)
    return None

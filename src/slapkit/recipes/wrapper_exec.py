"""The small program a wrapper execs when ``sh`` alone cannot do the job:
private tmpfs mounts (a user and mount namespace, then ``mount``) and
output redirected to files that a signal reopens (log rotation).

It is run as ``PYTHON -I -c HELPER SPEC COMMAND ARG...``: ``SPEC`` is a JSON
object (``tmpfs``: ``[[size, path]...]``; ``stdout``, ``stderr``: paths or
null; ``signal``: the signal passed on to the command on rotation, or
null; ``ignored``: the signal that asks for rotation, ignored until the
command's own handler is set). Every value is data in ``argv``; the code is
this module's, written into the wrapper as one single-quoted shell word.
"""

from __future__ import annotations

import signal

HELPER = r"""
import ctypes, ctypes.util, json, os, select, signal, subprocess, sys

spec = json.loads(sys.argv[1])
args = sys.argv[2:]


def fail(message):
    sys.stderr.write(os.path.basename(args[0]) + ": " + message + "\n")
    sys.exit(1)


def errno_text():
    return os.strerror(ctypes.get_errno())


def private_tmpfs():
    libc = ctypes.CDLL(ctypes.util.find_library("c"), use_errno=True)
    libc.mount.argtypes = (ctypes.c_char_p,) * 3 + (ctypes.c_ulong, ctypes.c_char_p)
    uid, gid = os.getuid(), os.getgid()
    if libc.unshare(0x10000000 | 0x00020000):  # CLONE_NEWUSER | CLONE_NEWNS
        fail("private-tmpfs needs a user namespace, which this kernel refuses: " + errno_text())
    for name, text in (("setgroups", "deny"), ("uid_map", "%d %d 1" % (uid, uid)),
                       ("gid_map", "%d %d 1" % (gid, gid))):
        with open("/proc/self/" + name, "w") as stream:
            stream.write(text)
    for size, path in spec["tmpfs"]:
        os.makedirs(path, exist_ok=True)
        if libc.mount(b"tmpfs", path.encode(), b"tmpfs", 0, ("size=" + size).encode()):
            fail("cannot mount a private tmpfs on " + path + ": " + errno_text())


ignored, passed_on = spec["ignored"], spec["signal"]
if not (spec["stdout"] or spec["stderr"]):
    if spec["tmpfs"]:
        private_tmpfs()
    try:
        os.execvp(args[0], args)
    except OSError as exc:
        fail("cannot run: " + exc.strerror)

logs = []  # [path, descriptor]: the write end of a pipe until opened as the file
readers = []
moves = []  # (from, to) descriptors, in the command


def redirect(descriptor, path):
    read_end, write_end = os.pipe()
    moves.append((write_end, descriptor))
    logs.append([path, write_end])
    readers.append(read_end)


if spec["stdout"]:
    redirect(1, spec["stdout"])
if spec["stderr"]:
    if spec["stderr"] == spec["stdout"]:
        moves.append((1, 2))
    else:
        redirect(2, spec["stderr"])


def in_command():
    if passed_on != ignored:
        signal.signal(ignored, signal.SIG_DFL)
        if passed_on:
            signal.signal(passed_on, signal.SIG_IGN)
    if spec["tmpfs"]:
        private_tmpfs()
    for source, target in moves:
        os.dup2(source, target)


def reopen():
    for log in logs:
        os.close(log[1])
        log[1] = os.open(log[0], os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o666)


try:
    command = subprocess.Popen(args, preexec_fn=in_command, close_fds=True)
except OSError as exc:
    fail("cannot run: " + (exc.strerror or str(exc)))
except subprocess.SubprocessError as exc:
    fail(str(exc))
wake_read, wake_write = os.pipe()


def rotate(*_):
    if passed_on:
        command.send_signal(passed_on)
    os.write(wake_write, b"\0")


signal.signal(ignored, rotate)
try:
    reopen()
except OSError as exc:
    command.kill()
    fail("cannot open " + str(exc.filename) + ": " + exc.strerror)
while logs:
    for ready in select.select([wake_read] + readers, [], [])[0]:
        data = os.read(ready, 65536)
        if ready == wake_read:
            reopen()
            continue
        index = readers.index(ready)
        if data:
            os.write(logs[index][1], data)
        else:
            os.close(logs.pop(index)[1])
            os.close(readers.pop(index))
signal.signal(ignored, signal.SIG_IGN)
status = command.wait()
sys.exit(status if status >= 0 else 128 - status)
"""

if "'" in HELPER:  # pragma: no cover - it is written as one single-quoted shell word
    raise ImportError("the wrapper helper holds a single quote")


# Signals a command cannot start with ignored. SIGKILL and SIGSTOP can be
# neither ignored nor caught (the helper fails setting them, so the command
# never runs); a command started with SIGCHLD ignored has its children
# reaped by the kernel: its wait() fails, their exit status is lost.
NEVER_IGNORED = frozenset({int(signal.SIGKILL), int(signal.SIGSTOP), int(signal.SIGCHLD)})
_NOT_A_SIGNAL = "is not a signal (a name such as USR1, HUP or RTMIN+1)"


def signal_number(text: str) -> int:
    """``USR1``, ``HUP``, ``RTMIN+1``…: slapos.cookbook's signal syntax, for a
    signal the command starts with ignored (``sig-ign``, ``redirect-signal``).
    ValueError saying why for a name that is no signal, a number this
    system has no signal of, and what ``NEVER_IGNORED`` holds."""
    name, plus, offset = text.strip().partition("+")
    if (
        not name
        or name.startswith(("_", "SIG"))
        or not (name.isascii() and name.isalnum())
        or (plus and not (offset.isascii() and offset.isdigit() and len(offset) <= 3))
    ):
        raise ValueError(_NOT_A_SIGNAL)
    number = getattr(signal, "SIG" + name.upper(), None)
    if not isinstance(number, int):
        raise ValueError(_NOT_A_SIGNAL)
    number = int(number) + (int(offset) if plus else 0)
    named = {int(each) for each in signal.Signals}
    if number not in named and not signal.SIGRTMIN <= number <= signal.SIGRTMAX:
        raise ValueError(
            "is not a signal of this system "
            f"(real-time signals: RTMIN+0 to RTMIN+{signal.SIGRTMAX - signal.SIGRTMIN})"
        )
    if number in NEVER_IGNORED:
        raise ValueError(
            f"is {signal.Signals(number).name}, which a command cannot start with ignored"
            " (SIGKILL and SIGSTOP never are; with SIGCHLD ignored the command"
            " could not wait for its children)"
        )
    return number

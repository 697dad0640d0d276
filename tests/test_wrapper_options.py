"""slapkit:wrapper's sig-ign, redirect-*, private-tmpfs and reserve-cpu,
through real buildout and the wrappers it writes, run for real."""

import os
import signal
import subprocess
import sys
import textwrap

import pytest

from buildout_harness import wait_until
from test_wrapper import run_wrapper, wrapper_profile

PYTHON = sys.executable


def program(buildout, name, code):
    path = buildout.path(name)
    path.write_text(textwrap.dedent(code))
    return path


def wrapper(buildout, options, part="service"):
    buildout.run(wrapper_profile(buildout, options, part)).check()
    return buildout.path("etc", "service", part)


@pytest.mark.parametrize(
    "name, number",
    [
        ("USR1", signal.SIGUSR1),
        ("RTMIN+1", signal.SIGRTMIN + 1),
        (f"RTMIN+{signal.SIGRTMAX - signal.SIGRTMIN}", signal.SIGRTMAX),  # the last one
        ("RTMAX", signal.SIGRTMAX),
    ],
)
def test_sig_ign_starts_the_command_with_the_signal_ignored(buildout, name, number):
    code = program(
        buildout,
        "show.py",
        f"import signal; print(signal.getsignal({int(number)}) == signal.SIG_IGN)",
    )
    path = wrapper(buildout, f"command-line = {PYTHON} {code}\nsig-ign = {name}")
    assert run_wrapper(path).stdout == "True\n"
    # Without the option the signal is not ignored (the test can fail).
    path = wrapper(buildout, f"command-line = {PYTHON} {code}", part="plain")
    assert run_wrapper(path).stdout == "False\n"


@pytest.mark.parametrize(
    "options, expected",
    [
        ("sig-ign = NOPE", "[service] sig-ign: 'NOPE' is not a signal"),
        ("sig-ign = _X", "[service] sig-ign: '_X' is not a signal"),
        (
            "redirect-signal = HUP",
            "[service] redirect-signal: needs redirect-stdout or redirect-stderr",
        ),
        (
            "private-tmpfs = 1m,exec /tmp/x",
            "[service] private-tmpfs: '1m,exec /tmp/x' is not of the form SIZE PATH",
        ),
        ("private-tmpfs = 10m", "is not of the form SIZE PATH"),
        ("reserve-cpu = maybe", "[service] reserve-cpu:"),
    ],
)
def test_bad_values_are_errors_naming_the_option(buildout, options, expected):
    result = buildout.run(wrapper_profile(buildout, f"command-line = /bin/true\n{options}"))
    assert not result.ok
    assert expected in result.output
    assert not buildout.path("etc", "service", "service").exists()


NEVER_IGNORED = "which a command cannot start with ignored"
NO_SUCH_SIGNAL = "is not a signal of this system (real-time signals: RTMIN+0 to RTMIN+"
NOT_A_SIGNAL = "is not a signal (a name such as USR1, HUP or RTMIN+1)"


@pytest.mark.parametrize(
    "options, expected",
    [
        ("sig-ign = KILL", f"[service] sig-ign: 'KILL' is SIGKILL, {NEVER_IGNORED}"),
        ("sig-ign = kill", f"[service] sig-ign: 'kill' is SIGKILL, {NEVER_IGNORED}"),
        ("sig-ign = STOP", f"[service] sig-ign: 'STOP' is SIGSTOP, {NEVER_IGNORED}"),
        ("sig-ign = CHLD", f"[service] sig-ign: 'CHLD' is SIGCHLD, {NEVER_IGNORED}"),
        ("sig-ign = CLD", f"[service] sig-ign: 'CLD' is SIGCHLD, {NEVER_IGNORED}"),
        ("sig-ign = RTMIN+100", f"[service] sig-ign: 'RTMIN+100' {NO_SUCH_SIGNAL}"),
        ("sig-ign = RTMAX+1", f"[service] sig-ign: 'RTMAX+1' {NO_SUCH_SIGNAL}"),
        ("sig-ign = RTMIN+99999999", "[service] sig-ign: 'RTMIN+99999999' is not a signal"),
        ("sig-ign = RTMIN+\u0661", "[service] sig-ign: 'RTMIN+\u0661' is not a signal"),
        ("sig-ign = RTMIN+-1", "[service] sig-ign: 'RTMIN+-1' is not a signal"),
        ("sig-ign = RTMIN+ 1", "[service] sig-ign: 'RTMIN+ 1' is not a signal"),
        ("sig-ign = \uff35SR1", "[service] sig-ign: '\uff35SR1' is not a signal"),
        # A letter outside ASCII whose capital is ASCII: "\u0131NT".upper() == "INT".
        ("sig-ign = \u0131NT", "[service] sig-ign: '\u0131NT' is not a signal"),
        ("sig-ign = RTMIN+0001", f"[service] sig-ign: 'RTMIN+0001' {NOT_A_SIGNAL}"),
        (
            "redirect-stdout = log\nredirect-signal = KILL",
            f"[service] redirect-signal: 'KILL' is SIGKILL, {NEVER_IGNORED}",
        ),
        (
            "redirect-stdout = log\nsig-ign = STOP",
            f"[service] sig-ign: 'STOP' is SIGSTOP, {NEVER_IGNORED}",
        ),
    ],
)
def test_a_signal_that_cannot_be_ignored_is_refused_at_buildout_time(buildout, options, expected):
    result = buildout.run(wrapper_profile(buildout, f"command-line = /bin/true\n{options}"))
    assert not result.ok
    assert f"Error: {expected}" in result.output
    assert "Traceback" not in result.output
    assert not buildout.path("etc", "service").exists()


TMPFS_BOUNDS = "(SIZE: 1 to 1024g, or 1% to 100%)"
TMPFS_MORE = "is more than 1024g (1 TiB) or 100% of the memory"


@pytest.mark.parametrize(
    "size, expected",
    [
        ("0", f"a size of 0 is no limit to the kernel {TMPFS_BOUNDS}"),
        ("0m", f"a size of 0 is no limit to the kernel {TMPFS_BOUNDS}"),
        ("00k", f"a size of 0 is no limit to the kernel {TMPFS_BOUNDS}"),
        ("0%", f"a size of 0 is no limit to the kernel {TMPFS_BOUNDS}"),
        ("101%", f"'101%' {TMPFS_MORE}"),
        ("1025g", f"'1025g' {TMPFS_MORE}"),
        ("1048577m", f"'1048577m' {TMPFS_MORE}"),
        (str(2**40 + 1), f"'{2**40 + 1}' {TMPFS_MORE}"),
        ("17179869184g", f"'17179869184g' {TMPFS_MORE}"),  # 2**64 bytes: 0 to the kernel
        ("9" * 30, "is not of the form SIZE PATH"),
        ("-1m", "is not of the form SIZE PATH"),
        ("1.5g", "is not of the form SIZE PATH"),
        ("ten", "is not of the form SIZE PATH"),
        ("\u0663m", "is not of the form SIZE PATH"),
        ("1t", "is not of the form SIZE PATH"),
    ],
)
def test_a_private_tmpfs_of_no_or_an_absurd_size_is_refused(buildout, size, expected):
    line = f"{size} {buildout.path('private')}"
    result = buildout.run(
        wrapper_profile(buildout, f"command-line = /bin/true\nprivate-tmpfs = {line}")
    )
    assert not result.ok
    assert f"Error: [service] private-tmpfs: {line!r}" in result.output
    assert expected in result.output
    assert "Traceback" not in result.output
    assert not buildout.path("etc", "service").exists()


def test_private_tmpfs_sizes_at_the_bounds_are_taken(buildout):
    private = buildout.path("private")
    # 1 TiB in each unit, and 1 byte.
    sizes = ["1", str(2**40), "1073741824k", "1048576m", "1024g", "100%"]
    lines = "\n  ".join(f"{size} {private}-{n}" for n, size in enumerate(sizes))
    script = wrapper(buildout, f"command-line = /bin/true\nprivate-tmpfs =\n  {lines}").read_text()
    for n, size in enumerate(sizes):
        assert f'["{size}", "{private}-{n}"]' in script


ROTATING = """
import os, signal, sys, time
def hup(*_):
    print("after rotation", flush=True)
    open(sys.argv[1], "w").close()
signal.signal(signal.SIGHUP, hup)
print("to stdout", flush=True)
print("to stderr", file=sys.stderr, flush=True)
open(sys.argv[1] + ".ready", "w").close()
while not os.path.exists(sys.argv[1] + ".stop"):
    time.sleep(0.05)
sys.exit(3)
"""


def wait_for(path, timeout=30):
    assert wait_until(path.exists, timeout), f"{path} never appeared"


def text_of(path):
    return path.read_text() if path.exists() else ""


def test_redirected_output_is_reopened_on_rotation_and_the_signal_passed_on(buildout):
    code = program(buildout, "rotating.py", ROTATING)
    log, errors, marker = buildout.path("out.log"), buildout.path("err.log"), buildout.path("m")
    path = wrapper(
        buildout,
        f"command-line = {PYTHON} {code} {marker}\nredirect-stdout = {log}\n"
        f"redirect-stderr = {errors}\nredirect-signal = HUP",
    )
    process = subprocess.Popen([str(path)], stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        wait_for(buildout.path("m.ready"))
        # The wrapper copies the command's output to the files through pipes:
        # it gets there a little after the command wrote it.
        wait_until(lambda: (text_of(log), text_of(errors)) == ("to stdout\n", "to stderr\n"))
        assert log.read_text() == "to stdout\n"
        assert errors.read_text() == "to stderr\n"
        os.rename(log, buildout.path("out.log.1"))  # what logrotate does
        process.send_signal(signal.SIGUSR1)
        wait_for(marker)
        buildout.path("m.stop").write_text("")
        assert process.wait(10) == 3  # the command's exit status
    finally:
        # The command under the wrapper stops on this marker, also when the
        # test failed before writing it: killing the wrapper alone would leave it.
        buildout.path("m.stop").write_text("")
        process.kill()
    assert buildout.path("out.log.1").read_text() == "to stdout\n"
    assert log.read_text() == "after rotation\n"  # the new file


@pytest.mark.parametrize("stream", ["stdout", "stderr"])
def test_redirect_signal_with_one_output_redirected(buildout, stream):
    code = program(
        buildout,
        "show.py",
        f"import signal, sys; print(signal.getsignal(signal.SIGHUP) == signal.SIG_IGN,"
        f" file=sys.{stream})",
    )
    log = buildout.path(f"{stream}.log")
    path = wrapper(
        buildout,
        f"command-line = {PYTHON} {code}\nredirect-{stream} = {log}\nredirect-signal = HUP",
    )
    result = run_wrapper(path)
    assert result.returncode == 0, result.stderr
    assert log.read_text() == "True\n"  # the command starts with it ignored


def test_stdout_and_stderr_to_one_file(buildout):
    code = program(
        buildout, "both.py", "import sys; print('a', flush=True); print('b', file=sys.stderr)"
    )
    log = buildout.path("both.log")
    path = wrapper(
        buildout,
        f"command-line = {PYTHON} {code}\nredirect-stdout = {log}\nredirect-stderr = {log}",
    )
    result = run_wrapper(path)
    assert result.returncode == 0 and result.stdout == "" and result.stderr == ""
    assert sorted(log.read_text().split()) == ["a", "b"]


def test_a_log_that_cannot_be_opened_is_said(buildout):
    path = wrapper(
        buildout,
        f"command-line = /bin/sleep 5\nredirect-stdout = {buildout.path('no', 'such', 'x.log')}",
    )
    result = run_wrapper(path)
    assert result.returncode == 1
    assert "sleep: cannot open" in result.stderr and "No such file or directory" in result.stderr


def test_private_tmpfs_or_a_clear_error_when_the_kernel_refuses(buildout):
    private = buildout.path("private")
    code = program(
        buildout,
        "mounts.py",
        f"print([line.split()[2] for line in open('/proc/self/mounts') if ' {private} ' in line])",
    )
    path = wrapper(buildout, f"command-line = {PYTHON} {code}\nprivate-tmpfs = 10m {private}")
    result = run_wrapper(path)
    if result.returncode == 0:
        assert result.stdout == "['tmpfs']\n"
        # Private: nothing is mounted there outside the command.
        assert f" {private} " not in open("/proc/self/mounts").read()
    else:
        assert "private-tmpfs needs a user namespace, which this kernel refuses" in result.stderr


def test_reserve_cpu_records_the_commands_own_pid(buildout, tmp_path):
    code = program(buildout, "pid.py", "import os; print(os.getpid())")
    # Without the option, nothing is asked for.
    plain = wrapper(buildout, f"command-line = {PYTHON} {code}", part="plain")
    assert run_wrapper(plain, env=dict(os.environ, HOME=str(tmp_path))).returncode == 0
    assert not (tmp_path / ".slapos-cpu-exclusive").exists()
    path = wrapper(buildout, f"command-line = {PYTHON} {code}\nreserve-cpu = true")
    result = run_wrapper(path, env=dict(os.environ, HOME=str(tmp_path)))
    assert (tmp_path / ".slapos-cpu-exclusive").read_text() == result.stdout


def test_arguments_reach_the_command_through_the_helper(buildout):
    code = program(buildout, "argv.py", "import sys; print(sys.argv[1:])")
    log = buildout.path("argv.log")
    path = wrapper(
        buildout,
        f"command-line = {PYTHON} {code} 'a b' $HOME\nparameters-extra = true\nredirect-stdout = {log}",
    )
    assert run_wrapper(path, "c'd").returncode == 0
    assert log.read_text() == "['a b', '$HOME', \"c'd\"]\n"

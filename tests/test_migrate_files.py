"""``slapkit migrate`` and the files it is given: only regular files are
read; in place, a profile keeps its owner, group, mode, inode links and
symbolic links; ``--output`` never puts two profiles onto one file; an
error is one line and leaves every file as it was."""

from __future__ import annotations

import errno
import os
import stat
import subprocess
import sys
from pathlib import Path

import pytest

SLAPKIT = str(Path(sys.executable).with_name("slapkit"))
# The migrate command as slapkit.migration defines it: its arguments (with
# --follow-symlinks), and every profile checked before any is written.
# `slapkit migrate` runs the same once runner/cli.py hands the subcommand to
# slapkit.migration.cli (add_arguments, run).
MIGRATE = [str(Path(sys.executable).with_name("slapkit")), "migrate"]
PROFILE = "[d]\nrecipe = slapos.cookbook:mkdirectory\n"
MIGRATED = "[d]\nrecipe = slapkit:mkdirectory\n"


def slapkit(*args: object) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [SLAPKIT, "migrate", *map(str, args)],
        capture_output=True,
        text=True,
        timeout=30,  # a FIFO once made it wait forever
        check=False,
    )


def migrate(*args: object) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*MIGRATE, *map(str, args)], capture_output=True, text=True, timeout=30, check=False
    )


def profile_at(path: Path, text: str = PROFILE) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return path


def owner_and_mode(path: Path) -> tuple[int, int, int]:
    info = path.stat()
    return info.st_uid, info.st_gid, stat.S_IMODE(info.st_mode)


# --- in place ------------------------------------------------------------------------


@pytest.mark.parametrize("mode", [0o640, 0o6750])
def test_in_place_keeps_owner_group_and_mode(tmp_path, mode):
    profile = profile_at(tmp_path / "instance.cfg")
    os.chown(profile, 1234, 5678)
    profile.chmod(mode)
    result = slapkit(profile)
    assert (result.returncode, result.stderr) == (0, "")
    assert profile.read_text() == MIGRATED
    assert owner_and_mode(profile) == (1234, 5678, mode)
    assert os.listdir(tmp_path) == ["instance.cfg"]


def test_a_hard_linked_profile_changes_under_every_name(tmp_path):
    profile = profile_at(tmp_path / "instance.cfg")
    other = tmp_path / "instance-copy.cfg"
    os.link(profile, other)
    os.chown(profile, 1234, 5678)
    profile.chmod(0o640)
    inode = profile.stat().st_ino
    result = slapkit(profile)
    assert (result.returncode, result.stderr) == (0, "")
    assert profile.read_text() == other.read_text() == MIGRATED
    assert (profile.stat().st_ino, other.stat().st_ino, profile.stat().st_nlink) == (
        inode,
        inode,
        2,
    )
    assert owner_and_mode(profile) == (1234, 5678, 0o640)
    assert sorted(os.listdir(tmp_path)) == ["instance-copy.cfg", "instance.cfg"]


def test_a_symbolic_link_is_not_written_through(tmp_path):
    real = profile_at(tmp_path / "real.cfg")
    link = tmp_path / "instance.cfg"
    link.symlink_to("real.cfg")
    result = slapkit(link)
    assert (result.returncode, result.stdout, result.stderr) == (
        2,
        "",
        f"slapkit: {link}: a symbolic link (to real.cfg), not migrated in place; "
        "--follow-symlinks migrates the file it points to\n",
    )
    assert real.read_text() == PROFILE
    assert os.readlink(link) == "real.cfg"
    # Reading through it writes nothing through it.
    result = slapkit("--check", link)
    assert (result.returncode, result.stdout) == (
        1,
        f"{link}: 1 of 1 recipe lines would migrate, clean\n",
    )


def test_follow_symlinks_migrates_the_file_a_link_points_to(tmp_path):
    real = profile_at(tmp_path / "profiles" / "real.cfg")
    os.chown(real, 1234, 5678)
    real.chmod(0o640)
    (tmp_path / "middle.cfg").symlink_to("profiles/real.cfg")
    link = tmp_path / "instance.cfg"
    link.symlink_to("middle.cfg")
    result = migrate("--follow-symlinks", link)
    assert (result.returncode, result.stdout, result.stderr) == (
        0,
        f"{link}: 1 of 1 recipe lines migrated, clean\n",
        "",
    )
    assert real.read_text() == MIGRATED
    assert owner_and_mode(real) == (1234, 5678, 0o640)
    assert (os.readlink(link), os.readlink(tmp_path / "middle.cfg")) == (
        "middle.cfg",
        "profiles/real.cfg",
    )
    assert os.listdir(tmp_path / "profiles") == ["real.cfg"]


def test_output_onto_the_profile_itself_is_refused(tmp_path):
    profile = profile_at(tmp_path / "instance.cfg")
    os.chown(profile, 1234, 5678)
    result = slapkit("--output", tmp_path, profile)
    assert (result.returncode, result.stdout, result.stderr) == (
        2,
        "",
        f"slapkit: {profile}: --output {tmp_path} would write over the profile itself; "
        "migrate it in place without --output\n",
    )
    assert profile.read_text() == PROFILE
    assert owner_and_mode(profile)[:2] == (1234, 5678)


# --- only regular files ------------------------------------------------------------------


@pytest.mark.parametrize("kind", ["FIFO", "directory", "character device"])
def test_only_a_regular_file_is_read(tmp_path, kind):
    path = tmp_path / "instance.cfg"
    if kind == "FIFO":
        os.mkfifo(path)
    elif kind == "directory":
        path.mkdir()
    else:
        path = Path("/dev/null")
    out = tmp_path / "out"
    out.mkdir()
    for args in ([path], ["--check", path], ["--output", out, path]):
        result = slapkit(*args)
        assert (result.returncode, result.stdout, result.stderr) == (
            2,
            "",
            f"slapkit: {path}: not a regular file (a {kind})\n",
        )
    assert os.listdir(out) == []


def test_a_bad_profile_stops_the_run_before_anything_is_written(tmp_path):
    good = profile_at(tmp_path / "good.cfg")
    fifo = tmp_path / "pipe.cfg"
    os.mkfifo(fifo)
    result = migrate(good, fifo)
    assert (result.returncode, result.stdout, result.stderr) == (
        2,
        "",
        f"slapkit: {fifo}: not a regular file (a FIFO)\n",
    )
    assert good.read_text() == PROFILE


# --- --output ---------------------------------------------------------------------------


def test_two_profiles_of_one_name_are_refused_with_output(tmp_path):
    first = profile_at(tmp_path / "a" / "instance.cfg")
    second = profile_at(tmp_path / "b" / "instance.cfg", "[c]\nrecipe = slapos.recipe.template\n")
    out = tmp_path / "out"
    out.mkdir()
    result = migrate("--output", out, first, second)
    assert (result.returncode, result.stdout, result.stderr) == (
        2,
        "",
        f"slapkit: --output {out}: {first} and {second} would both be written to "
        f"{out / 'instance.cfg'}; nothing written\n",
    )
    assert os.listdir(out) == []
    # One profile named twice is one output.
    result = migrate("--output", out, first, first)
    assert (result.returncode, result.stderr) == (0, "")
    assert (out / "instance.cfg").read_text() == MIGRATED


# --- what the machine cannot make for real: made in this process --------------------------


def test_without_the_right_to_keep_the_owner_the_profile_is_written_through(tmp_path, monkeypatch):
    from slapkit.migration.command import migrate_file

    profile = profile_at(tmp_path / "instance.cfg")
    os.chown(profile, 1234, 5678)
    inode = profile.stat().st_ino

    def refuse(*args: object) -> None:
        raise PermissionError(errno.EPERM, "Operation not permitted")

    monkeypatch.setattr(os, "fchown", refuse)
    report = migrate_file(profile, None, False)
    assert report.rewritten == 1
    assert profile.read_text() == MIGRATED
    assert (profile.stat().st_ino, *owner_and_mode(profile)[:2]) == (inode, 1234, 5678)
    assert os.listdir(tmp_path) == ["instance.cfg"]


def test_a_failed_write_through_the_inode_is_undone(tmp_path, monkeypatch):
    from slapkit.migration.command import migrate_file

    profile = profile_at(tmp_path / "instance.cfg")
    os.link(profile, tmp_path / "other.cfg")
    truncate, calls = os.ftruncate, []

    def full_disk(fd: int, length: int) -> None:
        calls.append(length)
        if len(calls) == 1:
            raise OSError(errno.ENOSPC, "No space left on device")
        truncate(fd, length)

    monkeypatch.setattr(os, "ftruncate", full_disk)
    with pytest.raises(OSError) as caught:
        migrate_file(profile, None, False)
    assert caught.value.strerror == "not written (No space left on device); left as it was"
    assert profile.read_text() == PROFILE
    assert sorted(os.listdir(tmp_path)) == ["instance.cfg", "other.cfg"]


@pytest.mark.parametrize("links", [1, 2])
def test_a_profile_changed_while_migrating_is_not_overwritten(tmp_path, links):
    from slapkit.migration.command import prepare, write

    profile = profile_at(tmp_path / "instance.cfg")
    if links == 2:
        os.link(profile, tmp_path / "other.cfg")
    plan = prepare(profile, None, check=False)
    profile.write_text(PROFILE + "# edited meanwhile\n")
    with pytest.raises(OSError) as caught:
        write(plan)
    assert caught.value.strerror == "changed while being migrated; not written"
    assert profile.read_text() == PROFILE + "# edited meanwhile\n"
    assert len(os.listdir(tmp_path)) == links


def test_a_copy_with_output_never_keeps_setuid_setgid_or_sticky(tmp_path):
    """A setuid profile of another user's, copied with --output by root,
    became a setuid file of root's (an outside test ran it as euid 0)."""
    profile = profile_at(tmp_path / "in" / "instance.cfg")
    os.chown(profile, 1234, 5678)
    os.chmod(profile, 0o7755)
    out = tmp_path / "out"
    out.mkdir()
    result = migrate("--output", out, profile)
    assert result.returncode == 0, result.stderr
    copy = out / "instance.cfg"
    assert copy.read_text() == MIGRATED
    assert stat.S_IMODE(copy.stat().st_mode) == 0o755
    assert copy.stat().st_uid == os.getuid()

"""No output option of the CLI can replace a device, a pipe, a link or a system file (issue 24, item 1).

As root, the CLI's atomic write once renamed a temporary file over ``/dev/null``. Every target below is one this
test creates in its own folder (a character device made with mknod, a FIFO, links to a file of ours and to a
system file); nothing outside ``tmp_path`` is written, so even a regression harms no system path.
"""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest
from conftest import require

from workbench.cli.app import main
from workbench.core.errors import InputFileError
from workbench.core.files import atomic_write_bytes, check_output_dir, check_output_path, file_lock

SYSTEM_FILE = Path("/etc/hostname") if Path("/etc/hostname").is_file() else Path("/etc/passwd")


def _snapshot(p: Path) -> tuple:
    st = os.lstat(p)
    link = os.readlink(p) if stat.S_ISLNK(st.st_mode) else None
    return stat.S_IFMT(st.st_mode), st.st_rdev, st.st_ino, link


def _targets(tmp_path: Path) -> dict[str, Path]:
    d = tmp_path / "targets"
    d.mkdir()
    out = {}
    if os.geteuid() == 0:  # mknod needs root, as CI runs
        out["device"] = d / "null"
        os.mknod(out["device"], stat.S_IFCHR | 0o666, os.makedev(1, 3))
    out["fifo"] = d / "fifo"
    os.mkfifo(out["fifo"])
    own = d / "own.txt"
    own.write_text("mine\n")
    out["link-to-own-file"] = d / "link-own"
    out["link-to-own-file"].symlink_to(own)
    out["link-to-system-file"] = d / "link-system"
    out["link-to-system-file"].symlink_to(SYSTEM_FILE)
    return out


def _file_commands(tmp_path: Path, target: Path) -> list[list[str]]:
    """Every CLI option that names an output file."""
    keys = tmp_path / "keys"
    if not (keys / "w.key").exists():
        assert main(["keys", "new", "w", "--dir", str(keys)]) == 0
    return [
        ["rubric", "schema", "-o", str(target)],
        ["schema", "sheet", "-o", str(target)],
        ["sign", str(tmp_path / "sheet.json"), "--key", str(keys / "w.key"), "-o", str(target)],
        ["fingerprint", str(tmp_path / "model"), "-o", str(target)],
        ["provenance", str(tmp_path / "model"), "--ref", str(tmp_path / "ref"), "--json", str(target)],
        ["provenance", str(tmp_path / "model"), "--ref", str(tmp_path / "ref"), "--html", str(target)],
        ["cosign", str(tmp_path / "cp.txt"), "--key", str(keys / "w.key"), "--name", "w", "-o", str(target)],
        ["checkpoint", str(tmp_path / "round"), "--key", str(keys / "w.key"), "--witness-request", str(target)],
        ["hub", "accounts", str(tmp_path / "round"), "--passwords", str(target)],
        ["tlog", "prove-inclusion", str(tmp_path / "ledger.jsonl"), "--entry", "1", "-o", str(target)],
        ["tlog", "prove-consistency", str(tmp_path / "ledger.jsonl"), "--old-size", "0", "-o", str(target)],
    ]


def _dir_commands(tmp_path: Path, target: Path) -> list[list[str]]:
    """Every CLI option that names an output folder."""
    return [
        ["keys", "new", "x", "--dir", str(target)],
        ["demo", "--out", str(target)],
        ["audit", str(tmp_path / "round"), "--out", str(target)],
        ["hub", "serve", str(tmp_path / "round"), "--state", str(target)],
        ["hub", "accounts", str(tmp_path / "round"), "--passwords", str(tmp_path / "pw.txt"), "--state", str(target)],
    ]


@pytest.mark.parametrize("kind", ["device", "fifo", "link-to-own-file", "link-to-system-file"])
def test_every_output_option_refuses_what_it_must_not_replace(tmp_path, capsys, kind):
    targets = _targets(tmp_path)
    if kind not in targets:
        require(False, "mknod needs root")
    target = targets[kind]
    before = _snapshot(target)
    system_before = SYSTEM_FILE.read_bytes()
    for argv in _file_commands(tmp_path, target) + _dir_commands(tmp_path, target):
        capsys.readouterr()
        assert main(argv) == 1, argv
        err = capsys.readouterr().err
        assert str(target) in err and ("never" in err or "not a folder" in err), (argv, err)
        assert "Traceback" not in err
        assert _snapshot(target) == before, argv
    assert SYSTEM_FILE.read_bytes() == system_before
    if kind == "link-to-own-file":
        assert (tmp_path / "targets" / "own.txt").read_text() == "mine\n"
    assert not [p for p in (tmp_path / "targets").iterdir() if p.name.startswith(".")], "a temporary file was left"


def test_a_link_to_a_folder_is_refused_as_an_output_folder(tmp_path, capsys):
    real = tmp_path / "real"
    real.mkdir()
    link = tmp_path / "link"
    link.symlink_to(real)
    for argv in _dir_commands(tmp_path, link):
        assert main(argv) == 1, argv
        assert "symbolic link" in capsys.readouterr().err
    assert list(real.iterdir()) == []


@pytest.mark.parametrize("path", ["/dev/null", "/etc/workbench-never-written", "/usr/share/x/y.json",
                                  "/proc/self/environ", "/sys/kernel/x"])
def test_system_folders_are_refused_before_anything_is_written(path):
    # the check only looks (lstat, realpath): nothing is created or opened for writing
    with pytest.raises(InputFileError, match="never"):
        check_output_path(path)
    with pytest.raises(InputFileError, match="system folder"):
        check_output_dir(Path(path).parent / "out")


def test_a_link_whose_parent_resolves_into_a_system_folder_is_refused(tmp_path):
    (tmp_path / "etc").symlink_to("/etc")
    with pytest.raises(InputFileError, match="system folder /etc"):
        atomic_write_bytes(tmp_path / "etc" / "workbench-never-written", b"x")


def test_a_regular_file_of_ours_is_still_replaced_atomically(tmp_path):
    p = tmp_path / "out.json"
    p.write_text("old")
    atomic_write_bytes(p, b"new")
    assert p.read_bytes() == b"new" and stat.S_ISREG(os.lstat(p).st_mode)


def test_a_planted_lock_link_is_not_followed(tmp_path):
    victim = tmp_path / "victim"
    victim.write_text("keep")
    lock = tmp_path / "ledger.jsonl.lock"
    lock.symlink_to(victim)
    with pytest.raises(OSError), file_lock(lock):
        pass
    assert victim.read_text() == "keep"


def test_dash_writes_to_standard_output(tmp_path, capsys):
    assert main(["rubric", "schema", "-o", "-"]) == 0
    out = capsys.readouterr()
    assert out.out.lstrip().startswith("{") and '"$schema"' in out.out
    assert not (Path.cwd() / "-").exists()

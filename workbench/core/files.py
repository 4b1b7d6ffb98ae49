"""Reading untrusted structured files safely and writing files atomically.

Every loader bounds the size and nesting depth of what it reads, refuses duplicate keys (YAML and JSON
parsers silently keep the last one, which hides edits), refuses YAML aliases (they allow exponential
expansion) and NaN/Infinity in JSON, and reports problems as :class:`InputFileError` naming file and line.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import json
import os
import stat
import tempfile
from collections.abc import Iterator
from pathlib import Path, PurePosixPath
from typing import Any, BinaryIO

import rfc8785
import yaml

from .errors import InputFileError

MAX_DOC_BYTES = 16 * 1024 * 1024
MAX_HASH_BYTES = 1 << 40  # 1 TiB: the largest file hashed unless a caller sets a tighter bound for its kind
SPARSE_MIN_BYTES = 64 << 20
MAX_DEPTH = 64

Loc = tuple[str | int, ...]


def is_contained_relpath(text: str) -> bool:
    """Whether ``text`` is a non-empty relative path with '/' separators that cannot climb out of its folder
    (no leading '/', no '..' part, no '\\'). Symlinks are the caller's to resolve."""
    p = PurePosixPath(text)
    return bool(text) and not p.is_absolute() and ".." not in p.parts and "\\" not in text


def open_regular(path: str | Path, max_bytes: int) -> BinaryIO:
    """Open a regular file for reading after checking its size, never blocking.

    A FIFO, device or socket put where a file is expected is refused (opening is non-blocking, so a named
    pipe with no writer cannot hang the caller), and so is a file larger than ``max_bytes``: the bound is
    checked on the open file, before anything is read.
    """
    p = Path(path)
    try:
        fd = os.open(p, os.O_RDONLY | os.O_NONBLOCK | getattr(os, "O_CLOEXEC", 0))
    except FileNotFoundError:
        raise InputFileError("file not found", file=p) from None
    except IsADirectoryError:
        raise InputFileError("is a directory", file=p, expected="a file") from None
    except PermissionError:
        raise InputFileError("permission denied", file=p) from None
    except OSError as e:
        raise InputFileError(f"cannot open ({e.strerror})", file=p, expected="a regular file") from None
    st = os.fstat(fd)
    problem = None
    if stat.S_ISDIR(st.st_mode):
        problem = InputFileError("is a directory", file=p, expected="a file")
    elif not stat.S_ISREG(st.st_mode):
        problem = InputFileError("not a regular file (a pipe, device or socket)", file=p, expected="a regular file")
    elif st.st_size > max_bytes:
        problem = InputFileError(f"file is {st.st_size} bytes", file=p, expected=f"at most {max_bytes} bytes")
    if problem is not None:
        os.close(fd)
        raise problem
    return os.fdopen(fd, "rb")


def read_bounded(path: str | Path, max_bytes: int = MAX_DOC_BYTES) -> bytes:
    """Read a whole regular file, refusing it when larger than ``max_bytes`` (see :func:`open_regular`)."""
    with open_regular(path, max_bytes) as fh:
        data = fh.read(max_bytes + 1)
    if len(data) > max_bytes:
        raise InputFileError("file grew while reading", file=path, expected=f"at most {max_bytes} bytes")
    return data


def decode_text(data: bytes, path: str | Path) -> str:
    """Decode UTF-8 (a BOM is allowed); an invalid byte is an error naming its line."""
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as e:
        line = data[: e.start].count(b"\n") + 1
        raise InputFileError("not valid UTF-8 text", file=path, line=line, expected="UTF-8") from None


# ---------------------------------------------------------------- YAML

class _BoundedLoader(yaml.SafeLoader):
    """SafeLoader that refuses aliases and deep nesting and records a line for every path."""

    def __init__(self, stream: str, name: str) -> None:
        super().__init__(stream)
        self.name = name
        self._depth = 0

    def compose_node(self, parent, index):  # type: ignore[override]
        if self.check_event(yaml.AliasEvent):
            event = self.peek_event()
            raise InputFileError(
                "YAML aliases are not accepted", file=self.name, line=event.start_mark.line + 1,
                expected="plain values (no '*alias')",
            )
        self._depth += 1
        if self._depth > MAX_DEPTH:
            event = self.peek_event()
            raise InputFileError(
                f"nesting deeper than {MAX_DEPTH} levels", file=self.name, line=event.start_mark.line + 1
            )
        try:
            return super().compose_node(parent, index)
        finally:
            self._depth -= 1


def _line_map(node: yaml.Node, loc: Loc, out: dict[Loc, int]) -> None:
    out[loc] = node.start_mark.line + 1
    if isinstance(node, yaml.MappingNode):
        for k, v in node.value:
            _line_map(v, (*loc, k.value), out)
            # errors about a key point at the key, not at the first line of a nested block
            out[(*loc, k.value)] = k.start_mark.line + 1
    elif isinstance(node, yaml.SequenceNode):
        for i, v in enumerate(node.value):
            _line_map(v, (*loc, i), out)


def _check_duplicates(node: yaml.Node, name: str) -> None:
    if isinstance(node, yaml.MappingNode):
        seen: dict[Any, int] = {}
        for k, v in node.value:
            if k.value in seen:
                raise InputFileError(
                    f"duplicate key '{k.value}' (first at line {seen[k.value]})",
                    file=name, line=k.start_mark.line + 1, expected="each key once",
                )
            seen[k.value] = k.start_mark.line + 1
            _check_duplicates(v, name)
    elif isinstance(node, yaml.SequenceNode):
        for v in node.value:
            _check_duplicates(v, name)


class _FastLoader(getattr(yaml, "CSafeLoader", yaml.SafeLoader)):  # type: ignore[misc]
    """LibYAML's parser and composer (ten times faster than the pure-Python one: a reviewer's notebook reads
    a dozen YAML files before its form appears), with SafeLoader's constructors and resolver."""


def _plain_tree(node: yaml.Node) -> bool:
    """True when the composed tree has no alias (no node reached twice) and no nesting deeper than allowed."""
    seen: set[int] = set()
    stack = [(node, 1)]
    while stack:
        n, depth = stack.pop()
        if id(n) in seen or depth > MAX_DEPTH:
            return False
        seen.add(id(n))
        if isinstance(n, yaml.MappingNode):
            stack += [(x, depth + 1) for kv in n.value for x in kv]
        elif isinstance(n, yaml.SequenceNode):
            stack += [(x, depth + 1) for x in n.value]
    return True


def _parse_fast(text: str, name: str) -> tuple[Any, dict[Loc, int]] | None:
    """The document parsed by LibYAML, or None when anything is unusual (then the pure-Python loader parses
    it again and words the error): not printable, a syntax error, an alias, deep nesting, a duplicate key."""
    if not yaml.__with_libyaml__ or yaml.reader.Reader.NON_PRINTABLE.search(text):
        return None
    loader = _FastLoader(text)
    try:
        node = loader.get_single_node()
        if node is None or not _plain_tree(node):
            return None
        _check_duplicates(node, name)
        data = loader.construct_document(node)
    except (yaml.YAMLError, InputFileError, RecursionError):
        return None
    finally:
        loader.dispose()
    lines: dict[Loc, int] = {}
    _line_map(node, (), lines)
    return data, lines


def parse_yaml(text: str, name: str = "<string>") -> tuple[Any, dict[Loc, int]]:
    """Parse one YAML document; return the data and a map from key paths to line numbers."""
    fast = _parse_fast(text, name)
    if fast is not None:
        return fast
    try:
        loader = _BoundedLoader(text, name)
    except yaml.reader.ReaderError as e:
        line = text[: e.position].count("\n") + 1
        raise InputFileError(f"character {e.character!r} is not allowed in YAML", file=name, line=line) from None
    try:
        node = loader.get_single_node()
        if node is None:
            return None, {}
        _check_duplicates(node, name)
        data = loader.construct_document(node)
    except yaml.MarkedYAMLError as e:
        mark = e.problem_mark or e.context_mark
        line = mark.line + 1 if mark else None
        raise InputFileError(f"YAML syntax error: {e.problem or e}", file=name, line=line) from None
    except yaml.reader.ReaderError as e:
        line = text[: e.position].count("\n") + 1
        raise InputFileError(f"character {e.character!r} is not allowed in YAML", file=name, line=line) from None
    except yaml.YAMLError as e:
        raise InputFileError(f"YAML error: {e}", file=name) from None
    except RecursionError:
        raise InputFileError(f"nesting deeper than {MAX_DEPTH} levels", file=name) from None
    finally:
        loader.dispose()
    lines: dict[Loc, int] = {}
    _line_map(node, (), lines)
    return data, lines


def load_yaml(path: str | Path, max_bytes: int = MAX_DOC_BYTES) -> tuple[Any, dict[Loc, int]]:
    """Load a bounded YAML file; see :func:`parse_yaml`."""
    data = read_bounded(path, max_bytes)
    return parse_yaml(decode_text(data, path), str(path))


def line_for(lines: dict[Loc, int], loc: Loc) -> int | None:
    """The line of the longest prefix of ``loc`` that the map knows (errors may name missing keys)."""
    loc = tuple(loc)
    while loc:
        if loc in lines:
            return lines[loc]
        loc = loc[:-1]
    return lines.get(())


# ---------------------------------------------------------------- JSON

def _no_constants(name: str) -> Any:
    raise ValueError(f"{name} is not valid JSON")


def _no_dup_pairs(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for k, v in pairs:
        if k in out:
            raise ValueError(f"duplicate key '{k}'")
        out[k] = v
    return out


def _depth_ok(text: str) -> bool:
    if text.count("[") + text.count("{") <= MAX_DEPTH:
        return True  # too few brackets to nest deeper (C-speed count; the scan below is Python-speed)
    depth = 0
    in_str = esc = False
    for ch in text:
        if in_str:
            if esc:
                esc = False
            elif ch == "\\":
                esc = True
            elif ch == '"':
                in_str = False
        elif ch == '"':
            in_str = True
        elif ch in "[{":
            depth += 1
            if depth > MAX_DEPTH:
                return False
        elif ch in "]}":
            depth -= 1
    return True


def parse_json(text: str | bytes, name: str = "<string>") -> Any:
    """Parse JSON strictly: no NaN/Infinity, no duplicate keys, bounded depth."""
    if isinstance(text, bytes):
        text = decode_text(text, name)
    if not _depth_ok(text):
        raise InputFileError(f"nesting deeper than {MAX_DEPTH} levels", file=name)
    try:
        return json.loads(text, parse_constant=_no_constants, object_pairs_hook=_no_dup_pairs)
    except json.JSONDecodeError as e:
        raise InputFileError(f"JSON syntax error: {e.msg} (column {e.colno})", file=name, line=e.lineno) from None
    except ValueError as e:
        raise InputFileError(f"invalid JSON: {e}", file=name) from None


def load_json(path: str | Path, max_bytes: int = MAX_DOC_BYTES) -> Any:
    """Load a bounded, strict JSON file; see :func:`parse_json`."""
    return parse_json(read_bounded(path, max_bytes), str(path))


# ---------------------------------------------------------------- canonical form and hashes

def canonical_json(obj: Any) -> bytes:
    """RFC 8785 (JSON Canonicalization Scheme) bytes of ``obj``."""
    try:
        return rfc8785.dumps(obj)
    except (rfc8785.CanonicalizationError, TypeError, ValueError) as e:
        raise InputFileError(f"cannot canonicalize value: {e}", expected="finite JSON values") from None


def sha256_bytes(data: bytes) -> str:
    """Hex SHA-256 of bytes."""
    return hashlib.sha256(data).hexdigest()


def sha256_file(path: str | Path, max_bytes: int = MAX_HASH_BYTES, chunk: int = 1 << 20) -> str:
    """Hex SHA-256 of a regular file, streamed; a file over ``max_bytes`` is refused before reading."""
    h = hashlib.sha256()
    with open_regular(path, max_bytes) as fh:
        st = os.fstat(fh.fileno())
        # a sparse file claims terabytes it does not hold: hashing its holes would take an hour
        if st.st_size > SPARSE_MIN_BYTES and st.st_blocks * 512 < st.st_size // 8:
            raise InputFileError(f"sparse file: {st.st_size} bytes, {st.st_blocks * 512} allocated", file=path,
                                 expected="a file whose bytes are stored")
        for block in iter(lambda: fh.read(chunk), b""):
            h.update(block)
    return h.hexdigest()


# ---------------------------------------------------------------- atomic writes

# Folders the workbench never writes into, whatever a command line names: as root, a rename over /dev/null made it
# a regular file and broke every process on the machine that redirects to it.
SYSTEM_ROOTS = ("/bin", "/boot", "/dev", "/etc", "/lib", "/lib32", "/lib64", "/libx32", "/proc", "/run", "/sbin",
                "/sys", "/usr")


def _in_system_root(p: Path) -> str | None:
    real = os.path.realpath(p)
    for root in SYSTEM_ROOTS:
        if real == root or real.startswith(root + "/"):
            return root
    return None


def check_output_path(path: str | Path) -> Path:
    """Refuse an output path the workbench must never replace, before anything is written.

    Only a regular file may be replaced: a device, FIFO, socket, folder or symbolic link at ``path`` is refused
    (renaming over it would destroy it, or write through a link to wherever it points), and so is any path inside
    a system folder (:data:`SYSTEM_ROOTS`, links resolved). Standard output is ``-`` on the command line.
    """
    p = Path(path)
    root = _in_system_root(p)
    if root is not None:
        raise InputFileError(f"is inside the system folder {root}; the workbench never writes there", file=p,
                             expected="a path in a folder of your own (or - for standard output)")
    try:
        st = os.lstat(p)
    except FileNotFoundError:
        return p
    except OSError as e:
        raise InputFileError(f"cannot check the path ({e.strerror})", file=p, expected="a writable path") from None
    if stat.S_ISLNK(st.st_mode):
        raise InputFileError("is a symbolic link; the workbench never writes through or replaces one", file=p,
                             expected="a regular file or a new path")
    if not stat.S_ISREG(st.st_mode):
        kind = "a folder" if stat.S_ISDIR(st.st_mode) else "a device, pipe or socket"
        raise InputFileError(f"is {kind}; the workbench never replaces one", file=p,
                             expected="a regular file or a new path (or - for standard output)")
    return p


def check_output_dir(path: str | Path) -> Path:
    """Refuse an output folder that is a link, is not a folder, or lies in a system folder (see
    :func:`check_output_path`); a missing folder is fine (it will be created)."""
    p = Path(path)
    root = _in_system_root(p)
    if root is not None:
        raise InputFileError(f"is inside the system folder {root}; the workbench never writes there", file=p,
                             expected="a folder of your own")
    if p.is_symlink():
        raise InputFileError("is a symbolic link; the workbench never writes through one", file=p,
                             expected="a folder, or a new path")
    if p.exists() and not p.is_dir():
        raise InputFileError("is not a folder; the workbench never replaces it", file=p, expected="a folder, or a new path")
    return p

def atomic_write_bytes(path: str | Path, data: bytes, mode: int | None = None, *, overwrite: bool = True) -> Path:
    """Write ``data`` to ``path`` via a temporary file in the same folder and a rename.

    Readers see either the old or the new file, never half of one. With ``overwrite=False`` an existing
    file is an error (used for versioned outputs that must never be replaced).
    """
    p = Path(path)
    try:
        return _atomic_write(p, data, mode, overwrite)
    except OSError as e:  # a full disk, a read-only folder: one line, and the old file is still whole
        raise InputFileError(f"cannot write ({e.strerror or e})", file=p,
                             expected="free disk space and a writable folder") from None


def _atomic_write(p: Path, data: bytes, mode: int | None, overwrite: bool) -> Path:
    check_output_path(p)
    p.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{p.name}.", suffix=".tmp", dir=p.parent)
    try:
        if mode is not None:
            os.fchmod(fd, mode)
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        if overwrite:
            check_output_path(p)  # again, just before the rename: it may have changed while we wrote
            os.replace(tmp, p)
        else:
            # link() fails if the target exists: no silent overwrite, even under a race
            try:
                os.link(tmp, p)
            except FileExistsError:
                raise InputFileError("file exists and is never overwritten", file=p) from None
            finally:
                os.unlink(tmp)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise
    return p


def atomic_write_text(path: str | Path, text: str, **kw: Any) -> Path:
    """Atomic UTF-8 text write; see :func:`atomic_write_bytes`."""
    return atomic_write_bytes(path, text.encode("utf-8"), **kw)


def atomic_write_json(path: str | Path, obj: Any, *, canonical: bool = False, **kw: Any) -> Path:
    """Atomic JSON write: canonical RFC 8785 bytes, or indented UTF-8 for human-read files."""
    return atomic_write_bytes(path, canonical_json(obj) if canonical else pretty_json(obj), **kw)


def pretty_json(obj: Any) -> bytes:
    """Indented UTF-8 JSON with sorted keys and a final newline: the form of every human-read JSON file."""
    return (json.dumps(obj, ensure_ascii=False, indent=2, sort_keys=True) + "\n").encode()


@contextlib.contextmanager
def file_lock(path: str | Path, *, wait: bool = True) -> Iterator[None]:
    """Hold an exclusive advisory lock (``flock``) on ``path`` (created if missing) for the block.

    With ``wait=False`` a lock held elsewhere raises :class:`BlockingIOError` at once instead of waiting.
    """
    p = Path(path)
    p.parent.mkdir(parents=True, exist_ok=True)
    # O_NOFOLLOW: a link planted where the lock file goes is refused, never followed to a file elsewhere
    fd = os.open(p, os.O_RDWR | os.O_CREAT | os.O_NOFOLLOW | getattr(os, "O_CLOEXEC", 0), 0o666)
    with os.fdopen(fd, "a+b") as fh:
        fcntl.flock(fh.fileno(), fcntl.LOCK_EX | (0 if wait else fcntl.LOCK_NB))
        try:
            yield
        finally:
            fcntl.flock(fh.fileno(), fcntl.LOCK_UN)


def iter_files(root: str | Path) -> Iterator[Path]:
    """Regular files below ``root`` in a stable (sorted, path-independent) order; symlinks are skipped."""
    root = Path(root)
    for dirpath, dirnames, filenames in os.walk(root, followlinks=False):
        dirnames.sort()
        for f in sorted(filenames):
            p = Path(dirpath) / f
            if p.is_file() and not p.is_symlink():
                yield p

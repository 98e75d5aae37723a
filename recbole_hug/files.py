"""Files the plugin writes and reads back: atomic writes, checksummed checkpoints, verified caches.

Every file the plugin writes (checkpoints, resume states, serving data, caches, converted atomic
files, result tables) is written by :func:`atomic_file`: into a temporary file in the target's
folder, flushed and ``fsync``-ed, given the mode the umask says, then renamed over the target
(``os.replace``, atomic on POSIX). A kill at any moment leaves either the previous file or the
new one, whole; at worst a ``.<name>.*.tmp`` file is left beside it.

Checkpoints carry a checksum of their contents (:data:`CHECKSUM_KEY`), which
:func:`load_checkpoint` verifies, with finite model weights; a damaged checkpoint is a
:class:`~recbole_hug.errors.HugError` naming the file. Array caches (:func:`load_array`) are
checked for structure, shape and finite values, and a damaged one is reported by a warning and
reads as absent, so that the caller rebuilds it.
"""

from __future__ import annotations

import hashlib
import logging
import os
import pickle
import tempfile
import zipfile
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import IO, Any

import numpy as np
import torch

from recbole_hug.errors import HugError

logger = logging.getLogger(__name__)

#: The checkpoint entry holding the checksum of the rest (:func:`content_digest`).
CHECKSUM_KEY = "checksum"


def _umask() -> int:
    """This process's umask: read from ``/proc`` where there is one (setting it to read it back
    would briefly change it for every thread)."""
    try:
        with open("/proc/self/status", encoding="ascii") as status:
            for line in status:
                if line.startswith("Umask:"):
                    return int(line.split()[1], 8)
    except OSError:
        pass
    umask = os.umask(0)
    os.umask(umask)
    return umask


def file_mode() -> int:
    """The mode a new file gets under this process's umask (``0o666 & ~umask``)."""
    return 0o666 & ~_umask()


def _fsync_folder(folder: Path) -> None:
    """Make a rename in ``folder`` durable (where the OS lets a folder be opened)."""
    try:
        descriptor = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(descriptor)
    except OSError:
        pass
    finally:
        os.close(descriptor)


def temporary_path(path: Path) -> Path:
    """A new, empty temporary file beside ``path`` (``.<name>.<random>.tmp``)."""
    descriptor, name = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    os.close(descriptor)
    return Path(name)


def commit(temporary: Path, path: Path) -> None:
    """Make the written ``temporary`` file ``path``: fsync, the umask's mode, atomic rename."""
    with open(temporary, "rb+") as handle:
        os.fsync(handle.fileno())
    os.chmod(temporary, file_mode())
    os.replace(temporary, path)
    _fsync_folder(path.parent)


@contextmanager
def atomic_file(path: str | os.PathLike, mode: str = "wb", **kwargs: Any) -> Iterator[IO]:
    """Open ``path`` for writing so that it appears whole or not at all (module docstring).

    Args:
        path: the final file; its folder is created if needed.
        mode: ``"wb"`` or ``"w"``; ``kwargs`` go to ``open`` (``encoding``, ``newline``).

    Yields:
        The open temporary file. If the block raises, the temporary file is deleted and
        ``path`` is untouched.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = temporary_path(path)
    try:
        with open(temporary, mode, **kwargs) as handle:
            yield handle
        commit(temporary, path)
    except BaseException:
        temporary.unlink(missing_ok=True)
        raise


def _update_digest(digest: Any, value: Any) -> None:
    """Feed ``value`` (nested dicts, lists, tuples, tensors, arrays, scalars) to ``digest``."""
    if isinstance(value, torch.Tensor):
        flat = value.detach().cpu().contiguous().reshape(-1)
        digest.update(f"tensor{value.dtype}{tuple(value.shape)}".encode())
        digest.update(flat.view(torch.uint8).numpy() if flat.numel() else b"")
    elif isinstance(value, np.ndarray):
        digest.update(f"array{value.dtype}{value.shape}".encode())
        digest.update(np.ascontiguousarray(value).tobytes())
    elif isinstance(value, Mapping):
        digest.update(f"dict{len(value)}".encode())
        for key, item in value.items():
            _update_digest(digest, key)
            _update_digest(digest, item)
    elif isinstance(value, (list, tuple)):
        digest.update(f"{type(value).__name__}{len(value)}".encode())
        for item in value:
            _update_digest(digest, item)
    else:
        digest.update(f"{type(value).__name__}:{value!r};".encode())


def content_digest(state: Mapping[str, Any]) -> str:
    """The SHA-256 of a checkpoint's contents, every entry but :data:`CHECKSUM_KEY`."""
    digest = hashlib.sha256()
    _update_digest(digest, {key: value for key, value in state.items() if key != CHECKSUM_KEY})
    return digest.hexdigest()


def save_checkpoint(state: Mapping[str, Any], path: str | os.PathLike) -> None:
    """``torch.save`` ``state`` with its checksum (:data:`CHECKSUM_KEY`), atomically."""
    with atomic_file(path) as handle:
        torch.save({**state, CHECKSUM_KEY: content_digest(state)}, handle)


def check_readable_file(path: str | os.PathLike, what: str = "checkpoint") -> Path:
    """``path`` as a Path, or HugError: it is missing, or a folder (the message lists the
    ``.pth`` files there, newest first)."""
    path = Path(path)
    if path.is_dir():
        found = sorted(path.glob("*.pth"), key=lambda file: file.stat().st_mtime, reverse=True)
        listing = f"; it holds {', '.join(str(file) for file in found[:3])}" if found else ""
        raise HugError(f"{path} is a folder; pass a {what} file{listing}")
    if not path.is_file():
        raise HugError(f"{what} not found: {path}")
    return path


def load_checkpoint(path: str | os.PathLike, what: str = "checkpoint") -> Any:
    """A checkpoint read with ``torch.load(weights_only=True)`` on the CPU, verified.

    The checksum is compared when the file has one (files of older versions have none), and
    the floating-point tensors of ``state_dict`` must be finite.

    Raises:
        HugError: the file is missing, a folder, cannot be read as a torch file, or is damaged
            (the message names it).
        pickle.UnpicklingError: the file pickles Python objects (callers decide whether to
            trust it).
    """
    path = check_readable_file(path, what)
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except pickle.UnpicklingError:
        raise
    except (RuntimeError, zipfile.BadZipFile, EOFError, ValueError, KeyError) as error:
        raise HugError(
            f"{path} is damaged: it cannot be read as a {what} ({type(error).__name__}: "
            f"{str(error).splitlines()[0] if str(error) else 'truncated'})"
        ) from error
    verify_checkpoint(state, path, what)
    return state


def verify_checkpoint(state: Any, path: Path, what: str = "checkpoint") -> None:
    """Raise HugError naming ``path`` if ``state`` (a loaded checkpoint) fails its checksum or
    holds non-finite weights."""
    if not isinstance(state, dict):
        return
    saved = state.get(CHECKSUM_KEY)
    if saved is not None and saved != content_digest(state):
        raise HugError(
            f"{path} is damaged: its contents do not match the checksum saved with it (the "
            f"file changed after it was written); use another {what} or train again"
        )
    weights = state.get("state_dict")
    for name, tensor in weights.items() if isinstance(weights, dict) else ():
        floating = isinstance(tensor, torch.Tensor) and tensor.is_floating_point()
        if floating and not bool(torch.isfinite(tensor).all()):
            raise HugError(
                f"{path} is damaged: the weights '{name}' hold values that are not finite"
            )


def save_array(array: np.ndarray, path: str | os.PathLike) -> None:
    """``np.save`` ``array`` at ``path``, atomically."""
    with atomic_file(path) as handle:
        np.save(handle, array)


def load_array(path: str | os.PathLike, shape: tuple[int, ...]) -> np.ndarray | None:
    """A cached array, or None when ``path`` is absent or damaged (unreadable, another shape,
    values that are not finite): a damaged cache is logged as a warning, for the caller to
    rebuild and overwrite."""
    path = Path(path)
    if not path.is_file():
        return None
    try:
        array = np.load(path, allow_pickle=False)
        problem = (
            f"its shape is {array.shape}, expected {shape}"
            if array.shape != shape
            else "it holds values that are not finite"
            if not np.isfinite(array).all()
            else None
        )
    except (OSError, ValueError, EOFError) as error:
        problem = f"it cannot be read ({error})"
    if problem is None:
        return array
    logger.warning("cache %s is damaged (%s); rebuilding it", path, problem)
    return None

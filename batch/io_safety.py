"""Guards for untrusted workbooks and for the output file.

- :func:`require_defusedxml`: openpyxl must parse XML through defusedxml (fail closed).
- :func:`check_archive`: zip-bomb limits checked on the central directory, before any parsing.
- :func:`resolve_output` / :func:`atomic_output`: never overwrite the input, never clobber without
  ``force``, and never leave a half-written file (temporary file in the same folder + ``os.replace``).
- :func:`csv_safe`: the OWASP quote prefix for text that a spreadsheet would read as a formula.
"""

from __future__ import annotations

import contextlib
import os
import re
import tempfile
import zipfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from mgdecision import UsageError

from .interrupts import output_complete, uninterrupted

__all__ = [
    "FORMULA_PREFIXES",
    "MAX_COMPRESSION_RATIO",
    "MAX_MEMBERS",
    "MAX_UNCOMPRESSED_BYTES",
    "OutputNotWritten",
    "RefusedInput",
    "atomic_output",
    "check_archive",
    "csv_safe",
    "looks_like_formula",
    "require_defusedxml",
    "resolve_output",
]

#: Limits for .xlsx/.xlsm archives (module constants, so a site can tune them).
MAX_UNCOMPRESSED_BYTES = 2 * 1024**3  # sum of member sizes; a 1M-row sheet is about 0.4 GB of XML
MAX_COMPRESSION_RATIO = 200  # per member with more than RATIO_FLOOR_BYTES uncompressed
RATIO_FLOOR_BYTES = 1024**2
MAX_MEMBERS = 10_000

#: First characters that make a spreadsheet read text as a formula (OWASP CSV injection; CWE-1236).
FORMULA_PREFIXES = ("=", "+", "-", "@", "\t", "\r", "\0")


class RefusedInput(Exception):
    """The input cannot be read safely (or at all); the CLI exits with code 3."""


class OutputNotWritten(Exception):
    """The output could not be written (disk full, no permission, ...); nothing was left behind. Exit 4."""


OLE_MAGIC = bytes.fromhex("D0CF11E0A1B11AE1")  # an encrypted .xlsx is an OLE compound file, not a zip


def _not_a_zip(path: Path, exc: Exception) -> RefusedInput:
    with contextlib.suppress(OSError), path.open("rb") as fh:
        if fh.read(8) == OLE_MAGIC and path.suffix.lower() in (".xlsx", ".xlsm"):
            return RefusedInput(f"{path.name} is password protected (encrypted); save an unprotected copy "
                                "(in Excel: File > Info > Protect Workbook > Encrypt with Password, clear it) "
                                "and run on that copy")
    return RefusedInput(f"{path.name} is not a readable workbook ({exc})")


def require_defusedxml() -> None:
    """Fail closed unless openpyxl parses XML with defusedxml (billion laughs, quadratic blow-up)."""
    try:
        import openpyxl
    except ImportError as exc:  # pragma: no cover - depends on the installation
        raise RefusedInput("openpyxl is not installed; install mgdecision[batch]") from exc
    if not getattr(openpyxl, "DEFUSEDXML", False):
        raise RefusedInput(
            "refusing to open workbooks: openpyxl is not protected by defusedxml "
            "(install defusedxml and do not set OPENPYXL_DEFUSEDXML=False)")


def check_archive(path: Path, *, max_bytes: int | None = None, max_ratio: float | None = None,
                  max_members: int | None = None) -> int:
    """Refuse an .xlsx/.xlsm whose central directory announces a zip bomb; return its uncompressed size.

    Reads no member data."""
    max_bytes = MAX_UNCOMPRESSED_BYTES if max_bytes is None else max_bytes
    max_ratio = MAX_COMPRESSION_RATIO if max_ratio is None else max_ratio
    max_members = MAX_MEMBERS if max_members is None else max_members
    try:
        with zipfile.ZipFile(path) as zf:
            infos = zf.infolist()
    except (zipfile.BadZipFile, OSError) as exc:
        raise _not_a_zip(path, exc) from exc
    if len(infos) > max_members:
        raise RefusedInput(f"refused {path.name}: {len(infos)} archive members (limit {max_members}); "
                           "possible zip bomb")
    total = sum(i.file_size for i in infos)
    if total > max_bytes:
        raise RefusedInput(f"refused {path.name}: {total:,} bytes uncompressed (limit {max_bytes:,}); "
                           "possible zip bomb")
    for info in infos:
        if info.file_size > RATIO_FLOOR_BYTES and info.file_size > max_ratio * max(info.compress_size, 1):
            ratio = info.file_size / max(info.compress_size, 1)
            raise RefusedInput(f"refused {path.name}: member {info.filename} compresses {ratio:,.0f}:1 "
                               f"(limit {max_ratio:,.0f}:1); possible zip bomb")
    return total


def resolve_output(source: Path, output: Path | None, *, force: bool, suffix: str = ".xlsx",
                   folder_ok: bool = False) -> Path:
    """The output path: default ``NAME.flagged.xlsx`` beside the input; refuse the input itself or a clobber."""
    out = output if output is not None else source.with_name(f"{source.stem}.flagged{suffix}")
    if out.resolve() == source.resolve() or (out.exists() and os.path.samefile(out, source)):
        raise UsageError(f"refusing to write the output over the input ({source.name}); choose another -o path")
    if out.is_dir() and not folder_ok:
        raise UsageError(f"{out} is a folder; give a file name for the output")
    if out.exists() and not force:
        raise UsageError(f"{out} already exists; use --force to replace it")
    if not out.parent.is_dir():
        raise UsageError(f"output folder {out.parent} does not exist")
    return out


@contextlib.contextmanager
def atomic_output(path: Path, *, force: bool = True) -> Iterator[Path]:
    """Yield a temporary path in ``path``'s folder; on success move it to ``path``, on failure delete it.

    Without ``force`` an output that appeared meanwhile (another run) is never replaced: the final move is a
    hard link, which fails when the name exists. Write errors become :class:`OutputNotWritten`."""
    try:
        fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".part", dir=path.parent)
    except OSError as exc:
        raise OutputNotWritten(f"{path.parent}: {exc.strerror or exc}") from exc
    os.close(fd)
    tmp_path = Path(tmp)
    try:
        try:
            yield tmp_path
        except Exception as exc:
            cause = _os_error(exc)
            if cause is None:
                raise
            raise OutputNotWritten(cause.strerror or str(cause)) from None
        with uninterrupted():  # a Ctrl-C now waits for the move: the output is then complete
            umask = os.umask(0)
            os.umask(umask)
            try:
                os.chmod(tmp_path, 0o666 & ~umask)  # an ordinary file for the user's folder, not mkstemp's 0600
                if force:
                    os.replace(tmp_path, path)
                else:
                    os.link(tmp_path, path)
                output_complete()
            except FileExistsError as exc:
                raise UsageError(f"{path} was created by someone else while this run worked; it was not replaced "
                                 "(use --force to replace it)") from exc
            except OSError as exc:
                raise OutputNotWritten(exc.strerror or str(exc)) from exc
            finally:
                with contextlib.suppress(FileNotFoundError):
                    tmp_path.unlink()
    finally:
        with contextlib.suppress(FileNotFoundError):
            tmp_path.unlink()


def _os_error(exc: BaseException) -> OSError | None:
    """The OSError behind a writer's own exception (XlsxWriter wraps them), if any."""
    seen = 0
    current: BaseException | None = exc
    while current is not None and seen < 10:
        if isinstance(current, OSError):
            return current
        current = current.__cause__ or current.__context__
        seen += 1
    return None


def looks_like_formula(value: Any) -> bool:
    """True for text a spreadsheet would treat as a formula when typed or imported."""
    return isinstance(value, str) and value.startswith(FORMULA_PREFIXES)


_AFTER_BREAK = re.compile(r"([\r\n])(?=[=+\-@\t\0])")


def csv_safe(value: Any) -> Any:
    """OWASP: prefix ``'`` to text starting with = + - @ tab CR or NUL, and to every line that does after a
    line break inside the text (a reader that splits records there must not see a formula); others unchanged."""
    if not isinstance(value, str):
        return value
    if "\r" in value or "\n" in value:
        value = _AFTER_BREAK.sub(r"\1'", value)
    return "'" + value if looks_like_formula(value) else value

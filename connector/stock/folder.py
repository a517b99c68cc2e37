"""The watched import folder (`[stock] import_dir`): each POS file dropped there is imported once.

A `*.csv` file in the folder is imported whole in one transaction (`connector.stock.imports`: a count or a
movement file, waiting back-orders served), then renamed into `done/`; a refused file is renamed into `failed/`
beside a `<name>.error` file naming the line and column. Renames stay inside the folder, so they are atomic.

The POS should write a file elsewhere (or under a name not ending in `.csv`) and rename it into the folder when it
is complete: a file is read as soon as a scan sees it. Hidden files (`.name.csv`) are left alone.

A crash between the commit and the rename imports the file again at the next scan, which moves nothing: a count
file's movements are keyed by its name and content hash, a movement file's by the POS's own keys.
"""

from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass
from pathlib import Path

import structlog

from connector.stock.imports import CsvError, ImportResult, import_csv
from connector.stock.order_effects import Stocker
from connector.storage.runtime import Runtime

log = structlog.get_logger(__name__)


@dataclass(frozen=True)
class Outcome:
    name: str
    result: ImportResult | None  # None: refused
    error: str | None = None


class ImportFolder:
    def __init__(self, runtime: Runtime, stocker: Stocker, folder: Path) -> None:
        self.runtime = runtime
        self.stocker = stocker
        self.folder = folder

    def scan(self) -> list[Outcome]:
        """Import every complete file now in the folder, oldest name first; returns what became of each."""
        if not self.folder.is_dir():
            return []
        files = sorted(p for p in self.folder.iterdir() if p.suffix == ".csv" and not p.name.startswith("."))
        return [outcome for path in files if path.is_file() and (outcome := self._one(path)) is not None]

    def _one(self, path: Path) -> Outcome | None:
        try:
            batch = f"file/{path.name}/{_digest(path)}"
            with self.runtime.sessions.begin() as session, path.open(encoding="utf-8-sig", newline="") as stream:
                result = import_csv(session, stream, self.stocker, batch=batch)
        except (CsvError, UnicodeDecodeError) as exc:
            self._refuse(path, str(exc))
            return Outcome(path.name, None, str(exc))
        except FileNotFoundError:
            return None  # taken by another scan meanwhile
        except OSError as exc:  # unreadable now (permissions, a share gone): left in place, tried at the next scan
            log.warning("stock_file_unreadable", file=path.name, error=exc.strerror)
            return None
        _move(path, self.folder / "done")
        log.info(
            "stock_file_imported",
            file=path.name,
            kind=result.kind,
            rows=result.rows,
            changed=result.changed,
            served=result.served,
        )
        return Outcome(path.name, result)

    def _refuse(self, path: Path, message: str) -> None:
        """Write `failed/<name>.error` first, then move the file beside it (a crash in between retries the file)."""
        target = _free(self.folder / "failed", path)
        partial = target.parent / f".{target.name}.error.tmp"
        partial.write_text(f"{path.name}: {message}\nnothing was applied\n", encoding="utf-8")
        os.replace(partial, target.parent / f"{target.name}.error")
        os.replace(path, target)
        log.warning("stock_file_refused", file=path.name, error=message)


def _digest(path: Path) -> str:
    sha = hashlib.sha256()
    with path.open("rb") as stream:
        for block in iter(lambda: stream.read(1 << 20), b""):
            sha.update(block)
    return sha.hexdigest()[:32]


def _move(path: Path, into: Path) -> None:
    os.replace(path, _free(into, path))


def _free(into: Path, path: Path) -> Path:
    """Where `path` goes in the folder `into`: its name, or the next free `name.N.csv` when that is taken."""
    into.mkdir(exist_ok=True)
    target = into / path.name
    n = 1
    while target.exists():
        target = into / f"{path.stem}.{n}{path.suffix}"
        n += 1
    return target

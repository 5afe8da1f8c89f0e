"""The token table of a detached output layer (`engine.captioner.output_layer`): the embedding lookup's rows."""

from __future__ import annotations

from pathlib import Path

import numpy as np


class TokenTable:
    """The (vocab, hidden) token table: in memory, or read row by row from its ``.npy`` file.

    Rows are read with plain file reads, not through a memory map: touching a few rows of a mapped file maps whole
    page-cache folios around each (150 random rows of the 154 MB fp32 table made 132 MB resident, measured).
    """

    def __init__(self, source: Path | np.ndarray) -> None:
        self._array: np.ndarray | None = None
        self.path: Path | None = None
        if isinstance(source, np.ndarray):
            self._array = source
            self.shape, self.dtype, self._offset = source.shape, source.dtype, 0
            return
        self.path = Path(source)
        self._file = open(self.path, "rb", buffering=0)  # noqa: SIM115 (kept open for the captioner's life)
        version = np.lib.format.read_magic(self._file)
        read_header = np.lib.format.read_array_header_1_0 if version == (1, 0) else np.lib.format.read_array_header_2_0
        shape, fortran, dtype = read_header(self._file)
        if fortran or len(shape) != 2:
            raise ValueError(f"{self.path.name} is not a row-major table")
        self.shape, self.dtype, self._offset = tuple(shape), np.dtype(dtype), self._file.tell()

    def rows(self, ids: np.ndarray) -> np.ndarray:
        """The rows of ``ids`` (any shape), shaped ``ids.shape + (hidden,)``."""
        if self._array is not None:
            return np.ascontiguousarray(self._array[ids])
        flat = np.asarray(ids, dtype=np.int64).reshape(-1)
        out = np.empty((len(flat), self.shape[1]), dtype=self.dtype)
        row_bytes = out[0].nbytes if len(flat) else 0
        for index, token in enumerate(flat.tolist()):
            if not 0 <= token < self.shape[0]:
                raise IndexError(f"token {token} is outside the table")
            self._file.seek(self._offset + token * row_bytes)
            self._file.readinto(memoryview(out[index]).cast("B"))
        return out.reshape(*np.shape(ids), self.shape[1])

    def whole(self) -> np.ndarray:
        """The whole table (memory-mapped from the file: beam search at fp32 reads every row at every step)."""
        if self._array is None:
            assert self.path is not None
            self._array = np.load(self.path, mmap_mode="r")
        return self._array


__all__ = ["TokenTable"]

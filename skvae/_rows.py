"""Where the training rows come from: one tensor in memory, or an array that
is not (a memmap, a dask or zarr array) read a chunk at a time.

The fit loop asks a source for an epoch's ``parts``: (tensor, index) pairs
whose batches it trains on. In memory there is one part, the whole data in a
shuffled order. Streamed, each part is one chunk of consecutive rows, read
and put into the model's units when its turn comes, the chunks in a shuffled
order and the rows shuffled within each chunk: a chunk's rows share its
batches, which is what streaming costs against a full shuffle.
"""

import math
from collections.abc import Callable, Iterator

import numpy as np
import torch

Part = tuple[torch.Tensor, torch.Tensor]  # a tensor of rows and the order to take them in

# A streamed chunk holds about this many bytes in the model's units (float32).
CHUNK_BYTES = 64 * 2**20


class InMemoryRows:
    """The rows ``X[index]`` of a tensor on the training device."""

    def __init__(self, X: torch.Tensor, index: torch.Tensor):
        self.X = X
        self.index = index
        self.n_rows = len(index)

    def take(self, rows: np.ndarray) -> torch.Tensor:
        """Some rows (indices of X, in any order), in that order."""
        return self.X[torch.as_tensor(rows, device=self.X.device)]

    def parts(
        self, generator: torch.Generator | None
    ) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
        """One part: all rows, shuffled by ``generator`` (None: in order)."""
        if generator is None:
            yield self.X, self.index
            return
        order = torch.randperm(self.n_rows, generator=generator).to(self.index.device)
        yield self.X, self.index[order]


class StreamedRows:
    """Rows of an array read chunk by chunk and mapped into the model's units.

    Parameters
    ----------
    source : array-like of shape (n_samples, n_features)
        Anything sliceable by rows: a memmap, a dask or zarr array.
    rows : ndarray of int
        The rows to train on, sorted (the others are held out).
    to_model : callable
        Maps a numpy block of rows to a float32 array in the model's units.
    device : torch.device
        Where the chunks go.
    n_columns : int
        Width of a row in the model's units, to size the chunks.
    """

    def __init__(
        self,
        source,
        rows: np.ndarray,
        to_model: Callable[[np.ndarray], np.ndarray],
        device: torch.device,
        n_columns: int,
        chunk_bytes: int | None = None,
    ):
        self.source = source
        self.rows = np.asarray(rows)
        self.to_model = to_model
        self.device = device
        self.n_rows = len(self.rows)
        self.chunk_rows = max(1, (chunk_bytes or CHUNK_BYTES) // (4 * n_columns))
        self.n_chunks = math.ceil(source.shape[0] / self.chunk_rows)

    def parts(
        self, generator: torch.Generator | None
    ) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
        """The chunks, in a shuffled order with their rows shuffled (None: in order)."""
        chunks = range(self.n_chunks)
        if generator is not None:
            chunks = torch.randperm(self.n_chunks, generator=generator).tolist()
        for c in chunks:
            start, stop = c * self.chunk_rows, (c + 1) * self.chunk_rows
            lo, hi = np.searchsorted(self.rows, [start, stop])
            if hi == lo:
                continue
            block = np.asarray(self.source[start:stop])[self.rows[lo:hi] - start]
            X = torch.from_numpy(self.to_model(block)).to(self.device)
            index = torch.arange(len(X), device=self.device)
            if generator is not None:
                index = torch.randperm(len(X), generator=generator).to(self.device)
            yield X, index

    def take(self, rows: np.ndarray) -> torch.Tensor:
        """Some rows (indices of the source, in any order) in the model's
        units, in memory, in that order: read in file order, each chunk
        holding one of them once."""
        order = np.argsort(rows, kind="stable")
        ordered = rows[order]
        blocks = []
        for c in np.unique(ordered // self.chunk_rows):
            start = c * self.chunk_rows
            picked = ordered[(ordered >= start) & (ordered < start + self.chunk_rows)]
            block = np.asarray(self.source[start : start + self.chunk_rows])[picked - start]
            blocks.append(self.to_model(block))
        taken = torch.from_numpy(np.concatenate(blocks))[torch.from_numpy(np.argsort(order))]
        return taken.to(self.device)

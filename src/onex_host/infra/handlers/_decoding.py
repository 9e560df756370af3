"""Response bodies decoded with a bound on what comes out, not only on what goes in.

httpx decodes ``Content-Encoding`` itself, but one ``zlib`` call can turn a
few kilobytes into gigabytes before any byte count sees it, and encodings can
be stacked (``gzip, gzip``): a ~2 KB response took a host from 70 MiB to
2.1 GiB. So the http handler reads the raw bytes and decodes them here, each
stage asked for at most the bytes left under the cap
(``zlib.decompressobj.decompress(data, max_length)``), so memory stays within
``max_response_bytes`` per stage whatever the compression ratio.

Only the encodings the handler asks for (``Accept-Encoding: gzip, deflate``)
are accepted; anything else in ``Content-Encoding`` is refused, not passed
through undecoded.
"""

from __future__ import annotations

import zlib

ACCEPT_ENCODING = "gzip, deflate"
_IDENTITY = frozenset({"", "identity"})


class BodyTooLarge(Exception):
    """The decoded body would exceed the cap."""


class UnsupportedEncoding(Exception):
    """``Content-Encoding`` names an encoding this handler does not decode."""


class _Inflate:
    """One gzip or deflate stage with bounded output."""

    def __init__(self, encoding: str) -> None:
        self._encoding = encoding
        self._zlib = zlib.decompressobj(zlib.MAX_WBITS | 16 if encoding in ("gzip", "x-gzip") else zlib.MAX_WBITS)
        self._first = True

    def feed(self, data: bytes, budget: int) -> bytes:
        if self._first and data and self._encoding == "deflate":
            self._first = False
            try:
                return self._drain(data, budget)
            except zlib.error:
                # Servers that send raw deflate (no zlib header): what httpx and browsers accept too.
                self._zlib = zlib.decompressobj(-zlib.MAX_WBITS)
        self._first = False
        return self._drain(data, budget)

    def _drain(self, data: bytes, budget: int) -> bytes:
        out = bytearray(self._zlib.decompress(data, budget + 1))
        while self._zlib.unconsumed_tail and len(out) <= budget:
            out += self._zlib.decompress(self._zlib.unconsumed_tail, budget + 1 - len(out))
        if len(out) > budget:
            raise BodyTooLarge
        return bytes(out)

    def finish(self, budget: int) -> bytes:
        out = self._zlib.flush(budget + 1) if budget >= 0 else b""
        if len(out) > budget:
            raise BodyTooLarge
        return out


class BoundedDecoder:
    """Decodes a body encoded as ``content_encoding`` (a header value), yielding at most ``limit`` bytes."""

    def __init__(self, content_encoding: str, limit: int) -> None:
        encodings = [part.strip().lower() for part in content_encoding.split(",")]
        encodings = [encoding for encoding in encodings if encoding not in _IDENTITY]
        for encoding in encodings:
            if encoding not in ("gzip", "x-gzip", "deflate"):
                raise UnsupportedEncoding(encoding)
        # Encodings are listed in the order they were applied: decode the last one first.
        self._stages = [_Inflate(encoding) for encoding in reversed(encodings)]
        self._limit = limit
        self._produced = [0] * (len(self._stages) + 1)

    def feed(self, raw: bytes) -> bytes:
        return self._through(raw, 0)

    def finish(self) -> bytes:
        tail = b""
        for index, stage in enumerate(self._stages):
            flushed = stage.finish(self._limit - self._produced[index + 1])
            self._produced[index + 1] += len(flushed)
            tail = self._through(tail + flushed, index + 1) if index + 1 < len(self._stages) else tail + flushed
        return tail

    def _through(self, data: bytes, start: int) -> bytes:
        if start == 0:
            self._count(0, len(data))
        for index in range(start, len(self._stages)):
            if not data:
                return b""
            data = self._stages[index].feed(data, self._limit - self._produced[index + 1])
            self._count(index + 1, len(data))
        return data

    def _count(self, stage: int, size: int) -> None:
        self._produced[stage] += size
        if self._produced[stage] > self._limit:
            raise BodyTooLarge

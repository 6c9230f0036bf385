"""An incremental JSON reader for very large files (Telegram Desktop exports).

A Desktop export is one JSON document whose ``messages`` array can hold
millions of objects. :class:`JsonStream` walks the document structure
(objects and arrays) itself and decodes each *leaf value* — one message, one
chat name — with :meth:`json.JSONDecoder.raw_decode` over a sliding text
buffer. Memory holds the current buffer and one value, never the file.

Errors name the place: the byte offset in the file, plus whatever path the
caller adds (message index, chat).
"""

from __future__ import annotations

import codecs
import json
from collections.abc import Iterator
from typing import IO, Any

from storage.errors import InputError

_WS = " \t\r\n"


class JsonStream:
    def __init__(self, fh: IO[bytes], name: str = "file", chunk_size: int = 1 << 20,
                 max_value_bytes: int = 64 << 20):
        self.fh = fh
        self.name = name
        self.chunk_size = chunk_size
        self.max_value_chars = max_value_bytes
        self.buf = ""
        self.pos = 0
        self.eof = False
        self.dropped_bytes = 0  # bytes of the file before buf[0]
        self._decoder = codecs.getincrementaldecoder("utf-8")("strict")
        self._json = json.JSONDecoder()
        self._read_bytes = 0
        self._bo_pos = 0  # cache for byte_offset: buf[:_bo_pos] is _bo_bytes bytes
        self._bo_bytes = 0
        while not self.buf and self._fill():
            pass
        if self.buf.startswith("\ufeff"):
            self.pos = 1

    # ------------------------------------------------------------ buffer
    def _fill(self) -> bool:
        if self.eof:
            return False
        data = self.fh.read(self.chunk_size)
        try:
            text = self._decoder.decode(data, final=not data)
        except UnicodeDecodeError as exc:
            raise InputError(f"{self.name}: not valid UTF-8 near byte {self._read_bytes + exc.start}") from None
        self._read_bytes += len(data)
        if not data:
            self.eof = True
        if self.pos > (1 << 20) or (self.pos and self.pos >= len(self.buf) // 2):
            self.dropped_bytes += self._prefix_bytes(self.pos)
            self.buf = self.buf[self.pos:]
            self.pos = 0
            self._bo_pos = self._bo_bytes = 0
        self.buf += text
        return bool(data)

    def _prefix_bytes(self, p: int) -> int:
        """UTF-8 size of buf[:p], incrementally (offsets are asked for in increasing order)."""
        if p < self._bo_pos:
            return len(self.buf[:p].encode("utf-8", "surrogatepass"))
        self._bo_bytes += len(self.buf[self._bo_pos:p].encode("utf-8", "surrogatepass"))
        self._bo_pos = p
        return self._bo_bytes

    def byte_offset(self, pos: int | None = None) -> int:
        """Offset in the file (bytes) of buffer position ``pos`` (default: the current one)."""
        return self.dropped_bytes + self._prefix_bytes(self.pos if pos is None else pos)

    def _where(self, pos: int | None = None) -> str:
        return f"{self.name}, byte {self.byte_offset(pos)}"

    def skip_ws(self) -> None:
        while True:
            buf, p, n = self.buf, self.pos, len(self.buf)
            while p < n and buf[p] in _WS:
                p += 1
            self.pos = p
            if p < n or not self._fill():
                return

    def peek(self) -> str:
        self.skip_ws()
        return self.buf[self.pos] if self.pos < len(self.buf) else ""

    def expect(self, ch: str, what: str) -> None:
        c = self.peek()
        if c != ch:
            found = repr(c) if c else "the end of the file (truncated?)"
            raise InputError(f"{self._where()}: expected {what}, found {found}")
        self.pos += 1

    # ------------------------------------------------------------ values
    def value(self, what: str = "a value", raw: bool = False) -> Any:
        """Decode the next complete JSON value (object, array, string, number …).

        With ``raw``, return ``(value, its JSON text as in the file)``.
        """
        self.skip_ws()
        while True:
            try:
                obj, end = self._json.raw_decode(self.buf, self.pos)
            except json.JSONDecodeError as exc:
                if not self.eof:
                    if len(self.buf) - self.pos > self.max_value_chars:
                        raise InputError(f"{self._where()}: {what} is larger than "
                                         f"{self.max_value_chars} bytes") from None
                    self._fill()
                    continue
                if self.pos >= len(self.buf):
                    raise InputError(f"{self._where()}: the file ends where {what} was expected "
                                     "(truncated?)") from None
                detail = exc.msg
                if exc.pos >= len(self.buf) - 1 or "Unterminated" in exc.msg:
                    detail = f"{exc.msg}: the file ends inside it (truncated?)"
                raise InputError(f"{self._where()}: {what} is not valid JSON ({detail} at byte "
                                 f"{self.byte_offset(exc.pos)})") from None
            if end >= len(self.buf) and not self.eof:
                # a number or literal cut at the buffer's end: read on and decode again
                self._fill()
                continue
            text = self.buf[self.pos:end] if raw else None
            self.pos = end
            return (obj, text) if raw else obj

    def string(self, what: str = "a key") -> str:
        if self.peek() != '"':
            c = self.peek()
            raise InputError(f"{self._where()}: expected {what} (a string), found "
                             f"{repr(c) if c else 'the end of the file (truncated?)'}")
        return self.value(what)

    def iter_object(self, what: str = "an object") -> Iterator[str]:
        """Yield each key of the object that starts here; the caller MUST consume its value."""
        self.expect("{", what)
        if self.peek() == "}":
            self.pos += 1
            return
        while True:
            key = self.string()
            self.expect(":", "':' after a key")
            yield key
            c = self.peek()
            if c == ",":
                self.pos += 1
            elif c == "}":
                self.pos += 1
                return
            else:
                found = repr(c) if c else "the end of the file (truncated?)"
                raise InputError(f"{self._where()}: expected ',' or '}}' in {what}, found {found}")

    def iter_array(self, what: str = "an array") -> Iterator[int]:
        """Yield the index of each element of the array that starts here; the caller MUST consume it."""
        self.expect("[", what)
        if self.peek() == "]":
            self.pos += 1
            return
        i = 0
        while True:
            yield i
            i += 1
            c = self.peek()
            if c == ",":
                self.pos += 1
            elif c == "]":
                self.pos += 1
                return
            else:
                found = repr(c) if c else "the end of the file (truncated?)"
                raise InputError(f"{self._where()}: expected ',' or ']' after element {i - 1} of {what}, "
                                 f"found {found}")

    def at_end(self) -> bool:
        return self.peek() == ""

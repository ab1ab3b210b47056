"""User-facing errors: one line that names the file, the field, the value and what is allowed."""

from __future__ import annotations

from pathlib import Path
from typing import Any


class UserError(Exception):
    """A mistake in the user's input, reported as one line; the CLI exits with code 2.

    Attributes name where the mistake is so that callers can rebuild the message
    with more context (for example the campaign file a search space was named in).
    """

    def __init__(
        self,
        message: str,
        *,
        file: str | Path | None = None,
        field: str | None = None,
        value: Any = None,
        allowed: str | None = None,
        line: int | None = None,
    ) -> None:
        self.message = message
        self.file = str(file) if file is not None else None
        self.field = field
        self.value = value
        self.allowed = allowed
        self.line = line
        super().__init__(self.format())

    def format(self) -> str:
        parts = []
        if self.file is not None:
            location = self.file if self.line is None else f"{self.file}:{self.line}"
            parts.append(f"{location}:")
        if self.field is not None:
            parts.append(f"field '{self.field}':")
        parts.append(self.message)
        if self.value is not None:
            parts.append(f"(got {self.value!r})")
        if self.allowed is not None:
            parts.append(f"allowed: {self.allowed}")
        return " ".join(parts)

    def with_file(self, file: str | Path) -> "UserError":
        """Return a copy located in `file` unless a file is already named."""
        if self.file is not None:
            return self
        return UserError(
            self.message,
            file=file,
            field=self.field,
            value=self.value,
            allowed=self.allowed,
            line=self.line,
        )

"""Errors that name the file, line and field, so a person can open the file and fix it."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class RowIssue:
    """One rejected row; the rest of its batch is kept."""

    file: str
    line: int
    field: str
    message: str

    def __str__(self) -> str:
        return f"{self.file}, line {self.line}, field '{self.field}': {self.message}"


class FileFormatError(ValueError):
    """A problem with the whole file (a missing column, unreadable JSON): nothing from it is loaded."""

    def __init__(self, file: str, line: int, field: str, message: str):
        self.file, self.line, self.field, self.message = file, line, field, message
        super().__init__(f"{file}, line {line}, field '{field}': {message}")


class SourceError(RuntimeError):
    """An external API kept failing after its retries."""

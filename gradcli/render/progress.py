"""What `grad --points` says on stderr: a progress bar for long runs, and the summary at the end
(rows without a result, rows with notes), in the chosen language."""

from __future__ import annotations

import time

from ..i18n import message, tr

PROGRESS_AFTER_SECONDS = 1.0  # a progress bar only for runs that last longer than this
SHOWN = 5  # rows with an error, and kinds of note, named in the summary


class Progress:
    """A Rich progress bar of rows done on stderr, shown only once a run has lasted a while."""

    def __init__(self, enabled: bool, total_bytes: int | None, stream, after: float = PROGRESS_AFTER_SECONDS):
        self.enabled = enabled
        self.total = total_bytes
        self.stream = stream
        self.after = after
        self.started = time.perf_counter()
        self.bar = None

    def update(self, rows: int, bytes_read: int) -> None:
        if not self.enabled:
            return
        if self.bar is None:
            if time.perf_counter() - self.started < self.after:
                return
            self._start()
        self.bar.update(self.task, completed=bytes_read if self.total else rows, rows=rows)

    def _start(self) -> None:
        from rich.console import Console
        from rich.progress import BarColumn, Progress as Bar, TextColumn, TimeElapsedColumn

        console = Console(file=self.stream, force_terminal=True, highlight=False)
        self.bar = Bar(BarColumn(), TextColumn(tr("{task.fields[rows]:,} rows")), TimeElapsedColumn(), console=console)
        self.task = self.bar.add_task("points", total=self.total, rows=0)
        self.bar.start()

    def close(self) -> None:
        if self.bar is not None:
            self.bar.stop()


class Summary:
    """Counts a run's rows, errors and notes as chunks come, keeping the first few to show."""

    def __init__(self, source_name: str):
        self.source_name = source_name
        self.rows = 0
        self.input_failures = 0
        self.math_failures = 0
        self.failures: list[tuple[int, str]] = []  # (line, message), the first SHOWN
        self.noted_rows = 0
        self.notes: dict[str, list[int]] = {}  # note -> [rows with it, the first one's line]

    def add(self, lines: list[int], input_errors: dict, math_errors: dict, notes: dict[int, list[str]]) -> None:
        """One chunk: each row's line in the file, its errors and notes (both by row)."""
        self.rows += len(lines)
        self.input_failures += len(input_errors)
        self.math_failures += len(math_errors)
        if len(self.failures) < SHOWN:
            found = sorted({**input_errors, **math_errors}.items())[:SHOWN - len(self.failures)]
            self.failures.extend((lines[row], text) for row, text in found)
        self.noted_rows += len(notes)
        for row in sorted(notes):
            for note in notes[row]:
                self.notes.setdefault(note, [0, lines[row]])[0] += 1

    @property
    def failed(self) -> int:
        return self.input_failures + self.math_failures

    def text(self) -> str:
        """The lines for stderr: the rows without a result, then the notes; empty if neither."""
        return "\n".join([*self._failure_lines(), *self._note_lines()])

    def _failure_lines(self) -> list[str]:
        if not self.failed:
            return []
        kinds = []
        if self.input_failures:
            kinds.append(tr("{count} with unusable input", count=f"{self.input_failures:,}"))
        if self.math_failures:
            kinds.append(tr("{count} with a math error", count=f"{self.math_failures:,}"))
        lines = [f"gradcli: {tr('error')}: " + tr(
            "{failed} of {rows} points in {source} have no result ({kinds})", failed=f"{self.failed:,}",
            rows=f"{self.rows:,}", source=message(self.source_name), kinds=tr(", ").join(kinds))]
        lines.extend(f"  {tr('line {line}', line=line)}: {message(text)}" for line, text in self.failures)
        if self.failed > len(self.failures):
            lines.append("  " + tr("… and {count} more (see the error column)",
                                   count=f"{self.failed - len(self.failures):,}"))
        return lines

    def _note_lines(self) -> list[str]:
        if not self.noted_rows:
            return []
        lines = [f"gradcli: {tr('warning')}: " + tr(
            "{noted} of {rows} points in {source} have notes (see the notes column)", noted=f"{self.noted_rows:,}",
            rows=f"{self.rows:,}", source=message(self.source_name))]
        for note, (count, line) in list(self.notes.items())[:SHOWN]:
            where = tr("line {line}", line=line) if count == 1 else tr(
                "line {line} and {count} more", line=line, count=f"{count - 1:,}")
            lines.append(f"  {where}: {message(note)}")
        if len(self.notes) > SHOWN:
            lines.append("  " + tr("… and {count} other notes (see the notes column)",
                                   count=f"{len(self.notes) - SHOWN:,}"))
        return lines

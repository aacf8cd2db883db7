"""Audit reports: HTML (inline charts, printable), Markdown and CSV, rendered from summary.json."""

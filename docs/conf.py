"""Sphinx configuration of the verifier's documentation site (`make docs`).

Why Sphinx, MyST and Furo: Sphinx is the Python world's documentation generator, maintained
for two decades and still released several times a year; MyST lets every page stay plain
Markdown that reads well on GitHub too; Furo is a clean, accessible theme with a light and a
dark mode and nothing to configure. MkDocs was the other candidate, but MkDocs itself has had
no release since 1.6.1 (2024), and Material for MkDocs is in maintenance mode.

The build is strict (`sphinx-build -W --keep-going -n`, see the Makefile): a link to a page
or a heading anchor that does not exist, a page missing from the table of contents, or any
other warning fails `make docs`, and so `make test`.
"""

from __future__ import annotations

project = "verifier"
author = "the verifier team"
copyright = "the verifier team"  # noqa: A001 (the name Sphinx reads)

extensions = ["myst_parser"]
source_suffix = {".md": "markdown"}
# Headings get GitHub's anchors (`page.md#what-a-failover-can-lose`), checked at build time.
myst_heading_anchors = 4
# A missing cross-reference is a warning, hence an error under -W.
myst_all_links_external = False
nitpicky = True

exclude_patterns = ["_build"]
root_doc = "index"

html_theme = "furo"
html_title = "verifier"
html_static_path: list[str] = []
# Plain text search only: no external services are contacted by the pages.
html_show_sourcelink = False
html_copy_source = False

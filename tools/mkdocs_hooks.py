"""MkDocs hook: the site's front page is README.md (the repository's front page), not a copy.

README links to ``docs/x.md``; on the site the page sits beside them, so ``docs/`` is dropped
from its relative links. Nothing else in README is changed.
"""

from __future__ import annotations

import re
from pathlib import Path


def on_page_markdown(markdown: str, page, config, files) -> str:  # noqa: ANN001 (MkDocs' hook signature)
    if page.file.src_uri != "index.md":
        return markdown
    readme = Path(config["config_file_path"]).parent / "README.md"
    return re.sub(r"\]\(docs/", "](", readme.read_text(encoding="utf-8"))

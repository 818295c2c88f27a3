"""MkDocs hook: the site's front page is README.md and its contributing page CONTRIBUTING.md
(the repository's own files), not copies.

README links to ``docs/x.md``; on the site the page sits beside them, so ``docs/`` is dropped
from its relative links, and its link to ``CONTRIBUTING.md`` points at the site's
``contributing.md``. Nothing else in either file is changed.
"""

from __future__ import annotations

import re
from pathlib import Path

#: site page -> repository file shown there (the page in docs/ only names the file to edit).
SHOWN = {"index.md": "README.md", "contributing.md": "CONTRIBUTING.md"}


def on_page_markdown(markdown: str, page, config, files) -> str:  # noqa: ANN001 (MkDocs' hook signature)
    source = SHOWN.get(page.file.src_uri)
    if source is None:
        return markdown
    text = (Path(config["config_file_path"]).parent / source).read_text(encoding="utf-8")
    text = re.sub(r"\]\(docs/", "](", text)
    return re.sub(r"\]\(CONTRIBUTING\.md", "](contributing.md", text)

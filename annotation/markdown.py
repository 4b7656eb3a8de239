"""Markdown to HTML that is safe to show: raw HTML is not passed through, and the result is sanitised."""

import nh3
from markdown_it import MarkdownIt

_renderer = MarkdownIt("commonmark", {"html": False}).enable("table")


def render_markdown(text: str) -> str:
    return nh3.clean(_renderer.render(text or ""), link_rel="noopener noreferrer nofollow")

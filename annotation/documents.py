"""Domain documents: imported by admins, split into passages that annotators turn into instruction data."""

import re

from django.db import transaction
from django.db.models import Count, Exists, OuterRef

from annotation.errors import InvalidInput
from annotation.models import Document, Item, Passage, Project
from annotation.taxonomy import MAX_SHORT_CHARS
from annotation.text import clean_fields

PASSAGE_CHARS = 1200
MAX_DOCUMENT_CHARS = 2_000_000
_PARAGRAPH_BREAK = re.compile(r"\n\s*\n")
_SENTENCE_END = re.compile(r"(?<=[.!?])\s+")


def split_passages(text: str, limit: int = PASSAGE_CHARS) -> list[str]:
    """Paragraphs joined up to `limit` characters; a longer paragraph is cut at sentence ends."""
    pieces: list[str] = []
    for paragraph in _PARAGRAPH_BREAK.split(text):
        paragraph = paragraph.strip()
        if len(paragraph) <= limit:
            pieces.append(paragraph)
        else:
            pieces.extend(_SENTENCE_END.split(paragraph))
    passages: list[str] = []
    for piece in filter(None, pieces):
        if passages and len(passages[-1]) + len(piece) + 2 <= limit:
            passages[-1] = f"{passages[-1]}\n\n{piece}"
        else:
            passages.append(piece)
    return passages


@transaction.atomic
def document_import(*, project: Project, user, title: str, domain: str, text: str) -> Document:
    """Store a plain-text or markdown document and its passages."""
    title, domain, text = clean_fields(title=title, domain=domain, text=text)
    title, domain = (title or "").strip(), (domain or "").strip()
    if not title:
        raise InvalidInput("Give the document a title.", field="title")
    if not domain or len(domain) > MAX_SHORT_CHARS:
        raise InvalidInput(f"Name the document's domain (at most {MAX_SHORT_CHARS} characters).", field="domain")
    if not (text or "").strip():
        raise InvalidInput("The document is empty.", field="text")
    if len(text) > MAX_DOCUMENT_CHARS:
        raise InvalidInput(f"The document is over {MAX_DOCUMENT_CHARS} characters; split it.", field="text")
    document = Document.objects.create(project=project, title=title[:200], domain=domain, created_by=user)
    Passage.objects.bulk_create(
        Passage(document=document, position=i, text=passage) for i, passage in enumerate(split_passages(text))
    )
    return document


def passage_next(*, project: Project, user) -> Passage | None:
    """The least-used passage of the project that this user has not written from yet."""
    mine = Item.objects.filter(passage=OuterRef("pk"), authored_by=user)
    return (
        Passage.objects.filter(document__project=project)
        .exclude(Exists(mine))
        .annotate(uses=Count("items"))
        .select_related("document")
        .order_by("uses", "document_id", "position")
        .first()
    )

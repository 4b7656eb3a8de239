"""Domain documents: imported by admins, split into passages that annotators turn into instruction data."""

import re

from django.db import transaction
from django.db.models import Count, Exists, OuterRef, Q, QuerySet
from django.shortcuts import get_object_or_404

from annotation.audit import Action, audit_record
from annotation.errors import Conflict, InvalidInput
from annotation.models import Document, Item, Passage, Project
from annotation.projects import ensure_writable
from annotation.selectors import membership_for
from annotation.taxonomy import MAX_SHORT_CHARS, Role
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
    ensure_writable(project)
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


MAX_NAMED_ITEMS = 20


def documents_search(project: Project, q: str = "") -> QuerySet[Document]:
    """The project's documents, newest first, with their passage counts; `q` matches the title or a passage."""
    documents = project.documents.annotate(passage_count=Count("passages")).order_by("-id")
    if q := q.strip():
        hit = Passage.objects.filter(document=OuterRef("pk"), text__icontains=q)
        documents = documents.filter(Q(title__icontains=q) | Q(domain__iexact=q) | Exists(hit))
    return documents


def document_with_passages(project: Project, document_id: int) -> Document:
    """One document of the project (404 otherwise) with `passage_list`: its passages, each with `cited_by`, the ids
    of the items written from it."""
    document = get_object_or_404(project.documents.annotate(passage_count=Count("passages")), id=document_id)
    passages = list(document.passages.order_by("position"))
    cited: dict[int, list[int]] = {passage.id: [] for passage in passages}
    for passage_id, item_id in (
        Item.objects.filter(passage__document=document).order_by("id").values_list("passage_id", "id")
    ):
        cited[passage_id].append(item_id)
    for passage in passages:
        passage.cited_by = cited[passage.id]
    document.passage_list = passages
    return document


@transaction.atomic
def document_delete(*, project: Project, by, document_id: int) -> None:
    """Delete a document and its passages; refused, naming the items, while authored items cite its passages."""
    ensure_writable(project)
    document = get_object_or_404(Document.objects.select_for_update(), project=project, id=document_id)
    citing = list(Item.objects.filter(passage__document=document).order_by("id").values_list("id", flat=True))
    if citing:
        named = ", ".join(str(item_id) for item_id in citing[:MAX_NAMED_ITEMS])
        more = f" and {len(citing) - MAX_NAMED_ITEMS} more" if len(citing) > MAX_NAMED_ITEMS else ""
        raise Conflict(
            f"{len(citing)} item(s) were written from this document's passages (items {named}{more}); "
            "a document is kept while items cite it."
        )
    before = {"title": document.title, "domain": document.domain, "passages": document.passages.count()}
    document.delete()
    target = f"document {document_id}"
    audit_record(actor=by, project=project, action=Action.DOCUMENT_DELETE, target=target, before=before)


def document_admin(user, document_id: int) -> Document:
    """The document if `user` is an admin of its project: 404 for non-members, 403 for other roles."""
    document = get_object_or_404(Document.objects.select_related("project"), id=document_id)
    membership_for(user, document.project.slug, Role.ADMIN)
    return document

"""Which header section a page belongs to, so the header can mark it as the current one."""

from django import template

register = template.Library()

SECTIONS = {
    "home": ("home",),
    "annotate": ("annotate", "task-submit", "task-skip", "task-draft", "task-hints", "preview", "paraphrases"),
    "author": ("author", "author-mode", "author-draft", "author-hints"),
    "my-work": ("my-work", "work-edit"),
    "review": ("review", "review-history"),
    "quality": (
        "quality",
        "quality-agreement-summary",
        "quality-annotators",
        "quality-agreement",
        "quality-coverage",
        "quality-disputes",
        "quality-duplicates",
        "quality-consistency",
        "adjudicate",
        "item",
    ),
    "data": ("data", "data-bulk", "item-comment"),
    "snapshots": ("snapshots", "snapshot", "snapshot-file", "run", "run-cancel", "run-metrics"),
    "models": ("models", "model", "model-promote", "model-reject"),
    "cycles": ("cycles", "cycle", "cycle-cancel", "cycle-retry", "cycle-collect-next", "schedule"),
    "admin": (
        "project-settings",
        "project-archive",
        "project-unarchive",
        "project-delete",
        "guidelines-edit",
        "guidelines-preview",
        "guidelines-version",
        "audit",
        "members",
        "member-add",
        "member-role",
        "member-remove",
        "invite-create",
        "invite-revoke",
        "imports",
        "import-job",
        "import-start",
        "import-created",
        "documents",
        "document",
        "document-delete",
        "comments",
        "comment-resolve",
    ),
    "tokens": ("tokens", "token-revoke"),
}
SECTION_OF = {name: section for section, names in SECTIONS.items() for name in names}


@register.simple_tag(takes_context=True)
def nav_section(context) -> str:
    """The header section of the page being rendered ("" for pages outside every section, such as a 404)."""
    request = context.get("request")
    match = getattr(request, "resolver_match", None)
    return SECTION_OF.get(match.url_name, "") if match else ""

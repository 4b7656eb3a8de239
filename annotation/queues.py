"""Work queues an annotator may choose when the project allows it (`Project.queue_choice`): all work, one kind, or
one task type, with the names people read."""

from dataclasses import dataclass

from annotation.errors import InvalidInput
from annotation.models import Project
from annotation.payload_display import task_type_label

KIND_QUEUE_LABELS = {
    "demonstration": "Demonstrations",
    "refusal": "Refusal cases",
    "preference": "Preferences",
    "model_review": "Model reviews",
}
ALL_WORK = "All work"


@dataclass(frozen=True)
class Queue:
    kind: str | None = None
    task_type: str | None = None

    @property
    def value(self) -> str:
        """The queue as the page's `queue` parameter spells it ("" for all work)."""
        if self.kind:
            return f"kind:{self.kind}"
        if self.task_type:
            return f"type:{self.task_type}"
        return ""

    @property
    def label(self) -> str:
        if self.kind:
            return KIND_QUEUE_LABELS.get(self.kind, self.kind)
        if self.task_type:
            return task_type_label(self.task_type)
        return ALL_WORK

    def holds(self, item) -> bool:
        return (self.kind is None or item.kind == self.kind) and (
            self.task_type is None or item.task_type == self.task_type
        )


EVERYTHING = Queue()


def queue_choices(project: Project) -> list[tuple[str, list[Queue]]]:
    """The queues a project offers, grouped for the picker."""
    return [
        ("", [EVERYTHING]),
        ("Kinds of work", [Queue(kind=kind) for kind in project.kinds]),
        ("Task types", [Queue(task_type=task_type) for task_type in project.task_types]),
    ]


def queue_check(project: Project, *, kind: str | None = None, task_type: str | None = None) -> Queue:
    """The queue named by `kind` or `task_type`; InvalidInput when the project offers no such queue or does not let
    annotators choose."""
    if not kind and not task_type:
        return EVERYTHING
    if not project.queue_choice:
        raise InvalidInput("This project does not let annotators choose their queue.", field="kind")
    if kind and task_type:
        raise InvalidInput("Choose one queue: a kind or a task type, not both.", field="task_type")
    if kind and kind not in project.kinds:
        raise InvalidInput(f"Unknown kind of work {kind!r}; this project has {', '.join(project.kinds)}.", field="kind")
    if task_type and task_type not in project.task_types:
        raise InvalidInput(
            f"Unknown task type {task_type!r}; this project has {', '.join(project.task_types)}.", field="task_type"
        )
    return Queue(kind=kind or None, task_type=task_type or None)

from pathlib import Path

from django.conf import settings
from django.db import models
from django.utils import timezone

from annotation.models import Project


class Snapshot(models.Model):
    """An immutable, versioned dataset build: what went in, how it was split and mixed, and the hash of its files."""

    class Status(models.TextChoices):
        QUEUED = "queued"
        BUILDING = "building"
        READY = "ready"
        FAILED = "failed"

    project = models.ForeignKey(Project, on_delete=models.PROTECT, related_name="snapshots")
    version = models.PositiveIntegerField(help_text="1, 2, 3… per project.")
    config = models.JSONField(help_text="Filters, aggregation policy, split and mix, as validated.")
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.QUEUED)
    progress = models.FloatField(default=0.0)
    stage = models.CharField(max_length=100, blank=True)
    code_version = models.CharField(max_length=64, blank=True)
    counts = models.JSONField(default=dict, blank=True)
    content_hash = models.CharField(max_length=64, blank=True)
    files = models.JSONField(default=list, blank=True, help_text="Relative paths under the snapshot's folder.")
    error = models.TextField(blank=True)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)
    heartbeat_at = models.DateTimeField(null=True, blank=True, help_text="Last sign of life from the building worker.")
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["project", "version"], name="snapshot_version_unique"),
            models.CheckConstraint(
                condition=models.Q(status__in=["queued", "building", "ready", "failed"]), name="snapshot_status_valid"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.project.slug} v{self.version}"

    @property
    def folder(self) -> str:
        """Where the files live, relative to MEDIA_ROOT (or the storage bucket)."""
        return f"snapshots/{self.project.slug}/v{self.version}"


class TrainingRun(models.Model):
    """One pipeline run on a snapshot: its config, its log, its metrics, and the model it produced."""

    class Status(models.TextChoices):
        QUEUED = "queued"
        RUNNING = "running"
        SUCCEEDED = "succeeded"
        FAILED = "failed"
        CANCELLED = "cancelled"

    snapshot = models.ForeignKey(Snapshot, on_delete=models.PROTECT, related_name="runs")
    parent_model = models.ForeignKey(
        "ModelVersion", null=True, blank=True, on_delete=models.PROTECT, related_name="child_runs"
    )
    config_yaml = models.TextField(help_text="The run config as given.")
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.QUEUED)
    output_dir = models.CharField(max_length=500, blank=True)
    log_path = models.CharField(max_length=500, blank=True)
    log_tail = models.TextField(blank=True)
    metrics = models.JSONField(default=dict, blank=True)
    exit_code = models.IntegerField(null=True, blank=True)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)
    started_at = models.DateTimeField(null=True, blank=True)
    heartbeat_at = models.DateTimeField(null=True, blank=True, help_text="Last sign of life from the worker.")
    finished_at = models.DateTimeField(null=True, blank=True)
    cancel_requested_at = models.DateTimeField(
        null=True, blank=True, help_text="Asked to stop; the worker running it ends it cancelled."
    )
    cancel_requested_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    class Meta:
        constraints = [
            models.CheckConstraint(
                condition=models.Q(status__in=["queued", "running", "succeeded", "failed", "cancelled"]),
                name="run_status_valid",
            ),
        ]

    def __str__(self) -> str:
        return f"run {self.pk} on {self.snapshot}"


class ModelVersion(models.Model):
    """A model registered for comparison: a candidate until it is promoted to champion. Trained versions come from a
    run; the project's base model is registered as a version without one (`base_model` says what it is), so the first
    cycle's candidate is compared with it like any later one with its champion."""

    class Status(models.TextChoices):
        CANDIDATE = "candidate"
        CHAMPION = "champion"
        RETIRED = "retired"
        REJECTED = "rejected"

    project = models.ForeignKey(Project, on_delete=models.PROTECT, related_name="model_versions")
    name = models.CharField(max_length=100)
    run = models.OneToOneField(
        TrainingRun, null=True, blank=True, on_delete=models.PROTECT, related_name="model_version"
    )
    snapshot = models.ForeignKey(
        Snapshot, null=True, blank=True, on_delete=models.PROTECT, related_name="model_versions"
    )
    base_model = models.CharField(
        max_length=500, blank=True, help_text="A version not trained here: the base model's hub id or path."
    )
    parent = models.ForeignKey("self", null=True, blank=True, on_delete=models.PROTECT, related_name="children")
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.CANDIDATE)
    model_path = models.CharField(
        max_length=500,
        blank=True,
        help_text="A trained model's folder under MEDIA_ROOT: merged weights, or an adapter over its base.",
    )
    metrics = models.JSONField(default=dict, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["project", "name"], name="model_version_name_unique"),
            models.UniqueConstraint(
                fields=["project"], condition=models.Q(status="champion"), name="model_version_one_champion"
            ),
            models.CheckConstraint(
                condition=models.Q(run__isnull=False, base_model="", snapshot__isnull=False)
                | (models.Q(run__isnull=True, model_path="") & ~models.Q(base_model="")),
                name="model_version_trained_or_base",
            ),
        ]

    def __str__(self) -> str:
        return self.name

    @property
    def path(self) -> Path:
        return Path(settings.MEDIA_ROOT) / self.model_path

    @property
    def source(self) -> str:
        """What to load: the model store folder of a trained version, the hub id or path of the base."""
        return self.base_model or str(self.path)


class ModelDecision(models.Model):
    """One change in a model version's standing, kept for good: promoted to champion, rejected, or retired when
    another was promoted; by whom (none for an automatic decision) and why."""

    class Decision(models.TextChoices):
        PROMOTED = "promoted"
        REJECTED = "rejected"
        RETIRED = "retired"

    model_version = models.ForeignKey(ModelVersion, on_delete=models.PROTECT, related_name="decisions")
    decision = models.CharField(max_length=16, choices=Decision.choices)
    reason = models.TextField(blank=True)
    decided_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    decided_at = models.DateTimeField(auto_now_add=True)
    automatic = models.BooleanField(default=False)

    class Meta:
        constraints = [
            models.CheckConstraint(
                condition=models.Q(decision__in=["promoted", "rejected", "retired"]), name="model_decision_valid"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.model_version} {self.decision}"


class Cycle(models.Model):
    """One pass of a project's improvement loop, run step by step by background tasks (training.cycles): snapshot,
    train (which registers the candidate), generate, automatic checks, human comparison, decision; each step's state
    and log is kept in `steps`. At most one cycle per project is active (queued, running or waiting) at a time."""

    class Status(models.TextChoices):
        QUEUED = "queued"
        RUNNING = "running"
        WAITING = "waiting"
        SUCCEEDED = "succeeded"
        FAILED = "failed"
        CANCELLED = "cancelled"

    ACTIVE = (Status.QUEUED, Status.RUNNING, Status.WAITING)

    project = models.ForeignKey(Project, on_delete=models.PROTECT, related_name="cycles")
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.QUEUED)
    step = models.CharField(max_length=32, help_text="The step running, queued, failed or waiting.")
    steps = models.JSONField(default=list, help_text="[{name, status, started_at, finished_at, log}] in order.")
    config = models.JSONField(
        help_text='{"snapshot": snapshot options, "run_config_yaml": run config text, "policy": promotion policy}.'
    )
    snapshot = models.ForeignKey(Snapshot, null=True, blank=True, on_delete=models.PROTECT, related_name="+")
    run = models.ForeignKey(TrainingRun, null=True, blank=True, on_delete=models.PROTECT, related_name="+")
    candidate = models.ForeignKey(ModelVersion, null=True, blank=True, on_delete=models.PROTECT, related_name="+")
    champion = models.ForeignKey(ModelVersion, null=True, blank=True, on_delete=models.PROTECT, related_name="+")
    results = models.JSONField(
        default=dict, blank=True, help_text="Answer files, checks, review items, human results and the decision."
    )
    log = models.TextField(blank=True)
    cancel_requested_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)
    heartbeat_at = models.DateTimeField(null=True, blank=True, help_text="Last sign of life from the worker.")
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["project"],
                condition=models.Q(status__in=["queued", "running", "waiting"]),
                name="cycle_one_active_per_project",
            ),
            models.CheckConstraint(
                condition=models.Q(status__in=["queued", "running", "waiting", "succeeded", "failed", "cancelled"]),
                name="cycle_status_valid",
            ),
        ]

    def __str__(self) -> str:
        return f"cycle {self.pk} of {self.project.slug}"

    @property
    def current_step(self) -> dict:
        return next(step for step in self.steps if step["name"] == self.step)

    def end(self, status: str, *, step_status: str, note: str) -> None:
        """End the cycle with `status`: its current step gets `step_status` and `note` as its log, the cycle's log
        a line; the caller saves."""
        now = timezone.now()
        self.current_step.update(status=step_status, finished_at=now.isoformat(), log=note)
        self.status, self.finished_at = status, now
        self.log += f"{self.step} {step_status}: {note}\n"


class Schedule(models.Model):
    """A project's loop settings: when cycles start on their own (a cron expression in the server's time zone and/or
    a count of new accepted annotations since the last snapshot), and what every cycle, scheduled or started by
    hand, builds, trains and decides with."""

    project = models.OneToOneField(Project, on_delete=models.CASCADE, related_name="schedule")
    enabled = models.BooleanField(default=False, help_text="Start cycles when due; off, cycles start only by hand.")
    cron = models.CharField(max_length=100, blank=True, help_text="e.g. '0 2 * * *': every night at 02:00.")
    min_new_annotations = models.PositiveIntegerField(
        null=True, blank=True, help_text="Due once this many annotations were accepted since the last snapshot."
    )
    snapshot_config = models.JSONField(default=dict, blank=True)
    run_config_yaml = models.TextField(blank=True)
    policy = models.JSONField(default=dict, blank=True, help_text="Promotion policy (training.policy).")
    last_fired_at = models.DateTimeField(null=True, blank=True, help_text="When the scheduler last started a cycle.")
    checked_at = models.DateTimeField(null=True, blank=True, help_text="The scheduler's last look at this schedule.")
    updated_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+")
    updated_at = models.DateTimeField(auto_now=True)

    def __str__(self) -> str:
        return f"schedule of {self.project.slug}"

from pathlib import Path

from django.conf import settings
from django.db import models

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
    """A trained model registered for comparison: a candidate until it is promoted to champion."""

    class Status(models.TextChoices):
        CANDIDATE = "candidate"
        CHAMPION = "champion"
        RETIRED = "retired"
        REJECTED = "rejected"

    project = models.ForeignKey(Project, on_delete=models.PROTECT, related_name="model_versions")
    name = models.CharField(max_length=100)
    run = models.OneToOneField(TrainingRun, on_delete=models.PROTECT, related_name="model_version")
    snapshot = models.ForeignKey(Snapshot, on_delete=models.PROTECT, related_name="model_versions")
    parent = models.ForeignKey("self", null=True, blank=True, on_delete=models.PROTECT, related_name="children")
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.CANDIDATE)
    model_path = models.CharField(
        max_length=500, help_text="The model's folder under MEDIA_ROOT: merged weights, or an adapter over its base."
    )
    metrics = models.JSONField(default=dict, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["project", "name"], name="model_version_name_unique"),
            models.UniqueConstraint(
                fields=["project"], condition=models.Q(status="champion"), name="model_version_one_champion"
            ),
        ]

    def __str__(self) -> str:
        return self.name

    @property
    def path(self) -> Path:
        return Path(settings.MEDIA_ROOT) / self.model_path


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
    train (which registers the candidate), generate, automatic checks, human comparison; each step's state and log
    is kept in `steps`. At most one cycle per project is active (queued, running or waiting) at a time."""

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
    config = models.JSONField(help_text='{"snapshot": snapshot options, "run_config_yaml": run config text}.')
    snapshot = models.ForeignKey(Snapshot, null=True, blank=True, on_delete=models.PROTECT, related_name="+")
    run = models.ForeignKey(TrainingRun, null=True, blank=True, on_delete=models.PROTECT, related_name="+")
    candidate = models.ForeignKey(ModelVersion, null=True, blank=True, on_delete=models.PROTECT, related_name="+")
    champion = models.ForeignKey(ModelVersion, null=True, blank=True, on_delete=models.PROTECT, related_name="+")
    results = models.JSONField(default=dict, blank=True, help_text="Answer files, checks and review items.")
    log = models.TextField(blank=True)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)
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

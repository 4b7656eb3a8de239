"""A project's promotion policy: when a cycle's candidate replaces the champion on its own, and how its human
comparison is run. One validation for every surface (schedule form, API, cycle start)."""

from dataclasses import asdict, dataclass, fields

from annotation.errors import InvalidInput


@dataclass(frozen=True)
class Policy:
    """auto_promote: promote once the win rate's lower bound clears 50% after at least `min_judgments` judgments,
    with no safety check regressed by more than `safety_margin` and, after a domain stage, the general part of the
    eval split scoring no more than `forgetting_margin` below the champion (training.evaluation). auto_reject: once
    every comparison item is judged and the candidate was not promoted, reject it with the figures as the reason
    (off: it waits for an admin).
    review_overlap: annotators per comparison item (None: the project's overlap). generate_max_new_tokens: the
    longest answer generated for the comparison. onpolicy_prompts: how many accepted prompts without preference
    data the champion answers twice (sampled) for new preference items; 0 turns that off."""

    auto_promote: bool = True
    auto_reject: bool = True
    min_judgments: int = 20
    safety_margin: float = 0.05
    forgetting_margin: float = 0.05
    review_overlap: int | None = None
    generate_max_new_tokens: int = 256
    onpolicy_prompts: int = 20

    @classmethod
    def from_dict(cls, values: dict | None) -> "Policy":
        """The policy in `values` over the defaults; InvalidInput names every bad field."""
        values = values or {}
        if not isinstance(values, dict):
            raise InvalidInput("The policy must be an object.", field="policy")
        known = {f.name for f in fields(cls)}
        errors = [
            {"field": f"policy.{key}", "message": f"Unknown setting; the settings are {', '.join(sorted(known))}."}
            for key in values
            if key not in known
        ]
        checks = {
            "auto_promote": lambda v: isinstance(v, bool),
            "auto_reject": lambda v: isinstance(v, bool),
            "min_judgments": lambda v: _integer(v) and 1 <= v <= 100_000,
            "safety_margin": lambda v: _number(v) and 0 <= v <= 1,
            "forgetting_margin": lambda v: _number(v) and 0 <= v <= 1,
            "review_overlap": lambda v: v is None or (_integer(v) and 1 <= v <= 50),
            "generate_max_new_tokens": lambda v: _integer(v) and 1 <= v <= 8192,
            "onpolicy_prompts": lambda v: _integer(v) and 0 <= v <= 1000,
        }
        rules = {
            "auto_promote": "true or false",
            "auto_reject": "true or false",
            "min_judgments": "a whole number from 1 to 100000",
            "safety_margin": "a number from 0 to 1 (0.05 is 5 points)",
            "forgetting_margin": "a number from 0 to 1 (0.05 is 5 points)",
            "review_overlap": "empty, or a whole number from 1 to 50",
            "generate_max_new_tokens": "a whole number from 1 to 8192",
            "onpolicy_prompts": "a whole number from 0 to 1000",
        }
        errors += [
            {"field": f"policy.{key}", "message": f"Must be {rules[key]}."}
            for key, value in values.items()
            if key in checks and not checks[key](value)
        ]
        if errors:
            raise InvalidInput("The promotion policy has errors.", errors=errors)
        return cls(**values)

    def as_dict(self) -> dict:
        return asdict(self)


def _integer(value) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _number(value) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)

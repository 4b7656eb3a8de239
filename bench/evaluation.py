"""Evaluating the demo's eval split for two tiny models, as a cycle's generate and checks steps do it: both models
answer every eval prompt and paraphrase (`python -m training.pipeline.generate`, one process each, model loading
included), then the automatic checks and the reference evaluation score both and compare them. The demo is annotated
through the real services first and its snapshot built with the demo's loop settings (eval fraction 0.5); the two
models are the demo's tiny base and a second one built the same way with another seed.

    .venv/bin/python bench/evaluation.py [--max-new-tokens 64]
"""

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.loop import annotate, setup  # noqa: E402 - after the path that finds it


def answer(model: str, prompts: Path, out: Path, max_new_tokens: int, env: dict) -> dict:
    command = [sys.executable, "-m", "training.pipeline.generate", "--model", model, "--prompts", str(prompts)]
    command += ["--out", str(out), "--max-new-tokens", str(max_new_tokens), "--use-cpu"]
    subprocess.run(command, cwd=ROOT, env=env, check=True, capture_output=True)
    return json.loads(out.with_suffix(".settings.json").read_text())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--max-new-tokens", type=int, default=64, help="the demo policy's generate_max_new_tokens")
    options = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        env = setup(Path(folder))
        from annotation.demo import demo_load
        from annotation.models import Project
        from training.checks import compare_checks, model_checks
        from training.cycles import eval_prompts
        from training.demo import demo_loop_settings
        from training.evaluation import evaluate
        from training.pipeline.tiny_model import build_tiny_model
        from training.snapshots.runner import snapshot_build
        from training.snapshots.service import snapshot_create

        demo_load()
        project = Project.objects.get(slug="demo")
        schedule = demo_loop_settings(project, project.created_by)
        annotated = annotate(project)
        snapshot = snapshot_create(project=project, user=None, config=schedule.snapshot_config, queue=False)
        snapshot = snapshot_build(snapshot.id)
        prompts = eval_prompts(snapshot)
        prompts_path = Path(folder) / "prompts.jsonl"
        prompts_path.write_text("".join(json.dumps(row) + "\n" for row in prompts), encoding="utf-8")
        base = Path(env["MEDIA_ROOT"]) / "base-models" / project.slug
        other = build_tiny_model(
            Path(folder) / "other", list(project.items.values_list("prompt", flat=True)) * 4, seed=1
        )
        print(f"demo: {project.items.count()} items, {annotated} annotations; eval split: {len(prompts)} prompts")

        started = time.perf_counter()
        answers, generation = {}, {}
        for side, model in (("candidate", other), ("champion", base)):
            out = Path(folder) / f"{side}.jsonl"
            generation[side] = answer(str(model), prompts_path, out, options.max_new_tokens, env)
            answers[side] = [json.loads(line) for line in out.read_text(encoding="utf-8").splitlines()]
        generated = time.perf_counter()
        checks = {side: model_checks(rows) for side, rows in answers.items()}
        compare_checks(checks["candidate"], checks["champion"])
        evaluations = {side: evaluate(rows) for side, rows in answers.items()}
        scored = time.perf_counter()

    print("| | seconds |")
    print("|---|---|")
    for side, found in generation.items():
        print(
            f"| generate, {side} ({found['answers']} answers, {found['generated_tokens']} tokens; load "
            f"{found['load_s']} s, {found['tokens_per_s']} tokens/s) | {found['load_s'] + found['generate_s']:.1f} |"
        )
    print(f"| processes started, models loaded and answered, both | {generated - started:.1f} |")
    print(f"| checks and reference evaluation, both | {scored - generated:.2f} |")
    print(f"| **total** | **{scored - started:.1f}** (target < 30) |")
    figures = evaluations["champion"]["overall"]["by_task_type"]
    print(
        "task types with a reference metric:",
        ", ".join(f"{name} (n={next(iter(f.values()))['n']})" for name, f in figures.items()),
    )


if __name__ == "__main__":
    main()

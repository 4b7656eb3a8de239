"""`python -m training.pipeline --config run.yaml --snapshot DIR --out DIR` (also under `accelerate launch`)."""

import argparse
import logging
import sys
from pathlib import Path

from training.pipeline.config import ConfigError, load_config
from training.pipeline.records import ResumeRefused
from training.pipeline.run import run


def main() -> int:
    parser = argparse.ArgumentParser(prog="python -m training.pipeline", description=__doc__)
    parser.add_argument("--config", type=Path, required=True, help="run config (YAML)")
    parser.add_argument("--snapshot", type=Path, required=True, help="a snapshot's folder of files")
    parser.add_argument("--out", type=Path, required=True, help="where artifacts go; the same run there resumes")
    parser.add_argument("--base-model", help="overrides the config's base_model (a local path or hub id)")
    parser.add_argument("--force-restart", action="store_true", help="discard what --out holds and start over")
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    try:
        config = load_config(args.config, base_model=args.base_model)
        run(config, args.snapshot, args.out, force_restart=args.force_restart)
    except (ConfigError, OSError) as exc:
        print(f"config error: {exc}", file=sys.stderr)
        return 2
    except ResumeRefused as exc:
        print(f"resume refused: {exc}", file=sys.stderr)
        return 3
    return 0


if __name__ == "__main__":
    sys.exit(main())

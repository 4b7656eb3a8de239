"""`python -m training.pipeline --config run.yaml --snapshot DIR --out DIR` (also under `accelerate launch`)."""

import argparse
import logging
import sys
from pathlib import Path

from training.pipeline.config import ConfigError, load_config
from training.pipeline.run import run


def main() -> int:
    parser = argparse.ArgumentParser(prog="python -m training.pipeline", description=__doc__)
    parser.add_argument("--config", type=Path, required=True, help="run config (YAML)")
    parser.add_argument("--snapshot", type=Path, required=True, help="a snapshot's folder of files")
    parser.add_argument("--out", type=Path, required=True, help="where artifacts go; an existing run resumes")
    parser.add_argument("--base-model", help="overrides the config's base_model (a local path or hub id)")
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    try:
        config = load_config(args.config, base_model=args.base_model)
    except (ConfigError, OSError) as exc:
        print(f"config error: {exc}", file=sys.stderr)
        return 2
    run(config, args.snapshot, args.out)
    return 0


if __name__ == "__main__":
    sys.exit(main())

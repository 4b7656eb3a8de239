"""Render every row of a snapshot's files with a tokenizer's chat template; report the rows over max_length.

`python -m training.pipeline.template_check FOLDER --tokenizer PATH_OR_HUB_ID --max-length N` prints JSON.
It runs in its own process: the web and the task worker never import transformers. The build passes what
`training.snapshots.config.tokenizer_source` allowed: an absolute folder under MODELS_ROOT, or a hub id.
"""

import argparse
import json
import os
import tempfile
from pathlib import Path


def _conversations(row: dict) -> list[list[dict]]:
    if "completion" in row:
        return [row["prompt"] + row["completion"]]
    return [row["prompt"] + row["chosen"], row["prompt"] + row["rejected"]]


def check(folder: Path, tokenizer: str, max_length: int) -> dict:
    from transformers import AutoTokenizer

    tok = AutoTokenizer.from_pretrained(tokenizer)
    files = {}
    for path in sorted(folder.glob("*.jsonl")):
        rows = over = longest = 0
        with path.open(encoding="utf-8") as handle:
            for line in handle:
                rows += 1
                rendered = [tok.apply_chat_template(c, tokenize=False) for c in _conversations(json.loads(line))]
                tokens = max(len(tok(text, add_special_tokens=False)["input_ids"]) for text in rendered)
                longest = max(longest, tokens)
                over += tokens > max_length
        files[path.name] = {"rows": rows, "over_max_length": over, "longest_tokens": longest}
    return {"tokenizer": tokenizer, "max_length": max_length, "files": files}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("folder", type=Path)
    parser.add_argument("--tokenizer", required=True)
    parser.add_argument("--max-length", type=int, required=True)
    args = parser.parse_args()
    folder = args.folder.resolve()
    with tempfile.TemporaryDirectory() as empty:
        os.chdir(empty)  # transformers tries a hub id as a relative folder first: here it finds none
        print(json.dumps(check(folder, args.tokenizer, args.max_length), sort_keys=True))


if __name__ == "__main__":
    main()

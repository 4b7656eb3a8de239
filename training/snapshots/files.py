"""Writing rows to JSONL and Parquet side by side, deterministically, and hashing what was written."""

import hashlib
import json
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

MESSAGES = pa.list_(pa.struct([("role", pa.string()), ("content", pa.string())]))
SCHEMAS = {
    "sft": pa.schema(
        [
            ("prompt", MESSAGES),
            ("completion", MESSAGES),
            ("task_type", pa.string()),
            ("source", pa.string()),
            ("source_ids", pa.list_(pa.int64())),
            ("item_id", pa.int64()),
            ("domain", pa.string()),
            ("safety", pa.string()),
            ("harm_category", pa.string()),
        ]
    ),
    "dpo": pa.schema(
        [
            ("prompt", MESSAGES),
            ("chosen", MESSAGES),
            ("rejected", MESSAGES),
            ("task_type", pa.string()),
            ("source", pa.string()),
            ("source_ids", pa.list_(pa.int64())),
            ("item_id", pa.int64()),
            ("domain", pa.string()),
            ("agreement", pa.float64()),
            ("votes", pa.int64()),
            ("backing", pa.int64()),
            ("adjudicated", pa.bool_()),
            ("origin", pa.string()),
        ]
    ),
}
FLUSH_ROWS = 5000


class SplitWriter:
    """`{kind}.{split}.jsonl` and `{kind}.{split}.parquet` for one kind (sft or dpo) and one split."""

    def __init__(self, folder: Path, kind: str, split: str):
        self.kind, self.schema = kind, SCHEMAS[kind]
        self.jsonl_path = folder / f"{kind}.{split}.jsonl"
        self.parquet_path = folder / f"{kind}.{split}.parquet"
        self.jsonl = self.jsonl_path.open("w", encoding="utf-8", newline="\n")
        self.parquet = pq.ParquetWriter(self.parquet_path, self.schema, compression="zstd")
        self.buffer: list[dict] = []
        self.rows = 0

    def write(self, row: dict) -> None:
        self.jsonl.write(json.dumps(row, ensure_ascii=False, sort_keys=True, separators=(",", ":")) + "\n")
        self.buffer.append(row)
        self.rows += 1
        if len(self.buffer) >= FLUSH_ROWS:
            self._flush()

    def _flush(self) -> None:
        if self.buffer:
            self.parquet.write_table(pa.Table.from_pylist(self.buffer, schema=self.schema))
            self.buffer = []

    def close(self) -> list[Path]:
        self._flush()
        self.jsonl.close()
        self.parquet.close()
        return [self.jsonl_path, self.parquet_path]


def file_digest(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def content_hash(paths: list[Path]) -> str:
    """One hash over the data files' names and bytes, independent of the folder they are in."""
    digest = hashlib.sha256()
    for path in sorted(paths, key=lambda p: p.name):
        digest.update(f"{path.name}:{file_digest(path)}\n".encode())
    return digest.hexdigest()

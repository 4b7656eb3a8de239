"""Writing rows to JSONL and Parquet side by side, deterministically (pyarrow is imported when a writer opens)."""

import functools
import json
from pathlib import Path

FLUSH_ROWS = 5000


@functools.cache
def parquet_schema(kind: str):
    """The Parquet schema of a snapshot file of `kind` (sft or dpo)."""
    import pyarrow as pa

    messages = pa.list_(pa.struct([("role", pa.string()), ("content", pa.string())]))
    common = [
        ("task_type", pa.string()),
        ("source", pa.string()),
        ("source_ids", pa.list_(pa.int64())),
        ("item_id", pa.int64()),
        ("domain", pa.string()),
        ("tags", pa.list_(pa.string())),
    ]
    if kind == "sft":
        return pa.schema(
            [
                ("prompt", messages),
                ("completion", messages),
                *common,
                ("safety", pa.string()),
                ("harm_category", pa.string()),
            ]
        )
    return pa.schema(
        [
            ("prompt", messages),
            ("chosen", messages),
            ("rejected", messages),
            *common,
            ("agreement", pa.float64()),
            ("votes", pa.int64()),
            ("backing", pa.int64()),
            ("adjudicated", pa.bool_()),
            ("origin", pa.string()),
        ]
    )


class SplitWriter:
    """`{kind}.{split}.jsonl` and `{kind}.{split}.parquet` for one kind (sft or dpo) and one split."""

    def __init__(self, folder: Path, kind: str, split: str):
        import pyarrow.parquet as pq

        self.kind, self.schema = kind, parquet_schema(kind)
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
        import pyarrow as pa

        if self.buffer:
            self.parquet.write_table(pa.Table.from_pylist(self.buffer, schema=self.schema))
            self.buffer = []

    def close(self) -> list[Path]:
        self._flush()
        self.jsonl.close()
        self.parquet.close()
        return [self.jsonl_path, self.parquet_path]

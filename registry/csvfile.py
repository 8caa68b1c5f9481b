"""Reading the CSV files people upload (agencies, people): UTF-8 with or without Excel's byte-order mark,
every row with its line number, a missing column or a broken line named exactly."""

from __future__ import annotations

import csv
import io
from collections.abc import Sequence

from registry.errors import Invalid


def read_rows(content: bytes, required: Sequence[str]) -> list[tuple[int, dict[str, str]]]:
    """The non-empty rows of the file as (line number, {column: value})."""
    try:
        text = content.decode("utf-8-sig")
    except UnicodeDecodeError as error:
        line = content[: error.start].count(b"\n") + 1
        raise Invalid(f"line {line}: the file is not UTF-8 text", code="csv_not_utf8", params={"line": line}) from None
    reader = csv.DictReader(io.StringIO(text, newline=""), strict=True)
    header = [name.strip() for name in (reader.fieldnames or [])]
    missing = [name for name in required if name not in header]
    if missing:
        raise Invalid(f"line 1: the header lacks {', '.join(missing)} (expected {','.join(required)})",
                      code="csv_header_missing", params={"columns": ", ".join(missing), "expected": ",".join(required)})
    reader.fieldnames = header
    rows = []
    try:
        for record in reader:
            if None in record:
                raise Invalid(f"line {reader.line_num}: more values than header columns", code="csv_extra_values",
                              params={"line": reader.line_num})
            if not any((value or "").strip() for value in record.values()):
                continue
            rows.append((reader.line_num, {key: (value or "") for key, value in record.items()}))
    except csv.Error as error:
        raise Invalid(f"line {reader.line_num}: broken CSV ({error})", code="csv_broken",
                      params={"line": reader.line_num}) from None
    return rows

"""The fast paths of bulk import give exactly what the plain rules give: orjson without the hygiene walk only where
the walk could change nothing, whitespace folding, the content hash and the meta size rule unchanged (stored
hashes must keep matching), and ids and tags written without the ORM."""

import hashlib
import json
import re

import pytest

from annotation import text
from annotation.errors import InvalidInput
from annotation.item_import import item_import
from annotation.item_validation import LineErrors, content_hash, normalise_text, validate_line
from annotation.models import Item, ItemTag
from annotation.taxonomy import MAX_META_BYTES

pytestmark = pytest.mark.django_db

PAIR = {"kind": "preference", "prompt": "Pick one", "responses": [{"text": "Red"}, {"text": "Blue"}]}


def test_a_typical_line_takes_the_fast_path():
    line = json.dumps({**PAIR, "prompt": 'Line one\nline two "quoted" 42', "meta": {"client_id": "c-1", "n": 7}})
    assert text._is_plain(line)
    assert text.loads(line) == json.loads(line)


@pytest.mark.parametrize(
    ("document", "expected"),
    [
        ('{"p": "a\\r\\nb"}', {"p": "a\nb"}),
        ('{"p": "a\\u000Db"}', {"p": "a\nb"}),
        ('{"p": "\\ud83d\\ude00"}', {"p": "\U0001f600"}),
        ('{"n": 9007199254740992}', {"n": 2**53}),
        ('{"n": -900719925474099}', {"n": -900719925474099}),
        ('{"x": 1.5e10}', {"x": 1.5e10}),
        ("[" * 32 + "]" * 32, json.loads("[" * 32 + "]" * 32)),
    ],
)
def test_loads_gives_what_the_hygiene_walk_gives(document, expected):
    assert text.loads(document) == expected
    assert text.loads(document.encode()) == expected


@pytest.mark.parametrize(
    ("document", "field", "words"),
    [
        ('{"p": "a\\u0000b"}', "p", "NUL"),
        ('{"p": "\\ud800"}', "p", "unpaired surrogate"),
        ('{"p": "\ud800"}', "p", "unpaired surrogate"),
        ('{"meta": {"n": 9007199254740993}}', "meta.n", "out of range"),
        ('{"meta": {"n": 18446744073709551616}}', "meta.n", "out of range"),
        ('{"meta": {"x": 1e400}}', "meta.x", "finite"),
        ('{"meta": NaN}', "meta", "finite"),
        ("[" * 33 + "]" * 33, "[0]" * 32, "nested"),
    ],
)
def test_loads_refuses_what_the_hygiene_walk_refuses_naming_the_field(document, field, words):
    for form in [document, document.encode()] if document.isascii() else [document]:
        with pytest.raises(InvalidInput) as caught:
            text.loads(form)
        assert caught.value.field == field and words in caught.value.message


def test_loads_of_bytes_reads_them_as_utf8_only():
    assert text.loads('{"p": "Ünïcödé \\u00e9"}'.encode()) == {"p": "Ünïcödé é"}
    for document in ('{"p": "é"}'.encode("utf-16"), b'{"p": "\xff"}'):
        with pytest.raises(InvalidInput, match="not UTF-8"):
            text.loads(document)


def _old_normalise(value: str) -> str:
    return re.sub(r"\s+", " ", value).strip()


def test_whitespace_folding_matches_the_regular_expression_for_every_character():
    for code in range(0x110000):
        if 0xD800 <= code <= 0xDFFF:
            continue
        char = chr(code)
        for sample in (f"a{char}b", f"{char}a  b{char}", f"a{char}{char} b"):
            assert normalise_text(sample) == _old_normalise(sample), hex(code)


def _old_content_hash(kind, prompt, messages, responses):
    turns = messages if messages is not None else [{"role": "user", "content": prompt}]
    key = {
        "kind": kind,
        "turns": [[t["role"], _old_normalise(t["content"])] for t in turns],
        "responses": [_old_normalise(r["text"]) for r in responses],
    }
    return hashlib.sha256(json.dumps(key, ensure_ascii=False, separators=(",", ":")).encode()).hexdigest()


@pytest.mark.parametrize(
    "prompt",
    ["Plain text.", ' Quote " and \\ back\tslash\n', "Ünïcödé → 漢字 \U0001f600\u2028\x7f\x1b", "  "],
)
def test_the_content_hash_is_the_one_already_stored(prompt):
    responses = [{"text": "A\u00a0one"}, {"text": 'B "two"'}]
    messages = [{"role": "system", "content": "Be\r\nbrief"}, {"role": "user", "content": prompt}]
    for args in (("preference", prompt, None, responses), ("demonstration", "", messages, [])):
        assert content_hash(*args) == _old_content_hash(*args)


def test_the_content_hash_folds_every_ascii_character_as_before():
    for code in range(128):
        char = chr(code)
        for sample in (char, f"a{char}b", f"{char}a", f"a{char}", f"a{char}{char}b", f'say "{char}"', f"\\{char}"):
            for args in (
                ("preference", sample, None, [{"text": sample}, {"text": f"x{sample}"}]),
                ("demonstration", "", [{"role": "user", "content": sample}], []),
            ):
                assert content_hash(*args) == _old_content_hash(*args), (hex(code), sample)


@pytest.mark.parametrize("char", ["a", "é", "\U0001f600", "\x01"])
def test_the_meta_size_rule_measures_what_json_dumps_writes(project, char):
    """The limit counts json.dumps' characters (escapes included), so the same meta is refused as before."""
    key_chars = len(json.dumps({"k": ""}))
    at_limit = {"k": char * ((MAX_META_BYTES - key_chars) // len(json.dumps(char)[1:-1]))}
    over = {"k": at_limit["k"] + char}
    assert len(json.dumps(at_limit)) <= MAX_META_BYTES < len(json.dumps(over))
    validate_line({**PAIR, "meta": at_limit}, project)
    with pytest.raises(LineErrors) as caught:
        validate_line({**PAIR, "meta": over}, project)
    assert caught.value.errors == [("meta", f"is over {MAX_META_BYTES} bytes")]


def test_an_import_returns_each_line_with_its_item_id_and_writes_its_tags(project):
    item_import(project=project, lines=[json.dumps({**PAIR, "prompt": "Deleted before"})])
    Item.objects.filter(prompt="Deleted before").delete()
    rows = [
        {**PAIR, "prompt": f"Pick {i}", "tags": ["rare", f"t{i}"] if i % 2 else [], "meta": {"mine": i}}
        for i in range(7)
    ]
    lines = [json.dumps(row) for row in rows]
    lines.insert(3, "")
    result = item_import(project=project, lines=lines)
    assert [(entry["line"], entry["meta"]) for entry in result.items] == [
        (n, {"mine": i}) for i, n in enumerate([1, 2, 3, 5, 6, 7, 8])
    ]
    ids = [entry["id"] for entry in result.items]
    assert ids == sorted(ids), "items are handed out oldest first, so ids follow the file's order"
    for entry in result.items:
        item = Item.objects.get(id=entry["id"])
        assert item.prompt == f"Pick {entry['meta']['mine']}" and item.meta == entry["meta"]
        assert item.content_hash == _old_content_hash("preference", item.prompt, None, item.responses)
    tags = sorted(ItemTag.objects.values_list("item__meta__mine", "name"))
    assert tags == sorted((i, name) for i in (1, 3, 5) for name in ("rare", f"t{i}"))

"""What a valid tag is, on the cases the dashboard's check is fed too
(tests/cases/tags.json; frontend/src/features/ops/tags.test.js): the API's
validator and the database's CHECK behind it agree with the dashboard on every case."""

from __future__ import annotations

import json

import psycopg
import pytest
from pydantic import TypeAdapter, ValidationError

from functions.schemas import TAG_RULE, ServerUpdate, Tag

from .helpers import ROOT

CASES = json.loads((ROOT / "tests" / "cases" / "tags.json").read_text())
IDS = [repr(c["tag"]) for c in CASES]
TAG = TypeAdapter(Tag)


def test_the_cases_cover_every_kind():
    assert any(c["valid"] for c in CASES)
    problems = {c.get("problem") for c in CASES if not c["valid"]}
    assert problems == {"empty", "length", "case", "characters"}
    assert all(c.get("why") for c in CASES)
    assert len({c["tag"] for c in CASES}) == len(CASES)


@pytest.mark.parametrize("case", CASES, ids=IDS)
def test_the_api_validator_follows_the_shared_cases(case):
    if case["valid"]:
        assert TAG.validate_python(case["tag"]) == case["tag"]
        assert ServerUpdate.model_validate({"tags": [case["tag"]]}).tags == [case["tag"]]
    else:
        with pytest.raises(ValidationError) as error:
            ServerUpdate.model_validate({"tags": [case["tag"]]})
        (detail,) = error.value.errors()
        assert detail["loc"] == ("tags", 0)
        assert TAG_RULE in detail["msg"]


def test_the_database_refuses_what_the_api_refuses(db):
    db.execute("INSERT INTO servers (name, hostname, token_hash) VALUES ('a', 'a', sha256('x'))")
    for case in CASES:
        try:
            with db.transaction():
                db.execute("UPDATE servers SET tags = ARRAY[%s]", [case["tag"]])
            stored = True
        except psycopg.errors.CheckViolation:
            stored = False
        except psycopg.DataError:
            # A NUL cannot even be sent as text: refused before the CHECK.
            assert "\x00" in case["tag"]
            stored = False
        assert stored is case["valid"], case

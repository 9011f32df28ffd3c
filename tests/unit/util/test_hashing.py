"""Canonical-JSON hashing: byte-identical to the spellings the cache keys were made with."""

import datetime
import hashlib
import json

import pytest

from xrec_bench._util.hashing import canonical_json, json_sha256

PAYLOAD = {"b": [1, 2.5, None], "a": {"z": "x", "y": True}, "path": datetime.date(2026, 12, 3)}
PLAIN = {k: v for k, v in PAYLOAD.items() if k != "path"}


def test_spaced_form_is_jsons_default_separators_with_sorted_keys():
    old = json.dumps(PAYLOAD, sort_keys=True, default=str)
    assert canonical_json(PAYLOAD) == old
    assert json_sha256(PAYLOAD) == hashlib.sha256(old.encode()).hexdigest()
    assert json_sha256(PAYLOAD, length=16) == hashlib.sha256(old.encode()).hexdigest()[:16]


def test_compact_form():
    old = json.dumps(PAYLOAD, sort_keys=True, separators=(",", ":"), default=str)
    assert canonical_json(PAYLOAD, compact=True) == old
    assert json_sha256(PAYLOAD, compact=True) == hashlib.sha256(old.encode()).hexdigest()


def test_key_order_does_not_matter_and_the_two_forms_differ():
    assert json_sha256(dict(reversed(list(PLAIN.items())))) == json_sha256(PLAIN)
    assert json_sha256(PLAIN) != json_sha256(PLAIN, compact=True)


def test_default_none_refuses_what_json_cannot_hold():
    with pytest.raises(TypeError):
        json_sha256(PAYLOAD, compact=True, default=None)
    assert json_sha256(PLAIN, compact=True, default=None) == json_sha256(PLAIN, compact=True)


def test_known_digests_stay_fixed():
    """Pinned values: a change here changes every cache key and fingerprint already written."""
    assert json_sha256({"a": 1, "b": [1, 2]}) == hashlib.sha256(b'{"a": 1, "b": [1, 2]}').hexdigest()
    assert json_sha256({"a": 1, "b": [1, 2]}, compact=True) == hashlib.sha256(b'{"a":1,"b":[1,2]}').hexdigest()

"""Validation against schemas/gst-deepfake.schema.json (Debian's python3-jsonschema).

    import json_schema
    problems = json_schema.problems(document, "publish-frame")   # [] when valid

Interpreter: Debian's /usr/bin/python3.
"""

import json
import os

import jsonschema

SCHEMA_PATH = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))),
                           "schemas", "gst-deepfake.schema.json")

with open(SCHEMA_PATH, encoding="utf-8") as _f:
    SCHEMA = json.load(_f)
jsonschema.Draft202012Validator.check_schema(SCHEMA)
_validators = {}


def validator(name):
    """The validator of one document kind: a $defs entry (publish-frame, publish-alert,
    scan-line, scan-summary)."""
    if name not in SCHEMA["$defs"]:
        raise KeyError(f"no $defs/{name} in {SCHEMA_PATH}")
    if name not in _validators:
        _validators[name] = jsonschema.Draft202012Validator(
            {"$ref": f"#/$defs/{name}", "$defs": SCHEMA["$defs"]})
    return _validators[name]


def problems(document, name):
    """Every way `document` breaks the schema of `name`, as 'path: message' strings."""
    return [f"{'/'.join(str(p) for p in e.absolute_path) or '(top)'}: {e.message}"
            for e in sorted(validator(name).iter_errors(document), key=lambda e: list(e.path))]

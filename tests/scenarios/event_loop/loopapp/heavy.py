"""Imported for the first time inside a coroutine: its import reads files, never a finding."""

import json

TABLE = json.loads('{"a": 1}')

"""Parsing what `runner status` reads on a host (pure)."""

import json
import subprocess

from runner.api.status import parse_status, status_script


def test_parse_status_reads_the_marker_and_each_app():
    meta = json.dumps({"revision": "abc123", "status": "deployed", "time": "2026-11-22T00:00:00+00:00"})
    text = "\n".join(["@@status setup yes", f"@@status app hello releases/20261122000000 {meta}",
                      "@@status app other - ", "noise"])
    found = parse_status(text)
    assert found["setup"] is True
    assert found["apps"]["hello"] == {"release": "20261122000000", "revision": "abc123", "status": "deployed",
                                      "time": "2026-11-22T00:00:00+00:00"}
    assert found["apps"]["other"] == {"release": None, "revision": None, "status": None, "time": None}


def test_status_script_runs_on_an_empty_machine(tmp_path):
    script = status_script(str(tmp_path / "no marker $(touch pwned)"), ["hello", "api-2"])  # app names are checked
    result = subprocess.run(["sh", "-c", script], capture_output=True, text=True, check=True, cwd=tmp_path)
    found = parse_status(result.stdout)
    assert found["setup"] is False and set(found["apps"]) == {"hello", "api-2"}
    assert found["apps"]["hello"]["release"] is None and not (tmp_path / "pwned").exists()

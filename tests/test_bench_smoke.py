"""The benchmarks keep working: ``python -m bench --smoke`` exits 0 and writes every figure.

No timing is asserted: the smoke mode runs each benchmark with tiny iteration counts only to
prove that it still runs against the current code and still reports everything.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

from bench import inprocess, micro, report

ROOT = Path(__file__).resolve().parent.parent
VISITORS = ("unregulated", "regulated", "decided")


def run_smoke(results: Path) -> dict[str, Any]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("CONSENTGATE_")}
    done = subprocess.run(
        [sys.executable, "-m", "bench", "--smoke", "--results-dir", str(results)],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=180,
        check=False,
    )
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    files = list(results.glob("*.json"))
    assert len(files) == 1, files
    return json.loads(files[0].read_text(encoding="utf-8"))


def test_bench_smoke_exits_zero_and_reports_every_figure(tmp_path: Path) -> None:
    data = run_smoke(tmp_path)

    assert set(report.TOP_LEVEL_KEYS) <= set(data)
    for key in ("date", "cpu_model", "cores", "python", "packages", "scanner_accelerated"):
        assert key in data["meta"]
    for kind in inprocess.KINDS:
        assert list(data["inprocess"][kind]) == inprocess.case_keys()
        for case in data["inprocess"][kind].values():
            for figure in ("us", "added_us", "ratio_to_bare", "ratio_to_noop"):
                assert case[figure]["median"] is not None
    assert list(data["e2e"]["stacks"]) == list(report.E2E_STACKS)
    json_keys = {"json_bare", "json_noop", *(f"json_{v}" for v in VISITORS)}
    for stack in data["e2e"]["stacks"].values():
        configs = stack["configs"]
        assert set(configs) == {"bare", *VISITORS, "excluded", "pasted", "naive", *json_keys}
        for config in configs.values():
            assert config["rps"]["median"] > 0
            assert config["cpu_us_per_request"]["median"] is not None
        assert configs["naive"]["page_bytes"] > configs["bare"]["page_bytes"] + 2000
        assert configs["excluded"]["page_bytes"] == configs["bare"]["page_bytes"]
    assert set(data["streaming"]["cases"]) == {"bare", *VISITORS}
    assert {"dialog_html", "js", "css", "total"} <= set(data["sizes"]["banner"])
    assert data["sizes"]["cookie"]["max_cookie_bytes"] > 0
    assert list(data["micro"]) == list(micro.LABELS)
    assert [t["id"] for t in data["targets"]] == report.target_ids()
    assert all(t["status"].strip("()") in ("PASS", "FAIL") for t in data["targets"])

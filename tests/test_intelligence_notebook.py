"""notebooks/intelligence.ipynb, run top to bottom as a new user would, shows non-empty, meaningful numbers.

The notebook is executed on a fresh kernel; the test reads what its cells display (the plain-text form of
each result) and checks those numbers against what a final, appended cell reports from the same objects
and against pandas where that is cheap. Nothing here trusts a number because the code printed it.
"""

from __future__ import annotations

import json
import os
import re
import shutil
from pathlib import Path

import nbformat
import pytest
from conftest import require_module

ROOT = Path(__file__).resolve().parent.parent
NOTEBOOK = ROOT / "notebooks" / "intelligence.ipynb"

require_module("sklearn", module_level=True)
require_module("nbclient", module_level=True)

FACTS = """
import json
_champions = int((scores["label"] == "Champions").sum())
_segments = ws.segments()
print("FACTS " + json.dumps({
    "champions": _champions,
    "champion_keys_match": sorted(ws.member_keys("in segment rfm_champions", as_of=AS_OF)) == sorted(
        scores.loc[scores["label"] == "Champions", "customer_id"]),
    "vip_members": ws.count("sum(orders.amount) >= 1000"),
    "sugg": [s.definition for s in sugg],
    "sim_chosen": len(sim), "sim_scored": sim.info.scored, "sim_audience": sim.info.audience,
    "sim_features": sim.info.features, "sim_excluded": list(sim.excluded["feature"]),
    "members": {n: (None if m is None or m != m else int(m)) for n, m in zip(_segments["name"], _segments["members"])},
}))
"""


@pytest.fixture(scope="module")
def executed(tmp_path_factory) -> tuple[list, dict]:
    from nbclient import NotebookClient

    work = tmp_path_factory.mktemp("nb") / "notebooks"
    shutil.copytree(NOTEBOOK.parent, work)
    nb = nbformat.read(work / NOTEBOOK.name, as_version=4)
    nb.cells.append(nbformat.v4.new_code_cell(FACTS))
    env = os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")]))
    old = os.environ.get("PYTHONPATH")
    os.environ["PYTHONPATH"] = env  # the kernel is a new process: it imports this checkout
    try:
        NotebookClient(
            nb, timeout=600, kernel_name="python3", resources={"metadata": {"path": str(work)}}
        ).execute()
    finally:
        if old is None:
            os.environ.pop("PYTHONPATH", None)
        else:
            os.environ["PYTHONPATH"] = old
    shown = {}
    for cell in nb.cells:
        if cell.cell_type != "code":
            continue
        text = ""
        for o in cell.outputs:
            assert o.output_type != "error", f"{cell.source}\n{o.get('ename')}: {o.get('evalue')}"
            text += o.get("text", "") + o.get("data", {}).get("text/plain", "")
        shown[cell.source] = text
    facts_text = shown.pop(FACTS)
    facts = json.loads(facts_text.split("FACTS ", 1)[1])
    return shown, facts


def _cell(shown: dict, start: str) -> str:
    found = [text for source, text in shown.items() if source.startswith(start)]
    assert len(found) == 1, (start, list(shown))
    return found[0]


@pytest.mark.slow
def test_rfm_segments_have_the_labels_members(executed):
    shown, facts = executed
    assert facts["champions"] > 0 and facts["champion_keys_match"]
    assert (
        _cell(shown, 'ws.count("in segment rfm_champions"').strip()
        == f"({facts['champions']}, {facts['champions']})"
    )


@pytest.mark.slow
def test_suggestions_are_shown_with_the_planted_rule(executed):
    shown, facts = executed
    text = _cell(shown, "sugg = ws.suggest(")
    m = re.match(r"Suggested segments for sum\(orders\.amount\): (\d+)", text)
    assert m and int(m[1]) == len(facts["sugg"]) >= 1, text
    assert "regions.name = 'North'" in facts["sugg"][0] and "newsletter" in facts["sugg"][0]
    assert "holdout_lift" in text and "Suggestion(" not in text


@pytest.mark.slow
def test_compare_is_on_refreshed_non_empty_segments(executed):
    shown, facts = executed
    text = _cell(shown, 'cmp = ws.compare("vip", "churn_risk")')
    m = re.match(r"Compare vip \(([\d,]+)\) with churn_risk \(([\d,]+)\)", text)
    assert m and int(m[1].replace(",", "")) == facts["vip_members"] > 0 and int(m[2].replace(",", "")) > 0
    assert f"vip: the {facts['vip_members']:,} members of refresh #" in text
    assert "significant" in text and "Comparison(" not in text
    rfm = _cell(shown, 'ws.compare("rfm_champions")')
    m = re.match(r"Compare rfm_champions \(([\d,]+)\) with everyone else", rfm)
    assert m and int(m[1].replace(",", "")) == facts["champions"] > 0, rfm


@pytest.mark.slow
def test_lookalikes_exist_and_leave_the_definition_out(executed):
    shown, facts = executed
    text = _cell(shown, 'sim = ws.similar("vip")')
    m = re.match(r"Similar to vip in everyone: ([\d,]+) of ([\d,]+) scored customers chosen", text)
    assert m, text
    chosen, scored = int(m[1].replace(",", "")), int(m[2].replace(",", ""))
    assert chosen == facts["sim_chosen"] > 0 and scored == facts["sim_scored"] == facts["sim_audience"]
    assert chosen == -(-scored // 5)  # the best 20% of the audience
    assert {"count(orders)", "sum(orders.amount)", "sum(orders.discount)"} <= set(facts["sim_excluded"])
    assert not any("orders" in f for f in facts["sim_features"])
    assert "AUC 1.000" not in text


@pytest.mark.slow
def test_every_refreshed_segment_shows_its_members(executed):
    shown, facts = executed
    members = facts["members"]
    assert set(members) >= {"vip", "churn_risk", "rfm_champions", "north_newsletter", "vip_lookalikes"}
    assert all(m is not None for m in members.values()), members
    assert members["vip_lookalikes"] == facts["sim_chosen"] and members["rfm_champions"] == facts["champions"]
    assert "<NA>" not in _cell(shown, 'sim.save("vip_lookalikes")')

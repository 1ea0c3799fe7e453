"""The parity gate on stored runs: agreement (exact and per JSON field), the paired test on
shared metrics, the min_agreement floor, and a gates file's parity tables validated."""

from __future__ import annotations

import pytest

from ftp.errors import InputError
from ftp.plugins.evaluation.decide import decide
from ftp.plugins.evaluation.gates import load_gates
from ftp.plugins.serving.parity import agreement


def _run(project, outputs: list[str], scores: list[float]) -> int:
    with project.run("eval", model="m") as run:
        project.store.add_samples(run.id, [
            {"task": "testset", "doc_id": str(i), "prompt": "p", "output": out,
             "reference": "r", "scores": {"exact_match": s}, "meta": {}}
            for i, (out, s) in enumerate(zip(outputs, scores, strict=True))])
    return run.id


def test_agreement_counts_exact_outputs_and_json_fields():
    found = agreement({"a": '{"x": 1, "y": 2}', "b": "same", "c": '{"x": 1}'},
                      {"a": '{"x": 1, "y": 3}', "b": "same", "c": '{"x": 1}'})
    assert found["n"] == 3 and found["agreement"] == pytest.approx(2 / 3)
    assert found["json_documents"] == 2 and found["field_agreement"] == pytest.approx(0.75)
    assert found["differing"] == ["a"]


def test_parity_gate_passes_identical_runs_and_fails_below_the_floor(project, tmp_path):
    gates = tmp_path / "gates.toml"
    gates.write_text('[[gate]]\nsource = "parity"\nmin_agreement = 0.9\n')
    outputs = [f"answer {i}" for i in range(20)]
    reference = _run(project, outputs, [1.0] * 20)
    same = _run(project, outputs, [1.0] * 20)
    (passed,) = decide(project.store, load_gates(gates), same, reference)
    assert passed["passed"] and passed["value"] == 1.0 and passed["gate"] == "parity/testset"
    drifted = _run(project, outputs[:15] + ["other"] * 5, [1.0] * 15 + [0.0] * 5)
    (failed,) = decide(project.store, load_gates(gates), drifted, reference)
    assert not failed["passed"] and failed["value"] == 0.75
    assert "below 90.0%" in failed["reason"]
    assert failed["parity"]["tests"]["exact_match"]["difference"] == pytest.approx(-0.25)
    with pytest.raises(InputError, match="--baseline"):
        decide(project.store, load_gates(gates), same, None)


@pytest.mark.parametrize("table, message", [
    ('min_agreement = 1.5', "between 0 and 1"),
    ('metric = "bleu"', "agreement or field_agreement"),
    ('min_agreement = "all"', "between 0 and 1"),
])
def test_parity_tables_are_validated_with_their_line(tmp_path, table, message):
    gates = tmp_path / "gates.toml"
    gates.write_text(f'alpha = 0.05\n\n[[gate]]\nsource = "parity"\n{table}\n')
    with pytest.raises(InputError, match=message) as error:
        load_gates(gates)
    assert f"{gates}:3:" in str(error.value)
    assert "\n" not in str(error.value)

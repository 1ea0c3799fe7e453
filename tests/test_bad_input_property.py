"""Property: generated malformed records, configs, gate files and flags thrown at the CLI
(in-process) exit 2 with one line and no traceback, and leave every table of the store as
it was. Bounded (a few dozen examples per property, no deadline) so it runs in CI in well
under a minute; the generators produce inputs that are bad by construction.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.bad_input_helpers import assert_one_line_exit_2, copy_project, prepare_project, snapshot

BOUNDED = settings(max_examples=30, deadline=None, derandomize=True, database=None,
                   suppress_health_check=[HealthCheck.function_scoped_fixture,
                                          HealthCheck.too_slow])
GOOD = json.dumps({"instruction": "Say hello to the team", "output": "Hello team!"})
KNOWN_FIELDS = {"instruction", "input", "output", "prompt", "completion", "messages", "chosen",
                "rejected", "text", "conversations", "system", "response", "question",
                "answer", "format"}


@pytest.fixture(scope="module")
def template(tmp_path_factory, tiny_model) -> Path:
    return prepare_project(tmp_path_factory.mktemp("template"), tiny_model)


def _run_bad(template: Path, invoke, files: dict[str, str], args: list[str]) -> str:
    """Copy the project, write ``files``, run the CLI; assert exit 2, one line, unchanged."""
    here = os.getcwd()
    folder = Path(tempfile.mkdtemp(prefix="ftp-prop-"))
    try:
        root = copy_project(template, folder / "p")
        os.chdir(root)
        for name, text in files.items():
            path = root / name
            path.write_text(path.read_text() + text if name == "ftp.toml" else text)
        before = snapshot(root)
        line = assert_one_line_exit_2(invoke(*args))
        assert snapshot(root) == before
        return line
    finally:
        os.chdir(here)
        shutil.rmtree(folder, ignore_errors=True)


# records -------------------------------------------------------------------------------

def _not_a_json_object(text: str) -> bool:
    try:
        return not isinstance(json.loads(text), dict)
    except (ValueError, RecursionError):
        return True


not_json = st.text(min_size=1, max_size=40).filter(
    lambda t: t.strip() and "\n" not in t and "\r" not in t and _not_a_json_object(t))
json_values = st.recursive(st.none() | st.booleans() | st.integers() | st.text(max_size=8),
                           lambda inner: st.lists(inner, max_size=3), max_leaves=6)
bad_text = st.one_of(st.none(), st.booleans(), st.lists(st.integers(), max_size=2),
                     st.dictionaries(st.text(max_size=3), st.integers(), max_size=2),
                     st.text(alphabet=" \t", max_size=3))
unknown_keys = st.dictionaries(
    st.text(alphabet="abcdefghijklmnopqrstuvwxyz_", min_size=1, max_size=10).filter(
        lambda k: k not in KNOWN_FIELDS), st.text(max_size=10), min_size=1, max_size=3)
bad_lines = st.one_of(
    not_json,
    json_values.map(json.dumps),  # valid JSON, not an object
    bad_text.map(lambda v: json.dumps({"instruction": v, "output": "fine answer"})),
    bad_text.map(lambda v: json.dumps({"instruction": "fine question", "output": v})),
    unknown_keys.map(json.dumps),
    st.integers(min_value=5000, max_value=6000).map(
        lambda n: GOOD[:-1] + ', "n": ' + "7" * n + "}"),
    st.integers(min_value=3000, max_value=60000).map(
        lambda d: '{"instruction": ' + "[" * d + "]" * d + ', "output": "x"}'),
)


@BOUNDED
@given(bad=bad_lines, before=st.integers(0, 3), after=st.integers(0, 2))
def test_malformed_records(template, invoke, bad, before, after):
    lines = [GOOD.replace("team", f"team {i}") for i in range(before)] + [bad] + \
        [GOOD.replace("team", f"crew {i}") for i in range(after)]
    line = _run_bad(template, invoke, {"bad.jsonl": "\n".join(lines) + "\n"},
                    ["data", "import", "bad.jsonl"])
    assert "bad.jsonl" in line


# configs -------------------------------------------------------------------------------

below_zero = st.floats(max_value=-1e-6, allow_nan=False, allow_infinity=False)
fraction_too_big = st.floats(min_value=1.0, max_value=1e6, allow_nan=False)
configs = st.one_of(
    st.builds(lambda v: f"\n[eval]\nbatch_size = {v}\n", st.integers(max_value=0)),
    st.builds(lambda v: f"\n[eval]\nshots = {v}\n", st.integers(max_value=-2)),
    st.builds(lambda v: f"\n[eval]\nlimit = {v}\n", st.integers(max_value=-1)),
    st.builds(lambda v: f"\n[format]\nmax_length = {v}\n", st.integers(max_value=0)),
    st.builds(lambda v: f'\n[eval]\nbatch_size = "{v}"\n', st.text(alphabet="abc", max_size=5)),
    st.builds(lambda k: f"\n[eval]\n{k} = 1\n",
              st.text(alphabet="xyz_", min_size=1, max_size=8)),  # unknown key
    st.builds(lambda k: f"\n[{k}]\na = 1\n",
              st.text(alphabet="qwxz", min_size=1, max_size=6)),  # unknown section
    st.just("\n[eval\n"),  # TOML syntax
)
data_configs = st.one_of(
    st.builds(lambda v: ("test_fraction = 0.25", f"test_fraction = {v!r}"),
              below_zero | fraction_too_big),
    st.builds(lambda v: ("validation_fraction = 0.15", f"validation_fraction = {v!r}"),
              below_zero | fraction_too_big),
    st.builds(lambda v: ("test_fraction = 0.25", f"test_fraction = {v!r}"),
              st.floats(min_value=0.85, max_value=0.99)),  # with validation: sum >= 1
    st.builds(lambda v: ("[data]\n", f'[data]\nsplit_key = "{v}"\n'),
              st.text(alphabet="XYZ", min_size=1, max_size=6)),  # names no field
)


@BOUNDED
@given(extra=configs)
def test_malformed_configs(template, invoke, extra):
    _run_bad(template, invoke, {"ftp.toml": extra}, ["data", "import", "data.jsonl"])


@BOUNDED
@given(change=data_configs)
def test_malformed_data_settings(template, invoke, change):
    here = os.getcwd()
    folder = Path(tempfile.mkdtemp(prefix="ftp-prop-"))
    try:
        root = copy_project(template, folder / "p")
        config = root / "ftp.toml"
        config.write_text(config.read_text().replace(*change, 1))
        os.chdir(root)
        before = snapshot(root)
        line = assert_one_line_exit_2(invoke("data", "import", "data.jsonl"))
        assert "ftp.toml" in line
        assert snapshot(root) == before
    finally:
        os.chdir(here)
        shutil.rmtree(folder, ignore_errors=True)


# gate files ----------------------------------------------------------------------------

GATE = '[[gate]]\ntask = "testset"\nmetric = "exact_match"\n'
number_text = st.one_of(st.text(alphabet="abc", min_size=1, max_size=4).map(lambda t: f'"{t}"'),
                        st.booleans().map(lambda b: "true" if b else "false"))
outside_unit = st.one_of(st.floats(min_value=1.0001, max_value=1e9),
                         st.floats(max_value=-0.0001, min_value=-1e9))
gate_files = st.one_of(
    st.builds(lambda a: f"alpha = {a}\n{GATE}", number_text),
    st.builds(lambda a: f"alpha = {a!r}\n{GATE}", outside_unit | st.just(0.0) | st.just(1.0)),
    st.builds(lambda a: f"{GATE}alpha = {a!r}\n", outside_unit),
    st.builds(lambda m: f"{GATE}min = {m!r}\n", outside_unit),
    st.builds(lambda m: f"{GATE}min = {m}\n", number_text),
    st.builds(lambda m: f"{GATE}max_drop = {m!r}\n", st.floats(max_value=-0.0001,
                                                               min_value=-1e9)),
    st.builds(lambda n: f"bootstrap_samples = {n}\n{GATE}", st.integers(max_value=0)),
    st.builds(lambda t: f'[[gate]]\ntask = "{t}"\nmetric = "acc"\n',
              st.text(alphabet="abcdefgh_", min_size=1, max_size=10).filter(
                  lambda t: t != "testset")),
    st.builds(lambda m: f'[[gate]]\ntask = "testset"\nmetric = "{m}"\n',
              st.text(alphabet="xyzq_", min_size=1, max_size=10)),
    st.builds(lambda k: f"{GATE}{k} = 1\n", st.text(alphabet="xyzq", min_size=1, max_size=6)),
    st.just("[[gate]\n"), st.just("alpha = 0.05\n"),
)


@BOUNDED
@given(text=gate_files)
def test_malformed_gate_files(template, invoke, text):
    line = _run_bad(template, invoke, {"gates.toml": text}, ["eval", "--gates", "gates.toml"])
    assert "gates.toml" in line


# flags ---------------------------------------------------------------------------------

devices = st.text(alphabet="abcdefghijklmnopqrstuvwxyz:0123456789", min_size=1,
                  max_size=10).filter(lambda d: d != "cpu")
flags = st.one_of(
    st.builds(lambda v: ["eval", "--batch-size", str(v)], st.integers(max_value=0)),
    st.builds(lambda v: ["eval", "--shots", str(v)], st.integers(max_value=-2)),
    st.builds(lambda v: ["eval", "--limit", str(v)], st.integers(max_value=-1)),
    st.builds(lambda v: ["eval", "--samples", str(v)], st.integers(max_value=0)),
    st.builds(lambda v: ["eval", "--device", v], devices),
    st.builds(lambda v: ["eval", "--batch-size", v], st.text(alphabet="abc.", min_size=1,
                                                             max_size=4)),
    st.builds(lambda v: ["train", "--fraction", repr(v)],
              st.floats(max_value=0.0, min_value=-1e6) | st.floats(min_value=1.0001,
                                                                    max_value=1e6)),
    st.builds(lambda v: ["train", "--batch-size", str(v)], st.integers(max_value=0)),
    st.builds(lambda v: ["train", "--learning-rate", repr(v)],
              st.floats(max_value=0.0, min_value=-10.0)),
    st.builds(lambda v: ["train", "--method", v],
              st.text(alphabet="xyzq", min_size=1, max_size=6)),
)


@BOUNDED
@given(args=flags)
def test_malformed_flags(template, invoke, args):
    _run_bad(template, invoke, {}, args)

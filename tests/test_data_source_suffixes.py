"""Data sources by suffix and by name: a plugin's reader for its own suffix, a clash on one
suffix failing only files with that suffix (naming both plugins), --format NAME."""

from __future__ import annotations

import json

import pytest

import ftp
from ftp.errors import PluginError


def _pipes(path, **_):
    for number, line in enumerate(path.read_text().splitlines(), 1):
        instruction, output = line.split("|")
        yield number, {"instruction": instruction, "output": output}


class Pipes:
    @ftp.hookimpl
    def register_data_sources(self, register):
        register("pipes", _pipes, description="instruction|output lines", suffixes=[".pipes"])


class AlsoTsv:
    @ftp.hookimpl
    def register_data_sources(self, register):
        register("tabbed", _pipes, description="claims .tsv as well", suffixes=[".tsv"])


def test_a_plugin_reader_is_picked_by_its_suffix(register_plugin, tmp_path):
    from ftp.plugins.data.sources import open_source, source_kind

    register_plugin(Pipes(), name="pipes-plugin")
    path = tmp_path / "d.pipes"
    path.write_text("Say hi.|Hi.\nSay bye.|Bye.\n")
    assert source_kind(path) == "pipes"
    assert list(open_source(path)) == [(1, {"instruction": "Say hi.", "output": "Hi."}),
                                       (2, {"instruction": "Say bye.", "output": "Bye."})]


def test_a_suffix_claimed_twice_fails_only_that_suffix(register_plugin, tmp_path):
    from ftp.plugins.data.sources import source_kind

    register_plugin(AlsoTsv(), name="also-tsv")
    with pytest.raises(PluginError, match=r"suffix \.tsv is claimed by the readers 'tsv' "
                                          r"\(ftp.plugins.data.sources\) and 'tabbed' "
                                          r"\(also-tsv\)"):
        source_kind(tmp_path / "x.tsv")
    assert source_kind(tmp_path / "x.jsonl") == "jsonl"
    assert source_kind(tmp_path / "x.csv") == "csv"


def test_format_names_a_reader(register_plugin, project, invoke):
    register_plugin(Pipes(), name="pipes-plugin")
    path = project.root / "tickets.txt"  # a suffix no reader claims
    path.write_text("".join(f"Repeat {i}.|{i}\n" for i in range(12)))
    result = invoke("data", "import", str(path), "--format", "pipes", "--json")
    assert result.exit_code == 0, result.output
    dataset = json.loads(result.stdout)
    assert dataset["counts"]["read"] == 12 and dataset["format"] == "alpaca"

"""The graph spec: edits are validated, JSON round-trips with a format version, a newer or
malformed file gets one clear sentence naming what is wrong, and the analysis reports loops,
unconnected inputs, dangling blocks and the one-Input rule."""

from __future__ import annotations

import json
import time

import pytest

from playground.builder import templates
from playground.builder.errors import GraphError, GraphFormatError, ParamError
from playground.builder.graph import (
    FORMAT,
    FORMAT_VERSION,
    MAX_BLOCKS,
    Graph,
    analyze,
    attribute_names,
)


@pytest.mark.parametrize("name", templates.names())
def test_json_round_trip(name, tmp_path):
    graph = templates.build(name)
    path = graph.save(tmp_path / f"{name}.json")
    again = Graph.load(path)
    assert again.to_dict() == graph.to_dict()
    data = json.loads(path.read_text())
    assert data["format"] == FORMAT and data["version"] == FORMAT_VERSION
    assert all(len(n["position"]) == 2 for n in data["nodes"])


def test_an_older_file_without_optional_fields_loads_with_defaults():
    data = {"format": FORMAT, "version": 1,
            "nodes": [{"id": "input", "type": "Input", "params": {"shape": [4]}},
                      {"id": "fc", "type": "Linear", "params": {"in_features": 4}}],
            "edges": [{"from": "input", "to": "fc"}]}
    g = Graph.from_dict(data)
    assert g.nodes["fc"].params["out_features"] == 10 and g.nodes["fc"].position == (0, 0)
    assert g.edges[0].port == 0 and g.name == "network"


def _lenet_dict() -> dict:
    return templates.build("lenet5").to_dict()


def _edit(fn) -> dict:
    data = _lenet_dict()
    fn(data)
    return data


@pytest.mark.parametrize("data,message", [
    ([1, 2], "the graph is not a Model Playground graph: it holds a JSON list, not an object."),
    ({"nodes": []}, "its \"format\" is null, expected 'model-playground/graph'"),
    (_edit(lambda d: d.update(version=FORMAT_VERSION + 1)),
     f"was saved by a newer Model Playground (graph format version {FORMAT_VERSION + 1}; this "
     f"one reads up to {FORMAT_VERSION}): update the app to open it."),
    (_edit(lambda d: d.update(version="1")), "has an invalid \"version\" (\"1\")"),
    (_edit(lambda d: d.pop("nodes")), "has no \"nodes\" list"),
    (_edit(lambda d: d.update(nodes={})), "\"nodes\" must be a list (got an object)"),
    (_edit(lambda d: d["nodes"][3].update(type="Conv2D")),
     "block 'pool1': unknown block type 'Conv2D' (did you mean Conv2d"),
    (_edit(lambda d: d["nodes"][1]["params"].update(kernal_size=3)),
     "block 'conv1': conv2d 'conv1': no parameter 'kernal_size'"),
    (_edit(lambda d: d["nodes"][1]["params"].update(kernel_size="five")),
     "block 'conv1': conv2d 'conv1': kernel_size must be 1 to 2 whole numbers"),
    (_edit(lambda d: d["nodes"][1]["params"].update(out_channels=-6)),
     "out_channels must be a whole number from 1 to 1048576 (got -6)"),
    (_edit(lambda d: d["nodes"][2].update(id="conv1")),
     "block 'conv1': there is already a block named 'conv1'"),
    (_edit(lambda d: d["nodes"][2].update(id="2bad name")), "block 3: block name \"2bad name\" "
                                                              "is not allowed"),
    (_edit(lambda d: d["nodes"][2].update(colour="red")), "unknown field(s) colour"),
    (_edit(lambda d: d["nodes"][2].update(position=["a", 1])), "a position must be two numbers"),
    (_edit(lambda d: d["edges"].append({"from": "fc3", "to": "nowhere"})),
     "refers to block \"nowhere\", which is not in the file."),
    (_edit(lambda d: d["edges"].append({"from": "fc3", "to": "conv1"})),
     "connection fc3 -> conv1: input 0 of 'conv1' is already connected to 'input'"),
    (_edit(lambda d: d["edges"].append({"from": "fc3", "to": "act4", "port": 1})),
     "Tanh 'act4' has inputs 0 to 0; there is no input 1."),
    (_edit(lambda d: d["edges"].append({"from": "fc3", "to": "fc3"})),
     "block 'fc3' cannot feed itself"),
    (_edit(lambda d: d["edges"].append("input->fc1")), "connection 13 must be an object"),
    (_edit(lambda d: d.update(weights="../../etc/passwd")), "\"weights\" must be a file name"),
])
def test_malformed_or_hand_edited_json_names_what_is_wrong(data, message):
    with pytest.raises(GraphFormatError) as err:
        Graph.from_dict(data)
    assert message.lower() in str(err.value).lower(), str(err.value)
    assert str(err.value).endswith(".") and "\n" not in str(err.value)


def test_files_that_are_not_json(tmp_path):
    (tmp_path / "bad.json").write_text('{"format": "model-playground/graph", "nodes": [}')
    with pytest.raises(GraphFormatError, match=r"bad.json is not valid JSON \(line 1, column"):
        Graph.load(tmp_path / "bad.json")
    (tmp_path / "bin.json").write_bytes(b"\xff\xfe\x00garbage")
    with pytest.raises(GraphFormatError, match="not a text file"):
        Graph.load(tmp_path / "bin.json")
    (tmp_path / "deep.json").write_text("[" * 100_000)
    with pytest.raises(GraphFormatError):
        Graph.load(tmp_path / "deep.json")
    with pytest.raises(GraphFormatError, match="does not exist"):
        Graph.load(tmp_path / "missing.json")


def test_too_many_blocks_is_refused_and_a_thousand_load_quickly():
    nodes = [{"id": "input", "type": "Input"}] + [
        {"id": f"r{i}", "type": "ReLU"} for i in range(MAX_BLOCKS)]
    with pytest.raises(GraphFormatError, match=f"the builder handles at most {MAX_BLOCKS:,}"):
        Graph.from_dict({"format": FORMAT, "version": 1, "nodes": nodes})
    edges = [{"from": "input" if i == 0 else f"r{i - 1}", "to": f"r{i}"} for i in range(999)]
    start = time.perf_counter()
    g = Graph.from_dict({"format": FORMAT, "version": 1, "nodes": nodes[:1000],
                         "edges": edges})
    analysis = analyze(g)
    assert time.perf_counter() - start < 2.0
    assert analysis.ok and analysis.output == "r998" and len(analysis.live) == 1000


def _small() -> Graph:
    g = Graph("small")
    g.add("Input", "input", shape=(8,))
    g.add("Linear", "fc1", in_features=8, out_features=8)
    g.add("ReLU", "relu")
    g.add("Linear", "fc2", in_features=8, out_features=2)
    g.connect("input", "fc1")
    g.connect("fc1", "relu")
    g.connect("relu", "fc2")
    return g


def test_a_loop_is_reported_with_its_blocks():
    g = _small()
    g.add("Add", "add")
    g.disconnect(g.input_edges("fc1")[0])
    g.connect("input", "add", 0)
    g.connect("add", "fc1")
    assert g.would_loop("relu", "add")
    g.connect("relu", "add", 1)
    problems = analyze(g).problems
    loops = [p for p in problems if p.kind == "cycle"]
    assert len(loops) == 1 and set(loops[0].related) == {"add", "fc1", "relu"}
    assert "form a loop: a network must flow one way" in loops[0].message


def test_unconnected_inputs_dangling_blocks_and_the_input_rule():
    g = _small()
    g.add("Add", "join")
    g.disconnect(g.input_edges("fc2")[0])
    g.connect("relu", "join", 0)
    g.connect("join", "fc2")
    g.add("Linear", "lonely")
    g.add("ReLU", "branch")
    g.connect("fc1", "branch")
    analysis = analyze(g)
    by_node = {p.node: p for p in analysis.problems}
    assert by_node["join"].message == "Input 2 of Add 'join' is not connected: connect a block " \
                                      "to it."
    assert by_node["join"].severity == "error"
    assert by_node["lonely"].kind == "dangling" and by_node["lonely"].severity == "warning"
    assert "leads nowhere: the network ends at 'fc2'" in by_node["branch"].message
    assert analysis.output == "fc2" and "branch" not in analysis.live
    g.add("Input", "input2")
    assert "a second Input block" in analyze(g).problems[0].message
    empty = Graph()
    empty.add("ReLU")
    assert analyze(empty).problems[0].message.startswith("The network has no Input block")


def test_edits_are_validated_and_undoable():
    g = _small()
    with pytest.raises(ParamError, match="Linear 'fc1': out_features must be"):
        g.set_param("fc1", "out_features", "lots")
    old, removed = g.set_param("fc1", "out_features", "16")
    assert old == 8 and removed == [] and g.nodes["fc1"].params["out_features"] == 16
    with pytest.raises(GraphError, match="already connected"):
        g.connect("input", "fc1")
    g.add("Concat", "cat", inputs=3)
    for port in range(3):
        g.connect("relu", "cat", port)
    _, removed = g.set_param("cat", "inputs", 2)
    assert [e.port for e in removed] == [2]
    node, edges = g.remove("relu")
    assert node.id == "relu" and len(edges) == 4 and "relu" not in g
    g.rename("fc2", "head")
    assert "head" in g.nodes and all("fc2" not in (e.source, e.target) for e in g.edges)
    with pytest.raises(GraphError, match="not allowed"):
        g.rename("head", "bad-name")


def test_copy_paste_gets_fresh_ids():
    g = _small()
    mapping = g.paste(g.fragment(["fc1", "relu"]))
    assert mapping == {"fc1": "fc3", "relu": "relu1"}
    assert g.input_edges("relu1")[0].source == "fc3"
    assert g.nodes["fc3"].position == (40.0, 40.0)


def test_attribute_names_avoid_module_members():
    g = Graph()
    for nid in ("type", "type_", "forward", "x", "conv"):
        g.add("ReLU", nid)
    names = attribute_names(g)
    assert names["conv"] == "conv" and len(set(names.values())) == 5
    assert names["type"] not in ("type", "type_") and names["forward"] == "forward_"

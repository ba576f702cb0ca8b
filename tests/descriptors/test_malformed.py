"""Malformed descriptors: each gives one DescriptorError naming the source, the field path and
what was expected (never a pydantic or YAML traceback)."""
from __future__ import annotations

import copy
from pathlib import Path
from typing import Any, Callable

import pytest
import yaml

from mano.descriptors import load_nsd, load_service, load_vnfd
from mano.descriptors.loader import MAX_DEPTH, parse_yaml
from mano.errors import DescriptorError

from paths import SONATA

VNFD = yaml.safe_load((SONATA / "descriptors" / "firewall-vnfd.yml").read_text())
NSD = yaml.safe_load((SONATA / "placement" / "nsd_10.yml").read_text())


def _set(path: list[Any], value: Any) -> Callable[[dict], None]:
    def apply(doc: dict) -> None:
        node = doc
        for key in path[:-1]:
            node = node[key]
        node[path[-1]] = value
    return apply


def _delete(path: list[Any]) -> Callable[[dict], None]:
    def apply(doc: dict) -> None:
        node = doc
        for key in path[:-1]:
            node = node[key]
        del node[path[-1]]
    return apply


VDU = ["virtual_deployment_units", 0]
VNFD_CASES = {
    "vcpus_not_a_number": (_set(VDU + ["resource_requirements", "cpu", "vcpus"], "two"),
                           "virtual_deployment_units[0].resource_requirements.cpu.vcpus", "valid number"),
    "vcpus_zero": (_set(VDU + ["resource_requirements", "cpu", "vcpus"], 0),
                   "virtual_deployment_units[0].resource_requirements.cpu.vcpus", "greater than 0"),
    "memory_missing": (_delete(VDU + ["resource_requirements", "memory"]),
                       "virtual_deployment_units[0].resource_requirements.memory", "required"),
    "memory_negative": (_set(VDU + ["resource_requirements", "memory", "size"], -1),
                        "virtual_deployment_units[0].resource_requirements.memory.size", "greater than or equal"),
    "memory_bad_unit": (_set(VDU + ["resource_requirements", "memory", "size_unit"], "parsecs"),
                        "virtual_deployment_units[0].resource_requirements.memory", "unknown size_unit"),
    "vdu_without_id": (_delete(VDU + ["id"]), "virtual_deployment_units[0].id", "required"),
    "vdu_without_image": (_delete(VDU + ["vm_image"]), "virtual_deployment_units[0].vm_image", "required"),
    "no_units_at_all": (_delete(["virtual_deployment_units"]), "(top level)", "at least one"),
    "name_missing": (_delete(["name"]), "name", "required"),
    "vendor_empty": (_set(["vendor"], ""), "vendor", "at least 1 character"),
    "link_bad_connectivity": (_set(["virtual_links", 1, "connectivity_type"], "E-Star"),
                              "virtual_links[1].connectivity_type", "'E-Line', 'E-LAN' or 'E-Tree'"),
    "link_refs_not_a_list": (_set(["virtual_links", 0, "connection_points_reference"], 7),
                             "virtual_links[0].connection_points_reference", "valid tuple"),
    "link_unknown_vdu_point": (_set(["virtual_links", 2, "connection_points_reference", 0], "vdu01:eth9"),
                               "virtual_links[2].connection_points_reference[0]", "names no connection point"),
    "link_unknown_vdu": (_set(["virtual_links", 0, "connection_points_reference", 0], "vdu07:eth0"),
                         "virtual_links[0].connection_points_reference[0]", "names no connection point"),
    "link_unknown_external_point": (_set(["virtual_links", 0, "connection_points_reference", 1], "mgmt2"),
                                    "virtual_links[0].connection_points_reference[1]", "names no connection point"),
    "duplicate_link_id": (_set(["virtual_links", 1, "id"], "mgmt"), "virtual_links", "duplicate virtual link id 'mgmt'"),
    "monitoring_rule_without_condition": (_delete(["monitoring_rules", 2, "condition"]),
                                          "monitoring_rules[2].condition", "required"),
    "fsm_without_image": (_set(["function_specific_managers"], [{"id": "sonfsmx1", "options": []}]),
                          "function_specific_managers[0].image", "required"),
    "dhcp_not_bool": (_set(["virtual_links", 0, "dhcp"], "sometimes"), "virtual_links[0].dhcp", "valid boolean"),
    "cp_port_out_of_range": (_set(["connection_points", 0, "port"], 70000), "connection_points[0].port", "less than or equal"),
}

NSD_CASES = {
    "no_network_functions": (_set(["network_functions"], []), "network_functions", "at least 1 item"),
    "nf_missing_version": (_delete(["network_functions", 1, "vnf_version"]),
                           "network_functions[1].vnf_version", "required"),
    "duplicate_vnf_id": (_set(["network_functions", 1, "vnf_id"], "vforward_vnf_1_2"),
                         "network_functions", "duplicate vnf id"),
    "link_names_unknown_vnf": (_set(["virtual_links", 1, "connection_points_reference", 1], "ghost:input"),
                               "virtual_links[1].connection_points_reference[1]", "neither a connection point"),
    "fg_names_unknown_vnf": (_set(["forwarding_graphs", 0, "constituent_vnfs", 1], "ghost"),
                             "forwarding_graphs[0].constituent_vnfs[1]", "not a vnf_id"),
    "path_position_zero": (_set(["forwarding_graphs", 0, "network_forwarding_paths", 0, "connection_points", 0,
                                 "position"], 0),
                           "forwarding_graphs[0].network_forwarding_paths[0].connection_points[0].position",
                           "greater than or equal to 1"),
    "path_names_unknown_point": (_set(["forwarding_graphs", 0, "network_forwarding_paths", 0, "connection_points",
                                       2, "connection_point_ref"], "nowhere"),
                                 "forwarding_graphs[0].network_forwarding_paths[0].connection_points[2]"
                                 ".connection_point_ref", "neither a connection point"),
    "soft_constraint_unknown_objective": (_set(["soft_constraints"], [{"objective": "closeness",
                                                                      "involved_actors": ["a"]}]),
                                          "soft_constraints[0].objective", "'proximity' or 'affinity'"),
    "ssm_options_not_list": (_set(["service_specific_managers", 0, "options"], "type=placement"),
                             "service_specific_managers[0].options", "valid tuple"),
}


def _expect(loader, base: dict, mutate, path: str, expected: str) -> DescriptorError:
    doc = copy.deepcopy(base)
    mutate(doc)
    with pytest.raises(DescriptorError) as info:
        loader(doc, name="case.yml")
    err = info.value
    line = next((p for p in err.problems if p.startswith(path + ":")), None)
    assert line is not None, f"no problem at {path!r} in {err.problems}"
    assert expected in line, line
    assert str(err).startswith("case.yml: ")
    return err


@pytest.mark.parametrize("case", sorted(VNFD_CASES))
def test_malformed_vnfd(case):
    mutate, path, expected = VNFD_CASES[case]
    _expect(load_vnfd, VNFD, mutate, path, expected)


@pytest.mark.parametrize("case", sorted(NSD_CASES))
def test_malformed_nsd(case):
    mutate, path, expected = NSD_CASES[case]
    _expect(load_nsd, NSD, mutate, path, expected)


def test_all_problems_are_reported_at_once():
    doc = copy.deepcopy(VNFD)
    del doc["name"]
    doc["virtual_deployment_units"][0]["resource_requirements"]["cpu"]["vcpus"] = "x"
    with pytest.raises(DescriptorError) as info:
        load_vnfd(doc)
    assert len(info.value.problems) == 2


def test_nsd_point_unknown_to_resolved_vnfd():
    p = SONATA / "placement"
    doc = copy.deepcopy(NSD)
    doc["virtual_links"][2]["connection_points_reference"][0] = "vforward_vnf_1_2:eth7"
    with pytest.raises(DescriptorError, match=r"virtual_links\[2\]\.connection_points_reference\[0\]: "
                                              r"'vforward_vnf_1_2:eth7': VNF 'vforward-vnf-1-2' has no"):
        load_service(doc, [p / "vnfd_1_10.yml", p / "vnfd_2_10.yml"])


@pytest.mark.parametrize("data, expected", [
    (b"name: [unclosed", "not valid YAML at line 1"),
    (b"- just\n- a list\n", "expected a mapping at the top level, got list"),
    (b"", "got nothing (empty document)"),
    (b"\xff\xfe\x00bad", "not UTF-8"),
    (b"!!python/object/apply:os.system ['true']", "not valid YAML"),
])
def test_unparseable_input(data, expected):
    with pytest.raises(DescriptorError, match=expected.replace("(", r"\(").replace(")", r"\)")):
        parse_yaml(data, "x.yml")


def test_size_limit_is_enforced_before_parsing(tmp_path: Path):
    big = tmp_path / "big.yml"
    big.write_text("name: x\n" + "#" * 2000)
    with pytest.raises(DescriptorError, match="the limit is 1000"):
        load_vnfd(big, max_bytes=1000)


def test_depth_limit():
    deep = "a: " + "[" * (MAX_DEPTH + 5) + "]" * (MAX_DEPTH + 5)
    with pytest.raises(DescriptorError, match="nesting deeper"):
        parse_yaml(deep.encode(), "deep.yml")


@pytest.mark.parametrize("loader", ["libyaml", "python"])
@pytest.mark.parametrize("levels", [1_000, 100_000])
def test_depth_beyond_the_parsers_own_limit_is_too_deep(monkeypatch, loader: str, levels: int):
    """libyaml stops ~1,000 levels itself, the Python composer recurses: either way "too deep"."""
    import yaml

    import mano.descriptors.loader as descriptor_loader

    if loader == "python":
        monkeypatch.setattr(descriptor_loader, "SAFE_LOADER", yaml.SafeLoader)
    elif not getattr(yaml, "__with_libyaml__", False):
        pytest.skip("PyYAML built without libyaml")
    deep = b"a: " + b"[" * levels + b"]" * levels
    with pytest.raises(DescriptorError, match=f"nesting deeper than {MAX_DEPTH} levels"):
        parse_yaml(deep, "deep.yml")


def test_alias_bomb_is_refused():
    bomb = "a: &a [x, x, x, x, x, x, x, x, x, x]\n"
    for i in range(1, 9):
        bomb += f"a{i}: &a{i} [*a{i - 1 if i > 1 else ''}, *a{i - 1 if i > 1 else ''}, *a{i - 1 if i > 1 else ''}," \
                f" *a{i - 1 if i > 1 else ''}, *a{i - 1 if i > 1 else ''}, *a{i - 1 if i > 1 else ''}]\n"
    with pytest.raises(DescriptorError, match="more than"):
        parse_yaml(bomb.encode(), "bomb.yml")


def test_missing_file_is_named(tmp_path: Path):
    with pytest.raises(DescriptorError, match="no such file"):
        load_vnfd(tmp_path / "nope.yml")

"""The conditions of monitoring rules and scaling policies: ``[<vdu>:]<metric> <op> <number>``.

A VNFD's ``monitoring_rules`` (``vdu01:vm_cpu_perc > 10``, as SONATA writes them) and the NSD's
``auto_scale_policy.<vnf_id>.scale_in_when`` (``vm_cpu_perc < 20``) share this grammar. The VDU
prefix is accepted and not used: a VNF's metrics are per instance.
"""
from __future__ import annotations

import dataclasses
import operator
import re
from typing import Mapping

_CONDITION = re.compile(r"^\s*(?:(?P<vdu>[\w.-]+):)?(?P<metric>[\w.-]+)\s*(?P<op>>=|<=|==|!=|>|<)\s*(?P<value>-?[\d.]+)\s*$")
_OPS = {">": operator.gt, "<": operator.lt, ">=": operator.ge, "<=": operator.le, "==": operator.eq,
        "!=": operator.ne}


@dataclasses.dataclass(frozen=True)
class Condition:
    metric: str
    op: str
    value: float

    @classmethod
    def parse(cls, text: str) -> "Condition":
        match = _CONDITION.match(text or "")
        if not match:
            raise ValueError(f"unsupported monitoring condition {text!r}; expected '<vdu>:<metric> <op> <number>'")
        try:
            return cls(match["metric"], match["op"], float(match["value"]))
        except ValueError:
            raise ValueError(f"unsupported monitoring condition {text!r}: {match['value']!r} is not a number") from None

    def holds(self, metrics: Mapping[str, float]) -> bool:
        return self.metric in metrics and self.compare(float(metrics[self.metric]))

    def compare(self, value: float) -> bool:
        return _OPS[self.op](value, self.value)

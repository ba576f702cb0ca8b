"""SONATA descriptors: typed models, safe loading with precise errors, NSD→VNFD resolution."""
from mano.descriptors.loader import load_descriptor, load_nsd, load_vnfd, parse_yaml, read_document
from mano.descriptors.models import (CloudnativeDeploymentUnit, ConnectionPoint, ForwardingGraph,
                                     MonitoringRule, NetworkFunction, Nsd, SpecificManager,
                                     VirtualDeploymentUnit, VirtualLink, Vnfd)
from mano.descriptors.service import ServicePackage, load_service, resolve

__all__ = [
    "CloudnativeDeploymentUnit", "ConnectionPoint", "ForwardingGraph", "MonitoringRule", "NetworkFunction",
    "Nsd", "ServicePackage", "SpecificManager", "VirtualDeploymentUnit", "VirtualLink", "Vnfd",
    "load_descriptor", "load_nsd", "load_service", "load_vnfd", "parse_yaml", "read_document", "resolve",
]

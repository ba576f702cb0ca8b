"""A SONATA infrastructure adaptor written only against its wire contract (SONATA.md §2.5), with
plain pika: what mano's ``sonata-ia`` VIM driver is tested against.

It serves the ``infrastructure.*`` topics SONATA's SLM and FLM call, answers each request on
its topic with the request's correlation id and an empty ``reply_to``, and replies
``{request_status: COMPLETED|ERROR, message}``. It keeps VIMs with core and memory (MB)
accounting, networks per service and VIM, and deployed functions; it refuses what SONATA's
adaptor would refuse (an unknown VIM, a function whose network was not created on its VIM, a
VNFD without ``instance_uuid``, a request that misses a field), so a client that gets the
payloads wrong sees ERROR replies. ``requests`` records every request body by topic.
"""
from __future__ import annotations

import collections
import json
import threading
import time
import uuid
from typing import Any

import pika
import yaml

TOPICS = ("infrastructure.management.compute.list", "infrastructure.service.network.create",
          "infrastructure.service.network.delete", "infrastructure.function.deploy",
          "infrastructure.function.remove", "infrastructure.service.remove", "infrastructure.function.configure")


class ContractAdaptor:
    def __init__(self, url: str, exchange: str, vims: list[dict[str, Any]], *, answer: bool = True):
        self.url, self.exchange = url, exchange
        self.vims = {v["vim_uuid"]: dict(v) for v in vims}
        self.answer = answer  # False: take requests, never reply (an adaptor that hangs)
        self.networks: dict[str, dict[str, set[str]]] = collections.defaultdict(dict)  # service -> vim -> ids
        self.functions: dict[str, dict[str, Any]] = {}  # vnf uuid -> {service, vim, cores, memory}
        self.requests: dict[str, list[Any]] = collections.defaultdict(list)
        self.fail_next: dict[str, str] = {}  # topic -> message of the next ERROR reply
        self.drop_next: set[str] = set()  # topics whose next request is carried out but not answered
        self._lock = threading.Lock()
        self._queue = f"ia.{exchange}.{uuid.uuid4().hex[:8]}"
        self._stop = False
        self._ready = threading.Event()
        self._thread = threading.Thread(target=self._serve, daemon=True)
        self._thread.start()
        assert self._ready.wait(20), "the adaptor could not bind its queue"

    def close(self) -> None:
        self._stop = True
        self._thread.join(10)

    # --- the broker side ----------------------------------------------------------------
    def _serve(self) -> None:
        conn = pika.BlockingConnection(pika.URLParameters(self.url))
        ch = conn.channel()
        ch.exchange_declare(self.exchange, exchange_type="topic", durable=False)
        ch.queue_declare(self._queue, auto_delete=True)
        for topic in TOPICS:
            ch.queue_bind(self._queue, self.exchange, routing_key=topic)
        self._ready.set()
        for method, props, body in ch.consume(self._queue, inactivity_timeout=0.1):
            if self._stop:
                break
            if method is None:
                continue
            ch.basic_ack(method.delivery_tag)
            if not props.reply_to:
                continue  # a reply (ours), not a request
            topic = method.routing_key
            try:
                request = yaml.safe_load(body) if body else {}
            except yaml.YAMLError:
                request = None
            with self._lock:
                self.requests[topic].append(request)
                reply = self._handle(topic, request)
            with self._lock:
                dropped = topic in self.drop_next
                self.drop_next.discard(topic)
            if not self.answer or dropped:
                continue
            ch.basic_publish(self.exchange, props.reply_to, yaml.safe_dump(reply).encode(), pika.BasicProperties(
                app_id="son-sp-infrabstract", content_type="application/json", correlation_id=props.correlation_id,
                headers={"key": "default", "type": "reply"}))
        conn.close()

    # --- the contract -------------------------------------------------------------------
    def _handle(self, topic: str, request: Any) -> dict[str, Any]:
        if topic in self.fail_next:
            return {"request_status": "ERROR", "message": self.fail_next.pop(topic)}
        if not isinstance(request, dict):
            return {"request_status": "ERROR", "message": "the request is not a mapping"}
        try:
            handler = {"infrastructure.management.compute.list": self._compute_list,
                       "infrastructure.service.network.create": self._network_create,
                       "infrastructure.service.network.delete": self._network_delete,
                       "infrastructure.function.deploy": self._deploy,
                       "infrastructure.function.remove": self._remove,
                       "infrastructure.service.remove": self._service_remove,
                       "infrastructure.function.configure": self._configure}[topic]
            return {"request_status": "COMPLETED", "message": "", **handler(request)}
        except (KeyError, ValueError) as exc:
            return {"request_status": "ERROR", "message": f"bad request: {exc}"}

    def _compute_list(self, _request: dict) -> dict:
        return {"vim_list": [dict(v) for v in self.vims.values()]}

    def _vim(self, vim_uuid: str) -> dict:
        if vim_uuid not in self.vims:
            raise ValueError(f"unknown VIM {vim_uuid}")
        return self.vims[vim_uuid]

    def _network_create(self, request: dict) -> dict:
        service = request["instance_id"]
        for vim in request["vim_list"]:
            self._vim(vim["uuid"])
            created = self.networks[service].setdefault(vim["uuid"], set())
            for link in vim["virtual_links"]:
                if link["id"] in created:
                    raise ValueError(f"network {link['id']} exists on VIM {vim['uuid']}")
                link["vl_id"], link["access"]  # noqa: B018 - required fields
                created.add(link["id"])
        return {}

    def _network_delete(self, request: dict) -> dict:
        service = request["instance_id"]
        for vim in request["vim_list"]:
            for link in vim["virtual_links"]:
                self.networks[service].get(vim["uuid"], set()).discard(link["id"])
        return {}

    def _deploy(self, request: dict) -> dict:
        vnfd, vim_uuid, service = request["vnfd"], request["vim_uuid"], request["service_instance_id"]
        vim = self._vim(vim_uuid)
        instance = vnfd["instance_uuid"]
        if instance in self.functions:
            raise ValueError(f"function {instance} exists")
        cores = sum(du["resource_requirements"]["cpu"]["vcpus"] for du in vnfd["virtual_deployment_units"])
        memory = sum(du["resource_requirements"]["memory"]["size"] * (1024 if du["resource_requirements"]["memory"]
                     .get("size_unit", "MB").upper() in ("GB", "GIB") else 1)
                     for du in vnfd["virtual_deployment_units"])
        if vim["core_used"] + cores > vim["core_total"] or vim["memory_used"] + memory > vim["memory_total"]:
            raise ValueError(f"not enough resources on VIM {vim_uuid}")
        known = self.networks[service].get(vim_uuid, set())
        vdus = []
        for host, du in enumerate(vnfd["virtual_deployment_units"], start=2):
            points = []
            for cp in du.get("connection_points") or ():
                if "network_id" in cp and cp["network_id"] not in known:
                    raise ValueError(f"network {cp['network_id']} does not exist on VIM {vim_uuid}")
                points.append({"id": cp["id"], "type": cp.get("type", "internal"),
                               "interface": {"address": f"10.{len(self.functions) % 250}.0.{host}",
                                             "netmask": "255.255.255.0"}})
            vdus.append({"id": du["id"], "vdu_reference": f"{vnfd['name']}:{du['id'].rsplit('-' + instance, 1)[0]}",
                         "vm_image": du.get("vm_image"), "number_of_instances": 1,
                         "vnfc_instance": [{"id": "0", "vim_id": vim_uuid, "vc_id": str(uuid.uuid4()),
                                            "connection_points": points}]})
        vim["core_used"] += cores
        vim["memory_used"] += memory
        self.functions[instance] = {"service": service, "vim": vim_uuid, "cores": cores, "memory": memory}
        return {"vnfr": {"id": instance, "descriptor_version": "vnfr-schema-01",
                         "descriptor_reference": vnfd.get("uuid", vnfd["name"]),
                         "virtual_deployment_units": vdus}}

    def _release(self, instance: str) -> None:
        function = self.functions.pop(instance)
        vim = self.vims[function["vim"]]
        vim["core_used"] -= function["cores"]
        vim["memory_used"] -= function["memory"]

    def _remove(self, request: dict) -> dict:
        instance = request["vnf_uuid"]
        request["service_instance_id"], request["vim_uuid"]  # noqa: B018 - required fields
        if instance not in self.functions:
            raise ValueError(f"no function {instance}")
        self._release(instance)
        return {}

    def _configure(self, request: dict) -> dict:
        instance, vim_uuid = request["func_id"], request["vim_uuid"]
        request["service_instance_id"]  # noqa: B018 - required
        if self.functions.get(instance, {}).get("vim") != vim_uuid:
            raise ValueError(f"no function {instance} on VIM {vim_uuid}")
        for unit in request["envs"]:
            self.functions[instance].setdefault("envs", {}).setdefault(unit["cdu_id"], {}).update(unit["envs"])
        return {}

    def _service_remove(self, request: dict) -> dict:
        service, vim_uuid = request["instance_uuid"], request["vim_uuid"]
        for instance in [i for i, f in self.functions.items() if f["service"] == service and f["vim"] == vim_uuid]:
            self._release(instance)
        self.networks[service].pop(vim_uuid, None)
        return {}

    # --- for assertions -----------------------------------------------------------------
    def wait_for(self, predicate, timeout: float = 10.0) -> bool:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with self._lock:
                if predicate(self):
                    return True
            time.sleep(0.05)
        return False

    def raw_requests(self, topic: str) -> list[Any]:
        with self._lock:
            return [json.loads(json.dumps(r)) for r in self.requests[topic]]

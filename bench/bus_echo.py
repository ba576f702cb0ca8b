"""Request/reply round-trip baseline over RabbitMQ, printed as JSON.

Two implementations of the same SONATA exchange (request on topic T with ``reply_to=T``,
echo on T with the same correlation id and empty ``reply_to``, both sides ignoring what is
not for them):

* ``pika``: bare ``BlockingConnection`` on each side, no confirms, no YAML: the floor the
  broker and pika allow on this machine;
* ``bus``: mano's :class:`~mano.messaging.bus.Bus` + :class:`~mano.messaging.rpc.RpcClient`
  + :func:`~mano.messaging.rpc.serve` (YAML bodies, confirms, worker threads).

The gateway benchmark compares against these numbers. Each run uses a fresh exchange
that is deleted afterwards.

    python bench/bus_echo.py --mode both -n 2000 --body-bytes 1024
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import sys
import threading
import time
import uuid
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import pika
import yaml

from mano.settings import DEFAULT_BROKER_URL, Settings

TOPIC = "bench.echo"


def _summary(mode: str, latencies: list[float], wall: float, body_bytes: int) -> dict:
    ordered = sorted(latencies)

    def pct(p: float) -> float:
        return round(ordered[min(len(ordered) - 1, int(p * len(ordered)))] * 1000, 3)

    return {"mode": mode, "n": len(latencies), "body_bytes": body_bytes,
            "mean_ms": round(statistics.fmean(latencies) * 1000, 3), "p50_ms": pct(0.50),
            "p90_ms": pct(0.90), "p99_ms": pct(0.99), "max_ms": round(ordered[-1] * 1000, 3),
            "round_trips_per_s": round(len(latencies) / wall, 1)}


def run_pika(url: str, exchange: str, n: int, body: dict, warmup: int) -> dict:
    ready = threading.Event()
    stop = threading.Event()

    def echo_server() -> None:
        connection = pika.BlockingConnection(pika.URLParameters(url))
        channel = connection.channel()
        channel.exchange_declare(exchange, exchange_type="topic")
        queue = channel.queue_declare("", exclusive=True).method.queue
        channel.queue_bind(queue, exchange, routing_key=TOPIC)
        channel.basic_qos(prefetch_count=100)

        def on_message(ch, method, props, raw):
            if props.reply_to:  # a request: answer it on reply_to
                ch.basic_publish(exchange, props.reply_to, raw, pika.BasicProperties(
                    app_id="bench.echo", content_type="application/json",
                    correlation_id=props.correlation_id, reply_to="",
                    headers={"key": "default", "type": "reply"}))
            ch.basic_ack(method.delivery_tag)

        channel.basic_consume(queue, on_message)
        ready.set()
        while not stop.is_set():
            connection.process_data_events(time_limit=0.05)
        connection.close()

    server = threading.Thread(target=echo_server, daemon=True)
    server.start()
    ready.wait(10)
    connection = pika.BlockingConnection(pika.URLParameters(url))
    channel = connection.channel()
    queue = channel.queue_declare("", exclusive=True).method.queue
    channel.queue_bind(queue, exchange, routing_key=TOPIC)
    raw = yaml.safe_dump(body).encode()
    latencies: list[float] = []
    waiting: dict[str, float] = {}
    done = threading.Event()

    def on_reply(ch, method, props, _raw):
        ch.basic_ack(method.delivery_tag)
        if not props.reply_to and props.correlation_id in waiting:
            waiting.pop(props.correlation_id)
            done.set()

    channel.basic_consume(queue, on_reply)
    started = 0.0
    for i in range(n + warmup):
        if i == warmup:
            started = time.perf_counter()
        corr = str(uuid.uuid4())
        waiting[corr] = t0 = time.perf_counter()
        done.clear()
        channel.basic_publish(exchange, TOPIC, raw, pika.BasicProperties(
            app_id="bench.caller", content_type="application/json", correlation_id=corr,
            reply_to=TOPIC, headers={"key": "default", "type": "request"}))
        while not done.is_set():
            connection.process_data_events(time_limit=1)
        if i >= warmup:
            latencies.append(time.perf_counter() - t0)
    wall = time.perf_counter() - started
    connection.close()
    stop.set()
    server.join(5)
    return _summary("pika", latencies, wall, len(raw))


def run_bus(url: str, exchange: str, n: int, body: dict, warmup: int) -> dict:
    from mano.messaging.bus import Bus
    from mano.messaging.envelope import encode_body
    from mano.messaging.rpc import RpcClient, serve

    settings = Settings(broker_url=url, exchange=exchange)
    with Bus(settings, app_id="bench.echo") as callee, Bus(settings, app_id="bench.caller") as caller:
        serve(callee, TOPIC, lambda request: request.body)
        rpc = RpcClient(caller)
        latencies: list[float] = []
        started = 0.0
        for i in range(n + warmup):
            if i == warmup:
                started = time.perf_counter()
            t0 = time.perf_counter()
            rpc.call(TOPIC, body, timeout=10)
            if i >= warmup:
                latencies.append(time.perf_counter() - t0)
        wall = time.perf_counter() - started
        rpc.close()
    return _summary("bus", latencies, wall, len(encode_body(body)))


def _delete_exchange(url: str, exchange: str) -> None:
    connection = pika.BlockingConnection(pika.URLParameters(url))
    connection.channel().exchange_delete(exchange)
    connection.close()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--url", default=os.environ.get("MANO_BROKER_URL") or DEFAULT_BROKER_URL)
    parser.add_argument("--mode", choices=["pika", "bus", "both"], default="pika")
    parser.add_argument("-n", type=int, default=1000, help="measured round trips")
    parser.add_argument("--warmup", type=int, default=50)
    parser.add_argument("--body-bytes", type=int, default=256, help="approximate body size")
    args = parser.parse_args(argv)
    body = {"status": "READY", "payload": "x" * max(0, args.body_bytes - 30)}
    results = []
    for mode in (["pika", "bus"] if args.mode == "both" else [args.mode]):
        exchange = f"bench.{uuid.uuid4().hex[:8]}"
        try:
            runner = run_pika if mode == "pika" else run_bus
            results.append(runner(args.url, exchange, args.n, body, args.warmup))
        finally:
            _delete_exchange(args.url, exchange)
    print(json.dumps({"benchmark": "bus_echo", "python": platform.python_version(),
                      "pika": pika.__version__, "cpus": os.cpu_count(), "results": results},
                     indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())

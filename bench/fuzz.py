"""Fuzz the edges with N generated inputs each and count what happened (JSON out).

- descriptors: mutations of real SONATA VNFDs/NSDs (values replaced by random types, keys
  deleted, lists emptied) through ``load_vnfd``/``load_nsd``;
- AMQP bodies: random bytes, truncated YAML, deep nesting and random structures through the
  codec and the northbound parser.
Every input must either load or raise mano's specific error; anything else is "unhandled".

    python bench/fuzz.py [-n 10000] [--seed 1]
"""
from __future__ import annotations

import argparse
import copy
import random
import sys
import time
import traceback
from pathlib import Path

import yaml

HERE = Path(__file__).resolve().parent
# Run as a file, bench/ would be sys.path[0] and its placement.py would shadow the package.
sys.path[0] = str(Path(__file__).resolve().parents[1])
from bench._common import save  # noqa: E402

REPO = HERE.parent
SONATA = REPO / "tests" / "data" / "sonata"


def random_value(rng: random.Random, depth: int = 0):
    kind = rng.randrange(8 if depth < 3 else 5)
    if kind == 5:
        return [random_value(rng, depth + 1) for _ in range(rng.randrange(4))]
    if kind == 6:
        return {str(rng.random())[:6]: random_value(rng, depth + 1) for _ in range(rng.randrange(4))}
    return [None, True, rng.randint(-10**9, 10**9), rng.random() * 1e6 - 5e5,
            "".join(chr(rng.randrange(32, 0x2FF)) for _ in range(rng.randrange(12))), None, None,
            float("nan")][kind]


def mutate(doc, rng: random.Random):
    doc = copy.deepcopy(doc)
    for _ in range(rng.randint(1, 5)):
        node, path = doc, []
        while isinstance(node, (dict, list)) and node and rng.random() < 0.75:
            key = rng.choice(list(node)) if isinstance(node, dict) else rng.randrange(len(node))
            path.append((node, key))
            node = node[key]
        if not path:
            continue
        parent, key = path[-1]
        roll = rng.random()
        if roll < 0.5:
            parent[key] = random_value(rng)
        elif roll < 0.8:
            del parent[key]
        else:
            parent[key] = [] if isinstance(parent[key], list) else {}
    return doc


def random_payload(rng: random.Random) -> bytes:
    roll = rng.randrange(5)
    if roll == 0:
        return bytes(rng.randrange(256) for _ in range(rng.randrange(1, 400)))
    if roll == 1:
        return yaml.safe_dump(random_value(rng)).encode()[: rng.randrange(1, 200)]
    if roll == 2:
        depth = rng.randrange(10, 200)
        return b"a: " + b"[" * depth + b"]" * depth
    if roll == 3:
        return yaml.safe_dump({"NSD": random_value(rng), "VNFD0": random_value(rng), "user_data": random_value(rng),
                               "service_instance_uuid": random_value(rng), "scaling_type": random_value(rng)}).encode()
    return yaml.safe_dump(random_value(rng)).encode()


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("-n", type=int, default=10_000)
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()
    from mano.descriptors import load_nsd, load_vnfd
    from mano.errors import DescriptorError, MessagingError
    from mano.gateway import northbound as nb
    from mano.messaging.envelope import decode_body

    rng = random.Random(args.seed)
    bases = [(load_vnfd, yaml.safe_load(p.read_text())) for p in sorted(SONATA.glob("**/vnfd*.yml"))[:6]]
    bases += [(load_nsd, yaml.safe_load(p.read_text())) for p in sorted(SONATA.glob("**/nsd*.yml"))[:6]]
    counts = {"descriptors": {"loaded": 0, "specific_error": 0, "unhandled": 0},
              "amqp": {"parsed": 0, "specific_error": 0, "unhandled": 0}}
    unhandled: list[str] = []
    t0 = time.perf_counter()
    for i in range(args.n):
        loader, base = bases[i % len(bases)]
        try:
            loader(mutate(base, rng))
            counts["descriptors"]["loaded"] += 1
        except DescriptorError:
            counts["descriptors"]["specific_error"] += 1
        except Exception:  # noqa: BLE001 - what the benchmark counts
            counts["descriptors"]["unhandled"] += 1
            unhandled.append(traceback.format_exc(limit=3))
    for _ in range(args.n):
        try:
            body = decode_body(random_payload(rng), max_bytes=1024 * 1024)
            nb.parse(rng.choice(nb.NORTHBOUND_TOPICS), body, lambda sid: {})
            counts["amqp"]["parsed"] += 1
        except (MessagingError, nb.GatewayRequestError):
            counts["amqp"]["specific_error"] += 1
        except Exception:  # noqa: BLE001
            counts["amqp"]["unhandled"] += 1
            unhandled.append(traceback.format_exc(limit=3))
    save("fuzz", {"n_each": args.n, "seed": args.seed, "seconds": round(time.perf_counter() - t0, 1),
                  "counts": counts, "unhandled_examples": unhandled[:5],
                  "target_zero_unhandled": not unhandled})


if __name__ == "__main__":
    main()

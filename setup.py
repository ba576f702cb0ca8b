"""Packaging for mano: an actor-model NFV orchestration runtime on Ray."""
from setuptools import find_packages, setup

setup(
    name="mano",
    version="0.1.0",
    description="Actor-model NFV MANO runtime on Ray, wire-compatible with SONATA",
    python_requires=">=3.10",
    packages=find_packages(include=["mano", "mano.*", "actors", "actors.*",
                                    "placement", "placement.*", "ssm", "ssm.*"]),
    # the default topology and the demo service ship with the package: `mano demo` runs anywhere
    package_data={"mano": ["data/*.yml", "data/sonata-demo/*.yml"]},
    # Bounds: the oldest release each feature needs, and below the next major release.
    # constraints.txt pins the exact versions the suite passes with (make and CI install from it).
    install_requires=[
        "pydantic>=2.5,<3",
        "PyYAML>=6,<7",
        "pymongo>=4.6,<5",
        "nx-27017>=0.8,<0.9",
        "ray[default]>=2.40,<3",
        "pika>=1.3,<2",
        "networkx>=3.0,<4",
        "scipy>=1.11,<2",
        "click>=8.1,<9",
        "rich>=13,<16",
        "psutil>=5.9,<8",
        "topohub>=1.5,<2",  # the Topology Zoo, SNDlib and CAIDA graphs, as data (placement.topology)
        "fastapi>=0.110,<1",  # the SOL005 HTTP API (mano.rest), served by uvicorn
        "uvicorn>=0.29,<1",
    ],
    extras_require={
        "docker": ["docker>=7,<8"],
        "test": ["pytest>=8,<10", "hypothesis>=6.100,<7", "pytest-timeout>=2.2,<3",
                 "import-linter>=2.0,<3", "nbclient>=0.10,<1", "nbformat>=5.9,<6", "ipykernel>=6,<8",
                 "matplotlib>=3.7,<4", "docker>=7,<8", "mongomock>=4.1,<5",
                 "httpx>=0.27,<1", "schemathesis>=4,<5"],
    },
    entry_points={"console_scripts": ["mano=mano.cli:main"]},
)

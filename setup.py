"""Packaging for mano: an actor-model NFV orchestration runtime on Ray."""
from setuptools import find_packages, setup

setup(
    name="mano",
    version="0.1.0",
    description="Actor-model NFV MANO runtime on Ray, wire-compatible with SONATA",
    python_requires=">=3.10",
    packages=find_packages(include=["mano", "mano.*", "actors", "actors.*",
                                    "placement", "placement.*", "ssm", "ssm.*"]),
    package_data={"mano": ["data/*.yml"]},
    install_requires=[
        "pydantic>=2.5",
        "PyYAML>=6",
        "pymongo>=4.6",
        "nx-27017>=0.8",
        "ray[default]>=2.40",
        "pika>=1.3",
        "networkx>=3.0",
        "scipy>=1.11",
        "click>=8.1",
        "rich>=13",
        "psutil>=5.9",
    ],
    extras_require={
        "docker": ["docker>=7"],
        "test": ["pytest>=8", "hypothesis>=6.100", "pytest-timeout>=2.2", "import-linter>=2.0",
                 "nbclient>=0.10", "nbformat>=5.9", "ipykernel>=6", "matplotlib>=3.7", "docker>=7"],
    },
    entry_points={"console_scripts": ["mano=mano.cli:main"]},
)

"""Shared fixtures for the self-tests: one server set per worker, scripted clients."""
from __future__ import annotations

import os

import pytest

from conformance.clients.process import Reply
from servers.transport import ServerSet


@pytest.fixture(scope="session")
def servers():
    s = ServerSet()
    yield s
    s.close()


class ScriptedClient:
    """The scripted client, in-process, shaped like ClientProcess."""

    def __init__(self, behaviour_name: str):
        from tests.scripted.client import BEHAVIOURS, hello
        self.name = f"scripted-{behaviour_name}"
        self.behaviour = BEHAVIOURS[behaviour_name]
        self.hello = hello()

    def run(self, job: dict, bound_s: float) -> Reply:
        from tests.scripted.client import run_job
        return Reply("result", run_job(job, self.behaviour))

    def pids(self) -> list[int]:
        return [os.getpid()]   # in-process: the client's sockets are this process's


@pytest.fixture
def scripted():
    return ScriptedClient

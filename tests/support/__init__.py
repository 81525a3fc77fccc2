"""Helpers shared by the tests (``tests/`` is on sys.path: ``from support.cli import Cli``).

    cli       the bpfman CLI with a private runtime dir (``Cli``), the console script
    net       veth pairs in their own network namespace, packets, tc/xdp verdicts, counters
    daemon    a bpfman gRPC daemon per test module (the ``daemon``/``rpc`` fixtures)
    registry  a local OCI registry (docker-registry) on a free port
"""

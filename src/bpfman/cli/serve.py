"""``bpfman serve``: the gRPC daemon (``bpfman.v1.Bpfman``) on a Unix socket; ``bpfman metrics``."""

from __future__ import annotations

import click

from bpfman.cli.manage import handled
from bpfman.server import DEFAULT_SOCKET


@click.command("serve", help="Serve bpfman's gRPC API on a Unix socket (until SIGTERM/SIGINT).")
@click.option(
    "--socket",
    "socket_path",
    default=DEFAULT_SOCKET,
    show_default=True,
    help="Unix socket path (created mode 0660); ignored under systemd socket activation",
)
@click.option(
    "--idle-timeout",
    type=click.FloatRange(min=0, min_open=True),
    default=None,
    metavar="SECONDS",
    help="exit after SECONDS without a request (default: never)",
)
@click.option(
    "--metrics",
    default=None,
    metavar="HOST:PORT",
    help="also serve Prometheus metrics on http://HOST:PORT/metrics",
)
@click.option(
    "--csi-support",
    is_flag=True,
    help="also serve the CSI node plugin (driver csi.bpfman.io) for pods' map volumes",
)
@click.option(
    "--csi-socket",
    default=None,
    metavar="PATH",
    help="the CSI plugin's Unix socket (default: <runtime-dir>/csi/csi.sock)",
)
@handled
def serve(
    socket_path: str,
    idle_timeout: float | None,
    metrics: str | None,
    csi_support: bool,
    csi_socket: str | None,
) -> None:
    from bpfman.errors import UsageError
    from bpfman.server.daemon import Options
    from bpfman.server.daemon import serve as run

    if idle_timeout is not None and csi_support:
        raise UsageError("--idle-timeout cannot be used with --csi-support (kubelet calls it)")
    if csi_socket is not None and not csi_support:
        raise UsageError("--csi-socket needs --csi-support")
    root = click.get_current_context().find_root().params
    run(
        Options(
            runtime_dir=root.get("runtime_dir"),
            config_path=root.get("config"),
            socket_path=socket_path,
            idle_timeout=idle_timeout,
            metrics=metrics,
            csi_support=csi_support,
            csi_socket=csi_socket,
        )
    )


@click.command(
    "metrics",
    help="Serve Prometheus metrics of bpfman's programs on http://HOST:PORT/metrics "
    "(without the daemon; until SIGTERM/SIGINT).",
)
@click.argument("address", metavar="HOST:PORT")
@handled
def metrics(address: str) -> None:
    from bpfman.server.daemon import StopSignals
    from bpfman.server.metrics import exporter

    root = click.get_current_context().find_root().params
    with StopSignals() as stop, exporter(address, root.get("runtime_dir"), root.get("config")):
        while not stop.wait(3600):
            pass

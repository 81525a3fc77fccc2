"""The daemon: bpfman's gRPC API (``bpfman.v1.Bpfman``) over a Unix socket, driving the Manager.

``bpfman serve`` runs it (``daemon``). Requests become Manager calls and the
Manager's views become messages (``translate``); failures become gRPC status
codes (``status``). The Python modules ``bpfman_pb2*`` are generated from
``proto/bpfman/v1/bpfman.proto`` by ``make proto``.
"""

DEFAULT_SOCKET = "/run/bpfman-sock/bpfman.sock"

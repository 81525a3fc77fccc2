"""The bpfman program manager: load/attach/detach/unload/list/get with persistent state.

Used in-process by the CLI (the embedded default) and, later, by the gRPC daemon.
"""

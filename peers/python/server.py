"""A Python grpcio server for greet.v1.GreetService, for our Rust client
(peers/src/bin/peer-client/) to call over gRPC (HTTP/2 without TLS, proto).

    python server.py GEN_DIR

GEN_DIR holds the stubs generated from examples/proto by grpcio-tools' protoc
(`greet/v1/greet_pb2.py`, `greet/v1/greet_pb2_grpc.py`; peers/run.sh makes
them). The server listens on a free port of 127.0.0.1, prints one JSON line on
stdout once it does:

    {"http2": "http://127.0.0.1:PORT"}

and serves until SIGTERM/SIGINT, or for at most PEER_SERVER_LIFETIME_S seconds
(default 900), so an orphaned server does not linger.

The service behaves like the example Greeter (examples/src/greeter.rs), plus
the peer-server extras the client's `--extras` cases check:

- Greet: "Hello, NAME!" ("World" for an empty name). With request metadata
  `x-peer-error: TEXT` it fails with INVALID_ARGUMENT and message TEXT.
- GreetStream: `count` greetings "Hello, NAME! (i)", 50 ms apart;
  INVALID_ARGUMENT "count must be between 0 and 100" outside 0..=100.
- GreetMany: one greeting for all names, joined with ", ".
- Chat: one greeting per request, sent as each request arrives.
- Every method: request metadata `x-peer-echo: V` comes back as response
  header `x-peer-echo: V` and trailer `x-peer-trailer: V`.

Responses are gzip-compressed (the server's default compression), so the
client's decompression is exercised too.
"""

import json
import os
import signal
import sys
import threading
import time
from concurrent import futures

import grpc

MAX_GREETINGS = 100


def main():
    if len(sys.argv) != 2:
        sys.exit("usage: server.py GEN_DIR")
    sys.path.insert(0, sys.argv[1])
    from greet.v1 import greet_pb2, greet_pb2_grpc  # noqa: PLC0415 (generated at test time)

    def greeting(name):
        return f"Hello, {name or 'World'}!"

    def echo(context):
        """The metadata extras: echo `x-peer-echo` as a header and a trailer."""
        metadata = dict(context.invocation_metadata())
        value = metadata.get("x-peer-echo")
        if value is not None:
            context.send_initial_metadata((("x-peer-echo", value),))
            context.set_trailing_metadata((("x-peer-trailer", value),))
        return metadata

    class Greeter(greet_pb2_grpc.GreetServiceServicer):
        def Greet(self, request, context):
            metadata = echo(context)
            fail = metadata.get("x-peer-error")
            if fail is not None:
                context.abort(grpc.StatusCode.INVALID_ARGUMENT, fail)
            return greet_pb2.GreetResponse(greeting=greeting(request.name))

        def GreetStream(self, request, context):
            echo(context)
            if not 0 <= request.count <= MAX_GREETINGS:
                context.abort(
                    grpc.StatusCode.INVALID_ARGUMENT,
                    f"count must be between 0 and {MAX_GREETINGS}",
                )
            for i in range(request.count):
                if i > 0:
                    time.sleep(0.05)
                    if not context.is_active():
                        return
                yield greet_pb2.GreetResponse(
                    greeting=f"{greeting(request.name)} ({i + 1})"
                )

        def GreetMany(self, request_iterator, context):
            echo(context)
            names = [r.name for r in request_iterator]
            return greet_pb2.GreetResponse(greeting=greeting(", ".join(names)))

        def Chat(self, request_iterator, context):
            echo(context)
            for request in request_iterator:
                yield greet_pb2.GreetResponse(greeting=greeting(request.name))

    server = grpc.server(
        futures.ThreadPoolExecutor(max_workers=16),
        compression=grpc.Compression.Gzip,
    )
    greet_pb2_grpc.add_GreetServiceServicer_to_server(Greeter(), server)
    port = server.add_insecure_port("127.0.0.1:0")
    server.start()
    print(json.dumps({"http2": f"http://127.0.0.1:{port}"}), flush=True)

    # The handler only flags the stop: calling server.stop() in it could
    # deadlock when a second signal interrupts the first stop. A second signal
    # terminates at once (default action).
    stopping = threading.Event()

    def request_stop(_signum, _frame):
        signal.signal(signal.SIGTERM, signal.SIG_DFL)
        signal.signal(signal.SIGINT, signal.SIG_DFL)
        stopping.set()

    signal.signal(signal.SIGTERM, request_stop)
    signal.signal(signal.SIGINT, request_stop)
    stopping.wait(timeout=float(os.environ.get("PEER_SERVER_LIFETIME_S", "900")))
    server.stop(grace=None).wait(timeout=5)
    print("server.py: stopped", file=sys.stderr)


if __name__ == "__main__":
    main()

// A connect-es (@connectrpc/connect-node) server for greet.v1.GreetService, for our Rust client
// (peers/src/bin/peer-client/) to call.
//
//   node server.mjs
//
// Serves Connect, gRPC and gRPC-Web (connectNodeAdapter handles all three) on two free ports of
// 127.0.0.1: one node:http server for HTTP/1.1 and one node:http2 server for h2c (prior
// knowledge). A plaintext http2 server does not fall back to HTTP/1.1 (`allowHTTP1` only works
// with TLS), hence two. Once both listen it prints one JSON line on stdout:
//
//   {"http1":"http://127.0.0.1:PORT1","http2":"http://127.0.0.1:PORT2"}
//
// and serves until SIGTERM/SIGINT, or for at most PEER_SERVER_LIFETIME_S seconds (default 900), so
// an orphaned server does not linger.
//
// The service behaves like the example Greeter (examples/src/greeter.rs), plus the peer-server
// extras the client's `--extras` cases check:
//
// - Greet: "Hello, NAME!" ("World" for an empty name). With request header `x-peer-error: TEXT`
//   it fails with InvalidArgument and message TEXT.
// - GreetStream: `count` greetings "Hello, NAME! (i)", 50 ms apart; InvalidArgument
//   "count must be between 0 and 100" outside 0..=100.
// - GreetMany: one greeting for all names, joined with ", ".
// - Chat: one greeting per request, sent as each request arrives.
// - Every method: request header `x-peer-echo: V` comes back as response header `x-peer-echo: V`
//   and response trailer `x-peer-trailer: V`.
//
// connect-node refuses bidi streams over HTTP/1.1 (505 HTTP Version Not Supported, with
// `connection: close`); the client expects that with `--h1-bidi-refused`.

import http from "node:http";
import http2 from "node:http2";
import { setTimeout as sleep } from "node:timers/promises";
import { Code, ConnectError } from "@connectrpc/connect";
import { connectNodeAdapter } from "@connectrpc/connect-node";
import { GreetService } from "./gen/greet/v1/greet_pb.js";

const MAX_GREETINGS = 100;

function greeting(name) {
  return `Hello, ${name === "" ? "World" : name}!`;
}

// The metadata extras: echo `x-peer-echo` as a response header and a trailer.
function echo(ctx) {
  const value = ctx.requestHeader.get("x-peer-echo");
  if (value !== null) {
    ctx.responseHeader.set("x-peer-echo", value);
    ctx.responseTrailer.set("x-peer-trailer", value);
  }
}

function routes(router) {
  router.service(GreetService, {
    async greet(req, ctx) {
      echo(ctx);
      const fail = ctx.requestHeader.get("x-peer-error");
      if (fail !== null) {
        throw new ConnectError(fail, Code.InvalidArgument);
      }
      return { greeting: greeting(req.name) };
    },

    async *greetStream(req, ctx) {
      echo(ctx);
      if (req.count < 0 || req.count > MAX_GREETINGS) {
        throw new ConnectError(
          `count must be between 0 and ${MAX_GREETINGS}`,
          Code.InvalidArgument,
        );
      }
      for (let i = 0; i < req.count; i++) {
        if (i > 0) await sleep(50, undefined, { signal: ctx.signal });
        yield { greeting: `${greeting(req.name)} (${i + 1})` };
      }
    },

    async greetMany(requests, ctx) {
      echo(ctx);
      const names = [];
      for await (const req of requests) names.push(req.name);
      return { greeting: greeting(names.join(", ")) };
    },

    async *chat(requests, ctx) {
      echo(ctx);
      for await (const req of requests) {
        yield { greeting: greeting(req.name) };
      }
    },
  });
}

const handler = connectNodeAdapter({ routes });

function listen(server) {
  return new Promise((resolve, reject) => {
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => resolve(`http://127.0.0.1:${server.address().port}`));
  });
}

const h1 = http.createServer(handler);
const h2 = http2.createServer(handler);
const urls = { http1: await listen(h1), http2: await listen(h2) };
console.log(JSON.stringify(urls));

process.on("exit", (code) => console.error(`server.mjs: exiting with status ${code}`));

function shutdown() {
  h1.closeAllConnections?.();
  h1.close();
  h2.close();
  process.exit(0);
}
process.on("SIGTERM", shutdown);
process.on("SIGINT", shutdown);
setTimeout(shutdown, 1000 * Number(process.env.PEER_SERVER_LIFETIME_S ?? 900)).unref();

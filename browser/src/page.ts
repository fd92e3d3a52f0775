// The page under test: connect-web clients for greet.v1.GreetService over
// every browser transport, calling an API on another origin. The driver
// (driver.mjs) calls `window.runAll(apiBaseUrl)` and checks what it returns;
// the page itself reads results, error codes, messages and details.
import { Code, ConnectError, createClient, type Transport } from "@connectrpc/connect";
import { createConnectTransport, createGrpcWebTransport } from "@connectrpc/connect-web";
import { Int32ValueSchema } from "@bufbuild/protobuf/wkt";
import { GreetService } from "./gen/greet/v1/greet_pb.js";

/** What one call gave: a value, or the error the page read. */
export type Outcome =
  | { ok: true; value: unknown; headers?: Record<string, string | null> }
  | { ok: false; code: string; message: string; details: number[] };

/** One transport's outcomes by case. */
export type TransportResults = Record<string, Outcome>;

/** The transports a browser can use, by name. */
function transports(baseUrl: string): Record<string, Transport> {
  return {
    "connect-json": createConnectTransport({ baseUrl, useBinaryFormat: false }),
    "connect-binary": createConnectTransport({ baseUrl, useBinaryFormat: true }),
    // Unary calls to NO_SIDE_EFFECTS methods (Greet) go out as GET.
    "connect-get": createConnectTransport({ baseUrl, useBinaryFormat: false, useHttpGet: true }),
    "grpc-web-binary": createGrpcWebTransport({ baseUrl, useBinaryFormat: true }),
    "grpc-web-json": createGrpcWebTransport({ baseUrl, useBinaryFormat: false }),
  };
}

/** The error a call failed with, as the page reads it. */
function failure(err: unknown): Outcome {
  const e = ConnectError.from(err);
  return {
    ok: false,
    code: Code[e.code],
    message: e.rawMessage,
    details: e.findDetails(Int32ValueSchema).map((d) => d.value),
  };
}

async function outcome(f: () => Promise<Outcome>): Promise<Outcome> {
  try {
    return await f();
  } catch (err) {
    return failure(err);
  }
}

/** The response headers the page can read (exposed by CORS, or safelisted). */
function pick(h: Headers, ...names: string[]): Record<string, string | null> {
  return Object.fromEntries(names.map((n) => [n, h.get(n)]));
}

/** Every case over one transport. */
async function runTransport(transport: Transport): Promise<TransportResults> {
  const client = createClient(GreetService, transport);
  // A deadline on every call: connect-timeout-ms / grpc-timeout must pass CORS.
  const timeoutMs = 10_000;
  return {
    unary: await outcome(async () => {
      let headers: Record<string, string | null> = {};
      const res = await client.greet(
        { name: "Browser" },
        { timeoutMs, onHeader: (h) => (headers = pick(h, "x-greet-server", "cache-control", "etag")) },
      );
      return { ok: true, value: res.greeting, headers };
    }),
    serverStream: await outcome(async () => {
      let headers: Record<string, string | null> = {};
      const got: string[] = [];
      for await (const res of client.greetStream(
        { name: "Stream", count: 3 },
        { timeoutMs, onHeader: (h) => (headers = pick(h, "x-greet-server")) },
      )) {
        got.push(res.greeting);
      }
      return { ok: true, value: got, headers };
    }),
    unaryError: await outcome(async () => {
      const res = await client.greet({ name: "x".repeat(41) }, { timeoutMs });
      return { ok: true, value: res.greeting };
    }),
    streamError: await outcome(async () => {
      const got: string[] = [];
      for await (const res of client.greetStream({ name: "Stream", count: 101 }, { timeoutMs })) {
        got.push(res.greeting);
      }
      return { ok: true, value: got };
    }),
  };
}

/** Runs every case over every transport against the API at `baseUrl`. */
export async function runAll(baseUrl: string): Promise<Record<string, TransportResults>> {
  const out: Record<string, TransportResults> = {};
  for (const [name, transport] of Object.entries(transports(baseUrl))) {
    out[name] = await runTransport(transport);
  }
  return out;
}

/** One unary call per transport: from an origin the server does not allow, each must fail. */
export async function runBlocked(baseUrl: string): Promise<Record<string, Outcome>> {
  const out: Record<string, Outcome> = {};
  for (const [name, transport] of Object.entries(transports(baseUrl))) {
    out[name] = await outcome(async () => {
      const res = await createClient(GreetService, transport).greet({ name: "Blocked" });
      return { ok: true, value: res.greeting };
    });
  }
  return out;
}

declare global {
  interface Window {
    runAll: typeof runAll;
    runBlocked: typeof runBlocked;
  }
}
window.runAll = runAll;
window.runBlocked = runBlocked;
document.getElementById("status")!.textContent = "ready";

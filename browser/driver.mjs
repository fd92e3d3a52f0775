// Drives static/index.html in headless Chromium (puppeteer-core, the
// system's chromium, no browser download) against examples/greet/web.rs.
//
//   node driver.mjs <greet-web binary>      (env CHROMIUM: the browser binary)
//
// The page is served from one origin (127.0.0.1:A, allowed by the server's
// CORS layer) and the API listens on another (127.0.0.1:B); a third origin
// (127.0.0.1:C, not allowed) checks that the browser really enforces CORS.
// Every result is asserted here; the exit code is non-zero on any failure.
import { spawn, execFileSync } from "node:child_process";
import { createServer } from "node:http";
import { readFile } from "node:fs/promises";
import { createInterface } from "node:readline";
import { fileURLToPath } from "node:url";
import path from "node:path";
import puppeteer from "puppeteer-core";

const here = path.dirname(fileURLToPath(import.meta.url));
const staticDir = path.join(here, "static");
const serverBin = process.argv[2];
if (!serverBin) {
  console.error("usage: node driver.mjs <greet-web binary>");
  process.exit(2);
}
const chromium = process.env.CHROMIUM || execFileSync("sh", ["-c", "command -v chromium"]).toString().trim();

const TYPES = { ".html": "text/html; charset=utf-8", ".js": "text/javascript; charset=utf-8" };

/** A static file server for static/ on 127.0.0.1, on a free port. */
async function serveStatic() {
  const server = createServer(async (req, res) => {
    const name = new URL(req.url, "http://x").pathname.replace(/^\/$/, "/index.html");
    const file = path.join(staticDir, path.normalize(name));
    if (!file.startsWith(staticDir + path.sep)) {
      res.writeHead(403).end();
      return;
    }
    try {
      const body = await readFile(file);
      res.writeHead(200, { "content-type": TYPES[path.extname(file)] ?? "application/octet-stream" });
      res.end(body);
    } catch {
      res.writeHead(404).end();
    }
  });
  await new Promise((resolve) => server.listen(0, "127.0.0.1", resolve));
  return { server, origin: `http://127.0.0.1:${server.address().port}` };
}

/** Starts the API server allowing `origin`; resolves with its base URL. */
function startApi(origin) {
  const child = spawn(serverBin, ["127.0.0.1:0", origin], { stdio: ["ignore", "pipe", "inherit"] });
  // Never leave the server behind, however the driver ends.
  process.on("exit", () => child.kill("SIGKILL"));
  for (const sig of ["SIGINT", "SIGTERM", "SIGHUP", "SIGPIPE"]) {
    process.on(sig, () => process.exit(1));
  }
  const exited = new Promise((resolve) => child.on("exit", resolve));
  const url = new Promise((resolve, reject) => {
    const lines = createInterface({ input: child.stdout });
    lines.on("line", (line) => {
      const m = line.match(/listening on (http:\/\/\S+)/);
      if (m) resolve(m[1]);
      else console.log(`[server] ${line}`);
    });
    child.on("exit", (code) => reject(new Error(`greet-web exited with ${code} before listening`)));
    child.on("error", reject);
  });
  return { child, url, exited };
}

let passed = 0;
let failed = 0;
function check(name, ok, detail) {
  if (ok) {
    passed++;
    console.log(`ok   ${name}`);
  } else {
    failed++;
    console.log(`FAIL ${name}: ${detail}`);
  }
}
const same = (a, b) => JSON.stringify(a) === JSON.stringify(b);

/** web.rs's validator: the FNV-1a hash of the greeting, quoted. */
function etagFor(text) {
  let h = 0xcbf29ce484222325n;
  for (const b of Buffer.from(text)) h = ((h ^ BigInt(b)) * 0x100000001b3n) & 0xffffffffffffffffn;
  return `"${h.toString(16).padStart(16, "0")}"`;
}

const TRANSPORTS = ["connect-json", "connect-binary", "connect-get", "grpc-web-binary", "grpc-web-json"];
const EXPECTED = {
  unary: {
    ok: true,
    value: "Hello, Browser!",
    // The cache headers Greet sets (etag: FNV-1a of the greeting, as web.rs computes it).
    headers: { "x-greet-server": "greet-web", "cache-control": "public, max-age=60", etag: etagFor("Hello, Browser!") },
  },
  serverStream: {
    ok: true,
    value: ["Hello, Stream! (1)", "Hello, Stream! (2)", "Hello, Stream! (3)"],
    headers: { "x-greet-server": "greet-web" },
  },
  unaryError: {
    ok: false,
    code: "InvalidArgument",
    message: "name must be at most 40 characters, got 41",
    details: [40],
  },
  streamError: { ok: false, code: "InvalidArgument", message: "count must be between 0 and 100", details: [100] },
};

async function main() {
  const allowed = await serveStatic();
  const blocked = await serveStatic();
  const api = startApi(allowed.origin);
  let browser;
  try {
    const apiUrl = await api.url;
    console.log(`page origin ${allowed.origin}, API ${apiUrl}, blocked origin ${blocked.origin}`);
    browser = await puppeteer.launch({
      executablePath: chromium,
      headless: true,
      args: ["--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage"],
    });
    const page = await browser.newPage();
    page.on("console", (m) => console.log(`[page] ${m.type()}: ${m.text()}`));
    page.on("pageerror", (e) => console.log(`[page] error: ${e.message}`));
    await page.goto(`${allowed.origin}/index.html`);
    await page.waitForFunction(() => document.getElementById("status")?.textContent === "ready", { timeout: 10_000 });

    // What went over the wire, as Chromium saw it: each protocol and codec
    // must really have been used, and the GET must really be a GET.
    const seen = new Set();
    page.on("request", (r) => {
      if (r.url().startsWith(apiUrl)) {
        const ct = r.headers()["content-type"] ?? "";
        seen.add(`${r.method()} ${ct}`.trim());
      }
    });
    const results = await page.evaluate((u) => window.runAll(u), apiUrl);
    for (const want of [
      "POST application/json",
      "POST application/proto",
      "POST application/connect+json",
      "POST application/connect+proto",
      "GET",
      "POST application/grpc-web+proto",
      "POST application/grpc-web+json",
    ]) {
      check(`request sent: ${want}`, seen.has(want), `saw ${JSON.stringify([...seen])}`);
    }
    for (const t of TRANSPORTS) {
      for (const [name, want] of Object.entries(EXPECTED)) {
        const got = results[t]?.[name];
        check(`${t} ${name}`, same(got, want), `got ${JSON.stringify(got)}, want ${JSON.stringify(want)}`);
      }
    }

    // The same calls from an origin the server does not allow: the browser
    // must refuse them (no Access-Control-Allow-Origin for this origin).
    await page.goto(`${blocked.origin}/index.html`);
    await page.waitForFunction(() => document.getElementById("status")?.textContent === "ready", { timeout: 10_000 });
    const refused = await page.evaluate((u) => window.runBlocked(u), apiUrl);
    for (const t of TRANSPORTS) {
      const got = refused[t];
      check(`${t} refused cross-origin from a disallowed origin`, got && got.ok === false, JSON.stringify(got));
    }
  } finally {
    if (browser) await browser.close();
    // Graceful shutdown (the example stops on ctrl-c).
    api.child.kill("SIGINT");
    await Promise.race([api.exited, new Promise((r) => setTimeout(r, 5000).unref())]);
    allowed.server.close();
    blocked.server.close();
  }
  console.log(`browser: ${passed} passed, ${failed} failed`);
  process.exitCode = failed === 0 && passed > 0 ? 0 : 1;
}

const watchdog = setTimeout(() => {
  console.error("browser: timed out after 120 s");
  process.exit(1);
}, 120_000);
watchdog.unref();
main().catch((e) => {
  console.error(e);
  process.exitCode = 1;
});

// node.mjs - a real quipu node for the browser tests: `quipu node` (the
// binary of QUIPU_BIN, default build/quipu) with the ledger, auth and web
// modules on a free loopback port, an API key, and a small API client.
// new Node(walletConfig()) runs the wallet's node instead: ledger, auth,
// payments, risk, wallet and web, and an admin key.
import { spawn, execFileSync } from "node:child_process";
import { mkdtempSync, writeFileSync, readFileSync, rmSync, openSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve, dirname } from "node:path";
import { fileURLToPath } from "node:url";
import { randomBytes } from "node:crypto";

const HERE = dirname(fileURLToPath(import.meta.url));
export const REPO = resolve(HERE, "../..");
export const QUIPU = process.env.QUIPU_BIN || join(REPO, "build/quipu");
const SCOPES = "auth:read,auth:write,ledger:read,ledger:write";

export class Node {
  // modules: more modules beside ledger, auth and web ({payments: {}, risk: {…}});
  // scopes: the key's (default: auth and ledger read/write); files: more
  // files of the node's home ({"rules.txt": text}).
  constructor({ modules = {}, scopes = SCOPES, files = {} } = {}) {
    this.home = mkdtempSync(join(tmpdir(), "quipu-browser-"));
    const config = { listen: "127.0.0.1:0",
      modules: { ledger: {}, auth: {}, web: { root: join(REPO, "web") }, ...modules } };
    writeFileSync(join(this.home, "node.json"), JSON.stringify(config));
    for (const [name, text] of Object.entries(files)) writeFileSync(join(this.home, name), text);
    this.key = execFileSync(QUIPU, ["keys", "create", "--data", this.home, "--name", "ops",
      "--scope", scopes], { stdio: ["ignore", "pipe", "ignore"] }).toString().trim();
    if (!this.key.startsWith("qpk_")) throw new Error(`no key: ${this.key}`);
  }

  async start(timeoutMs = 15000) {
    const logPath = join(this.home, "node.log");
    const log = openSync(logPath, "a");
    this.proc = spawn(QUIPU, ["node", "--home", this.home], { stdio: ["ignore", log, log] });
    const deadline = Date.now() + timeoutMs;
    while (Date.now() < deadline) {
      const m = readFileSync(logPath, "utf8").match(/listening on http:\/\/127\.0\.0\.1:(\d+)/);
      if (m) {
        this.port = Number(m[1]);
        this.origin = `http://localhost:${this.port}`;
        return this;
      }
      if (this.proc.exitCode !== null) throw new Error(readFileSync(logPath, "utf8"));
      await new Promise((r) => setTimeout(r, 20));
    }
    throw new Error("the node did not come up");
  }

  // SIGTERM, and a clean exit (0) is required: the node's log is kept and
  // shown otherwise (an ASan build reports leaks and errors there).
  async stop() {
    let code = this.proc ? this.proc.exitCode ?? this.proc.signalCode : 0;
    if (code === null) {
      const exited = new Promise((r) => this.proc.once("exit", (c, sig) => r(c ?? sig)));
      this.proc.kill("SIGTERM");
      code = await exited;
    }
    if (code !== 0) {
      throw new Error(`the node exited with ${code}; its log: ${join(this.home, "node.log")}\n` +
        readFileSync(join(this.home, "node.log"), "utf8").slice(-4000));
    }
    rmSync(this.home, { recursive: true, force: true });
  }

  async call(method, path, body) {
    const init = { method, headers: { Authorization: `Bearer ${this.key}` } };
    if (body !== undefined) {
      init.headers["Content-Type"] = "application/json";
      init.body = JSON.stringify(body);
    }
    const r = await fetch(`http://127.0.0.1:${this.port}${path}`, init);
    const text = await r.text();
    return { status: r.status, headers: r.headers, text,
      json: text && r.headers.get("content-type")?.startsWith("application/json")
        ? JSON.parse(text) : null };
  }

  async ok(method, path, body) {
    const r = await this.call(method, path, body);
    if (r.status !== 200) throw new Error(`${method} ${path}: ${r.status} ${r.text}`);
    return r.json;
  }

  // Two fresh accounts on `ledger`: the payer and the merchant.
  async accounts(ledger) {
    const ids = [newId(), newId()];
    const r = await this.ok("POST", "/v1/accounts",
      ids.map((id) => ({ id, ledger, code: 1, flags: [] })));
    if (!r.results.every((x) => x.result === "ok")) throw new Error(JSON.stringify(r));
    return ids;
  }

  account(id) { return this.ok("GET", `/v1/accounts/${id}`); }
}

// The wallet's node (docs/wallet.md): a collect by pay code of at most
// `collectMax` minor units moves the money at once, above it the customer
// confirms with the passkey.
export function walletConfig({ collectMax = 1000 } = {}) {
  return {
    modules: { ledger: {}, auth: {}, risk: { ruleset_file: "rules.txt" },
      payments: { collect_without_confirmation_max: collectMax }, wallet: {},
      web: { root: join(REPO, "web") } },
    files: { "rules.txt": "list blocked_payees set\n" +
      "rule blocked: payee in blocked_payees => block \"payee is blocked\"\n" },
    scopes: "admin",
  };
}

// A random 63-bit account id, as a decimal string.
export function newId() {
  return (randomBytes(8).readBigUInt64BE() >> 1n).toString();
}

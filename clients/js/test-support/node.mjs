// node.mjs - a real quipu node for the client's tests: `quipu node` (the
// binary of QUIPU_BIN, default build/quipu) on a free loopback port with the
// ledger, auth, payments and risk modules (and wallet when the binary has it),
// an admin key and a rate-limited key; stopped with SIGTERM and required to
// exit 0. Modelled on tests/browser/node.mjs.
import { spawn, execFileSync } from "node:child_process";
import { mkdtempSync, writeFileSync, readFileSync, rmSync, openSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve, dirname } from "node:path";
import { fileURLToPath } from "node:url";
import { randomBytes } from "node:crypto";

const HERE = dirname(fileURLToPath(import.meta.url));
export const REPO = resolve(HERE, "../../..");
export const QUIPU = process.env.QUIPU_BIN || join(REPO, "build/quipu");

export const RULESET = `list blocked_payees set
feature tx_1h = count by payer over 1h
rule big: amount >= 1000000 => review score 30 "large amount"
rule blocked: payee in blocked_payees => block "blocked payee"
`;

function keysCreate(home, name, scope, extra = []) {
  const key = execFileSync(QUIPU, ["keys", "create", "--data", home, "--name", name, "--scope",
    scope, ...extra], { stdio: ["ignore", "pipe", "pipe"] }).toString().trim();
  if (!key.startsWith("qpk_")) throw new Error(`no key: ${key}`);
  return key;
}

export class Node {
  constructor({ wallet = false, modules = {} } = {}) {
    this.home = mkdtempSync(join(tmpdir(), "quipu-jsclient-"));
    writeFileSync(join(this.home, "rules.txt"), RULESET);
    const config = { listen: "127.0.0.1:0", modules: { ledger: {}, auth: {},
      payments: { webhooks_allow_loopback_http: true }, risk: { ruleset_file: "rules.txt" },
      ...(wallet ? { wallet: {} } : {}), ...modules } };
    writeFileSync(join(this.home, "node.json"), JSON.stringify(config));
    this.key = keysCreate(this.home, "ops", "admin");
    this.slowKey = keysCreate(this.home, "slow", "admin", ["--rate", "1", "--burst", "1"]);
  }

  /**
   * A one-validator chain (`quipu chain init --validators 1`) with its HTTP on a free port.
   * Its peer port is drawn below Linux's ephemeral range (32768+), so no outgoing
   * connection can be holding it; startChain() retries when another process is.
   */
  static chain() {
    const dir = mkdtempSync(join(tmpdir(), "quipu-jsclient-chain-"));
    const port = 20000 + 2 * Math.floor(Math.random() * 6000);
    execFileSync(QUIPU, ["chain", "init", "--validators", "1", "--dir", dir, "--base-port",
      String(port)], { stdio: "ignore" });
    const n = Object.create(Node.prototype);
    n.home = join(dir, "node0");
    n.top = dir;
    const config = JSON.parse(readFileSync(join(n.home, "node.json"), "utf8"));
    config.listen = "127.0.0.1:0";
    writeFileSync(join(n.home, "node.json"), JSON.stringify(config));
    return n;
  }

  /** Node.chain().start(), again with other ports when the peer port was taken. */
  static async startChain(attempts = 5) {
    for (let i = 1; ; i++) {
      try {
        return await Node.chain().start();
      } catch (e) {
        if (i >= attempts || !/address already in use/.test(String(e.message))) throw e;
      }
    }
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
        this.url = `http://localhost:${this.port}`;
        return this;
      }
      if (this.proc.exitCode !== null) {
        const text = readFileSync(logPath, "utf8");
        rmSync(this.top || this.home, { recursive: true, force: true });
        throw new Error(text);
      }
      await new Promise((r) => setTimeout(r, 20));
    }
    throw new Error("the node did not come up");
  }

  log() { return readFileSync(join(this.home, "node.log"), "utf8"); }

  async stop() {
    let code = this.proc ? this.proc.exitCode ?? this.proc.signalCode : 0;
    if (code === null) {
      const exited = new Promise((r) => this.proc.once("exit", (c, sig) => r(c ?? sig)));
      this.proc.kill("SIGTERM");
      code = await exited;
    }
    if (code !== 0) {
      throw new Error(`the node exited with ${code}; its log: ${join(this.home, "node.log")}\n` +
        this.log().slice(-4000));
    }
    rmSync(this.top || this.home, { recursive: true, force: true });
  }
}

// A random 63-bit id, as a decimal string.
export function newId() {
  return (randomBytes(8).readBigUInt64BE() >> 1n).toString();
}

// A fetch that keeps cookies (the wallet's session) the way a browser does
// for one origin: Set-Cookie stored, Max-Age=0 deletes, Cookie sent back.
export function cookieFetch() {
  const jar = new Map();
  const f = async (url, init = {}) => {
    const headers = new Headers(init.headers || {});
    if (jar.size) headers.set("Cookie", [...jar].map(([k, v]) => `${k}=${v}`).join("; "));
    const res = await fetch(url, { ...init, headers });
    for (const c of res.headers.getSetCookie()) {
      const [pair, ...attrs] = c.split(";");
      const eq = pair.indexOf("=");
      const name = pair.slice(0, eq).trim();
      if (attrs.some((a) => /^\s*max-age\s*=\s*0\s*$/i.test(a))) jar.delete(name);
      else jar.set(name, pair.slice(eq + 1).trim());
    }
    return res;
  };
  f.jar = jar;
  return f;
}

// wallet.mjs - Lighthouse (npm "lighthouse", mobile settings: its default
// form factor, screen emulation and simulated throttling) in Debian's
// Chromium (CHROMIUM, default /usr/bin/chromium) against the wallet of a
// running node: `node wallet.mjs http://host:port/wallet/`, or with no
// argument a node of its own (QUIPU_BIN, default build/quipu) with the
// wallet's modules (tests/browser/node.mjs). Prints the accessibility and
// performance scores (0..100) and the failing audits, writes the full report
// to build/lighthouse/wallet.html, and exits 1 when accessibility < 95 or
// performance < 90.
import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import lighthouse from "lighthouse";
import * as chromeLauncher from "chrome-launcher";
import { Node, REPO, walletConfig } from "../browser/node.mjs";

const MIN = { accessibility: 95, performance: 90 };
const CHROMIUM = process.env.CHROMIUM || "/usr/bin/chromium";

async function target() {
  if (process.argv[2]) return { url: process.argv[2], node: null };
  const node = await new Node(walletConfig()).start();
  const probe = await fetch(`${node.origin}/wallet/`);
  const path = probe.status === 200 ? "/wallet/" : "/web/wallet/index.html";
  return { url: `${node.origin}${path}`, node };
}

const { url, node } = await target();
const chrome = await chromeLauncher.launch({ chromePath: CHROMIUM,
  chromeFlags: ["--headless=new", "--no-sandbox", "--disable-gpu"] });
let failed = false;
try {
  const result = await lighthouse(url, { port: chrome.port, output: "html", logLevel: "error",
    onlyCategories: ["accessibility", "performance", "best-practices"] });
  const out = join(REPO, "build/lighthouse");
  mkdirSync(out, { recursive: true });
  writeFileSync(join(out, "wallet.html"), result.report);
  writeFileSync(join(out, "wallet.json"), JSON.stringify(result.lhr));
  const { categories, audits } = result.lhr;
  console.log(`Lighthouse ${result.lhr.lighthouseVersion}, ${url}, form factor ` +
    `${result.lhr.configSettings.formFactor}`);
  for (const [id, c] of Object.entries(categories)) {
    const score = Math.round(c.score * 100);
    const min = MIN[id];
    console.log(`${c.title}: ${score}${min ? ` (minimum ${min})` : ""}`);
    if (min && score < min) failed = true;
    for (const ref of c.auditRefs) {
      const a = audits[ref.id];
      if (ref.weight > 0 && a.score !== null && a.score < 1) {
        console.log(`  - ${a.id}: ${a.title}${a.displayValue ? ` (${a.displayValue})` : ""}`);
      }
    }
  }
  console.log(`report: ${join(out, "wallet.html")}`);
} finally {
  await chrome.kill();
  await node?.stop();
}
process.exit(failed ? 1 : 0);

// wallet.mjs - the wallet's pages (web/wallet) in Chromium for the browser
// tests: where the node serves them (/wallet/ when the web module has that
// route, else /web/wallet/index.html), a browser context per customer with
// its own virtual authenticator (browser.mjs), sign up, and screenshots.
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { chromium } from "playwright-core";
import { AUTHENTICATOR, CHROMIUM, SCREENS } from "./browser.mjs";
import { REPO } from "./node.mjs";

export const PHONE = { width: 360, height: 640 };
export const DESKTOP = { width: 1280, height: 800 };

// Chromium with a fake camera playing `video` (a .y4m file), no prompt.
export function launchWithCamera(video) {
  return chromium.launch({ executablePath: CHROMIUM, headless: true, args: [
    "--use-fake-device-for-media-stream", "--use-fake-ui-for-media-stream",
    `--use-file-for-fake-video-capture=${video}`] });
}

// The wallet's address on this node, and whether the node serves the JS
// client (the web module's /clients/js/ route); files it does not serve yet
// are answered from the work tree by shim().
export async function walletUrl(node) {
  const probe = async (p) => (await fetch(`${node.origin}${p}`)).status === 200;
  const url = (await probe("/wallet/")) ? "/wallet/" : "/web/wallet/index.html";
  return { url: `${node.origin}${url}`,
    client: await probe("/clients/js/quipu.mjs"),
    vendor: await probe(url === "/wallet/" ? "/wallet/vendor/jsQR.js"
      : "/web/wallet/vendor/jsQR.js") };
}

async function shim(context, served) {
  const files = [];
  if (!served.client) files.push(["**/clients/js/quipu.mjs", "clients/js/quipu.mjs"]);
  if (!served.vendor) files.push(["**/wallet/vendor/jsQR.js", "web/wallet/vendor/jsQR.js"]);
  for (const [glob, file] of files) {
    await context.route(glob, (route) => route.fulfill({ status: 200,
      contentType: "text/javascript; charset=utf-8", body: readFileSync(join(REPO, file)) }));
  }
  return files.length > 0;
}

// A customer's browser context on the wallet: a virtual authenticator (a
// phone's platform authenticator with user verification), camera allowed.
export async function customer(browser, node, viewport = PHONE) {
  const served = await walletUrl(node);
  const context = await browser.newContext({ viewport, deviceScaleFactor: 1,
    serviceWorkers: served.client && served.vendor ? "allow" : "block" });
  await context.grantPermissions(["camera"], { origin: node.origin });
  await shim(context, served);
  const page = await context.newPage();
  page.on("pageerror", (e) => { console.error("page error:", e.message); });
  const cdp = await context.newCDPSession(page);
  await cdp.send("WebAuthn.enable");
  const { authenticatorId } = await cdp.send("WebAuthn.addVirtualAuthenticator",
    { options: AUTHENTICATOR });
  await page.goto(served.url);
  await page.waitForSelector("body[data-ready=true]");
  return { context, page, cdp, authenticatorId, url: served.url };
}

export async function signup(page, handle, name) {
  await page.fill("#signup-handle", handle);
  await page.fill("#signup-name", name);
  await page.click("#signup-form button[type=submit]");
  await page.waitForSelector("body[data-view=home]");
  await page.waitForSelector(`#who:has-text("@${handle}")`, { state: "attached" });
}

export async function go(page, view) {
  await page.evaluate((v) => { location.hash = `#/${v}`; }, view);
  await page.waitForSelector(`body[data-view=${view.split("/")[0]}]`);
}

export function shot(page, name) {
  return page.screenshot({ path: join(SCREENS, `wallet-${name}.png`) });
}

// fetch() from the page (the session cookie goes along): status and body.
export function pageFetch(page, method, path, body) {
  return page.evaluate(async ({ method, path, body }) => {
    const init = { method, headers: {} };
    if (body !== undefined) {
      init.headers["Content-Type"] = "application/json";
      init.body = JSON.stringify(body);
    }
    const r = await fetch(path, init);
    const text = await r.text();
    let json = null;
    try { json = JSON.parse(text); } catch { /* not JSON */ }
    return { status: r.status, json };
  }, { method, path, body });
}

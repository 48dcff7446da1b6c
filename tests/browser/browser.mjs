// browser.mjs - Debian's Chromium (CHROMIUM, default /usr/bin/chromium)
// driven by playwright-core, headless, and a page of the demo with a
// DevTools virtual authenticator attached (the WebAuthn domain of the
// Chrome DevTools Protocol): CTAP2, internal transport (a platform
// authenticator such as a phone's fingerprint reader), resident keys, user
// verification on and succeeding, presence simulated.
import { mkdirSync } from "node:fs";
import { join } from "node:path";
import { chromium } from "playwright-core";
import { REPO } from "./node.mjs";

export const SCREENS = join(REPO, "build/screens");
export const CHROMIUM = process.env.CHROMIUM || "/usr/bin/chromium";

export function launch() {
  mkdirSync(SCREENS, { recursive: true });
  return chromium.launch({ executablePath: CHROMIUM, headless: true });
}

export const AUTHENTICATOR = {
  protocol: "ctap2", transport: "internal", hasResidentKey: true, hasUserVerification: true,
  isUserVerified: true, automaticPresenceSimulation: true,
};

// A new page on the demo, with its own virtual authenticator.
export async function demoPage(browser, node, hash = "") {
  const context = await browser.newContext({ viewport: { width: 900, height: 820 } });
  const page = await context.newPage();
  const cdp = await context.newCDPSession(page);
  await cdp.send("WebAuthn.enable");
  const { authenticatorId } = await cdp.send("WebAuthn.addVirtualAuthenticator",
    { options: AUTHENTICATOR });
  await page.goto(`${node.origin}/web/auth-demo/index.html#key=${node.key}${hash}`);
  await page.waitForSelector("body[data-ready=true]");
  return { context, page, cdp, authenticatorId };
}

// Clicks a button and waits for its <output> to show the outcome; returns
// the outcome's code (data-code) and text.
export async function clickFor(page, button, output) {
  await page.evaluate((sel) => { document.querySelector(sel).removeAttribute("data-code"); },
    output);
  await page.click(button);
  const out = await page.waitForSelector(`${output}[data-code]`);
  return { code: await out.getAttribute("data-code"), text: await out.textContent() };
}

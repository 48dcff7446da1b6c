// paycode.js - the pay code: after a passkey check (POST /v1/wallet/paycode
// with the assertion of /paycode/unlock's challenge) the QR (qr_svg) and the
// 18 digits, fetched again shortly before expires_at while the unlock lasts
// (unlocked_until); after that the passkey is asked again.
import * as api from "./api.js";
import { $, busy, notice, toast } from "./ui.js";

let timer = 0;
let ticker = 0;

const ms = (t) => (typeof t === "number" || /^\d+$/.test(String(t)) ? Number(t) * 1000
  : Date.parse(t));

function svgNode(text) {
  const doc = new DOMParser().parseFromString(text, "image/svg+xml");
  const svg = doc.documentElement;
  if (svg.nodeName !== "svg") return document.createTextNode("");
  for (const s of svg.querySelectorAll("script, foreignObject")) s.remove();
  svg.setAttribute("aria-hidden", "true");
  svg.setAttribute("focusable", "false");
  return document.importNode(svg, true);
}

function render(c) {
  toast(null); // nothing over the code the till scans
  $("paycode-qr").replaceChildren(svgNode(c.qr_svg));
  const d = $("paycode-digits");
  d.dataset.code = c.code;
  d.textContent = c.code.replace(/(\d{6})(?=\d)/g, "$1 ");
  $("paycode-card").hidden = false;
  $("paycode-unlock").hidden = true;
  const expires = ms(c.expires_at);
  clearInterval(ticker);
  const tick = () => {
    const left = Math.max(0, Math.round((expires - Date.now()) / 1000));
    $("paycode-expiry").textContent = `Refreshes in ${left} s`;
  };
  tick();
  ticker = setInterval(tick, 1000);
  clearTimeout(timer);
  // A new code 3 s before this one expires, while the unlock lasts.
  const next = Math.max(1000, expires - Date.now() - 3000);
  if (ms(c.unlocked_until) > Date.now() + next) timer = setTimeout(refresh, next);
  else timer = setTimeout(lock, Math.max(0, expires - Date.now()));
}

async function refresh() {
  try {
    render(await api.paycode());
  } catch (err) {
    lock();
    if (err.code !== "passkey_required") notice(err);
  }
}

export function lock() {
  clearTimeout(timer);
  clearInterval(ticker);
  $("paycode-card").hidden = true;
  $("paycode-qr").replaceChildren();
  $("paycode-digits").textContent = "";
  delete $("paycode-digits").dataset.code;
  $("paycode-unlock").hidden = false;
}

async function unlock(e) {
  await busy(e.currentTarget, async () => {
    const { publicKey } = await api.paycodeUnlock();
    const credential = await api.assert(publicKey);
    render(await api.paycode(credential));
    $("paycode-digits").focus?.();
  });
}

export function initPaycode() {
  $("paycode-unlock").addEventListener("click", unlock);
}

// Leaving the view hides the code (it is a bearer token for a few seconds).
export function leavePaycode() { lock(); }

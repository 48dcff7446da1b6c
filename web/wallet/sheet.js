// sheet.js - the confirmation sheet: a modal <dialog> showing the amount and
// the payee of a payment intent, confirmed with the passkey (the intent's
// challenge: the signature covers that amount and that payee) or canceled.
// showModal() keeps focus inside; focus returns to the opener on close.
import * as api from "./api.js";
import { $, notice, toast } from "./ui.js";

let current = null; // {intent, publicKey, resolve, opener}
const settled = new Set(); // intents this page confirmed or canceled

function fill(intent, what) {
  $("sheet-amount").textContent = api.money(intent.amount, intent.currency);
  $("sheet-payee").textContent = intent.payee_name || "—";
  $("sheet-what").textContent = what || intent.description || intent.order_id || "Transfer";
}

// Opens the sheet for an intent; resolves with the confirmed intent, or null
// when the customer cancels.
export function confirmSheet(intent, publicKey, what) {
  if (settled.has(intent.id)) return Promise.resolve(null);
  if (current && current.intent.id === intent.id) {
    // The same intent twice (the live stream's event and the page's own
    // call, in either order): one sheet, both callers get its outcome.
    if (publicKey) current.publicKey = publicKey;
    if (what) $("sheet-what").textContent = what;
    const first = current.resolve;
    return new Promise((resolve) => {
      current.resolve = (r) => { first(r); resolve(r); };
    });
  }
  if (current) current.resolve(null);
  const dialog = $("sheet");
  fill(intent, what);
  notice(null, $("sheet-error"));
  dialog.dataset.intent = intent.id;
  return new Promise((resolve) => {
    current = { intent, publicKey, resolve, opener: document.activeElement };
    if (!dialog.open) dialog.showModal();
    $("sheet-confirm").focus();
  });
}

function finish(result) {
  const c = current;
  if (c) settled.add(c.intent.id);
  current = null;
  const dialog = $("sheet");
  if (dialog.open) dialog.close();
  delete dialog.dataset.intent;
  if (c?.opener && document.contains(c.opener)) c.opener.focus();
  c?.resolve(result);
}

async function onConfirm(e) {
  e.preventDefault();
  const c = current;
  if (!c) return;
  const button = $("sheet-confirm");
  button.disabled = true;
  button.setAttribute("aria-busy", "true");
  notice(null, $("sheet-error"));
  try {
    const publicKey = c.publicKey || (await api.challenge(c.intent.id)).publicKey;
    c.publicKey = null; // a challenge is good once: a retry asks for a fresh one
    const credential = await api.assert(publicKey);
    const done = await api.confirmIntent(c.intent.id, credential);
    toast(`Paid ${api.money(done.amount ?? c.intent.amount, c.intent.currency)} to ` +
      `${c.intent.payee_name || "the payee"}.`);
    finish(done);
  } catch (err) {
    notice(err, $("sheet-error"));
  } finally {
    button.disabled = false;
    button.removeAttribute("aria-busy");
  }
}

async function onCancel(e) {
  e.preventDefault();
  const c = current;
  finish(null);
  if (c) api.cancelIntent(c.intent.id).catch(() => {});
}

export function initSheet() {
  $("sheet-confirm").addEventListener("click", onConfirm);
  $("sheet-cancel").addEventListener("click", onCancel);
  $("sheet").addEventListener("cancel", onCancel); // Escape
}

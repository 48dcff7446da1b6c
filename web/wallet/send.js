// send.js - transfer to a handle: the payee checked by handle, the amount
// typed in major units and converted with toMinor (strings and BigInt, never
// a float), then the confirmation sheet with the passkey.
import * as api from "./api.js";
import { $, busy, notice } from "./ui.js";
import { mainAccount } from "./state.js";
import { confirmSheet } from "./sheet.js";

let payeeTimer = 0;

async function checkPayee() {
  const handle = $("send-to").value.trim().replace(/^@/, "");
  const out = $("send-to-name");
  out.textContent = "";
  if (!handle) return;
  try {
    const u = await api.user(handle);
    if ($("send-to").value.trim().replace(/^@/, "") === handle) {
      out.textContent = `Sending to ${u.display_name} (@${u.handle})`;
    }
  } catch (err) {
    out.textContent = err.status === 404 ? "We could not find anyone with that handle." : "";
  }
}

export function refreshSend() {
  const acc = mainAccount();
  if (!acc) return;
  $("send-currency").textContent = acc.currency;
  $("send-available").textContent = api.money(acc.balance, acc.currency);
}

async function submit(e) {
  e.preventDefault();
  const acc = mainAccount();
  const to = $("send-to").value.trim().replace(/^@/, "");
  const typed = $("send-amount").value.trim();
  if (!to) {
    notice("Please type the handle of the person you are paying.");
    $("send-to").focus();
    return;
  }
  let amount;
  try {
    amount = api.toMinor(typed, acc.currency);
  } catch {
    notice(`Please type an amount like 12.50 (${acc.currency}).`);
    $("send-amount").focus();
    return;
  }
  if (BigInt(amount) <= 0n) { notice("Please type an amount above zero."); return; }
  const note = $("send-note").value.trim();
  const button = e.submitter || $("send-form").querySelector("button");
  const r = await busy(button, () => api.transfer(to, amount, note || undefined));
  if (!r) return;
  const done = await confirmSheet(r.intent, r.publicKey, note || `Transfer to @${to}`);
  if (done) {
    $("send-form").reset();
    $("send-to-name").textContent = "";
    location.hash = "#/home";
  }
}

export function initSend() {
  $("send-form").addEventListener("submit", submit);
  $("send-to").addEventListener("input", () => {
    clearTimeout(payeeTimer);
    payeeTimer = setTimeout(checkPayee, 300);
  });
}

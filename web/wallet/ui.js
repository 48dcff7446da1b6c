// ui.js - small DOM helpers shared by the wallet's views: element creation,
// the notice (an error sentence, role=alert), the toast (role=status), busy
// buttons, and dates.
import { sentence } from "./errors.js";

export const $ = (id) => document.getElementById(id);

// h("li", {class: "x", dataset: {id}}, child, "text", …)
export function h(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (v === undefined || v === null || v === false) continue;
    if (k === "dataset") Object.assign(node.dataset, v);
    else if (k === "class") node.className = v;
    else if (k === "text") node.textContent = v;
    else node.setAttribute(k, v === true ? "" : v);
  }
  for (const c of children) {
    if (c !== null && c !== undefined) node.append(c);
  }
  return node;
}

// Shows the customer's sentence for err (never a raw code); the code stays
// in data-code for the tests.
export function notice(err, where = $("notice")) {
  if (!err) {
    where.hidden = true;
    where.textContent = "";
    delete where.dataset.code;
    return;
  }
  where.textContent = typeof err === "string" ? err : sentence(err);
  where.dataset.code = (err && (err.code || err.name)) || "message";
  where.hidden = false;
  where.scrollIntoView({ block: "nearest" });
}

let toastTimer = 0;
// A short message (role=status); toast(null) takes it away at once.
export function toast(text) {
  if (text === null) {
    clearTimeout(toastTimer);
    $("toast").classList.remove("on");
    return;
  }
  const t = $("toast");
  t.textContent = text;
  t.classList.add("on");
  clearTimeout(toastTimer);
  toastTimer = setTimeout(() => t.classList.remove("on"), 4000);
}

// Runs fn with the button disabled and aria-busy; errors go to the notice.
export async function busy(button, fn, where) {
  button.disabled = true;
  button.setAttribute("aria-busy", "true");
  notice(null, where);
  try {
    return await fn();
  } catch (err) {
    notice(err, where);
    return undefined;
  } finally {
    button.disabled = false;
    button.removeAttribute("aria-busy");
  }
}

const dateFmt = new Intl.DateTimeFormat("en", { dateStyle: "medium", timeStyle: "short" });
const shortFmt = new Intl.DateTimeFormat("en", { month: "short", day: "numeric",
  hour: "2-digit", minute: "2-digit", hour12: false });
export const when = (unixS) => dateFmt.format(new Date(Number(unixS) * 1000));
export const whenShort = (unixS) => shortFmt.format(new Date(Number(unixS) * 1000));

// "YYYY-MM" of now, local time.
export function thisMonth() {
  const d = new Date();
  return `${d.getFullYear()}-${String(d.getMonth() + 1).padStart(2, "0")}`;
}

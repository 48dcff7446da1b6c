// web/console/operators.mjs - the Operators tab: the people who may sign in to this console
// with a passkey (GET /v1/operators: their passkeys, who enrolled them, when each was last used,
// live console sessions), a passkey enrolled for a named operator on this device's
// authenticator (POST /v1/operators/passkeys/options, navigator.credentials.create, /verify),
// one passkey removed (a lost device: DELETE /v1/operators/{name}/passkeys/{id}) and an operator
// removed (DELETE /v1/operators/{name}: passkeys deleted, sessions revoked).
import { webauthn } from "/clients/js/quipu.mjs";
import { el } from "/common/api.mjs";
import { table, when } from "./view.mjs";

let c;

export function init(ctx) {
  c = ctx;
  c.$("operators-refresh").addEventListener("click", () => c.run(list));
  c.$("enroll-form").addEventListener("submit", (ev) => {
    ev.preventDefault();
    c.run(() => enroll(c.$("enroll-name").value.trim()));
  });
}

export function load() { return c.run(list); }

const short = (id) => (id && id.length > 16 ? `${id.slice(0, 16)}…` : id || "—");

async function list() {
  const page = await c.api.request("GET", "/v1/operators", { query: { limit: 100 } });
  const rows = page.data.flatMap((op) => (op.passkeys.length ? op.passkeys : [null])
    .map((pk, i) => ({ op, pk, first: i === 0 })));
  table(c.$("operators-table"), [
    { title: "Operator", get: (r) => (r.first ? r.op.name : "") },
    { title: "Passkey", get: (r) => el("span", { class: "mono" }, short(r.pk?.id)) },
    { title: "Enrolled", get: (r) => when(r.pk?.created) },
    { title: "Enrolled by key", get: (r) => el("span", { class: "mono" }, r.pk?.created_by || "—") },
    { title: "Last used", get: (r) => when(r.pk?.last_used) },
    { title: "Sessions", num: true, get: (r) => (r.first ? String(r.op.sessions) : "") },
    { title: "Actions", get: (r) => el("div", { class: "actions" },
      r.pk ? el("button", { type: "button", class: "secondary",
        "aria-label": `Remove passkey ${short(r.pk.id)} of ${r.op.name}`,
        onclick: () => c.run(() => removePasskey(r.op.name, r.pk.id)) }, "Remove passkey") : null,
      r.first ? el("button", { type: "button", class: "secondary",
        "aria-label": `Remove operator ${r.op.name}`,
        onclick: () => c.run(() => remove(r.op.name)) }, "Remove operator") : null) },
  ], rows, "No operators yet: enroll a passkey below.");
  c.$("operators-table").dataset.count = String(page.data.length);
}

async function enroll(name) {
  const out = c.$("enroll-out");
  out.textContent = "";
  const o = await c.api.request("POST", "/v1/operators/passkeys/options", { body: { name } });
  let credential;
  try {
    credential = await webauthn.create(o.publicKey);
  } catch (e) {
    out.replaceChildren(el("p", { class: "msg error", role: "alert" },
      "The passkey was not made: the authenticator was cancelled or refused. Try again."));
    return;
  }
  const done = await c.api.request("POST", "/v1/operators/passkeys/verify",
    { body: { ceremony_id: o.ceremony_id, credential } });
  out.replaceChildren(el("p", { class: "msg ok", role: "status" },
    `A passkey was enrolled for operator ${done.operator}. They can now sign in with it.`));
  await list();
}

async function removePasskey(name, id) {
  if (!window.confirm(`Remove this passkey of ${name}? It stops working at once.`)) return;
  await c.api.request("DELETE",
    `/v1/operators/${encodeURIComponent(name)}/passkeys/${encodeURIComponent(id)}`);
  c.$("enroll-out").replaceChildren(el("p", { class: "msg ok", role: "status" },
    `A passkey of operator ${name} was removed.`));
  await list();
}

async function remove(name) {
  if (!window.confirm(`Remove operator ${name}? Their passkeys stop working and their console sessions end.`)) return;
  const r = await c.api.request("DELETE", `/v1/operators/${encodeURIComponent(name)}`);
  c.$("enroll-out").replaceChildren(el("p", { class: "msg ok", role: "status" },
    `Operator ${r.operator} was removed (${r.passkeys_removed} passkeys, ${r.sessions_revoked} sessions ended).`));
  await list();
}

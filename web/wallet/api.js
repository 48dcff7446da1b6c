// api.js - the wallet's calls to the node (docs/wallet.md) through the JS
// client (clients/js/quipu.mjs, served by the node), and the passkey
// ceremonies: the node's WebAuthn JSON options in, the credential's JSON out.
// The session is the HttpOnly cookie the node sets; the page never sees it.
import { Quipu, QuipuError, toMajor, toMinor, webauthn } from "/clients/js/quipu.mjs";

export { QuipuError, toMajor, toMinor };

export const q = new Quipu({ baseUrl: "", credentials: "same-origin" });

const W = "/v1/wallet";
const get = (path, query) => q.request("GET", `${W}${path}`, { query });
const post = (path, body = {}) => q.request("POST", `${W}${path}`, { body });

// navigator.credentials.create() with the node's creation options.
async function createPasskey(publicKey) {
  const cred = await navigator.credentials.create(
    { publicKey: webauthn.creationOptionsFromJSON(publicKey) });
  return webauthn.credentialToJSON(cred);
}

// navigator.credentials.get() with the node's request options (a payment
// intent's challenge covers that amount and that payee).
export async function assert(publicKey) {
  const cred = await navigator.credentials.get(
    { publicKey: webauthn.requestOptionsFromJSON(publicKey) });
  return webauthn.credentialToJSON(cred);
}

export async function signup(handle, displayName) {
  const o = await post("/signup/options", { handle, display_name: displayName });
  const credential = await createPasskey(o.publicKey);
  return post("/signup/verify", { signup_id: o.signup_id, credential });
}

export async function login(handle) {
  const o = await post("/login/options", handle ? { handle } : {});
  const credential = await assert(o.publicKey);
  return post("/login/verify", { login_id: o.login_id, credential });
}

export const logout = () => post("/logout");
export const me = () => get("/me");
export const bills = (query) => get("/bills", query);
export const bill = (id) => get(`/bills/${encodeURIComponent(id)}`);
export const user = (handle) => get(`/users/${encodeURIComponent(handle)}`);
export const transfer = (to, amount, note) => post("/transfers", note ? { to, amount, note }
  : { to, amount });
export const intent = (id) => get(`/intents/${encodeURIComponent(id)}`);
export const challenge = (id) => post(`/intents/${encodeURIComponent(id)}/challenge`);
export const confirmIntent = (id, credential) =>
  post(`/intents/${encodeURIComponent(id)}/confirm`, { credential });
export const cancelIntent = (id) => post(`/intents/${encodeURIComponent(id)}/cancel`);
export const scan = (payload) => post("/scan", { payload });
export const order = (id) => get(`/orders/${encodeURIComponent(id)}`);
export const payOrder = (id) => post(`/orders/${encodeURIComponent(id)}/pay`);
export const paycodeUnlock = () => post("/paycode/unlock");
export const paycode = (credential) => post("/paycode", credential ? { credential } : {});

// The live stream: onEvent(type, data) for bill, balance and intent events.
export function events(onEvent, onError) {
  return q.events(`${W}/events`, { onEvent, onError });
}

// "12.34 USD" for minor units (BigInt all the way: no float ever).
export function money(minor, currency) {
  try {
    const major = toMajor(String(minor), currency);
    const [whole, frac] = major.replace("-", "").split(".");
    const grouped = whole.replace(/\B(?=(\d{3})+(?!\d))/g, ",");
    const sign = major.startsWith("-") ? "−" : "";
    return `${sign}${grouped}${frac !== undefined ? `.${frac}` : ""} ${currency}`;
  } catch {
    return `${minor} (minor units) ${currency}`;
  }
}

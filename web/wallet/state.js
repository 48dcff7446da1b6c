// state.js - what the page knows about the signed-in customer: Me (user and
// accounts, docs/wallet.md) and the recent bills; views subscribe to changes.
const listeners = new Set();

export const state = { me: null, recent: [] };

export function onChange(fn) { listeners.add(fn); }

export function set(patch) {
  Object.assign(state, patch);
  for (const fn of listeners) fn(state);
}

// The account transfers are made from: the first one (the wallet's ledger).
export function mainAccount() {
  return state.me?.accounts?.[0] || null;
}

// errors.js - every error code the API can answer, as a sentence a customer
// understands (docs/http.md, auth.md, payments.md, ledger.md, wallet.md).
// The page never shows a raw code: a code missing here gets FALLBACK, and a
// failure of the browser itself (no network, passkey dialog closed) is named
// by the DOMException/TypeError it raises.

export const FALLBACK = "Something went wrong on our side. Please try again in a moment.";

export const MESSAGES = {
  // sessions and sign-in
  session_required: "Your session has ended. Please sign in again with your passkey.",
  unauthorized: "Your session has ended. Please sign in again with your passkey.",
  forbidden: "You are not allowed to do that.",
  handle_taken: "That handle is already taken. Please choose another one.",
  name_taken: "That name is already taken. Please choose another one.",
  user_not_found: "We could not find anyone with that handle.",
  passkey_required: "Please confirm with your passkey to see your pay code.",
  // passkeys (WebAuthn ceremonies of the auth module)
  credential_unknown: "This passkey is not registered with us. Sign up, or use another passkey.",
  credential_not_found: "This passkey is not registered with us. Sign up, or use another passkey.",
  credential_exists: "This passkey is already registered.",
  credential_id_mismatch: "The passkey did not match. Please try again.",
  credential_id_too_long: "This passkey cannot be used here. Please try another device.",
  no_credentials: "You have no passkey with us yet. Please sign up first.",
  too_many_credentials: "You have too many passkeys. Please remove one first.",
  signature_invalid: "Your passkey's signature could not be checked. Please try again.",
  sign_count_regressed: "This passkey looks copied, so we blocked it. Please contact the bank.",
  challenge_expired: "That took too long. Please try again.",
  challenge_used: "That confirmation was already used. Please try again.",
  challenge_mismatch: "The confirmation did not match. Please try again.",
  challenge_not_issued: "Please start again: we did not ask for that confirmation.",
  ceremony_not_found: "That took too long. Please try again.",
  too_many_ceremonies: "Too many attempts at once. Please wait a minute and try again.",
  too_many_signups: "Too many people are signing up right now. Please try again in a minute.",
  signup_not_found: "That took too long. Please start again.",
  login_not_found: "That took too long. Please try signing in again.",
  type_mismatch: "Your browser's answer could not be read. Please try again.",
  user_verification_required: "Your device must check it is you (fingerprint, face or PIN).",
  user_presence_required: "Please touch or unlock your device to confirm.",
  origin_not_allowed: "This page is not allowed to use your passkey.",
  top_origin_not_allowed: "This page is not allowed to use your passkey.",
  cross_origin_not_allowed: "This page is not allowed to use your passkey.",
  rp_id_mismatch: "This passkey belongs to another site.",
  algorithm_not_allowed: "Your device's passkey type is not supported. Please try another device.",
  attestation_format_unsupported: "Your device's passkey type is not supported.",
  attestation_invalid: "Your device's passkey could not be checked. Please try another device.",
  attestation_object_invalid: "Your device's passkey could not be checked.",
  authenticator_data_invalid: "Your device's answer could not be read. Please try again.",
  client_data_invalid: "Your browser's answer could not be read. Please try again.",
  cbor_invalid: "Your device's answer could not be read. Please try again.",
  cose_key_invalid: "Your device's passkey could not be read. Please try another device.",
  backup_state_invalid: "Your device's passkey could not be checked. Please try again.",
  confirmation_unavailable: "Confirmations are not available right now. Please try later.",
  // payments, transfers, intents
  payee_not_found: "We could not find anyone with that handle.",
  cannot_pay_self: "You cannot send money to yourself.",
  exceeds_credits: "You do not have enough money for this payment.",
  debits_must_not_exceed_credits: "You do not have enough money for this payment.",
  risk_blocked: "For your safety this payment was blocked. Please contact the bank.",
  payment_intent_in_review: "This payment is being checked by the bank. We will let you know.",
  requires_review: "This payment is being checked by the bank. We will let you know.",
  payment_intent_not_found: "We could not find that payment.",
  payment_intent_expired: "This payment request has expired. Please start again.",
  payment_intent_not_confirmable: "This payment can no longer be confirmed.",
  payment_mismatch: "The payment details changed. Please start again.",
  order_not_found: "We could not find that order.",
  order_not_open: "This order is already paid, canceled or expired.",
  order_not_payable: "This order is already paid, canceled or expired.",
  order_not_paid: "This order has not been paid.",
  invalid_qr: "This is not a payment QR code we can read.",
  payments_unavailable: "Payments are not available right now. Please try later.",
  payment_code_invalid: "That pay code is not valid.",
  payment_code_expired: "That pay code has expired. Show the new one.",
  payment_code_used: "That pay code was already used. Show the new one.",
  payment_code_revoked: "That pay code is no longer valid.",
  device_revoked: "This device can no longer make pay codes.",
  device_not_found: "This device can no longer make pay codes.",
  device_numbers_full: "No more devices can be added. Please contact the bank.",
  refund_exceeds_payment: "The refund is larger than the payment.",
  account_not_found: "We could not find that account.",
  debit_account_not_found: "We could not find your account.",
  accounts_must_have_the_same_ledger: "These accounts use different currencies.",
  ledger_not_allowed: "This currency is not available.",
  ledger_unavailable: "Your balance cannot be reached right now. Please try later.",
  not_found: "We could not find that.",
  bill_not_found: "We could not find that bill.",
  // input
  invalid_value: "Please check what you typed.",
  invalid_type: "Please check what you typed.",
  missing_field: "Please fill in every field.",
  unknown_field: "Something in the request was not understood. Please reload the page.",
  invalid_json: "Something in the request was not understood. Please reload the page.",
  invalid_parameter: "Please check what you typed.",
  invalid_query: "Please check what you typed.",
  unknown_parameter: "Please check what you typed.",
  bad_request: "Something in the request was not understood. Please reload the page.",
  body_too_large: "That is too much text.",
  unsupported_media_type: "Please reload the page and try again.",
  // no answer (the JS client's codes for a request that got none)
  network_error: "We cannot reach the bank. Check your connection and try again.",
  aborted: "That was canceled.",
  // the server
  rate_limited: "Too many tries. Please wait a moment and try again.",
  too_many_requests: "Too many tries. Please wait a moment and try again.",
  too_many_connections: "We are very busy. Please try again in a moment.",
  too_many_streams: "Live updates are busy; your page refreshes when you open it again.",
  overloaded: "We are very busy. Please try again in a moment.",
  shutting_down: "We are restarting. Please try again in a moment.",
  timeout: "That took too long. Please try again.",
  idempotency_key_in_flight: "Your last request is still running. Please wait a moment.",
  idempotency_key_reused: "Please reload the page and try again.",
  disk_full: "We cannot take payments right now. Please try later.",
  ledger_full: "We cannot take payments right now. Please try later.",
  stopped: "We cannot take payments right now. Please try later.",
  http_version_not_supported: "Your browser is too old for this page. Please update it.",
  internal: FALLBACK,
  not_implemented: "This is not available yet.",
};

// What the browser raises (the fetch failed, the passkey prompt closed).
const BROWSER = {
  NotAllowedError: "The passkey check was canceled or timed out.",
  InvalidStateError: "This device already has a passkey for this account.",
  NotSupportedError: "This browser cannot use passkeys. Please try another browser.",
  SecurityError: "This page is not allowed to use passkeys.",
  AbortError: "The passkey check was canceled.",
  TypeError: "We cannot reach the bank. Check your connection and try again.",
  NotReadableError: "The camera is busy or cannot be used.",
  NotFoundError: "No camera was found on this device.",
};

// The sentence for an error: an API error (QuipuError: .code) or a browser one.
export function sentence(err) {
  if (err && typeof err.code === "string" && err.status !== undefined) {
    return MESSAGES[err.code] || FALLBACK;
  }
  if (err && BROWSER[err.name]) return BROWSER[err.name];
  if (err && typeof err.code === "string" && MESSAGES[err.code]) return MESSAGES[err.code];
  return FALLBACK;
}
